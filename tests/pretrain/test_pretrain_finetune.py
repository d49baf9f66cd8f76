"""Training from the pretrained backbone: identical weights, frozen stays frozen, errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from pipeline.encoders.model import load_encoder
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.patch_transformer import PatchTransformer
from pipeline.encoders.pretrained import load_pretrained
from pipeline.encoders.train import fit_encoder
from pipeline.errors import DataError, ParamsError
from pipeline.io import read_tsv, write_tsv
from pipeline.pretrain.options import PretrainConfig
from pipeline.pretrain.run import pretrain_study

FAST = {"tokenizer_epochs": 1, "epochs": 2, "batch_size": 16,
        "codebook": {"size": 8, "dim": 4, "hidden": 16, "collapse_perplexity": 1.0}}


@pytest.fixture
def pretrained(make_pretrain_study, tiny_backbone, tmp_path):
    """A study and a codebook-pretrained backbone of it."""
    torch.set_num_threads(1)
    study = make_pretrain_study("study")
    out = tmp_path / "pretrained"
    pretrain_study(PretrainConfig(method="codebook", **FAST), tiny_backbone,
                   study["preprocessed"], out)
    return {**study, "dir": out, "weights": load_file(str(out / "backbone.safetensors"))}


def test_loading_copies_every_backbone_weight(pretrained, tiny_backbone):
    config = json.loads((pretrained["dir"] / "config.json").read_text())
    encoder = PatchTransformer(**{**config["signal"], "n_outputs": 4}, **config["options"])
    head = encoder.head.weight.detach().clone()
    info = load_pretrained(encoder, "patch_transformer", config["options"], pretrained["dir"],
                           freeze=False)
    assert info == {"init": "pretrained", "pretrain_method": "codebook", "frozen": False,
                    "n_pretrained_weights": len(pretrained["weights"])}
    state = encoder.state_dict()
    for key, value in pretrained["weights"].items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    torch.testing.assert_close(encoder.head.weight, head)  # the head is not pretrained
    assert all(param.requires_grad for param in encoder.parameters())


def test_frozen_backbone_stays_frozen_while_the_head_trains(pretrained, tiny_backbone, tmp_path):
    cfg = TrainConfig(init="pretrained", freeze_pretrained=True, max_epochs=3, batch_size=12,
                      lr=1e-2)
    summary = fit_encoder("patch_transformer", tiny_backbone, cfg,
                          pretrained["preprocessed"], pretrained["targets"], tmp_path / "model",
                          pretrained_dir=pretrained["dir"])
    assert summary["init"] == "pretrained" and summary["frozen"] is True
    model, _ = load_encoder(tmp_path / "model")
    state = model.encoder.state_dict()
    for key, value in pretrained["weights"].items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    config = json.loads((pretrained["dir"] / "config.json").read_text())
    torch.manual_seed(cfg.seed)  # fit_encoder builds the encoder right after seeding
    initial = PatchTransformer(**{**config["signal"], "n_outputs": 4}, **config["options"])
    assert not torch.equal(state["head.weight"], initial.head.weight)  # the head trained


def test_fine_tuned_backbone_moves_from_the_pretrained_weights(pretrained, tiny_backbone,
                                                               tmp_path):
    cfg = TrainConfig(init="pretrained", max_epochs=2, batch_size=12, patience=5)
    summary = fit_encoder("patch_transformer", tiny_backbone, cfg, pretrained["preprocessed"],
                          pretrained["targets"], tmp_path / "model",
                          pretrained_dir=pretrained["dir"])
    assert summary["frozen"] is False and summary["pretrain_method"] == "codebook"
    state = load_encoder(tmp_path / "model")[0].encoder.state_dict()
    assert not torch.equal(state["patch_embed.weight"], pretrained["weights"]["patch_embed.weight"])


def test_pretrained_init_errors(pretrained, tiny_backbone, tmp_path):
    cfg = TrainConfig(init="pretrained", max_epochs=1, batch_size=12)
    args = (pretrained["preprocessed"], pretrained["targets"], tmp_path / "model")
    with pytest.raises(ParamsError, match=r"got 'pretrained' with encoder 'conv'; expected"):
        fit_encoder("conv", {}, cfg, *args, pretrained_dir=pretrained["dir"])
    with pytest.raises(ParamsError, match=r"without a pretrained directory"):
        fit_encoder("patch_transformer", tiny_backbone, cfg, *args)
    none_dir = tmp_path / "none"
    pretrain_study(PretrainConfig(), tiny_backbone, pretrained["preprocessed"], none_dir)
    with pytest.raises(ParamsError, match=r"pretrain.json: got pretrain method 'none'"):
        fit_encoder("patch_transformer", tiny_backbone, cfg, *args, pretrained_dir=none_dir)
    other = {**tiny_backbone, "patch_seconds": 0.05}  # 4 patches instead of 2
    with pytest.raises(DataError, match=r"backbone.safetensors: time_embed has shape \(2, 16\); "
                                        r"expected \(4, 16\)"):
        fit_encoder("patch_transformer", other, cfg, *args, pretrained_dir=pretrained["dir"])
    (pretrained["dir"] / "backbone.safetensors").unlink()
    with pytest.raises(DataError, match=r"backbone.safetensors: file not found"):
        fit_encoder("patch_transformer", tiny_backbone, cfg, *args,
                    pretrained_dir=pretrained["dir"])


def test_scratch_ignores_the_pretrained_directory(pretrained, tiny_backbone, tmp_path):
    cfg = TrainConfig(max_epochs=1, batch_size=12)
    summary = fit_encoder("conv", {"hidden_channels": 4, "depth": 1, "spatial_channels": 4},
                          cfg, pretrained["preprocessed"], pretrained["targets"],
                          tmp_path / "model", pretrained_dir=tmp_path / "absent")
    assert summary["init"] == "scratch"


def test_held_out_subjects_are_neither_pretrained_on_nor_indexed(make_pretrain_study,
                                                                  tiny_backbone, tmp_path):
    """Leave-one-subject-out: subject 02's train/val trials are ``unused`` everywhere."""
    torch.set_num_threads(1)
    study = make_pretrain_study("study")
    trials = read_tsv(study["preprocessed"] / "trials.tsv")
    held = (trials["subject"] == "02") & (trials["split"] != "test")
    write_tsv(trials.assign(split=trials["split"].mask(held, "unused")),
              study["preprocessed"] / "trials.tsv")
    summary = pretrain_study(PretrainConfig(method="mae", **FAST), tiny_backbone,
                             study["preprocessed"], tmp_path / "pretrained")
    assert summary["n_trials"] == 22  # subject 01's train and val trials
    config = json.loads((tmp_path / "pretrained" / "config.json").read_text())
    assert config["subjects"] == ["01"] and config["signal"]["n_subjects"] == 1
    cfg = TrainConfig(init="pretrained", max_epochs=1, batch_size=12)
    fitted = fit_encoder("patch_transformer", tiny_backbone, cfg, study["preprocessed"],
                         study["targets"], tmp_path / "model",
                         pretrained_dir=tmp_path / "pretrained")
    assert fitted["init"] == "pretrained" and fitted["n_subjects"] == 1
