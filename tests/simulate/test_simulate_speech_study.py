"""The simulated auditory study: sentences, segments, acoustic features, responses, BIDS root."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.io import wavfile

pytest.importorskip("espeakng_loader", reason="speech synthesis needs pip install espeakng-loader")

from pipeline.simulate.modalities import simulate_study  # noqa: E402
from pipeline.simulate.options import SimulateConfig  # noqa: E402
from pipeline.simulate.seeding import make_rng  # noqa: E402
from pipeline.simulate.sentences import SentenceSource, vocabulary  # noqa: E402
from pipeline.simulate.speech_features import band_edges, band_envelopes, envelope  # noqa: E402
from pipeline.simulate.speech_responses import (  # noqa: E402
    make_speech_response_model,
    speech_source_activity,
    temporal_response,
)
from pipeline.simulate.speech_segments import make_segments  # noqa: E402
from pipeline.targets.compute import compute_targets  # noqa: E402

SPEECH = {"stimulus": "speech", "sfreq": 200.0, "isi": [3.2, 3.4],
          "oracle": {"tmin": 0.0, "tmax": 3.0, "sfreq": 10.0, "n_noise_epochs": 100}}


@pytest.fixture(scope="module")
def speech_config(make_config):
    """The tiny simulator settings with speech stimuli, changed by keyword."""

    def make(**changes: object) -> SimulateConfig:
        return make_config(**{**SPEECH, **changes})

    return make


@pytest.fixture(scope="module")
def segments(speech_config):
    return make_segments(speech_config())


def test_sentences_never_repeat_and_use_the_vocabulary():
    source = SentenceSource(make_rng(0, "sentences"))
    drawn = [source.draw() for _ in range(300)]
    assert len(set(drawn)) == 300
    words = {word for text in drawn for word in text.split()}
    assert words <= set(vocabulary())
    assert len(words) > 100  # the segments share words, but many of them


def test_segments_have_equal_audio_and_words_inside(segments):
    table = segments.table
    assert table["split"].value_counts().to_dict() == {"train": 12, "val": 4, "test": 4}
    assert segments.audio.shape == (20, 3 * 16000)
    assert np.abs(segments.audio).max() <= 1.0
    assert (segments.audio.std(axis=1) > 0.01).all()  # every segment holds speech
    words = segments.words
    assert ((words["onset"] >= 0) & (words["onset"] < 3.0) & (words["offset"] <= 3.0)).all()
    assert (words["offset"] > words["onset"]).all()
    joined = words.groupby("stimulus_id", sort=False)["word"].agg(" ".join)
    assert table.set_index("stimulus_id")["caption"].to_dict() == joined.to_dict()
    assert set(words["word"]) <= set(vocabulary())


def test_splits_hear_different_sentences(segments):
    heard = {split: set(" | ".join(group["sentences"]).split(" | "))
             for split, group in segments.table.groupby("split")}
    assert not heard["test"] & heard["train"]
    assert not heard["val"] & heard["train"]


def test_segments_are_reproducible(segments, speech_config):
    again = make_segments(speech_config())
    np.testing.assert_array_equal(again.audio, segments.audio)
    pd.testing.assert_frame_equal(again.words, segments.words)
    other = make_segments(speech_config(seed=1))
    assert other.table["caption"].tolist() != segments.table["caption"].tolist()


def test_envelope_follows_a_tone_burst():
    audio_sfreq, sfreq = 16000, 100.0
    t = np.arange(2 * audio_sfreq) / audio_sfreq
    burst = np.where((t > 0.5) & (t < 1.0), np.sin(2 * np.pi * 440 * t), 0.0)[None]
    env = envelope(burst, audio_sfreq, sfreq)[0]
    times = np.arange(env.size) / sfreq
    assert env.shape == (200,)
    assert env[(times > 0.6) & (times < 0.9)].min() > 5 * env[(times < 0.3) | (times > 1.3)].max()


def test_band_envelopes_place_a_tone_in_its_band():
    audio_sfreq, n_bands = 16000, 8
    t = np.arange(audio_sfreq) / audio_sfreq
    edges = band_edges(n_bands)
    for band in (1, 5):
        frequency = np.sqrt(edges[band] * edges[band + 1])
        bands = band_envelopes(np.sin(2 * np.pi * frequency * t)[None], audio_sfreq, 100.0,
                               n_bands)
        assert bands.shape == (1, n_bands, 100)
        assert bands[0].mean(axis=1).argmax() == band


def test_temporal_response_is_linear_and_causal(speech_config):
    cfg = speech_config()
    model = make_speech_response_model(cfg, vocabulary()).envelope
    features = np.zeros((1, 1, 200))
    features[0, 0, 100] = 1.0
    response = temporal_response(model, features)
    peak = np.abs(response[..., 100:]).max()
    assert peak > 0.0
    assert np.abs(response[..., :100]).max() < 1e-9 * peak  # nothing before the sound (FFT)
    np.testing.assert_allclose(temporal_response(model, 2 * features), 2 * response)


def test_word_responses_depend_on_the_word(speech_config):
    cfg = speech_config(speech={"weights": {"envelope": 0.0, "spectrogram": 0.0, "words": 1.0}})
    model = make_speech_response_model(cfg, vocabulary())
    silent = np.zeros((2, 200))
    words = pd.DataFrame({"stimulus_id": ["a", "b"], "word": ["farmer", "boat"],
                          "onset": [0.2, 0.2]})
    activity = speech_source_activity(model, silent, np.zeros((2, 8, 200)), words, ["a", "b"],
                                      cfg)
    assert activity.shape == (2, cfg.n_sources, 200 + 120)
    onset = int(0.2 * cfg.sfreq)
    assert np.abs(activity[:, :, :onset]).max() < 1e-9 * np.abs(activity).max()
    assert not np.allclose(activity[0], activity[1])


def test_config_refuses_overlapping_segments_and_fmri(speech_config, make_config):
    with pytest.raises(ValueError, match="segment_duration"):
        speech_config(isi=[1.0, 1.2])
    with pytest.raises(ValueError, match="sensor modalities"):
        speech_config(modality="fmri")
    with pytest.raises(ValueError, match="unknown simulated stimulus 'smells'"):
        make_config(stimulus="smells")


@pytest.fixture(scope="module")
def speech_root(tmp_path_factory, speech_config):
    root = tmp_path_factory.mktemp("speech")
    simulate_study(speech_config(n_subjects=1), root)
    return root


def test_study_writes_audio_words_and_listening_recordings(speech_root):
    stimuli = pd.read_csv(speech_root / "stimuli" / "stimuli.tsv", sep="\t")
    assert {"stimulus_id", "split", "audio", "caption"} <= set(stimuli.columns)
    rate, audio = wavfile.read(speech_root / "stimuli" / stimuli["audio"].iloc[0])
    assert rate == 16000 and audio.dtype == np.int16 and audio.shape == (48000,)
    words = pd.read_csv(speech_root / "stimuli" / "words.tsv", sep="\t")
    assert set(words["stimulus_id"]) <= set(stimuli["stimulus_id"])
    latents = np.load(speech_root / "stimuli" / "latents.npy")
    names = json.loads((speech_root / "stimuli" / "latents.json").read_text())["columns"]
    assert latents.shape == (20, len(names))
    events = pd.read_csv(next(speech_root.glob("sub-01/eeg/*_events.tsv")), sep="\t")
    assert "task-listening" in next(speech_root.glob("sub-01/eeg/*.vhdr")).name
    assert len(events) == 12 + 4 + 2 * 4
    assert "listened to" in (speech_root / "README").read_text()
    oracle = np.load(speech_root / "derivatives" / "oracle" / "sub-01_oracle.npz")
    assert oracle["templates"].shape == (4, 64, 30)


def test_the_mel_target_reads_the_study(speech_root, tmp_path):
    from pipeline.targets.options import TargetsConfig

    info = compute_targets(TargetsConfig(name="mel"), speech_root, tmp_path)
    assert info["n_stimuli"] == 20
    written = pd.read_csv(tmp_path / "stimuli.tsv", sep="\t")
    assert list(written.columns) == ["stimulus_id", "split", "audio", "caption"]


def test_meg_hears_speech_too(tmp_path, speech_config):
    simulate_study(speech_config(modality="meg", n_subjects=1,
                                 stimuli={"train": 4, "val": 2, "test": 2}), tmp_path)
    assert next(tmp_path.glob("sub-01/meg/*_task-listening_meg.fif")).stat().st_size > 0
    oracle = json.loads((tmp_path / "derivatives" / "oracle" / "oracle.json").read_text())
    assert oracle["space"] == "evoked subspace" and oracle["tmax"] == 3.0
