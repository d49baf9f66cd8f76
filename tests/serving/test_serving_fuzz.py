"""Hostile uploads: no request answers 5xx, and none makes the server allocate what it declares."""

from __future__ import annotations

import io
import resource
import warnings

import mne
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.serving.app import create_app

EXAMPLES = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
MAX_RSS_GROWTH_MB = 300
EDF_SECONDS = 8  # a short recording: each example that reads runs the bundle's preprocessing
DESCRS = ["<f4", "<f8", ">f4", "<i8", "|u1", "|b1", "<c8", "<U4", "|O", "|V8", "<M8[s]",
          "bogus", "[('a', '<f4')]"]


@pytest.fixture(scope="module")
def client(bundle):
    return TestClient(create_app({"eeg": bundle}))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def npy_header(shape: tuple[int, ...], descr: str, fortran: bool) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": fortran,
                                                  "shape": shape})
    return buffer.getvalue()


@st.composite
def hostile_npy(draw) -> bytes:
    """A .npy header of any shape (up to 10^13 per axis) and dtype, and any bytes after it."""
    shape = tuple(draw(st.lists(st.integers(0, 10**13), max_size=4)))
    header = npy_header(shape, draw(st.sampled_from(DESCRS)), draw(st.booleans()))
    if draw(st.booleans()):  # damage the header itself
        at = draw(st.integers(0, len(header) - 1))
        header = header[:at] + draw(st.binary(max_size=16)) + header[at + 1:]
    return header + draw(st.binary(max_size=2048))


def test_hostile_npy_uploads_never_get_5xx_nor_allocate(client):
    before = peak_rss_mb()

    @EXAMPLES
    @given(payload=st.one_of(hostile_npy(), st.binary(max_size=4096)))
    def decode(payload):
        response = client.post("/api/bundles/eeg/decode", files={"epochs": payload},
                               data={"k": "3"})
        assert response.status_code < 500, response.text

    decode()
    assert peak_rss_mb() - before < MAX_RSS_GROWTH_MB


def test_hostile_fif_recordings_and_event_tables_never_get_5xx(client, recording):
    fif, events_tsv, _, _ = recording
    before = peak_rss_mb()

    @EXAMPLES
    @given(cut=st.integers(0, len(fif)), flips=st.lists(
        st.tuples(st.integers(0, len(fif) - 1), st.integers(1, 255)), max_size=8),
        events=st.one_of(st.just(events_tsv), st.binary(max_size=512),
                         st.text(max_size=200).map(lambda text: ("onset\tstimulus_id\n"
                                                                 + text).encode())))
    def decode_raw(cut, flips, events):
        damaged = bytearray(fif[:cut] if cut < len(fif) // 2 else fif)
        for at, mask in flips:
            if at < len(damaged):
                damaged[at] ^= mask
        response = client.post("/api/bundles/eeg/decode_raw",
                               files={"recording": bytes(damaged), "events": events})
        assert response.status_code < 500, response.text

    decode_raw()
    assert peak_rss_mb() - before < MAX_RSS_GROWTH_MB


@pytest.fixture(scope="module")
def edf_recording(recording, tmp_path_factory) -> tuple[bytes, int, bytes]:
    """The first seconds of the tiny study's recording as EDF bytes, its header's length and
    the events inside them as TSV bytes."""
    fif, _, _, events = recording
    raw = mne.io.read_raw_fif(io.BytesIO(fif), preload=True, verbose="error")
    raw.crop(tmax=EDF_SECONDS - 1 / raw.info["sfreq"])
    path = tmp_path_factory.mktemp("edf") / "recording.edf"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    inside = events[events["onset"] < EDF_SECONDS - 1]
    header_bytes = 256 * (1 + len(raw.ch_names))  # EDF: 256 bytes, then 256 per signal
    return path.read_bytes(), header_bytes, inside.to_csv(sep="\t", index=False).encode()


def test_hostile_edf_recordings_never_get_5xx(client, edf_recording):
    edf, header_bytes, events_tsv = edf_recording
    before = peak_rss_mb()
    assert client.post("/api/bundles/eeg/decode_raw",
                       files={"recording": ("recording.edf", edf),
                              "events": events_tsv}).status_code == 200

    @EXAMPLES
    @given(cut=st.integers(0, len(edf)), flips=st.lists(
        st.tuples(st.one_of(st.integers(0, header_bytes - 1), st.integers(0, len(edf) - 1)),
                  st.integers(1, 255)), max_size=8),
        header=st.one_of(st.none(), st.binary(min_size=8, max_size=8)),
        field=st.integers(0, header_bytes // 8 - 1))
    def decode_raw(cut, flips, header, field):
        damaged = bytearray(edf[:cut] if cut < len(edf) // 2 else edf)
        for at, mask in flips:
            if at < len(damaged):
                damaged[at] ^= mask
        if header is not None:  # 8 bytes of the header replaced by any 8 bytes
            damaged[8 * field:8 * field + 8] = header
        response = client.post("/api/bundles/eeg/decode_raw",
                               files={"recording": ("recording.edf", bytes(damaged)),
                                      "events": events_tsv})
        assert response.status_code < 500, response.text

    decode_raw()
    assert peak_rss_mb() - before < MAX_RSS_GROWTH_MB
