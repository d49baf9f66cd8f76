"""The evaluate stage function: JSON, CSV and PNG outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.evaluation.evaluate import evaluate
from pipeline.evaluation.options import EvaluateConfig

ENTRY_KEYS = {
    "decoder", "decoder_ci", "chance", "baseline", "baseline_ci", "oracle", "oracle_ci",
    "ratio_to_oracle", "ratio_to_baseline", "above_chance",
}
TOP_KEYS = {
    "encoder", "baseline_encoder", "target", "n_test_stimuli", "n_queries",
    "average_repetitions", "confidence", "n_bootstrap",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(study, tmp_path, cfg, oracle=True):
    out = tmp_path / "out"
    results = evaluate(
        cfg, study.decoder, study.baseline, study.targets, study.oracle if oracle else None,
        out / "metrics" / "evaluate.json", out / "metrics" / "topk.csv", out / "plots",
    )
    return results, out


def test_evaluate_writes_every_key_the_csv_and_three_plots(make_study, tmp_path) -> None:
    study = make_study(n_subjects=2, n_test=8, n_reps=3)
    cfg = EvaluateConfig(metrics=["top1", "top5", "two_way", "mean_rank"], n_bootstrap=200)
    results, out = _run(study, tmp_path, cfg)

    written = json.loads((out / "metrics" / "evaluate.json").read_text())
    assert written == results
    assert TOP_KEYS <= set(written)
    assert written["encoder"] == "conv" and written["baseline_encoder"] == "ridge"
    assert written["target"] == "toy"
    assert (written["n_test_stimuli"], written["n_queries"]) == (8, 2 * 8)
    metric_keys = {"top1_avg3", "top5_avg3", "two_way_avg3", "mean_rank_avg3"}
    assert metric_keys <= set(written)
    for key in metric_keys:
        entry = written[key]
        assert set(entry) == ENTRY_KEYS
        assert entry["decoder_ci"][0] <= entry["decoder"] <= entry["decoder_ci"][1]
        assert entry["oracle"] is not None and entry["ratio_to_oracle"] is not None
        assert entry["above_chance"] is True
    assert written["top1_avg3"]["chance"] == pytest.approx(1 / 8)
    assert written["top1_avg3"]["decoder"] > written["top1_avg3"]["baseline"]
    assert written["top1_avg3"]["ratio_to_baseline"] == pytest.approx(
        written["top1_avg3"]["decoder"] / written["top1_avg3"]["baseline"], rel=1e-4
    )

    table = pd.read_csv(out / "metrics" / "topk.csv")
    assert list(table.columns) == ["k", "decoder", "baseline", "oracle", "chance"]
    assert list(table["k"]) == list(range(1, 9))
    assert table["decoder"].iloc[0] == pytest.approx(written["top1_avg3"]["decoder"])
    assert table[["decoder", "baseline", "oracle", "chance"]].iloc[-1].tolist() == [1, 1, 1, 1]

    for name in ("retrieval.png", "topk.png", "similarity.png"):
        data = (out / "plots" / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, name
    assert not list((out / "plots").glob("*.partial"))


def test_single_trials_and_no_oracle(make_study, tmp_path) -> None:
    study = make_study(n_subjects=2, n_test=6, n_reps=3)
    cfg = EvaluateConfig(metrics=["top1"], average_repetitions=False, n_bootstrap=50)
    results, out = _run(study, tmp_path, cfg, oracle=False)
    entry = results["top1_single"]
    assert results["n_queries"] == 2 * 6 * 3 and results["average_repetitions"] is False
    assert entry["oracle"] is None and entry["oracle_ci"] is None
    assert entry["ratio_to_oracle"] is None
    assert pd.read_csv(out / "metrics" / "topk.csv")["oracle"].isna().all()
    assert (out / "plots" / "retrieval.png").stat().st_size > 0


def test_averaging_improves_over_single_trials(make_study, tmp_path) -> None:
    study = make_study(n_test=10, n_reps=4, decoder_noise=1.5)
    single, _ = _run(study, tmp_path / "single",
                     EvaluateConfig(metrics=["two_way"], average_repetitions=False, n_bootstrap=20))
    averaged, _ = _run(study, tmp_path / "avg", EvaluateConfig(metrics=["two_way"], n_bootstrap=20))
    assert averaged["two_way_avg4"]["decoder"] > single["two_way_single"]["decoder"]
    assert averaged["two_way_avg4"]["oracle"] >= single["two_way_single"]["oracle"]


def test_decoder_and_baseline_on_different_stimuli_is_a_data_error(
    make_study, tmp_path, predictions_writer
) -> None:
    study = make_study()
    dropped = study.trials["stimulus_id"] != study.trials.loc[
        study.trials["split"] == "test", "stimulus_id"
    ].iloc[0]
    predictions = np.load(study.baseline / "predictions.npy")[dropped.to_numpy()]
    predictions_writer(study.baseline, predictions, study.trials[dropped])
    with pytest.raises(DataError, match="baseline/trials.tsv: 5 test stimuli differ"):
        _run(study, tmp_path, EvaluateConfig(n_bootstrap=20))
    assert not (tmp_path / "out" / "metrics" / "evaluate.json").exists()


def test_word_level_entries_beside_the_segment_metrics(make_study, tmp_path) -> None:
    study = make_study(n_subjects=2, n_test=8, n_reps=2)
    cfg = EvaluateConfig(metrics=["top1"], n_bootstrap=50, word_level=True)
    results, out = _run(study, tmp_path, cfg)
    assert {"word_top1_avg2", "word_top10_avg2"} <= set(results)
    entry = results["word_top1_avg2"]
    assert set(entry) == ENTRY_KEYS
    # captions "object <id>": every query's words are "object" (in every caption) and its id
    assert entry["oracle"] is not None and entry["decoder"] > entry["chance"]
    assert results["word_top10_avg2"]["decoder"] == pytest.approx(1.0)  # 9 words in all
    words = pd.read_csv(out / "plots" / "words.tsv", sep="\t")
    assert list(words.columns) == ["word", "n_stimuli", "decoder", "baseline", "oracle"]
    assert words["word"].iloc[0] == "object" and words["n_stimuli"].iloc[0] == 8
    assert (out / "plots" / "words.png").read_bytes().startswith(PNG_SIGNATURE)
    plain, plain_out = _run(study, tmp_path / "plain",
                            EvaluateConfig(metrics=["top1"], n_bootstrap=50))
    assert not any(key.startswith("word_") for key in plain)
    assert not (plain_out / "plots" / "words.tsv").exists()


def test_every_figure_carries_the_credit_of_licensed_data(make_study, tmp_path,
                                                          monkeypatch) -> None:
    from matplotlib.figure import Figure

    from pipeline.io import read_json, write_json

    study = make_study(n_subjects=1, n_test=6, n_reps=2)
    source = {"name": "Data set", "license": "CC BY 4.0", "authors": ["A. B", "C. D"]}
    info = read_json(study.decoder / "info.json")
    write_json({**info, "source": source}, study.decoder / "info.json")
    saved: dict[str, list[str]] = {}
    original = Figure.savefig

    def spy(figure, path, *args, **kwargs):
        saved[str(path)] = [text.get_text() for text in figure.texts]
        return original(figure, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    _run(study, tmp_path, EvaluateConfig(metrics=["top1"], n_bootstrap=20, word_level=True))
    assert len(saved) == 4  # retrieval, top-k, similarity, words
    assert all("Data: Data set (A. B et al.), CC BY 4.0" in texts for texts in saved.values())
