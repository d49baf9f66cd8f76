"""Hold subjects out of every fit: their train/val trials become ``unused``, their tests stay.

Leave-one-subject-out evaluation is then zero-shot twice: by stimulus (the split of
``stimuli.tsv``) and by subject (no trial of a held-out subject reaches a fitter, the
baseline included; fitters read only ``train`` and ``val`` trials).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pipeline.artifacts import FIT_SPLITS
from pipeline.errors import ParamsError
from pipeline.io import read_json, write_json, write_tsv

logger = logging.getLogger(__name__)

UNUSED = "unused"  # the split of a held-out subject's train/val trials


def hold_out(trials: pd.DataFrame, subjects: Sequence[str], source: str) -> pd.DataFrame:
    """Return ``trials`` with the train/val trials of ``subjects`` in split ``unused``.

    Parameters
    ----------
    trials : DataFrame
        The trials table (subject, split, ...).
    subjects : sequence of str
        Subject labels to hold out (without ``sub-``).
    source : str
        The table, for error messages.

    Returns
    -------
    DataFrame
        A new table; test trials keep split ``test``.

    Raises
    ------
    ParamsError
        If a subject is not in the table, or no subject would be left to fit on.
    """
    found = sorted(set(trials["subject"]))
    unknown = sorted(set(subjects) - set(found))
    if unknown:
        raise ParamsError(
            f"preprocess.holdout_subjects: got {unknown}, not in {source}; expected some of "
            f"{found}"
        )
    held = trials["subject"].isin(list(subjects)).to_numpy()
    if not (~held & trials["split"].isin(FIT_SPLITS).to_numpy()).any():
        raise ParamsError(
            f"preprocess.holdout_subjects: got {sorted(subjects)}; expected at least one subject "
            f"of {found} left with train/val trials in {source}"
        )
    fitted = held & trials["split"].isin(FIT_SPLITS).to_numpy()
    return trials.assign(split=trials["split"].where(~fitted, UNUSED))


def hold_out_directory(out_dir: str | Path, subjects: Sequence[str]) -> dict[str, int]:
    """Apply :func:`hold_out` to a preprocessed directory's ``trials.tsv``, in place.

    ``info.json`` records ``holdout_subjects``. The table is read and written as text, so
    every other cell is kept as written.

    Returns
    -------
    dict
        Number of trials per split after holding out.
    """
    out_dir = Path(out_dir)
    path = out_dir / "trials.tsv"
    trials = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table = hold_out(trials, subjects, str(path))
    write_tsv(table, path)
    info = read_json(out_dir / "info.json")
    write_json({**info, "holdout_subjects": sorted(subjects)}, out_dir / "info.json")
    counts = table["split"].value_counts()
    logger.info("held out subjects %s: %d train/val trials unused, their %d test trials kept",
                ", ".join(sorted(subjects)), int(counts.get(UNUSED, 0)),
                int((table["subject"].isin(list(subjects)) & (table["split"] == "test")).sum()))
    return {str(split): int(count) for split, count in counts.items()}
