"""Synthetic recordings in formats MNE-Python reads but cannot export: CTF MEG and Neuroscan CNT.

The tests use these writers to exercise MNE's CTF and Neuroscan readers (and the project code
built on them) without downloading real recordings. Each writer lays the bytes out as the
reader expects them; the layouts were worked out from the readers in ``mne/io/ctf`` and
``mne/io/cnt`` and the public descriptions of the two formats (``kit_writer`` does the same
for KIT/Yokogawa MEG, with the helpers shared here).

- :func:`write_ctf_ds` writes a CTF ``.ds`` directory (``.res4`` header, ``.meg4`` samples,
  ``.hc`` head-coil positions, ``MarkerFile.mrk`` markers).
- :func:`write_neuroscan_cnt` writes a Neuroscan ``.cnt`` file (SETUP header, electrode
  records, multiplexed samples, event table), 16 or 32 bits a sample.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

# --------------------------------------------------------------------------------------------
# CTF MEG (.ds directory)
# --------------------------------------------------------------------------------------------

CTF_MEG_SENSOR = 5  # sensor type index of an axial (first-order) gradiometer: MNE's 'mag'
CTF_STIM_SENSOR = 11  # sensor type index of a trigger channel: MNE's 'stim'
CTF_STIM_NAME = "UPPT001"
CTF_MAX_COILS = 8
CTF_CHANNEL_LIST_OFFSET = 1844  # where the filter list starts in a .res4 file
CTF_MAX_NAME_LENGTH = 15  # MNE keeps the first 15 characters of a CTF channel name
CTF_QUANTISATION_GAIN = 2.0**20  # the .res4 'qgain' (the ADC's counts per unit)
CTF_MAX_REFERENCES = 50  # reference sensors a compensation record can name
CTF_REFERENCE_LABEL_SIZE = 31
CTF_FIRST_ORDER_COMPENSATION = 0x47314252  # 'G1BR'
CTF_HELMET_RADIUS_CM = 10.0
CTF_GRADIOMETER_BASELINE_CM = 5.0
CTF_COIL_AREA_CM2 = 2.0
CTF_DATE, CTF_TIME = "01/01/2020", "12:00:00"  # day/month/year, as MNE parses it
# fiducials in the device frame (cm); the head frame differs from it by a shift along z
CTF_FIDUCIALS_DEVICE_CM = {
    "nasion": (8.0, 0.0, -2.0),
    "left ear": (0.0, 7.0, -2.0),
    "right ear": (0.0, -7.0, -2.0),
}
INT32_FULL_SCALE = 2**30  # the largest |count| a channel's peak is scaled to (headroom x2)
INT16_FULL_SCALE = 2**15 - 1


class _BigEndianRecord:
    """Bytes of a binary header, appended field by field in big-endian order."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def text(self, value: str, size: int) -> None:
        """Append ``value`` as ASCII, NUL-padded (or cut) to ``size`` bytes."""
        self._buffer += value.encode("ascii")[:size].ljust(size, b"\x00")

    def int16(self, value: int) -> None:
        """Append a signed 16-bit integer."""
        self._buffer += struct.pack(">h", value)

    def int32(self, value: int) -> None:
        """Append a signed 32-bit integer."""
        self._buffer += struct.pack(">i", value)

    def float64(self, value: float) -> None:
        """Append a double."""
        self._buffer += struct.pack(">d", value)

    def zeros(self, size: int) -> None:
        """Append ``size`` NUL bytes (unused fields)."""
        self._buffer += bytes(size)

    def align(self, boundary: int) -> None:
        """Pad with NUL bytes up to the next multiple of ``boundary``."""
        self._buffer += bytes(-len(self._buffer) % boundary)

    def pad_to(self, offset: int) -> None:
        """Pad with NUL bytes up to the absolute ``offset``."""
        if len(self._buffer) > offset:
            raise ValueError(f"header already {len(self._buffer)} bytes, past {offset}")
        self._buffer += bytes(offset - len(self._buffer))

    def raw(self, data: bytes) -> None:
        """Append bytes built elsewhere."""
        self._buffer += data

    def to_bytes(self) -> bytes:
        """The bytes appended so far."""
        return bytes(self._buffer)


