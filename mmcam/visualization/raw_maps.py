"""Raw heatmaps of a whole dataset on disk: one ``.npy`` per sample and a
JSON-lines index per process, resumable after a preempted job.

Layout of a phase folder (``out_dir/test``, ``out_dir/val_epoch_3``...)::

    export.json              the settings the maps were made with
    maps/<index>_<stem>.npy  float16 (K, H, W) heatmaps in [0, 1]
    index_rank<r>.jsonl      one line per sample process r explained

``<index>`` is the sample's index into the loop's dataset (unique, also
across the parts of a ``ConcatDataset``), ``<stem>`` its image's file name
without extension. A map file is written to a temporary name and renamed,
so a file that exists is complete; its index line follows it.

A resumed run trusts neither blindly: it skips exactly the samples whose
map reads back with the shape of their index line. Index lines a killed
process tore (or anything else that is not a record) are dropped from the
process's index, a map that cannot be read is made again, and a map left
without its index line (killed between the two writes) is made again and
indexed.
"""
import hashlib
import io
import json
import os
import os.path as osp
import re
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..cam.errors import CAMError, NotANumberError
from .cam_visualizer import write_whole_file

SETTINGS_FILE = 'export.json'
MAPS_FOLDER = 'maps'
_MAP_FILE = re.compile(MAPS_FOLDER + r'[/\\][^/\\.][^/\\]*\.npy')


class RawMapWriter:
    """Writes the heatmaps of explained samples and their index lines.

    Args:
        folder (str): The phase folder.
        rank (int): This process's rank; each process writes its own
            index file.
        settings (dict): What the maps depend on (method, layers,
            categories; fingerprints of the weights, data preprocessor and
            pipeline under keys ending in ``_sha1``); stored in
            ``export.json`` and compared on resume.
        resume (bool): Keep the maps already in ``folder`` and skip their
            samples. Without it, existing index files are started afresh.
    """

    def __init__(self, folder: str, rank: int, settings: dict,
                 resume: bool) -> None:
        self.folder = folder
        self.resume = resume
        os.makedirs(osp.join(folder, MAPS_FOLDER), exist_ok=True)
        self._check_settings(settings, rank)
        self.index_file = osp.join(folder, f'index_rank{rank}.jsonl')
        # Map file of each sample found done: this process's own (read
        # back now), and those other processes indexed (read when asked).
        self._done: Dict[int, str] = {}
        self._indexed_elsewhere: Dict[int, dict] = {}
        #: What resuming found broken and repaired: ``index_lines``
        #: (dropped), ``unreadable_maps`` and ``unindexed_maps`` (both
        #: made again when their sample comes).
        self.repairs = dict(index_lines=0, unreadable_maps=0, unindexed_maps=0)
        if resume:
            self._check_existing(rank)
        self._index = open(self.index_file, 'a' if resume else 'w')

    @property
    def done_count(self) -> int:
        """Samples of this process found done when resuming."""
        return len(self._done)

    def _check_existing(self, rank: int) -> None:
        """Read back this process's index and maps, rewrite the index
        without what is broken, and count the repairs."""
        records, self.repairs['index_lines'] = _read_records(self.index_file)
        kept, unreadable = [], set()
        for record in records:
            if 'file' in record:
                if not self._map_reads_back(record):
                    self.repairs['unreadable_maps'] += 1
                    unreadable.add(record['file'])
                    continue
                self._done[record['index']] = record['file']
            kept.append(record)
        text = ''.join(json.dumps(r, allow_nan=False) + '\n' for r in kept)
        if osp.isfile(self.index_file):
            with open(self.index_file, 'rb') as f:
                if f.read() != text.encode():
                    write_whole_file(text.encode(), self.index_file)
        indexed = set(self._done.values()) | unreadable
        for path in sorted(Path(self.folder).glob('index_rank*.jsonl')):
            if path.name != osp.basename(self.index_file):
                for record in _read_records(str(path))[0]:
                    if 'file' in record:
                        indexed.add(record['file'])
                        self._indexed_elsewhere[record['index']] = record
        if rank == 0:
            maps = Path(self.folder, MAPS_FOLDER).glob('*.npy')
            self.repairs['unindexed_maps'] = sum(
                osp.join(MAPS_FOLDER, m.name) not in indexed for m in maps)

    def _map_reads_back(self, record: dict) -> bool:
        """Whether the record's map is the file that was indexed (its
        SHA-1) and loads with the record's shape and finite values."""
        path = osp.join(self.folder, record['file'])
        if not osp.isfile(path):
            return False
        try:
            with open(path, 'rb') as f:
                data = f.read()
            if record.get('sha1', _sha1(data)) != _sha1(data):
                return False  # replaced since it was indexed
            maps = np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return False
        return list(maps.shape) == record.get('shape') and bool(
            np.isfinite(maps).all())

    def _check_settings(self, settings: dict, rank: int) -> None:
        path = osp.join(self.folder, SETTINGS_FILE)
        settings = json.loads(json.dumps(settings))  # as it reads back
        if self.resume and not osp.isfile(path) and (
                any(Path(self.folder, MAPS_FOLDER).glob('*.npy'))
                or any(Path(self.folder).glob('index_rank*.jsonl'))):
            raise CAMError(
                f'cannot resume in {self.folder!r}: it has maps but no '
                f'{SETTINGS_FILE}, so what made them is unknown; use '
                'another out_dir or resume=False')
        if self.resume and osp.isfile(path):
            try:
                with open(path, 'rb') as f:
                    stored = json.loads(f.read())
                if not isinstance(stored, dict):
                    raise ValueError('not a JSON object')
            except ValueError as error:
                raise CAMError(
                    f'cannot resume in {self.folder!r}: its {SETTINGS_FILE} '
                    f'is not readable ({type(error).__name__}); use another '
                    'out_dir or resume=False') from None
            changed = sorted(
                k for k in set(stored) | set(settings)
                if stored.get(k) != settings.get(k))
            if changed:
                key = changed[0]
                if key.endswith('_sha1') and key in stored:
                    made_with = (
                        f'other {key[:-5].replace("_", " ")} '
                        f'(fingerprint {str(stored[key])[:12]}, '
                        f'this run has {str(settings.get(key))[:12]})')
                else:
                    made_with = (f'{key}={stored.get(key)!r}, this run has '
                                 f'{settings.get(key)!r}')
                raise CAMError(
                    f'cannot resume in {self.folder!r}: its maps were made '
                    f'with {made_with}; use another out_dir or '
                    'resume=False')
        elif rank == 0:
            write_whole_file(json.dumps(settings, indent=2).encode(), path)

    @staticmethod
    def file_name(index: int, img_path: Optional[str]) -> str:
        """``<index>_<stem>.npy``: unique per sample, readable by people."""
        stem = Path(img_path).stem if img_path else 'sample'
        return osp.join(MAPS_FOLDER, f'{index}_{stem}.npy')

    def done(self, index: int, img_path: Optional[str]) -> bool:
        """Whether the sample's maps are on disk, readable and indexed."""
        name = self.file_name(index, img_path)
        if self._done.get(index) == name:
            return True
        record = self._indexed_elsewhere.get(index)
        # Indexed by another process (the number of processes changed
        # between runs): read back now.
        return record is not None and record['file'] == name and \
            self._map_reads_back(record)

    def write(self, index: int, img_path: Optional[str], heatmaps: np.ndarray,
              categories: Sequence[int], scores: Sequence[float],
              class_names: Sequence[str], space: str) -> str:
        """Write one sample's ``(K, H, W)`` maps and its index line.

        Args:
            space (str): ``'image'`` when the maps lie on the original
                image, ``'input'`` when on the network input.

        Returns:
            str: The map file, relative to the folder.
        """
        if not (np.isfinite(heatmaps).all() and np.isfinite(scores).all()):
            # A NaN map would be clipped into a map of zeros and kept as
            # done; a failure is retried when the export resumes.
            raise NotANumberError(
                'the heatmap or its score is not a number (NaN or inf); '
                'not written')
        name = self.file_name(index, img_path)
        path = osp.join(self.folder, name)
        buffer = io.BytesIO()
        np.save(buffer, np.clip(heatmaps, 0, 1).astype(np.float16))
        write_whole_file(buffer.getvalue(), path)
        self._append(
            dict(
                index=index,
                img_path=img_path,
                file=name,
                sha1=_sha1(buffer.getvalue()),
                shape=list(heatmaps.shape),
                space=space,
                categories=[int(c) for c in categories],
                class_names=list(class_names),
                scores=[round(float(s), 6) for s in scores]))
        return name

    def write_failure(self, index: int, img_path: Optional[str],
                      error: str) -> None:
        """Record a sample that got no maps (retried on resume)."""
        self._append(dict(index=index, img_path=img_path, error=error))

    def _append(self, record: dict) -> None:
        # allow_nan=False: a NaN would make the line invalid JSON.
        self._index.write(json.dumps(record, allow_nan=False) + '\n')
        # Each line reaches the disk as it is written: a preempted job
        # leaves an index of everything it finished.
        self._index.flush()

    def close(self) -> None:
        self._index.close()


