"""The forward model shared by every sensor array: template sources, head pose, gains.

The template brain (dipole positions and orientations of each source group: "evoked",
"alpha", "noise", and any the array adds) is shared by all subjects; each subject's brain
sits at its own small rotation and translation under the fixed sensors, and each subject
has its own response gain. The sensor array (:mod:`pipeline.simulate.sensors`) turns
dipoles into sensor gains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mne
import numpy as np

from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    from pipeline.simulate.sensors import SensorArray

N_NOISE_SOURCES = 200  # random dipoles whose activity makes the spatially correlated 1/f noise
ALPHA_DIRECTIONS = ((-0.35, -0.9, 0.25), (0.35, -0.9, 0.25))  # left and right occipital
SHELL = (0.055, 0.072)  # source distance from the sphere centre, metres (inner skull ~0.087)
HEAD_ROTATION_SD = 3.0  # degrees, per axis, per subject
HEAD_TRANSLATION_SD = 0.003  # metres, per axis, per subject
GAIN_SD = 0.15  # standard deviation of the log of each subject's response gain


@dataclass(frozen=True)
class HeadTemplate:
    """What every subject shares: the sensors, the conductor and the template brain's dipoles.

    Attributes
    ----------
    array : SensorArray
        The sensor array that made the template (it computes the gains).
    info : mne.Info
        The channels, with their positions.
    centre : ndarray, shape (3,)
        Centre of the head (metres, head coordinates); subjects' brains rotate about it.
    sphere : mne.bem.ConductorModel or None
        The sphere model of MNE's forward solution; None when the array computes its
        gains otherwise.
    positions, orientations : dict of str to ndarray, shape (n, 3)
        Dipole positions (metres) and unit orientations of each source group.
    """

    array: SensorArray
    info: mne.Info
    centre: np.ndarray
    sphere: mne.bem.ConductorModel | None
    positions: dict[str, np.ndarray]
    orientations: dict[str, np.ndarray]

    @property
    def n_channels(self) -> int:
        """The number of channels."""
        return len(self.info["ch_names"])


@dataclass(frozen=True)
class Head:
    """One subject's head: gains of the template sources seen through its own head position.

    Attributes
    ----------
    gains : dict of str to ndarray, shape (n_channels, n)
        Sensor gain (SI units of the channel per ampere-metre) of each dipole of each group.
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