_CTF_COIL = np.dtype(
    [
        ("position_cm", ">f8", 3),
        ("unused_0", ">f8"),
        ("orientation", ">f8", 3),
        ("unused_1", ">f8"),
        ("turns", ">i2"),
        ("unused_2", ">i4"),
        ("unused_3", ">i2"),
        ("area_cm2", ">f8"),
    ]
)
_CTF_CHANNEL = np.dtype(
    [
        ("sensor_type", ">i2"),
        ("run_number", ">i2"),
        ("coil_shape", ">i4"),
        ("proper_gain", ">f8"),
        ("quantisation_gain", ">f8"),
        ("io_gain", ">f8"),
        ("io_offset", ">f8"),
        ("n_coils", ">i2"),
        ("gradient_order", ">i2"),
        ("unused", ">i4"),
        ("device_coils", _CTF_COIL, CTF_MAX_COILS),
        ("head_coils", _CTF_COIL, CTF_MAX_COILS),
    ]
)
_CTF_COMPENSATION = np.dtype(
    [
        ("sensor_name", "S32"),
        ("kind", ">i4"),
        ("unused", ">i4"),
        ("n_references", ">i2"),
        ("references", f"S{CTF_REFERENCE_LABEL_SIZE}", CTF_MAX_REFERENCES),
        ("coefficients", ">f8", CTF_MAX_REFERENCES),
    ]
)


