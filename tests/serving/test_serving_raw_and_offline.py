"""Decoding raw recordings with a bundle's own preprocessing, and offline evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pipeline.errors import DataError
from pipeline.serving.app import create_app
from pipeline.serving.decode import decode
from pipeline.serving.offline import evaluate_bundle


def test_raw_recording_decodes_as_the_preprocess_stage_would(bundle, recording):
    fif, events_tsv, subject, events = recording
    client = TestClient(create_app({"eeg": bundle}))
    response = client.post("/api/bundles/eeg/decode_raw",
                           files={"recording": fif, "events": events_tsv},
                           data={"subject": subject, "latents": "true", "k": "1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [t["stimulus_id"] for t in body["trials"]] == events["stimulus_id"].tolist()
    examples = bundle.examples.trials
    mine = examples[(examples["subject"] == subject)].reset_index()
    onsets = np.round([t["onset"] for t in body["trials"]], 6)
    rows = [int(np.flatnonzero(onsets == round(onset, 6))[0]) for onset in mine["onset"]]
    expected = decode(bundle.encoder, bundle.examples.epochs[mine["index"].to_numpy()], subject,
                      bundle.subjects)
    np.testing.assert_allclose(np.asarray(body["latents"])[rows], expected, rtol=1e-3, atol=1e-4)


def test_raw_uploads_that_are_not_recordings_get_422(bundle, recording):
    fif, events_tsv, _, _ = recording
    client = TestClient(create_app({"eeg": bundle}))
    for files, message in (
        ({"recording": b"garbage", "events": events_tsv}, "not a readable FIF recording"),
        ({"recording": fif, "events": b"when\twhat\n1\ta\n"}, "expected onset (seconds)"),
        ({"recording": fif, "events": b"onset\tstimulus_id\n-1\ta\n"}, "onsets must be finite"),
        ({"recording": fif, "events": b"onset\tstimulus_id\n1.0\ta\n1.0001\tb\n"},
         "2 events share a sample"),
        ({"recording": fif, "events": b"onset\tstimulus_id\n99999\ta\n"},
         "no epoch left: the window"),
    ):
        response = client.post("/api/bundles/eeg/decode_raw", files=files)
        assert response.status_code == 422 and message in response.json()["detail"], files


def test_offline_evaluation_reproduces_the_evaluate_stage(bundle, tiny_study_paths, tmp_path):
    results = evaluate_bundle(bundle, tiny_study_paths["preprocessed"], tmp_path)
    written = json.loads((tmp_path / "evaluate.json").read_text())
    stage = json.loads(tiny_study_paths["evaluate"].read_text())
    for key in ("top1_avg2", "two_way_avg2"):
        assert written[key]["decoder"] == pytest.approx(stage[key]["decoder"], abs=1e-6)
        assert written[key]["baseline"] == pytest.approx(stage[key]["baseline"], abs=1e-6)
        assert written[key]["oracle"] is None
    assert results["bundle"] == "eeg" and (tmp_path / "topk.csv").is_file()
    assert (tmp_path / "plots" / "retrieval.png").stat().st_size > 1000


def test_offline_evaluation_preprocesses_a_bids_root_with_the_bundles_steps(
        bundle, tiny_study_paths, tmp_path):
    results = evaluate_bundle(bundle, tiny_study_paths["raw"], tmp_path)
    stage = json.loads(tiny_study_paths["evaluate"].read_text())
    assert results["top1_avg2"]["decoder"] == pytest.approx(stage["top1_avg2"]["decoder"])


def test_offline_evaluation_refuses_other_channels(bundle, tiny_study_paths, tmp_path):
    data = tmp_path / "pre"
    data.mkdir()
    source = tiny_study_paths["preprocessed"]
    info = json.loads((source / "info.json").read_text())
    info["ch_names"] = [f"X{i}" for i in range(len(info["ch_names"]))]
    (data / "info.json").write_text(json.dumps(info))
    for name in ("epochs.npy", "trials.tsv"):
        (data / name).write_bytes((source / name).read_bytes())
    with pytest.raises(DataError, match="differ from the model's"):
        evaluate_bundle(bundle, data, tmp_path / "out")
    with pytest.raises(DataError, match="neither a preprocessed folder"):
        evaluate_bundle(bundle, tmp_path / "out", tmp_path / "out2")


def test_a_betas_bundle_refuses_raw_recordings_first(bundle, recording):
    import dataclasses

    betas = dataclasses.replace(bundle, manifest={**bundle.manifest,
                                                  "signal": {**bundle.signal, "kind": "betas"}})
    client = TestClient(create_app({"eeg": betas}))
    response = client.post("/api/bundles/eeg/decode_raw",
                           files={"recording": b"anything", "events": recording[1]})
    assert response.status_code == 422
    assert "decodes fMRI betas; upload them as .npy" in response.json()["detail"]


def test_offline_evaluation_replaces_its_outputs_at_once_or_not_at_all(
        bundle, tiny_study_paths, tmp_path, monkeypatch):
    import pipeline.evaluation.evaluate as stage

    out = tmp_path / "out"
    evaluate_bundle(bundle, tiny_study_paths["preprocessed"], out)
    (out / "notes.txt").write_text("mine")
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stage, "plot_retrieval", fail)  # after evaluate.json and topk.csv
    with pytest.raises(OSError, match="No space left"):
        evaluate_bundle(bundle, tiny_study_paths["preprocessed"], out)
    after = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert after == before  # the earlier outputs, the user's file, nothing staged left
    assert sorted(path.name for path in out.iterdir()) == [
        "evaluate.json", "notes.txt", "plots", "topk.csv"]
