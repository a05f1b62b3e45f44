"""The Python API."""
from .cam_inferencer import CAMInferencer

__all__ = ['CAMInferencer']