def write_ctf_ds(
    path: str | Path,
    ch_names: Sequence[str],
    sfreq: float,
    data: np.ndarray,
    markers: Mapping[str, Sequence[float]] | None = None,
    *,
    stim: np.ndarray | None = None,
    samples_per_trial: int | None = None,
    head_coils: bool = True,
) -> Path:
    """Write a minimal CTF MEG dataset directory that ``mne.io.read_raw_ctf`` reads.

    The channels are first-order axial gradiometers (CTF sensor type 5), which MNE reads as
    ``'mag'`` channels in tesla. Their coils sit on the upper half of a 10 cm sphere around
    the device origin, each pointing radially, with a second coil 5 cm further out (the
    gradiometer's reference coil). Samples are stored as big-endian 32-bit integers with one
    gain per channel that maps the channel's peak to 2**30 counts, so the round trip is
    exact to about 1e-9 of the peak.

    There are no reference channels. MNE 1.13 cannot read a dataset without compensation
    records (``TypeError: object of type 'NoneType' has no len()``), so each MEG channel gets
    an empty first-order (G1BR) record: the data are at compensation grade 0 and applying a
    compensation grade changes nothing.

    Parameters
    ----------
    path : str | Path
        The dataset directory to create; its name must end with ``.ds``. The files inside are
        named after it (``rec.ds/rec.res4``, ``rec.ds/rec.meg4``, ...).
    ch_names : sequence of str
        MEG channel names (ASCII, at most 15 characters: MNE cuts longer CTF names).
    sfreq : float
        Sampling frequency in Hz.
    data : ndarray, shape (n_chans, n_times)
        The MEG signals in tesla.
    markers : mapping of str to sequence of float | None
        Marker name -> onsets in seconds from the first sample, written to
        ``MarkerFile.mrk``; MNE reads each onset as a zero-duration annotation named after
        its marker. None or an empty mapping writes no marker file.
    stim : ndarray, shape (n_times,) | None
        Integer trigger codes; if given, a stim channel ``UPPT001`` is appended after the MEG
        channels.
    samples_per_trial : int | None
        Store the recording as consecutive trials of this many samples, as the CTF system
        stores continuous data (``n_times`` must be a multiple of it). None stores a single
        trial. Markers are written as (trial, time in trial) pairs either way.
    head_coils : bool
        Write ``<name>.hc`` with the nasion and ear coils in the device and head frames, from
        which MNE builds ``info['dev_head_t']`` and the fiducials in ``info['dig']``. Without
        it MNE leaves ``info['dev_head_t']`` None and ``dig`` empty.

    Returns
    -------
    Path
        The dataset directory.
    """
    directory = Path(path)
    data = checked_signals(ch_names, data)
    _check_ctf_names(directory, ch_names)
    n_times = data.shape[1]
    trial_length = _checked_trial_length(n_times, samples_per_trial)
    _check_marker_onsets(markers or {}, n_times / sfreq)
    channels = _ctf_meg_channels(data)
    counts = _ctf_counts(data, channels)
    names = list(ch_names)
    if stim is not None:
        stim_counts = np.asarray(stim, dtype=np.int64).reshape(1, -1)
        if stim_counts.shape[1] != n_times:
            raise ValueError(f"stim has {stim_counts.shape[1]} samples, data has {n_times}")
        channels = np.concatenate([channels, _ctf_stim_channel()])
        counts = np.vstack([counts, stim_counts])
        names.append(CTF_STIM_NAME)
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory.name[: -len(".ds")]
    header = _ctf_res4(names, channels, sfreq, trial_length, n_times // trial_length)
    (directory / f"{stem}.res4").write_bytes(header)
    (directory / f"{stem}.meg4").write_bytes(_ctf_meg4(counts, trial_length))
    if head_coils:
        (directory / f"{stem}.hc").write_text(_ctf_head_coil_text())
    if markers:
        (directory / "MarkerFile.mrk").write_text(
            _ctf_marker_text(directory, markers, sfreq, trial_length)
        )
    return directory


def checked_signals(ch_names: Sequence[str], data: np.ndarray) -> np.ndarray:
    """``data`` as a float (n_chans, n_times) array matching ``ch_names``."""
    signals = np.asarray(data, dtype=float)
    if signals.ndim != 2 or signals.shape[0] != len(ch_names):
        raise ValueError(f"data must be ({len(ch_names)}, n_times), got {signals.shape}")
    if not np.all(np.isfinite(signals)):
        raise ValueError("data must be finite")
    return signals


def _check_ctf_names(directory: Path, ch_names: Sequence[str]) -> None:
    """Refuse a directory name or channel names MNE would not read back as given."""
    if not directory.name.endswith(".ds") or directory.name == ".ds":
        raise ValueError(f"a CTF dataset is a directory named <name>.ds, got {directory.name}")
    for name in ch_names:
        if not name.isascii() or not 0 < len(name) <= CTF_MAX_NAME_LENGTH:
            raise ValueError(f"CTF channel names are 1-15 ASCII characters, got {name!r}")


def _check_marker_onsets(markers: Mapping[str, Sequence[float]], duration: float) -> None:
    """Refuse a marker name MarkerFile.mrk cannot hold or an onset outside the recording."""
    for name, onsets in markers.items():
        if not name or "\n" in name:
            raise ValueError(f"a marker name is one non-empty line, got {name!r}")
        outside = [onset for onset in onsets if not 0 <= onset < duration]
        if outside:
            raise ValueError(f"marker {name!r} onsets {outside} outside 0..{duration} s")


def _checked_trial_length(n_times: int, samples_per_trial: int | None) -> int:
    """The trial length in samples: ``samples_per_trial``, or all of ``n_times``."""
    if n_times == 0:
        raise ValueError("data has no samples")
    if samples_per_trial is None:
        return n_times
    if samples_per_trial <= 0 or n_times % samples_per_trial:
        raise ValueError(f"{n_times} samples do not split into trials of {samples_per_trial}")
    return samples_per_trial


def helmet_directions(n_sensors: int) -> np.ndarray:
    """Unit vectors spread over the upper hemisphere (a Fibonacci spiral), (n_sensors, 3)."""
    index = np.arange(n_sensors) + 0.5
    z = 1.0 - 0.9 * index / n_sensors  # from the vertex down to ~25 degrees above the equator
    azimuth = index * np.pi * (3.0 - np.sqrt(5.0))
    ring = np.sqrt(1.0 - z**2)
    return np.column_stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z])


