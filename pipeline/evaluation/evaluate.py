"""The ``evaluate`` stage: zero-shot retrieval beside chance, a baseline and the oracle."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.artifacts import read_predictions, read_targets
from pipeline.errors import DataError
from pipeline.evaluation.bootstrap import bootstrap_ci
from pipeline.evaluation.metrics import METRICS, Metric, top_k_curve
from pipeline.evaluation.options import EvaluateConfig
from pipeline.evaluation.oracle import oracle_scores
from pipeline.evaluation.plots import plot_retrieval, plot_similarity, plot_topk, plot_words
from pipeline.evaluation.report import format_results
from pipeline.evaluation.retrieval import RetrievalScores, count_repetitions, retrieval_scores
from pipeline.evaluation.subject_groups import subject_groups, subset, unseen_subjects
from pipeline.evaluation.words import (
    TABLE_K,
    WORD_KS,
    with_words,
    word_membership,
    word_metric,
    word_table,
)
from pipeline.io import atomic_output_file, read_json, write_json
from pipeline.provenance import credit_line

logger = logging.getLogger(__name__)

DIGITS = 6


def _predictions_info(predictions_dir: Path) -> dict[str, Any]:
    """The predictions' ``info.json`` (encoder, the data's source), empty when absent."""
    info_path = predictions_dir / "info.json"
    return read_json(info_path) if info_path.is_file() else {}


def _encoder_name(predictions_dir: Path, default: str) -> str:
    """The ``encoder`` named in the predictions' ``info.json``, else ``default``."""
    return str(_predictions_info(predictions_dir).get("encoder", default))


def _model_retrieval(
    predictions_dir: Path,
    latents: np.ndarray,
    stimuli: pd.DataFrame,
    targets_dir: Path,
    average_repetitions: bool,
) -> tuple[RetrievalScores, pd.DataFrame]:
    """Read one model's predictions and score its test queries; also return its trials."""
    predictions, trials = read_predictions(predictions_dir)
    retrieval = retrieval_scores(
        predictions, trials, latents, stimuli, average_repetitions,
        trials_name=str(predictions_dir / "trials.tsv"),
        stimuli_name=str(targets_dir / "stimuli.tsv"),
    )
    return retrieval, trials


def _oracle(
    oracle_dir: Path | None, decoder: RetrievalScores, average_repetitions: bool
) -> RetrievalScores | None:
    """The oracle's scores on the decoder's gallery, or None when the study has none."""
    if oracle_dir is None or not any(Path(oracle_dir).glob("sub-*_oracle.npz")):
        logger.info("no oracle data at %s; the oracle is reported as null", oracle_dir)
        return None
    subjects = sorted(set(decoder.query_subject))
    return oracle_scores(oracle_dir, decoder.gallery, subjects, average_repetitions)


def _score(
    metric: Metric, retrieval: RetrievalScores | None, cfg: EvaluateConfig
) -> tuple[float | None, list[float] | None]:
    """Mean of the metric over queries and its bootstrap CI over stimuli (None, None if absent)."""
    if retrieval is None:
        return None, None
    values = metric.per_query(retrieval.scores, retrieval.true_index)  # (n_query,)
    low, high = bootstrap_ci(
        values, retrieval.query_stimulus, cfg.n_bootstrap, cfg.confidence, cfg.seed
    )
    return round(float(values.mean()), DIGITS), [round(low, DIGITS), round(high, DIGITS)]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, DIGITS)


def metric_entry(
    metric: Metric,
    decoder: RetrievalScores,
    baseline: RetrievalScores,
    oracle: RetrievalScores | None,
    cfg: EvaluateConfig,
) -> dict[str, Any]:
    """Score one metric for the decoder, the baseline and the oracle.

    Parameters
    ----------
    metric : Metric
        The registered metric.
    decoder, baseline : RetrievalScores
        The two models' scores on the same gallery.
    oracle : RetrievalScores or None
        The oracle's scores, None when the study has no oracle.
    cfg : EvaluateConfig
        Bootstrap size, confidence and seed.

    Returns
    -------
    dict
        decoder, decoder_ci, chance, baseline, baseline_ci, oracle, oracle_ci,
        ratio_to_oracle, ratio_to_baseline (plain ratios of the means) and above_chance
        (the decoder's CI lies entirely on the better side of chance).
    """
    chance = round(float(metric.chance(len(decoder.gallery))), DIGITS)
    decoder_value, decoder_ci = _score(metric, decoder, cfg)
    baseline_value, baseline_ci = _score(metric, baseline, cfg)
    oracle_value, oracle_ci = _score(metric, oracle, cfg)
    above = decoder_ci[0] > chance if metric.higher_is_better else decoder_ci[1] < chance
    return {
        "decoder": decoder_value,
        "decoder_ci": decoder_ci,
        "chance": chance,
        "baseline": baseline_value,
        "baseline_ci": baseline_ci,
        "oracle": oracle_value,
        "oracle_ci": oracle_ci,
        "ratio_to_oracle": _ratio(decoder_value, oracle_value),
        "ratio_to_baseline": _ratio(decoder_value, baseline_value),
        "above_chance": bool(above),
    }


