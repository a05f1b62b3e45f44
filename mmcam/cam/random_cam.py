"""RandomCAM whose channel weights repeat from run to run.

grad-cam 1.5.7's ``RandomCAM`` draws its channel weights from numpy's
global generator, so two runs of one command give different maps, and a
table with one RandomCAM row measures one draw of noise. Here the weights
of class ``c`` are uniform in [-1, 1), drawn from
``numpy.random.default_rng([seed, c])``: a fixed random explainer per
seed, whose map of an image does not depend on the batch it came in, the
order of the images or the number of processes. Several seeds are several
draws of the baseline.
"""
import numpy as np
import pytorch_grad_cam as gc


def random_channel_weights(seed: int, category: int,
                           channels: int) -> np.ndarray:
    """The channel weights of ``category`` for ``seed``: ``(channels,)``
    uniform in [-1, 1)."""
    return np.random.default_rng([seed, category]).uniform(-1, 1, channels)


class RandomCAM(gc.RandomCAM):
    """:class:`pytorch_grad_cam.RandomCAM` with seeded weights (see the
    module's docstring). ``seed`` is set by the engine."""

    seed: int = 0

    def get_cam_weights(self, input_tensor, target_layer, targets, activations,
                        grads):
        return np.stack([
            random_channel_weights(self.seed, int(target.category),
                                   grads.shape[1]) for target in targets
        ])
