"""run_steps never modifies the recording it is given; steps copy only data they do not own."""

import dataclasses

import numpy as np
from preprocess_fixtures import build_raw

from pipeline.preprocess.step import STEPS, plan_steps, run_steps


def test_run_steps_leaves_the_recording_untouched(shipped_cfg, context):
    raw = build_raw(seed=3, duration=12.0, noisy="C3")
    before, bads, annotations = raw.get_data(), list(raw.info["bads"]), raw.annotations.copy()
    epochs, found = run_steps(plan_steps(shipped_cfg.steps), raw, context(raw))
    assert np.array_equal(raw.get_data(), before)
    assert raw.info["bads"] == bads and raw.info["sfreq"] == 250.0
    assert list(raw.annotations.description) == list(annotations.description)
    assert "C3" in found and len(epochs) > 0


def test_steps_work_in_place_only_on_owned_data(context):
    raw = build_raw(seed=4, duration=10.0)
    given = context(raw)
    owned = dataclasses.replace(given, owns_data=True)
    notch = STEPS.get("notch").fn
    assert notch(raw, given, freqs=[50.0]) is not raw
    copy = raw.copy()
    assert notch(copy, owned, freqs=[50.0]) is copy
    assert not np.array_equal(copy.get_data(), raw.get_data())
