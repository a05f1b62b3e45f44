"""Run a tool and record every CAM picture this process stores.

``python record_pictures.py RECORD_DIR TOOL [TOOL ARGS...]`` runs
``TOOL`` (e.g. ``tools/test.py``) as ``__main__`` and writes
``RECORD_DIR/rank<RANK>.json`` with the pictures written to ``out_dir``
and those handed to ``LocalVisBackend``, so a test can check that each
sample is drawn exactly once across processes.
"""
import json
import os
import os.path as osp
import runpy
import sys


def main() -> None:
    record_dir, tool, *tool_args = sys.argv[1:]
    import torch.distributed as dist
    from mmengine.visualization import LocalVisBackend

    import mmcam.engine.loop_pictures as loop_pictures
    record = dict(files=[], backend=[], dist_backend=None)

    save_picture = loop_pictures.save_picture

    def recording_save_picture(picture, out_file):
        record['files'].append(out_file)
        if dist.is_initialized():
            # The tools close the process group when they finish.
            record['dist_backend'] = dist.get_backend()
        save_picture(picture, out_file)

    add_image = LocalVisBackend.add_image

    def recording_add_image(backend, name, image, step=0, **kwargs):
        record['backend'].append([name, step])
        return add_image(backend, name, image, step, **kwargs)

    loop_pictures.save_picture = recording_save_picture
    LocalVisBackend.add_image = recording_add_image
    sys.argv = [tool, *tool_args]
    try:
        runpy.run_path(tool, run_name='__main__')
    finally:
        os.makedirs(record_dir, exist_ok=True)
        rank = os.environ.get('RANK', '0')
        with open(osp.join(record_dir, f'rank{rank}.json'), 'w') as file:
            json.dump(record, file)


if __name__ == '__main__':
    main()
