"""A bundle of heard speech: its gallery carries sounds and words, served beside the decoder."""

from __future__ import annotations

import io

import numpy as np
from fastapi.testclient import TestClient
from scipy.io import wavfile

from pipeline.serving.app import create_app
from pipeline.serving.bundle import load_bundle
from pipeline.serving.offline import evaluate_bundle


def test_speech_gallery_serves_sounds_and_words(speech_bundle_dir):
    bundle = load_bundle(speech_bundle_dir)
    assert bundle.manifest["gallery"]["audio"] is True
    assert bundle.manifest["gallery"]["images"] is False
    assert bundle.manifest["target"]["name"] == "mel"
    assert bundle.manifest["licences"]["target"]["licence"].startswith("no weights")
    client = TestClient(create_app({"speech": bundle}))
    examples = client.get("/api/bundles/speech/examples").json()
    decoded = client.get("/api/bundles/speech/examples/0?k=3").json()
    assert len(decoded["matches"][0]) == 3
    assert all(match["caption"] for match in decoded["matches"][0])  # each segment's words
    stimulus_id = examples[0]["stimulus_id"]
    sound = client.get(f"/api/bundles/speech/gallery/{stimulus_id}/audio")
    assert sound.status_code == 200 and sound.headers["content-type"] == "audio/wav"
    rate, samples = wavfile.read(io.BytesIO(sound.content))
    assert rate == 16000 and samples.size == 3 * 16000 and np.abs(samples).max() > 100
    missing = client.get(f"/api/bundles/speech/gallery/{stimulus_id}/image")
    assert missing.status_code == 404 and "no image" in missing.text
    info = client.get("/api/bundles/speech").json()
    assert "word_top10_avg2" in info["metrics"]["evaluate"]


def test_offline_evaluation_scores_words_as_the_study_does(speech_bundle_dir, speech_study_paths,
                                                          tmp_path):
    bundle = load_bundle(speech_bundle_dir)
    offline = evaluate_bundle(bundle, speech_study_paths["preprocessed"], tmp_path)
    stage = bundle.manifest["metrics"]["evaluate"]
    for key in ("top10_avg2", "word_top1_avg2", "word_top10_avg2"):
        assert offline[key]["decoder"] == stage[key]["decoder"], key
        assert offline[key]["chance"] == stage[key]["chance"], key
