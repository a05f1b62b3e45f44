"""Raw heatmaps of a whole dataset on disk: one ``.npy`` per sample and a
JSON-lines index per process, resumable after a preempted job.

Layout of a phase folder (``out_dir/test``, ``out_dir/val_epoch_3``...)::

    export.json              the settings the maps were made with
    maps/<index>_<stem>.npy  float16 (K, H, W) heatmaps in [0, 1]
    index_rank<r>.jsonl      one line per sample process r explained

``<index>`` is the sample's index into the loop's dataset (unique, also
across the parts of a ``ConcatDataset``), ``<stem>`` its image's file name
without extension. A map file is written to a temporary name and renamed,
so a file that exists is complete: a resumed run skips exactly the samples
that are done.
"""
import io
import json
import os
import os.path as osp
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..cam.errors import CAMError
from .cam_visualizer import write_whole_file

SETTINGS_FILE = 'export.json'
MAPS_FOLDER = 'maps'


class RawMapWriter:
    """Writes the heatmaps of explained samples and their index lines.

    Args:
        folder (str): The phase folder.
        rank (int): This process's rank; each process writes its own
            index file.
        settings (dict): What the maps depend on (method, layers,
            categories, model); stored in ``export.json`` and compared on
            resume.
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
        self._index = open(self.index_file, 'a' if resume else 'w')

    def _check_settings(self, settings: dict, rank: int) -> None:
        path = osp.join(self.folder, SETTINGS_FILE)
        settings = json.loads(json.dumps(settings))  # as it reads back
        if self.resume and osp.isfile(path):
            with open(path) as f:
                stored = json.load(f)
            changed = sorted(
                k for k in set(stored) | set(settings)
                if stored.get(k) != settings.get(k))
            if changed:
                key = changed[0]
                raise CAMError(
                    f'cannot resume in {self.folder!r}: its maps were made '
                    f'with {key}={stored.get(key)!r}, this run has '
                    f'{settings.get(key)!r}; use another out_dir or '
                    'resume=False')
        elif rank == 0:
            write_whole_file(json.dumps(settings, indent=2).encode(), path)

    @staticmethod
    def file_name(index: int, img_path: Optional[str]) -> str:
        """``<index>_<stem>.npy``: unique per sample, readable by people."""
        stem = Path(img_path).stem if img_path else 'sample'
        return osp.join(MAPS_FOLDER, f'{index}_{stem}.npy')

    def done(self, index: int, img_path: Optional[str]) -> bool:
        """Whether the sample's maps are already on disk."""
        return osp.isfile(
            osp.join(self.folder, self.file_name(index, img_path)))

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
        self._index.write(json.dumps(record) + '\n')
        # Each line reaches the disk as it is written: a preempted job
        # leaves an index of everything it finished.
        self._index.flush()

    def close(self) -> None:
        self._index.close()


def read_index(folder: str) -> list:
    """Every index line of a phase folder (all processes), one dict per
    sample, sorted by dataset index. Where a sample has several lines (a
    failure, then a success after resuming), the last one counts."""
    records = {}
    for path in sorted(Path(folder).glob('index_rank*.jsonl')):
        with open(path) as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    if 'error' in record and records.get(record['index'],
                                                         {}).get('file'):
                        continue  # a success from another run stands
                    records[record['index']] = record
    return [records[i] for i in sorted(records)]
