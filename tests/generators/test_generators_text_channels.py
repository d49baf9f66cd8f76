"""The LaVCa-style channel-caption report on a synthetic recording with a 'red' channel group."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.errors import ParamsError
from pipeline.generators.base import StimulusSet
from pipeline.generators.text.channel_captions import (
    FIGURE,
    TABLE,
    channel_captions,
    shared_words,
)
from pipeline.generators.text.prefix_lm import PrefixLM

N_TIMES = 20


def write_recording(root: Path, stimuli: StimulusSet, betas: bool = False, seed: int = 0
                    ) -> Path:
    """16 channels (or voxels) in two clusters: the left one responds only to red stimuli.

    Two repetitions per stimulus; epochs [trial, channel, time], or fMRI betas
    [trial, voxel] (the response itself, signed). Val and test trials of non-red stimuli
    carry a huge response on the left cluster, so reading any of them would make
    non-red stimuli win.
    """
    rng = np.random.default_rng(seed)
    table = stimuli.table
    rows = np.repeat(np.arange(len(table)), 2)
    red = (table["colour"].to_numpy() == "red")[rows]
    held_out = (table["split"].to_numpy() != "train")[rows]
    wave = np.sin(np.linspace(0, 2 * np.pi, N_TIMES))
    epochs = rng.normal(size=(len(rows), 16, N_TIMES)).astype(np.float32)
    epochs[:, :8] += (3.0 * red + 50.0 * (held_out & ~red))[:, None, None] * wave
    epochs[:, 8:] *= 1e-3  # another sensor type: z-scoring makes scales comparable
    pos = np.concatenate([rng.normal([-0.05, 0, 0.05], 0.005, (8, 3)),
                          rng.normal([0.05, 0, 0.05], 0.005, (8, 3))])
    out = root / "preprocessed"
    out.mkdir()
    if betas:
        np.save(out / "betas.npy", epochs[:, :, N_TIMES // 4])  # the wave's peak
    else:
        np.save(out / "epochs.npy", epochs)
    pd.DataFrame({
        "subject": "01", "session": "01", "run": 1, "stimulus_id": table["stimulus_id"][rows],
        "split": table["split"][rows], "repetition": np.tile([0, 1], len(table)), "onset": 0.0,
    }).to_csv(out / "trials.tsv", sep="\t", index=False)
    info = {"sfreq": 100.0, "tmin": 0.0, "ch_names": [f"E{i}" for i in range(16)],
            "ch_types": ["eeg"] * 16, "ch_pos": pos.tolist()}
    (out / "info.json").write_text(json.dumps(info))
    return out


@pytest.fixture(scope="module")
def generator(stimulus_set: StimulusSet) -> PrefixLM:
    torch.set_num_threads(1)
    options = PrefixLM.parse_options({"epochs": 3, "lm_width": 32, "lm_layers": 1,
                                      "mapping_hidden": 32, "prefix_length": 2})
    return PrefixLM.fit(options, stimulus_set.split("train"), stimulus_set.split("val"), seed=0)


@pytest.mark.parametrize("betas", [False, True], ids=["epochs", "betas"])
def test_red_group_reports_red(stimulus_set, generator, tmp_path, betas):
    recording = write_recording(tmp_path, stimulus_set, betas)
    sampling = PrefixLM.parse_sampling({"max_new_tokens": 12})
    table = channel_captions(recording, stimulus_set, generator, sampling, tmp_path / "report",
                             n_groups=2, top_k=5, seed=0)
    assert list(table.columns) == ["group", "n_channels", "top_stimuli", "caption", "shared_words"]
    assert table["n_channels"].tolist() == [8, 8]
    colour = stimulus_set.table.set_index("stimulus_id")["colour"]
    split = stimulus_set.table.set_index("stimulus_id")["split"]
    tops = [ids.split(",") for ids in table["top_stimuli"]]
    assert all(len(ids) == 5 and (split[ids] == "train").all() for ids in tops)
    red_group = int(np.argmax([(colour[ids] == "red").sum() for ids in tops]))
    assert (colour[tops[red_group]] == "red").all()
    assert table.loc[red_group, "shared_words"].startswith("red (5/5")
    assert all(isinstance(c, str) for c in table["caption"])
    written = pd.read_csv(tmp_path / "report" / TABLE, sep="\t")
    assert written["top_stimuli"].tolist() == table["top_stimuli"].tolist()
    assert (tmp_path / "report" / FIGURE).read_bytes()[:4] == b"\x89PNG"


def test_too_many_groups_is_a_params_error(stimulus_set, generator, tmp_path):
    recording = write_recording(tmp_path, stimulus_set)
    with pytest.raises(ParamsError, match="n_groups=17"):
        channel_captions(recording, stimulus_set, generator, PrefixLM.parse_sampling({}),
                         tmp_path / "report", n_groups=17)


def test_shared_words_are_enriched_and_frequent():
    pool = ["a red cube", "a red sphere", "a red cone", "a blue cube", "a green cone",
            "a blue sphere"]
    words = shared_words(["a red cube", "a red sphere", "a blue cube"], pool, n_words=5)
    assert words == [("cube", 2, pytest.approx(2.0)), ("red", 2, pytest.approx(4 / 3))]
    assert shared_words(["a red cube", "a red sphere", "a blue cube"], pool, n_words=1) == [
        ("cube", 2, pytest.approx(2.0))]
