"""Channel positions in head coordinates: the recording's own, else a built-in montage's."""

from __future__ import annotations

import functools
import logging
import warnings

import mne
import numpy as np
from mne.io.constants import FIFF

from pipeline.errors import DataError, ParamsError

logger = logging.getLogger(__name__)
HOW_TO_PLACE = (  # the params that settle a channel without a montage position
    "retype channels that are not EEG with channel_types or a set_channel_types step, e.g. "
    "{'EXG*': eog}, so that pick drops them; rename the others (rename_channels) or choose "
    "another preprocess.montage; or, for channels without positions, drop check_montage "
    "and set preprocess.positions: none"
)


@functools.lru_cache(maxsize=8)
def standard_montage(name: str) -> mne.channels.DigMontage:
    """Return MNE's built-in montage ``name``.

    A deprecation notice from MNE (a renamed montage) is logged once, as one line.

    Raises
    ------
    ParamsError
        If MNE has no montage of that name; the message lists the built-in ones.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FutureWarning)
        try:
            montage = mne.channels.make_standard_montage(name)
        except ValueError:
            raise ParamsError(
                f"preprocess.montage: unknown montage {name!r}; expected one of "
                f"{', '.join(mne.channels.get_builtin_montages())}"
            ) from None
    for warning in caught:
        logger.warning("%s", warning.message)
    return montage


def _is_position(position: np.ndarray) -> bool:
    """Return whether ``position`` (3,) is finite and not the origin (MNE's 'unknown')."""
    return bool(np.all(np.isfinite(position)) and np.any(position != 0))


def sensor_positions(info: mne.Info) -> list[np.ndarray]:
    """Return each channel's own position in head coordinates (metres), n_chans x (3,).

    MEG sensors, located in device coordinates, are moved to head coordinates with the
    recording's ``dev_head_t``; other channels' locations are taken as they are.
    """
    transform = info["dev_head_t"]
    positions = []
    for channel in info["chs"]:
        position = np.array(channel["loc"][:3], dtype=np.float64)  # (3,)
        if (channel["coord_frame"] == FIFF.FIFFV_COORD_DEVICE and transform is not None
                and _is_position(position)):
            position = mne.transforms.apply_trans(transform, position)
        positions.append(position)
    return positions


def channel_positions(info: mne.Info, montage_name: str, source: str) -> list[list[float]]:
    """Return each channel's position in head coordinates (metres).

    Positions come from the recording (:func:`sensor_positions`: MEG sensors, sEEG
    contacts, EEG electrodes with a montage); channels without one take the montage's
    (matched by name, case-insensitively).

    Parameters
    ----------
    info : mne.Info
        The measurement info of the preprocessed data.
    montage_name : str
        The built-in montage to fall back on.
    source : str
        The recording, named in errors.

    Returns
    -------
    list of list of float
        ``[n_chans][3]`` positions.

    Raises
    ------
    DataError
        If a channel has a position neither in the recording nor in the montage.
    """
    positions = sensor_positions(info)  # n_chans x (3,)
    missing = [index for index, position in enumerate(positions) if not _is_position(position)]
    if missing:
        types = info.get_channel_types()
        fallback = mne.create_info(
            [info["ch_names"][index] for index in missing],
            info["sfreq"],
            [types[index] for index in missing],
        )
        fallback.set_montage(standard_montage(montage_name), match_case=False, on_missing="ignore")
        for row, index in enumerate(missing):
            positions[index] = fallback["chs"][row]["loc"][:3]
    unknown = [
        name for name, position in zip(info["ch_names"], positions, strict=True)
        if not _is_position(position)
    ]
    if unknown:
        raise DataError(
            f"{source}: channels {', '.join(unknown)} have no position in the recording or in "
            f"montage {montage_name}; expected every channel to have one ({HOW_TO_PLACE})"
        )
    return [[float(value) for value in position] for position in positions]


def lacks_positions(info: mne.Info, picks: list[int]) -> bool:
    """Return whether none of the channels ``picks`` of ``info`` has a position."""
    return not any(_is_position(info["chs"][index]["loc"][:3]) for index in picks)
