"""CAMQuality against known answers: a model that looks at one region,
hand-computed values on a 2x2 image, and pytorch-grad-cam's metrics."""
import cv2
import numpy as np
import pytest
import torch
from known_models import REGION, SIZE, LinearModel, RegionModel, sigmoid

from mmcam.cam import CAMError
from mmcam.evaluation import (CAMQuality, GroundTruthRegion, PixelSpace,
                              gaussian_blur, pixel_ranks, step_pixel_counts,
                              substrate_images, values_per_image)


@pytest.fixture(scope='module')
def region_maps():
    """A textured image, and the region's map, a uniform and a random map
    of class 0."""
    generator = torch.Generator().manual_seed(0)
    image = (torch.rand(1, 3, SIZE, SIZE, generator=generator) > 0.5).float()
    region = torch.zeros(SIZE, SIZE)
    region[REGION] = 1
    maps = torch.stack([
        region,
        torch.full((SIZE, SIZE), 0.5),
        torch.rand(SIZE, SIZE, generator=generator)
    ])[None]
    return image, maps


def test_the_region_map_is_the_most_faithful(region_maps):
    image, maps = region_maps
    quality = CAMQuality(RegionModel(), steps=16)
    values = quality(image, maps, np.zeros((1, 3), int))
    assert list(values) == [
        'avg_drop', 'increase', 'deletion_auc', 'deletion_substrate_prob',
        'insertion_auc', 'insertion_substrate_prob'
    ]
    for value in values.values():
        assert value.shape == (1, 3) and value.dtype == np.float32
    region, uniform, random = range(3)
    drop, deletion = values['avg_drop'][0], values['deletion_auc'][0]
    insertion = values['insertion_auc'][0]
    # The region unchanged: no drop at all.
    assert drop[region] == 0
    assert drop[region] < drop[uniform] and drop[region] < drop[random]
    assert deletion[region] < deletion[random]
    assert insertion[region] > insertion[random]
    # The uniform map has no pixel order: no deletion or insertion value.
    assert np.isnan(deletion[uniform]) and np.isnan(insertion[uniform])


def test_hand_computed_deletion_and_average_drop():
    image = torch.tensor([[1., 2.], [3., 4.]]).reshape(1, 1, 2, 2)
    weight = torch.tensor([[1., 0.5], [-1., 0.25]]).reshape(1, 2, 2)
    heatmap = torch.tensor([[0.9, 0.1], [0.5, 0.3]]).reshape(1, 1, 2, 2)
    quality = CAMQuality(
        LinearModel(weight), ['avg_drop', 'increase', 'deletion_auc'], steps=4)
    values = quality(image, heatmap, [[0]])
    # sum(weight * image) = 1 + 1 - 3 + 1 = 0, so Y = 0.5.
    # image * heatmap = [[0.9, 0.2], [1.5, 1.2]]: 0.9 + 0.1 - 1.5 + 0.3.
    masked = sigmoid(-0.2)
    assert values['avg_drop'][0, 0] == pytest.approx(
        (0.5 - masked) / 0.5 * 100, rel=1e-6)
    assert values['increase'][0, 0] == 0
    # Heatmap order (0,0), (1,0), (1,1), (0,1); one pixel per step set
    # to 0: the sums are 0, -1, 2, 1, 0.
    curve = [0.5, sigmoid(-1), sigmoid(2), sigmoid(1), 0.5]
    area = (sum(curve) - (curve[0] + curve[-1]) / 2) / 4
    assert values['deletion_auc'][0, 0] == pytest.approx(area, rel=1e-6)
    # Original, black image and three inner steps (steps + 1 images),
    # and the image times its heatmap.
    assert quality.images_forwarded == 6


