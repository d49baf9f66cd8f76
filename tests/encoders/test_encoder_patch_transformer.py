"""The patch transformer: patches, masking, channel and subject embeddings, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.encoders.options import TrainConfig
from pipeline.encoders.patch_transformer import PatchTransformer
from pipeline.encoders.train import fit_encoder
from pipeline.errors import ParamsError

SMALL = {"patch_seconds": 0.1, "d_model": 16, "depth": 1, "heads": 2, "dropout": 0.0,
         "n_fourier": 3}


def build(signal, **options):
    torch.manual_seed(0)
    return PatchTransformer(**signal, **{**SMALL, **options}).eval()


def test_patches_cover_the_epoch_and_zero_pad_the_tail(signal):
    encoder = build({**signal, "n_times": 25}, patch_seconds=0.1)  # 10 samples at 100 Hz
    x = torch.randn(3, signal["n_chans"], 25)
    patches = encoder.patches(x)
    assert patches.shape == (3, 3, signal["n_chans"], 10)  # (B, N, C, P)
    torch.testing.assert_close(patches[:, 1, :, :], x[:, :, 10:20])
    torch.testing.assert_close(patches[:, 2, :, :5], x[:, :, 20:])
    assert (patches[:, 2, :, 5:] == 0).all()
    assert encoder(x, torch.zeros(3, dtype=torch.int64)).shape == (3, signal["n_outputs"])


def test_masked_time_patches_hide_their_content(signal):
    encoder = build(signal, patch_seconds=0.05)  # 4 patches of 5 samples
    x = torch.randn(2, signal["n_chans"], signal["n_times"])
    subject = torch.tensor([0, 1])
    masked = torch.tensor([[False, True, False, True], [True, False, False, False]])
    changed = x.clone()
    changed[0, :, 5:10] += 10.0  # inside trial 0's masked patch 1
    changed[1, :, 0:5] -= 10.0  # inside trial 1's masked patch 0
    with torch.no_grad():
        out = encoder.contextual(encoder.embed(encoder.patches(x), subject, masked))
        out_changed = encoder.contextual(
            encoder.embed(encoder.patches(changed), subject, masked)
        )
        unmasked = encoder.contextual(encoder.embed(encoder.patches(changed), subject))
    assert out.shape == (2, 4, signal["n_chans"], SMALL["d_model"])
    torch.testing.assert_close(out, out_changed)
    assert not torch.allclose(out, unmasked)
    tokens = encoder.embed(encoder.patches(x), subject, masked)
    expected = (encoder.mask_token + encoder.channel_embedding() + encoder.time_embed[1]
                + encoder.subject_embed[0])  # (C, d)
    torch.testing.assert_close(tokens[0, 1], expected)


def test_channel_embedding_follows_sensor_positions(signal):
    a = build(signal)
    order = np.arange(signal["n_chans"])[::-1].copy()
    permuted = build({**signal, "chs_pos": np.asarray(signal["chs_pos"])[order]})
    torch.testing.assert_close(permuted.channel_embedding(), a.channel_embedding()[order])
    moved = build({**signal, "chs_pos": np.asarray(signal["chs_pos"]) * [1, -1, 1]})
    assert not torch.allclose(moved.channel_embedding(), a.channel_embedding())
    # Positions are not weights: a backbone loads into another montage of other size.
    fewer = build({**signal, "n_chans": 5, "chs_pos": np.asarray(signal["chs_pos"])[:5]})
    fewer.load_state_dict(a.state_dict())
    assert "channel_features" not in a.state_dict()


def test_subject_embedding_is_optional(signal):
    x = torch.randn(2, signal["n_chans"], signal["n_times"])
    with torch.no_grad():
        shared = build(signal, subject_embedding=False)
        assert shared.subject_embed is None
        torch.testing.assert_close(shared(x, torch.tensor([0, 0])), shared(x, torch.tensor([1, 1])))
        own = build(signal)
        assert not torch.allclose(own(x, torch.tensor([0, 0])), own(x, torch.tensor([1, 1])))


def test_heads_must_divide_the_width(signal):
    with pytest.raises(ParamsError, match=r"d_model=10, heads=4; expected heads to divide"):
        PatchTransformer(**signal, d_model=10, heads=4)


def test_patch_transformer_beats_chance_on_the_planted_study(make_synthetic_study, tmp_path):
    torch.set_num_threads(1)
    study = make_synthetic_study("study")
    cfg = TrainConfig(max_epochs=25, batch_size=12, patience=25, lr=3e-3)
    options = {**SMALL, "d_model": 32, "heads": 4}
    summary = fit_encoder("patch_transformer", options, cfg, study["preprocessed"],
                          study["targets"], tmp_path)
    assert summary["init"] == "scratch"
    assert summary["val_top1"] > 2 * summary["val_chance_top1"]
