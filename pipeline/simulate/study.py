"""Generate a whole simulated sensor study: stimuli, recordings, oracle inputs, hidden truth."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.io import write_json
from pipeline.simulate.bids import (
    write_derivative_description,
    write_description,
    write_recording,
)
from pipeline.simulate.oracle import make_oracle, oracle_description, write_oracle
from pipeline.simulate.recording import SubjectSimulation, record, simulate_subject
from pipeline.simulate.stimulus_sets import STIMULUS_SETS

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig
    from pipeline.simulate.sensors import SensorArray

logger = logging.getLogger(__name__)


def _truth(subject: SubjectSimulation) -> dict[str, object]:
    """A subject's hidden simulation parameters, for checking later stages."""
    return {
        "bad_channels": subject.noise.bad_channels,
        "response_gain": subject.head.response_gain,
        "head_rotation_deg": subject.head.rotation.tolist(),
        "head_translation_m": subject.head.translation.tolist(),
        "alpha_frequency": subject.noise.alpha_frequency,
        "noise_rms_units": subject.noise.rms,
    }


def _noise_units(subject: SubjectSimulation, types: list[str]) -> dict[str, float]:
    """The SI value of one noise unit of each channel type."""
    return {kind: float(unit) for kind, unit in zip(types, subject.noise.units, strict=True)}


def simulate_sensor_study(cfg: SimulateConfig, out_dir: Path, array: SensorArray) -> None:
    """Simulate a study recorded by ``array`` and write it as a BIDS root.

    Writes ``sub-XX/<datatype>/`` (via mne-bids, in the array's format, one annotation per
    trial whose description is the stimulus id), ``stimuli/`` (stimuli.tsv, the images or
    the audio of ``cfg.stimulus``, latents.npy), ``derivatives/oracle/``
    (``sub-XX_oracle.npz`` and ``oracle.json``) and ``derivatives/simulation/truth.json``
    (each subject's bad channels, head position, response gain, and the SI value of a noise
    unit per channel type).

    Parameters
    ----------
    cfg : SimulateConfig
        The options of the simulated study.
    out_dir : Path
        The BIDS root; created if missing.
    array : SensorArray
        The recording modality (EEG, MEG, sEEG).
    """
    out_dir = Path(out_dir)
    start = time.perf_counter()
    stimuli = STIMULUS_SETS.get(cfg.stimulus)(cfg)
    stimuli.write(out_dir)
    logger.info(
        "made %d %s stimuli (%s) in %.1f s", len(stimuli.table), cfg.stimulus,
        ", ".join(f"{n} {s}" for s, n in stimuli.table["split"].value_counts().items()),
        time.perf_counter() - start,
    )
    template = array.make_template(cfg)
    sources = stimuli.source_activity(cfg)  # (n_stimuli, n_sources, n_times)
    oracle_dir = out_dir / "derivatives" / "oracle"
    oracle_dir.mkdir(parents=True, exist_ok=True)
    truth, units = {}, {}
    for index in range(cfg.n_subjects):
        begin = time.perf_counter()
        subject = simulate_subject(cfg, template, sources, stimuli.table, index)
        recording = record(subject, cfg.seed)
        write_recording(out_dir, subject.label, recording, template.info, subject.schedule, array,
                        stimuli.task)
        oracle = make_oracle(subject, recording, stimuli.table, cfg)
        write_oracle(oracle, oracle_dir / f"sub-{subject.label}_oracle.npz")
        truth[subject.label] = _truth(subject)
        units = _noise_units(subject, template.info.get_channel_types())
        logger.info(
            "sub-%s: %d trials, %.0f s of %s, %d channels (bad: %s), in %.1f s",
            subject.label, len(subject.schedule), recording.shape[1] / cfg.sfreq, array.label,
            template.n_channels, ", ".join(subject.noise.bad_channels) or "none",
            time.perf_counter() - begin,
        )
    write_json(oracle_description(cfg.oracle, oracle.space), oracle_dir / "oracle.json")
    write_derivative_description(oracle_dir, "brainrecon oracle")
    simulation_dir = out_dir / "derivatives" / "simulation"
    simulation_dir.mkdir(parents=True, exist_ok=True)
    write_json(
        {"snr": cfg.snr, "modality": cfg.modality, "noise_unit": units, "subjects": truth},
        simulation_dir / "truth.json",
    )
    write_derivative_description(simulation_dir, "brainrecon simulation truth")
    write_description(out_dir, array.label, array.description, stimuli.summary)
    logger.info("simulated %d subjects in %.1f s", cfg.n_subjects, time.perf_counter() - start)
