"""ShapleyCAM that works on frozen models and on several target layers.

grad-cam 1.5.7's ``ShapleyCAM.get_cam_weights`` takes the Hessian-vector
product of the gradient with ``retain_graph=False`` and assumes the gradient
has a graph:

- the engine freezes parameters, so where the score is linear in the
  target layer's activations (ResNet ``layer4`` -> pooling -> FC, the
  EfficientNet head) the gradient is a constant without a graph, and
  ``torch.autograd.grad`` raises "element 0 of tensors does not require
  grad". The Hessian term is then exactly 0, which is what grad-cam gets on
  unfrozen models (through ``allow_unused``);
- with two or more target layers the first product frees the graph the
  second needs ("backward through the graph a second time");
- token outputs (ViT, Swin) reach ``get_cam_image`` unreshaped, because
  ShapleyCAM records activations without grad-cam's ``reshape_transform``
  to keep their graph, and fail there ("Invalid activation shape").

The weights stay grad-cam's ``gradient - hvp / 2`` averaged over space, and
the map their weighted sum of activations. Remove once grad-cam handles
these cases.
"""
import numpy as np
import pytorch_grad_cam as gc
import torch
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection


class ShapleyCAM(gc.ShapleyCAM):
    """:class:`pytorch_grad_cam.ShapleyCAM` with the fixes above."""

    def get_cam_image(self,
                      input_tensor,
                      target_layer,
                      targets,
                      activations,
                      grads,
                      eigen_smooth=False):
        # The weights need the activations as recorded (graph inputs); the
        # map needs them as a (B, C, H, W) feature map.
        weights = self.get_cam_weights(input_tensor, target_layer, targets,
                                       activations, grads)
        reshape = self.activations_and_grads.reshape_transform
        if reshape is not None:
            activations = reshape(activations)
        activations = activations.detach().float().cpu().numpy()
        weighted = weights.reshape(*weights.shape, *[1] *
                                   (activations.ndim - 2)) * activations
        if eigen_smooth:
            return get_2d_projection(weighted)
        return weighted.sum(axis=1)

    def get_cam_weights(self, input_tensor, target_layer, target_category,
                        activations, grads):
        hvp = None
        if grads.requires_grad and activations.requires_grad:
            hvp = torch.autograd.grad(
                outputs=grads,
                inputs=activations,
                grad_outputs=activations,
                retain_graph=True,
                allow_unused=True)[0]
        reshape = self.activations_and_grads.reshape_transform
        if reshape is not None:
            grads = reshape(grads)
            hvp = None if hvp is None else reshape(hvp)
        weight = grads if hvp is None else grads - 0.5 * hvp
        weight = weight.detach().float().cpu().numpy()
        # Average over the spatial axes of a 2-D (or 3-D) map.
        return np.mean(weight, axis=tuple(range(2, weight.ndim)))
