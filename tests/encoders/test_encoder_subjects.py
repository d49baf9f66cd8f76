"""Unseen subjects: the average subject layer, and leave-subjects-out from trials to metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.encoders import ENCODERS
from pipeline.encoders.baseline import fit_baseline
from pipeline.encoders.conv import SubjectLayer
from pipeline.encoders.mlp import SubjectLinear
from pipeline.encoders.model import load_encoder
from pipeline.encoders.options import BaselineConfig, TrainConfig
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.subjects import subject_indices, unseen_index, with_unseen
from pipeline.encoders.train import fit_encoder
from pipeline.evaluation.evaluate import evaluate
from pipeline.evaluation.options import EvaluateConfig
from pipeline.io import read_json, read_tsv, write_tsv
from pipeline.preprocess.holdout import hold_out_directory

MLP = {"hidden": 32, "depth": 1, "dropout": 0.0}


def test_subject_indices_give_unseen_subjects_the_index_n_subjects():
    assert unseen_index(3) == 3
    np.testing.assert_array_equal(subject_indices(["02", "09", "01"], ["01", "02"]), [1, 2, 0])
    weight = torch.arange(6.0).reshape(2, 3)
    torch.testing.assert_close(with_unseen(weight)[2], weight.mean(dim=0))


@pytest.mark.parametrize("layer_class", [SubjectLayer, SubjectLinear])
def test_subject_layers_map_an_unseen_subject_through_their_average(layer_class):
    torch.manual_seed(0)
    layer = layer_class(3, 4) if layer_class is SubjectLayer else layer_class(3, 4, 5)
    x = torch.randn(6, 4, 7) if layer_class is SubjectLayer else torch.randn(6, 4)
    with torch.no_grad():
        outputs = [layer(x, torch.full((6,), index)) for index in range(3)]
        unseen = layer(x, torch.full((6,), 3))
        mixed = layer(x, torch.tensor([0, 3, 1, 3, 2, 0]))
    torch.testing.assert_close(unseen, torch.stack(outputs).mean(dim=0))  # linear layers
    torch.testing.assert_close(mixed[1], unseen[1])
    torch.testing.assert_close(mixed[4], outputs[2][4])
    with pytest.raises(IndexError):
        layer(x, torch.full((6,), 4))


@pytest.mark.parametrize("name", ENCODERS.names())
def test_every_encoder_takes_the_unseen_subject_index(name, signal):
    encoder = ENCODERS.get(name)(**signal).eval()
    x = torch.randn(3, signal["n_chans"], signal["n_times"])
    unseen = torch.full((3,), unseen_index(signal["n_subjects"]))
    with torch.no_grad():
        assert torch.isfinite(encoder(x, unseen)).all()


def three_subjects(study: dict) -> dict:
    """Add subject 03: subject 02's signals with fresh noise (same stimuli and splits)."""
    pre = study["preprocessed"]
    epochs, trials = np.load(pre / "epochs.npy"), read_tsv(pre / "trials.tsv")
    second = (trials["subject"] == "02").to_numpy()
    rng = np.random.default_rng(3)
    extra = epochs[second] + 0.3 * rng.normal(size=epochs[second].shape)
    np.save(pre / "epochs.npy", np.concatenate([epochs, extra]).astype(np.float32))
    write_tsv(pd.concat([trials, trials[second].assign(subject="03")]), pre / "trials.tsv")
    return study


def test_leave_one_subject_out_from_trials_to_metrics(make_synthetic_study, tmp_path):
    study = three_subjects(make_synthetic_study("study"))
    pre, targets = study["preprocessed"], study["targets"]
    counts = hold_out_directory(pre, ["03"])  # what preprocess.holdout_subjects does
    assert counts == {"train": 36, "unused": 24, "val": 12, "test": 18}
    trials = read_tsv(pre / "trials.tsv")
    held = (trials["subject"] == "03").to_numpy()
    assert set(trials.loc[held, "split"]) == {"unused", "test"}
    assert read_json(pre / "info.json")["holdout_subjects"] == ["03"]
    epochs = np.load(pre / "epochs.npy")
    epochs[held & (trials["split"] == "unused").to_numpy()] = np.nan  # no fitter may read them
    np.save(pre / "epochs.npy", epochs)

    cfg = TrainConfig(max_epochs=10, batch_size=12, patience=10, lr=3e-3, num_threads=2)
    summary = fit_encoder("mlp", MLP, cfg, pre, targets, tmp_path / "decoder")
    assert summary["n_subjects"] == 2 and summary["n_train_trials"] == 36
    assert np.isfinite(summary["val_loss"])
    model, config = load_encoder(tmp_path / "decoder")
    assert config["subjects"] == ["01", "02"] and model.encoder.input.weight.shape[0] == 2
    assert all(torch.isfinite(value).all() for value in model.state_dict().values())
    fit_baseline(BaselineConfig(options={"alphas": [1.0, 100.0]}), pre, targets,
                 tmp_path / "baseline_model", tmp_path / "baseline")
    info = predict_latents(tmp_path / "decoder", pre, tmp_path / "predictions")
    assert info["unseen_subjects"] == ["03"] and info["n_rows"] == 12 + 18
    assert read_json(tmp_path / "baseline" / "info.json")["unseen_subjects"] == ["03"]

    results = evaluate(
        EvaluateConfig(metrics=["top1", "two_way"], n_bootstrap=100), tmp_path / "predictions",
        tmp_path / "baseline", targets, None, tmp_path / "metrics.json",
        tmp_path / "topk.csv", tmp_path / "plots",
    )
    assert results["held_out_subjects"] == ["03"]
    assert (results["n_queries"], results["n_queries_seen"], results["n_queries_held_out"]) == (
        18, 12, 6)
    for key in ("top1_avg1", "top1_avg1_seen", "top1_avg1_held_out", "two_way_avg1_held_out"):
        entry = results[key]
        assert entry["decoder_ci"][0] <= entry["decoder"] <= entry["decoder_ci"][1], key
        assert entry["baseline"] is not None and entry["oracle"] is None
    assert results["top1_avg1_held_out"]["chance"] == pytest.approx(1 / 6, abs=1e-6)
    # Subject 03 is subject 02 with fresh noise: the average subject layer decodes it.
    assert results["top1_avg1_held_out"]["decoder"] > 2 / 6
    assert results["top1_avg1_held_out"]["baseline"] > 2 / 6
    assert json.loads((tmp_path / "metrics.json").read_text()) == results
