"""Spoken sentences from espeak-ng: a waveform and the onset and offset of every word.

:class:`Synthesiser` drives the espeak-ng library bundled by the ``espeakng-loader`` wheel
through ctypes, in synchronous retrieval mode: a callback collects the 16-bit samples and
the word events (the sample where each word starts and its position in the text). Each
text token (a run of non-space characters, its edge punctuation stripped) that espeak-ng
speaks becomes one row of :attr:`Speech.words`; a number spoken as several words ("42",
"forty two") stays one row. A word ends where the next one starts, the last one where the
audible signal ends: samples after the last one louder than ``SILENCE`` (relative to full
scale) are cut off, so the last offset is the waveform's duration.

espeak-ng keeps state between utterances (its wave generator's filters and echo buffer)
and cannot be safely initialised twice in one process. Every utterance is therefore
synthesised in a child made with ``os.fork`` from a process that never initialises
espeak-ng: the child starts from the library's pristine state, with the C ``rand``
generator (noise of the Klatt and breathy voices) reseeded to its start-up value, so a text
gives a bit-identical waveform on every call and in every process. The child sends back the
samples and word events through a pipe and exits; a fork costs a few milliseconds. This
needs ``os.fork`` (Linux, macOS; not Windows) and, as with any fork, the parent's other
threads must not hold a lock the child needs (the child only runs espeak-ng and pickles).
Nothing else in the parent may initialise espeak-ng, or the children would inherit its state.
"""

from __future__ import annotations

import ctypes
import difflib
import os
import pickle
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import pandas as pd

SILENCE = 1e-3
RATE_RANGE = (80, 450)  # espeakRATE_MINIMUM, espeakRATE_MAXIMUM (words per minute)

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EE_OK = 0
_RATE = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_FULL_SCALE = 32768.0

