"""The registered loss terms (clip, siglip, mse), their weighted sum and learnable scales."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pipeline.encoders.lit_module import EncoderLitModule
from pipeline.encoders.losses import (
    LOSSES,
    WeightedLoss,
    clip_loss,
    retrieval_ranks,
    siglip_loss,
)
from pipeline.encoders.options import LossConfig


def test_clip_loss_is_lower_for_matched_than_shuffled_pairs():
    torch.manual_seed(0)
    target = torch.randn(16, 8)
    pred = target + 0.3 * torch.randn(16, 8)
    stimulus = torch.arange(16)
    scale = torch.tensor(math.log(10.0))
    matched = clip_loss(pred, target, stimulus, scale)
    shuffled = clip_loss(pred[torch.randperm(16)], target, stimulus, scale)
    assert matched < shuffled - 1.0


def test_clip_loss_equals_cross_entropy_for_distinct_stimuli():
    torch.manual_seed(1)
    pred, target = torch.randn(6, 4), torch.randn(6, 4)
    logits = 5.0 * F.normalize(pred, dim=1) @ F.normalize(target, dim=1).T
    labels = torch.arange(6)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    loss = clip_loss(pred, target, labels, torch.tensor(math.log(5.0)))
    torch.testing.assert_close(loss, expected)


def test_siglip_loss_matches_its_definition_and_prefers_matched_pairs():
    torch.manual_seed(2)
    pred, target = torch.randn(5, 4), torch.randn(5, 4)
    stimulus = torch.tensor([0, 1, 1, 2, 3])
    scale, bias = torch.tensor(math.log(10.0)), torch.tensor(-3.0)
    cosine = F.normalize(pred, dim=1) @ F.normalize(target, dim=1).T
    expected = sum(
        -math.log(torch.sigmoid(
            (1.0 if stimulus[i] == stimulus[j] else -1.0) * (10.0 * cosine[i, j] - 3.0)
        ))
        for i in range(5) for j in range(5)
    ) / 5
    assert float(siglip_loss(pred, target, stimulus, scale, bias)) == pytest.approx(expected)
    matched = siglip_loss(target, target, torch.arange(5), scale, bias)
    shuffled = siglip_loss(target[torch.tensor([1, 2, 3, 4, 0])], target, torch.arange(5),
                           scale, bias)
    assert matched < shuffled


@pytest.mark.parametrize("loss", [clip_loss, siglip_loss])
def test_repeated_stimuli_are_not_negatives(loss):
    target = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    extra = (torch.tensor(-25.0),) if loss is siglip_loss else ()  # bias: cos 0 is negative
    scale = torch.tensor(math.log(50.0))
    same = loss(target, target, torch.tensor([0, 0, 1]), scale, *extra)
    distinct = loss(target, target, torch.tensor([0, 1, 2]), scale, *extra)
    assert same < 1e-6 < distinct


def test_weighted_loss_sums_the_terms_of_positive_weight():
    torch.manual_seed(3)
    pred, target, stimulus = torch.randn(8, 4), torch.randn(8, 4), torch.arange(8)
    cfg = LossConfig(weights={"clip": 0.5, "siglip": 0.0, "mse": 2.0}, temperature=0.2)
    loss = WeightedLoss(cfg)
    assert list(loss.terms) == ["clip", "mse"] and set(LOSSES.names()) == {"clip", "mse", "siglip"}
    expected = (0.5 * clip_loss(pred, target, stimulus, torch.tensor(math.log(5.0)))
                + 2.0 * F.mse_loss(pred, target))
    torch.testing.assert_close(loss(pred, target, stimulus), expected)
    assert loss.report() == {"temperature": pytest.approx(0.2)}


@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_temperature_and_bias_are_learnable(name):
    cfg = LossConfig(weights={name: 1.0}, temperature=0.2, siglip_bias=-2.0)
    module = EncoderLitModule(torch.nn.Linear(1, 1), cfg, 0.1, 0.0)
    before = module.criterion.report()
    assert next(iter(before.values())) == pytest.approx(0.2)
    torch.manual_seed(0)
    target = torch.randn(8, 4)
    module.loss(target + 0.1 * torch.randn(8, 4), target, torch.arange(8)).backward()
    optimizer = module.configure_optimizers()
    optimizer.step()
    after = module.criterion.report()
    assert all(not math.isclose(after[key], before[key], rel_tol=1e-4) for key in before)
    assert set(after) == ({"temperature"} if name == "clip" else
                          {"siglip_temperature", "siglip_bias"})


def test_optimizer_leaves_out_frozen_parameters():
    encoder = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
    encoder[0].requires_grad_(False)  # a frozen pretrained backbone
    module = EncoderLitModule(encoder, LossConfig(), 0.1, 0.01)
    optimised = {id(p) for group in module.configure_optimizers().param_groups
                 for p in group["params"]}
    assert optimised == {id(p) for p in (*encoder[1].parameters(),
                                         *module.criterion.parameters())}


def test_retrieval_ranks():
    target = torch.eye(3)
    pred = torch.tensor([[1.0, 0.1, 0.0], [1.0, 0.2, 0.0], [0.0, 0.0, 1.0]])
    ranks = retrieval_ranks(pred, target, torch.tensor([0, 1, 2]))
    assert ranks.tolist() == [0, 1, 0]
