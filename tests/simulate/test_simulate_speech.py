"""espeak-ng speech synthesis: waveform, word timings, determinism and errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("espeakng_loader", reason="speech synthesis needs pip install espeakng-loader")

from pipeline.simulate.speech import Synthesiser  # noqa: E402

SENTENCE = "the old farmer painted a boat"


@pytest.fixture(scope="module")
def synthesiser() -> Synthesiser:
    return Synthesiser("en-us", 160)


def test_waveform_is_plausible_speech(synthesiser):
    speech = synthesiser.speak(SENTENCE)
    duration = speech.waveform.size / speech.sfreq
    assert speech.sfreq == 22050
    assert speech.waveform.dtype == np.float32 and speech.waveform.ndim == 1
    assert 1.0 <= duration <= 4.0
    assert np.abs(speech.waveform).max() <= 1.0
    assert speech.waveform.std() > 0.01


def test_words_follow_the_text(synthesiser):
    speech = synthesiser.speak("The old farmer, painted a boat — near the river. Don't!")
    words = speech.words
    duration = speech.waveform.size / speech.sfreq
    assert list(words.columns) == ["word", "onset", "offset"]
    assert list(words["word"]) == ["The", "old", "farmer", "painted", "a", "boat", "near",
                                   "the", "river", "Don't"]
    assert (np.diff(words["onset"]) > 0).all()
    assert (words["onset"] < words["offset"]).all()
    assert words["offset"].iloc[-1] <= duration + 1e-9


def test_same_text_gives_identical_waveform(synthesiser):
    first, second = synthesiser.speak(SENTENCE), synthesiser.speak(SENTENCE)
    np.testing.assert_array_equal(first.waveform, second.waveform)
    assert first.words.equals(second.words)


def test_faster_speech_is_shorter(synthesiser):
    fast = Synthesiser("en-us", 320).speak(SENTENCE)
    assert fast.waveform.size < 0.8 * synthesiser.speak(SENTENCE).waveform.size


def test_unknown_voice_is_named():
    with pytest.raises(ValueError, match="'xx-nowhere'.*expected one of"):
        Synthesiser("xx-nowhere")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_raises(synthesiser, text):
    with pytest.raises(ValueError, match="must contain words"):
        synthesiser.speak(text)
