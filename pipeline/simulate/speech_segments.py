"""Speech segments: sentences spoken one after another, cut into equal stimuli.

Each split has its own sentences (never shared with another split, so test segments are
zero-shot by stimulus). A split's sentences are synthesised in turn, separated by a pause,
into one continuous stream that is cut into back-to-back segments of ``segment_duration``
seconds, as a story heard in 3-s windows. A word belongs to the segment holding its onset;
a word cut by a segment's end keeps its onset and ends at the segment's end.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.audio import resample
from pipeline.simulate.seeding import make_rng
from pipeline.simulate.sentences import SentenceSource
from pipeline.simulate.speech import Synthesiser

if TYPE_CHECKING:
    from pipeline.simulate.options import SimulateConfig

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
WORD_COLUMNS = ("stimulus_id", "word", "onset", "offset")


@dataclass(frozen=True)
class Segments:
    """The speech segments of a study, rows in stimulus order.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per segment: stimulus_id, split, audio (``audio/<id>.wav``), caption (its
        words), n_words, sentences (the sentences it overlaps, " | "-joined).
    audio : ndarray, shape (n_segments, n_audio_samples), float32
        The waveforms at ``sfreq``, in [-1, 1].
    sfreq : int
    words : pandas.DataFrame
        One row per word: stimulus_id, word, onset, offset (seconds from the segment start).
    """

    table: pd.DataFrame
    audio: np.ndarray
    sfreq: int
    words: pd.DataFrame


@dataclass(frozen=True)
class _Stream:
    """Sentences spoken one after another.

    Attributes
    ----------
    waveform : ndarray
        At the synthesiser's rate.
    sfreq : int
    words : pandas.DataFrame
        word, onset, offset in seconds from the stream start.
    sentences : list of (start, end, text)
    """

    waveform: np.ndarray
    sfreq: int
    words: pd.DataFrame
    sentences: list[tuple[float, float, str]]


def _stream(
    source: SentenceSource, synthesiser: Synthesiser, duration: float, pause: float
) -> _Stream:
    """Speak new sentences one after another until ``duration`` seconds are filled."""
    pieces, word_tables, sentences = [], [], []
    start, sfreq = 0.0, 0
    while start < duration:
        text = source.draw()
        speech = synthesiser.speak(text)
        sfreq = speech.sfreq
        gap = np.zeros(int(round(pause * sfreq)), np.float32)
        pieces += [speech.waveform, gap]
        word_tables.append(speech.words.assign(onset=speech.words["onset"] + start,
                                               offset=speech.words["offset"] + start))
        length = speech.waveform.size / sfreq
        sentences.append((start, start + length, text))
        start += length + gap.size / sfreq
    return _Stream(np.concatenate(pieces), sfreq, pd.concat(word_tables, ignore_index=True),
                   sentences)


def _cut(
    split: str, count: int, first_index: int, stream: _Stream, cfg: SimulateConfig
) -> tuple[list[dict], list[np.ndarray], list[pd.DataFrame]]:
    """Cut the first ``count`` segments of a split's stream: rows, waveforms, word tables."""
    native, words = stream.sfreq, stream.words
    seconds = cfg.speech.segment_duration
    rows, audio, word_tables = [], [], []
    for position in range(count):
        begin, end = position * seconds, (position + 1) * seconds
        stimulus_id = f"seg-{first_index + position:04d}"
        native_samples = int(round(seconds * native))
        start_sample = int(round(begin * native))
        piece = stream.waveform[start_sample : start_sample + native_samples]
        piece = np.pad(piece, (0, native_samples - piece.size))
        audio.append(resample(piece, native, cfg.speech.audio_sfreq))
        inside = words[(words["onset"] >= begin) & (words["onset"] < end)]
        table = pd.DataFrame({
            "stimulus_id": stimulus_id,
            "word": inside["word"].to_numpy(),
            "onset": (inside["onset"] - begin).round(4).to_numpy(),
            "offset": (inside["offset"].clip(upper=end) - begin).round(4).to_numpy(),
        }, columns=list(WORD_COLUMNS))
        word_tables.append(table)
        heard = [text for first, last, text in stream.sentences if first < end and last > begin]
        rows.append({
            "stimulus_id": stimulus_id,
            "split": split,
            "audio": f"audio/{stimulus_id}.wav",
            "caption": " ".join(table["word"]),
            "n_words": len(table),
            "sentences": " | ".join(heard),
        })
    return rows, audio, word_tables


def make_segments(cfg: SimulateConfig) -> Segments:
    """Synthesise the sentences of every split and cut them into segments.

    Parameters
    ----------
    cfg : SimulateConfig
        Uses ``seed``, ``stimuli`` (segments per split) and ``speech``.

    Returns
    -------
    Segments
        Train, then val, then test segments.
    """
    synthesiser = Synthesiser(cfg.speech.voice, cfg.speech.words_per_minute)
    source = SentenceSource(make_rng(cfg.seed, "sentences"))
    rows, audio, word_tables = [], [], []
    for split in SPLITS:
        count = getattr(cfg.stimuli, split)
        begin = time.perf_counter()
        stream = _stream(source, synthesiser, count * cfg.speech.segment_duration,
                         cfg.speech.pause)
        split_rows, split_audio, split_words = _cut(split, count, len(rows), stream, cfg)
        rows += split_rows
        audio += split_audio
        word_tables += split_words
        logger.info("spoke %d %s sentences into %d segments in %.1f s", len(stream.sentences),
                    split, count, time.perf_counter() - begin)
    return Segments(
        table=pd.DataFrame(rows),
        audio=np.stack(audio),
        sfreq=cfg.speech.audio_sfreq,
        words=pd.concat(word_tables, ignore_index=True),
    )
