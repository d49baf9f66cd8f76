"""The ``resemblyzer`` target: the 256-d utterance embedding of an audio stimulus.

``resemblyzer``'s voice encoder (the ``speech`` extra) on the whole segment, pauses
included (see :func:`louder`); unit norm.
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.targets.audio import audio_paths, require, waveform_batches
from pipeline.targets.base import register_target
from pipeline.targets.options import TargetsConfig

if TYPE_CHECKING:
    from resemblyzer import VoiceEncoder

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def load_voice_encoder() -> VoiceEncoder:
    """Load resemblyzer's packaged voice encoder on the CPU.

    Raises
    ------
    ParamsError
        If ``resemblyzer`` (or the ``pkg_resources`` of setuptools<81 that its webrtcvad
        imports) is missing.
    """
    require("resemblyzer", {"resemblyzer": "resemblyzer", "webrtcvad": "webrtcvad",
                            "pkg_resources": "setuptools<81"})
    with warnings.catch_warnings():  # pkg_resources and scipy.ndimage.morphology deprecations
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        from resemblyzer import VoiceEncoder

    encoder = VoiceEncoder("cpu", verbose=False)
    logger.info("loaded resemblyzer's voice encoder")
    return encoder


def louder(waveform: np.ndarray) -> np.ndarray:
    """Raise a waveform's level to resemblyzer's -30 dBFS if it is quieter (silence kept).

    This is the volume step of ``resemblyzer.preprocess_wav`` (increase only), which
    returns NaN for an all-zero waveform; silence is returned unchanged.
    """
    from resemblyzer.audio import normalize_volume
    from resemblyzer.hparams import audio_norm_target_dBFS

    if not np.any(waveform):
        return waveform
    return normalize_volume(waveform, audio_norm_target_dBFS, increase_only=True)


@register_target("resemblyzer")
def resemblyzer_embeddings(cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame
                           ) -> np.ndarray:
    """Return each stimulus' resemblyzer utterance embedding.

    The waveform is volume-normalised as resemblyzer's ``preprocess_wav`` does, but its
    silences are not trimmed (``preprocess_wav`` removes pauses found by webrtcvad): a
    stimulus is embedded as it was heard, pauses included, and an all-silent segment, which
    trimming would leave empty, still gets an embedding. ``embed_utterance`` averages the
    embeddings of 1.6-s partial windows (zero-padded when shorter) and normalises.

    Parameters
    ----------
    cfg : TargetsConfig
        Uses ``batch_size`` (files read between progress checks).
    stimuli_dir : Path
        The study's ``stimuli/`` folder; audio paths in ``stimuli`` are relative to it.
    stimuli : DataFrame
        The rows of ``stimuli.tsv`` (column ``audio``).

    Returns
    -------
    ndarray, shape (n_stimuli, 256)
        float32, unit norm.
    """
    paths = audio_paths(stimuli_dir, stimuli, "resemblyzer")
    encoder = load_voice_encoder()
    latents = [encoder.embed_utterance(louder(waveform))
               for batch in waveform_batches(paths, cfg.batch_size, "resemblyzer")
               for waveform in batch]
    return np.stack(latents).astype(np.float32)
