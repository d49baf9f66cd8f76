"""The EEG forward model: 64 standard 10-10 electrodes over a spherical head.

Sources are cortical-like dipoles on a shell under the skull, oriented mostly radially. The
template brain (source positions and orientations) is shared by all subjects; each subject's
brain sits at its own small rotation and translation under the fixed electrode montage, and
each subject has its own response gain. Gains come from ``mne.make_forward_solution`` with a
three-layer sphere model fitted to the montage (nothing is downloaded).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mne
import numpy as np

from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    from pipeline.config import SimulateConfig

MONTAGE = "standard_1020"
CHANNELS = (
    "Fp1", "Fpz", "Fp2", "AF7", "AF3", "AFz", "AF4", "AF8",
    "F7", "F5", "F3", "F1", "Fz", "F2", "F4", "F6", "F8",
    "FT7", "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "FT8",
    "T7", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "T8",
    "TP7", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6", "TP8",
    "P9", "P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8", "P10",
    "PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2", "Iz",
)  # the 64-channel 10-10 layout (BioSemi-style), names as in MNE's standard_1020
N_NOISE_SOURCES = 200  # random dipoles whose activity makes the spatially correlated 1/f noise
ALPHA_DIRECTIONS = ((-0.35, -0.9, 0.25), (0.35, -0.9, 0.25))  # left and right occipital
SHELL = (0.055, 0.072)  # source distance from the sphere centre, metres (inner skull ~0.087)
ORIENTATION_JITTER = 0.3  # spread of dipole orientations around the radial direction
HEAD_ROTATION_SD = 3.0  # degrees, per axis, per subject
HEAD_TRANSLATION_SD = 0.003  # metres, per axis, per subject
GAIN_SD = 0.15  # standard deviation of the log of each subject's response gain


def standard_montage() -> mne.channels.DigMontage:
    """MNE's ``standard_1020`` montage (also named ``colin27_1020`` in recent MNE)."""
    name = "colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages() else MONTAGE
    return mne.channels.make_standard_montage(name)


