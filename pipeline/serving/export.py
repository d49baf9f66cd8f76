"""The ``export`` stage: one study's trained decoder as a self-contained bundle.

Layout of a bundle (every file hashed in ``bundle.json``)::

    bundle.json            manifest: signal, preprocessing, encoder, target, generators,
                           sampling, metrics, licences, brainrecon version, sha256 of files
    encoder/               the decoder: config.json + model.safetensors
    baseline/              the ridge baseline (optional), same format
    gallery/               the stimuli's target latents (stage contract 3: latents.npy,
                           stimuli.tsv, info.json) and their images (images/<id>.png)
    generators/            the fitted generators (one folder per kind, safetensors)
    examples/              the study's test trials (epochs.npy, trials.tsv), optional
    metrics/               evaluate.json and generation.json of the study
"""

from __future__ import annotations

import logging
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.artifacts import Preprocessed, read_preprocessed, read_targets
from pipeline.errors import DataError
from pipeline.evaluation.options import EvaluateConfig
from pipeline.generators.fit import GENERATOR_FILE
from pipeline.generators.options import GenerateConfig
from pipeline.io import read_json, read_rgb, require_file, sha256, write_json, write_tsv
from pipeline.preprocess.options import PreprocessConfig
from pipeline.provenance import read_source
from pipeline.serving.licences import bundle_licences
from pipeline.serving.options import ExportConfig

logger = logging.getLogger(__name__)

BUNDLE_FILE = "bundle.json"
FORMAT = "brainrecon-decoder-bundle"
FORMAT_VERSION = 1
ENCODER_FILES = ("config.json", "model.safetensors")


