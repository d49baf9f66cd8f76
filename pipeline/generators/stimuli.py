"""Read a study's stimuli with their target latents into a :class:`StimulusSet`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.artifacts import read_targets
from pipeline.errors import DataError
from pipeline.generators.base import StimulusSet
from pipeline.io import read_tsv

REQUIRED = ("stimulus_id", "split", "caption")  # image generators also need "image"


def load_stimulus_set(raw_dir: str | Path, targets_dir: str | Path) -> StimulusSet:
    """Join the raw ``stimuli/stimuli.tsv`` (with any 3D parameters) to the target latents.

    Parameters
    ----------
    raw_dir : str or Path
        The study's raw root (reads ``stimuli/stimuli.tsv`` and, lazily, its images).
    targets_dir : str or Path
        The targets stage's output (``latents.npy``, ``stimuli.tsv``, ``info.json``).

    Returns
    -------
    StimulusSet
        Rows in the raw table's order, each with its target latent.

    Raises
    ------
    DataError
        If a stimulus of the raw table has no latent, or the splits disagree.
    """
    root = Path(raw_dir) / "stimuli"
    table = read_tsv(root / "stimuli.tsv", required=REQUIRED)
    table = table.astype({"stimulus_id": str, "split": str})
    table["caption"] = table["caption"].fillna("").astype(str)
    latents, target_stimuli, _ = read_targets(targets_dir)
    row_of = {sid: row for row, sid in enumerate(target_stimuli["stimulus_id"].astype(str))}
    missing = [sid for sid in table["stimulus_id"] if sid not in row_of]
    if missing:
        raise DataError(
            f"{Path(targets_dir) / 'stimuli.tsv'}: no latents for stimuli {missing[:5]} of "
            f"{root / 'stimuli.tsv'}; expected the targets of this study (rerun targets)"
        )
    rows = np.array([row_of[sid] for sid in table["stimulus_id"]])
    split_of_target = target_stimuli["split"].astype(str).to_numpy()[rows]
    if not (split_of_target == table["split"].to_numpy()).all():
        raise DataError(
            f"{Path(targets_dir) / 'stimuli.tsv'}: splits differ from {root / 'stimuli.tsv'}; "
            "expected the targets of this study (rerun targets)"
        )
    return StimulusSet(root, table.reset_index(drop=True), latents[rows])
