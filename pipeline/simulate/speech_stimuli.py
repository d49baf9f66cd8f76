"""Heard speech as a simulated study's stimuli (``stimulus: speech``).

The stimuli are segments of synthesised sentences (:mod:`pipeline.simulate.speech_segments`);
their acoustic features (:mod:`pipeline.simulate.speech_features`) and their words drive
the sources (:mod:`pipeline.simulate.speech_responses`). Written under ``stimuli/``:
``stimuli.tsv`` (stimulus_id, split, audio, caption = the segment's words, ...), ``audio/``
(16-bit mono WAVs), ``words.tsv`` (each word's onset and offset in its segment) and
``latents.npy``, the simulator's own summary of each segment (its acoustic features
averaged in ``LATENT_WINDOWS`` time windows, then the mean latent of its words), the
``simulator`` target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.audio import write_wav
from pipeline.io import write_json, write_tsv
from pipeline.simulate.sentences import vocabulary
from pipeline.simulate.speech_features import band_edges, band_envelopes, envelope
from pipeline.simulate.speech_responses import (
    SpeechResponseModel,
    make_speech_response_model,
    speech_source_activity,
)
from pipeline.simulate.speech_segments import Segments, make_segments
from pipeline.simulate.stimulus_sets import STIMULUS_SETS

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

LATENT_WINDOWS = 6


def _unit_rms_features(features: np.ndarray) -> np.ndarray:
    """Each feature (axis 1) divided by its RMS over stimuli and time (silence stays 0)."""
    rms = np.sqrt(np.mean(features**2, axis=(0, 2), keepdims=True))
    return features / np.where(rms > 0, rms, 1.0)


def _window_means(features: np.ndarray, n_windows: int) -> np.ndarray:
    """Means of ``features`` (n, F, T) in equal time windows, flattened. Returns (n, F * w)."""
    windows = np.array_split(np.arange(features.shape[-1]), n_windows)
    means = np.stack([features[..., index].mean(axis=-1) for index in windows], axis=-1)
    return means.reshape(len(features), -1)


@dataclass(frozen=True)
class SpeechSet:
    """The segments, their features at the recording's rate and the response model.

    Attributes
    ----------
    segments : Segments
    envelope : ndarray, shape (n_segments, n_times)
        Unit-RMS broadband envelope at ``sfreq``.
    bands : ndarray, shape (n_segments, n_bands, n_times)
        Unit-RMS band envelopes at ``sfreq``.
    model : SpeechResponseModel
    """

    segments: Segments
    envelope: np.ndarray
    bands: np.ndarray
    model: SpeechResponseModel
    task = "listening"
    summary = (
        "heard speech",
        "listened to synthesised English sentences, heard as segments of equal length "
        "(stimuli/audio/, their words in stimuli/words.tsv); each {label} response is a "
        "temporal response to the sound's envelope and frequency bands plus an evoked "
        "response to each word's latent",
    )

    @property
    def table(self) -> pd.DataFrame:
        """stimulus_id, split, audio, caption, n_words, sentences."""
        return self.segments.table

    def latents(self) -> tuple[np.ndarray, list[str]]:
        """The simulator's summary of each segment and the name of each column."""
        acoustic = _window_means(
            np.concatenate([self.envelope[:, None], self.bands], axis=1), LATENT_WINDOWS
        )
        names = [f"{feature}_w{window}" for feature in
                 ["envelope", *(f"band{b}" for b in range(self.bands.shape[1]))]
                 for window in range(LATENT_WINDOWS)]
        words = self.segments.words
        dim = self.model.word_latents.shape[1]
        mean_word = np.zeros((len(self.table), dim))
        for row, stimulus_id in enumerate(self.table["stimulus_id"]):
            heard = words.loc[words["stimulus_id"] == stimulus_id, "word"]
            if len(heard):
                mean_word[row] = self.model.latent_of(heard).mean(axis=0)
        names += [f"word_latent{d}" for d in range(dim)]
        return np.concatenate([acoustic, mean_word], axis=1).astype(np.float32), names

    def write(self, root: Path) -> None:
        """Write stimuli.tsv, audio/*.wav, words.tsv, latents.npy and latents.json."""
        folder = Path(root) / "stimuli"
        (folder / "audio").mkdir(parents=True, exist_ok=True)
        for waveform, name in zip(self.segments.audio, self.table["audio"], strict=True):
            write_wav(folder / name, waveform, self.segments.sfreq)
        write_tsv(self.table, folder / "stimuli.tsv")
        write_tsv(self.segments.words, folder / "words.tsv")
        latents, names = self.latents()
        np.save(folder / "latents.npy", latents)
        write_json({"columns": names, "band_edges_hz": band_edges(self.bands.shape[1]).round(1)
                    .tolist()}, folder / "latents.json")

    def source_activity(self, cfg: SimulateConfig) -> np.ndarray:
        """Each segment's source activity. Returns (n_segments, n_sources, n_times)."""
        return speech_source_activity(
            self.model, self.envelope, self.bands, self.segments.words,
            self.table["stimulus_id"].tolist(), cfg,
        )


@STIMULUS_SETS.register("speech")
def make_speech_set(cfg: SimulateConfig) -> SpeechSet:
    """Synthesise the segments and compute the features that drive the responses.

    Parameters
    ----------
    cfg : SimulateConfig
        Uses ``seed``, ``stimuli``, ``sfreq``, ``n_sources`` and ``speech``.

    Returns
    -------
    SpeechSet
    """
    segments = make_segments(cfg)
    sound_envelope = envelope(segments.audio, segments.sfreq, cfg.sfreq)  # (n, T)
    bands = band_envelopes(segments.audio, segments.sfreq, cfg.sfreq, cfg.speech.n_bands)
    return SpeechSet(
        segments=segments,
        envelope=_unit_rms_features(sound_envelope[:, None])[:, 0],
        bands=_unit_rms_features(bands),
        model=make_speech_response_model(cfg, vocabulary()),
    )
