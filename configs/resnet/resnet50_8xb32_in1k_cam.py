# ResNet-50 on ImageNet, with a GradCAM of every 1000th validation sample.
_base_ = [
    'mmpretrain::resnet/resnet50_8xb32_in1k.py',
    '../_base_/cam_hook.py',
]
