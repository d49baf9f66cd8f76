"""The CLIP-style contrastive loss and its learnable temperature."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pipeline.config import LossConfig
from pipeline.encoders.lit_module import EncoderLitModule
from pipeline.encoders.losses import clip_loss, retrieval_ranks


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


def test_repeated_stimuli_are_not_negatives():
    target = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    pred = target.clone()
    scale = torch.tensor(math.log(50.0))
    same = clip_loss(pred, target, torch.tensor([0, 0, 1]), scale)
    distinct = clip_loss(pred, target, torch.tensor([0, 1, 2]), scale)
    assert same < 1e-6 < distinct


def test_temperature_is_learnable():
    module = EncoderLitModule(torch.nn.Linear(1, 1), LossConfig(temperature=0.2), 0.1, 0.0)
    assert math.isclose(module.temperature, 0.2, rel_tol=1e-6)
    torch.manual_seed(0)
    target = torch.randn(8, 4)
    loss = module.loss(target + 0.1 * torch.randn(8, 4), target, torch.arange(8))
    loss.backward()
    assert module.logit_scale.grad is not None and module.logit_scale.grad != 0
    optimizer = module.configure_optimizers()
    optimizer.step()
    assert not math.isclose(module.temperature, 0.2, rel_tol=1e-4)


def test_retrieval_ranks():
    target = torch.eye(3)
    pred = torch.tensor([[1.0, 0.1, 0.0], [1.0, 0.2, 0.0], [0.0, 0.0, 1.0]])
    ranks = retrieval_ranks(pred, target, torch.tensor([0, 1, 2]))
    assert ranks.tolist() == [0, 1, 0]