def _read_records(path: str) -> Tuple[List[dict], int]:
    """The records of an index file, and how many of its non-empty lines
    are not records (torn by a killed process, or tampered with)."""
    records, broken = [], 0
    if not osp.isfile(path):
        return records, broken
    with open(path, 'rb') as f:
        for line in f:
            if not line.strip():
                continue
            try:
                record = json.loads(line, parse_constant=_refuse_constant)
            except ValueError:  # also UnicodeDecodeError
                broken += 1
                continue
            if _is_record(record):
                records.append(record)
            else:
                broken += 1
    return records, broken


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _refuse_constant(name: str):
    raise ValueError(f'{name} is not JSON')


def _is_record(record) -> bool:
    """A sample's line: an index, and a map file or an error."""
    if not isinstance(record, dict) or type(record.get('index')) is not int:
        return False
    if 'file' in record:
        # Only a map file of this folder: a tampered line naming a FIFO or
        # a file elsewhere is not followed.
        return isinstance(record['file'], str) and bool(
            _MAP_FILE.fullmatch(record['file'])) and isinstance(
                record.get('shape'), list)
    return isinstance(record.get('error'), str)


def read_index(folder: str) -> list:
    """Every index line of a phase folder (all processes), one dict per
    sample, sorted by dataset index. Where a sample has several lines (a
    failure, then a success after resuming), the last one counts. Lines
    that are not records (a process killed while writing one) are left
    out with a warning; a resumed export repairs them."""
    records, broken = {}, 0
    for path in sorted(Path(folder).glob('index_rank*.jsonl')):
        lines, unreadable = _read_records(str(path))
        broken += unreadable
        for record in lines:
            if 'error' in record and records.get(record['index'],
                                                 {}).get('file'):
                continue  # a success from another run stands
            records[record['index']] = record
    if broken:
        warnings.warn(f'{broken} line(s) of the index in {folder!r} are '
                      'not records and were skipped; resuming the export '
                      'repairs them')
    return [records[i] for i in sorted(records)]
