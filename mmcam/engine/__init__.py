"""mmcam's pieces for mmengine's Runner."""
from .hooks import CAMHook

__all__ = ['CAMHook']