def test_hand_computed_insertion():
    image = torch.tensor([[1., 2.], [3., 4.]]).reshape(1, 1, 2, 2)
    weight = torch.tensor([[1., 0.5], [-1., 0.25]]).reshape(1, 2, 2)
    heatmap = torch.tensor([[0.9, 0.1], [0.5, 0.3]]).reshape(1, 1, 2, 2)
    quality = CAMQuality(
        LinearModel(weight), ['insertion_auc'],
        steps=4,
        blur_kernel=3,
        blur_sigma=1.0)
    blurred = gaussian_blur(image, 3, 1.0)[0, 0].numpy()
    current = blurred.copy()
    curve = []
    for step, pixel in enumerate([None, (0, 0), (1, 0), (1, 1), (0, 1)]):
        if pixel is not None:
            current[pixel] = image[0, 0][pixel].item()
        curve.append(sigmoid(float((current * weight[0].numpy()).sum())))
    area = (sum(curve) - (curve[0] + curve[-1]) / 2) / 4
    values = quality(image, heatmap, [[0]])
    assert values['insertion_auc'][0, 0] == pytest.approx(area, rel=1e-5)


def test_blur_matches_opencv():
    pixels = torch.rand(
        1, 3, 20, 24, generator=torch.Generator().manual_seed(1))
    ours = gaussian_blur(pixels, 11, 5.0)[0].permute(1, 2, 0).numpy()
    theirs = cv2.GaussianBlur(
        pixels[0].permute(1, 2, 0).numpy(), (11, 11),
        5.0,
        borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_ranks_and_counts():
    heatmap = torch.tensor([[0.2, 0.9], [0.2, 0.5]])
    # Highest first; the tie keeps raster order.
    assert pixel_ranks(heatmap).tolist() == [[2, 0], [3, 1]]
    assert step_pixel_counts(10, 4).tolist() == [0, 2, 5, 7, 10]


def test_agrees_with_grad_cam_confidence_change(region_maps):
    from pytorch_grad_cam.metrics.cam_mult_image import (
        CamMultImageConfidenceChange, DropInConfidence, IncreaseInConfidence)
    from pytorch_grad_cam.utils.model_targets import \
        ClassifierOutputSoftmaxTarget
    image, maps = region_maps
    images = image.repeat(3, 1, 1, 1) * torch.tensor([1.0, 0.8, 1.2]).reshape(
        3, 1, 1, 1)
    cams = maps[0].numpy()
    model = RegionModel()
    targets = [ClassifierOutputSoftmaxTarget(0)] * 3
    # grad-cam multiplies the network input; with no normalization that
    # is the pixels, so the definitions coincide.
    change = CamMultImageConfidenceChange()(images, cams, targets, model)
    with torch.no_grad():
        original = model(images).softmax(-1)[:, 0].numpy()
    values = CAMQuality(model, ['avg_drop', 'increase'])(images, maps[0][:,
                                                                         None],
                                                         np.zeros((3, 1), int))
    np.testing.assert_allclose(
        values['avg_drop'][:, 0],
        np.maximum(0, -change) / original * 100,
        rtol=1e-5,
        atol=1e-5)
    np.testing.assert_allclose(
        values['avg_drop'][:, 0] * original / 100,
        DropInConfidence()(images, cams, targets, model),
        atol=1e-6)
    np.testing.assert_array_equal(
        values['increase'][:, 0] / 100,
        IncreaseInConfidence()(images, cams, targets, model))


def test_perturbs_pixels_before_normalization(tiny_resnet):
    """With a normalizing data preprocessor, the heatmap multiplies the
    pixels, and the product is normalized again."""
    from mmengine.config import Config
    from mmpretrain.apis import get_model
    config, checkpoint = tiny_resnet
    model = get_model(Config.fromfile(str(config)), str(checkpoint))
    space = PixelSpace.of_model(model)
    generator = torch.Generator().manual_seed(2)
    pixels = torch.rand(2, 3, 64, 64, generator=generator) * 255
    # The preprocessor takes BGR and gives normalized RGB.
    inputs = model.data_preprocessor(dict(inputs=pixels.flip(1)),
                                     False)['inputs']
    np.testing.assert_allclose(space.to_pixels(inputs), pixels, atol=1e-3)
    heatmaps = torch.rand(2, 1, 64, 64, generator=generator)
    categories = np.array([[1], [3]])
    quality = CAMQuality(model, ['avg_drop'])
    values = quality(inputs, heatmaps, categories)
    with torch.no_grad():
        original = model(inputs).softmax(-1)
        masked = model(space.to_inputs(space.to_pixels(inputs) *
                                       heatmaps)).softmax(-1)
    for b, c in enumerate(categories[:, 0]):
        y, o = original[b, c].item(), masked[b, c].item()
        assert values['avg_drop'][b, 0] == pytest.approx(
            max(0, y - o) / y * 100, rel=1e-4, abs=1e-4)


def test_batches_cover_every_image_once(region_maps):
    image, maps = region_maps
    images = image.repeat(2, 1, 1, 1)
    heatmaps = maps.repeat(2, 1, 1, 1)
    categories = np.zeros((2, 3), int)
    one_pass = CAMQuality(RegionModel(), steps=8, batch_size=1000)
    small = CAMQuality(RegionModel(), steps=8, batch_size=7)
    a = one_pass(images, heatmaps, categories)
    b = small(images, heatmaps, categories)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6)
    # Per image: original, black, blurred; per map: the product and
    # 2 * (steps - 1) inner curve points.
    assert one_pass.images_forwarded == 2 * (3 + 3 * (1 + 2 * 7))


