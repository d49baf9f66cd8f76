"""Nuisance of the simulated BOLD signal, in percent signal change.

Per voxel, the sum of (each with the RMS of ``fmri.noise``):

- thermal: AR(1) noise (``ar1``), independent across voxels;
- network: ``N_NETWORKS`` smooth spatial maps with slow AR(1) time courses;
- physio: cardiac and respiratory noise, RETROICOR-like: sines and cosines of the first two
  harmonics of each phase (rates drift slowly around the subject's heart and breathing
  rates, sampled once per TR, hence aliased), mixed by smooth maps; their amplitude is
  modulated by a slow random envelope, so the phase regressors (written to the confounds
  file) do not explain it all;
- drift: random walks mixed by smooth maps, plus a linear trend per voxel.

Volumes are acquired instantaneously at ``k * TR`` (no slice timing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter1d

from pipeline.simulate.fmri_voxels import VoxelGrid, smooth_fields

if TYPE_CHECKING:
    from pipeline.simulate.options import FmriNoiseConfig

N_NETWORKS = 8
NETWORK_AR1 = 0.9
N_DRIFTS = 4
MAP_FWHM = 25.0  # mm, smoothness of the noise maps
CARDIAC_HZ = (1.1, 0.12)  # mean, subject standard deviation
RESPIRATORY_HZ = (0.28, 0.03)
RATE_VARIABILITY = 0.04  # relative slow variation of each rate within a run
PHYSIO_MODULATION = 0.3  # standard deviation of the physio amplitude envelope
FINE_STEP = 0.02  # seconds, grid on which the physiological phases are integrated
PHYSIO_COLUMNS = tuple(
    f"{signal}_{kind}{harmonic}"
    for signal in ("cardiac", "respiratory") for harmonic in (1, 2) for kind in ("sin", "cos")
)


@dataclass(frozen=True)
class FmriNoiseModel:
    """One subject's noise: rates, spatial maps (percent units) and the AR coefficient.

    Attributes
    ----------
    cfg : FmriNoiseConfig
    tr : float
    cardiac_hz, respiratory_hz : float
    physio_maps : ndarray, shape (len(PHYSIO_COLUMNS), n_voxels)
    network_maps : ndarray, shape (N_NETWORKS, n_voxels)
    drift_maps : ndarray, shape (N_DRIFTS + 1, n_voxels)
        Random-walk maps, then the linear trend's slope.
    """

    cfg: FmriNoiseConfig
    tr: float
    cardiac_hz: float
    respiratory_hz: float
    physio_maps: np.ndarray
    network_maps: np.ndarray
    drift_maps: np.ndarray

    @property
    def rms(self) -> float:
        """Expected RMS of the total noise per voxel (percent signal change)."""
        c = self.cfg
        return float(np.sqrt(c.thermal**2 + c.network**2 + c.physio**2 + c.drift**2))

    def subset(self, voxels: np.ndarray) -> FmriNoiseModel:
        """The same noise restricted to some voxels (their maps only)."""
        return FmriNoiseModel(self.cfg, self.tr, self.cardiac_hz, self.respiratory_hz,
                              self.physio_maps[:, voxels], self.network_maps[:, voxels],
                              self.drift_maps[:, voxels])


def make_noise_model(cfg: FmriNoiseConfig, tr: float, grid: VoxelGrid,
                     rng: np.random.Generator) -> FmriNoiseModel:
    """Draw one subject's physiological rates and noise maps.

    Maps are scaled so each component has its configured RMS averaged over voxels.
    """
    n_physio = len(PHYSIO_COLUMNS)
    # sin/cos regressors have variance 1/2; the envelope multiplies variance by 1 + m^2
    physio = smooth_fields(grid, n_physio, MAP_FWHM, rng)
    physio *= cfg.physio * np.sqrt(2.0 / n_physio / (1.0 + PHYSIO_MODULATION**2))
    network = smooth_fields(grid, N_NETWORKS, MAP_FWHM, rng) * cfg.network / np.sqrt(N_NETWORKS)
    drift = np.concatenate([smooth_fields(grid, N_DRIFTS, MAP_FWHM, rng),
                            rng.standard_normal((1, len(grid.ijk)))])
    drift *= cfg.drift / np.sqrt(N_DRIFTS + 1)
    return FmriNoiseModel(
        cfg, tr,
        cardiac_hz=float(CARDIAC_HZ[0] + CARDIAC_HZ[1] * rng.standard_normal()),
        respiratory_hz=float(RESPIRATORY_HZ[0] + RESPIRATORY_HZ[1] * rng.standard_normal()),
        physio_maps=physio, network_maps=network, drift_maps=drift,
    )


def _slow(n: int, width: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth standard-normal-like series of ``n`` samples (Gaussian-filtered noise)."""
    series = gaussian_filter1d(rng.standard_normal(n), width, mode="wrap")
    return series / max(float(series.std()), 1e-12)


