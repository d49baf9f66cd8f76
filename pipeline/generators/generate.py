"""The ``generate`` stage: predicted latents of the test stimuli -> images, captions, 3D objects.

Three sources are generated with the same generators and seed: the brain decoder's
predictions, the ridge baseline's, and the true target latents (the generator's ceiling:
what it makes of a perfect decoder).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.artifacts import read_predictions
from pipeline.errors import DataError
from pipeline.generators.fit import fitted_kinds, load_generator
from pipeline.generators.latent_prior import generate_decoded
from pipeline.generators.latents import unit_rows
from pipeline.generators.options import GenerateConfig
from pipeline.generators.outputs import OUTPUT_IO
from pipeline.generators.stimuli import load_stimulus_set
from pipeline.io import write_json, write_tsv

logger = logging.getLogger(__name__)

INDEX_FILE = "stimuli.tsv"  # the generated test stimuli, in generation order
CEILING = "ceiling"  # the source of the true latents


def stimulus_latents(predictions_dir: str | Path, stimulus_ids: list[str]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Mean unit-normalised predicted latent of each stimulus over all its test trials.

    Parameters
    ----------
    predictions_dir : str or Path
        A predict stage output (``predictions.npy`` and ``trials.tsv``).
    stimulus_ids : list of str
        The test stimuli, in output order.

    Returns
    -------
    latents : ndarray, shape (n_stimuli, dim), float32
    n_trials : ndarray of int, shape (n_stimuli,)
        The test trials averaged for each stimulus.

    Raises
    ------
    DataError
        If a stimulus has no test trial among the predictions.
    """
    predictions, trials = read_predictions(predictions_dir)
    test = (trials["split"] == "test").to_numpy()
    rows = unit_rows(np.asarray(predictions, dtype=np.float64)[test])  # (n_test_trials, dim)
    stimulus = trials["stimulus_id"].astype(str).to_numpy()[test]
    latents, counts = [], []
    for sid in stimulus_ids:
        mine = stimulus == sid
        if not mine.any():
            raise DataError(f"{Path(predictions_dir) / 'trials.tsv'}: no test trial of stimulus "
                            f"{sid!r}; expected predictions for every test stimulus")
        latents.append(rows[mine].mean(axis=0))
        counts.append(int(mine.sum()))
    return np.stack(latents).astype(np.float32), np.asarray(counts)


def generate_outputs(cfg: GenerateConfig, generators_dir: str | Path,
                     predictions: Mapping[str, str | Path], raw_dir: str | Path,
                     targets_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Generate every fitted kind of output for the test stimuli, from every source.

    Parameters
    ----------
    cfg : GenerateConfig
        Seed, the sampling options of each generator and the training-latent prior (applied
        to the predicted sources, for its kinds).
    generators_dir : str or Path
        The ``generators`` stage's output.
    predictions : mapping
        Source name ("decoder", "baseline") -> predictions directory.
    raw_dir, targets_dir : str or Path
        The study's stimuli and target latents (the "ceiling" source is the true latents).
    out_dir : str or Path
        ``stimuli.tsv`` (test stimuli and the trials averaged per source), one directory per
        source (see :mod:`pipeline.generators.outputs`) and ``generate.json`` (what was made).

    Returns
    -------
    dict
        The content of ``generate.json``, with each kind's ``seconds_per_output`` (logged and
        returned, never written: the stage's outputs are the same bytes on every run).
    """
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    stimuli = load_stimulus_set(raw_dir, targets_dir)
    test = stimuli.split("test")
    ids = test.table["stimulus_id"].tolist()
    index = pd.DataFrame({"stimulus_id": ids, "caption": test.table["caption"]})
    latents = {CEILING: test.latents}
    for source, directory in predictions.items():
        latents[source], index[f"n_trials_{source}"] = stimulus_latents(directory, ids)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_tsv(index, out_dir / INDEX_FILE)
    summary: dict[str, Any] = {"n_stimuli": len(ids), "sources": list(latents), "kinds": {}}
    timings: dict[str, float] = {}
    train_latents = stimuli.split("train").latents
    if cfg.latent_prior is not None:
        summary["latent_prior"] = {**cfg.latent_prior.model_dump(),
                                   "sources": [s for s in latents if s != CEILING]}
    for kind in fitted_kinds(generators_dir):
        name, generator = load_generator(Path(generators_dir) / kind)
        sampling = generator.parse_sampling(cfg.sampling.get(name, {}))
        seconds = 0.0
        for source, source_latents in latents.items():
            logger.info("generating %d %s outputs from the %s latents with %r", len(ids), kind,
                        source, name)
            start = time.perf_counter()
            if source == CEILING:
                output = generator.generate(source_latents, sampling, cfg.seed)
            else:
                output = generate_decoded(generator, kind, source_latents, train_latents,
                                          cfg.latent_prior, sampling, cfg.seed)
            seconds += time.perf_counter() - start
            OUTPUT_IO.get(kind).write(output, ids, out_dir / source)
        summary["kinds"][kind] = {"generator": name}
        timings[kind] = round(seconds / (len(ids) * len(latents)), 4)
        logger.info("%s: %.4f s per output", kind, timings[kind])
    write_json(summary, out_dir / "generate.json")
    return {**summary, "kinds": {kind: {**entry, "seconds_per_output": timings[kind]}
                                 for kind, entry in summary["kinds"].items()}}
