"""Preprocess a BIDS study of EEG, MEG or iEEG recordings into epochs.npy, trials.tsv, info.json.

The steps per datatype are data in ``params.yaml``: the shared ``preprocess.steps`` are the
EEG steps; ``studies.meg.preprocess`` and ``studies.seeg.preprocess`` give the MEG steps (no
reference; bad channels found per type, magnetometers apart from gradiometers; interpolation
by field mapping) and the sEEG steps (a higher z threshold, since a contact next to a strong
local response is not faulty; bad contacts interpolated along their shaft, then bipolar
derivations between neighbouring contacts, which remove the reference and far fields).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mne
import mne_bids
import pandas as pd

from pipeline.errors import DataError
from pipeline.io import write_json, write_tsv
from pipeline.preprocess.arrays import RowStackWriter
from pipeline.preprocess.montage import channel_positions, standard_montage
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.recordings import (
    SPLITS,
    find_recordings,
    read_recording,
    read_stimuli,
    stimulus_events,
)
from pipeline.preprocess.step import StepContext, plan_steps, run_steps
from pipeline.preprocess.study import PIPELINES

logger = logging.getLogger(__name__)

TRIAL_COLUMNS = ["subject", "session", "run", "stimulus_id", "split", "repetition", "onset"]
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Layout:
    """The channels, rate and window every recording's epochs must share.

    Attributes
    ----------
    source : str
        The first recording, which set the layout.
    info : mne.Info
        Its epochs' measurement info (channel names, types, positions, rate).
    tmin : float
        Start of the epochs (seconds from the onset).
    n_times : int
        Samples per epoch.
    """

    source: str
    info: mne.Info
    tmin: float
    n_times: int

    @classmethod
    def of(cls, epochs: mne.BaseEpochs, source: str) -> Layout:
        """Return the layout of ``epochs`` from recording ``source``."""
        return cls(source, epochs.info.copy(), float(epochs.tmin), len(epochs.times))

    @property
    def ch_names(self) -> list[str]:
        """The channel names, in order."""
        return list(self.info["ch_names"])

    @property
    def sfreq(self) -> float:
        """The sampling rate (Hz)."""
        return float(self.info["sfreq"])

    def conform(self, epochs: mne.BaseEpochs, source: str) -> mne.BaseEpochs:
        """Return ``epochs`` with this layout's channel order.

        Raises
        ------
        DataError
            Naming ``source`` and what differs (channels, rate or length) from the first recording.
        """
        missing = [name for name in self.ch_names if name not in epochs.ch_names]
        extra = [name for name in epochs.ch_names if name not in self.ch_names]
        if missing or extra:
            raise DataError(
                f"{source}: channels differ from {self.source} after preprocessing "
                f"(missing: {', '.join(missing) or 'none'}; extra: {', '.join(extra) or 'none'}); "
                "expected every recording to end with the same channels"
            )
        if (float(epochs.info["sfreq"]), len(epochs.times)) != (self.sfreq, self.n_times):
            raise DataError(
                f"{source}: epochs of {len(epochs.times)} samples at {epochs.info['sfreq']:g} Hz; "
                f"expected {self.n_times} samples at {self.sfreq:g} Hz as in {self.source} "
                "(add a 'resample' step)"
            )
        if epochs.ch_names == self.ch_names:
            return epochs
        return epochs.copy().reorder_channels(self.ch_names)


def _trials(epochs: mne.BaseEpochs, path: mne_bids.BIDSPath, splits: pd.Series) -> pd.DataFrame:
    """Return the trial rows of one recording's epochs (repetitions are counted later)."""
    metadata = epochs.metadata.reset_index(drop=True)
    onsets = metadata["onset"] if "onset" in metadata else pd.Series(float("nan"),
                                                                      index=metadata.index)
    return pd.DataFrame({
        "subject": path.subject,
        "session": path.session or NOT_APPLICABLE,
        "run": path.run or NOT_APPLICABLE,
        "stimulus_id": metadata["stimulus_id"],
        "split": metadata["stimulus_id"].map(splits),
        "onset": onsets.astype(float).round(6),
    })


def _info(layout: Layout, cfg: PreprocessConfig, bad_channels: dict[str, list[str]]
          ) -> dict[str, Any]:
    """Return the content of info.json (contract 2)."""
    return {
        "sfreq": layout.sfreq,
        "tmin": layout.tmin,
        "ch_names": layout.ch_names,
        "ch_types": layout.info.get_channel_types(),
        "ch_pos": (None if cfg.positions == "none"
                   else channel_positions(layout.info, cfg.montage, layout.source)),
        "subjects": sorted(bad_channels),
        "bad_channels": bad_channels,
        "montage": cfg.montage,
        "steps": [step.model_dump() for step in cfg.steps],
    }


