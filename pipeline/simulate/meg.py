"""The MEG array: a Vectorview-like helmet of 102 magnetometers and 204 planar gradiometers.

Sensor locations are ``N_LOCATIONS`` points spread evenly (k-means over an area-uniform
sample) on MNE's 306m helmet surface (``mne/data/helmets/306m.fif.gz``, device
coordinates). Each location holds one magnetometer (coil ``FIFFV_COIL_VV_MAG_T3``) and two
orthogonal planar gradiometers (``FIFFV_COIL_VV_PLANAR_T1``), with the coil's z axis along
the outward surface normal, as in a Neuromag Vectorview; names follow its pattern,
``MEG0011`` (mag), ``MEG0012`` and ``MEG0013`` (grads) for location 001. The head sits in
the helmet through a fixed device-to-head transform; the recording carries three
fiducials and a digitised head shape, as real FIF files do.

Gains come from ``mne.make_forward_solution(meg=True)`` with a sphere model (MEG depends
only on its centre). Cortical dipoles are oriented more tangentially than the EEG's (MEG
does not see radial dipoles). Blinks are an equivalent current dipole behind each eye,
seen through the same gains. One noise unit is ``MAG_UNIT`` tesla on magnetometers and
``GRAD_UNIT`` tesla/metre on gradiometers (their ratio is that of the brain background).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import mne
import numpy as np

from pipeline.simulate.forward import Head, HeadTemplate, mne_gains, shell_sources
from pipeline.simulate.modalities import SIMULATORS
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.sensors import SensorArray

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

HELMET = "306m"  # MNE helmet surface the sensors sit on
N_LOCATIONS = 102  # sensor locations (one magnetometer and two gradiometers each)
SURFACE_SAMPLES = 6000  # points drawn on the helmet to spread the locations evenly
HELMET_SEED = 0  # the helmet is hardware: its layout does not depend on the study seed
HEAD_CENTRE = (0.0, 0.0, 0.04)  # metres, head coordinates (centre of the sphere model)
HEAD_RADIUS = 0.09  # metres, scalp radius of the sphere model and of the head shape
DEVICE_TO_HEAD = (0.0, -0.014, 0.041)  # metres; head centre 1 cm above the helmet's centre
FIDUCIALS = {"nasion": (0.0, 0.1, 0.0), "lpa": (-0.08, 0.0, 0.0), "rpa": (0.08, 0.0, 0.0)}
N_HEAD_SHAPE = 60  # digitised scalp points
ORIENTATION_JITTER = 1.0  # dipole orientations spread widely around the radial direction
EYES = ((-0.35, 0.85, -0.4), (0.35, 0.85, -0.4))  # directions of the eye dipoles from centre
EYE_DEPTH = 0.075  # metres from the centre (inside the sphere model)
MAG_UNIT = 100e-15  # tesla (100 fT)
GRAD_UNIT = 2e-12  # tesla per metre (20 fT/cm)
UNITS = {"mag": MAG_UNIT, "grad": GRAD_UNIT}


@functools.lru_cache(maxsize=1)
def helmet_locations() -> tuple[np.ndarray, np.ndarray]:
    """Sensor locations and outward normals on the helmet, device coordinates. (L, 3) each.

    The same on every call (fixed seed, cached, read-only).
    """
    from scipy.cluster.vq import kmeans2  # slow to import; needed once per process

    path = Path(mne.__file__).parent / "data" / "helmets" / f"{HELMET}.fif.gz"
    surface = mne.bem.read_bem_surfaces(path, verbose=False)[0]
    rr, nn, tris = surface["rr"], surface["nn"], surface["tris"]
    a, b, c = (rr[tris[:, k]] for k in range(3))  # (n_tris, 3) each
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    rng = np.random.default_rng(HELMET_SEED)
    which = rng.choice(len(tris), SURFACE_SAMPLES, p=area / area.sum())
    u, v = rng.random((2, SURFACE_SAMPLES))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    weights = np.stack([1 - u - v, u, v], axis=1)  # (N, 3) barycentric
    points = np.einsum("nk,nkd->nd", weights, rr[tris[which]])  # (N, 3)
    normals = np.einsum("nk,nkd->nd", weights, nn[tris[which]])  # (N, 3)
    centroids, _ = kmeans2(points, N_LOCATIONS, seed=rng, minit="++", iter=30)
    nearest = np.argmin(np.linalg.norm(points[:, None] - centroids[None], axis=2), axis=0)
    normals = normals[nearest] / np.linalg.norm(normals[nearest], axis=1, keepdims=True)
    order = np.lexsort((points[nearest, 0], -np.round(points[nearest, 2], 2)))  # top first
    positions, normals = points[nearest][order], normals[order]
    positions.flags.writeable = normals.flags.writeable = False  # cached: shared by callers
    return positions, normals


def _coil_axes(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning the plane orthogonal to ``normal``. (3,) each."""
    reference = np.array([0.0, 0.0, 1.0]) if abs(normal[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    ex = np.cross(reference, normal)
    ex /= np.linalg.norm(ex)
    return ex, np.cross(normal, ex)


def _head_digitisation() -> mne.channels.DigMontage:
    """Fiducials and a digitised head shape on the upper scalp sphere (head coordinates)."""
    rng = np.random.default_rng(HELMET_SEED)
    directions = rng.standard_normal((4 * N_HEAD_SHAPE, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    directions = directions[directions[:, 2] > 0.0][:N_HEAD_SHAPE]
    return mne.channels.make_dig_montage(
        **{name: np.asarray(point) for name, point in FIDUCIALS.items()},
        hsp=np.asarray(HEAD_CENTRE) + HEAD_RADIUS * directions,
        coord_frame="head",
    )


def make_info(sfreq: float, line_freq: float) -> mne.Info:
    """Measurement info of the 306 MEG channels, device-to-head transform and digitisation.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    line_freq : float
        Power-line frequency in Hz.

    Returns
    -------
    mne.Info
    """
    positions, normals = helmet_locations()
    names, types, locs = [], [], []
    for index, (position, normal) in enumerate(zip(positions, normals, strict=True)):
        ex, ey = _coil_axes(normal)
        for kind, (x_axis, y_axis), digit in (("mag", (ex, ey), 1), ("grad", (ex, ey), 2),
                                              ("grad", (ey, -ex), 3)):
            names.append(f"MEG{index + 1:03d}{digit}")
            types.append(kind)
            locs.append(np.concatenate([position, x_axis, y_axis, normal]))
    info = mne.create_info(names, sfreq, types)
    for channel, loc in zip(info["chs"], locs, strict=True):
        channel["loc"][:12] = loc
    transform = np.eye(4)
    transform[:3, 3] = DEVICE_TO_HEAD
    with info._unlock():
        info["dev_head_t"] = mne.transforms.Transform("meg", "head", transform)
    info.set_montage(_head_digitisation())
    info["line_freq"] = line_freq
    return info


class MegArray(SensorArray):
    """306 MEG channels (102 magnetometers, 204 planar gradiometers) in a helmet."""

    label = "MEG"
    datatype = "meg"
    bids_format = "FIF"
    extension = ".fif"
    description = (
        "measured by a Vectorview-like helmet of 102 magnetometers and 204 planar "
        "gradiometers through a spherical conductor, plus realistic noise (1/f background, "
        "alpha, sensor noise, line noise, eye blinks, drifts, bad channels)"
    )

    def make_template(self, cfg: SimulateConfig) -> HeadTemplate:
        """Build the helmet, the sphere model and the template dipoles (with the eyes)."""
        info = make_info(cfg.sfreq, cfg.noise.line_freq)
        centre = np.asarray(HEAD_CENTRE)
        sphere = mne.make_sphere_model(centre, HEAD_RADIUS, verbose=False)
        rng = make_rng(cfg.seed, "sources")
        positions, orientations = shell_sources(rng, cfg.n_sources, centre, ORIENTATION_JITTER)
        eyes = np.asarray(EYES) / np.linalg.norm(EYES, axis=1, keepdims=True)
        positions["eyes"] = centre + EYE_DEPTH * eyes
        orientations["eyes"] = np.tile([0.0, 0.0, 1.0], (len(EYES), 1))  # lids move vertically
        return HeadTemplate(self, info, centre, sphere, positions, orientations)

    def gains(
        self, template: HeadTemplate, positions: np.ndarray, orientations: np.ndarray
    ) -> np.ndarray:
        """MEG gains (T or T/m per ampere-metre) from MNE's sphere model. (C, n)"""
        return mne_gains(template.info, template.sphere, positions, orientations, meg=True)

    def noise_units(self, info: mne.Info) -> np.ndarray:
        """``MAG_UNIT`` on magnetometers, ``GRAD_UNIT`` on gradiometers. (C,)"""
        return np.array([UNITS[kind] for kind in info.get_channel_types()])

    def blink_topography(self, template: HeadTemplate, head: Head) -> np.ndarray:
        """Field of the two eye dipoles, peak 1 (noise unit) on each channel type. (C,)"""
        field = head.gains["eyes"].sum(axis=1) / self.noise_units(template.info)  # (C,)
        types = np.array(template.info.get_channel_types())
        peak = {kind: np.abs(field[types == kind]).max() for kind in UNITS}
        return field / np.array([peak[kind] for kind in types])


MEG = SIMULATORS.register("meg")(MegArray())
