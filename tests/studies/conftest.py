"""Fixtures of the study tests: the real format files, generating a study, preprocessing."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pytest
import yaml

from pipeline.preprocess.options import PreprocessConfig
from pipeline.studies import generate_study
from pipeline.studies.options import StudyConfig


@pytest.fixture(scope="session")
def formats(shared_data) -> Path:
    """``../shared/data/formats``: one small file per format MNE reads."""
    return shared_data / "formats"


@pytest.fixture(scope="session")
def generate() -> Callable[[str, dict[str, Any], Path], Path]:
    """Generate study ``name`` with ``options`` into ``out`` (as the study stage does)."""

    def run(name: str, options: dict[str, Any], out: Path) -> Path:
        generate_study(StudyConfig(name=name, options={name: options}), out)
        return out

    return run


@pytest.fixture(scope="session")
def shipped_cfg(project_root) -> PreprocessConfig:
    """The preprocess section of the project's params.yaml."""
    params = yaml.safe_load((project_root / "params.yaml").read_text())
    return PreprocessConfig.model_validate(params["preprocess"])


def small_raw(seconds: float = 20.0, stim: bool = True) -> mne.io.RawArray:
    """Four EEG channels at 100 Hz (and a stim channel with code 1 every 2 s), one
    annotation 'cue' every 2 s from 1 s."""
    sfreq, names = 100.0, ["Fz", "Cz", "Pz", "Oz"]
    n_times = int(seconds * sfreq)
    data = 1e-5 * np.random.default_rng(0).standard_normal((len(names), n_times))
    types = ["eeg"] * len(names)
    if stim:
        codes = np.zeros((1, n_times))
        codes[0, np.arange(int(1.5 * sfreq), n_times - 10, int(2 * sfreq))] = 1
        data, names, types = np.vstack([data, codes]), [*names, "STI 014"], [*types, "stim"]
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, types), verbose=False)
    onsets = np.arange(1.0, seconds - 0.5, 2.0)
    raw.set_annotations(mne.Annotations(onsets, 0.0, ["cue"] * len(onsets)))
    return raw


@pytest.fixture
def write_small(tmp_path) -> Callable[..., Path]:
    """Write :func:`small_raw` as ``name`` in ``tmp_path`` (.fif, or .vhdr without stim)."""

    def write(name: str, **kwargs: Any) -> Path:
        path = tmp_path / name
        if path.suffix == ".vhdr":
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Encountered data in 'double' format")
                mne.export.export_raw(path, small_raw(stim=False, **kwargs), fmt="brainvision",
                                      verbose=False)
        else:
            small_raw(**kwargs).save(path, verbose=False)
        return path

    return write
