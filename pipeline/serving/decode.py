"""Decode with a bundle: epochs (or a raw recording and its events) -> latents -> retrieval."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np
import pandas as pd

from pipeline.encoders.model import ScaledEncoder
from pipeline.encoders.predict import predict_rows
from pipeline.encoders.subjects import subject_indices
from pipeline.errors import DataError, ParamsError
from pipeline.generators.latents import unit_rows
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.step import StepContext, plan_steps, run_steps
from pipeline.serving.bundle import Bundle, Gallery

MAX_K = 100


def as_epochs(array: np.ndarray, signal: dict[str, Any], source: str) -> np.ndarray:
    """Check an uploaded array against the encoder's input and return it as (n, C, T) float32.

    A 3-D array is (trial, channel, time). A 2-D array is one epoch (channel, time), or, for a
    bundle of fMRI betas (one time point), (trial, voxel).

    Raises
    ------
    DataError
        Naming ``source``, the shape or dtype found and the one expected.
    """
    n_chans, n_times = int(signal["n_chans"]), int(signal["n_times"])
    expected = f"(trial, {n_chans}, {n_times}) or ({n_chans}, {n_times})"
    if array.dtype.kind not in "fiu":
        raise DataError(f"{source}: dtype {array.dtype}; expected a real numeric array")
    if array.ndim == 2:
        array = array[:, :, None] if n_times == 1 and array.shape[1] == n_chans else array[None]
    if array.ndim != 3 or array.shape[1:] != (n_chans, n_times):
        raise DataError(f"{source}: shape {array.shape}; expected {expected}")
    if len(array) == 0:
        raise DataError(f"{source}: no trial; expected at least one epoch")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise DataError(f"{source}: {int((~np.isfinite(array)).sum())} values are not finite; "
                        "expected finite numbers")
    return array


def decode(model: ScaledEncoder, epochs: np.ndarray, subject: str | None,
           subjects: list[str]) -> np.ndarray:
    """Latents of ``epochs`` (n, C, T) of one subject.

    A subject the encoder was not trained on (or None) goes through the average of its
    subject layers.

    Returns
    -------
    ndarray, shape (n, dim), float32
    """
    index = subject_indices([subject] * len(epochs), subjects)  # (n,)
    return predict_rows(model, epochs, np.arange(len(epochs)), index)


@dataclass(frozen=True)
class Match:
    """One retrieved stimulus: its id, split, caption (or None) and cosine similarity."""

    stimulus_id: str
    split: str
    caption: str | None
    score: float


def retrieve(gallery: Gallery, latents: np.ndarray, k: int, split: str) -> list[list[Match]]:
    """The ``k`` gallery stimuli of ``split`` nearest (cosine) to each latent, best first.

    Raises
    ------
    ValueError
        If ``k`` is out of range or ``split`` unknown.
    """
    rows = gallery.rows(split)
    if not 1 <= k <= min(MAX_K, len(rows)):
        raise ValueError(f"got k={k}; expected 1 to {min(MAX_K, len(rows))} (the {split!r} "
                         "gallery's size, at most 100)")
    scores = unit_rows(latents.astype(np.float64)) @ gallery.unit[rows].T  # (n, n_rows)
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (n, k)
    table = gallery.table  # columns as arrays: no DataFrame indexing per match
    ids, splits = table["stimulus_id"].to_numpy(), table["split"].to_numpy()
    captions = (table["caption"].to_numpy() if "caption" in table.columns
                else np.full(len(table), None, dtype=object))
    return [[Match(str(ids[row]), str(splits[row]),
                   None if captions[row] is None else str(captions[row]), round(float(score), 6))
             for row, score in zip(rows[order], scores[i, order], strict=True)]
            for i, order in enumerate(best)]


def read_events(payload: bytes, source: str, sfreq: float) -> pd.DataFrame:
    """Parse an events table (TSV: ``onset`` in seconds, ``stimulus_id`` or ``trial_type``).

    Returns
    -------
    pandas.DataFrame
        ``onset`` (on the recording's sample grid) and ``stimulus_id``, in time order.

    Raises
    ------
    DataError
        If the table cannot be read or lacks the columns.
    """
    try:
        table = pd.read_csv(io.BytesIO(payload), sep="\t", dtype={"stimulus_id": str,
                                                                  "trial_type": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: not a readable TSV table ({exc})") from None
    label = "stimulus_id" if "stimulus_id" in table.columns else "trial_type"
    if "onset" not in table.columns or label not in table.columns:
        raise DataError(f"{source}: columns {', '.join(map(str, table.columns))}; expected "
                        "onset (seconds) and stimulus_id or trial_type")
    onset = pd.to_numeric(table["onset"], errors="coerce").to_numpy(dtype=np.float64)
    if len(table) == 0 or not np.isfinite(onset).all() or (onset < 0).any():
        raise DataError(f"{source}: onsets must be finite seconds >= 0, one event at least")
    samples = np.round(onset * sfreq)
    repeated = pd.Series(samples).duplicated(keep=False).to_numpy()
    if repeated.any():
        raise DataError(f"{source}: {int(repeated.sum())} events share a sample at "
                        f"{sfreq:g} Hz (first at onset {onset[repeated][0]:g} s); expected "
                        "one event per sample")
    events = pd.DataFrame({"onset": samples / sfreq,
                           "stimulus_id": table[label].astype(str).to_numpy()})
    return events.sort_values("onset", kind="stable").reset_index(drop=True)


def require_raw_decoding(bundle: Bundle) -> None:
    """Raise a DataError unless the bundle decodes epochs cut from raw M/EEG/iEEG recordings."""
    if bundle.signal.get("kind") != "epochs":
        raise DataError(f"bundle {bundle.name!r} decodes fMRI betas; upload them as .npy "
                        "(trial, voxel), not a raw recording")


def epochs_from_raw(bundle: Bundle, raw: mne.io.BaseRaw, events: pd.DataFrame, source: str
                    ) -> tuple[np.ndarray, pd.DataFrame]:
    """Preprocess a recording with the bundle's steps and cut its epochs at ``events``.

    Returns
    -------
    epochs : ndarray, shape (n, C, T), float32
        In the bundle's channel order.
    trials : pandas.DataFrame
        ``onset`` and ``stimulus_id`` of each epoch kept by the steps.

    Raises
    ------
    DataError
        If the bundle decodes fMRI betas, or the preprocessed recording's channels, rate or
        window differ from the encoder's, or its values are not finite.
    """
    require_raw_decoding(bundle)
    signal = bundle.signal
    cfg = PreprocessConfig.model_validate(bundle.manifest["preprocess"])
    try:
        epochs, _ = run_steps(plan_steps(cfg.steps), raw,
                              StepContext(source, cfg.montage, events, owns_data=True))
    except ParamsError as exc:
        raise DataError(str(exc)) from None
    except DataError:
        raise
    except (RuntimeError, ValueError) as exc:  # MNE on a recording the steps cannot take
        raise DataError(f"{source}: the bundle's preprocessing failed on it "
                        f"({str(exc).splitlines()[0]})") from None
    missing = [name for name in signal["ch_names"] if name not in epochs.ch_names]
    if missing:
        raise DataError(f"{source}: after preprocessing, channels {', '.join(missing[:5])} "
                        f"are missing ({len(missing)} in all); expected the bundle's channels")
    if float(epochs.info["sfreq"]) != float(signal["sfreq"]) or \
            len(epochs.times) != int(signal["n_times"]):
        raise DataError(f"{source}: epochs of {len(epochs.times)} samples at "
                        f"{epochs.info['sfreq']:g} Hz; expected {signal['n_times']} at "
                        f"{signal['sfreq']:g} Hz")
    data = epochs.copy().reorder_channels(list(signal["ch_names"])).get_data()  # (n, C, T)
    if not np.isfinite(data).all():
        raise DataError(f"{source}: after preprocessing, {int((~np.isfinite(data)).sum())} "
                        "values are not finite; expected finite numbers")
    trials = epochs.metadata.reset_index(drop=True)[["onset", "stimulus_id"]]
    return data.astype(np.float32), trials
