"""Image metrics: PixCorr, SSIM and EfficientNet-Lite0 early/late identification."""

import numpy as np
import pytest

from pipeline.evaluation.generation import GENERATION_METRICS
from pipeline.evaluation.generation.images import (
    efficientnet_features,
    effnet_early,
    effnet_late,
    pixcorr,
    ssim,
)
from pipeline.evaluation.generation.score import per_stimulus
from pipeline.generators.base import ImageOutput
from pipeline.simulate.options import SimulateConfig
from pipeline.simulate.stimuli import make_stimuli


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return ImageOutput((rng.random((6, 32, 32, 3)) * 255).astype(np.uint8))


def test_pixcorr_is_one_for_the_same_image_and_minus_one_for_its_negative(images):
    scores = pixcorr(images, images)
    assert np.diag(scores) == pytest.approx(np.ones(6))
    negative = ImageOutput(255 - images.images)
    assert np.diag(pixcorr(negative, images)) == pytest.approx(-np.ones(6))


def test_ssim_is_one_for_the_same_image_and_lower_for_others(images):
    scores = ssim(images, images)
    assert np.diag(scores) == pytest.approx(np.ones(6))
    assert (scores[~np.eye(6, dtype=bool)] < 0.5).all()


def test_metrics_refuse_images_of_different_sizes(images):
    small = ImageOutput(images.images[:, :16, :16])
    with pytest.raises(ValueError, match="expected equal sizes"):
        pixcorr(small, images)


def test_feature_identification_is_perfect_on_the_true_images_and_not_on_shuffled():
    cfg = SimulateConfig(stimuli={"train": 2, "val": 2, "test": 12}, image_size=32)
    stimuli = ImageOutput(make_stimuli(cfg).images[4:])
    for metric in (effnet_early, effnet_late):
        scores = metric(stimuli, stimuli)
        statistic = GENERATION_METRICS.get("effnet_late_two_way")
        assert per_stimulus(statistic, scores).mean() == pytest.approx(1.0)
        shuffled = ImageOutput(stimuli.images[::-1])
        assert per_stimulus(statistic, metric(shuffled, stimuli)).mean() < 0.9


def test_efficientnet_features_have_the_documented_shapes(images):
    features = efficientnet_features(images.images[:2])
    assert features["late"].shape == (2, 1280) and features["early"].shape[0] == 2