def test_localisation_with_boxes_and_labels(region_maps):
    image, maps = region_maps
    region = GroundTruthRegion(
        bboxes=np.array([[4, 4, 8, 8], [12, 12, 16, 16]], np.float32),
        labels=np.array([0, 1]))
    quality = CAMQuality(
        RegionModel(), ['pointing_game', 'energy_pointing_game'], tolerance=2)
    # The region's map for both classes: it points at class 0's box and
    # misses class 1's, 8 px away.
    both = maps[:, [0, 0]]
    values = quality(image, both, np.array([[0, 1]]), [region])
    assert values['pointing_game'][0].tolist() == [1.0, 0.0]
    assert values['energy_pointing_game'][0].tolist() == [1.0, 0.0]
    # The uniform map: a sixteenth of its energy in the 4x4 box.
    values = quality(image, maps[:, [1]], np.array([[0]]), [region])
    assert values['energy_pointing_game'][0, 0] == pytest.approx(1 / 16)
    # No box of class 1 at all: not applicable.
    no_label = GroundTruthRegion(
        bboxes=np.array([[4, 4, 8, 8]]), labels=np.array([0]))
    values = quality(image, both, np.array([[0, 1]]), [no_label])
    assert np.isnan(values['pointing_game'][0, 1])
    # A mask serves every class.
    mask = GroundTruthRegion(mask=both[0, 0].numpy() > 0)
    values = quality(image, both, np.array([[0, 1]]), [mask])
    assert values['pointing_game'][0].tolist() == [1.0, 1.0]


def test_pointing_game_tolerance():
    heatmap = np.zeros((64, 64), np.float32)
    heatmap[30, 39] = 1  # 15 px right of the box's last column (24)
    box = GroundTruthRegion(bboxes=np.array([[10, 10, 25, 50]]))
    mask = box.mask_for(0, (64, 64))
    quality = CAMQuality(RegionModel(), ['pointing_game'], tolerance=15)
    hit = quality(torch.zeros(1, 3, 64, 64), heatmap[None, None], [[0]], [box])
    assert hit['pointing_game'][0, 0] == 1
    strict = CAMQuality(RegionModel(), ['pointing_game'], tolerance=14)
    miss = strict(torch.zeros(1, 3, 64, 64), heatmap[None, None], [[0]], [box])
    assert miss['pointing_game'][0, 0] == 0 and mask[30, 24]


