"""compute_targets: the simulator and EfficientNet-Lite0 target spaces (stage contract 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from pipeline.errors import DataError
from pipeline.targets.base import TARGETS
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig


def write_stimuli(raw: Path, n: int = 3) -> pd.DataFrame:
    """Write raw/stimuli/ with n drawn images and their table."""
    images = raw / "stimuli" / "images"
    images.mkdir(parents=True)
    shapes = [
        ("ellipse", "red", "white"), ("rectangle", "blue", "black"), ("ellipse", "green", "gray")
    ]
    rows = []
    for index in range(n):
        shape, colour, background = shapes[index % len(shapes)]
        image = Image.new("RGB", (64, 64), background)
        getattr(ImageDraw.Draw(image), shape)([12 + index, 16, 50, 52 - index], fill=colour)
        image.save(images / f"stim{index:04d}.png")
        rows.append({
            "stimulus_id": f"stim{index:04d}", "split": ["train", "val", "test"][index % 3],
            "image": f"images/stim{index:04d}.png", "caption": f"a {colour} {shape}",
            "shape": shape, "colour": colour,
        })
    table = pd.DataFrame(rows)
    table.to_csv(raw / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    return table


def test_targets_registry_lists_both_targets():
    assert {"efficientnet_lite0", "simulator"} <= set(TARGETS.names())
    with pytest.raises(ValueError, match="unknown target 'clip'; expected one of"):
        TargetsConfig(name="clip")


def test_simulator_target_reads_latents(tmp_path):
    table = write_stimuli(tmp_path / "raw")
    latents = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    np.save(tmp_path / "raw" / "stimuli" / "latents.npy", latents)
    info = compute_targets(TargetsConfig(name="simulator"), tmp_path / "raw", tmp_path / "out")
    assert info == {"name": "simulator", "dim": 5, "n_stimuli": 3}
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "latents.npy"), latents)
    written = pd.read_csv(tmp_path / "out" / "stimuli.tsv", sep="\t")
    assert list(written.columns) == ["stimulus_id", "split", "image", "caption"]
    assert list(written["stimulus_id"]) == list(table["stimulus_id"])
    info_json = json.loads((tmp_path / "out" / "info.json").read_text())
    assert info_json == {"name": "simulator", "dim": 5}


def test_simulator_target_reports_missing_or_mismatched_latents(tmp_path):
    write_stimuli(tmp_path / "raw")
    cfg = TargetsConfig(name="simulator")
    with pytest.raises(DataError, match=r"latents\.npy: file not found"):
        compute_targets(cfg, tmp_path / "raw", tmp_path / "out")
    np.save(tmp_path / "raw" / "stimuli" / "latents.npy", np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(DataError, match=r"latents\.npy: got shape \(2, 4\); expected \(3, dim\)"):
        compute_targets(cfg, tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_stimuli_table_is_reported(tmp_path):
    with pytest.raises(DataError, match=r"stimuli\.tsv: file not found"):
        compute_targets(TargetsConfig(name="simulator"), tmp_path / "raw", tmp_path / "out")


def test_efficientnet_target_features(tmp_path):
    write_stimuli(tmp_path / "raw")
    cfg = TargetsConfig(name="efficientnet_lite0", batch_size=2)
    info = compute_targets(cfg, tmp_path / "raw", tmp_path / "a")
    assert info["dim"] == 1280
    first = np.load(tmp_path / "a" / "latents.npy")
    assert first.shape == (3, 1280) and first.dtype == np.float32 and np.isfinite(first).all()
    compute_targets(cfg, tmp_path / "raw", tmp_path / "b")
    np.testing.assert_array_equal(first, np.load(tmp_path / "b" / "latents.npy"))
    unit = first / np.linalg.norm(first, axis=1, keepdims=True)
    assert unit[0] @ unit[1] < 0.99
    assert first.std(axis=0).mean() > 0


def test_efficientnet_target_names_a_missing_image(tmp_path):
    write_stimuli(tmp_path / "raw")
    (tmp_path / "raw" / "stimuli" / "images" / "stim0001.png").unlink()
    with pytest.raises(DataError, match=r"stim0001\.png: file not found"):
        compute_targets(TargetsConfig(), tmp_path / "raw", tmp_path / "out")
