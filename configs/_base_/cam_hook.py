# CAM in validation and test loops. Add this file to `_base_` of any
# mmpretrain config; every setting changes with --cfg-options, e.g.
#   --cfg-options custom_hooks.0.method=LayerCAM \
#                 custom_hooks.0.target_layers="['backbone.layer3']"
custom_imports = dict(imports=['mmcam'], allow_failed_imports=False)

custom_hooks = [
    dict(
        type='CAMHook',
        method='GradCAM',
        # None: the architecture's default layer (ResNet:
        # backbone.layer4.<last>.bn3; ViT: the norm before the last block).
        target_layers=None,
        # None: predicted class; 'gt': ground-truth label; or class ids.
        target_category=None,
        topk=None,
        eigen_smooth=False,
        aug_smooth=False,
        vit_like=False,
        num_extra_tokens=None,
        # Explain samples whose dataset index is a multiple of interval.
        interval=1000,
        # None: pictures go to the visualizer's vis_backends.
        out_dir=None,
        enable=True),
]
