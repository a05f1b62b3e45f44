"""Between the network input and the image's pixels."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper


class PixelSpace:
    """The affine map between an image's pixels and the normalized network
    input, ``input = (pixels - mean) / std``, as the model's data
    preprocessor (mmpretrain's ``ClsDataPreprocessor``, mmengine's
    ``ImgDataPreprocessor``) applies it.

    Faithfulness metrics perturb pixels (multiply by a heatmap, set to
    black, blur) and not the normalized input, whose zero is the dataset's
    mean colour rather than black.

    Args:
        mean (Sequence[float], optional): Per-channel mean. None: the
            inputs are the pixels.
        std (Sequence[float], optional): Per-channel standard deviation.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None) -> None:
        self.mean = None if mean is None else torch.as_tensor(
            mean, dtype=torch.float32).reshape(-1, 1, 1)
        self.std = None if std is None else torch.as_tensor(
            std, dtype=torch.float32).reshape(-1, 1, 1)

    @classmethod
    def of_model(cls, model: nn.Module) -> 'PixelSpace':
        """The normalization of ``model.data_preprocessor``; none for a
        model without one, or one that does not normalize."""
        if is_model_wrapper(model):
            model = model.module
        preprocessor = getattr(model, 'data_preprocessor', None)
        if preprocessor is None or not getattr(preprocessor,
                                               '_enable_normalize', False):
            return cls()
        return cls(preprocessor.mean.detach().cpu().flatten(),
                   preprocessor.std.detach().cpu().flatten())

    def to_pixels(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalized ``(..., C, H, W)`` inputs as pixels."""
        if self.mean is None:
            return inputs.float()
        return inputs.float() * self.std.to(inputs.device) + self.mean.to(
            inputs.device)

    def to_inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels as the normalized input the network expects."""
        if self.mean is None:
            return pixels
        return (pixels - self.mean.to(pixels.device)) / self.std.to(
            pixels.device)
