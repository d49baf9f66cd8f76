"""preprocess_study: a BIDS root in, contract 2 (epochs.npy, trials.tsv, info.json) out."""

import numpy as np
import pandas as pd
import pytest
from preprocess_fixtures import BUMP_LATENCY, STIMULI, channel_names

from pipeline.artifacts import read_preprocessed
from pipeline.errors import DataError, ParamsError
from pipeline.evaluation.splits import assign_splits
from pipeline.io import read_json, read_tsv
from pipeline.preprocess.options import PreprocessConfig, Step
from pipeline.preprocess.recordings import SPLIT_FRACTIONS
from pipeline.preprocess.study import preprocess_study

N_TRIALS_PER_SUBJECT = 38  # one per second from 1 s to 38 s of a 40 s recording
EPOCH_ONLY = PreprocessConfig(steps=[{"fn": "epoch", "kwargs": {"tmin": 0.0, "tmax": 0.2}}])


def test_outputs_follow_the_contract(preprocessed):
    _, out = preprocessed
    assert sorted(path.name for path in out.iterdir()) == ["epochs.npy", "info.json", "trials.tsv"]
    epochs = np.load(out / "epochs.npy", mmap_mode="r")
    assert isinstance(epochs, np.memmap)
    assert epochs.dtype == np.float32
    assert epochs.shape == (2 * N_TRIALS_PER_SUBJECT, 64, 71)  # 100 Hz, -0.1..0.6 s
    assert np.all(np.isfinite(epochs))
    assert np.abs(epochs).max() <= 20.0

    trials = read_tsv(out / "trials.tsv")
    assert list(trials.columns) == ["subject", "session", "run", "stimulus_id", "split",
                                    "repetition", "onset"]
    assert len(trials) == len(epochs)
    assert trials["subject"].tolist() == ["01"] * 38 + ["02"] * 38
    assert "rest" not in set(trials["stimulus_id"])
    expected_split = trials["stimulus_id"].map(STIMULI.set_index("stimulus_id")["split"])
    assert trials["split"].tolist() == expected_split.tolist()
    first = trials[trials["subject"] == "01"]
    assert first["onset"].tolist() == pytest.approx(np.arange(1.0, 39.0))
    assert first["repetition"].tolist() == [index // 12 for index in range(38)]

    info = read_json(out / "info.json")
    assert info["sfreq"] == 100.0
    assert info["tmin"] == pytest.approx(-0.1)
    assert len(info["ch_names"]) == 64 and info["ch_types"] == ["eeg"] * 64
    positions = np.array(info["ch_pos"])  # (n_chans, 3)
    assert positions.shape == (64, 3)
    assert np.all((np.linalg.norm(positions, axis=1) > 0.05)
                  & (np.linalg.norm(positions, axis=1) < 0.2))
    assert info["subjects"] == ["01", "02"]
    assert info["bad_channels"] == {"01": [], "02": ["C3", "P3"]}
    assert info["montage"] == "standard_1020"
    assert [step["fn"] for step in info["steps"]][-3:] == ["epoch", "baseline", "robust_scale"]


def test_summary_counts_trials_and_bads(preprocessed):
    summary, _ = preprocessed
    assert summary["n_trials"] == {"train": 52, "val": 12, "test": 12}
    assert summary["bad_channels"] == {"01": [], "02": ["C3", "P3"]}
    assert summary["n_recordings"] == 2
    assert 0 < summary["seconds"] < 60


def test_evoked_bump_lands_at_its_latency(preprocessed):
    _, out = preprocessed
    epochs = np.load(out / "epochs.npy", mmap_mode="r")
    info = read_json(out / "info.json")
    times = info["tmin"] + np.arange(epochs.shape[2]) / info["sfreq"]
    evoked = epochs[:, info["ch_names"].index("Fpz")].mean(axis=0)  # (n_times,)
    assert times[np.argmax(evoked)] == pytest.approx(BUMP_LATENCY, abs=0.02)
    assert evoked.max() > 5 * np.abs(evoked[times <= 0]).max()


def test_splits_are_drawn_by_stimulus_without_a_split_column(study_copy, shipped_cfg, tmp_path):
    STIMULI[["stimulus_id"]].to_csv(study_copy / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    out = tmp_path / "out"
    out.mkdir()
    preprocess_study(shipped_cfg, study_copy, out)
    trials = read_tsv(out / "trials.tsv")
    expected = assign_splits(STIMULI["stimulus_id"], SPLIT_FRACTIONS, shipped_cfg.split_seed)
    assert trials["split"].tolist() == trials["stimulus_id"].map(expected).tolist()
    assert set(trials["split"]) == {"train", "val", "test"}


def test_no_recording_names_the_root(tmp_path, shipped_cfg):
    with pytest.raises(DataError, match="no recording found; expected a BIDS root") as info:
        preprocess_study(shipped_cfg, tmp_path / "raw", tmp_path)
    assert str(tmp_path / "raw") in str(info.value)
    assert "sub-*/<datatype>/ for one of betas, eeg, epochs, func, ieeg, meg" in str(info.value)


def test_a_datatype_the_root_lacks_is_named(study_copy, shipped_cfg, tmp_path):
    cfg = shipped_cfg.model_copy(update={"datatype": "meg"})
    with pytest.raises(DataError, match=r"no meg/ recordings \(preprocess.datatype\); found eeg"):
        preprocess_study(cfg, study_copy, tmp_path)


def test_missing_data_file_names_it(study_copy, shipped_cfg, tmp_path):
    (study_copy / "sub-02" / "eeg" / "sub-02_task-images_eeg.eeg").unlink()
    with pytest.raises(DataError, match=r"sub-02_task-images_eeg\.vhdr: cannot read") as info:
        preprocess_study(shipped_cfg, study_copy, tmp_path)
    assert "sub-02_task-images_eeg.eeg" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_stimulus_table_names_it(study_copy, shipped_cfg, tmp_path):
    (study_copy / "stimuli" / "stimuli.tsv").unlink()
    with pytest.raises(DataError, match=r"stimuli\.tsv: file not found"):
        preprocess_study(shipped_cfg, study_copy, tmp_path)


def test_unknown_split_names_it(study_copy, shipped_cfg, tmp_path):
    STIMULI.assign(split="holdout").to_csv(study_copy / "stimuli" / "stimuli.tsv", sep="\t",
                                           index=False)
    with pytest.raises(DataError, match="split holdout; expected one of train, val, test"):
        preprocess_study(shipped_cfg, study_copy, tmp_path)


def test_duplicate_stimulus_names_it(study_copy, shipped_cfg, tmp_path):
    pd.concat([STIMULI, STIMULI.iloc[[3]]]).to_csv(study_copy / "stimuli" / "stimuli.tsv",
                                                    sep="\t", index=False)
    with pytest.raises(DataError, match=r"stimuli\.tsv: duplicate stimulus_id stim0003; "
                                        r"expected one row per stimulus"):
        preprocess_study(shipped_cfg, study_copy, tmp_path)


def test_channel_outside_the_montage_gives_one_line(tmp_path, make_raw, make_study,
                                                    shipped_cfg):
    raw = make_raw(seed=3, duration=10.0)
    raw.rename_channels({"Fz": "Foo", "Cz": "X1"})
    root = make_study(tmp_path / "raw", {"01": raw})
    with pytest.raises(DataError) as info:
        preprocess_study(shipped_cfg, root, tmp_path)
    message = str(info.value)
    assert message.startswith(
        "sub-01_task-images_eeg.vhdr: channels Foo, X1 not in montage standard_1020; "
        "expected names such as Fp1, Fpz, Fp2 (retype channels that are not EEG with "
        "channel_types or a set_channel_types step"
    )
    assert "\n" not in message
    assert all(param in message for param in ("rename_channels", "preprocess.montage",
                                              "preprocess.positions: none"))


def test_a_set_channel_types_step_lets_pick_drop_auxiliary_channels(tmp_path, make_raw,
                                                                     make_study, shipped_cfg):
    raw = make_raw(seed=3, duration=10.0)
    raw.rename_channels({"Fz": "EXG1", "Cz": "EXG2", "Pz": "E"})
    root = make_study(tmp_path / "raw", {"01": raw})
    retype = Step(fn="set_channel_types", kwargs={"types": {"EXG*": "eog", "E": "misc"}})
    cfg = shipped_cfg.model_copy(update={"steps": [retype, *shipped_cfg.steps]})
    (tmp_path / "out").mkdir()
    preprocess_study(cfg, root, tmp_path / "out")
    info = read_json(tmp_path / "out" / "info.json")
    assert len(info["ch_names"]) == len(raw.ch_names) - 3
    assert not {"EXG1", "EXG2", "E"} & set(info["ch_names"])


def test_positions_none_preprocesses_channels_no_montage_knows(tmp_path, make_raw, make_study,
                                                               shipped_cfg):
    from pipeline.encoders.base import build_encoder, signal_args

    raw = make_raw(seed=3, duration=10.0)
    raw.rename_channels({name: f"ch{index}" for index, name in enumerate(raw.ch_names)})
    raw.set_montage(None)
    root = make_study(tmp_path / "raw", {"01": raw})
    steps = [step for step in shipped_cfg.steps if step.fn != "check_montage"]
    with pytest.raises(DataError, match="interpolate_bads needs channel positions"):
        (tmp_path / "unplaced").mkdir()
        preprocess_study(shipped_cfg.model_copy(update={"steps": steps, "positions": "none"}),
                         root, tmp_path / "unplaced")
    steps = [step for step in steps if step.fn != "interpolate_bads"]
    with pytest.raises(DataError, match="have no position .* preprocess.positions: none"):
        (tmp_path / "refused").mkdir()
        preprocess_study(shipped_cfg.model_copy(update={"steps": steps}), root,
                         tmp_path / "refused")
    cfg = shipped_cfg.model_copy(update={"steps": steps, "positions": "none"})
    (tmp_path / "out").mkdir()
    preprocess_study(cfg, root, tmp_path / "out")
    data = read_preprocessed(tmp_path / "out")
    assert data.info["ch_pos"] is None
    signal = signal_args(data.epochs.shape[1], data.epochs.shape[2], data.info["sfreq"], 4, 1,
                         data.info["ch_pos"])
    assert build_encoder("ridge", signal, {}) is not None
    with pytest.raises(ParamsError, match=r"encoder 'conv' places channels by their positions "
                                          r"and the preprocessed data have none"):
        build_encoder("conv", signal, {})


def test_recordings_must_end_with_the_same_channels(tmp_path, make_raw, make_study,
                                                    shipped_cfg):
    raws = {"01": make_raw(seed=4, duration=10.0), "02": make_raw(seed=5, duration=10.0)}
    raws["02"].drop_channels(["Pz"])
    root = make_study(tmp_path / "raw", raws)
    with pytest.raises(DataError, match=r"sub-02_task-images_eeg\.vhdr: channels differ from "
                                        r"sub-01_task-images_eeg\.vhdr .*missing: Pz; extra: none"):
        preprocess_study(shipped_cfg, root, tmp_path)


def test_unknown_montage_lists_the_builtin_ones(study, shipped_cfg, tmp_path):
    cfg = shipped_cfg.model_copy(update={"montage": "standard_2020"})
    with pytest.raises(ParamsError, match=r"preprocess\.montage: unknown montage 'standard_2020';"
                                          r" expected one of .*biosemi64"):
        preprocess_study(cfg, study, tmp_path)


def test_bad_step_order_fails_before_reading_data(study, tmp_path):
    cfg = PreprocessConfig(steps=[{"fn": "baseline"}, {"fn": "epoch",
                                                       "kwargs": {"tmin": -0.1, "tmax": 0.5}}])
    with pytest.raises(ParamsError, match=r"preprocess\.steps\[0\] baseline needs epochs"):
        preprocess_study(cfg, study, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_without_a_resample_step_keeps_the_recording_rate(study, tmp_path):
    summary = preprocess_study(EPOCH_ONLY, study, tmp_path)
    epochs = np.load(tmp_path / "epochs.npy", mmap_mode="r")
    assert epochs.shape == (76, 64, 51)
    assert read_json(tmp_path / "info.json")["bad_channels"] == {"01": [], "02": []}
    assert sum(summary["n_trials"].values()) == 76
    assert np.abs(epochs).max() < 1e-3  # still in volts: no scaling step


def test_positions_come_from_the_montage_when_the_recording_has_none(
        preprocessed, tmp_path, make_raw, make_study):
    raw = make_raw(seed=6, duration=5.0)
    raw.set_montage(None)
    root = make_study(tmp_path / "raw", {"01": raw})
    out = tmp_path / "out"
    out.mkdir()
    preprocess_study(EPOCH_ONLY, root, out)
    from_montage = np.array(read_json(out / "info.json")["ch_pos"])  # (n_chans, 3)
    from_recording = np.array(read_json(preprocessed[1] / "info.json")["ch_pos"])
    assert np.allclose(from_montage, from_recording, atol=1e-4)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mne_bids notes what is absent
def test_a_channel_without_any_position_is_named(tmp_path, make_raw, make_study):
    raw = make_raw(seed=7, duration=5.0, names=[*channel_names(63), "Foo"])
    root = make_study(tmp_path / "raw", {"01": raw})
    with pytest.raises(DataError, match=r"sub-01_task-images_eeg\.vhdr: channels Foo have no "
                                        r"position in the recording or in montage standard_1020"):
        preprocess_study(EPOCH_ONLY, root, tmp_path)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mne_bids notes what is absent
def test_recordings_without_trials_are_skipped_but_not_all(tmp_path, make_raw, make_study):
    quiet = make_raw(seed=8, duration=5.0)
    quiet.set_annotations(None)
    root = make_study(tmp_path / "raw", {"01": make_raw(seed=9, duration=5.0), "02": quiet})
    out = tmp_path / "out"
    out.mkdir()
    summary = preprocess_study(EPOCH_ONLY, root, out)
    assert summary["n_recordings"] == 1
    assert read_json(out / "info.json")["subjects"] == ["01"]
    root = make_study(tmp_path / "raw2", {"02": quiet})
    with pytest.raises(DataError, match=r"raw2: no trials; expected annotations whose "
                                        r"description is a stimulus_id"):
        preprocess_study(EPOCH_ONLY, root, tmp_path)
