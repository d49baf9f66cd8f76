"""The ``generators`` stage: fit the image, text and shape generators on the training stimuli."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from pipeline.generators import GENERATORS
from pipeline.generators.base import Generator
from pipeline.generators.options import GeneratorsConfig
from pipeline.generators.stimuli import load_stimulus_set
from pipeline.io import read_json, write_json

logger = logging.getLogger(__name__)

GENERATOR_FILE = "generator.json"  # {kind, name}: which class reads a generator's directory


def fit_generators(cfg: GeneratorsConfig, raw_dir: str | Path, targets_dir: str | Path,
                   out_dir: str | Path, checkpoint_dir: str | Path | None = None,
                   ) -> dict[str, Any]:
    """Fit every generator of ``cfg.kinds`` on the train stimuli (val for selection only).

    Parameters
    ----------
    cfg : GeneratorsConfig
        The ``generators`` section.
    raw_dir, targets_dir : str or Path
        The study's raw root (stimuli) and its target latents.
    out_dir : str or Path
        One directory per kind (``image/``, ``text/``, ``shape/``) with the fitted generator
        and its ``generator.json``; ``generators.json`` sums up the fit.
    checkpoint_dir : str or Path, optional
        Keeps the training checkpoints of each kind (``<checkpoint_dir>/<kind>``) until its
        generator is saved: a fit killed part way resumes there when started again.

    Returns
    -------
    dict
        The content of ``generators.json``, with each generator's ``fit_seconds`` (logged
        and returned, never written: the stage's outputs are the same bytes on every run).
    """
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    stimuli = load_stimulus_set(raw_dir, targets_dir)
    train, val = stimuli.split("train"), stimuli.split("val")
    summary: dict[str, Any] = {"n_train": len(train), "n_val": len(val),
                               "latent_dim": int(stimuli.latents.shape[1]), "generators": {}}
    timings: dict[str, float] = {}
    for kind in cfg.kinds:
        choice = cfg.choice(kind)
        generator_cls = GENERATORS[kind].get(choice.name)
        options = generator_cls.parse_options(choice.kwargs())
        logger.info("fitting the %s generator %r on %d train stimuli", kind, choice.name,
                    len(train))
        start = time.perf_counter()
        checkpoints = None if checkpoint_dir is None else Path(checkpoint_dir) / kind
        generator = generator_cls.fit(options, train, val, cfg.seed, checkpoints)
        seconds = time.perf_counter() - start
        directory = Path(out_dir) / kind
        directory.mkdir(parents=True, exist_ok=True)
        generator.save(directory)
        write_json({"kind": kind, "name": choice.name}, directory / GENERATOR_FILE)
        if checkpoints is not None:
            shutil.rmtree(checkpoints, ignore_errors=True)
        summary["generators"][kind] = {"name": choice.name}
        timings[kind] = round(seconds, 2)
        logger.info("%s generator %r fitted in %.1f s", kind, choice.name, seconds)
    Path(out_dir).mkdir(parents=True, exist_ok=True)  # with no kind, nothing made it yet
    write_json(summary, Path(out_dir) / "generators.json")  # no timing: byte-identical outputs
    return {**summary, "generators": {kind: {**entry, "fit_seconds": timings[kind]}
                                      for kind, entry in summary["generators"].items()}}


def load_generator(directory: str | Path) -> tuple[str, Generator]:
    """Load a fitted generator from its directory; returns its name and the generator."""
    directory = Path(directory)
    spec = read_json(directory / GENERATOR_FILE)
    return spec["name"], GENERATORS[spec["kind"]].get(spec["name"]).load(directory)


def fitted_kinds(generators_dir: str | Path) -> list[str]:
    """The kinds with a fitted generator in ``generators_dir`` (from ``generators.json``)."""
    return list(read_json(Path(generators_dir) / "generators.json")["generators"])
