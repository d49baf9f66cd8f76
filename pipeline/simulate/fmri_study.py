"""Generate the simulated fMRI study (``modality: fmri``): stimuli, BOLD runs, oracle, truth."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.io import write_json
from pipeline.simulate.bids import write_derivative_description, write_stimuli
from pipeline.simulate.fmri_bids import (
    CONFOUNDS,
    write_bold,
    write_confounds,
    write_fmri_description,
    write_mask,
)
from pipeline.simulate.fmri_design import n_frames
from pipeline.simulate.fmri_noise import PHYSIO_COLUMNS
from pipeline.simulate.fmri_oracle import (
    RecordedRun,
    fmri_oracle_description,
    make_fmri_oracle,
    select_voxels,
)
from pipeline.simulate.fmri_subject import (
    FmriSubject,
    component_amplitudes,
    make_fmri_subject,
    simulate_run,
)
from pipeline.simulate.fmri_voxels import VoxelGrid, draw_blobs, make_grid
from pipeline.simulate.modalities import SIMULATORS
from pipeline.simulate.oracle import write_oracle
from pipeline.simulate.responses import make_response_model
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.stimuli import make_stimuli

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

logger = logging.getLogger(__name__)


def _truth(subject: FmriSubject, n_runs: int, voxels: np.ndarray) -> dict[str, object]:
    """A subject's hidden simulation parameters, for checking later stages.

    ``oracle_voxels`` index the in-mask voxels in the C order of the mask's grid (the order
    of nilearn's ``apply_mask``).
    """
    return {
        "response_gain": subject.gain,
        "hrf_onset_s": subject.hrf_onset,
        "cardiac_hz": subject.noise.cardiac_hz,
        "respiratory_hz": subject.noise.respiratory_hz,
        "noise_rms_percent": subject.noise.rms,
        "n_runs": n_runs,
        "oracle_voxels": voxels.tolist(),
    }


def record_subject(root: Path, subject: FmriSubject, grid: VoxelGrid, voxels: np.ndarray,
                   cfg: SimulateConfig) -> list[RecordedRun]:
    """Simulate and write every run of ``subject``; return the runs at the oracle's voxels."""
    tr = subject.noise.tr
    recorded = []
    for run, events in subject.schedule.groupby("run"):
        frames = n_frames(events["onset"].to_numpy(), cfg.fmri)
        rng = make_rng(cfg.seed, "fmri run", subject.index, int(run))
        percent, physio = simulate_run(subject, events, frames, rng)
        intensity = subject.baseline * (1.0 + percent / 100.0)  # (T, V)
        write_bold(root, subject.label, int(run), intensity, grid, tr, events)
        confounds = pd.DataFrame(physio, columns=list(PHYSIO_COLUMNS))
        confounds.insert(0, "global_signal", intensity.mean(axis=1))
        write_confounds(root, subject.label, int(run), confounds)
        recorded.append(RecordedRun(events.reset_index(drop=True), percent[:, voxels], physio))
    return recorded


@SIMULATORS.register("fmri")
def simulate_fmri_study(cfg: SimulateConfig, out_dir: Path) -> None:
    """Simulate an event-related fMRI study of image viewing and write it as a BIDS root.

    Writes ``sub-XX/func/sub-XX_task-images_run-YY_{bold.nii.gz,bold.json,events.tsv}``,
    ``stimuli/`` (as the EEG study), ``derivatives/confounds/`` (per run
    ``*_desc-confounds_timeseries.tsv`` with global_signal and the physiological regressors;
    per subject ``*_desc-brain_mask.nii.gz``), ``derivatives/oracle/`` (``sub-XX_oracle.npz``,
    ``oracle.json``, see :mod:`pipeline.simulate.fmri_oracle`) and
    ``derivatives/simulation/truth.json``.

    Parameters
    ----------
    cfg : SimulateConfig
        ``study.options.simulated``; ``fmri`` holds the fMRI settings.
    out_dir : Path
        The BIDS root; created if missing.
    """
    out_dir = Path(out_dir)
    start = time.perf_counter()
    stimuli = make_stimuli(cfg)
    write_stimuli(out_dir, stimuli)
    grid = make_grid(cfg.fmri.voxel_size)
    responses = make_response_model(cfg.seed, cfg.n_sources, stimuli.latents.shape[1], cfg.sfreq)
    components = component_amplitudes(responses, stimuli.latents)  # (N, M)
    blobs = draw_blobs(grid, components.shape[1], cfg.fmri.blobs_per_source,
                       make_rng(cfg.seed, "fmri maps"))
    logger.info("%d voxels of %.0f mm (%d occipito-temporal), %d stimuli", len(grid.ijk),
                grid.voxel_size, int(grid.region.sum()), len(stimuli.table))
    oracle_dir = out_dir / "derivatives" / "oracle"
    oracle_dir.mkdir(parents=True, exist_ok=True)
    truth = {}
    for index in range(cfg.n_subjects):
        begin = time.perf_counter()
        subject = make_fmri_subject(cfg, grid, components, blobs, stimuli, index)
        write_mask(out_dir, subject.label, grid)
        voxels = select_voxels(subject, stimuli.table, cfg.fmri.oracle_voxels)
        runs = record_subject(out_dir, subject, grid, voxels, cfg)
        oracle = make_fmri_oracle(subject, runs, voxels, stimuli.table, cfg)
        write_oracle(oracle, oracle_dir / f"sub-{subject.label}_oracle.npz")
        truth[subject.label] = _truth(subject, len(runs), voxels)
        logger.info("sub-%s: %d trials in %d runs (%d volumes), in %.1f s", subject.label,
                    len(subject.schedule), len(runs), sum(len(run.data) for run in runs),
                    time.perf_counter() - begin)
    write_json(fmri_oracle_description(cfg.fmri), oracle_dir / "oracle.json")
    write_derivative_description(oracle_dir, "brainrecon oracle")
    write_derivative_description(out_dir / CONFOUNDS, "brainrecon confounds")
    simulation_dir = out_dir / "derivatives" / "simulation"
    simulation_dir.mkdir(parents=True, exist_ok=True)
    write_json({"snr": cfg.snr, "voxel_size_mm": grid.voxel_size, "tr": cfg.fmri.tr,
                "n_voxels": len(grid.ijk), "subjects": truth}, simulation_dir / "truth.json")
    write_derivative_description(simulation_dir, "brainrecon simulation truth")
    write_fmri_description(out_dir, sorted(truth))
    logger.info("simulated %d subjects in %.1f s", cfg.n_subjects, time.perf_counter() - start)
