"""The EEG array: 64 standard 10-10 electrodes over a three-layer spherical head.

Sources are cortical-like dipoles on a shell under the skull, oriented mostly radially.
Gains come from ``mne.make_forward_solution`` with a three-layer sphere model fitted to the
montage (nothing is downloaded). One noise unit is ``NOISE_UNIT`` volts (10 microvolts);
blinks are frontal deflections that decay with the distance from the eyes.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import mne
import numpy as np

from pipeline.simulate.bids import EEG_DESCRIPTION
from pipeline.simulate.forward import Head, HeadTemplate, mne_gains, shell_sources
from pipeline.simulate.modalities import SIMULATORS
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.sensors import SensorArray

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

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
NOISE_UNIT = 10e-6  # volts
ORIENTATION_JITTER = 0.3  # spread of dipole orientations around the radial direction
BLINK_SPACE_CONSTANT = 0.05  # metres, decay of the blink field from the eyes
EYE_OFFSET = (0.0, 0.02, -0.04)  # metres, from the Fp1-Fp2 midpoint to the eyes


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


class EegArray(SensorArray):
    """64 scalp electrodes (standard 10-10 positions), three-layer sphere model."""

    label = "EEG"
    datatype = "eeg"
    bids_format = "BrainVision"
    extension = ".vhdr"
    description = EEG_DESCRIPTION

    def make_template(self, cfg: SimulateConfig) -> HeadTemplate:
        """Build the electrodes, the sphere fitted to them and the template dipoles."""
        info = make_info(cfg.sfreq, cfg.noise.line_freq)
        sphere = mne.make_sphere_model("auto", "auto", info, verbose=False)
        centre = np.asarray(sphere["r0"], float)
        rng = make_rng(cfg.seed, "sources")
        positions, orientations = shell_sources(rng, cfg.n_sources, centre, ORIENTATION_JITTER)
        return HeadTemplate(self, info, centre, sphere, positions, orientations)

    def gains(
        self, template: HeadTemplate, positions: np.ndarray, orientations: np.ndarray
    ) -> np.ndarray:
        """EEG gains (volts per ampere-metre) from MNE's sphere model. (C, n)"""
        return mne_gains(template.info, template.sphere, positions, orientations, meg=False)

    def noise_units(self, info: mne.Info) -> np.ndarray:
        """``NOISE_UNIT`` volts on every electrode. (C,)"""
        return np.full(len(info["ch_names"]), NOISE_UNIT)

    def blink_topography(self, template: HeadTemplate, head: Head) -> np.ndarray:
        """Blink field: unit at the electrode nearest the eyes, decaying with distance. (C,)"""
        info = template.info
        index = [info["ch_names"].index(name) for name in CHANNELS]
        positions = np.array([info["chs"][i]["loc"][:3] for i in index])  # (C, 3)
        frontal = positions[[CHANNELS.index("Fp1"), CHANNELS.index("Fp2")]]
        eyes = frontal.mean(axis=0) + EYE_OFFSET
        field = np.exp(-np.linalg.norm(positions - eyes, axis=1) / BLINK_SPACE_CONSTANT)
        return field / field.max()


EEG = SIMULATORS.register("eeg")(EegArray())
