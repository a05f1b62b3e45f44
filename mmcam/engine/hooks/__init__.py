"""Hooks that run CAM inside mmengine Runner loops."""
from .cam_hook import CAMHook

__all__ = ['CAMHook']
