"""The eegmmidb study: EEG Motor Movement/Imagery runs as BIDS, fists vs feet decoded by CSP."""

from __future__ import annotations

import json

import mne_bids
import pandas as pd
import pytest

from pipeline.config import parse_section
from pipeline.errors import DataError, ParamsError
from pipeline.evaluation.crossval import crossval
from pipeline.evaluation.crossval_options import CrossvalConfig
from pipeline.preprocess.montage import standard_montage
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study
from pipeline.studies import generate_study
from pipeline.studies.options import StudyConfig

STEPS = [{"fn": "pick", "kwargs": {"types": ["eeg"]}}, {"fn": "check_montage"},
         {"fn": "filter", "kwargs": {"l_freq": 7.0, "h_freq": 30.0}},
         {"fn": "epoch", "kwargs": {"tmin": 0.5, "tmax": 2.5}}]


@pytest.fixture(scope="module")
def eegmmidb(shared_data, tmp_path_factory):
    """The imagery runs 6, 10, 14 of subject 1, generated once."""
    out = tmp_path_factory.mktemp("eegmmidb") / "raw"
    generate_study(StudyConfig(name="eegmmidb", options={
        "eegmmidb": {"path": str(shared_data / "eegmmidb_S001")}}), out)
    return out


def test_eegmmidb_writes_bids_eeg_with_fists_and_feet(eegmmidb):
    paths = mne_bids.find_matching_paths(eegmmidb, datatypes="eeg", suffixes="eeg",
                                         extensions=".vhdr")
    assert sorted(int(path.run) for path in paths) == [6, 10, 14]
    assert {path.task for path in paths} == {"imagery"}
    raw = mne_bids.read_raw_bids(paths[0], verbose=False)
    montage = standard_montage("standard_1005")
    assert len(raw.ch_names) == 64 and set(raw.ch_names) <= set(montage.ch_names)
    assert {"FC5", "Cz", "Iz"} <= set(raw.ch_names)
    assert raw.info["sfreq"] == 160.0
    descriptions = pd.Series(raw.annotations.description).value_counts().to_dict()
    assert set(descriptions) == {"fists", "feet"} and sum(descriptions.values()) == 15
    stimuli = pd.read_csv(eegmmidb / "stimuli" / "stimuli.tsv", sep="\t")
    assert list(stimuli["stimulus_id"]) == ["fists", "feet"]
    assert stimuli["caption"].str.contains("fists|feet").all()
    assert "ODC-By 1.0" in (eegmmidb / "README").read_text()
    assert json.loads((eegmmidb / "dataset_description.json").read_text())["License"] == \
        "ODC-By-1.0"


def test_eegmmidb_options_are_checked(tmp_path):
    with pytest.raises(ParamsError, match=r"runs: got runs \[3, 6\]; expected distinct runs "
                                          r"among \[5, 6, 9, 10, 13, 14\]"):
        parse_section(StudyConfig, {"name": "eegmmidb", "options": {"eegmmidb": {"runs": [3, 6]}}})
    with pytest.raises(DataError, match=r"does not exist; expected EDF files .*S001R06\.edf"):
        generate_study(StudyConfig(name="eegmmidb", options={
            "eegmmidb": {"path": str(tmp_path / "none")}}), tmp_path / "raw")


def test_imagined_fists_vs_feet_with_csp_five_fold(eegmmidb, tmp_path):
    out = tmp_path / "pre"
    out.mkdir()
    summary = preprocess_study(PreprocessConfig(montage="standard_1005", steps=STEPS),
                               eegmmidb, out)
    assert summary["n_trials"]["train"] == 45
    cfg = CrossvalConfig(folds="stratified", n_folds=5, blocks=None, encoders={},
                         baselines={"csp": {}}, n_bootstrap=200)
    metrics = crossval(cfg, out, None, tmp_path / "metrics.json", tmp_path / "plots")
    csp = metrics["baselines"]["csp"]
    assert metrics["ci"] == "percentile bootstrap over trials" and csp["block"] is None
    assert csp["trial"]["accuracy"] >= 0.9 and csp["above_chance"]  # README: about 0.98


@pytest.fixture(scope="module")
def scaled_imagery(eegmmidb, tmp_path_factory):
    """The imagery runs preprocessed with robust scaling, and their MiniLM class latents."""
    from pipeline.targets.compute import compute_targets
    from pipeline.targets.options import TargetsConfig

    root = tmp_path_factory.mktemp("scaled_imagery")
    out, targets = root / "pre", root / "targets"
    out.mkdir()
    steps = [*STEPS, {"fn": "robust_scale", "kwargs": {"clamp": 20.0}}]
    preprocess_study(PreprocessConfig(montage="standard_1005", steps=steps), eegmmidb, out)
    compute_targets(TargetsConfig(name="minilm"), eegmmidb, targets)
    return out, targets


def test_riemann_encoder_on_imagery_is_near_the_tangent_space_classifier(scaled_imagery,
                                                                         tmp_path):
    out, targets = scaled_imagery
    cfg = CrossvalConfig(folds="stratified", n_folds=5, blocks=None, zscore_by_run=False,
                         encoders={"riemann": {}}, baselines={"tangent": {}}, n_bootstrap=200)
    metrics = crossval(cfg, out, targets, tmp_path / "metrics.json", tmp_path / "plots")
    riemann, tangent = metrics["encoders"]["riemann"], metrics["baselines"]["tangent"]
    assert riemann["above_chance"] and riemann["trial"]["accuracy"] >= 0.85  # docs: 0.911
    assert riemann["trial"]["accuracy"] >= tangent["trial"]["accuracy"] - 0.05
    assert all(choice["selection"] == "inner val_rank, mean of 5"
               for choice in riemann["selected"])


def test_spoc_encoder_on_imagery_is_within_five_points_of_csp(scaled_imagery, tmp_path):
    out, targets = scaled_imagery
    cfg = CrossvalConfig(folds="stratified", n_folds=5, blocks=None, zscore_by_run=False,
                         encoders={"spoc": {}}, baselines={"csp": {}}, n_bootstrap=200)
    metrics = crossval(cfg, out, targets, tmp_path / "metrics.json", tmp_path / "plots")
    spoc, csp = metrics["encoders"]["spoc"], metrics["baselines"]["csp"]
    assert spoc["above_chance"] and spoc["trial"]["accuracy"] >= csp["trial"]["accuracy"] - 0.05
    # alpha and epoch chosen on each fold's inner validation trials, never on its test trials
    assert all({"init_alpha", "best_epoch", "init_val_rank"} <= set(choice)
               for choice in spoc["selected"])
