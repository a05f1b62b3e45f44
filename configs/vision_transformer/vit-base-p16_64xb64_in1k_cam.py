# ViT-B/16 on ImageNet, with a GradCAM of every 1000th validation sample.
# The target is the norm before the last attention block: after that block
# the patch tokens no longer reach the class token, so later layers give
# flat maps. The class token is skipped when tokens become a feature map.
_base_ = [
    'mmpretrain::vision_transformer/vit-base-p16_64xb64_in1k.py',
    '../_base_/cam_hook.py',
]

custom_hooks = [
    dict(
        type='CAMHook',
        method='GradCAM',
        target_layers=['backbone.layers.11.ln1'],
        vit_like=True,
        interval=1000),
]
