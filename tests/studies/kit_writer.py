"""A synthetic Yokogawa/KIT MEG recording that MNE-Python reads but cannot export.

- :func:`write_kit_con` writes a continuous ``.con`` file (directory table, system, channel,
  calibration, amplifier and acquisition blocks, multiplexed 16- or 32-bit samples, one
  trigger channel per code bit, optionally the head digitization);
- :func:`write_kit_head_files` writes the ``.mrk`` marker, ``.elp`` and ``.hsp`` files that
  ``read_raw_kit(mrk=, elp=, hsp=)`` coregisters with.

The layout was worked out from MNE's reader (``mne/io/kit``), as for the writers of
:mod:`format_writers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from format_writers import INT16_FULL_SCALE, INT32_FULL_SCALE, checked_signals, helmet_directions

KIT_N_DIRECTORIES = 30  # up to the cHPI directory (29), which MNE's cHPI reader looks up
KIT_DIR_SYSTEM, KIT_DIR_CHANNELS, KIT_DIR_CALIBRATION = 1, 4, 5
KIT_DIR_AMP_FILTER, KIT_DIR_ACQUISITION, KIT_DIR_RAW_DATA = 7, 8, 9
KIT_DIR_COREG, KIT_DIR_DIG_POINTS = 12, 26
KIT_VERSION, KIT_REVISION = 2, 4  # V2R004: MNE reads it, and reads the ADC range as a double
KIT_SYSTEM_ID = 10021  # "Yokogawa of Kanazawa (since August 2020)": no layout file in MNE
KIT_FLL_TYPE = 0  # "Hanger Type #1": amplifier word = gains and low-pass index, DC high-pass
KIT_AXIAL_GRADIOMETER = 2  # channel type of a first-order axial gradiometer: MNE's 'mag'
KIT_TRIGGER = -1  # channel type of a trigger channel: MNE's 'misc', named TRIGGER 001, ...
KIT_CONTINUOUS = 1  # acquisition type of a continuous (raw) recording
KIT_CHANNEL_RECORD_SIZE = 80  # bytes per channel record (MNE reads the size from the dir)
KIT_MAX_NAME_LENGTH = 6  # MNE reads 6 bytes of a gradiometer's name
KIT_MAX_DEFAULT_TRIGGERS = 8  # read_raw_kit(stim='>') decodes the first 8 misc channels
KIT_LOWPASS_OPTIONS_HZ = (10, 20, 50, 100, 200, 500, 1000, 2000)  # Hanger-type low-pass
KIT_LOWPASS_SHIFT = 8  # bit position of the low-pass index in the amplifier word
KIT_ADC_RANGE_V = 10.0  # the ADC's full range (+/-5 V)
KIT_TRIGGER_HIGH_V = 2.5  # a trigger line's high level; MNE's default threshold is 1 V
KIT_HELMET_RADIUS_M = 0.10
KIT_CREATE_TIME = 1577880000  # 2020-01-01 12:00:00 UTC, the file's creation time
KIT_DIG_NAME_LENGTH = 8
KIT_MARKER_FILE_NAME_SIZE = 256
KIT_N_MARKER_COILS = 5  # MNE's marker reader wants exactly 5 coils
KIT_SAMPLE_FORMATS = {  # sample format -> (dtype on disk, count a channel's peak maps to)
    "int16": (np.dtype("<i2"), INT16_FULL_SCALE),
    "int32": (np.dtype("<i4"), INT32_FULL_SCALE),
}
# the head frame (RAS, m) and where the device frame sits in it: tilted 10 degrees about the
# left-right axis and shifted, so that the device-to-head transform is no identity
KIT_FIDUCIALS_HEAD_M = {  # the digitizer names MNE looks up: nasion, LPA, RPA
    "fidnz": (0.0, 0.10, 0.0),
    "fidt9": (-0.075, 0.0, 0.0),
    "fidt10": (0.075, 0.0, 0.0),
}
KIT_MARKER_COILS_HEAD_M = (
    (0.03, 0.09, 0.04),
    (-0.03, 0.09, 0.04),
    (0.07, 0.02, 0.05),
    (-0.07, 0.02, 0.05),
    (0.0, 0.05, 0.09),
)
KIT_HEAD_SHAPE_RADIUS_M = 0.085
KIT_N_HEAD_SHAPE_POINTS = 100  # the head shape write_kit_con stores with digitization=True
KIT_HEAD_TILT_RAD = np.deg2rad(10.0)
KIT_DEVICE_TO_HEAD = np.array(
    [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, np.cos(KIT_HEAD_TILT_RAD), -np.sin(KIT_HEAD_TILT_RAD), 0.02],
        [0.0, np.sin(KIT_HEAD_TILT_RAD), np.cos(KIT_HEAD_TILT_RAD), -0.04],
        [0.0, 0.0, 0.0, 1.0],
    ]
)
# MNE turns the device frame of a KIT file (anterior, left, superior) into RAS
_RAS_TO_ALS = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])

_KIT_DIRECTORY = np.dtype(
    [("offset", "<u4"), ("size", "<i4"), ("max_count", "<i4"), ("count", "<i4")]
)
_KIT_SYSTEM = np.dtype(
    [
        ("version", "<i4"),
        ("revision", "<i4"),
        ("system_id", "<i4"),
        ("system_name", "S128"),
        ("model_name", "S128"),
        ("n_channels", "<i4"),
        ("comment", "S256"),
        ("create_time", "<i4"),
        ("last_modified_time", "<i4"),
        ("reserved_0", "<i4", 3),
        ("dewar_style", "<i4"),
        ("spare_0", "<i4", 3),
        ("fll_type", "<i4"),
        ("spare_1", "<i4", 3),
        ("trigger_type", "<i4"),
        ("spare_2", "<i4", 3),
        ("adboard_type", "<i4"),
        ("reserved_1", "<i4", 29),
        ("adc_range_v", "<f8"),
        ("adc_polarity", "<i4"),
        ("adc_allocated_bits", "<i4"),
        ("adc_stored_bits", "<i4"),
    ]
)
_KIT_MEG_CHANNEL = np.dtype(
    [
        ("type", "<i4"),
        ("position_m", "<f8", 3),  # device frame, ALS
        ("theta_deg", "<f8"),  # the coil normal: polar angle from +z
        ("phi_deg", "<f8"),  # and azimuth from +x
        ("unused", "<i4", 4),
        ("name", f"S{KIT_MAX_NAME_LENGTH}"),
        ("padding", f"V{KIT_CHANNEL_RECORD_SIZE - 66}"),
    ]
)
_KIT_TRIGGER_CHANNEL = np.dtype(
    [
        ("type", "<i4"),
        ("number", "<i4"),
        ("unused", "<i4"),
        ("name", "S32"),
        ("padding", f"V{KIT_CHANNEL_RECORD_SIZE - 44}"),
    ]
)
_KIT_ACQUISITION = np.dtype(
    [("type", "<i4"), ("sfreq", "<f8"), ("samples_count", "<i4"), ("n_samples", "<i4")]
)
_KIT_MARKER = np.dtype(
    [
        ("mri_type", "<i4"),
        ("meg_type", "<i4"),
        ("mri_done", "<i4"),
        ("meg_done", "<i4"),
        ("mri_position_m", "<f8", 3),
        ("meg_position_m", "<f8", 3),  # device frame, ALS
    ]
)
_KIT_COREG = np.dtype(
    [
        ("done", "<i4"),
        ("meg_to_mri", "<f8", 16),
        ("mri_to_meg", "<f8", 16),
        ("marker_count", "<i4"),
        ("markers", _KIT_MARKER, KIT_N_MARKER_COILS),
        ("marker_file", f"S{KIT_MARKER_FILE_NAME_SIZE}"),
    ]
)
_KIT_DIG_POINT = np.dtype([("name", f"S{KIT_DIG_NAME_LENGTH}"), ("position_m", "<f8", 3)])


def write_kit_con(
    path: str | Path,
    ch_names: Sequence[str],
    sfreq: float,
    data: np.ndarray,
    stim: np.ndarray | None = None,
    *,
    n_trigger_channels: int = 8,
    trigger_slope: Literal["+", "-"] = "+",
    sample_format: Literal["int16", "int32"] = "int16",
    digitization: bool = False,
) -> Path:
    """Write a continuous Yokogawa/KIT ``.con`` file that ``mne.io.read_raw_kit`` reads.

    The file is a table of 30 directory entries followed by the blocks they point to: system
    (format V2R004, system ID 10021, ADC range +/-5 V), channel records, calibration
    (tesla per volt), amplifier word (gain 1, DC to the largest low-pass option at or below
    Nyquist), acquisition conditions and the samples, multiplexed sample by sample as
    little-endian 16- or 32-bit integers. One calibration per channel maps the channel's peak
    to full scale (32767 or 2**30 counts), so the round trip is exact to half a count: about
    1.5e-5 (int16) or 5e-10 (int32) of the peak.

    The MEG channels are first-order axial gradiometers (KIT channel type 2), which MNE reads
    as ``'mag'`` channels in tesla. They sit on the upper half of a 10 cm sphere around the
    device origin, each pointing radially outward.

    The trigger channels follow the MEG channels, ``n_trigger_channels`` of them, each one
    bit of the code as KIT systems record triggers: channel ``k`` carries bit ``2**k`` as a
    voltage, 2.5 V when high and 0 V when low. With ``trigger_slope='+'`` a set bit is high
    (active-high lines), with ``'-'`` a set bit is low (active-low lines, the idle level is
    high). MNE reads the trigger channels as ``'misc'`` channels ``TRIGGER 001``, ...
    (in volts) and, with its default ``stim='>'``, builds the stim channel ``STI 014`` from
    the first 8 misc channels, the first one as the lowest bit; its threshold (``stimthresh``,
    1 V) splits the two levels. So ``mne.find_events(mne.io.read_raw_kit(path,
    slope=trigger_slope))`` gives back the codes of ``stim``; MNE's default ``slope='-'``
    reads only an active-low file right (an active-high one reads as the complement).

    Parameters
    ----------
    path : str | Path
        The file to write; its name must end with ``.con``.
    ch_names : sequence of str
        MEG channel names. A gradiometer record holds a name of at most 6 ASCII characters,
        which MNE reads as given; a record without a name reads as ``'MEG 001'``,
        ``'MEG 002'``, ... after the channel's position. So each name is either 1-6 ASCII
        characters (no NUL, unique) or exactly ``f'MEG {i:03d}'`` for the ``i``-th channel
        (``MEG 001`` first), which is stored as no name. Anything else (``'MEG 0001'``,
        ``'MEG 001'`` in the second place, ``'MLC11-2805'``, ``'Fé'``) is refused.
    sfreq : float
        Sampling frequency in Hz (positive; stored as a double).
    data : ndarray, shape (n_chans, n_times)
        The MEG signals in tesla.
    stim : ndarray, shape (n_times,) | None
        Integer trigger codes, 0 to ``2**n_trigger_channels - 1``. None leaves the trigger
        channels idle (the stim channel MNE builds is all zeros).
    n_trigger_channels : int
        Trigger channels to write, 0 to 8 (MNE's default ``stim='>'`` decodes no more than
        the first 8 misc channels).
    trigger_slope : {'+', '-'}
        Polarity of the trigger lines: ``'+'`` active-high, ``'-'`` active-low. Pass the same
        value as ``slope`` to ``read_raw_kit``.
    sample_format : {'int16', 'int32'}
        The sample size on disk (MNE takes it from the header's "ADC allocated" bits).
    digitization : bool
        Also store the head digitization in the file: the nasion, ear and 5 marker-coil
        points and a head shape (the points :func:`write_kit_head_files` writes) with the
        marker coils measured in the device frame. ``read_raw_kit(path)`` then fits
        ``info['dev_head_t']`` (:data:`KIT_DEVICE_TO_HEAD`) and fills ``info['dig']`` without
        ``mrk``, ``elp`` or ``hsp``.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    data = checked_signals(ch_names, data)
    _check_kit_arguments(path, ch_names, sfreq, n_trigger_channels, trigger_slope,
                         sample_format)
    dtype, full_scale = KIT_SAMPLE_FORMATS[sample_format]
    volts_per_count = KIT_ADC_RANGE_V / 2.0 ** (8 * dtype.itemsize)
    n_times = data.shape[1]
    if n_times == 0:
        raise ValueError("data has no samples")
    codes = _checked_kit_codes(stim, n_times, n_trigger_channels)
    tesla_per_volt = _kit_tesla_per_volt(data, full_scale, volts_per_count)
    meg_counts = np.rint(data / (volts_per_count * tesla_per_volt)[:, None])
    high_counts = round(KIT_TRIGGER_HIGH_V / volts_per_count)
    trigger_counts = _kit_trigger_counts(codes, n_trigger_channels, trigger_slope, high_counts)
    counts = np.vstack([meg_counts, trigger_counts]).astype(np.int64)
    limit = np.iinfo(dtype).max
    counts = np.clip(counts, -limit, limit)  # the peak can round one count past full scale
    gains = np.concatenate([tesla_per_volt, np.zeros(n_trigger_channels)])  # T/V; 0: volts
    calibration = np.column_stack([np.zeros_like(gains), gains]).astype("<f8")  # offset, gain
    blocks = {
        KIT_DIR_SYSTEM: (_kit_system(len(counts), dtype), 1),
        KIT_DIR_CHANNELS: (_kit_channels(ch_names, n_trigger_channels), len(counts)),
        KIT_DIR_CALIBRATION: (calibration, len(counts)),
        KIT_DIR_AMP_FILTER: (np.array([_kit_amplifier_word(sfreq)], "<i4"), 1),
        KIT_DIR_ACQUISITION: (_kit_acquisition(sfreq, n_times), 1),
        KIT_DIR_RAW_DATA: (counts.T.astype(dtype), counts.size),
    }
    if digitization:
        blocks[KIT_DIR_COREG] = (_kit_coreg(), 1)
        points = _kit_dig_points()
        blocks[KIT_DIR_DIG_POINTS] = (points, len(points))
    path.write_bytes(_kit_file(blocks))
    return path


def write_kit_head_files(
    directory: str | Path,
    *,
    stem: str = "head",
    n_head_shape_points: int = KIT_N_HEAD_SHAPE_POINTS,
) -> dict[str, Path]:
    """Write the marker, digitizer and head-shape files ``read_raw_kit`` coregisters with.

    The three files describe one head (the points :func:`write_kit_con` stores with
    ``digitization=True``), so ``read_raw_kit(con, **write_kit_head_files(dir))`` fits
    ``info['dev_head_t']`` to :data:`KIT_DEVICE_TO_HEAD` and fills ``info['dig']`` with the
    3 fiducials, 5 HPI points and the head shape:

    - ``<stem>.mrk``: the 5 marker coils measured in the device frame (ALS, m). It is a
      binary KIT file holding only the directory table and the coregistration block, which
      is all ``mne.io.kit.read_mrk`` reads; it has no system block, so ``get_kit_info``
      (which mne-bids calls to order a *pair* of marker files) cannot read it.
    - ``<stem>.elp``: Polhemus ISOTrak text, the nasion, left and right ear (``%F`` lines)
      then the 5 marker coils, in the head frame with the digitizer's ALS axes (m).
    - ``<stem>.hsp``: Polhemus ISOTrak head-shape text, the fiducials again then
      ``n_head_shape_points`` points on an 8.5 cm sphere (ALS, m).

    Parameters
    ----------
    directory : str | Path
        Where to write the files (created if missing).
    stem : str
        The files' name without suffix.
    n_head_shape_points : int
        Head-shape points to write (1 or more).

    Returns
    -------
    dict of str to Path
        ``{'mrk': ..., 'elp': ..., 'hsp': ...}``, the keyword arguments of ``read_raw_kit``.
    """
    if n_head_shape_points < 1:
        raise ValueError(f"the head shape needs at least one point, got {n_head_shape_points}")
    if not stem or any(character in stem for character in "/\\\x00"):
        raise ValueError(f"stem must be a plain file name, got {stem!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {kind: directory / f"{stem}.{kind}" for kind in ("mrk", "elp", "hsp")}
    marker_blocks = {KIT_DIR_COREG: (_kit_coreg(), 1)}
    paths["mrk"].write_bytes(_kit_file(marker_blocks, n_directories=KIT_DIR_COREG + 1))
    paths["elp"].write_text(_kit_elp_text())
    paths["hsp"].write_text(_kit_hsp_text(n_head_shape_points))
    return paths


def _check_kit_arguments(
    path: Path,
    ch_names: Sequence[str],
    sfreq: float,
    n_trigger_channels: int,
    trigger_slope: str,
    sample_format: str,
) -> None:
    """Refuse a file name, names or settings a .con file (as MNE reads it) cannot hold."""
    if path.suffix != ".con" or path.name == ".con":
        raise ValueError(f"a KIT continuous file is named <name>.con, got {path.name}")
    if sample_format not in KIT_SAMPLE_FORMATS:
        raise ValueError(f"sample_format must be 'int16' or 'int32', got {sample_format!r}")
    if trigger_slope not in ("+", "-"):
        raise ValueError(f"trigger_slope must be '+' or '-', got {trigger_slope!r}")
    if not 0 <= n_trigger_channels <= KIT_MAX_DEFAULT_TRIGGERS:
        raise ValueError(f"n_trigger_channels must be 0-8, got {n_trigger_channels}")
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise ValueError(f"sfreq must be positive, got {sfreq}")
    if len(set(ch_names)) != len(ch_names):
        raise ValueError("channel names must be unique")
    for index, name in enumerate(ch_names, start=1):
        if name == _kit_default_name(index):
            continue
        if not name.isascii() or "\x00" in name or not 0 < len(name) <= KIT_MAX_NAME_LENGTH:
            raise ValueError(
                f"KIT channel {index} must be named {_kit_default_name(index)!r} or 1-6 ASCII "
                f"characters, got {name!r}"
            )


def _kit_default_name(index: int) -> str:
    """The name MNE gives the ``index``-th channel (from 1) when its record has none."""
    return f"MEG {index:03d}"


def _checked_kit_codes(stim: np.ndarray | None, n_times: int, n_bits: int) -> np.ndarray:
    """``stim`` as an int64 (n_times,) array of codes that fit ``n_bits`` trigger bits."""
    if stim is None:
        return np.zeros(n_times, dtype=np.int64)
    codes = np.asarray(stim)
    if codes.shape != (n_times,):
        raise ValueError(f"stim must be ({n_times},), got {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer) and not np.all(codes == np.rint(codes)):
        raise ValueError("stim must hold integer codes")
    codes = codes.astype(np.int64)
    if codes.min() < 0 or codes.max() >= 2**n_bits:
        raise ValueError(
            f"stim codes {codes.min()}..{codes.max()} do not fit {n_bits} trigger channels "
            f"(0..{2**n_bits - 1})"
        )
    return codes


def _kit_tesla_per_volt(data: np.ndarray, full_scale: int, volts_per_count: float) -> np.ndarray:
    """Per-channel calibration (T/V at the ADC) that maps the channel's peak to full scale."""
    peaks = np.max(np.abs(data), axis=1)
    peaks[peaks == 0] = 1e-12  # a flat channel: any calibration will do
    return peaks / full_scale / volts_per_count


def _kit_trigger_counts(
    codes: np.ndarray, n_bits: int, slope: str, high_counts: int
) -> np.ndarray:
    """The trigger channels' counts, (n_bits, n_times): channel k carries bit 2**k."""
    bits = (codes[None, :] >> np.arange(n_bits)[:, None]) & 1
    if slope == "-":
        bits = 1 - bits
    return bits * high_counts


def _kit_system(n_channels: int, dtype: np.dtype) -> np.ndarray:
    """The system block: format version, system, channel count, date and ADC settings."""
    system = np.zeros(1, dtype=_KIT_SYSTEM)
    system["version"], system["revision"] = KIT_VERSION, KIT_REVISION
    system["system_id"] = KIT_SYSTEM_ID
    system["system_name"] = b"brainrecon test writer"
    system["model_name"] = b"synthetic"
    system["n_channels"] = n_channels
    system["comment"] = b"synthetic recording"
    system["create_time"] = system["last_modified_time"] = KIT_CREATE_TIME
    system["fll_type"] = KIT_FLL_TYPE
    system["adc_range_v"] = KIT_ADC_RANGE_V
    system["adc_allocated_bits"] = system["adc_stored_bits"] = 8 * dtype.itemsize
    return system


def _kit_channels(ch_names: Sequence[str], n_trigger_channels: int) -> bytes:
    """The channel records: gradiometers on the helmet sphere, then the trigger channels."""
    meg = np.zeros(len(ch_names), dtype=_KIT_MEG_CHANNEL)
    meg["type"] = KIT_AXIAL_GRADIOMETER
    directions = helmet_directions(len(ch_names)) @ _RAS_TO_ALS.T
    meg["position_m"] = KIT_HELMET_RADIUS_M * directions
    meg["theta_deg"] = np.degrees(np.arccos(np.clip(directions[:, 2], -1.0, 1.0)))
    meg["phi_deg"] = np.degrees(np.arctan2(directions[:, 1], directions[:, 0]))
    meg["name"] = [
        b"" if name == _kit_default_name(index) else name.encode("ascii")
        for index, name in enumerate(ch_names, start=1)
    ]
    triggers = np.zeros(n_trigger_channels, dtype=_KIT_TRIGGER_CHANNEL)
    triggers["type"] = KIT_TRIGGER
    triggers["number"] = np.arange(n_trigger_channels)
    return meg.tobytes() + triggers.tobytes()


def _kit_amplifier_word(sfreq: float) -> int:
    """The amplifier word: unit gains, the largest low-pass option at or below Nyquist."""
    below_nyquist = [i for i, hz in enumerate(KIT_LOWPASS_OPTIONS_HZ) if hz <= sfreq / 2]
    return (below_nyquist[-1] if below_nyquist else 0) << KIT_LOWPASS_SHIFT


def _kit_acquisition(sfreq: float, n_times: int) -> np.ndarray:
    """The acquisition block of a continuous recording."""
    acquisition = np.zeros(1, dtype=_KIT_ACQUISITION)
    acquisition["type"] = KIT_CONTINUOUS
    acquisition["sfreq"] = sfreq
    acquisition["samples_count"] = acquisition["n_samples"] = n_times
    return acquisition


def _kit_file(
    blocks: Mapping[int, tuple[np.ndarray | bytes, int]], n_directories: int = KIT_N_DIRECTORIES
) -> bytes:
    """The directory table, then each block it points to (directory index -> block, count).

    An entry holds the block's offset, its record size, and its record count (twice: the
    room allocated and the records used); the first entry describes the table itself.
    """
    table = np.zeros(n_directories, dtype=_KIT_DIRECTORY)
    table[0] = (0, _KIT_DIRECTORY.itemsize, n_directories, n_directories)
    body = bytearray()
    offset = table.nbytes
    for index, (block, count) in sorted(blocks.items()):
        raw = block if isinstance(block, bytes) else np.ascontiguousarray(block).tobytes()
        table[index] = (offset + len(body), len(raw) // count, count, count)
        body += raw
    return table.tobytes() + bytes(body)


def _kit_points_als(points_ras: np.ndarray) -> np.ndarray:
    """Points of a RAS frame in the ALS frame KIT files store."""
    return np.asarray(points_ras, dtype=float) @ _RAS_TO_ALS.T


def _kit_marker_coils_device() -> np.ndarray:
    """The marker coils in the device frame (RAS, m): the head-frame points moved back."""
    rotation, shift = KIT_DEVICE_TO_HEAD[:3, :3], KIT_DEVICE_TO_HEAD[:3, 3]
    return (np.array(KIT_MARKER_COILS_HEAD_M) - shift) @ rotation


def _kit_head_shape(n_points: int) -> np.ndarray:
    """Head-shape points over the upper half of a sphere in the head frame (RAS, m)."""
    return KIT_HEAD_SHAPE_RADIUS_M * helmet_directions(n_points)


def _kit_coreg() -> np.ndarray:
    """The coregistration block: the 5 marker coils, each measured in the device frame."""
    coreg = np.zeros(1, dtype=_KIT_COREG)
    coreg["done"] = 1
    coreg["marker_count"] = KIT_N_MARKER_COILS
    markers = coreg["markers"][0]
    markers["meg_done"] = 1
    markers["meg_position_m"] = _kit_points_als(_kit_marker_coils_device())
    return coreg


def _kit_dig_points(n_head_shape_points: int = KIT_N_HEAD_SHAPE_POINTS) -> np.ndarray:
    """The digitizer block: named fiducials and HPI coils, then unnamed head-shape points."""
    named = dict(KIT_FIDUCIALS_HEAD_M)
    named |= {f"hpi_{i}": where for i, where in enumerate(KIT_MARKER_COILS_HEAD_M, start=1)}
    points = np.zeros(len(named) + n_head_shape_points, dtype=_KIT_DIG_POINT)
    points["name"][: len(named)] = [name.encode("ascii") for name in named]
    points["position_m"][: len(named)] = _kit_points_als(list(named.values()))
    points["position_m"][len(named):] = _kit_points_als(_kit_head_shape(n_head_shape_points))
    return points


def _isotrak_line(point: np.ndarray, prefix: str = "") -> str:
    """One tab-separated point line, in plain decimals (MNE's .elp pattern has no 'e+')."""
    return prefix + "\t".join(f"{value:.6f}" for value in point) + "\t"


def _kit_fiducial_lines() -> list[str]:
    """The ``%F`` lines of the nasion, left and right ear (ALS, m)."""
    fiducials = _kit_points_als(list(KIT_FIDUCIALS_HEAD_M.values()))
    return ["//Position of fiducials X+, Y+, Y- on the subject"] + [
        _isotrak_line(point, "%F\t") for point in fiducials
    ]


def _kit_elp_text() -> str:
    """The .elp file: fiducials, then one sensor entry per marker coil (ALS, m)."""
    lines = ["3\t2", "//Probe file", "//Minor revision number", "1", "//ProbeName"]
    lines += ["%N\tbrainrecon", "//Probe type, number of sensors", f"0\t{KIT_N_MARKER_COILS}"]
    lines += _kit_fiducial_lines()
    lines += ["//Sensor type", "%S\t4000"]
    for number, point in enumerate(_kit_points_als(KIT_MARKER_COILS_HEAD_M), start=1):
        lines += [f"//Sensor name and data for sensor # {number}", f"%N\tHPI-{number}",
                  _isotrak_line(point)]
    return "\n".join(lines) + "\n"


def _kit_hsp_text(n_points: int) -> str:
    """The .hsp file: fiducials, then a rows/columns line and the head-shape points."""
    lines = ["3\t200", "//Shape file", "//Minor revision number", "2", "//Subject Name"]
    lines += ["%N\tbrainrecon", "////Shape code, number of digitized points", f"0\t{n_points}"]
    lines += _kit_fiducial_lines()
    lines += ["//No of rows, no of columns; position of digitized points", f"{n_points}\t3"]
    lines += [_isotrak_line(point) for point in _kit_points_als(_kit_head_shape(n_points))]
    return "\n".join(lines) + "\n"
