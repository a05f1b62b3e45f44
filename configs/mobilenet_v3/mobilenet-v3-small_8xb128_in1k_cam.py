# MobileNetV3-Small on ImageNet, with a GradCAM of every 1000th validation
# sample at the last convolution (the default layer).
_base_ = [
    'mmpretrain::mobilenet_v3/mobilenet-v3-small_8xb128_in1k.py',
    '../_base_/cam_hook.py',
]
