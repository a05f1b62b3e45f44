"""Models whose outputs are known by hand, for the metric tests."""
import math

import torch
import torch.nn as nn

SIZE = 16
REGION = (slice(4, 8), slice(4, 8))


class RegionModel(nn.Module):
    """Two classes; the logit of class 0 grows with the energy of the
    pixels in ``REGION`` and ignores every other pixel."""

    def forward(self, x):
        energy = (x[:, :, REGION[0], REGION[1]]**2).mean((1, 2, 3))
        logit = 10 * energy - 3
        return torch.stack([logit, torch.zeros_like(logit)], 1)


class LinearModel(nn.Module):
    """Logit of class 0 is ``sum(weight * x)``, of class 1 is 0, so the
    probability of class 0 is ``sigmoid(sum(weight * x))``."""

    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def forward(self, x):
        logit = (x * self.weight).sum((1, 2, 3))
        return torch.stack([logit, torch.zeros_like(logit)], 1)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))