def physio_regressors(model: FmriNoiseModel, n_frames: int, rng: np.random.Generator
                      ) -> np.ndarray:
    """RETROICOR-like regressors: sin, cos of each phase's two first harmonics, at each TR.

    Returns
    -------
    ndarray, shape (n_frames, len(PHYSIO_COLUMNS)), columns in ``PHYSIO_COLUMNS`` order
    """
    n_fine = int(np.ceil(n_frames * model.tr / FINE_STEP)) + 1
    frames = np.round(np.arange(n_frames) * model.tr / FINE_STEP).astype(np.int64)
    columns = []
    for rate in (model.cardiac_hz, model.respiratory_hz):
        varying = rate * (1.0 + RATE_VARIABILITY * _slow(n_fine, 10.0 / FINE_STEP, rng))
        phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(varying) * FINE_STEP
        for harmonic in (1, 2):
            columns += [np.sin(harmonic * phase[frames]), np.cos(harmonic * phase[frames])]
    return np.stack(columns, axis=1)


def ar1(n_frames: int, n_series: int, coefficient: float, rng: np.random.Generator
        ) -> np.ndarray:
    """Stationary unit-variance AR(1) series. Returns (n_frames, n_series)."""
    innovations = rng.standard_normal((n_frames, n_series))
    series = np.empty_like(innovations)
    series[0] = innovations[0]
    scale = np.sqrt(1.0 - coefficient**2)
    for t in range(1, n_frames):
        series[t] = coefficient * series[t - 1] + scale * innovations[t]
    return series


def random_walks(n_frames: int, n_series: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-RMS random walks. Returns (n_frames, n_series)."""
    walks = np.cumsum(rng.standard_normal((n_frames, n_series)), axis=0)
    walks -= walks.mean(axis=0)
    return walks / np.maximum(np.sqrt(np.mean(walks**2, axis=0)), 1e-12)


def noise_run(model: FmriNoiseModel, n_frames: int, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the nuisance of one run.

    Returns
    -------
    noise : ndarray, shape (n_frames, n_voxels)
        Percent signal change.
    regressors : ndarray, shape (n_frames, len(PHYSIO_COLUMNS))
        The physiological regressors (what a physiological recording gives).
    """
    cfg, n_voxels = model.cfg, model.physio_maps.shape[1]
    regressors = physio_regressors(model, n_frames, rng)  # (T, 8)
    envelope = 1.0 + PHYSIO_MODULATION * _slow(n_frames, 15.0 / model.tr, rng)  # (T,)
    noise = cfg.thermal * ar1(n_frames, n_voxels, cfg.ar1, rng)
    noise += envelope[:, None] * (regressors @ model.physio_maps)
    noise += ar1(n_frames, N_NETWORKS, NETWORK_AR1, rng) @ model.network_maps
    trend = np.linspace(-np.sqrt(3.0), np.sqrt(3.0), n_frames)[:, None]  # unit RMS
    drifts = np.concatenate([random_walks(n_frames, N_DRIFTS, rng), trend], axis=1)
    noise += drifts @ model.drift_maps
    return noise, regressors
