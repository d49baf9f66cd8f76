"""The residual MLP encoder, and every encoder on fMRI-shaped trials (voxels, 1 time point)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.encoders import ENCODERS
from pipeline.encoders.base import build_encoder, signal_args
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.train import fit_encoder

MLP = {"hidden": 64, "depth": 1, "dropout": 0.0}


def test_mlp_has_one_input_layer_per_subject(signal):
    torch.manual_seed(0)
    x = torch.randn(3, signal["n_chans"], signal["n_times"])
    encoder = ENCODERS.get("mlp")(**signal, **MLP).eval()
    zeros, ones = torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)
    first, second = encoder(x, zeros), encoder(x, ones)
    assert first.shape == (3, signal["n_outputs"]) and not torch.allclose(first, second)
    mixed = encoder(x, torch.tensor([0, 1, 0]))
    torch.testing.assert_close(mixed[[0, 2]], first[[0, 2]])
    torch.testing.assert_close(mixed[1], second[1])
    shared = ENCODERS.get("mlp")(**signal, **MLP, subject_layer=False).eval()
    torch.testing.assert_close(shared(x, zeros), shared(x, ones))
    assert shared.input.weight.shape[0] == 1


def test_mlp_learns_the_planted_relation(make_synthetic_study, tmp_path):
    study = make_synthetic_study("study")
    cfg = TrainConfig(max_epochs=8, batch_size=12, patience=8, lr=3e-3, num_threads=2)
    summary = fit_encoder("mlp", MLP, cfg, study["preprocessed"], study["targets"], tmp_path)
    assert summary["val_top1"] > 2 * summary["val_chance_top1"]


@pytest.mark.parametrize(  # riemann refuses single-sample trials (test_encoder_riemann)
    "name", [name for name in ENCODERS.names() if name != "riemann"])
def test_every_encoder_runs_on_fmri_betas(name):
    """Betas are read as (trial, voxel, 1); at TR 2 s the rate is 0.5 Hz."""
    positions = np.random.default_rng(0).uniform(-0.07, 0.07, (300, 3))  # metres, MNI-like
    encoder = build_encoder(name, signal_args(300, 1, 0.5, 7, 2, positions), {})
    x = torch.randn(4, 300, 1)
    for mode in (encoder.train, encoder.eval):
        mode()
        out = encoder(x, torch.tensor([0, 1, 0, 1]))
        assert out.shape == (4, 7) and torch.isfinite(out).all()
