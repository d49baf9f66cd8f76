"""The EMA quantiser, codebook perplexity, dead-code restarts and collapse detection."""

from __future__ import annotations

import json
import logging

import pytest
import torch
import torch.nn.functional as F

from pipeline.pretrain.options import PretrainConfig
from pipeline.pretrain.quantizer import EMAQuantizer, code_usage
from pipeline.pretrain.run import pretrain_study


def test_perplexity_and_usage_of_code_counts():
    assert code_usage(torch.tensor([5, 5, 5, 5])) == pytest.approx((4.0, 1.0))
    assert code_usage(torch.tensor([9, 0, 0, 0])) == pytest.approx((1.0, 0.25))
    perplexity, usage = code_usage(torch.tensor([3, 1, 0, 0]))
    assert 1.0 < perplexity < 2.0 and usage == 0.5


def test_ema_update_moves_a_code_towards_its_vectors():
    torch.manual_seed(0)
    quantizer = EMAQuantizer(size=2, dim=3, decay=0.5, dead_code_threshold=0.0)
    quantizer.codebook.copy_(torch.eye(3)[:2])
    quantizer.embed_sum.copy_(torch.eye(3)[:2])
    target = F.normalize(torch.tensor([[1.0, 0.0, 0.5]]), dim=1)
    before = float(quantizer.codebook[0] @ target[0])
    quantizer.train()
    _, index = quantizer(target.expand(8, 3))
    assert (index == 0).all()
    assert float(quantizer.codebook[0] @ target[0]) > before
    torch.testing.assert_close(quantizer.codebook[1], torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(quantizer.codebook.norm(dim=1), torch.ones(2))


def clustered(n_clusters: int, per_cluster: int, dim: int) -> torch.Tensor:
    """Unit vectors in ``n_clusters`` tight clusters around orthogonal directions."""
    centres = torch.eye(dim)[:n_clusters]
    noise = 0.05 * torch.randn(n_clusters, per_cluster, dim)
    return F.normalize(centres[:, None] + noise, dim=-1).reshape(-1, dim)


def usage_after_training(threshold: float) -> tuple[float, float, int]:
    """Train a codebook whose codes all start on one point; return perplexity, usage, restarts.

    The data are 8 tight clusters; at first every vector takes the first code.
    """
    torch.manual_seed(0)
    quantizer = EMAQuantizer(size=8, dim=8, decay=0.9, dead_code_threshold=threshold)
    start = F.normalize(torch.ones(8, 8), dim=1)  # one code, eight times
    quantizer.codebook.copy_(start)
    quantizer.embed_sum.copy_(start)
    data = clustered(n_clusters=8, per_cluster=16, dim=8)  # (128, 8)
    assert code_usage(torch.bincount(quantizer.assign(data), minlength=8))[1] == 1 / 8
    quantizer.train()
    for _ in range(20):
        quantizer(data[torch.randperm(len(data))])
    counts = torch.bincount(quantizer.assign(data), minlength=8)
    return (*code_usage(counts), quantizer.restarts)


def test_dead_code_restarts_revive_unused_codes():
    perplexity, usage, restarts = usage_after_training(threshold=1.0)
    assert restarts > 0 and usage == 1.0 and perplexity > 4.0
    perplexity, usage, restarts = usage_after_training(threshold=0.0)  # restarts off
    assert restarts == 0 and usage <= 0.5 and perplexity < 4.0


def test_collapsed_codebook_is_detected_and_said(make_pretrain_study, tiny_backbone, tmp_path,
                                                 caplog):
    """Constant epochs: every patch takes the same code, whatever the restarts do."""
    torch.set_num_threads(1)
    study = make_pretrain_study("constant", constant=True)
    cfg = PretrainConfig(
        method="codebook", tokenizer_epochs=2, epochs=1, batch_size=16,
        codebook={"size": 4, "dim": 4, "hidden": 16, "collapse_perplexity": 1.5},
    )
    with caplog.at_level(logging.WARNING, logger="pipeline.pretrain"):
        summary = pretrain_study(cfg, tiny_backbone, study["preprocessed"], tmp_path / "out")
    assert summary["collapsed"] is True and summary["perplexity"] < 1.5
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("codebook collapsed" in r.getMessage() for r in warnings)
    written = json.loads((tmp_path / "out" / "pretrain.json").read_text())
    assert written["collapsed"] is True and written["usage"] == pytest.approx(0.25)
    assert (tmp_path / "out" / "codebook_usage.png").stat().st_size > 1000


def test_healthy_codebook_is_not_collapsed(make_pretrain_study, tiny_backbone, tmp_path, caplog):
    torch.set_num_threads(1)
    study = make_pretrain_study("study")
    cfg = PretrainConfig(
        method="codebook", tokenizer_epochs=3, epochs=1, batch_size=16,
        codebook={"size": 8, "dim": 4, "hidden": 16, "collapse_perplexity": 2.0},
    )
    with caplog.at_level(logging.WARNING, logger="pipeline.pretrain"):
        summary = pretrain_study(cfg, tiny_backbone, study["preprocessed"], tmp_path / "out")
    assert summary["collapsed"] is False and summary["perplexity"] >= 2.0
    assert 0 < summary["usage"] <= 1
    assert not any("collapsed" in r.getMessage() for r in caplog.records)


def test_collapse_threshold_must_be_reachable():
    with pytest.raises(ValueError, match=r"collapse_perplexity=10.0 with size=4"):
        PretrainConfig(codebook={"size": 4, "collapse_perplexity": 10.0})