class EpochsCollector:
    """Stack the preprocessed epochs of a study's recordings, one recording at a time.

    Parameters
    ----------
    out_dir : Path
        Receives ``epochs.npy``, ``trials.tsv`` and ``info.json`` (contract 2).
    splits : pandas.Series
        Stimulus id -> split.
    """

    def __init__(self, out_dir: Path, splits: pd.Series) -> None:
        self.out_dir = Path(out_dir)
        self.splits = splits
        self.writer = RowStackWriter(self.out_dir / "epochs.npy")
        self.trials: list[pd.DataFrame] = []
        self.bad_channels: dict[str, list[str]] = {}
        self.layout: Layout | None = None

    def add(self, epochs: mne.BaseEpochs, bads: list[str], path: mne_bids.BIDSPath,
            source: str) -> int:
        """Append one recording's epochs (conformed to the first's layout); return how many.

        Raises
        ------
        DataError
            If its channels, rate or window differ from the first recording's.
        """
        self.layout = self.layout or Layout.of(epochs, source)
        epochs = self.layout.conform(epochs, source)
        self.writer.append(epochs.get_data())  # (n_epochs, n_chans, n_times)
        self.trials.append(_trials(epochs, path, self.splits))
        subject_bads = self.bad_channels.setdefault(path.subject, [])
        subject_bads += [name for name in bads if name not in subject_bads]
        return len(epochs)

    def finish(self, cfg: PreprocessConfig, start: float) -> dict[str, Any]:
        """Write the stacked epochs, ``trials.tsv`` and ``info.json``; return the summary.

        The caller has checked that at least one recording was added.
        """
        self.writer.close()
        table = pd.concat(self.trials, ignore_index=True)
        table["repetition"] = table.groupby(["subject", "stimulus_id"]).cumcount()
        write_tsv(table[TRIAL_COLUMNS], self.out_dir / "trials.tsv")
        write_json(_info(self.layout, cfg, self.bad_channels), self.out_dir / "info.json")
        counts = table["split"].value_counts()
        summary = {
            "n_trials": {split: int(counts.get(split, 0)) for split in SPLITS},
            "bad_channels": self.bad_channels,
            "n_recordings": len(self.trials),
            "seconds": round(time.perf_counter() - start, 2),
        }
        logger.info("%d trials from %d recordings in %.1f s: %s", len(table), len(self.trials),
                    summary["seconds"], summary["n_trials"])
        return summary


@PIPELINES.register("ieeg")
@PIPELINES.register("meg")
@PIPELINES.register("eeg")
def preprocess_sensors(cfg: PreprocessConfig, raw_dir: str | Path, out_dir: str | Path,
                       datatype: str = "eeg") -> dict[str, Any]:
    """Preprocess every recording of a BIDS study into one memory-mapped epochs array.

    Recordings are processed one at a time by the steps of ``cfg`` (steps are data:
    ``{fn, kwargs}`` naming registered functions), so memory holds one recording at most.

    Parameters
    ----------
    cfg : PreprocessConfig
        The ``preprocess`` section of ``params.yaml``.
    raw_dir : str or Path
        The BIDS root: ``sub-*/<datatype>/*_<datatype>.<ext>`` (extensions in
        :data:`pipeline.preprocess.recordings.RAW_EXTENSIONS`) and ``stimuli/stimuli.tsv``
        (``stimulus_id``, optional ``split``; without it, splits are drawn by stimulus with
        ``cfg.split_seed``). Annotations named after a stimulus id are the trials.
    out_dir : str or Path
        An existing, empty directory; receives ``epochs.npy`` (float32, ``[trial, channel,
        time]``), ``trials.tsv`` (one row per epoch) and ``info.json``.
    datatype : str
        The BIDS datatype of the recordings to read ("eeg", "meg", "ieeg").

    Returns
    -------
    dict
        ``n_trials`` (per split), ``bad_channels`` (per subject), ``n_recordings``, ``seconds``.

    Raises
    ------
    ParamsError
        If the steps, their kwargs or the montage are invalid.
    DataError
        If a recording, the stimulus table or a channel layout is missing or inconsistent.
    """
    start = time.perf_counter()
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    recordings = find_recordings(raw_dir, datatype)
    stimuli = read_stimuli(raw_dir, cfg.split_seed)
    plan = plan_steps(cfg.steps)
    standard_montage(cfg.montage)
    collector = EpochsCollector(out_dir, stimuli.set_index("stimulus_id")["split"])
    for path in recordings:
        began = time.perf_counter()
        source = path.fpath.name
        raw = read_recording(path)
        events = stimulus_events(raw, stimuli["stimulus_id"])
        if events.empty:
            logger.warning("sub-%s %s: no annotation names a stimulus of %s; skipped",
                           path.subject, source, raw_dir / "stimuli" / "stimuli.tsv")
            continue
        context = StepContext(source, cfg.montage, events, owns_data=True)  # raw is ours
        epochs, bads = run_steps(plan, raw, context)
        del raw
        n_epochs = collector.add(epochs, bads, path, source)
        logger.info("sub-%s %s: %d trials, bad channels: %s, %.1f s", path.subject, source,
                    n_epochs, ", ".join(bads) or "none", time.perf_counter() - began)
        del epochs
    if collector.layout is None:
        raise DataError(
            f"{raw_dir}: no trials; expected annotations whose description is a stimulus_id "
            f"of {raw_dir / 'stimuli' / 'stimuli.tsv'} (e.g. {stimuli['stimulus_id'].iloc[0]})"
        )
    return collector.finish(cfg, start)
