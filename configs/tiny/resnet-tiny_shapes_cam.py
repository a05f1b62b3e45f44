# A tiny ResNet on a tiny dataset, to try CAMHook in seconds on a CPU:
#   python tests/test_engine/shapes_dataset.py data/shapes
#   python tools/train.py configs/tiny/resnet-tiny_shapes_cam.py
# Every sample of the validation set gets a GradCAM each epoch.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/cam_hook.py',
]

data_root = 'data/shapes'
classes = ('disc', 'square')

model = dict(
    type='ImageClassifier',
    # CIFAR stem: 32x32 inputs end as 4x4 maps (8x8 at layer3).
    backbone=dict(
        type='ResNet_CIFAR', depth=18, stem_channels=16, base_channels=16),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=2,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))

data_preprocessor = dict(
    num_classes=2,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        classes=classes,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        classes=classes,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(type='ConstantLR', factor=1.0, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(logger=dict(type='LoggerHook', interval=1))
randomness = dict(seed=0)

custom_hooks = [dict(type='CAMHook', method='GradCAM', interval=1)]
