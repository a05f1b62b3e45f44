"""The CAM engine and everything it is built from."""
from .attention import AttentionRecorder, attention_blocks
from .engine import CAMEngine, CAMResult, ClassifierLogits, cam_mode
from .errors import CAMError, NotANumberError
from .feature_maps import (default_num_extra_tokens, infer_token_grid,
                           to_feature_map, tokens_to_feature_map)
from .methods import CAMMethod, get_method, supported_methods
from .settings import CAMSettings, parse_target_category
from .target_layers import (LayerRecord, default_target_layers, get_layer,
                            record_layer_outputs, resolve_target_layers)
from .targets import resolve_categories

__all__ = [
    'AttentionRecorder', 'attention_blocks', 'CAMEngine', 'CAMResult',
    'CAMError', 'CAMMethod', 'CAMSettings', 'ClassifierLogits', 'LayerRecord',
    'NotANumberError', 'cam_mode', 'default_num_extra_tokens',
    'default_target_layers', 'get_layer', 'get_method', 'infer_token_grid',
    'parse_target_category', 'record_layer_outputs', 'resolve_categories',
    'resolve_target_layers', 'supported_methods', 'to_feature_map',
    'tokens_to_feature_map'
]