def make_info(sfreq: float, line_freq: float) -> mne.Info:
    """Measurement info of the 64 EEG channels with the standard montage set.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    line_freq : float
        Power-line frequency in Hz (stored in the info for BIDS).

    Returns
    -------
    mne.Info
    """
    info = mne.create_info(list(CHANNELS), sfreq, "eeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        info.set_montage(standard_montage())
    info["line_freq"] = line_freq
    return info


@dataclass(frozen=True)
class HeadTemplate:
    """What every subject shares: channels, sphere model and the template brain's dipoles.

    Attributes
    ----------
    info : mne.Info
        The 64 channels with the montage set.
    sphere : mne.bem.ConductorModel
        Three-layer sphere fitted to the electrode positions (head coordinates).
    positions, orientations : dict of str to ndarray, shape (n, 3)
        Dipole positions (metres) and unit orientations of the "evoked", "alpha" and
        "noise" source groups.
    """

    info: mne.Info
    sphere: mne.bem.ConductorModel
    positions: dict[str, np.ndarray]
    orientations: dict[str, np.ndarray]


@dataclass(frozen=True)
class Head:
    """One subject's head: gains of the template sources seen through its own head position.

    Attributes
    ----------
    gains : dict of str to ndarray, shape (n_channels, n)
        Sensor gain (volts per ampere-metre) of each dipole of each source group.
    response_gain : float
        The subject's multiplier of its evoked responses.
    rotation : ndarray, shape (3,)
        Head rotation about x, y, z in degrees.
    translation : ndarray, shape (3,)
        Head translation in metres.
    """

    gains: dict[str, np.ndarray]
    response_gain: float
    rotation: np.ndarray
    translation: np.ndarray


def _shell_dipoles(
    rng: np.random.Generator, n: int, centre: np.ndarray, max_y: float, min_z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cortical-like dipoles: positions on the shell, orientations near radial. (n, 3) each."""
    directions = np.empty((0, 3))
    while len(directions) < n:
        draw = rng.standard_normal((4 * n, 3))
        draw /= np.linalg.norm(draw, axis=1, keepdims=True)
        keep = (draw[:, 1] <= max_y) & (draw[:, 2] >= min_z)
        directions = np.concatenate([directions, draw[keep]])[:n]
    radius = rng.uniform(*SHELL, size=(n, 1))
    orientations = directions + ORIENTATION_JITTER * rng.standard_normal((n, 3))
    orientations /= np.linalg.norm(orientations, axis=1, keepdims=True)
    return centre + radius * directions, orientations


def make_head_template(cfg: SimulateConfig) -> HeadTemplate:
    """Build the channels, the sphere model and the template dipoles.

    Evoked sources favour the back of the head (visual cortex); alpha comes from two
    occipital dipoles; noise sources cover the whole upper head.

    Parameters
    ----------
    cfg : SimulateConfig
        Uses ``seed``, ``sfreq``, ``n_sources`` and ``noise.line_freq``.

    Returns
    -------
    HeadTemplate
    """
    info = make_info(cfg.sfreq, cfg.noise.line_freq)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
    centre = np.asarray(sphere["r0"], float)
    rng = make_rng(cfg.seed, "sources")
    evoked = _shell_dipoles(rng, cfg.n_sources, centre, max_y=0.4, min_z=-0.2)
    noise = _shell_dipoles(rng, N_NOISE_SOURCES, centre, max_y=1.0, min_z=-0.3)
    alpha = np.asarray(ALPHA_DIRECTIONS) / np.linalg.norm(ALPHA_DIRECTIONS, axis=1, keepdims=True)
    positions = {"evoked": evoked[0], "alpha": centre + np.mean(SHELL) * alpha, "noise": noise[0]}
    orientations = {"evoked": evoked[1], "alpha": alpha, "noise": noise[1]}
    return HeadTemplate(info, sphere, positions, orientations)


def _rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """Rotation about x, then y, then z by ``angles`` degrees. Returns (3, 3)."""
    ax, ay, az = np.deg2rad(angles)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def make_head(template: HeadTemplate, seed: int, subject_index: int) -> Head:
    """Place the template brain in one subject's head and compute its gains.

    Parameters
    ----------
    template : HeadTemplate
        From :func:`make_head_template`.
    seed : int
        The study seed.
    subject_index : int
        0-based subject index; selects the head position and gain.

    Returns
    -------
    Head
    """
    rng = make_rng(seed, "head", subject_index)
    rotation = HEAD_ROTATION_SD * rng.standard_normal(3)
    translation = HEAD_TRANSLATION_SD * rng.standard_normal(3)
    response_gain = float(np.exp(GAIN_SD * rng.standard_normal()))
    matrix = _rotation_matrix(rotation)
    centre = np.asarray(template.sphere["r0"], float)
    groups = list(template.positions)
    positions = np.concatenate(
        [(template.positions[g] - centre) @ matrix.T + centre + translation for g in groups]
    )  # (n, 3)
    orientations = np.concatenate([template.orientations[g] @ matrix.T for g in groups])
    src = mne.setup_volume_source_space(
        pos={"rr": positions, "nn": orientations}, verbose=False
    )
    fwd = mne.make_forward_solution(
        template.info, None, src, template.sphere, meg=False, eeg=True, verbose=False
    )
    free = fwd["sol"]["data"].reshape(len(CHANNELS), -1, 3)  # (C, n, 3) x, y, z dipoles
    gain = np.einsum("cnk,nk->cn", free, orientations)  # (C, n)
    bounds = np.cumsum([0] + [len(template.positions[g]) for g in groups])
    gains = {
        g: gain[:, start:stop]
        for g, start, stop in zip(groups, bounds[:-1], bounds[1:], strict=True)
    }
    return Head(gains, response_gain, rotation, translation)