def shell_dipoles(
    rng: np.random.Generator, n: int, centre: np.ndarray, max_y: float, min_z: float,
    jitter: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Cortical-like dipoles on a shell under the skull, oriented around the radial direction.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of dipoles.
    centre : ndarray, shape (3,)
        Centre of the shell (metres).
    max_y, min_z : float
        Bounds on the unit direction from the centre (y: front, z: up).
    jitter : float
        Spread of the orientations around the radial direction (0: radial; large: random).

    Returns
    -------
    positions, orientations : ndarray, shape (n, 3)
    """
    directions = np.empty((0, 3))
    while len(directions) < n:
        draw = rng.standard_normal((4 * n, 3))
        draw /= np.linalg.norm(draw, axis=1, keepdims=True)
        keep = (draw[:, 1] <= max_y) & (draw[:, 2] >= min_z)
        directions = np.concatenate([directions, draw[keep]])[:n]
    radius = rng.uniform(*SHELL, size=(n, 1))
    orientations = directions + jitter * rng.standard_normal((n, 3))
    orientations /= np.linalg.norm(orientations, axis=1, keepdims=True)
    return centre + radius * directions, orientations


def shell_sources(
    rng: np.random.Generator, n_sources: int, centre: np.ndarray, jitter: float
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The cortical source groups of a scalp array (EEG, MEG).

    Evoked sources favour the back of the head (visual cortex); alpha comes from two
    occipital dipoles; noise sources cover the whole upper head.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_sources : int
        Number of evoked sources.
    centre : ndarray, shape (3,)
    jitter : float
        Orientation spread of evoked and noise dipoles (see :func:`shell_dipoles`).

    Returns
    -------
    positions, orientations : dict of str to ndarray, shape (n, 3)
        Groups "evoked", "alpha" and "noise".
    """
    evoked = shell_dipoles(rng, n_sources, centre, max_y=0.4, min_z=-0.2, jitter=jitter)
    noise = shell_dipoles(rng, N_NOISE_SOURCES, centre, max_y=1.0, min_z=-0.3, jitter=jitter)
    alpha = np.asarray(ALPHA_DIRECTIONS) / np.linalg.norm(ALPHA_DIRECTIONS, axis=1, keepdims=True)
    positions = {"evoked": evoked[0], "alpha": centre + np.mean(SHELL) * alpha, "noise": noise[0]}
    orientations = {"evoked": evoked[1], "alpha": alpha, "noise": noise[1]}
    return positions, orientations


def mne_gains(
    info: mne.Info, sphere: mne.bem.ConductorModel, positions: np.ndarray,
    orientations: np.ndarray, meg: bool,
) -> np.ndarray:
    """Gains of fixed-orientation dipoles from ``mne.make_forward_solution`` (sphere model).

    Parameters
    ----------
    info : mne.Info
        The channels (EEG electrodes with a montage, or MEG coils with ``dev_head_t``).
    sphere : mne.bem.ConductorModel
    positions, orientations : ndarray, shape (n, 3)
        Dipoles in head coordinates (metres) and their unit orientations.
    meg : bool
        True for the MEG channels, False for the EEG ones.

    Returns
    -------
    ndarray, shape (n_channels, n)
    """
    src = mne.setup_volume_source_space(
        pos={"rr": positions, "nn": orientations}, verbose=False
    )
    fwd = mne.make_forward_solution(
        info, None, src, sphere, meg=meg, eeg=not meg, verbose=False
    )
    free = fwd["sol"]["data"].reshape(fwd["nchan"], -1, 3)  # (C, n, 3) x, y, z dipoles
    return np.einsum("cnk,nk->cn", free, orientations)  # (C, n)


def _rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """Rotation about x, then y, then z by ``angles`` degrees. Returns (3, 3)."""
    ax, ay, az = np.deg2rad(angles)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def subject_dipoles(
    template: HeadTemplate, position_sd: float, orientation_sd: float, seed: int,
    subject_index: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The template's dipoles with one subject's evoked dipoles displaced and rotated.

    Parameters
    ----------
    template : HeadTemplate
    position_sd : float
        Standard deviation (metres, per axis) of each evoked dipole's displacement.
    orientation_sd : float
        Standard deviation (degrees, per axis) of each evoked dipole's rotation.
    seed : int
        The study seed.
    subject_index : int
        0-based; selects the perturbation (its own random stream).

    Returns
    -------
    positions, orientations : dict of str to ndarray, shape (n, 3)
        New dicts; every group but "evoked" is the template's. A displaced dipole is pulled
        back radially to the largest distance of the template's evoked dipoles from the
        head centre (so it stays inside the conductor).
    """
    rng = make_rng(seed, "subject sources", subject_index)
    evoked = template.positions["evoked"] - template.centre  # (S, 3)
    moved = evoked + position_sd * rng.standard_normal(evoked.shape)  # (S, 3)
    radius = np.linalg.norm(moved, axis=1, keepdims=True)  # (S, 1)
    limit = np.linalg.norm(evoked, axis=1).max()  # stay as deep as the template's dipoles
    moved = moved * np.minimum(1.0, limit / radius)
    positions = {**template.positions, "evoked": template.centre + moved}
    angles = orientation_sd * rng.standard_normal(evoked.shape)  # (S, 3) degrees
    rotated = np.stack([
        _rotation_matrix(angle) @ orientation
        for angle, orientation in zip(angles, template.orientations["evoked"], strict=True)
    ])  # (S, 3)
    orientations = {**template.orientations, "evoked": rotated}
    return positions, orientations


def make_head(
    template: HeadTemplate, seed: int, subject_index: int, source_sd: tuple[float, float] = (0, 0)
) -> Head:
    """Place the template brain in one subject's head and compute its gains.

    Parameters
    ----------
    template : HeadTemplate
        From the sensor array's ``make_template``.
    seed : int
        The study seed.
    subject_index : int
        0-based subject index; selects the head position and gain.
    source_sd : tuple of float
        Standard deviations of the subject's evoked dipoles' displacement (metres) and
        rotation (degrees) from the template (:func:`subject_dipoles`); (0, 0): the template's.

    Returns
    -------
    Head
    """
    rng = make_rng(seed, "head", subject_index)
    rotation = HEAD_ROTATION_SD * rng.standard_normal(3)
    translation = HEAD_TRANSLATION_SD * rng.standard_normal(3)
    response_gain = float(np.exp(GAIN_SD * rng.standard_normal()))
    matrix = _rotation_matrix(rotation)
    template_positions, template_orientations = template.positions, template.orientations
    if any(source_sd):
        template_positions, template_orientations = subject_dipoles(
            template, *source_sd, seed, subject_index
        )
    groups = list(template_positions)
    positions = np.concatenate(
        [(template_positions[g] - template.centre) @ matrix.T + template.centre + translation
         for g in groups]
    )  # (n, 3)
    orientations = np.concatenate([template_orientations[g] @ matrix.T for g in groups])
    gain = template.array.gains(template, positions, orientations)  # (C, n)
    bounds = np.cumsum([0] + [len(template.positions[g]) for g in groups])
    gains = {
        g: gain[:, start:stop]
        for g, start, stop in zip(groups, bounds[:-1], bounds[1:], strict=True)
    }
    return Head(gains, response_gain, rotation, translation)