def test_bad_names_and_missing_regions(region_maps):
    image, maps = region_maps
    with pytest.raises(
            CAMError, match="unknown metric 'auc'.*available: "
            'avg_drop'):
        CAMQuality(RegionModel(), ['auc'])
    named = CAMQuality(RegionModel(), ['pointing_game'])
    with pytest.raises(CAMError, match="'pointing_game' needs ground-truth"):
        named(image, maps, np.zeros((1, 3), int))
    # True means all that apply: no regions, no localisation metrics.
    assert CAMQuality(RegionModel()).names_for(None) == [
        'avg_drop', 'increase', 'deletion_auc', 'insertion_auc'
    ]
    with pytest.raises(CAMError, match='steps must be a positive'):
        CAMQuality(RegionModel(), steps=0)


def test_substrate_images():
    pixels = torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(3))
    assert substrate_images(pixels, 'black').eq(0).all()
    mean = substrate_images(pixels, 'mean')
    np.testing.assert_allclose(
        mean[:, :, 4, 5], pixels.mean((2, 3)), rtol=1e-6)
    assert mean.std((2, 3)).max() < 1e-6
    np.testing.assert_array_equal(
        substrate_images(pixels, 'blur', 3, 1.0),
        gaussian_blur(pixels, 3, 1.0))


def test_hand_computed_curves_on_chosen_substrates():
    image = torch.tensor([[1., 2.], [3., 4.]]).reshape(1, 1, 2, 2)
    weight = torch.tensor([[1., 0.5], [-1., 0.25]]).reshape(1, 2, 2)
    heatmap = torch.tensor([[0.9, 0.1], [0.5, 0.3]]).reshape(1, 1, 2, 2)
    quality = CAMQuality(
        LinearModel(weight), ['deletion_auc', 'insertion_auc'],
        steps=4,
        deletion_substrate='mean',
        insertion_substrate='black')
    values = quality(image, heatmap, [[0]])
    assert list(values) == [
        'deletion_auc', 'deletion_substrate_prob', 'insertion_auc',
        'insertion_substrate_prob'
    ]
    order = [(0, 0), (1, 0), (1, 1), (0, 1)]

    def curve(start, end):
        current, points = start.copy(), []
        for pixel in [None] + order:
            if pixel is not None:
                current[pixel] = end[pixel]
            points.append(sigmoid(float((current * weight[0].numpy()).sum())))
        return points

    def area(points):
        return (sum(points) - (points[0] + points[-1]) / 2) / 4

    pixels = image[0, 0].numpy()
    # Deleted pixels take the image's mean colour, 2.5.
    deletion = curve(pixels, np.full((2, 2), 2.5, np.float32))
    assert values['deletion_auc'][0, 0] == pytest.approx(
        area(deletion), rel=1e-6)
    assert values['deletion_substrate_prob'][0, 0] == pytest.approx(
        sigmoid(2.5 * 0.75), rel=1e-6)
    # Insertion starts from black, where the logit is 0.
    insertion = curve(np.zeros((2, 2), np.float32), pixels)
    assert values['insertion_auc'][0, 0] == pytest.approx(
        area(insertion), rel=1e-6)
    assert values['insertion_substrate_prob'][0, 0] == pytest.approx(0.5)
    # Original, one substrate image each, 3 inner points per curve.
    assert quality.images_forwarded == 1 + 2 + 2 * 3


