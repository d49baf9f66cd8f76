"""Stimulus parameters, captions, latents and the trial schedule."""

from __future__ import annotations

import numpy as np

from pipeline.simulate.schedule import trial_schedule
from pipeline.simulate.shapes import SHAPES
from pipeline.simulate.stimuli import (
    BACKGROUNDS,
    COLOURS,
    SIZE_RANGE,
    captions,
    latent_vectors,
    sample_parameters,
)


def test_table_columns_splits_and_ids(tiny_cfg):
    table = sample_parameters(tiny_cfg)
    for column in ("stimulus_id", "split", "image", "caption", "shape", "colour", "size", "yaw",
                   "pitch", "background"):
        assert column in table.columns
    assert table["split"].value_counts().to_dict() == {"train": 12, "val": 4, "test": 4}
    assert table["stimulus_id"].is_unique
    assert table["stimulus_id"].iloc[7] == "stim0007"
    assert table["image"].iloc[7] == "images/stim0007.png"
    assert set(table["shape"]) == set(SHAPES.names())
    assert (table["background"] != table["colour"]).all()


def test_captions_match_parameters(make_config):
    table = sample_parameters(make_config(stimuli={"train": 200, "val": 20, "test": 20}))
    for row in table.itertuples():
        words = row.caption
        assert words.startswith("a ") and words.endswith(f"on a {row.background} background")
        assert f" {row.colour} {row.shape} " in words
        size = "small" if row.size < 0.7 else "medium" if row.size < 0.85 else "large"
        assert words.split()[1] == size
        turn = "turned left" if row.yaw < -20 else "turned right" if row.yaw >= 20 else "facing"
        assert turn in words
        assert ("tilted up" in words) == (row.pitch >= 15)
        assert ("tilted down" in words) == (row.pitch < -15)


def test_caption_example():
    import pandas as pd

    table = pd.DataFrame({"shape": ["cube"], "colour": ["red"], "size": [0.95], "yaw": [-40.0],
                          "pitch": [0.0], "background": ["blue"]})
    assert captions(table) == ["a large red cube turned left on a blue background"]


def test_latents_layout(tiny_cfg):
    table = sample_parameters(tiny_cfg)
    latents, names = latent_vectors(table)
    n_shapes, n_backgrounds = len(SHAPES), len(BACKGROUNDS)
    assert latents.dtype == np.float32
    assert latents.shape == (20, n_shapes + 6 + n_backgrounds) == (20, len(names))
    np.testing.assert_array_equal(latents[:, :n_shapes].sum(1), 1)
    np.testing.assert_array_equal(latents[:, -n_backgrounds:].sum(1), 1)
    hue = latents[:, names.index("hue_cos")] ** 2 + latents[:, names.index("hue_sin")] ** 2
    np.testing.assert_allclose(hue, 1, atol=1e-6)
    assert np.all(np.abs(latents[:, names.index("size")]) <= 1)
    shape_index = [SHAPES.names().index(s) for s in table["shape"]]
    np.testing.assert_array_equal(latents[np.arange(20), shape_index], 1)
    assert set(table["colour"]) <= set(COLOURS)
    assert table["size"].between(*SIZE_RANGE).all()


def test_schedule_repeats_test_stimuli_and_shuffles_per_subject(tiny_cfg):
    table = sample_parameters(tiny_cfg)
    first = trial_schedule(table, tiny_cfg, 0)
    second = trial_schedule(table, tiny_cfg, 1)
    assert len(first) == 12 + 4 + 4 * 2
    counts = first.groupby("stimulus_id").size()
    test_ids = table.loc[table["split"] == "test", "stimulus_id"]
    assert (counts[test_ids] == 2).all()
    assert (counts.drop(test_ids) == 1).all()
    assert first["repetition"].max() == 1
    assert not np.array_equal(first["stimulus_id"], second["stimulus_id"])
    assert trial_schedule(table, tiny_cfg, 0).equals(first)
    gaps = np.diff(first["onset"])
    assert gaps.min() >= 0.9 - 1e-2 and gaps.max() <= 1.1 + 1e-2
