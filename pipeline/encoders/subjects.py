"""Subject indices, and what an encoder does with a subject it was not trained on.

An encoder built for ``n_subjects`` subjects takes the indices ``0 .. n_subjects - 1`` for
the subjects it was fitted on (their position in the sorted training subjects) and the
index ``n_subjects`` (:func:`unseen_index`) for any other subject: a held-out subject of
leave-one-subject-out, or a new recording. Subject-specific layers map that index to the
average of their subjects' parameters (:func:`with_unseen`); encoders without subject
layers ignore the index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from pipeline.artifacts import FIT_SPLITS


def unseen_index(n_subjects: int) -> int:
    """The subject index of a subject the encoder was not trained on: ``n_subjects``."""
    return int(n_subjects)


def fitted_subjects(trials: pd.DataFrame) -> list[str]:
    """The subjects an encoder is fitted on, in index order: sorted, with train/val trials.

    Training and pretraining both index subjects this way, so the subject layers learned
    by one are the ones the other looks up.
    """
    return sorted(set(trials.loc[trials["split"].isin(FIT_SPLITS), "subject"]))


def subject_indices(labels: Sequence | np.ndarray, known: Sequence) -> np.ndarray:
    """Index of each label in ``known``, :func:`unseen_index` for a label not in it.

    Parameters
    ----------
    labels : sequence, shape (n_trials,)
        The subject of each trial.
    known : sequence
        The subjects the encoder is (or will be) trained on, in index order.

    Returns
    -------
    ndarray of int64, shape (n_trials,)
    """
    position = {label: index for index, label in enumerate(known)}
    unseen = unseen_index(len(known))
    return np.array([position.get(label, unseen) for label in labels], dtype=np.int64)


def subject_parameter(parameter: torch.Tensor, index: int) -> torch.Tensor:
    """The entry of subject ``index`` of ``parameter`` (n_subjects, ...); the mean if unseen."""
    if int(index) == unseen_index(len(parameter)):
        return parameter.mean(dim=0)
    return parameter[index]


def with_unseen(parameter: torch.Tensor) -> torch.Tensor:
    """Append the mean over subjects to per-subject parameters, as the unseen subject's.

    Parameters
    ----------
    parameter : Tensor, shape (n_subjects, ...)
        One entry per training subject.

    Returns
    -------
    Tensor, shape (n_subjects + 1, ...)
        Index it with subject indices; row ``n_subjects`` is the average subject.
    """
    return torch.cat([parameter, parameter.mean(dim=0, keepdim=True)])
