"""decode_raw reads every format a study reads (FIF, EDF, BDF, BrainVision, EEGLAB), from a
private temporary folder that is always removed, with checked file names."""

from __future__ import annotations

import io
import stat
import tempfile
import warnings
from pathlib import Path

import mne
import numpy as np
import pytest
import scipy.io
from fastapi.testclient import TestClient

from pipeline.errors import DataError
from pipeline.serving import uploads
from pipeline.serving.app import create_app

URL = "/api/bundles/eeg/decode_raw"
WRITERS = {"EDF": ("rec.edf", "edf"), "BDF": ("rec.bdf", "bdf"),
           "BrainVision": ("rec.vhdr", "brainvision"), "EEGLAB": ("rec.set", "eeglab")}
LATENT_ATOL = {"EDF": 1e-3}  # EDF stores 16-bit samples (3.4e-4 here); the others 24 or 32 bits


@pytest.fixture(scope="module")
def client(bundle):
    return TestClient(create_app({"eeg": bundle}))


@pytest.fixture(scope="module")
def whole_seconds_raw(recording) -> mne.io.BaseRaw:
    """The tiny study's first recording cut to whole seconds (EDF stores 1-s records)."""
    raw = mne.io.read_raw_fif(io.BytesIO(recording[0]), preload=True, verbose="error")
    return raw.crop(tmax=int(raw.times[-1]) - 1 / raw.info["sfreq"])


def written_files(raw: mne.io.BaseRaw, folder: Path, name: str, fmt: str) -> dict[str, bytes]:
    """Export ``raw`` as ``folder / name`` in ``fmt``: every file written, name -> bytes."""
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export's notes on precision and annotations
        mne.export.export_raw(folder / name, raw, fmt=fmt, verbose="error")
    header = folder / name
    return {header.name: header.read_bytes(),
            **{path.name: path.read_bytes() for path in sorted(folder.iterdir())
               if path != header}}


def set_with_fdt(files: dict[str, bytes], folder: Path) -> dict[str, bytes]:
    """An EEGLAB ``.set`` holding its data, rewritten as a ``.set`` naming a ``.fdt`` file."""
    folder.mkdir()
    mat = scipy.io.loadmat(io.BytesIO(files["rec.set"]))
    data = np.asarray(mat.pop("data"), dtype="<f4")  # (channel, time), µV
    fields = {key: value for key, value in mat.items() if not key.startswith("__")}
    scipy.io.savemat(folder / "rec.set", {**fields, "data": "rec.fdt"}, appendmat=False)
    return {"rec.set": (folder / "rec.set").read_bytes(),
            "rec.fdt": data.T.tobytes()}  # EEGLAB's .fdt: time-major float32


