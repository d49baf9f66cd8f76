"""The ``joint`` target: image-text heads fitted on the training pairs only.

The fast tests put the simulator latents under the image head and a hashed bag of words in
place of MiniLM (loading MiniLM and EfficientNet takes longer than a test should); the slow
test runs the default inputs.
"""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from pipeline.errors import DataError
from pipeline.targets import joint as joint_module
from pipeline.targets.compute import compute_targets
from pipeline.targets.joint import load_joint_space
from pipeline.targets.options import TargetsConfig

FAST = {"image_features": "simulator", "dim": 8, "max_epochs": 60, "patience": 10}


def hashed_words(texts: list[str], dim: int = 64) -> np.ndarray:
    """A caption embedding that depends on its own words only (no shared vocabulary)."""
    out = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        for word in text.split():
            out[row, zlib.crc32(word.encode()) % dim] += 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-6)


@pytest.fixture(autouse=True)
def fake_minilm(monkeypatch):
    monkeypatch.setattr(joint_module, "minilm_caption_embeddings",
                        lambda cfg, folder, stimuli: hashed_words(stimuli["caption"].tolist()))
    monkeypatch.setattr(joint_module, "embed_texts", hashed_words)


def run_joint(raw: Path, out: Path, **options) -> dict:
    cfg = TargetsConfig(name="joint", options={"joint": {**FAST, **options}})
    return compute_targets(cfg, raw, out)


def test_joint_writes_unit_norm_image_and_text_latents_and_heads(simulated_raw, tmp_path):
    info = run_joint(simulated_raw, tmp_path)
    latents = np.load(tmp_path / "latents.npy")
    text = np.load(tmp_path / "text_latents.npy")
    assert latents.shape == text.shape == (64, 8)
    np.testing.assert_allclose(np.linalg.norm(latents, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)
    written = json.loads((tmp_path / "info.json").read_text())
    assert written["text_dim"] == 8 and "image.1.weight" in written["weights"]
    assert written["joint"]["n_train"] == 48 and written["joint"]["n_val"] == 8
    assert 1 <= written["joint"]["best_epoch"] <= written["joint"]["epochs"] <= 60
    assert info["joint"] == written["joint"]
    curves = pd.read_csv(tmp_path / "history.csv")  # one row per epoch run
    assert curves["epoch"].tolist() == list(range(1, written["joint"]["epochs"] + 1))
    assert curves["val_loss"].min() == pytest.approx(written["joint"]["val_loss"], abs=1e-6)
    # the heads read back reproduce both sides from the inputs
    space = load_joint_space(tmp_path)
    table = pd.read_csv(tmp_path / "stimuli.tsv", sep="\t")
    image_features = np.load(simulated_raw / "stimuli" / "latents.npy")
    np.testing.assert_allclose(space.embed_image_features(image_features), latents, atol=1e-5)
    np.testing.assert_allclose(space.embed_texts(table["caption"].tolist()), text, atol=1e-5)


def test_joint_pairs_test_images_with_their_captions(simulated_raw, tmp_path):
    run_joint(simulated_raw, tmp_path)
    table = pd.read_csv(tmp_path / "stimuli.tsv", sep="\t")
    test = np.flatnonzero(table["split"] == "test")
    image, text = np.load(tmp_path / "latents.npy"), np.load(tmp_path / "text_latents.npy")
    scores = image[test] @ text[test].T  # (8, 8)
    top1 = np.mean(scores.argmax(axis=1) == np.arange(len(test)))
    assert top1 >= 0.5  # chance 1/8


def test_joint_is_deterministic_and_seeded(simulated_raw, tmp_path):
    run_joint(simulated_raw, tmp_path / "a")
    run_joint(simulated_raw, tmp_path / "b")
    run_joint(simulated_raw, tmp_path / "c", seed=1)
    first, again = (load_file(str(tmp_path / n / "weights.safetensors")) for n in "ab")
    assert first.keys() == again.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "latents.npy"),
                                  np.load(tmp_path / "b" / "latents.npy"))
    other = load_file(str(tmp_path / "c" / "weights.safetensors"))
    assert not np.allclose(first["image.1.weight"], other["image.1.weight"])


def test_joint_heads_ignore_test_captions_and_images(simulated_raw, tmp_path):
    run_joint(simulated_raw, tmp_path / "a")
    changed = tmp_path / "changed"
    shutil.copytree(simulated_raw, changed)
    table = pd.read_csv(changed / "stimuli" / "stimuli.tsv", sep="\t")
    test = table["split"] == "test"
    table.loc[test, "caption"] = "an invisible striped teapot under water"
    table.to_csv(changed / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    image_features = np.load(changed / "stimuli" / "latents.npy")
    image_features[test.to_numpy()] = np.random.default_rng(0).normal(size=(test.sum(), 19))
    np.save(changed / "stimuli" / "latents.npy", image_features)
    run_joint(changed, tmp_path / "b")
    heads, again = (load_file(str(tmp_path / n / "weights.safetensors")) for n in "ab")
    for key in heads:
        np.testing.assert_array_equal(heads[key], again[key])
    for name in ("latents.npy", "text_latents.npy"):
        before, after = np.load(tmp_path / "a" / name), np.load(tmp_path / "b" / name)
        np.testing.assert_array_equal(before[~test.to_numpy()], after[~test.to_numpy()])
        assert not np.allclose(before[test.to_numpy()], after[test.to_numpy()])


def test_joint_needs_validation_stimuli(simulated_raw, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(simulated_raw, raw)
    table = pd.read_csv(raw / "stimuli" / "stimuli.tsv", sep="\t")
    table["split"] = table["split"].replace("val", "train")
    table.to_csv(raw / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    with pytest.raises(DataError, match=r"found 56 train and 0 val stimuli; target 'joint'"):
        run_joint(raw, tmp_path / "out")


def test_joint_options_are_validated():
    with pytest.raises(ValueError, match=r"targets\.options\.joint\.image_features: got 'joint'"):
        TargetsConfig(options={"joint": {"image_features": "joint"}})
    with pytest.raises(ValueError, match=r"unknown target 'clip'"):
        TargetsConfig(options={"joint": {"image_features": "clip"}})
    with pytest.raises(ValueError, match=r"targets\.options\.joint\.dims: unknown key"):
        TargetsConfig(options={"joint": {"dims": 8}})


@pytest.mark.slow
def test_joint_default_inputs_efficientnet_and_minilm(simulated_raw, tmp_path, monkeypatch):
    monkeypatch.undo()  # the real MiniLM
    cfg = TargetsConfig(name="joint", options={"joint": {"dim": 16, "max_epochs": 20}})
    info = compute_targets(cfg, simulated_raw, tmp_path)
    assert info["joint"]["n_image"] == 1280 and info["joint"]["n_text"] == 384
    assert np.load(tmp_path / "text_latents.npy").shape == (64, 16)
