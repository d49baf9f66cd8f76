"""Fit one model on one fold's training trials and score its held-out trials per class.

Both fitters return ``scores`` (n_test, n_classes), higher meaning more likely, and the
hyperparameters chosen inside the training trials. Nothing outside ``fold.train`` is used
to fit or to select; the held-out trials are only predicted.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import mne
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV

from pipeline.artifacts import Preprocessed
from pipeline.encoders import ENCODERS, FITTERS
from pipeline.encoders.base import signal_args
from pipeline.encoders.datamodule import MIN_STD, STD_FLOOR, EncoderData
from pipeline.encoders.fitting import FitResult
from pipeline.encoders.model import ScaledEncoder
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.predict import predict_rows
from pipeline.encoders.subjects import subject_indices, unseen_index
from pipeline.errors import ParamsError
from pipeline.evaluation.classifiers import CLASSIFIERS
from pipeline.evaluation.crossval_folds import Fold, zscore_by_run
from pipeline.evaluation.retrieval import cosine_similarity

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoldData:
    """What every fold fitter reads: features, labels, runs and the class latents."""

    x: np.ndarray  # (n_trials, n_chans, n_times) float32
    label: np.ndarray  # (n_trials,) int64, class index
    run: np.ndarray  # (n_trials,) int64, run code
    subject: np.ndarray  # (n_trials,) int64, subject index
    class_latents: np.ndarray | None  # (n_classes, dim), None without targets
    preprocessed: Preprocessed

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return int(self.label.max()) + 1


def _standardise(latents: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, ...]:
    """Standardise class latents on the classes ``seen`` in training (as train does)."""
    mean = latents[seen].mean(axis=0)  # (D,)
    std = latents[seen].std(axis=0)
    std = np.maximum(std, STD_FLOOR * std.mean() + MIN_STD)  # (D,)
    target = ((latents - mean) / std).astype(np.float32)  # (K, D)
    rms = float(np.sqrt(np.mean(np.sum(target[seen] ** 2, axis=1))))
    return target, mean.astype(np.float32), std.astype(np.float32), rms


def _encoder_data(data: FoldData, x: np.ndarray, fit_rows: np.ndarray, val_rows: np.ndarray,
                  test_rows: np.ndarray) -> tuple[EncoderData, np.ndarray, tuple]:
    """The fitter's view of one split: trials marked train/val/test (``val_rows`` may be
    empty), class latents standardised on the classes of ``fit_rows``; also every trial's
    subject index and the target scaling (mean, std, rms)."""
    split = np.full(len(x), "unused", dtype=object)
    split[fit_rows], split[val_rows], split[test_rows] = "train", "val", "test"
    fitted = np.isin(split, ("train", "val"))
    known = np.unique(data.subject[fitted]).tolist()  # a held-out subject is unseen
    subject = subject_indices(data.subject, known)  # (n_trials,)
    target, mean, std, rms = _standardise(data.class_latents, np.unique(data.label[fit_rows]))
    preprocessed = Preprocessed(epochs=x, trials=data.preprocessed.trials.assign(split=split),
                                info=data.preprocessed.info, path=data.preprocessed.path)
    encoder_data = EncoderData(
        preprocessed=preprocessed,
        subjects=[str(index) for index in known],
        subject_index=subject,
        stimulus_index=np.where(fitted, data.label, -1).astype(np.int64),
        target=target, target_mean=mean, target_std=std, target_rms=rms,
        target_info={"name": "class latents"},
    )
    return encoder_data, subject, (mean, std, rms)


def _build(cls: type, parsed: dict[str, Any], train_cfg: TrainConfig,
           encoder_data: EncoderData, scaling: tuple) -> ScaledEncoder:
    """Seed the generators and build one encoder for ``encoder_data``."""
    mean, std, rms = scaling
    n_chans, n_times = encoder_data.preprocessed.epochs.shape[1:]
    info = encoder_data.preprocessed.info
    signal = signal_args(n_chans, n_times, info["sfreq"], encoder_data.target.shape[1],
                         len(encoder_data.subjects), info["ch_pos"])
    pl.seed_everything(train_cfg.seed, workers=True, verbose=False)
    return ScaledEncoder(cls(**signal, **parsed), mean, std, rms,
                         rescale=train_cfg.rescale_predictions)


def _fit(cls: type, parsed: dict[str, Any], train_cfg: TrainConfig, encoder_data: EncoderData,
         scaling: tuple) -> FitResult:
    """Build one encoder and fit it with its own fitter (selection on the val trials)."""
    model = _build(cls, parsed, train_cfg, encoder_data, scaling)
    with tempfile.TemporaryDirectory(prefix="brainrecon-crossval-") as work_dir:
        return FITTERS.get(cls.fit_method)(model, encoder_data, train_cfg, Path(work_dir))


def _nested_alpha(cls: type, parsed: dict[str, Any], train_cfg: TrainConfig, data: FoldData,
                  x: np.ndarray, fold: Fold) -> tuple[float, dict[str, float]]:
    """The alpha of a closed-form encoder chosen by its validation score averaged over every
    inner split of ``fold`` (each fitted on its fitting rows only), and those averages."""
    scores = []
    for fit_rows, val_rows in fold.inner:
        encoder_data, _, scaling = _encoder_data(data, x, fit_rows, val_rows, fold.test)
        history = _fit(cls, parsed, train_cfg, encoder_data, scaling).history
        scores.append(history.set_index("alpha")[f"val_{parsed['selection']}"])
    mean = pd.concat(scores, axis=1).mean(axis=1)  # alpha -> mean inner validation score
    return float(mean.idxmin()), {f"{alpha:g}": round(float(score), 6)
                                  for alpha, score in mean.items()}


def fit_encoder_fold(name: str, options: dict[str, Any], train_cfg: TrainConfig,
                     data: FoldData, x: np.ndarray, fold: Fold
                     ) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit encoder ``name`` into the class latents on ``fold.train``; score ``fold.test``.

    A closed-form encoder with an ``alphas`` grid (ridge, riemann) is fitted on every inner
    split's fitting rows; the alpha with the best validation score averaged over the inner
    splits is then refitted on all of ``fold.train``. A gradient-descent encoder is fitted on
    the first inner split's fitting rows and its best epoch selected on that split's
    validation rows. Held-out trials are classified by the cosine of their predicted latent to
    each class latent, in the standardised target space the encoder was fitted and selected
    in. A subject with no fitting trial (leave-one-subject-out) is predicted as unseen:
    through the average of the subject layers (:mod:`pipeline.encoders.subjects`).

    Parameters
    ----------
    name, options : str, dict
        A registered encoder and its options.
    train_cfg : TrainConfig
        Fitting settings for gradient-descent encoders (seed, lr, epochs, ...).
    data : FoldData
        Labels, runs, subjects and class latents.
    x : ndarray, shape (n_trials, n_chans, n_times)
        The features the encoder sees (z-scored by run or not).
    fold : Fold
        The outer fold.

    Returns
    -------
    scores : ndarray, shape (n_test, n_classes)
    details : dict
        The selection (alpha and the mean inner score of each alpha, or val_loss and
        best_epoch, ...).
    """
    cls = ENCODERS.get(name)
    parsed = cls.parse_options(options).model_dump()
    if cls.fit_method == "closed_form" and "alphas" in parsed:
        alpha, inner_scores = _nested_alpha(cls, parsed, train_cfg, data, x, fold)
        encoder_data, subject, scaling = _encoder_data(data, x, fold.train, [], fold.test)
        model = _build(cls, {**parsed, "alphas": [alpha]}, train_cfg, encoder_data, scaling)
        train = encoder_data.arrays("train")
        model.encoder.fit_closed_form(train, train)  # one alpha: refitted on every trial
        details = {"alpha": alpha, "val_loss": min(inner_scores.values()),
                   "selection": f"inner val_{parsed['selection']}, mean of {len(fold.inner)}",
                   "inner_scores": inner_scores}
    else:
        encoder_data, subject, scaling = _encoder_data(data, x, *fold.inner[0], fold.test)
        result = _fit(cls, parsed, train_cfg, encoder_data, scaling)
        model = result.model
        details = {"val_loss": float(result.val_loss), "best_epoch": result.best_epoch,
                   **result.details}
    predicted = _predict_test(model.encoder, data, x, fold.test, subject,
                              unseen_index(len(encoder_data.subjects)), details)
    return cosine_similarity(predicted, encoder_data.target), details  # (n_test, K)


