"""The ``open_clip`` target, with a tiny random-weight CLIP saved in open_clip's local layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pipeline.errors import ParamsError
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig

open_clip = pytest.importorskip("open_clip")

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16,
                   "patch_size": 8},
    "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 32, "heads": 2,
                 "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    """A random tiny CLIP, and the folder it was saved to (config + safetensors)."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY).eval()
    folder = tmp_path_factory.mktemp("tiny_clip")
    save_file(model.state_dict(), str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    return model, folder


def clip_cfg(**options) -> TargetsConfig:
    return TargetsConfig(name="open_clip", batch_size=16, options={"open_clip": options})


@torch.no_grad()
def test_open_clip_loaded_model_equals_the_saved_one(tiny_clip, simulated_raw, tmp_path):
    model, folder = tiny_clip
    info = compute_targets(clip_cfg(model=str(folder)), simulated_raw, tmp_path)
    assert info["dim"] == info["text_dim"] == 16
    assert info["open_clip"] == {"model": str(folder), "tower": "image"}
    latents, text = np.load(tmp_path / "latents.npy"), np.load(tmp_path / "text_latents.npy")
    np.testing.assert_allclose(np.linalg.norm(latents, axis=1), 1, atol=1e-5)
    table = pd.read_csv(tmp_path / "stimuli.tsv", sep="\t")
    transform = open_clip.image_transform(32, is_train=False)
    images = torch.stack([transform(Image.open(simulated_raw / "stimuli" / name).convert("RGB"))
                          for name in table["image"][:4]])
    expected = model.encode_image(images, normalize=True).numpy()
    np.testing.assert_allclose(latents[:4], expected, atol=1e-5)
    tokens = open_clip.SimpleTokenizer(context_length=24)(table["caption"][:4].tolist())
    np.testing.assert_allclose(text[:4], model.encode_text(tokens, normalize=True).numpy(),
                               atol=1e-5)


def test_open_clip_text_tower(tiny_clip, simulated_raw, tmp_path):
    _, folder = tiny_clip
    compute_targets(clip_cfg(model=f"local-dir:{folder}"), simulated_raw, tmp_path / "image")
    compute_targets(clip_cfg(model=str(folder), tower="text", text_latents=False),
                    simulated_raw, tmp_path / "text")
    assert not (tmp_path / "text" / "text_latents.npy").exists()
    np.testing.assert_allclose(np.load(tmp_path / "text" / "latents.npy"),
                               np.load(tmp_path / "image" / "text_latents.npy"), atol=1e-6)


def test_open_clip_missing_or_incomplete_folder_is_one_line(tiny_clip, simulated_raw, tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(ParamsError, match=rf"targets\.options\.open_clip\.model: folder "
                       rf"'{missing}' not found") as error:
        compute_targets(clip_cfg(model=str(missing)), simulated_raw, tmp_path / "out")
    assert "\n" not in str(error.value)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    with pytest.raises(ParamsError, match=r"lacks open_clip_config\.json or a weights file"):
        compute_targets(clip_cfg(model=str(tmp_path / "empty")), simulated_raw, tmp_path / "out")


def test_open_clip_hub_names_fail_offline_naming_the_param(simulated_raw, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # fail fast
    with pytest.raises(ParamsError, match=r"targets\.options\.open_clip\.model: could not load "
                       r"'hf-hub:nobody/tiny-clip' \(") as error:
        compute_targets(clip_cfg(model="hf-hub:nobody/tiny-clip"), simulated_raw, tmp_path)
    assert "\n" not in str(error.value)
    with pytest.raises(ParamsError, match=r"open_clip\.pretrained: got None with architecture "
                       r"'ViT-B-32'"):
        compute_targets(clip_cfg(model="ViT-B-32"), simulated_raw, tmp_path)


def test_open_clip_needs_a_model():
    with pytest.raises(ValueError, match=r"targets\.options\.open_clip\.model"):
        TargetsConfig(name="open_clip", options={"open_clip": {}}).settings()
    with pytest.raises(ValueError, match=r"targets\.options\.open_clip\.tower"):
        TargetsConfig(options={"open_clip": {"model": "x", "tower": "audio"}})
