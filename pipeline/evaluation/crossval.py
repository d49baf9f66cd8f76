"""The ``crossval`` stage: cross-validated classification beside baselines fitted in the same folds.

For class-level studies (8 object categories, fists vs feet) the zero-shot split by stimulus
cannot apply: every class must be trained on. Folds are by run (leave one run out) or
stratified (blocks kept whole). In each fold the brainrecon encoders are fitted into the
class latents and classify held-out trials by the nearest class latent (cosine: class-level
retrieval among the study's stimuli); the baseline classifiers are fitted on the same
training trials. Hyperparameters are chosen inside the training trials only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.artifacts import read_preprocessed, read_targets
from pipeline.errors import DataError
from pipeline.evaluation.crossval_fit import FoldData, fit_classifier_fold, fit_encoder_fold
from pipeline.evaluation.crossval_folds import (
    Fold,
    block_ids,
    make_folds,
    run_ids,
    zscore_by_run,
)
from pipeline.evaluation.crossval_options import CrossvalConfig
from pipeline.evaluation.crossval_report import (
    confusion,
    model_entry,
    plot_accuracies,
    plot_confusions,
)
from pipeline.io import atomic_output_file, write_json
from pipeline.provenance import credit_line

logger = logging.getLogger(__name__)


def _class_latents(classes: list[str], targets_dir: Path | None) -> tuple[np.ndarray, str]:
    """The target latent of each class (rows in ``classes`` order) and the target's name.

    Raises
    ------
    DataError
        If a class of the trials has no latent.
    """
    latents, stimuli, info = read_targets(targets_dir)
    row_of = {stimulus: row for row, stimulus in enumerate(stimuli["stimulus_id"])}
    missing = [name for name in classes if name not in row_of]
    if missing:
        raise DataError(
            f"{Path(targets_dir) / 'stimuli.tsv'}: no latent for classes {missing[:5]} of the "
            "trials; expected one row per stimulus_id of trials.tsv"
        )
    return np.asarray(latents[[row_of[name] for name in classes]]), str(info["name"])


def load_fold_data(preprocessed_dir: Path, targets_dir: Path | None
                   ) -> tuple[FoldData, list[str], str | None]:
    """Read the trials into memory with their class, run and subject codes.

    Returns
    -------
    data : FoldData
    classes : list of str
        The sorted stimulus ids of the trials: column order of every score matrix.
    target : str or None
        The target space's name (None without targets).
    """
    preprocessed = read_preprocessed(preprocessed_dir)
    trials = preprocessed.trials
    classes = sorted(set(trials["stimulus_id"]))
    if len(classes) < 2:
        raise DataError(f"{preprocessed.path / 'trials.tsv'}: trials of {len(classes)} "
                        "stimulus; expected at least 2 classes")
    latents, target = (None, None) if targets_dir is None else _class_latents(classes,
                                                                               targets_dir)
    subjects = sorted(set(trials["subject"]))
    data = FoldData(
        x=np.asarray(preprocessed.epochs, dtype=np.float32),  # (n_trials, n_chans, n_times)
        label=trials["stimulus_id"].map({c: i for i, c in enumerate(classes)}).to_numpy(),
        run=run_ids(trials),
        subject=trials["subject"].map({s: i for i, s in enumerate(subjects)}).to_numpy(),
        class_latents=latents,
        preprocessed=preprocessed,
    )
    return data, classes, target


Model = tuple[str, str]  # ("encoders" | "baselines", name)


def _fit_folds(cfg: CrossvalConfig, data: FoldData, folds: list[Fold],
               models: dict[Model, dict[str, Any]]
               ) -> tuple[dict[Model, np.ndarray], dict[Model, list[dict[str, Any]]], np.ndarray]:
    """Fit every model in every fold; return held-out scores, selections and each trial's fold.

    Returns
    -------
    scores : dict
        Model -> (n_trials, n_classes) scores, each row from the fold that held it out.
    chosen : dict
        Model -> the hyperparameters selected in each fold.
    fold_of : ndarray of int, shape (n_trials,)
    """
    n_classes = data.n_classes
    scores = {key: np.full((len(data.label), n_classes), np.nan) for key in models}
    chosen: dict[Model, list[dict[str, Any]]] = {key: [] for key in models}
    fold_of = np.zeros(len(data.label), dtype=np.int64)
    train_cfg = cfg.train_config()
    for index, fold in enumerate(folds):
        fold_of[fold.test] = index
        x = zscore_by_run(data.x, data.run, fold.train) if cfg.zscore_by_run else data.x
        for (kind, name), options in models.items():
            if kind == "encoders":
                fold_scores, details = fit_encoder_fold(name, options, train_cfg, data, x, fold)
            else:
                fold_scores, details = fit_classifier_fold(name, options, data, fold)
            scores[(kind, name)][fold.test] = fold_scores
            chosen[(kind, name)].append(details)
        logger.info("fold %d/%d: %d train, %d test trials", index + 1, len(folds),
                    len(fold.train), len(fold.test))
    return scores, chosen, fold_of


def crossval(cfg: CrossvalConfig, preprocessed_dir: str | Path, targets_dir: str | Path | None,
             metrics_path: str | Path, plots_dir: str | Path) -> dict[str, Any]:
    """Cross-validate the encoders and the baselines; write metrics JSON and figures.

    Parameters
    ----------
    cfg : CrossvalConfig
        Folds, models, bootstrap settings.
    preprocessed_dir : str or Path
        Stage contract 2 (epochs or fMRI estimates as [trial, voxel, 1], trials.tsv).
    targets_dir : str or Path or None
        Stage contract 3; the latent of each class (needed when ``cfg.encoders`` is set).
    metrics_path : str or Path
        The JSON metrics file to write.
    plots_dir : str or Path
        Receives ``confusion.png`` and ``accuracy.png`` (created).

    Returns
    -------
    dict
        The metrics as written: settings, chance, ``encoders`` and ``baselines`` (one entry
        per model, see :func:`~pipeline.evaluation.crossval_report.model_entry`, plus the
        hyperparameters chosen in each fold), ``best_encoder`` and ``best_baseline``.

    Raises
    ------
    DataError
        If an input is missing or inconsistent, or there are too few runs or trials.
    ParamsError
        If a baseline cannot run on these trials.
    """
    start = time.perf_counter()
    if cfg.active("encoders") and targets_dir is None:
        raise DataError("crossval: encoders are set but no targets were given; expected "
                        "--targets (the class latents)")
    data, classes, target = load_fold_data(Path(preprocessed_dir), targets_dir)
    trials = data.preprocessed.trials
    blocks = block_ids(trials, cfg.blocks)
    if blocks is None:
        logger.info("no blocks (crossval.blocks: %s; trials.tsv columns: %s): accuracy per "
                    "trial only", cfg.blocks, ", ".join(trials.columns))
    folds = make_folds(trials, cfg.folds, cfg.n_folds, cfg.inner_folds, cfg.seed, blocks,
                       source=str(data.preprocessed.path / "trials.tsv"))
    models = {("encoders", name): options for name, options in cfg.active("encoders").items()}
    models.update({("baselines", name): options
                   for name, options in cfg.active("baselines").items()})
    scores, chosen, fold_of = _fit_folds(cfg, data, folds, models)

    counts = np.bincount(data.label, minlength=len(classes))
    majority = float(counts.max() / counts.sum())
    results: dict[str, Any] = {
        "target": target, "folds": cfg.folds, "n_folds": len(folds),
        "n_trials": int(len(trials)),
        "n_blocks": None if blocks is None else int(len(np.unique(blocks))),
        "classes": classes, "chance": round(1 / len(classes), 6), "majority": round(majority, 6),
        "confidence": cfg.confidence, "n_bootstrap": cfg.n_bootstrap,
        "ci": "percentile bootstrap over blocks" if blocks is not None
        else "percentile bootstrap over trials",
        "encoders": {}, "baselines": {},
    }
    for (kind, name), model_scores in scores.items():
        entry = model_entry(model_scores, data.label, fold_of, blocks, majority, cfg)
        results[kind][name] = {**entry, "selected": chosen[(kind, name)]}
    for kind in ("encoders", "baselines"):
        ranked = sorted(results[kind], key=lambda name: -results[kind][name]["trial"]["accuracy"])
        results[f"best_{kind.removesuffix('s')}"] = ranked[0] if ranked else None
    logger.info("cross-validated %d models in %.1f s", len(models), time.perf_counter() - start)

    with atomic_output_file(metrics_path) as tmp:
        write_json(results, tmp)
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    entries = {f"{name}\n({kind.removesuffix('s')})": results[kind][name] for kind, name in models}
    title = (f"{len(classes)} classes, {cfg.folds} folds ({len(folds)}); "
             f"{cfg.confidence:.0%} CI: {results['ci'].removeprefix('percentile ')}")
    credit = credit_line(data.preprocessed.info.get("source", {}))
    plot_accuracies(entries, results["chance"], title, plots_dir / "accuracy.png", credit)
    matrices = {name: confusion(scores[(kind, name)], data.label, len(classes))
                for kind, name in models}
    plot_confusions(matrices, classes, f"held-out trials, {cfg.folds} folds",
                    plots_dir / "confusion.png", credit)
    logger.info("%s", _summary_line(results))
    return results


def _summary_line(results: dict[str, Any]) -> str:
    """One line: each model's per-trial (and per-block) accuracy beside chance."""
    parts = []
    for kind in ("encoders", "baselines"):
        for name, entry in results[kind].items():
            text = f"{name} {entry['trial']['accuracy']:.3f}"
            if entry["block"] is not None:
                text += f" (block {entry['block']['accuracy']:.3f})"
            parts.append(text)
    return f"accuracy: {', '.join(parts)}; chance {results['chance']:.3f}"