def _predict_test(encoder: Any, data: FoldData, x: np.ndarray, test: np.ndarray,
                  subject: np.ndarray, unseen: int, details: dict[str, Any]) -> np.ndarray:
    """Predict the held-out rows; each subject not fitted on (index ``unseen``) is first
    adapted to from its own unlabelled held-out trials (``Encoder.adapt_unseen``)."""
    held_out = subject[test] == unseen  # (n_test,)
    masks = [~held_out] + [held_out & (data.subject[test] == name)
                           for name in np.unique(data.subject[test][held_out])]
    predicted = None
    for mask in (mask for mask in masks if mask.any()):
        rows = test[mask]
        if subject[rows[0]] == unseen:
            adapted = encoder.adapt_unseen(x[rows])
            if adapted:
                details.setdefault("adapted", []).append(adapted)
        part = predict_rows(encoder, x, rows, subject[rows])  # (n_rows, D)
        if predicted is None:
            predicted = np.empty((len(test), part.shape[1]), dtype=part.dtype)
        predicted[mask] = part
    return predicted


def fit_classifier_fold(name: str, options: dict[str, Any], data: FoldData, fold: Fold
                        ) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit baseline ``name`` on ``fold.train`` (grid searched on the inner splits); score test.

    Returns
    -------
    scores : ndarray, shape (n_test, n_classes)
        Class probabilities (0 for a class absent from the training trials).
    details : dict
        The selected hyperparameters (empty when the grid has one point).

    Raises
    ------
    ParamsError
        If the classifier needs time samples and the trials have one (fMRI estimates).
    """
    cls = CLASSIFIERS.get(name)
    parsed = cls.Options.model_validate(options)
    if cls.needs_time and data.x.shape[2] < 2:
        raise ParamsError(
            f"crossval.baselines.{name}: needs epochs with time samples; got "
            f"{data.x.shape[2]} per trial (fMRI estimates?): remove it for this study"
        )
    x = zscore_by_run(data.x, data.run, fold.train) if parsed.zscore_by_run else data.x
    estimator, grid = cls.build(parsed)
    y = data.label[fold.train]
    details: dict[str, Any] = {}
    with mne.utils.use_log_level("warning"):  # mne.decoding logs every covariance
        if grid:
            position = np.full(len(data.x), -1)
            position[fold.train] = np.arange(len(fold.train))
            inner = [(position[fit], position[val]) for fit, val in fold.inner]
            search = GridSearchCV(estimator, grid, cv=inner, scoring="accuracy", refit=True)
            model = search.fit(x[fold.train], y).best_estimator_
            details = {key.split("__")[-1]: value for key, value in search.best_params_.items()}
        else:
            model = estimator.fit(x[fold.train], y)
        probabilities = model.predict_proba(x[fold.test])  # (n_test, n_seen_classes)
    scores = np.zeros((len(fold.test), data.n_classes))
    scores[:, model.classes_] = probabilities
    return scores, details