def brainrecon_version() -> str:
    """The installed brainrecon version ("unknown" when run from an uninstalled tree)."""
    try:
        return version("brainrecon")
    except PackageNotFoundError:
        return "unknown"


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` but the manifest, by POSIX path relative to it."""
    return {path.relative_to(root).as_posix(): sha256(path)
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.name != BUNDLE_FILE}


def _copy_encoder(model_dir: Path, out: Path) -> dict[str, Any]:
    """Copy an encoder's config.json and weights; return what the manifest says of it."""
    out.mkdir()
    for name in ENCODER_FILES:
        shutil.copy2(require_file(model_dir / name, f"a trained encoder's {name}"), out / name)
    config = read_json(out / "config.json")
    return {"name": config["encoder"], "subjects": config["subjects"],
            "rescale_predictions": config["rescale_predictions"]}


def _copy_images(table: pd.DataFrame, stimuli_dir: Path, out: Path) -> list[str]:
    """Write each stimulus image as ``images/<id>.png``; returns the new relative paths."""
    (out / "images").mkdir(parents=True)
    names = []
    for stimulus_id, image in zip(table["stimulus_id"], table["image"], strict=True):
        name = f"images/{stimulus_id}.png"
        read_rgb(stimuli_dir / image).save(out / name)
        names.append(name)
    return names


def _copy_audio(table: pd.DataFrame, stimuli_dir: Path, out: Path) -> list[str]:
    """Copy each stimulus sound as ``audio/<id>.wav``; returns the new relative paths."""
    (out / "audio").mkdir(parents=True)
    names = []
    for stimulus_id, audio in zip(table["stimulus_id"], table["audio"], strict=True):
        name = f"audio/{stimulus_id}.wav"
        shutil.copy2(require_file(stimuli_dir / audio, "a stimulus sound (WAV)"), out / name)
        names.append(name)
    return names


MEDIA_COPIERS = {"image": _copy_images, "audio": _copy_audio}  # stimuli.tsv column -> copier


def _write_gallery(raw_dir: Path, targets_dir: Path, out: Path) -> tuple[dict[str, Any], str]:
    """Write the gallery: target latents (contract 3) and each stimulus' image or sound.

    Returns what the manifest says of it, and the target space's name.
    """
    latents, stimuli, info = read_targets(targets_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "latents.npy", latents)
    write_json(info, out / "info.json")
    table = stimuli.copy()
    for column, copy in MEDIA_COPIERS.items():
        if column in table.columns:
            table[column] = copy(table, raw_dir / "stimuli", out)
    write_tsv(table, out / "stimuli.tsv")
    summary = {"n_stimuli": len(table), "dim": int(latents.shape[1]),
               "splits": {str(k): int(v) for k, v in table["split"].value_counts().items()},
               "images": "image" in table.columns, "audio": "audio" in table.columns}
    return summary, str(info["name"])


def _write_examples(data: Preprocessed, out: Path) -> dict[str, Any]:
    """Write the study's test trials as the examples a served bundle can decode."""
    rows = np.flatnonzero((data.trials["split"] == "test").to_numpy())
    if not len(rows):
        raise DataError(f"{data.path / 'trials.tsv'}: no test trial to carry as examples; "
                        "set export.examples: false")
    out.mkdir()
    np.save(out / "epochs.npy", np.asarray(data.epochs[rows], dtype=np.float32))
    write_tsv(data.trials.iloc[rows].reset_index(drop=True), out / "trials.tsv")
    return {"n_trials": len(rows), "split": "test"}


def _copy_generators(generators_dir: Path, out: Path) -> dict[str, dict[str, Any]]:
    """Copy every fitted generator; return kind -> {name, text model where it has one}."""
    kinds = read_json(generators_dir / "generators.json")["generators"]
    described = {}
    for kind in kinds:
        shutil.copytree(generators_dir / kind, out / kind)
        spec = read_json(out / kind / GENERATOR_FILE)
        config = read_json(out / kind / "config.json")
        described[kind] = {"name": spec["name"]}
        if isinstance(config.get("lm"), dict):
            described[kind]["lm"] = config["lm"]["name"]
    return described


def _signal(data: Preprocessed) -> dict[str, Any]:
    """What the encoder's input must be: channels, their types and positions, rate, window."""
    keys = ("sfreq", "tmin", "ch_names", "ch_types", "ch_pos", "montage")
    signal = {key: data.info[key] for key in keys if key in data.info}
    signal.update({"n_chans": int(data.epochs.shape[1]), "n_times": int(data.epochs.shape[2]),
                   "kind": "betas" if (data.path / "betas.npy").is_file() else "epochs"})
    return signal


def export_bundle(cfg: ExportConfig, study: str, paths: dict[str, Path],
                  preprocess: PreprocessConfig, generate: GenerateConfig,
                  evaluate: EvaluateConfig, out_dir: Path) -> dict[str, Any]:
    """Write a decoder bundle of ``study`` into the empty folder ``out_dir``.

    Parameters
    ----------
    cfg : ExportConfig
        Whether the baseline and the example trials travel with the decoder.
    study : str
        The study's key, the bundle's name.
    paths : dict
        ``raw`` (BIDS root), ``preprocessed``, ``targets``, ``encoder``, ``baseline``,
        ``generators`` (folders) and ``evaluate``, ``generation`` (metrics files).
    preprocess, generate, evaluate : Section
        The study's preprocessing (what new recordings must go through), generation
        sampling settings and evaluation settings (what ``brainrecon evaluate`` scores).
    out_dir : Path
        The bundle folder (written into; see the module docstring for its layout).

    Returns
    -------
    dict
        The manifest, as written to ``bundle.json``.

    Raises
    ------
    DataError
        If an input is missing or malformed.
    """
    out_dir = Path(out_dir)
    encoder = _copy_encoder(paths["encoder"], out_dir / "encoder")
    baseline = _copy_encoder(paths["baseline"], out_dir / "baseline") if cfg.baseline else None
    gallery, target = _write_gallery(paths["raw"], paths["targets"], out_dir / "gallery")
    preprocessed = read_preprocessed(paths["preprocessed"])
    examples = _write_examples(preprocessed, out_dir / "examples") if cfg.examples else None
    generators = _copy_generators(paths["generators"], out_dir / "generators")
    (out_dir / "metrics").mkdir()
    metrics = {}
    for name in ("evaluate", "generation"):
        metrics[name] = read_json(paths[name])
        shutil.copy2(paths[name], out_dir / "metrics" / f"{name}.json")
    text_model = generators.get("text", {}).get("lm")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": study,
        "brainrecon_version": brainrecon_version(),
        "signal": _signal(preprocessed),
        "preprocess": preprocess.model_dump(mode="json"),
        "encoder": encoder,
        "baseline": baseline,
        "target": {"name": target, "dim": gallery["dim"]},
        "gallery": gallery,
        "examples": examples,
        "generators": generators,
        "generate": generate.model_dump(mode="json"),
        "evaluate": evaluate.model_dump(mode="json"),
        "metrics": metrics,
        "licences": bundle_licences(read_source(paths["raw"]), target,
                                    {kind: spec["name"] for kind, spec in generators.items()},
                                    text_model),
        "files": file_hashes(out_dir),
    }
    write_json(manifest, out_dir / BUNDLE_FILE)
    logger.info("bundle %r: %d files, encoder %s, target %s, %d gallery stimuli", study,
                len(manifest["files"]), encoder["name"], target, gallery["n_stimuli"])
    return manifest