def _ctf_meg_channels(data: np.ndarray) -> np.ndarray:
    """The .res4 channel records of the MEG channels: geometry and per-channel gains."""
    channels = np.zeros(len(data), dtype=_CTF_CHANNEL)
    channels["sensor_type"] = CTF_MEG_SENSOR
    channels["n_coils"] = 2
    channels["io_gain"] = 1.0
    channels["quantisation_gain"] = CTF_QUANTISATION_GAIN
    peaks = np.max(np.abs(data), axis=1)
    peaks[peaks == 0] = 1e-12  # a flat channel: any gain will do
    tesla_per_count = peaks / INT32_FULL_SCALE
    channels["proper_gain"] = 1.0 / (tesla_per_count * CTF_QUANTISATION_GAIN)
    directions = helmet_directions(len(data))
    inner, outer = channels["device_coils"][:, 0], channels["device_coils"][:, 1]
    inner["position_cm"] = CTF_HELMET_RADIUS_CM * directions
    outer["position_cm"] = (CTF_HELMET_RADIUS_CM + CTF_GRADIOMETER_BASELINE_CM) * directions
    # MNE flips the stored normal of a channel with a positive gain: store the inward normal
    # so that the coil normal MNE reports points out of the helmet
    inner["orientation"] = -directions
    outer["orientation"] = directions
    inner["turns"] = outer["turns"] = 1
    inner["area_cm2"] = outer["area_cm2"] = CTF_COIL_AREA_CM2
    channels["head_coils"] = channels["device_coils"]  # MNE does not read the head-frame copy
    return channels


def _ctf_stim_channel() -> np.ndarray:
    """The .res4 channel record of the trigger channel: one count per trigger unit."""
    channel = np.zeros(1, dtype=_CTF_CHANNEL)
    channel["sensor_type"] = CTF_STIM_SENSOR
    channel["proper_gain"] = channel["quantisation_gain"] = channel["io_gain"] = 1.0
    return channel


