"""The terminal table of an evaluation."""

from __future__ import annotations

from pipeline.evaluation.evaluate import evaluate
from pipeline.evaluation.options import EvaluateConfig
from pipeline.evaluation.report import format_results


def test_format_results_has_a_row_per_metric(make_study, tmp_path) -> None:
    study = make_study(n_test=6, n_reps=2)
    cfg = EvaluateConfig(metrics=["top1", "top5", "two_way", "mean_rank"], n_bootstrap=20)
    results = evaluate(cfg, study.decoder, study.baseline, study.targets, study.oracle,
                       tmp_path / "m.json", tmp_path / "topk.csv", tmp_path / "plots")
    text = format_results(results)
    lines = text.splitlines()
    assert "encoder: conv" in lines[0] and "target: toy" in lines[0]
    assert "test stimuli: 6" in lines[0] and "averaged over 2 repetitions" in lines[0]
    for column in ("decoder [CI]", "baseline [CI]", "oracle [CI]", "chance", "ratio to oracle",
                   "ratio to baseline"):
        assert column in lines[1]
    for key in ("top1_avg2", "top5_avg2", "two_way_avg2", "mean_rank_avg2"):
        row = next(line for line in lines if line.startswith(key))
        entry = results[key]
        assert f"{entry['decoder']:.3f} [{entry['decoder_ci'][0]:.3f}" in row
        assert f"{entry['chance']:.3f}" in row


def test_missing_oracle_reads_not_available() -> None:
    entry = {"decoder": 0.5, "decoder_ci": [0.4, 0.6], "chance": 0.1, "baseline": 0.2,
             "baseline_ci": [0.1, 0.3], "oracle": None, "oracle_ci": None,
             "ratio_to_oracle": None, "ratio_to_baseline": 2.5, "above_chance": True}
    text = format_results({"encoder": "conv", "average_repetitions": False, "top1_single": entry})
    row = next(line for line in text.splitlines() if line.startswith("top1_single"))
    assert "n/a" in row and "2.500" in row and "0.500 [0.400, 0.600] *" in row
    assert "single trials" in text
