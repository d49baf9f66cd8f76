"""compute_targets writes what a TargetOutput carries; target options are validated by name."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from pipeline.errors import DataError
from pipeline.targets.base import TARGETS, NoOptions, TargetOutput, options_model
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig


@pytest.fixture
def fake_target(monkeypatch):
    """Register target 'fake' for one test; it returns what ``returned["value"]`` holds."""
    returned = {}
    monkeypatch.setitem(TARGETS._entries, "fake", lambda cfg, folder, stimuli: returned["value"])
    return returned


def test_target_output_files_and_info(fake_target, simulated_raw, tmp_path):
    rng = np.random.default_rng(0)
    latents, text = rng.normal(size=(64, 3)), rng.normal(size=(64, 5))
    weights = {"head.weight": rng.normal(size=(3, 4)).astype(np.float32)}
    fake_target["value"] = TargetOutput(latents, text, weights, {"epochs": 7})
    info = compute_targets(TargetsConfig(name="fake"), simulated_raw, tmp_path)
    assert info == {"name": "fake", "dim": 3, "text_dim": 5, "weights": ["head.weight"],
                    "fake": {"epochs": 7}, "n_stimuli": 64}
    assert json.loads((tmp_path / "info.json").read_text())["fake"] == {"epochs": 7}
    np.testing.assert_allclose(np.load(tmp_path / "text_latents.npy"), text, rtol=1e-6)
    assert np.load(tmp_path / "text_latents.npy").dtype == np.float32
    np.testing.assert_array_equal(load_file(str(tmp_path / "weights.safetensors"))["head.weight"],
                                  weights["head.weight"])


def test_plain_array_writes_no_extra_files(fake_target, simulated_raw, tmp_path):
    fake_target["value"] = np.ones((64, 2))
    info = compute_targets(TargetsConfig(name="fake"), simulated_raw, tmp_path)
    assert info == {"name": "fake", "dim": 2, "n_stimuli": 64}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["info.json", "latents.npy",
                                                          "stimuli.tsv"]


def test_bad_text_latents_are_a_data_error(fake_target, simulated_raw, tmp_path):
    fake_target["value"] = TargetOutput(np.ones((64, 2)), np.ones((63, 2)))
    with pytest.raises(DataError, match=r"target 'fake' \(text side\) gave latents of shape "
                       r"\(63, 2\) \(finite: True\); expected \(64, dim\)"):
        compute_targets(TargetsConfig(name="fake"), simulated_raw, tmp_path)
    fake_target["value"] = TargetOutput(np.full((64, 2), np.nan))
    with pytest.raises(DataError, match=r"target 'fake' gave latents of shape \(64, 2\) "
                       r"\(finite: False\)"):
        compute_targets(TargetsConfig(name="fake"), simulated_raw, tmp_path)


def test_targets_without_options_reject_any_option():
    assert options_model("simulator") is NoOptions
    with pytest.raises(ValueError, match=r"targets\.options\.simulator\.layer: unknown key"):
        TargetsConfig(options={"simulator": {"layer": 3}})
    with pytest.raises(ValueError, match=r"unknown target 'clipp'"):
        TargetsConfig(options={"clipp": {}})
    assert TargetsConfig(options={"joint": {"dim": 4}}).settings("joint").dim == 4
