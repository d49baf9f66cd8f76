"""The rawfiles study's options: validation, labels, events mapping, stimulus table."""

from __future__ import annotations

import mne_bids
import pandas as pd
import pytest

from pipeline.config import parse_section
from pipeline.errors import DataError, ParamsError
from pipeline.io import read_tsv
from pipeline.studies.options import StudyConfig
from pipeline.studies.rawfiles import RawFilesOptions, number_runs


def _annotations(root, **entities) -> pd.Series:
    path = mne_bids.BIDSPath(root=root, subject="01", task="rawfiles", datatype="eeg",
                             suffix="eeg", extension=".vhdr", **entities)
    raw = mne_bids.read_raw_bids(path, verbose=False)
    return pd.Series(raw.annotations.description).value_counts()


def test_unknown_keys_and_bad_labels_are_params_errors():
    with pytest.raises(ParamsError, match=r"rawfiles\.colour: unknown key"):
        parse_section(StudyConfig, {"name": "rawfiles",
                                "options": {"rawfiles": {"files": ["a.edf"], "colour": 1}}})
    bad = {"files": [{"path": "a.edf", "subject": "sub-01", "run": "x", "kind": "video"}]}
    with pytest.raises(ParamsError) as error:
        parse_section(StudyConfig, {"name": "rawfiles", "options": {"rawfiles": bad}})
    message = str(error.value)
    assert "files.0.subject: got 'sub-01'; expected a BIDS label" in message
    assert "files.0.run: got 'x'; expected a run number" in message
    assert "files.0.kind: unknown file kind 'video'; expected one of evoked, raw" in message
    with pytest.raises(ParamsError, match=r"got channel type\(s\) ecogg"):
        parse_section(StudyConfig, {"name": "rawfiles", "options": {"rawfiles": {
            "files": [{"path": "a.edf", "channel_types": {"eeg": "ecogg"}}]}}})


def test_options_read_numbers_as_labels_and_codes():
    options = RawFilesOptions.model_validate(
        {"files": ["a.edf", {"path": "b.edf", "subject": 2, "run": 1}],
         "events": {1: 7, "Stimulus/S  1": "face"}})
    assert (options.files[0].path, options.files[0].subject) == ("a.edf", "01")
    assert (options.files[1].subject, options.files[1].run) == ("2", "1")
    assert options.events == {1: "7", "Stimulus/S  1": "face"}  # int keys: stim-channel codes


def test_missing_files_are_named_before_anything_is_written(write_small, generate, tmp_path):
    present = write_small("present_raw.fif")
    out = tmp_path / "raw"
    with pytest.raises(DataError, match=r"missing\.edf, .*gone\.vhdr: file not found"):
        generate("rawfiles", {"files": [str(present), str(tmp_path / "missing.edf"),
                                        str(tmp_path / "gone.vhdr")]}, out)
    assert not out.exists()


def test_runs_are_numbered_where_labels_repeat():
    labels = [{"subject": "01", "session": None, "task": "t", "run": None},
              {"subject": "01", "session": None, "task": "t", "run": "1"},
              {"subject": "01", "session": None, "task": "t", "run": None},
              {"subject": "02", "session": None, "task": "t", "run": None}]
    assert [entry["run"] for entry in number_runs(labels)] == ["2", "1", "3", None]
    with pytest.raises(ParamsError, match="several recordings are sub-01_task-t_run-1; expected"):
        number_runs([labels[1], labels[1]])


def test_stim_channel_codes_and_annotations_both_name_trials(write_small, generate, tmp_path):
    files = [{"path": str(write_small("a_raw.fif")), "subject": "01"},
             {"path": str(write_small("b_raw.fif")), "subject": "01", "run": 7}]
    root = generate("rawfiles", {"files": files, "events": {1: "beep", "cue": "look"}},
                    tmp_path / "raw")
    assert _annotations(root, run="1").to_dict() == {"beep": 10, "look": 10}
    assert _annotations(root, run="7").to_dict() == {"beep": 10, "look": 10}
    table = read_tsv(root / "stimuli" / "stimuli.tsv")
    assert list(table.columns) == ["stimulus_id", "split", "image", "caption"]
    assert table["stimulus_id"].tolist() == ["beep", "look"]


def test_event_codes_without_a_stim_channel_are_an_error(write_small, generate, tmp_path):
    path = write_small("plain.vhdr")
    with pytest.raises(DataError, match=r"plain\.vhdr: no stim channel; expected one for"):
        generate("rawfiles", {"files": [str(path)], "events": {1: "beep"}}, tmp_path / "raw")
    with pytest.raises(DataError, match=r"no channel 'STI 101' \(stim_channel\)"):
        generate("rawfiles", {"files": [str(write_small("s_raw.fif"))], "events": {1: "beep"},
                              "stim_channel": "STI 101"}, tmp_path / "raw")


def test_no_trial_and_unknown_channel_types_are_errors(write_small, generate, tmp_path):
    path = str(write_small("a_raw.fif"))
    with pytest.raises(DataError, match=r"a_raw\.fif: no trial; expected annotations"):
        generate("rawfiles", {"files": [path], "events": {"nothing": "x"}}, tmp_path / "raw")
    with pytest.raises(DataError,
                       match=r"files\[\]\.channel_types key\(s\) EEG 999 match no channel"):
        generate("rawfiles", {"files": [{"path": path, "channel_types": {"EEG 999": "eog"}}]},
                 tmp_path / "raw")


def test_channel_types_choose_the_datatype(write_small, generate, tmp_path):
    path = str(write_small("a.vhdr"))
    root = generate("rawfiles", {"files": [{"path": path, "channel_types": {"eeg": "seeg",
                                                                            "Oz": "eog"}}]},
                    tmp_path / "raw")
    channels = read_tsv(root / "sub-01" / "ieeg" / "sub-01_task-rawfiles_channels.tsv")
    assert channels["type"].tolist() == ["SEEG", "SEEG", "SEEG", "EOG"]


def test_a_given_stimulus_table_and_its_images_are_mirrored(write_small, generate, tmp_path):
    folder = tmp_path / "stimuli_in"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "cue.png").write_bytes(b"png")
    pd.DataFrame({"stimulus_id": ["look", "other"], "image": ["images/cue.png", "n/a"]}).to_csv(
        folder / "table.tsv", sep="\t", index=False)
    root = generate("rawfiles", {"files": [str(write_small("a_raw.fif"))],
                                 "events": {"cue": "look"}, "stimuli": str(folder / "table.tsv")},
                    tmp_path / "raw")
    assert read_tsv(root / "stimuli" / "stimuli.tsv")["stimulus_id"].tolist() == ["look", "other"]
    assert (root / "stimuli" / "images" / "cue.png").read_bytes() == b"png"
    with pytest.raises(DataError, match=r"no trial names a stimulus_id of the table"):
        generate("rawfiles", {"files": [str(write_small("b_raw.fif"))],
                              "events": {"cue": "unlisted"}, "stimuli": str(folder / "table.tsv")},
                 tmp_path / "raw2")
