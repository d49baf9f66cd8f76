"""The study registry and generate_study."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.io import atomic_output_dir
from pipeline.simulate.options import SimulateConfig
from pipeline.studies import STUDIES, generate_study
from pipeline.studies.options import StudyConfig


def _tiny() -> StudyConfig:
    options = {"n_subjects": 1, "stimuli": {"train": 4, "val": 2, "test": 2},
               "test_repetitions": 2, "image_size": 32, "n_sources": 4,
               "oracle": {"n_noise_epochs": 100}}
    return StudyConfig(name="simulated", options={"simulated": options})


def test_simulated_study_is_registered():
    assert "simulated" in STUDIES
    assert callable(STUDIES.get("simulated")().generate)
    assert STUDIES.get("simulated").options is SimulateConfig
    assert isinstance(_tiny().settings(), SimulateConfig)


def test_unknown_study_lists_simulated():
    with pytest.raises(ValueError, match="simulated"):
        STUDIES.get("no-such-study")
    with pytest.raises(ValidationError, match="simulated"):
        StudyConfig(name="no-such-study")
    with pytest.raises(ValidationError, match="unknown study 'nope'"):
        StudyConfig(options={"nope": {}})
    unchecked = StudyConfig.model_construct(name="nope", options={})
    with pytest.raises(ValueError, match="unknown study 'nope'; expected one of .*simulated"):
        generate_study(unchecked, "unused")


def test_generate_study_writes_the_bids_root_atomically(tmp_path):
    out = tmp_path / "data" / "raw"
    with atomic_output_dir(out) as tmp:
        generate_study(_tiny(), tmp)
    assert (out / "sub-01" / "eeg" / "sub-01_task-images_eeg.vhdr").is_file()
    assert (out / "stimuli" / "stimuli.tsv").is_file()
    assert (out / "derivatives" / "oracle" / "sub-01_oracle.npz").is_file()
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["raw"]
