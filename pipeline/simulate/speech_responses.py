"""Source activity evoked by heard speech: temporal responses to sound, evoked responses to words.

Three parts, each a sum over the evoked sources' response components (the kernels of
:mod:`pipeline.simulate.responses`: gamma bumps, Gaussian bumps and damped oscillations
with latencies of 50-300 ms), each scaled to unit RMS over the study and then weighted
(``speech.weights``):

- envelope and spectrogram: temporal response functions. A component's drive is a fixed
  random linear readout of the acoustic features at each instant (the broadband envelope,
  or the band envelopes), convolved with its kernel.
- words: at each word's onset, every component responds with amplitude
  ``tanh(w . z + b)``, a fixed random readout of the word's latent ``z`` (one fixed random
  vector per vocabulary word), the same non-linear readout the image responses use.

Every readout and kernel depends only on the study seed, so it is the same for every
subject; subjects differ by their forward gains and noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve

from pipeline.simulate.responses import (
    RESPONSE_DURATION,
    ResponseModel,
    make_response_model,
    source_amplitudes,
)
from pipeline.simulate.seeding import make_rng

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig


@dataclass(frozen=True)
class SpeechResponseModel:
    """The fixed sound -> source-activity map of an auditory study.

    Attributes
    ----------
    envelope, spectrogram : ResponseModel
        Linear readouts of the envelope (1 feature) and of the band envelopes
        (``n_bands`` features), with their kernels.
    words : ResponseModel
        Non-linear readouts of the word latents, with their kernels.
    vocabulary : list of str
    word_latents : ndarray, shape (n_words, word_latent_dim)
        Row ``i`` is the latent of ``vocabulary[i]``.
    """

    envelope: ResponseModel
    spectrogram: ResponseModel
    words: ResponseModel
    vocabulary: list[str]
    word_latents: np.ndarray

    def latent_of(self, words: pd.Series) -> np.ndarray:
        """The latents of ``words`` (vocabulary words). Returns (n, word_latent_dim)."""
        index = {word: row for row, word in enumerate(self.vocabulary)}
        return self.word_latents[[index[word] for word in words]]


def make_speech_response_model(cfg: SimulateConfig, vocabulary: list[str]) -> SpeechResponseModel:
    """Draw the readouts, kernels and word latents of an auditory study.

    Parameters
    ----------
    cfg : SimulateConfig
        Uses ``seed``, ``n_sources``, ``sfreq`` and ``speech``.
    vocabulary : list of str
        Every word the segments may hold.

    Returns
    -------
    SpeechResponseModel
    """
    dim = cfg.speech.word_latent_dim
    rng = make_rng(cfg.seed, "word latents")
    latents = rng.standard_normal((len(vocabulary), dim)) / np.sqrt(dim)
    return SpeechResponseModel(
        envelope=make_response_model(cfg.seed, cfg.n_sources, 1, cfg.sfreq, "envelope TRF"),
        spectrogram=make_response_model(
            cfg.seed, cfg.n_sources, cfg.speech.n_bands, cfg.sfreq, "spectrogram TRF"
        ),
        words=make_response_model(cfg.seed, cfg.n_sources, dim, cfg.sfreq, "word responses"),
        vocabulary=list(vocabulary),
        word_latents=latents,
    )


def _convolve(drive: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Convolve each component's drive with its kernel and sum the components.

    (n, S, K, T) drives, (S, K, L) kernels -> (n, S, T), causal, cut to T samples.
    """
    n_times = drive.shape[-1]
    return fftconvolve(drive, kernels[None], axes=-1)[..., :n_times].sum(axis=2)


def temporal_response(model: ResponseModel, features: np.ndarray) -> np.ndarray:
    """Sources' responses to continuous features through linear readouts and kernels.

    Parameters
    ----------
    model : ResponseModel
    features : ndarray, shape (n_stimuli, n_features, n_times)

    Returns
    -------
    ndarray, shape (n_stimuli, n_sources, n_times)
    """
    drive = np.einsum("skf,nft->nskt", model.weights, features)
    return _convolve(drive, model.kernels)


def word_response(
    model: SpeechResponseModel, words: pd.DataFrame, stimulus_ids: list[str], n_times: int
) -> np.ndarray:
    """Sources' evoked responses at every word onset.

    Parameters
    ----------
    model : SpeechResponseModel
    words : pandas.DataFrame
        stimulus_id, word, onset (seconds from the stimulus onset).
    stimulus_ids : list of str
        The rows of the result.
    n_times : int

    Returns
    -------
    ndarray, shape (n_stimuli, n_sources, n_times)
    """
    n_sources, n_components = model.words.biases.shape
    impulses = np.zeros((len(stimulus_ids), n_sources, n_components, n_times))
    if len(words):
        row = pd.Index(stimulus_ids).get_indexer(words["stimulus_id"])
        sample = np.round(words["onset"].to_numpy() * model.words.sfreq).astype(np.int64)
        amplitudes = source_amplitudes(model.words, model.latent_of(words["word"]))  # (w, S, K)
        np.add.at(impulses, (row, slice(None), slice(None), sample),
                  amplitudes)
    return _convolve(impulses, model.words.kernels)


def _unit_rms(activity: np.ndarray) -> np.ndarray:
    """``activity`` scaled to unit RMS (unchanged when it is all zero)."""
    rms = np.sqrt(np.mean(activity**2))
    return activity / rms if rms > 0 else activity


def speech_source_activity(
    model: SpeechResponseModel,
    envelope: np.ndarray,
    bands: np.ndarray,
    words: pd.DataFrame,
    stimulus_ids: list[str],
    cfg: SimulateConfig,
) -> np.ndarray:
    """Source activity of each stimulus, from its onset to ``RESPONSE_DURATION`` after its end.

    Parameters
    ----------
    model : SpeechResponseModel
    envelope : ndarray, shape (n_stimuli, n_times_sound)
        At ``cfg.sfreq``.
    bands : ndarray, shape (n_stimuli, n_bands, n_times_sound)
    words : pandas.DataFrame
        stimulus_id, word, onset.
    stimulus_ids : list of str
    cfg : SimulateConfig
        Uses ``sfreq`` and ``speech.weights``.

    Returns
    -------
    ndarray, shape (n_stimuli, n_sources, n_times_sound + RESPONSE_DURATION * sfreq)
    """
    tail = int(round(RESPONSE_DURATION * cfg.sfreq))
    padding = ((0, 0), (0, 0), (0, tail))
    weights = cfg.speech.weights
    sound_envelope = np.pad(envelope[:, None], padding)
    sound_bands = np.pad(bands, padding)
    parts = [
        (weights.envelope, lambda: temporal_response(model.envelope, sound_envelope)),
        (weights.spectrogram, lambda: temporal_response(model.spectrogram, sound_bands)),
        (weights.words,
         lambda: word_response(model, words, stimulus_ids, sound_envelope.shape[-1])),
    ]
    return sum(weight * _unit_rms(part()) for weight, part in parts if weight > 0)
