"""benchmarks/simulator_effects.py: each setting is one effect over every other one off."""

import json
from argparse import Namespace

import pytest
from benchmark_scripts import import_benchmark


@pytest.fixture(scope="module")
def bench(project_root):
    """The benchmark script, imported as a module."""
    return import_benchmark(project_root, "simulator_effects")


def simulated(sections) -> dict:
    """The simulated options of the study section."""
    return json.loads(sections["study"].model_dump_json())["options"]["simulated"]


def test_settings_turn_one_effect_on_over_the_others_off(bench, project_root):
    args = Namespace(params=project_root / "params.yaml", modality="eeg", subjects=1,
                     repetitions=2, stimuli=[12, 6, 6], targets=None, max_epochs=None,
                     threads=1, n_bootstrap=None)
    base = bench.setting_sections(bench.study_sections(args), "all", 0.5)  # every effect on
    assert simulated(base)["snr"] == 0.5
    assert simulated(base)["subject_sources"] == {"position_mm": 5.0, "orientation_deg": 15.0}
    latency = simulated(bench.setting_sections(base, "latency_20ms", None))
    assert (latency["variability"]["latency_ms"], latency["variability"]["amplitude_sd"]) == (
        20.0, 0.0)
    assert (latency["induced"]["amplitude"], latency["run_drift"]["gain_sd"]) == (0.0, 0.0)
    assert latency["snr"] == 0.5  # kept from the base
    assert simulated(bench.setting_sections(base, None, 0.1))["induced"]["amplitude"] == 1.0
    off = simulated(bench.setting_sections(base, "none", None))
    assert all(value == 0.0 for key in bench.EFFECTS_OFF for value in
               (off[key][name] for name in bench.EFFECTS_OFF[key]))