def test_one_warning_when_the_substrate_keeps_the_class(
        region_maps, monkeypatch):
    from mmengine.logging import MMLogger
    image, maps = region_maps
    warnings = []
    # The uniform map's warning (no pixel order) is another test's.
    monkeypatch.setattr(
        MMLogger.get_current_instance(), 'warning',
        lambda line: warnings.append(line) if 'substrate' in line else None)
    with torch.no_grad():
        original = RegionModel()(image).softmax(-1)[0, 0].item()
    # RegionModel's class 0 has probability sigmoid(-3) = 0.047 on black,
    # a fifth of its probability on the image.
    black = CAMQuality(
        RegionModel(), ['insertion_auc'], insertion_substrate='black')
    probs = black(image, maps, np.zeros((1, 3), int))
    np.testing.assert_allclose(
        probs['insertion_substrate_prob'], sigmoid(-3), rtol=1e-5)
    assert sigmoid(-3) / original < 0.2
    assert warnings == []
    # The blurred textured image keeps more.
    blurred = CAMQuality(RegionModel(), ['insertion_auc'])
    probs = blurred(image, maps, np.zeros((1, 3), int))
    kept = probs['insertion_substrate_prob'][0, 0]
    assert kept / original > 0.2
    blurred(image, maps, np.zeros((1, 3), int))
    assert warnings == [
        'insertion substrate blur (kernel 11, sigma 5): the class keeps '
        'more than 20% of its probability on 3 of 3 map(s) (up to '
        f'{kept:.3f} of {original:.3f}, class 0; see '
        'insertion_substrate_prob), so insertion_auc can hardly tell good '
        "maps from bad ones there; another insertion_substrate ('black', "
        "'mean', or 'blur' with a larger blur_sigma) may"
    ]
    lenient = CAMQuality(
        RegionModel(), ['insertion_auc'], substrate_warn_above=0.99)
    lenient(image, maps, np.zeros((1, 3), int))
    assert len(warnings) == 1


@pytest.mark.parametrize('options, message', [
    (dict(deletion_substrate='gray'),
     "metric deletion_substrate must be one of 'black', 'mean', 'blur', "
     "got 'gray'"),
    (dict(insertion_substrate=None), 'metric insertion_substrate must be'),
    (dict(substrate_warn_above=2),
     'metric substrate_warn_above must be a share in'),
])
def test_bad_substrate_options(options, message):
    with pytest.raises(CAMError, match=message):
        CAMQuality.check_arguments(True, options)


def test_random_tie_break_follows_a_seeded_permutation():
    heatmap = torch.tensor([[0.2, 0.9], [0.2, 0.5]])
    for seed in range(6):
        shuffle = torch.randperm(
            4, generator=torch.Generator().manual_seed(seed)).tolist()
        # The tied pixels 0 and 2 come in the permutation's order.
        first, second = sorted([0, 2], key=shuffle.index)
        expected = [0] * 4
        expected[1], expected[3] = 0, 1
        expected[first], expected[second] = 2, 3
        ranks = pixel_ranks(heatmap[None], 'random', seed)[0]
        assert ranks.flatten().tolist() == expected
    # A constant map is ranked in the permutation's order; every map of
    # one size gets the same permutation, whatever its batch.
    constant = torch.zeros(3, 2, 5)
    ranks = pixel_ranks(constant, 'random', 4).flatten(1)
    shuffle = torch.randperm(10, generator=torch.Generator().manual_seed(4))
    for row in ranks:
        assert row[shuffle].tolist() == list(range(10))
    assert not (pixel_ranks(constant, 'random', 5).flatten(1) == ranks).all()


def test_hand_computed_deletion_with_random_ties():
    image = torch.tensor([[1., 2.], [3., 4.]]).reshape(1, 1, 2, 2)
    weight = torch.tensor([[1., 0.5], [-1., 0.25]]).reshape(1, 2, 2)
    flat = torch.full((1, 1, 2, 2), 0.5)
    quality = CAMQuality(
        LinearModel(weight), ['deletion_auc'],
        steps=4,
        tie_break='random',
        seed=3)
    shuffle = torch.randperm(4, generator=torch.Generator().manual_seed(3))
    current, points = image[0, 0].clone(), []
    for pixel in [None] + shuffle.tolist():
        if pixel is not None:
            current.view(-1)[pixel] = 0
        points.append(sigmoid(float((current * weight[0]).sum())))
    area = (sum(points) - (points[0] + points[-1]) / 2) / 4
    assert quality(image, flat, [[0]])['deletion_auc'][0, 0] == pytest.approx(
        area, rel=1e-6)
    raster = CAMQuality(LinearModel(weight), ['deletion_auc'], steps=4)
    assert shuffle.tolist() != [0, 1, 2, 3]
    assert raster(image, flat, [[0]])['deletion_auc'][0, 0] != \
        pytest.approx(area, rel=1e-6)


