"""A LaVCa-style report: what drives each spatial group of channels (or voxels), in words.

Channels (voxels) are grouped by k-means on their positions. For each group, every training
stimulus is scored by the group's mean response strength on its training trials (each
channel z-scored over the training trials first, so sensor types and gains are comparable);
the top-scoring stimuli are described by a caption that the text generator writes from their
mean latent, and by the caption words over-represented among them (hypergeometric test
against all scored stimuli). Validation and test trials are never read.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import hypergeom
from sklearn.cluster import KMeans

from pipeline.artifacts import read_preprocessed
from pipeline.config import Section
from pipeline.errors import DataError, ParamsError
from pipeline.generators.base import Generator, StimulusSet
from pipeline.generators.text.channel_figure import plot_channel_captions
from pipeline.io import write_tsv
from pipeline.provenance import credit_line

logger = logging.getLogger(__name__)

TABLE, FIGURE = "channel_captions.tsv", "channel_captions.png"
CHUNK = 256  # trials read at once from the memory-mapped epochs
WORD = re.compile(r"[a-z0-9]+")
REPORT_COLUMNS = ["group", "n_channels", "top_stimuli", "caption", "shared_words"]


def response_strength(epochs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each trial's response per channel: mean power over time, or the value if one time point.

    Parameters
    ----------
    epochs : ndarray, shape (n_trials, n_chans, n_times)
        Memory-mapped epochs, or fMRI betas viewed as (n_trials, n_voxels, 1) (signed).
    rows : ndarray of int
        The trials to read.

    Returns
    -------
    ndarray, shape (len(rows), n_chans), float64
    """
    parts = []
    for start in range(0, len(rows), CHUNK):
        block = np.asarray(epochs[rows[start : start + CHUNK]], dtype=np.float64)  # (b, C, T)
        parts.append(block[:, :, 0] if block.shape[2] == 1 else np.mean(block**2, axis=2))
    return np.concatenate(parts) if parts else np.zeros((0, epochs.shape[1]))


def caption_words(caption: str) -> set[str]:
    """The distinct lower-case words of a caption."""
    return set(WORD.findall(caption.lower()))


def shared_words(top: list[str], pool: list[str], n_words: int) -> list[tuple[str, int, float]]:
    """Caption words over-represented among ``top`` captions relative to the ``pool``.

    Returns up to ``n_words`` (word, count in top, enrichment) for words in at least two top
    captions and more frequent there than in the pool, most significant first (upper tail of
    the hypergeometric distribution of the count).
    """
    top_sets, pool_sets = [caption_words(c) for c in top], [caption_words(c) for c in pool]
    scored = []
    for word in sorted(set().union(*top_sets)):
        count = sum(word in words for words in top_sets)
        total = sum(word in words for words in pool_sets)
        enrichment = (count / len(top)) / (total / len(pool))
        if count >= 2 and enrichment > 1:
            p = hypergeom.sf(count - 1, len(pool), total, len(top))
            scored.append((p, -enrichment, word, count))
    return [(word, count, -neg) for _, neg, word, count in sorted(scored)[:n_words]]


