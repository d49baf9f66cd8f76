"""Preprocess a study: the pipeline of its BIDS datatype, held-out subjects, the data's source.

``PIPELINES`` maps a BIDS datatype to the function that preprocesses a study of it:
``eeg``, ``meg`` and ``ieeg`` go through MNE (:mod:`pipeline.preprocess.eeg_meg`), ``func``
through nilearn (:mod:`pipeline.preprocess.fmri`), and ``epochs`` (a study released already
epoched) through the epoch steps alone (:mod:`pipeline.preprocess.epoched`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.io import read_json, write_json
from pipeline.preprocess.datatypes import choose_datatype
from pipeline.preprocess.holdout import hold_out_directory
from pipeline.provenance import read_source
from pipeline.registry import Registry

if TYPE_CHECKING:
    from pipeline.preprocess.options import PreprocessConfig

PIPELINES = Registry("datatype", modules=(
    "pipeline.preprocess.betas",
    "pipeline.preprocess.eeg_meg",
    "pipeline.preprocess.epoched",
    "pipeline.preprocess.fmri",
))


def preprocess_study(cfg: PreprocessConfig, raw_dir: str | Path, out_dir: str | Path
                     ) -> dict[str, Any]:
    """Preprocess the recordings of the BIDS root ``raw_dir`` into ``out_dir``.

    The datatype is ``cfg.datatype``, or the one the root holds; its registered pipeline
    does the work and returns a summary (counts, bad channels, seconds). The train/val
    trials of ``cfg.holdout_subjects`` then get split ``unused``
    (:mod:`pipeline.preprocess.holdout`). ``info.json`` gets
    the study's ``source`` (name, licence, authors, references; see
    :func:`pipeline.provenance.read_source`), so figures downstream can credit the data.

    Raises
    ------
    DataError
        If the root holds no known datatype, or several and ``cfg.datatype`` is unset.
    """
    datatype = choose_datatype(Path(raw_dir), cfg.datatype, list(PIPELINES))
    summary = PIPELINES.get(datatype)(cfg, raw_dir, out_dir, datatype)
    if cfg.holdout_subjects:
        summary["n_trials"] = hold_out_directory(out_dir, cfg.holdout_subjects)
    info_path = Path(out_dir) / "info.json"
    write_json({**read_json(info_path), "source": read_source(raw_dir)}, info_path)
    return summary