def word_report(
    stimuli: pd.DataFrame,
    decoder: RetrievalScores,
    baseline: RetrievalScores,
    oracle: RetrievalScores | None,
    cfg: EvaluateConfig,
    suffix: str,
    plots_dir: Path,
    credit: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Word-level entries (:mod:`pipeline.evaluation.words`) and the per-word table.

    Writes ``words.tsv`` (each test word's word top-``TABLE_K`` per model) and ``words.png``
    into ``plots_dir``.

    Parameters
    ----------
    stimuli : pandas.DataFrame
        The targets' stimulus table (stimulus_id, caption).
    decoder, baseline, oracle : RetrievalScores
        As for :func:`metric_entry`.
    cfg : EvaluateConfig
    suffix : str
    plots_dir : Path
    credit : str, optional
        The data's attribution, printed on the figure.

    Returns
    -------
    dict
        One :func:`metric_entry` per k of ``WORD_KS``, keyed ``word_top{k}_{suffix}``, over
        the queries whose stimulus holds words; empty (and nothing written) when no test
        caption holds a word.
    """
    captions = dict(zip(stimuli["stimulus_id"].astype(str), stimuli["caption"].fillna(""),
                        strict=True))
    membership = word_membership(decoder.gallery, captions)
    if not membership.words:
        logger.info("no test caption holds a word; no word-level scores")
        return {}
    models = dict(zip(("decoder", "baseline", "oracle"),
                      (with_words(model, membership) for model in (decoder, baseline, oracle)),
                      strict=True))
    entries = {
        f"word_top{k}_{suffix}": metric_entry(
            word_metric(membership, models["decoder"].true_index, k, cfg.seed),
            *models.values(), cfg,
        )
        for k in WORD_KS
    }
    table = word_table(models, membership, TABLE_K).round(DIGITS)
    plots_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output_file(plots_dir / "words.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    chance = entries[f"word_top{TABLE_K}_{suffix}"]["chance"]
    plot_words(table, TABLE_K, chance, f"{len(table)} test words: top-{TABLE_K} among them",
               plots_dir / "words.png", credit=credit)
    return entries


def topk_table(
    decoder: RetrievalScores, baseline: RetrievalScores, oracle: RetrievalScores | None
) -> pd.DataFrame:
    """Mean top-k accuracy for k = 1..gallery size: columns k, decoder, baseline, oracle, chance."""
    n_gallery = len(decoder.gallery)
    ks = np.arange(1, n_gallery + 1)  # (n_gallery,)
    oracle_curve = (
        np.full(n_gallery, np.nan)
        if oracle is None
        else top_k_curve(oracle.scores, oracle.true_index, ks)
    )
    return pd.DataFrame(
        {
            "k": ks,
            "decoder": top_k_curve(decoder.scores, decoder.true_index, ks),
            "baseline": top_k_curve(baseline.scores, baseline.true_index, ks),
            "oracle": oracle_curve,
            "chance": ks / n_gallery,
        }
    ).round(DIGITS)


def evaluate(
    cfg: EvaluateConfig,
    predictions_dir: Path,
    baseline_dir: Path,
    targets_dir: Path,
    oracle_dir: Path | None,
    metrics_path: Path,
    topk_path: Path,
    plots_dir: Path,
) -> dict[str, Any]:
    """Evaluate zero-shot retrieval of the decoder beside chance, the baseline and the oracle.

    Parameters
    ----------
    cfg : EvaluateConfig
        Metrics, trial averaging, bootstrap size, confidence and seed.
    predictions_dir, baseline_dir : Path
        Predictions of the decoder and of the baseline (``predictions.npy``, ``trials.tsv``,
        optional ``info.json`` with the encoder name).
    targets_dir : Path
        Target latents and their ``stimuli.tsv`` and ``info.json``.
    oracle_dir : Path or None
        The simulator's ``derivatives/oracle``; None, or a folder without
        ``sub-*_oracle.npz`` (a real study, :mod:`pipeline.studies.oracle_note`), reports the
        oracle as null.
    metrics_path : Path
        The JSON metrics file to write.
    topk_path : Path
        The CSV of top-k curves to write.
    plots_dir : Path
        Where ``retrieval.png``, ``topk.png`` and ``similarity.png`` are written (created),
        and with ``cfg.word_level`` ``words.tsv`` and ``words.png``.

    Returns
    -------
    dict
        The metrics as written to ``metrics_path``: one entry per metric, keyed
        ``{name}_avg{n}`` (averaged over n repetitions) or ``{name}_single``, and the
        evaluation's settings. When the models were not trained on some test subjects
        (``preprocess.holdout_subjects``), also ``held_out_subjects`` and the entries of the
        seen and of the held-out subjects' queries, ``{key}_seen`` and ``{key}_held_out``
        (same gallery and chance).

    Raises
    ------
    DataError
        If an input is missing or malformed, the test is not zero-shot, or the decoder and
        the baseline were tested on different stimuli.
    """
    predictions_dir, baseline_dir = Path(predictions_dir), Path(baseline_dir)
    targets_dir, plots_dir = Path(targets_dir), Path(plots_dir)
    latents, stimuli, target_info = read_targets(targets_dir)
    average = cfg.average_repetitions
    decoder, trials = _model_retrieval(predictions_dir, latents, stimuli, targets_dir, average)
    baseline, _ = _model_retrieval(baseline_dir, latents, stimuli, targets_dir, average)
    if baseline.gallery != decoder.gallery:
        raise DataError(
            f"{baseline_dir / 'trials.tsv'}: {len(baseline.gallery)} test stimuli differ from the "
            f"decoder's {len(decoder.gallery)}; expected both tested on the same stimuli"
        )
    oracle = _oracle(oracle_dir, decoder, average)
    n_repetitions = count_repetitions(trials)
    suffix = f"avg{n_repetitions}" if average else "single"

    results: dict[str, Any] = {
        "encoder": _encoder_name(predictions_dir, "decoder"),
        "baseline_encoder": _encoder_name(baseline_dir, "baseline"),
        "target": str(target_info["name"]),
        "n_test_stimuli": len(decoder.gallery),
        "n_queries": decoder.n_queries,
        "average_repetitions": average,
        "n_repetitions": n_repetitions,
        "confidence": cfg.confidence,
        "n_bootstrap": cfg.n_bootstrap,
    }
    entries = {
        f"{name}_{suffix}": metric_entry(METRICS.get(name), decoder, baseline, oracle, cfg)
        for name in cfg.metrics
    }
    credit = credit_line(_predictions_info(predictions_dir).get("source") or {})
    if cfg.word_level:
        entries.update(word_report(stimuli, decoder, baseline, oracle, cfg, suffix, plots_dir,
                                   credit))
    unseen = unseen_subjects(predictions_dir, baseline_dir)
    if unseen:  # leave-subjects-out: the seen and the held-out subjects' queries apart
        results["held_out_subjects"] = unseen
        for group, subjects in subject_groups(decoder, unseen).items():
            results[f"n_queries_{group}"] = subset(decoder, subjects).n_queries
            entries.update({
                f"{name}_{suffix}_{group}": metric_entry(
                    METRICS.get(name), subset(decoder, subjects), subset(baseline, subjects),
                    subset(oracle, subjects), cfg,
                )
                for name in cfg.metrics
            })
    results.update(entries)
    table = topk_table(decoder, baseline, oracle)

    with atomic_output_file(metrics_path) as tmp:
        write_json(results, tmp)
    with atomic_output_file(topk_path) as tmp:
        table.to_csv(tmp, index=False)
    plots_dir.mkdir(parents=True, exist_ok=True)
    title = f"{results['encoder']} -> {results['target']}, {len(decoder.gallery)} test stimuli"
    plot_retrieval(
        entries,
        f"{title}\nerror bars: {cfg.confidence:.0%} bootstrap CI over stimuli; dashed: chance",
        plots_dir / "retrieval.png", credit,
    )
    plot_topk(table, title, plots_dir / "topk.png", credit)
    plot_similarity(decoder, f"{title}: cosine similarity", plots_dir / "similarity.png",
                    credit)
    logger.info("\n%s", format_results(results))
    return results
