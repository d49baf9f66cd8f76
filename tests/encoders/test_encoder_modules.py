"""Every registered encoder: construction, output shape, options; conv internals."""

from __future__ import annotations

import pytest
import torch

from pipeline.encoders import ENCODERS
from pipeline.encoders.conv import ConvEncoder, project_positions
from pipeline.encoders.options import BaselineConfig, EncoderConfig
from pipeline.errors import ParamsError

SMALL_CONV = {"hidden_channels": 8, "depth": 2, "spatial_channels": 6, "n_fourier": 3}


@pytest.mark.parametrize("name", ENCODERS.names())
def test_every_encoder_gives_batch_by_outputs(name, signal):
    torch.manual_seed(0)
    encoder = ENCODERS.get(name)(**signal)
    x = torch.randn(5, signal["n_chans"], signal["n_times"])  # (B, C, T)
    subject = torch.tensor([0, 1, 0, 1, 1])
    encoder.eval()
    out = encoder(x, subject)
    assert out.shape == (5, signal["n_outputs"])
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ENCODERS.names())
def test_unknown_option_names_encoder_option_and_allowed(name, signal):
    with pytest.raises(ParamsError, match=rf"{name}.*'bogus'.*expected one of") as info:
        ENCODERS.get(name)(**signal, bogus=1)
    allowed = ENCODERS.get(name).Options.model_fields
    assert all(option in str(info.value) for option in allowed)


def test_bad_option_value_is_params_error(signal):
    with pytest.raises(ParamsError, match=r"conv.*'depth'.*got 0"):
        ConvEncoder(**signal, depth=0)


def test_configs_validate_encoder_options():
    with pytest.raises(ValueError, match="unknown option 'bogus'"):
        EncoderConfig(name="conv", options={"conv": {"bogus": 1}})
    with pytest.raises(ValueError, match="unknown option 'deph'; expected one of .*; did you "
                                         "mean 'depth'"):
        EncoderConfig(name="conv", options={"conv": {"deph": 1}})
    with pytest.raises(ValueError, match="unknown option 'depth'"):
        BaselineConfig(encoder="ridge", options={"depth": 2})
    assert EncoderConfig(options={"ridge": {"alphas": [1.0]}}).kwargs("ridge") == {"alphas": [1.0]}


def test_conv_spatial_attention_sums_to_one_over_sensors(signal):
    torch.manual_seed(0)
    encoder = ConvEncoder(**signal, **SMALL_CONV)
    weights = encoder.spatial.weights()  # (S, C)
    assert weights.shape == (6, signal["n_chans"])
    assert torch.all(weights >= 0)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(6))
    keep = encoder.spatial.dropout_mask(4)  # (B, C)
    masked = encoder.spatial.weights(keep)  # (B, S, C)
    torch.testing.assert_close(masked.sum(dim=2), torch.ones(4, 6))
    assert torch.all(masked[~keep[:, None, :].expand_as(masked)] == 0)


def test_conv_spatial_dropout_drops_a_disc_but_never_all_sensors(signal):
    torch.manual_seed(0)
    encoder = ConvEncoder(**signal, **SMALL_CONV, spatial_dropout=0.5)
    keep = encoder.spatial.dropout_mask(200)
    assert keep.any(dim=1).all()
    assert (~keep).any()
    layout = project_positions(signal["chs_pos"])
    assert layout.min() >= 0.1 - 1e-9 and layout.max() <= 0.9 + 1e-9


def test_conv_subject_layer_changes_output_by_subject(signal):
    torch.manual_seed(0)
    encoder = ConvEncoder(**signal, **SMALL_CONV).eval()
    x = torch.randn(1, signal["n_chans"], signal["n_times"]).expand(2, -1, -1)  # same trial
    out = encoder(x, torch.tensor([0, 1]))
    assert not torch.allclose(out[0], out[1], atol=1e-4)
    same = encoder(x, torch.tensor([1, 1]))
    torch.testing.assert_close(same[0], same[1])


def test_conv_is_trainable_end_to_end(signal):
    torch.manual_seed(0)
    encoder = ConvEncoder(**signal, **SMALL_CONV)
    x = torch.randn(4, signal["n_chans"], signal["n_times"])
    encoder(x, torch.tensor([0, 1, 0, 1])).square().mean().backward()
    for name in ("spatial.heads", "subject_layer.weight", "head.2.weight"):
        grad = dict(encoder.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


@pytest.mark.parametrize(("name", "sign_invariant"), [("shallow", True), ("eegnet", False)])
def test_shallow_decodes_power_and_eegnet_the_waveform(name, sign_invariant, signal):
    torch.manual_seed(0)
    encoder = ENCODERS.get(name)(**signal).eval()
    if name == "shallow":  # the temporal bias shifts the signal before squaring
        torch.nn.init.zeros_(encoder.temporal.bias)
    x = torch.randn(4, signal["n_chans"], signal["n_times"])  # (B, C, T)
    subject = torch.zeros(4, dtype=torch.long)
    same = torch.allclose(encoder(x, subject), encoder(-x, subject), atol=1e-5)
    assert same is sign_invariant


def test_shallow_rejects_a_kernel_longer_than_the_epoch(signal):
    with pytest.raises(ParamsError, match=r"shallow.*filter_time_length 50 exceeds.*20 samples"):
        ENCODERS.get("shallow")(**signal, filter_time_length=50)