@pytest.fixture(scope="module")
def uploads_by_format(whole_seconds_raw, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """The same recording in each format: the recording (or header) first, then companions."""
    root = tmp_path_factory.mktemp("formats")
    fif = root / "rec_raw.fif"
    whole_seconds_raw.save(fif, verbose="error")
    written = {"FIF": {fif.name: fif.read_bytes()}}
    for label, (name, fmt) in WRITERS.items():
        written[label] = written_files(whole_seconds_raw, root / fmt, name, fmt)
    written["EEGLAB + .fdt"] = set_with_fdt(written["EEGLAB"], root / "fdt")
    return written


def multipart(files: dict[str, bytes], events: bytes) -> list[tuple[str, tuple[str, bytes]]]:
    """The parts of a decode_raw request: the first file as recording, the others companions."""
    (name, payload), *others = files.items()
    return [("recording", (name, payload)),
            *(("companions", (other, data)) for other, data in others),
            ("events", ("events.tsv", events))]


def post(client, files: dict[str, bytes], events: bytes, subject: str | None = None):
    return client.post(URL, files=multipart(files, events),
                       data={"latents": "true", "k": "1", **({"subject": subject} if subject
                                                            else {})})


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The folder the app makes its temporary folders in during a test (empty before)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def seen_folders(monkeypatch) -> list[tuple[Path, int, list[str]]]:
    """Each folder MNE read a recording from: its path, mode and files, while it existed."""
    seen, read_raw = [], mne.io.read_raw

    def recording_read_raw(path, **kwargs):
        folder = Path(path).parent
        seen.append((folder, stat.S_IMODE(folder.stat().st_mode),
                     sorted(p.name for p in folder.iterdir())))
        return read_raw(path, **kwargs)

    monkeypatch.setattr(uploads.mne.io, "read_raw", recording_read_raw)
    return seen


@pytest.mark.parametrize("label", ["EDF", "BDF", "BrainVision", "EEGLAB", "EEGLAB + .fdt"])
def test_every_format_decodes_as_the_same_recording_in_fif(
        client, recording, uploads_by_format, label, private_tmp, seen_folders):
    _, events_tsv, subject, _ = recording
    reference = post(client, uploads_by_format["FIF"], events_tsv, subject)
    response = post(client, uploads_by_format[label], events_tsv, subject)
    assert reference.status_code == 200 and response.status_code == 200, response.text
    mine, fif = response.json(), reference.json()
    assert len(fif["trials"]) > 10
    assert [t["stimulus_id"] for t in mine["trials"]] == [t["stimulus_id"] for t in fif["trials"]]
    np.testing.assert_allclose([t["onset"] for t in mine["trials"]],
                               [t["onset"] for t in fif["trials"]], atol=1e-9)
    np.testing.assert_allclose(mine["latents"], fif["latents"], rtol=0,
                               atol=LATENT_ATOL.get(label, 1e-5))
    folder, mode, names = seen_folders[-1]
    assert mode == 0o700 and names == sorted(uploads_by_format[label])
    assert folder.parent == private_tmp and not any(private_tmp.iterdir())


def test_a_part_without_extension_is_read_as_fif(client, recording, private_tmp, seen_folders):
    fif, events_tsv, _, _ = recording
    response = client.post(URL, files={"recording": ("upload", fif), "events": events_tsv})
    assert response.status_code == 200, response.text
    assert seen_folders[-1][2] == ["upload.fif"] and not any(private_tmp.iterdir())


def test_file_names_are_reduced_to_their_last_component(
        client, recording, uploads_by_format, tmp_path, private_tmp, seen_folders):
    brainvision = uploads_by_format["BrainVision"]
    files = {"../rec.vhdr": brainvision["rec.vhdr"], "../../rec.vmrk": brainvision["rec.vmrk"],
             "..\\rec.eeg": brainvision["rec.eeg"]}
    response = post(client, files, recording[1])
    assert response.status_code == 200, response.text
    assert seen_folders[-1][2] == ["rec.eeg", "rec.vhdr", "rec.vmrk"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["tmp"]


@pytest.mark.parametrize(("filename", "name"), [
    ("../x.vhdr", "x.vhdr"), ("../../a/b/x.vhdr", "x.vhdr"), ("/etc/x.edf", "x.edf"),
    ("C:\\data\\x.edf", "x.edf"), ("sub-01_task-a (2).EDF", "sub-01_task-a (2).EDF"),
    ("", ""), (None, ""), ("upload", "upload"),
])
def test_safe_names_are_the_last_component(filename, name):
    assert uploads.safe_name(uploads.Part("recording", filename, io.BytesIO())) == name


@pytest.mark.parametrize("filename", ["..", "../..", ".hidden.fif", "rec\x00.fif", "rec\n.fif",
                                      "r%00.fif", "x" * 129])
def test_unsafe_names_are_refused(filename):
    with pytest.raises(DataError, match="recording: file name .*; expected at most 128"):
        uploads.safe_name(uploads.Part("recording", filename, io.BytesIO()))


@pytest.mark.parametrize(("files", "message"), [
    ({"rec.txt": b"x"}, "recording 'rec.txt': extension '.txt'; expected one of .fif, .edf, "
                        ".bdf, .vhdr, .set"),
    ({"rec.eeg": b"x"}, "extension '.eeg'; expected one of"),
    ({"rec.edf": b"x", "rec.eeg": b"y"},
     "companions: 1 uploaded; expected at most 0 with EDF recordings (none)"),
    ({"rec.vhdr": b"x", "a.eeg": b"y", "b.eeg": b"y", "a.vmrk": b"z"},
     "companions: 3 uploaded; expected at most 2 with BrainVision recordings (.vmrk, .eeg)"),
    ({"rec.vhdr": b"x", "notes.txt": b"y"},
     "companions[0] 'notes.txt': extension '.txt'; expected for BrainVision recordings: .vmrk, "
     ".eeg"),
    ({"rec.vhdr": b"x", "a.eeg": b"y", "../a.eeg": b"z"}, "'a.eeg' uploaded twice"),
    ({"..": b"x"}, "recording: file name '..'; expected at most 128 letters"),
    ({"rec\x00.fif": b"x"}, "recording: file name"),
    ({"r" * 200 + ".fif": b"x"}, "recording: file name"),
    ({"rec.edf": b"garbage"}, "recording 'rec.edf': not a readable EDF recording"),
    ({"rec.set": b"garbage"}, "recording 'rec.set': not a readable EEGLAB recording"),
    ({"rec.vhdr": b"garbage"}, "recording 'rec.vhdr': not a readable BrainVision recording"),
])
def test_bad_uploads_get_422_naming_the_part_and_leave_no_folder(
        client, recording, files, message, private_tmp):
    response = post(client, files, recording[1])
    assert response.status_code == 422 and message in response.json()["detail"], response.text
    assert not any(private_tmp.iterdir())


def test_a_header_naming_files_not_uploaded_gets_422(client, recording, uploads_by_format,
                                                       private_tmp):
    events_tsv = recording[1]
    brainvision = uploads_by_format["BrainVision"]
    without_data = {name: data for name, data in brainvision.items() if name != "rec.eeg"}
    renamed = {("other.eeg" if name == "rec.eeg" else name): data
               for name, data in brainvision.items()}
    header = brainvision["rec.vhdr"].replace(b"DataFile=rec.eeg", b"DataFile=../../etc/rec.eeg")
    traversing = {**brainvision, "rec.vhdr": header}
    eeglab = uploads_by_format["EEGLAB + .fdt"]
    for files, message in (
        (without_data, "recording 'rec.vhdr' names DataFile 'rec.eeg', which was not uploaded "
                       "(uploaded: rec.vhdr, rec.vmrk); expected it among the companions under "
                       "exactly that name"),
        (renamed, "names DataFile 'rec.eeg', which was not uploaded"),
        (traversing, "names DataFile '../../etc/rec.eeg', which was not uploaded"),
        ({"rec.set": eeglab["rec.set"]}, "recording 'rec.set' names EEG.data 'rec.fdt', which "
                                         "was not uploaded"),
        ({**uploads_by_format["EEGLAB"], "rec.fdt": b"x"},
         "companions[0] 'rec.fdt': not named by 'rec.set' (it names no other file)"),
    ):
        response = post(client, files, events_tsv)
        assert response.status_code == 422 and message in response.json()["detail"], files.keys()
        assert not any(private_tmp.iterdir())


def test_the_size_limit_applies_to_all_parts_together(bundle, recording, uploads_by_format):
    files = uploads_by_format["BrainVision"]
    largest, total = max(map(len, files.values())), sum(map(len, files.values()))
    client = TestClient(create_app({"eeg": bundle}, max_upload_bytes=(largest + total) // 2))
    assert largest < (largest + total) // 2 < total
    response = post(client, files, recording[1])
    assert response.status_code == 413 and "request body larger than" in response.json()["detail"]


def test_samples_that_are_not_finite_get_422(client, recording, whole_seconds_raw, tmp_path):
    data = whole_seconds_raw.get_data()
    data[3, 100:110] = np.nan
    raw = mne.io.RawArray(data, whole_seconds_raw.info, verbose="error")
    raw.save(tmp_path / "nan_raw.fif", verbose="error")
    response = post(client, {"nan_raw.fif": (tmp_path / "nan_raw.fif").read_bytes()},
                    recording[1])
    assert response.status_code == 422
    assert response.json()["detail"] == ("recording 'nan_raw.fif': 10 samples are NaN or "
                                         "infinite; expected finite numbers")