_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` (speak_lib.h)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character index into the text
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),  # the same instant in samples
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    """``espeak_VOICE`` (speak_lib.h)."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),  # priority byte, then the language code
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Speech:
    """One spoken text.

    Attributes
    ----------
    waveform : ndarray, shape (n_samples,), float32
        Mono, in [-1, 1], ending with the last audible sample.
    sfreq : int
        Sampling rate in Hz (espeak-ng's native 22050).
    words : pandas.DataFrame
        One row per spoken word in order: word (str, edge punctuation stripped), onset and
        offset (float, seconds from the waveform start).
    """

    waveform: np.ndarray
    sfreq: int
    words: pd.DataFrame


@dataclass(frozen=True)
class _Paths:
    library: str
    data: str


@dataclass(frozen=True)
class _Utterance:
    """What a child sends back: int16 samples and (text_position, sample) per word event."""

    samples: np.ndarray
    sfreq: int
    word_events: list[tuple[int, int]]


def _espeak_paths() -> _Paths:
    """Locate the espeak-ng library and data of the ``espeakng-loader`` wheel.

    Raises
    ------
    ModuleNotFoundError
        If ``espeakng-loader`` is not installed.
    """
    try:
        import espeakng_loader
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "speech synthesis needs espeak-ng: pip install espeakng-loader"
        ) from error
    return _Paths(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())


def _initialise(paths: _Paths) -> tuple[ctypes.CDLL, int]:
    """Load and initialise espeak-ng (in a fresh child only); return it and its rate."""
    library = ctypes.CDLL(paths.library)
    library.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    sfreq = library.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS, 0, paths.data.encode(), _INITIALIZE_DONT_EXIT
    )
    if sfreq <= 0:
        raise RuntimeError(f"espeak-ng failed to initialise with data in {paths.data}")
    ctypes.CDLL(None).srand(1)
    return library, sfreq


def _voice_names(library: ctypes.CDLL) -> list[str]:
    """The language codes of espeak-ng's voices, sorted (``en-us``, ``fr-fr``, ...)."""
    voices = library.espeak_ListVoices(None)
    names = []
    index = 0
    while voices[index]:
        names.append(voices[index].contents.languages[1:].decode())
        index += 1
    return sorted(names)


def _select_voice(library: ctypes.CDLL, voice: str) -> None:
    """Make ``voice`` current; raise ValueError naming it and close known ones if unknown."""
    if library.espeak_SetVoiceByName(voice.encode()) == _EE_OK:
        return
    names = _voice_names(library)
    close = difflib.get_close_matches(voice, names, n=8, cutoff=0.5) or names[:8]
    raise ValueError(
        f"unknown espeak-ng voice {voice!r}; expected one of {', '.join(close)}, ... "
        f"({len(names)} voices)"
    )


def _check_voice(paths: _Paths, voice: str) -> None:
    """Raise ValueError if espeak-ng has no voice ``voice`` (run in a child)."""
    library, _ = _initialise(paths)
    _select_voice(library, voice)


def _synthesise(paths: _Paths, voice: str, words_per_minute: int, text: str) -> _Utterance:
    """Speak ``text`` with a freshly initialised espeak-ng (run in a child)."""
    library, sfreq = _initialise(paths)
    chunks: list[np.ndarray] = []
    word_events: list[tuple[int, int]] = []

    def collect(wav: Any, n_samples: int, events: Any) -> int:
        if n_samples > 0:
            chunks.append(np.ctypeslib.as_array(wav, (n_samples,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                word_events.append((event.text_position, event.sample))
            index += 1
        return 0

    callback = _SynthCallback(collect)
    library.espeak_SetSynthCallback(callback)
    _select_voice(library, voice)
    library.espeak_SetParameter(_RATE, words_per_minute, 0)
    encoded = text.encode()
    status = library.espeak_Synth(
        encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
    )
    if status != _EE_OK:
        raise RuntimeError(f"espeak-ng failed to speak {text!r} (error {status})")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return _Utterance(samples, sfreq, word_events)


def _run_child(write_end: int, job: Callable[..., Any], args: tuple) -> NoReturn:
    """Send the pickled ``(True, job(*args))`` or ``(False, exception)`` and exit."""
    code = 1
    try:
        try:
            outcome = (True, job(*args))
        except Exception as error:  # re-raised by the parent
            outcome = (False, error)
        message = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as sink:
            sink.write(message)
        code = 0
    finally:
        os._exit(code)


def _in_fresh_process(job: Callable[..., Any], *args: Any) -> Any:
    """Return ``job(*args)`` computed in a forked child, re-raising what it raised."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _run_child(write_end, job, args)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as source:
        message = source.read()
    _, status = os.waitpid(pid, 0)
    if not message:
        raise RuntimeError(
            f"the espeak-ng child process died (exit code {os.waitstatus_to_exitcode(status)})"
        )
    succeeded, value = pickle.loads(message)
    if not succeeded:
        raise value
    return value


def _audible_length(samples: np.ndarray) -> int:
    """The number of samples up to and including the last one louder than ``SILENCE``."""
    loud = np.flatnonzero(np.abs(samples.astype(np.float32)) > SILENCE * _FULL_SCALE)
    return int(loud[-1]) + 1 if loud.size else 0


def _word_table(
    text: str, word_events: list[tuple[int, int]], sfreq: int, duration: float
) -> pd.DataFrame:
    """One row per text token with a word event: stripped word, first onset, next onset."""
    tokens = list(_TOKEN.finditer(text))
    ends = [token.end() for token in tokens]
    onsets: dict[int, float] = {}
    for text_position, sample in word_events:
        index = bisect_right(ends, text_position - 1)  # the token at or after the position
        if index < len(tokens):
            onsets.setdefault(index, sample / sfreq)
    words, starts = [], []
    for index, onset in sorted(onsets.items()):
        word = _EDGE_PUNCTUATION.sub("", tokens[index].group())
        if word:
            words.append(word)
            starts.append(onset)
    return pd.DataFrame({
        "word": words,
        "onset": np.array(starts, dtype=float),
        "offset": np.array(starts[1:] + [duration] if words else [], dtype=float),
    })


class Synthesiser:
    """Text to speech with espeak-ng, deterministic and with word timings.

    Parameters
    ----------
    voice : str
        An espeak-ng voice: a language code such as ``"en-us"`` or ``"en-gb"``, optionally
        with a variant (``"en-us+f3"``).
    words_per_minute : int
        Speaking rate, from 80 to 450.

    Raises
    ------
    ValueError
        If the voice is unknown (the message lists close ones) or the rate out of range.
    ModuleNotFoundError
        If ``espeakng-loader`` is not installed.

    Examples
    --------
    >>> speech = Synthesiser("en-us", 160).speak("the old farmer painted a boat")
    >>> list(speech.words["word"])
    ['the', 'old', 'farmer', 'painted', 'a', 'boat']
    """

    def __init__(self, voice: str = "en-us", words_per_minute: int = 160) -> None:
        low, high = RATE_RANGE
        if not low <= words_per_minute <= high:
            raise ValueError(
                f"words_per_minute must be in [{low}, {high}]; got {words_per_minute}"
            )
        self.voice = voice
        self.words_per_minute = words_per_minute
        self._paths = _espeak_paths()
        _in_fresh_process(_check_voice, self._paths, voice)

    def __repr__(self) -> str:
        return f"Synthesiser(voice={self.voice!r}, words_per_minute={self.words_per_minute})"

    def speak(self, text: str) -> Speech:
        """Synthesise ``text``; the same text always gives the same waveform.

        Parameters
        ----------
        text : str
            What to say (UTF-8 text; punctuation shapes the prosody).

        Returns
        -------
        Speech
            The waveform, its rate, and one row per spoken word.

        Raises
        ------
        ValueError
            If ``text`` is empty or espeak-ng speaks no word of it.
        """
        if not text.strip():
            raise ValueError(f"text to speak must contain words; got {text!r}")
        utterance = _in_fresh_process(
            _synthesise, self._paths, self.voice, self.words_per_minute, text
        )
        samples = utterance.samples[: _audible_length(utterance.samples)]
        waveform = (samples / _FULL_SCALE).astype(np.float32)
        words = _word_table(text, utterance.word_events, utterance.sfreq,
                            samples.size / utterance.sfreq)
        if words.empty:
            raise ValueError(f"espeak-ng spoke no word of {text!r}")
        return Speech(waveform, utterance.sfreq, words)
