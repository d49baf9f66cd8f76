"""The ``dinov2`` target, with a tiny random Dinov2Model saved with save_pretrained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pipeline.errors import ParamsError
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_dinov2(tmp_path_factory) -> tuple[torch.nn.Module, object, Path]:
    """A random tiny DINOv2, its image processor, and the folder both were saved to."""
    config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=64,
                                       image_size=28, patch_size=14)
    torch.manual_seed(0)
    model = transformers.Dinov2Model(config).eval()
    processor = transformers.BitImageProcessor(size={"shortest_edge": 32},
                                               crop_size={"height": 28, "width": 28})
    folder = tmp_path_factory.mktemp("tiny_dinov2")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model, processor, folder


def dinov2_cfg(**options) -> TargetsConfig:
    return TargetsConfig(name="dinov2", batch_size=16, options={"dinov2": options})


@torch.no_grad()
def test_dinov2_loaded_model_equals_the_saved_one(tiny_dinov2, simulated_raw, tmp_path):
    model, processor, folder = tiny_dinov2
    for pooling in ("cls", "mean", "cls_mean"):
        compute_targets(dinov2_cfg(model=str(folder), pooling=pooling), simulated_raw,
                        tmp_path / pooling)
    latents = {name: np.load(tmp_path / name / "latents.npy") for name in ("cls", "mean",
                                                                          "cls_mean")}
    assert latents["cls"].shape == latents["mean"].shape == (64, 32)
    np.testing.assert_array_equal(latents["cls_mean"], np.hstack([latents["cls"],
                                                                  latents["mean"]]))
    table = pd.read_csv(tmp_path / "cls" / "stimuli.tsv", sep="\t")
    images = [Image.open(simulated_raw / "stimuli" / name).convert("RGB")
              for name in table["image"][:4]]
    hidden = model(**processor(images=images, return_tensors="pt")).last_hidden_state
    np.testing.assert_allclose(latents["cls"][:4], hidden[:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(latents["mean"][:4], hidden[:, 1:].mean(dim=1).numpy(), atol=1e-5)


def test_dinov2_missing_folder_is_one_line(simulated_raw, tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(ParamsError, match=rf"params\.yaml targets\.options\.dinov2\.model: folder "
                       rf"'{missing}' not found") as error:
        compute_targets(dinov2_cfg(model=str(missing)), simulated_raw, tmp_path / "out")
    assert "\n" not in str(error.value)


def test_dinov2_rejects_other_models_and_missing_processor(tiny_dinov2, simulated_raw,
                                                           tmp_path):
    transformers.ViTModel(transformers.ViTConfig(
        hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
        image_size=16, patch_size=8)).save_pretrained(tmp_path / "vit")
    with pytest.raises(ParamsError, match=r"dinov2\.model: could not load .*model_type 'vit'"):
        compute_targets(dinov2_cfg(model=str(tmp_path / "vit")), simulated_raw, tmp_path / "out")
    tiny_dinov2[0].save_pretrained(tmp_path / "no_processor")
    with pytest.raises(ParamsError, match=r"dinov2\.model: could not load") as error:
        compute_targets(dinov2_cfg(model=str(tmp_path / "no_processor")), simulated_raw,
                        tmp_path / "out")
    assert "\n" not in str(error.value)