@pytest.mark.parametrize('options, message', [
    (dict(tie_break='first'),
     "metric tie_break must be one of 'raster', 'random', got 'first'"),
    (dict(seed=-2), 'metric seed must be a non-negative integer, got -2'),
])
def test_bad_tie_break_options(options, message):
    with pytest.raises(CAMError, match=message):
        CAMQuality.check_arguments(True, options)


def test_meaningless_maps_get_nan_and_a_warning(region_maps, monkeypatch):
    """NaN, infinite or negative maps: every metric NaN. A constant map
    has no pixel order: the order metrics are NaN, the product with the
    image (avg_drop, increase) stays."""
    from mmengine.logging import MMLogger
    image, maps = region_maps
    warnings = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning',
                        warnings.append)
    region = maps[0, 0]
    broken = torch.stack([
        region,
        torch.where(region > 0, float('nan'), 0.5),
        torch.where(region > 0, float('inf'), 0.5),
        region - 0.5,
        torch.zeros_like(region),
    ])[None]
    box = GroundTruthRegion(bboxes=np.array([[4, 4, 8, 8]]))
    values = CAMQuality(
        RegionModel(), steps=8)(image, broken, np.zeros((1, 5), int), [box])
    sound, nan, inf, negative, constant = range(5)
    for name, value in values.items():
        assert np.isfinite(value[0, sound]), name
        if name.endswith('_substrate_prob'):
            continue  # the class's probability on the substrate, no map's
        assert np.isnan(value[0, [nan, inf, negative]]).all(), name
    for name in ('deletion_auc', 'insertion_auc', 'pointing_game'):
        assert np.isnan(values[name][0, constant]), name
    assert np.isfinite(values['avg_drop'][0, constant])
    meaningless = [line for line in warnings if 'mean nothing' in line]
    assert len(meaningless) == 1 and '4 of 5 heatmap(s)' in meaningless[0]


@pytest.mark.parametrize('options, message', [
    (dict(blur_sigma=0), 'blur_sigma must be a finite positive number'),
    (dict(blur_sigma=float('nan')), 'blur_sigma must be a finite positive'),
    (dict(tolerance=float('nan')), 'tolerance must be a finite non-neg'),
    (dict(tolerance=True), 'tolerance must be a finite non-negative'),
])
def test_metric_options_that_give_nan_are_refused(options, message):
    with pytest.raises(CAMError, match=message):
        CAMQuality(RegionModel(), **options)


def test_a_category_outside_the_head_is_a_cam_error(region_maps):
    image, maps = region_maps
    with pytest.raises(CAMError, match='target category 2 is out of range'):
        CAMQuality(RegionModel(), ['avg_drop'])(image, maps[:, :1], [[2]])


def test_malformed_boxes_are_cam_errors():
    for boxes, message in (([[1, 2, 3]], r'shape \(1, 3\)'),
                           ([[0, 0, 'a', 1]], 'not an array of numbers'),
                           ([[0, 0, np.nan, 1]], 'not finite')):
        with pytest.raises(CAMError, match=message):
            GroundTruthRegion(bboxes=np.asarray(boxes, dtype=object)).mask_for(
                0, (8, 8))


def test_values_per_image_hands_out_each_image_s_row(region_maps):
    image, maps = region_maps
    images = torch.cat([image, image.flip(-1)])
    heatmaps = torch.cat([maps, maps.flip(-1)])
    categories = np.zeros((2, 3), int)
    quality = CAMQuality(RegionModel(), ['avg_drop', 'deletion_auc'], steps=4)
    together = quality(images, heatmaps, categories)
    rows = values_per_image(together)
    assert len(rows) == 2
    for row, values in enumerate(rows):
        assert list(values) == list(together)
        for name, value in values.items():
            assert value.shape == (3, )
            np.testing.assert_array_equal(value, together[name][row])
    assert values_per_image({}) == []