def describe_channel_groups(responses: np.ndarray, trials: pd.DataFrame, positions: np.ndarray,
                            stimuli: StimulusSet, generator: Generator, sampling: Section,
                            n_groups: int = 8, top_k: int = 5, n_words: int = 5, seed: int = 0,
                            ) -> tuple[pd.DataFrame, np.ndarray]:
    """The report of :func:`channel_captions`, on arrays in memory.

    Parameters
    ----------
    responses : ndarray, shape (n_trials, n_chans, n_times)
        Epochs (or betas as (n_trials, n_voxels, 1)); only training trials are read.
    trials : DataFrame
        One row per trial: stimulus_id, split.
    positions : ndarray, shape (n_chans, 3)
        Channel (voxel) positions.
    stimuli : StimulusSet
        Every stimulus with its caption and target latent (the generator's space).
    generator : Generator
        A fitted text generator.
    sampling : Section
        Its sampling options.
    n_groups, top_k, n_words, seed : int
        Spatial groups (k-means seeded by ``seed``), top stimuli and shared words per group.

    Returns
    -------
    table : DataFrame
        One row per group: group, n_channels, top_stimuli, caption, shared_words.
    labels : ndarray of int, shape (n_chans,)
        The group of each channel.

    Raises
    ------
    ParamsError
        If ``n_groups`` exceeds the channels or ``top_k`` the training stimuli.
    DataError
        If a training trial's stimulus is not in ``stimuli``.
    """
    n_chans = responses.shape[1]
    train_rows = np.flatnonzero((trials["split"] == "train").to_numpy())
    pool = pd.unique(trials["stimulus_id"].to_numpy()[train_rows]).tolist()
    if not 1 <= n_groups <= n_chans or not 1 <= top_k <= len(pool):
        raise ParamsError(f"channel captions: got n_groups={n_groups}, top_k={top_k}; expected "
                          f"1..{n_chans} groups and 1..{len(pool)} top stimuli (training stimuli)")
    index = pd.Series(np.arange(len(stimuli)), index=stimuli.table["stimulus_id"].astype(str))
    unknown = sorted(set(map(str, pool)) - set(index.index))
    if unknown:
        raise DataError(f"trials.tsv: stimulus ids {unknown[:5]} have no row in stimuli.tsv; "
                        "expected every training trial's stimulus there")
    labels = KMeans(n_clusters=n_groups, n_init=10, random_state=seed).fit_predict(positions)
    strength = response_strength(responses, train_rows)  # (n_train_trials, n_chans)
    std = strength.std(axis=0)
    z = (strength - strength.mean(axis=0)) / np.where(std > 0, std, 1.0)  # (n_train, n_chans)
    ids = trials["stimulus_id"].astype(str).to_numpy()[train_rows]
    captions = stimuli.table["caption"].fillna("").astype(str).to_numpy()
    pool_captions = captions[index[pool].to_numpy()].tolist()
    rows, latents = [], []
    for group in range(n_groups):
        score = pd.Series(z[:, labels == group].mean(axis=1)).groupby(ids).mean()  # per stimulus
        top = score.sort_values(ascending=False, kind="stable").index[:top_k].tolist()
        unit = stimuli.latents[index[top].to_numpy()]
        unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-8)
        latents.append(unit.mean(axis=0))
        words = shared_words(captions[index[top].to_numpy()].tolist(), pool_captions, n_words)
        shared = ", ".join(f"{word} ({count}/{top_k}, x{ratio:.1f})" for word, count, ratio
                           in words)
        rows.append({"group": group, "n_channels": int((labels == group).sum()),
                     "top_stimuli": ",".join(top), "shared_words": shared})
    generated = generator.generate(np.stack(latents).astype(np.float32), sampling, seed)
    table = pd.DataFrame(rows)
    table.insert(3, "caption", generated.captions)
    return table, labels


def channel_captions(preprocessed_dir: str | Path, stimuli: StimulusSet, generator: Generator,
                     sampling: Section, out_dir: str | Path, n_groups: int = 8, top_k: int = 5,
                     n_words: int = 5, seed: int = 0) -> pd.DataFrame:
    """Write the LaVCa-style report of a preprocessed dataset: a TSV and a PNG figure.

    Parameters
    ----------
    preprocessed_dir : str or Path
        ``epochs.npy`` or ``betas.npy``, ``trials.tsv`` and ``info.json`` (with ``ch_pos``).
    stimuli : StimulusSet
        Every stimulus with its caption and target latent; images for the thumbnails.
    generator : Generator
        A fitted text generator (``GENERATORS["text"]``) of the stimuli's latent space.
    sampling : Section
        Its sampling options.
    out_dir : str or Path
        Receives ``channel_captions.tsv`` and ``channel_captions.png`` (created if missing).
    n_groups, top_k, n_words, seed : int
        See :func:`describe_channel_groups`.

    Returns
    -------
    DataFrame
        One row per group: group, n_channels, top_stimuli, caption, shared_words (no row,
        and no files written, when the data have no channel positions).
    """
    data = read_preprocessed(preprocessed_dir)
    if data.info["ch_pos"] is None:
        logger.warning("%s: no channel positions (preprocess.positions: none); the channel "
                       "report, which groups channels by position, is left out", data.path)
        return pd.DataFrame(columns=REPORT_COLUMNS)
    positions = np.asarray(data.info["ch_pos"], dtype=np.float64)  # (n_chans, 3)
    table, labels = describe_channel_groups(data.epochs, data.trials, positions, stimuli,
                                            generator, sampling, n_groups, top_k, n_words, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tsv(table, out / TABLE)
    plot_channel_captions(table, labels, positions, stimuli, out / FIGURE,
                          credit_line(data.info.get("source") or {}))
    logger.info("channel captions: %d groups of %s -> %s", len(table), data.path, out / TABLE)
    return table
