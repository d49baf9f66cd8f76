"""The ``minilm`` target: packaged all-MiniLM-L6-v2 embeddings of stimulus captions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.targets.base import TARGETS
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig

CAPTIONS = {
    "face": "a photograph of a human face",
    "portrait": "a picture of a person's face",
    "house": "a photograph of a house",
    "noise": "a scrambled image of random pixels",
}


def write_captions(raw, captions):
    """Write raw/stimuli/stimuli.tsv with one row per caption (no images)."""
    (raw / "stimuli").mkdir(parents=True)
    pd.DataFrame({
        "stimulus_id": list(captions), "split": "train", "image": "n/a",
        "caption": list(captions.values()),
    }).to_csv(raw / "stimuli" / "stimuli.tsv", sep="\t", index=False)


def test_minilm_is_registered():
    assert "minilm" in TARGETS
    assert TargetsConfig(name="minilm").name == "minilm"


def test_minilm_embeds_captions_unit_norm_and_by_meaning(tmp_path):
    write_captions(tmp_path / "raw", CAPTIONS)
    info = compute_targets(TargetsConfig(name="minilm", batch_size=3), tmp_path / "raw",
                           tmp_path / "out")
    assert info == {"name": "minilm", "dim": 384, "n_stimuli": 4}
    latents = np.load(tmp_path / "out" / "latents.npy")  # (4, 384)
    assert latents.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(latents, axis=1), 1.0, atol=1e-5)
    similarity = latents @ latents.T  # (4, 4), rows in CAPTIONS order
    face, portrait, house, noise = range(4)
    assert similarity[face, portrait] > similarity[face, house] + 0.1
    assert similarity[face, portrait] > similarity[face, noise] + 0.1
    assert similarity[face, house] < 0.99
    again = compute_targets(TargetsConfig(name="minilm"), tmp_path / "raw", tmp_path / "again")
    assert again["dim"] == 384
    np.testing.assert_allclose(np.load(tmp_path / "again" / "latents.npy"), latents, atol=1e-5)


def test_minilm_names_stimuli_without_caption(tmp_path):
    write_captions(tmp_path / "raw", {"face": "a photograph of a human face", "blank": " "})
    with pytest.raises(DataError, match=r"stimuli\.tsv: stimuli \['blank'\] have no caption"):
        compute_targets(TargetsConfig(name="minilm"), tmp_path / "raw", tmp_path / "out")
