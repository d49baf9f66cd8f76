"""Fixtures of the preprocess tests: tiny BIDS studies and the shipped preprocess params."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import mne
import pytest
import yaml
from preprocess_fixtures import build_raw, step_context, write_bids

from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.step import StepContext
from pipeline.preprocess.study import preprocess_study


@pytest.fixture(scope="session")
def make_raw() -> Callable[..., mne.io.RawArray]:
    return build_raw


@pytest.fixture(scope="session")
def make_study() -> Callable[..., Path]:
    return write_bids


@pytest.fixture(scope="session")
def context() -> Callable[[mne.io.BaseRaw], StepContext]:
    return step_context


@pytest.fixture(scope="session")
def shipped_cfg() -> PreprocessConfig:
    """The preprocess section of the project's params.yaml."""
    params = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    return PreprocessConfig.model_validate(params["preprocess"])


@pytest.fixture(scope="session")
def study(tmp_path_factory) -> Path:
    """Two subjects of 40 s; subject 02 has a noisy C3 and a flat P3."""
    return write_bids(tmp_path_factory.mktemp("raw"),
                      {"01": build_raw(seed=1), "02": build_raw(seed=2, noisy="C3", flat="P3")})


@pytest.fixture(scope="session")
def preprocessed(study, shipped_cfg, tmp_path_factory) -> tuple[dict, Path]:
    """The shipped steps run on ``study``: (summary, output directory)."""
    out = tmp_path_factory.mktemp("preprocessed")
    return preprocess_study(shipped_cfg, study, out), out


@pytest.fixture
def study_copy(study, tmp_path) -> Path:
    """A private copy of ``study`` that a test may damage."""
    return Path(shutil.copytree(study, tmp_path / "raw"))
