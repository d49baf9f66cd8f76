"""A truncated or corrupted file gives one DataError line naming the file and what is wrong,
when the study is generated and when the preprocess stage reads the BIDS copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import mne_bids
import pytest

from pipeline.errors import DataError
from pipeline.preprocess.recordings import read_recording

TRUNCATED = "(truncated or incomplete|probably truncated)"
CORRUPTED = "corrupted or not in the format its name says"
MISSING = "a file it needs is missing"


def _truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _scramble_header(path: Path, n_bytes: int = 256) -> Path:
    data = bytearray(path.read_bytes())
    data[:n_bytes] = bytes((index * 37 + 11) % 256 for index in range(n_bytes))
    path.write_bytes(bytes(data))
    return path


def _copy(formats: Path, tmp_path: Path, *names: str) -> Path:
    for name in names:
        shutil.copyfile(formats / name, tmp_path / name)
    return tmp_path / names[0]


def _expect(match: str, call) -> str:
    with pytest.raises(DataError, match=match) as error:
        call()
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.fixture
def study(generate, tmp_path):
    """Generate a rawfiles study of one file into tmp_path/raw."""

    def run(path: Path, **options):
        return generate("rawfiles", {"files": [str(path)], **options}, tmp_path / "raw")

    return run


def test_truncated_fif(write_small, study):
    path = _truncate(write_small("a_raw.fif"), 0.6)
    _expect(rf"^{path}: cannot read the recording: the file is {TRUNCATED}", lambda: study(path))


def test_garbage_fif_header(write_small, study):
    path = _scramble_header(write_small("a_raw.fif"))
    _expect(rf"^{path}: cannot read the recording: the file is {CORRUPTED}", lambda: study(path))


def test_missing_and_truncated_brainvision_data(write_small, study):
    header = write_small("a.vhdr")
    data = header.with_suffix(".eeg")
    kept = data.read_bytes()
    data.unlink()
    _expect(rf"^{header}: cannot read the recording: {MISSING} \(.*a\.eeg", lambda: study(header))
    data.write_bytes(kept[: len(kept) // 2])  # markers now lie past the end of the data
    _expect(rf"^{header}: .* the data end before .* {TRUNCATED}", lambda: study(header))


def test_empty_and_unsupported_files(study, tmp_path):
    empty = tmp_path / "empty.edf"
    empty.write_bytes(b"")
    _expect(rf"^{empty}: the file is empty", lambda: study(empty))
    other = tmp_path / "notes.xyz"
    other.write_text("not a recording")
    _expect(rf"^{other}: cannot read the recording: MNE has no reader for it", lambda: study(other))


def test_truncated_edf(formats, study, tmp_path):
    path = _truncate(_copy(formats, tmp_path, "test.edf"))
    message = _expect(rf"^{path}: .* {TRUNCATED}", lambda: study(path))
    assert "header does not match the file size" in message


def test_garbage_edf_header(formats, study, tmp_path):
    path = _scramble_header(_copy(formats, tmp_path, "test.edf"))
    _expect(rf"^{path}: cannot read the recording: the file is {CORRUPTED}", lambda: study(path))


def test_missing_and_truncated_eeglab_fdt(formats, study, tmp_path):
    header = _copy(formats, tmp_path, "test_raw.set")
    _expect(rf"^{header}: cannot read the recording: {MISSING} \(.*test_raw\.fdt",
            lambda: study(header))
    _truncate(_copy(formats, tmp_path, "test_raw.fdt"))
    _expect(rf"^{header}: cannot read the recording: the file is {TRUNCATED}",
            lambda: study(header))


def test_truncated_evoked_file(formats, study, tmp_path):
    path = _truncate(_copy(formats, tmp_path, "test-ave.fif.gz"))
    _expect(rf"^{path}: cannot read the evoked file: the file is {TRUNCATED}",
            lambda: study(path))


def _bids_recording(root: Path, datatype: str, extension: str) -> mne_bids.BIDSPath:
    return mne_bids.BIDSPath(root=root, subject="01", task="rawfiles", datatype=datatype,
                             suffix=datatype, extension=extension)


def test_read_recording_names_damaged_brainvision(write_small, study):
    root = study(write_small("a_raw.fif"))  # EEG in FIF: converted to BrainVision
    path = _bids_recording(root, "eeg", ".vhdr")
    assert read_recording(path).n_times == 2000
    data = path.fpath.with_suffix(".eeg")
    _truncate(data)
    _expect(rf"^{path.fpath}: .* {TRUNCATED} \(Omitted", lambda: read_recording(path))
    data.unlink()
    _expect(rf"^{path.fpath}: cannot read the recording: {MISSING}", lambda: read_recording(path))
    _scramble_header(path.fpath)
    _expect(rf"^{path.fpath}: cannot read the recording: the file is {CORRUPTED}",
            lambda: read_recording(path))


def test_read_recording_names_damaged_copies_of_real_files(formats, study, tmp_path):
    edf = _bids_recording(study(formats / "test.edf"), "eeg", ".edf")
    _truncate(edf.fpath)
    _expect(rf"^{edf.fpath}: .* {TRUNCATED}", lambda: read_recording(edf))
    shutil.rmtree(tmp_path / "raw")
    fif = _bids_recording(study(formats / "test_elekta_3ch_raw.fif", events={1: "one"}),
                          "meg", ".fif")
    _truncate(fif.fpath, 0.9)
    _expect(rf"^{fif.fpath}: cannot read the recording: the file is {TRUNCATED}",
            lambda: read_recording(fif))
    shutil.rmtree(tmp_path / "raw")
    eeglab = _bids_recording(study(formats / "test_raw.set"), "eeg", ".set")
    eeglab.fpath.with_suffix(".fdt").unlink()
    _expect(rf"^{eeglab.fpath}: cannot read the recording: {MISSING}",
            lambda: read_recording(eeglab))
