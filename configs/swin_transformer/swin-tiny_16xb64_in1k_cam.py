# Swin-T on ImageNet, with a GradCAM of every 1000th validation sample at
# the last norm (7x7 tokens, no class token).
_base_ = [
    'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
    '../_base_/cam_hook.py',
]

custom_hooks = [
    dict(
        type='CAMHook',
        method='GradCAM',
        target_layers=['backbone.norm3'],
        interval=1000),
]