def _ctf_counts(data: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """The integer counts MNE multiplies by 1 / (proper gain * qgain) to get ``data`` back."""
    counts_per_tesla = channels["proper_gain"] * channels["quantisation_gain"]
    return np.rint(data * counts_per_tesla[:, None]).astype(np.int64)


def _ctf_res4(
    names: Sequence[str], channels: np.ndarray, sfreq: float, trial_length: int, n_trials: int
) -> bytes:
    """The .res4 header: acquisition settings, then channel names and channel records."""
    record = _BigEndianRecord()
    record.text("MEG41RS", 8)
    record.text("brainrecon test writer", 256)  # application name
    record.zeros(256 + 256)  # data origin, description
    record.int16(1)  # number of averages
    record.text(CTF_TIME, 255)
    record.text(CTF_DATE, 255)
    record.int32(trial_length)
    record.int16(len(names))
    record.align(8)
    record.float64(sfreq)
    record.float64(trial_length * n_trials / sfreq)  # epoch time
    record.int16(n_trials)
    record.align(4)
    record.int32(0)  # pre-trigger samples: a trial starts at its first sample
    record.int16(n_trials)  # trials done
    record.int16(0)
    record.align(4)
    record.int32(n_trials)  # trials saved
    record.zeros(1 + 8 + 1)  # primary, secondary triggers, polarity mask
    record.int16(0)  # trigger mode
    record.align(4)
    record.int32(1)  # accept / reject
    record.int16(0)
    record.align(4)
    record.int32(0)  # zero head
    record.align(4)
    record.int32(0)  # artifact mode
    record.int32(0)
    record.text("run", 32)
    record.text("synthetic recording", 256)
    record.text("CTF", 32)  # instruments
    record.zeros(32)  # collection descriptor
    record.text("sub01", 32)  # subject
    record.zeros(32)  # operator
    record.zeros(60)  # sensor file name
    record.align(4)
    record.int32(0)  # run description length
    record.pad_to(CTF_CHANNEL_LIST_OFFSET)
    record.int16(0)  # number of filters
    for name in names:
        record.text(name, 32)
    record.raw(channels.astype(_CTF_CHANNEL).tobytes())  # big-endian, whatever numpy made
    kinds = channels["sensor_type"]
    meg_names = [name for name, kind in zip(names, kinds, strict=True) if kind == CTF_MEG_SENSOR]
    record.int16(len(meg_names))
    record.raw(_ctf_empty_compensations(meg_names))
    return record.to_bytes()


def _ctf_empty_compensations(meg_names: Sequence[str]) -> bytes:
    """One first-order compensation record per MEG channel, naming no reference sensor."""
    records = np.zeros(len(meg_names), dtype=_CTF_COMPENSATION)
    records["sensor_name"] = [name.encode("ascii") for name in meg_names]
    records["kind"] = CTF_FIRST_ORDER_COMPENSATION
    return records.tobytes()


def _ctf_meg4(counts: np.ndarray, trial_length: int) -> bytes:
    """The .meg4 file: an 8-byte tag, then per trial each channel's samples in turn."""
    n_chans, n_times = counts.shape
    if np.abs(counts).max(initial=0) > np.iinfo(np.int32).max:
        raise ValueError("a count does not fit a 32-bit integer")
    trials = counts.reshape(n_chans, n_times // trial_length, trial_length).transpose(1, 0, 2)
    return b"MEG41CP\x00" + trials.astype(">i4").tobytes()


def _ctf_head_coil_text() -> str:
    """The .hc file: each fiducial coil measured in the device frame, then the head frame."""
    device = {name: np.array(where) for name, where in CTF_FIDUCIALS_DEVICE_CM.items()}
    origin = (device["left ear"] + device["right ear"]) / 2  # already axis-aligned
    lines = []
    for frame, shift in (("dewar", np.zeros(3)), ("head", origin)):
        for name, where in device.items():
            lines.append(f"measured {name} coil position relative to {frame} (cm):")
            for axis, value in zip("xyz", where - shift, strict=True):
                lines.append(f"\t{axis} = {value:.5f}")
    return "\n".join(lines) + "\n"


def _ctf_marker_text(
    directory: Path, markers: Mapping[str, Sequence[float]], sfreq: float, trial_length: int
) -> str:
    """MarkerFile.mrk: one class per marker name, each onset as (trial, seconds in trial)."""
    trial_seconds = trial_length / sfreq
    lines = ["PATH OF DATASET:", str(directory), "", "", "NUMBER OF MARKERS:", str(len(markers))]
    lines += ["", ""]
    for class_id, (name, onsets) in enumerate(markers.items(), start=1):
        lines += ["CLASSGROUPID:", "3", "NAME:", name, "COMMENT:", "", "COLOR:", "red"]
        lines += ["EDITABLE:", "Yes", "CLASSID:", str(class_id)]
        lines += ["NUMBER OF SAMPLES:", str(len(onsets)), "LIST OF SAMPLES:"]
        lines.append("TRIAL NUMBER\t\tTIME FROM SYNC POINT (in seconds)")
        for onset in onsets:
            trial = int(onset // trial_seconds)
            lines.append(f"{trial:+18d}\t\t\t\t{onset - trial * trial_seconds:+.13e}")
        lines += ["", ""]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Neuroscan CNT
# --------------------------------------------------------------------------------------------

CNT_SETUP_SIZE = 900
CNT_ELECTRODE_SIZE = 75
CNT_EVENT_TYPE = 2  # 19-byte event records (SCAN 4)
CNT_EVENT_HEADER_SIZE = 9  # type (1 byte), table size, unused offset (4 bytes each)
CNT_MAX_NAME_LENGTH = 10
CNT_UNIT_SENSITIVITY_UV = 204.8  # a sensitivity of 204.8 uV makes the calibration 1 uV/count
CNT_SESSION_DATE, CNT_SESSION_TIME = "01/15/20", "12:00:00"  # mm/dd/yy, MNE's default
CNT_LAYOUT_RADIUS = 100.0  # electrode positions on the header's 2-D screen layout
CNT_FIELD_OFFSETS = {
    "revision": 0,
    "patient_id": 21,
    "patient_name": 121,
    "sex": 143,
    "hand": 144,
    "session_label": 205,
    "session_date": 225,
    "session_time": 235,
    "n_channels": 370,
    "sampling_rate": 376,
    "n_samples": 864,
    "event_table_position": 886,
    "continuous_seconds": 890,
    "channel_offset": 894,
}
CNT_ELECTRODE_FIELD_OFFSETS = {
    "name": 0,
    "x": 19,
    "y": 23,
    "baseline": 47,
    "sensitivity": 59,
    "calibration": 71,
}


def write_neuroscan_cnt(
    path: str | Path,
    ch_names: Sequence[str],
    sfreq: float,
    data: np.ndarray,
    events: Sequence[tuple[int, int]] = (),
    data_format: Literal["int16", "int32"] = "int32",
    *,
    header_n_samples: int | None = None,
) -> Path:
    """Write a Neuroscan continuous ``.cnt`` file that ``mne.io.read_raw_cnt`` reads.

    The file holds the 900-byte SETUP header, one 75-byte electrode record per channel, the
    samples multiplexed sample by sample (little-endian 16- or 32-bit integers, one
    calibration per channel that maps the channel's peak to full scale) and a type-2 event
    table. All channels are EEG, placed on a circle of the header's 2-D layout.

    What MNE 1.13 does with the file (``read_raw_cnt(path)`` means ``data_format='auto'``,
    which infers the sample size as the bytes between the electrode records and the event
    table divided by channels and by the header's sample count):

    - ``header_n_samples=None`` (the true count): ``'auto'`` infers the right size, so a
      32-bit file, like a 16-bit one, is read correctly *without* ``data_format`` (by
      ``read_raw_cnt`` and by ``mne.io.read_raw``); the matching ``data_format`` reads the
      same. A consistent 32-bit header does not reproduce "reads only with data_format".
    - ``header_n_samples=0`` (a header that leaves the count at zero): ``read_raw_cnt(path)``
      refuses the file with a ``RuntimeError`` whose message (after a traceback excerpt)
      reads::

          RuntimeError: Could not automatically compute number of bytes per sample as the
          number of samples (according to header) is 0.  set data_format manually.

          WARNING: mne.io.read_raw_cnt supports Neuroscan CNT files only. If this file is
          an ANT Neuro CNT, please use mne.io.read_raw_ant instead.

      and ``mne.io.read_raw(path)`` raises ``RuntimeError: Could not read file using any of
      the possible readers for extension .cnt. ...``. With ``data_format='int32'`` both
      recompute the count from the event-table position (the count is not positive) and
      read data and events correctly: the file MNE reads only with a ``data_format``.
    - a negative count (a count above 2**31 read as signed, e.g. ``-732``, the value of the
      real file in MNE issue #13547) behaves the same,
      the message then saying ``... as the number of bytes per channel B is not evenly
      divisible by n_samples=-732 or does not result in 2 or 4 bytes per sample ...``.
    - ``header_n_samples=2 * n_times`` on a 32-bit file: ``'auto'`` silently infers 2 bytes
      a sample and reads twice as many samples of garbage (each 32-bit count as two 16-bit
      ones, events at the wrong times). ``data_format='int32'`` then trusts the positive
      count and fails when the samples are read (``ValueError: cannot reshape array ...``);
      only ``data_format='int32', recompute_n_samples=True`` reads it correctly.

    Parameters
    ----------
    path : str | Path
        The ``.cnt`` file to write.
    ch_names : sequence of str
        Channel names (ASCII, at most 10 characters). MNE's default ``header='auto'`` also
        reads the fifth byte of a name as an old-style "bad" flag, so names of five or more
        characters come back listed in ``info['bads']``; pass ``header='new'`` to MNE to avoid
        that.
    sfreq : float
        Sampling frequency in Hz: a whole number up to 65535 (the header stores an integer).
    data : ndarray, shape (n_chans, n_times)
        The signals in volts.
    events : sequence of (int, int)
        (sample, code) pairs: MNE makes each a zero-duration annotation at ``sample / sfreq``
        described by the code (``'7'`` for code 7). Codes are 1-65535.
    data_format : {'int16', 'int32'}
        The sample size on disk.
    header_n_samples : int | None
        The number of samples the header declares; None writes the true count. See above for
        the values that reproduce files MNE reads only with ``data_format``.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    data = checked_signals(ch_names, data)
    _check_cnt_arguments(ch_names, sfreq, data_format)
    n_chans, n_times = data.shape
    n_bytes = 4 if data_format == "int32" else 2
    full_scale = INT32_FULL_SCALE if n_bytes == 4 else INT16_FULL_SCALE
    volts_per_count = _cnt_volts_per_count(data, full_scale)
    samples = _cnt_samples(data, volts_per_count, n_bytes)
    data_start = CNT_SETUP_SIZE + CNT_ELECTRODE_SIZE * n_chans
    header = _cnt_setup(
        n_chans=n_chans,
        sfreq=int(sfreq),
        n_samples=n_times if header_n_samples is None else header_n_samples,
        event_table_position=data_start + len(samples),
        n_bytes=n_bytes,
    )
    electrodes = _cnt_electrodes(ch_names, volts_per_count)
    table = _cnt_event_table(events, n_times, data_start, n_chans * n_bytes)
    path.write_bytes(header + electrodes + samples + table)
    return path


def _check_cnt_arguments(ch_names: Sequence[str], sfreq: float, data_format: str) -> None:
    """Refuse arguments a Neuroscan header cannot hold."""
    if data_format not in ("int16", "int32"):
        raise ValueError(f"data_format must be 'int16' or 'int32', got {data_format!r}")
    if sfreq != int(sfreq) or not 0 < sfreq <= 65535:
        raise ValueError(f"a CNT header stores a whole sampling rate up to 65535, got {sfreq}")
    for name in ch_names:
        if not name.isascii() or not 0 < len(name) <= CNT_MAX_NAME_LENGTH:
            raise ValueError(f"CNT channel names are 1-10 ASCII characters, got {name!r}")


def _cnt_volts_per_count(data: np.ndarray, full_scale: int) -> np.ndarray:
    """Per-channel volts per count, exactly as MNE will compute them from the float32 fields.

    MNE's calibration is ``calibration * sensitivity * 1e-6 / 204.8``; the writer stores a
    calibration of 1 and the sensitivity in microvolts that maps the peak to ``full_scale``.
    """
    peaks = np.max(np.abs(data), axis=1)
    peaks[peaks == 0] = 1e-6  # a flat channel: any resolution will do
    sensitivity = (peaks * 1e6 / full_scale * CNT_UNIT_SENSITIVITY_UV).astype(np.float32)
    return sensitivity.astype(float) * 1e-6 / CNT_UNIT_SENSITIVITY_UV


def _cnt_samples(data: np.ndarray, volts_per_count: np.ndarray, n_bytes: int) -> bytes:
    """The samples as integer counts, every channel's sample 0, then sample 1, ..."""
    counts = np.rint(data / volts_per_count[:, None])
    limit = np.iinfo(np.int32 if n_bytes == 4 else np.int16).max
    counts = np.clip(counts, -limit, limit)  # a float32 rounding of the sensitivity
    return counts.T.astype("<i4" if n_bytes == 4 else "<i2").tobytes()


def _put(header: bytearray, offset: int, fmt: str, *values) -> None:
    """Write little-endian ``values`` packed as ``fmt`` at ``offset`` of ``header``."""
    struct.pack_into("<" + fmt, header, offset, *values)


def _put_text(header: bytearray, offset: int, value: str, size: int) -> None:
    """Write ``value`` NUL-padded to ``size`` bytes at ``offset`` of ``header``."""
    header[offset : offset + size] = value.encode("ascii")[:size].ljust(size, b"\x00")


def _cnt_setup(
    *, n_chans: int, sfreq: int, n_samples: int, event_table_position: int, n_bytes: int
) -> bytes:
    """The 900-byte SETUP header; fields MNE does not read stay zero."""
    header = bytearray(CNT_SETUP_SIZE)
    at = CNT_FIELD_OFFSETS
    _put_text(header, at["revision"], "Version 3.0", 12)
    _put_text(header, at["patient_id"], "1", 20)
    _put_text(header, at["patient_name"], "Test Subject", 20)
    _put_text(header, at["sex"], "U", 1)
    _put_text(header, at["hand"], "R", 1)
    _put_text(header, at["session_label"], "synthetic", 20)
    _put_text(header, at["session_date"], CNT_SESSION_DATE, 10)
    _put_text(header, at["session_time"], CNT_SESSION_TIME, 12)
    _put(header, at["n_channels"], "H", n_chans)
    _put(header, at["sampling_rate"], "H", sfreq)
    _put(header, at["n_samples"], "i", n_samples)
    _put(header, at["event_table_position"], "i", event_table_position)
    _put(header, at["continuous_seconds"], "f", n_samples / sfreq)
    _put(header, at["channel_offset"], "i", n_bytes)  # bytes per block: one sample at a time
    return bytes(header)


def _cnt_electrodes(ch_names: Sequence[str], volts_per_count: np.ndarray) -> bytes:
    """One 75-byte electrode record per channel: name, layout position and calibration."""
    at = CNT_ELECTRODE_FIELD_OFFSETS
    records = bytearray()
    angles = 2 * np.pi * np.arange(len(ch_names)) / len(ch_names)
    for name, angle, resolution in zip(ch_names, angles, volts_per_count, strict=True):
        record = bytearray(CNT_ELECTRODE_SIZE)
        _put_text(record, at["name"], name, CNT_MAX_NAME_LENGTH)
        _put(record, at["x"], "f", CNT_LAYOUT_RADIUS * np.cos(angle))
        _put(record, at["y"], "f", CNT_LAYOUT_RADIUS * np.sin(angle))
        _put(record, at["baseline"], "h", 0)
        _put(record, at["sensitivity"], "f", resolution * 1e6 * CNT_UNIT_SENSITIVITY_UV)
        _put(record, at["calibration"], "f", 1.0)
        records += record
    return bytes(records)


def _cnt_event_table(
    events: Sequence[tuple[int, int]], n_times: int, data_start: int, bytes_per_sample: int
) -> bytes:
    """The event table: a 9-byte head, then one 19-byte type-2 record per event.

    An event's offset is a byte position in the file; MNE converts it back to a sample as
    ``(offset - data_start) // bytes_per_sample - 1``, so sample ``s`` is stored as the
    position of sample ``s + 1``.
    """
    records = bytearray()
    for sample, code in events:
        if not 0 <= sample < n_times:
            raise ValueError(f"event sample {sample} outside 0..{n_times - 1}")
        if not 0 < code <= 65535:
            raise ValueError(f"event code {code} outside 1..65535")
        offset = data_start + (int(sample) + 1) * bytes_per_sample
        # code, keyboard, keypad/accept, offset, type, code, latency, epoch, accept, accuracy
        records += struct.pack("<HBcihhfccc", code, 0, b"\x00", offset, 0, 0, 0.0,
                               b"\x00", b"\x00", b"\x00")
    return struct.pack("<Bii", CNT_EVENT_TYPE, len(records), 0) + bytes(records)
