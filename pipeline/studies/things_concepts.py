"""What the THINGS datasets share: images grouped by concept, split by concept, captioned.

THINGS images are named ``<concept>_<exemplar>.jpg`` (``aardvark_01b.jpg``) and stored in a
folder per concept. A study's validation images are whole training concepts, drawn with a
fixed seed, so no concept lends images to two splits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

SPLIT_SEED = 0
NUMBERING = re.compile(r"^\d+_")  # THINGS-EEG2 numbers its concept folders: 00001_aardvark


def concept_of(image_name: str) -> str:
    """The concept of a THINGS image file name: ``aardvark_01b.jpg`` -> ``aardvark``."""
    stem = image_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.rsplit("_", 1)[0]


def caption_of(concept: str) -> str:
    """A caption from a concept name: ``00001_ice_cream`` or ``ice_cream2`` -> ``ice cream``."""
    words = NUMBERING.sub("", concept).replace("_", " ")
    return re.sub(r"\d", "", words).strip()


def draw_validation(concepts: Sequence[str], val_fraction: float) -> dict[str, str]:
    """Concept -> ``train`` or ``val``: a ``val_fraction`` of the concepts, drawn with seed 0."""
    from pipeline.evaluation.splits import assign_splits

    return assign_splits(sorted(set(concepts)), {"train": 1 - val_fraction,
                                                 "val": val_fraction}, SPLIT_SEED)


def split_by_concept(table: pd.DataFrame, val_fraction: float) -> pd.Series:
    """The split of each row of ``table`` (columns ``concept`` and boolean ``test``).

    Test rows are ``test`` (the published split); the others are ``train`` or ``val`` by
    their concept (:func:`draw_validation`).
    """
    drawn = draw_validation(table.loc[~table["test"], "concept"].tolist(), val_fraction)
    return table["concept"].map(drawn).where(~table["test"], "test")
