"""The sEEG array: depth shafts of contacts inside the brain, sources in a volume.

Shafts enter the brain laterally (orthogonal implantation), alternately on the left and
right, and run inward; contact 1 is the deepest, as clinical names have it ("LA1" ..
"LA10", then "RA1", "LB1", ...). Sources fill the brain volume (a ball of
``BRAIN_RADIUS``), so contacts record local activity: evoked sources and ``N_NOISE_SOURCES``
background dipoles anywhere in the volume, alpha from the two occipital dipoles.

Gains are the potential of a current dipole in an infinite homogeneous medium of
conductivity ``CONDUCTIVITY``, ``p . d / (4 pi sigma (|d|^2 + a^2)^(3/2))`` with ``d`` the
contact minus the dipole position, smoothed over ``SOURCE_RADIUS`` (``a``, the size of a
cortical patch) so a dipole next to a contact does not dominate it. MNE's forward solution
is not used: its sphere model computes potentials on the scalp, not inside the brain.
One noise unit is ``NOISE_UNIT`` volts; the contacts are referenced to infinity (the
monopolar recording; bipolar derivations are a preprocessing step). There are no blinks.
Positions are written in the BIDS ``ACPC`` space (the simulated head frame, metres).
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

import mne
import numpy as np

from pipeline.simulate.forward import ALPHA_DIRECTIONS, SHELL, HeadTemplate
from pipeline.simulate.modalities import SIMULATORS
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.sensors import SensorArray

if TYPE_CHECKING:
    from pipeline.simulate.options import SeegConfig, SimulateConfig

BRAIN_CENTRE = (0.0, 0.0, 0.04)  # metres, head coordinates
BRAIN_RADIUS = 0.07  # metres
ENTRY_DEPTH = 0.005  # metres from the brain surface to the outermost contact
MIN_LATERAL = 0.6  # |x| of a shaft's entry direction (unit vector from the centre)
MIN_HEIGHT = -0.4  # z of a shaft's entry direction
TRAJECTORY_JITTER = 0.2  # spread of a shaft's direction around the way to the centre
N_NOISE_SOURCES = 2000  # background dipoles in the volume
CONDUCTIVITY = 0.33  # siemens per metre (grey matter)
SOURCE_RADIUS = 0.005  # metres, smoothing of the dipole potential
NOISE_UNIT = 20e-6  # volts


def shaft_names(n_shafts: int) -> list[str]:
    """Shaft labels: side (L, R, alternating) and a letter per pair ("LA", "RA", "LB", ...)."""
    return [f"{'LR'[index % 2]}{string.ascii_uppercase[index // 2]}" for index in range(n_shafts)]


def make_shafts(cfg: SeegConfig, seed: int) -> tuple[list[str], np.ndarray]:
    """Draw the shafts' trajectories and place their contacts.

    Parameters
    ----------
    cfg : SeegConfig
    seed : int
        The study seed.

    Returns
    -------
    names : list of str
        Contact names, shaft by shaft, deepest first ("LA1", "LA2", ...).
    positions : ndarray, shape (n_shafts * contacts_per_shaft, 3)
        Head coordinates, metres.
    """
    rng = make_rng(seed, "shafts")
    centre = np.asarray(BRAIN_CENTRE)
    spacing = cfg.spacing_mm / 1000.0
    names, positions = [], []
    for index, shaft in enumerate(shaft_names(cfg.n_shafts)):
        direction = np.zeros(3)
        while abs(direction[0]) < MIN_LATERAL or direction[2] < MIN_HEIGHT:
            direction = rng.standard_normal(3)
            direction /= np.linalg.norm(direction)
        direction[0] = abs(direction[0]) * (-1.0 if index % 2 == 0 else 1.0)
        inward = -direction + TRAJECTORY_JITTER * rng.standard_normal(3)
        inward /= np.linalg.norm(inward)
        entry = centre + (BRAIN_RADIUS - ENTRY_DEPTH) * direction
        depth = spacing * np.arange(cfg.contacts_per_shaft)[::-1]  # deepest first
        positions.append(entry + depth[:, None] * inward)
        names += [f"{shaft}{number}" for number in range(1, cfg.contacts_per_shaft + 1)]
    return names, np.concatenate(positions)


def ball_dipoles(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Dipoles uniform in the brain ball, random orientations. (n, 3) each."""
    directions = rng.standard_normal((n, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radius = BRAIN_RADIUS * rng.random((n, 1)) ** (1.0 / 3.0)
    orientations = rng.standard_normal((n, 3))
    orientations /= np.linalg.norm(orientations, axis=1, keepdims=True)
    return np.asarray(BRAIN_CENTRE) + radius * directions, orientations


def dipole_potential(contacts: np.ndarray, positions: np.ndarray, orientations: np.ndarray
                     ) -> np.ndarray:
    """Smoothed infinite-medium potential (volts per ampere-metre) of dipoles at contacts.

    Parameters
    ----------
    contacts : ndarray, shape (C, 3)
    positions, orientations : ndarray, shape (n, 3)

    Returns
    -------
    ndarray, shape (C, n)
    """
    offset = contacts[:, None, :] - positions[None, :, :]  # (C, n, 3)
    distance2 = np.sum(offset**2, axis=2) + SOURCE_RADIUS**2  # (C, n)
    projection = np.einsum("cnk,nk->cn", offset, orientations)  # (C, n)
    return projection / (4.0 * np.pi * CONDUCTIVITY * distance2**1.5)


def contact_positions(info: mne.Info) -> np.ndarray:
    """The contacts' positions from the info. (C, 3)"""
    return np.array([channel["loc"][:3] for channel in info["chs"]])


class SeegArray(SensorArray):
    """Depth shafts (``study.options.simulated.seeg``) in a volume of sources."""

    label = "sEEG"
    datatype = "ieeg"
    bids_format = "BrainVision"
    extension = ".vhdr"
    description = (
        "recorded by depth shafts of sEEG contacts inside the brain (sources in the brain "
        "volume, infinite-medium potentials), plus realistic noise (1/f background, alpha, "
        "line noise, drifts, bad channels)"
    )

    def make_template(self, cfg: SimulateConfig) -> HeadTemplate:
        """Place the shafts and draw the evoked, alpha and background dipoles."""
        names, contacts = make_shafts(cfg.seeg, cfg.seed)
        info = mne.create_info(names, cfg.sfreq, "seeg")
        info.set_montage(
            mne.channels.make_dig_montage(dict(zip(names, contacts, strict=True)),
                                          coord_frame="head"),
        )
        info["line_freq"] = cfg.noise.line_freq
        rng = make_rng(cfg.seed, "sources")
        evoked = ball_dipoles(rng, cfg.n_sources)
        noise = ball_dipoles(rng, N_NOISE_SOURCES)
        alpha = np.asarray(ALPHA_DIRECTIONS) / np.linalg.norm(ALPHA_DIRECTIONS, axis=1,
                                                              keepdims=True)
        centre = np.asarray(BRAIN_CENTRE)
        positions = {"evoked": evoked[0], "alpha": centre + np.mean(SHELL) * alpha,
                     "noise": noise[0]}
        orientations = {"evoked": evoked[1], "alpha": alpha, "noise": noise[1]}
        return HeadTemplate(self, info, centre, None, positions, orientations)

    def gains(
        self, template: HeadTemplate, positions: np.ndarray, orientations: np.ndarray
    ) -> np.ndarray:
        """Smoothed infinite-medium dipole potentials at the contacts. (C, n)"""
        return dipole_potential(contact_positions(template.info), positions, orientations)

    def noise_units(self, info: mne.Info) -> np.ndarray:
        """``NOISE_UNIT`` volts on every contact. (C,)"""
        return np.full(len(info["ch_names"]), NOISE_UNIT)

    def write_options(self, info: mne.Info) -> dict[str, object]:
        """Write the contacts' positions in BIDS ``ACPC`` space (MNE's ``ras`` frame)."""
        montage = mne.channels.make_dig_montage(
            dict(zip(info["ch_names"], contact_positions(info), strict=True)), coord_frame="ras"
        )
        return {"montage": montage, "acpc_aligned": True}


SEEG = SIMULATORS.register("seeg")(SeegArray())
