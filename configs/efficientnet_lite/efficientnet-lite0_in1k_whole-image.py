# EfficientNet-Lite0 on the whole image: the short edge resized to 256 and
# no center crop, so objects near the borders (or two photos side by side)
# stay in view. The network pools globally, so any size works; predictions
# on the usual center crop are those of efficientnet-lite0_in1k.py.
_base_ = './efficientnet-lite0_in1k.py'

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='PackInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
