"""Seen and held-out subjects: which test queries come from subjects the encoders never saw.

``predict`` records in its ``info.json`` the ``unseen_subjects``: subjects of the predicted
trials that the model was not trained on (``preprocess.holdout_subjects``). ``evaluate``
scores their queries apart from those of the seen subjects, on the same gallery.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import DataError
from pipeline.evaluation.retrieval import RetrievalScores
from pipeline.io import read_json


def unseen_subjects(predictions_dir: Path, baseline_dir: Path) -> list[str]:
    """The subjects the decoder (and the baseline) were not trained on; [] when none.

    Raises
    ------
    DataError
        If the two models were not trained on the same subjects.
    """
    found = {}
    for directory in (predictions_dir, baseline_dir):
        info_path = Path(directory) / "info.json"
        info = read_json(info_path) if info_path.is_file() else {}
        found[directory] = sorted(info.get("unseen_subjects", []))
    if found[predictions_dir] != found[baseline_dir]:
        raise DataError(
            f"{Path(baseline_dir) / 'info.json'}: unseen subjects {found[baseline_dir]} differ "
            f"from the decoder's {found[predictions_dir]}; expected both models trained on the "
            "same subjects (one preprocessed study)"
        )
    return found[predictions_dir]


def subset(retrieval: RetrievalScores | None, subjects: list[str]) -> RetrievalScores | None:
    """The queries of ``subjects`` only (same gallery); None stays None."""
    if retrieval is None:
        return None
    return retrieval.queries(np.isin(retrieval.query_subject, subjects))


def subject_groups(retrieval: RetrievalScores, unseen: list[str]) -> dict[str, list[str]]:
    """The test subjects of the groups ``seen`` and ``held_out``; an empty group is left out."""
    subjects = sorted(set(retrieval.query_subject))
    groups = {"seen": [s for s in subjects if s not in unseen],
              "held_out": [s for s in subjects if s in unseen]}
    return {name: members for name, members in groups.items() if members}
