"""evaluate with held-out subjects: seen and held-out queries scored apart, same gallery."""

from __future__ import annotations

import pytest

from pipeline.errors import DataError
from pipeline.evaluation.evaluate import evaluate
from pipeline.evaluation.options import EvaluateConfig
from pipeline.evaluation.report import format_results
from pipeline.io import read_json, write_json


def _mark_unseen(directory, subjects):
    write_json({**read_json(directory / "info.json"), "unseen_subjects": subjects},
               directory / "info.json")


def _run(study, tmp_path):
    cfg = EvaluateConfig(metrics=["top1"], n_bootstrap=100)
    return evaluate(cfg, study.decoder, study.baseline, study.targets, study.oracle,
                    tmp_path / "m.json", tmp_path / "topk.csv", tmp_path / "plots")


def test_held_out_subjects_are_scored_apart(make_study, tmp_path):
    study = make_study(n_subjects=3, n_test=6, n_reps=2)
    for directory in (study.decoder, study.baseline):
        _mark_unseen(directory, ["03"])
    results = _run(study, tmp_path)
    assert results["held_out_subjects"] == ["03"]
    assert (results["n_queries_seen"], results["n_queries_held_out"]) == (12, 6)
    whole, seen, held = (results[f"top1_avg2{group}"] for group in ("", "_seen", "_held_out"))
    assert seen["chance"] == held["chance"] == whole["chance"]
    assert held["oracle"] is not None and held["baseline"] is not None
    assert whole["decoder"] == pytest.approx((2 * seen["decoder"] + held["decoder"]) / 3,
                                             abs=1e-5)
    table = format_results(results)
    assert "held-out subjects: 03" in table and "top1_avg2_held_out" in table


def test_no_held_out_subject_adds_nothing(make_study, tmp_path):
    results = _run(make_study(n_subjects=2), tmp_path)
    assert "held_out_subjects" not in results
    assert not [key for key in results if key.endswith(("_seen", "_held_out"))]


def test_models_trained_on_different_subjects_are_refused(make_study, tmp_path):
    study = make_study(n_subjects=2)
    _mark_unseen(study.decoder, ["02"])
    with pytest.raises(DataError, match=r"baseline.*unseen subjects \[\] differ from the "
                                        r"decoder's \['02'\]"):
        _run(study, tmp_path)
