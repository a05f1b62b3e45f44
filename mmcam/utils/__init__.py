"""Helpers of the inferencer and the tools: reading images, collecting
inputs, class names, strict checkpoint loading, pipeline inversion."""
from .checkpoint_loading import (check_state_dict_fits, download_checkpoint,
                                 load_checkpoint_strictly, read_checkpoint,
                                 state_dict_of)
from .class_names import class_name, resolve_class_names
from .image_loading import decode_image, read_image, to_bgr_uint8
from .input_collection import IMAGE_EXTENSIONS, collect_images, is_image_file
from .input_geometry import InputGeometry
from .messages import one_line
from .pipeline_inversion import InvertiblePipeline

__all__ = [
    'IMAGE_EXTENSIONS', 'InputGeometry', 'InvertiblePipeline',
    'check_state_dict_fits', 'class_name', 'collect_images', 'decode_image',
    'download_checkpoint', 'read_checkpoint', 'state_dict_of', 'is_image_file',
    'load_checkpoint_strictly', 'one_line', 'read_image',
    'resolve_class_names', 'to_bgr_uint8'
]
