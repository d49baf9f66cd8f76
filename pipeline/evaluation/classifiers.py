"""Baseline classifiers researchers trust, run beside the brainrecon encoders in ``crossval``.

``CLASSIFIERS`` maps ``crossval.baselines`` names to classes with a pydantic ``Options``
model and ``build(options) -> (estimator, grid)``: a scikit-learn estimator taking epochs
``(n_trials, n_chans, n_times)`` and the grid of its hyperparameters (``{}`` when nothing is
selected). A grid with several values is searched inside the training folds only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, PositiveFloat
from sklearn.base import BaseEstimator
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from pipeline.config import Section
from pipeline.errors import ParamsError
from pipeline.registry import Registry

CLASSIFIERS = Registry("classifier")
MAX_ITER = 2000


class ClassifierOptions(Section):
    """Options every classifier has."""

    zscore_by_run: bool = Field(
        False, description="z-score every feature within its run before fitting (no labels)"
    )


class LinearOptions(ClassifierOptions):
    """Options of a classifier ending in a logistic regression."""

    C: list[PositiveFloat] = Field(
        [1.0], min_length=1,
        description="inverse regularisation; several values are chosen in inner folds",
    )


def flatten(x: np.ndarray) -> np.ndarray:
    """Flatten epochs (n_trials, n_chans, n_times) to features (n_trials, n_chans * n_times)."""
    return np.asarray(x).reshape(len(x), -1)


def _logistic(options: LinearOptions) -> tuple[LogisticRegression, dict[str, list[Any]]]:
    """A multinomial logistic regression and its C grid (empty when C has one value)."""
    model = LogisticRegression(C=options.C[0], max_iter=MAX_ITER)
    return model, ({"clf__C": list(options.C)} if len(options.C) > 1 else {})


@CLASSIFIERS.register("logistic")
class LogisticClassifier:
    """Flatten, standardise, multinomial logistic regression (scikit-learn).

    The classic fMRI decoder (Haxby data: run-z-scored masked volumes), also a linear
    baseline on EEG epochs.
    """

    class Options(LinearOptions):
        """Options of the logistic-regression baseline."""

        zscore_by_run: bool = True

    needs_time: ClassVar[bool] = False

    @staticmethod
    def build(options: LinearOptions) -> tuple[BaseEstimator, dict[str, list[Any]]]:
        """Return the pipeline and its hyperparameter grid."""
        model, grid = _logistic(options)
        steps = [("flatten", FunctionTransformer(flatten)), ("scale", StandardScaler()),
                 ("clf", model)]
        return Pipeline(steps), grid


@CLASSIFIERS.register("csp")
class CSPClassifier:
    """Common spatial patterns (mne.decoding.CSP, log-variance) + logistic regression or LDA.

    For band-passed EEG/MEG epochs (motor imagery: 8-30 Hz).
    """

    class Options(LinearOptions):
        """Options of the CSP baseline."""

        n_components: int = Field(4, ge=1)
        reg: float | Literal["ledoit_wolf", "oas", "shrunk", "empirical"] | None = None
        classifier: Literal["logistic", "lda"] = "logistic"

    needs_time: ClassVar[bool] = True

    @staticmethod
    def build(options: Options) -> tuple[BaseEstimator, dict[str, list[Any]]]:
        """Return the pipeline and its hyperparameter grid."""
        from mne.decoding import CSP

        csp = CSP(n_components=options.n_components, reg=options.reg, log=True,
                  norm_trace=False)
        if options.classifier == "lda":
            model, grid = LinearDiscriminantAnalysis(), {}
        else:
            model, grid = _logistic(options)
        steps = [("float64", FunctionTransformer(np.float64)), ("csp", csp), ("clf", model)]
        return Pipeline(steps), grid


def delay_embed(x: np.ndarray, order: int, lag: int) -> np.ndarray:
    """Epochs (N, C, T) with ``order - 1`` delayed copies of the channels (augmented covariance).

    Raises
    ------
    ParamsError
        If the delays span the whole epoch.
    """
    from pipeline.encoders.riemann import augment

    if (order - 1) * lag >= np.shape(x)[-1] - 1:
        raise ParamsError(f"crossval.baselines.tangent: order {order} and lag {lag} span "
                          f"{(order - 1) * lag} samples; expected fewer than the epoch's "
                          f"{np.shape(x)[-1]} - 1")
    return augment(torch.from_numpy(np.asarray(x, dtype=np.float64)), order, lag).numpy()


@CLASSIFIERS.register("tangent")
class TangentSpaceClassifier:
    """Riemannian tangent space of the spatial covariances (pyriemann) + logistic regression.

    With ``order`` > 1, the covariances are augmented (Carrara & Papadopoulo, 2024): of the
    channels stacked with ``order - 1`` copies delayed by ``lag`` samples.
    """

    class Options(LinearOptions):
        """Options of the tangent-space baseline."""

        estimator: Literal["oas", "lwf", "scm"] = Field("oas", description="covariance estimator")
        metric: Literal["riemann", "logeuclid"] = "riemann"
        order: int = Field(1, ge=1, description="delayed copies of the channels (1: plain)")
        lag: int = Field(1, ge=1, description="samples between delayed copies")

    needs_time: ClassVar[bool] = True

    @staticmethod
    def build(options: Options) -> tuple[BaseEstimator, dict[str, list[Any]]]:
        """Return the pipeline and its hyperparameter grid."""
        from pyriemann.estimation import Covariances
        from pyriemann.tangentspace import TangentSpace

        model, grid = _logistic(options)
        delays = {"order": options.order, "lag": options.lag}
        embed = [("augment", FunctionTransformer(delay_embed, kw_args=delays))]
        steps = [("float64", FunctionTransformer(np.float64)),
                 *(embed if options.order > 1 else []),
                 ("covariance", Covariances(estimator=options.estimator)),
                 ("tangent", TangentSpace(metric=options.metric)),
                 ("scale", StandardScaler()), ("clf", model)]
        return Pipeline(steps), grid
