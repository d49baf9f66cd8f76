"""Load decoder bundles written by :mod:`pipeline.serving.export`, checking every file's hash.

Loading reads JSON, TSV, ``.npy`` arrays (``allow_pickle=False``), safetensors and PNGs only:
nothing is unpickled, so a bundle from a colleague cannot run code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt, ValidationError

from pipeline.encoders.model import ScaledEncoder, load_encoder
from pipeline.errors import DataError
from pipeline.generators.base import Generator
from pipeline.generators.fit import load_generator
from pipeline.generators.latents import unit_rows
from pipeline.io import read_json, read_tsv, require_file, sha256
from pipeline.npy import read_npy_file
from pipeline.serving.export import BUNDLE_FILE, FORMAT, FORMAT_VERSION

logger = logging.getLogger(__name__)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # bundle names: no separators, no ".."
GALLERY_SPLITS = ("all", "train", "val", "test")


@dataclass(frozen=True)
class Gallery:
    """The stimuli a decoded latent is retrieved among.

    Attributes
    ----------
    table : pandas.DataFrame
        ``stimuli.tsv``: stimulus_id, split, and caption / image (relative to the gallery
        folder) where the study has them.
    latents : ndarray, shape (n_stimuli, dim), float32
        The target latents.
    unit : ndarray, shape (n_stimuli, dim), float32
        The same, L2-normalised (retrieval is by cosine, as in evaluation).
    """

    table: pd.DataFrame
    latents: np.ndarray
    unit: np.ndarray

    def rows(self, split: str) -> np.ndarray:
        """Indices of the stimuli of ``split`` ("all" for every stimulus)."""
        if split not in GALLERY_SPLITS:
            raise ValueError(f"got gallery split {split!r}; expected one of "
                             f"{', '.join(GALLERY_SPLITS)}")
        if split == "all":
            return np.arange(len(self.table))
        return np.flatnonzero((self.table["split"] == split).to_numpy())


@dataclass(frozen=True)
class Examples:
    """Trials carried by the bundle: ``epochs`` (n, C, T) float32 and their ``trials`` rows."""

    epochs: np.ndarray
    trials: pd.DataFrame


@dataclass(frozen=True)
class Bundle:
    """A loaded decoder bundle.

    Attributes
    ----------
    root : Path
        The bundle folder.
    manifest : dict
        ``bundle.json``.
    encoder : ScaledEncoder
        The decoder, in eval mode (epochs -> latents of the target space).
    baseline : ScaledEncoder or None
        The ridge baseline, if the bundle carries it.
    gallery : Gallery
    examples : Examples or None
    generators : dict
        Kind ("image", "text", "shape") -> (generator name, fitted generator).
    """

    root: Path
    manifest: dict[str, Any]
    encoder: ScaledEncoder
    baseline: ScaledEncoder | None
    gallery: Gallery
    examples: Examples | None
    generators: dict[str, tuple[str, Generator]]

    @property
    def name(self) -> str:
        """The bundle's name (its study key at export)."""
        return str(self.manifest["name"])

    @property
    def signal(self) -> dict[str, Any]:
        """What the encoder takes: n_chans, n_times, sfreq, tmin, ch_names, ch_types, ..."""
        return self.manifest["signal"]

    @property
    def subjects(self) -> list[str]:
        """The subjects the encoder was trained on (others go through their average)."""
        return list(self.manifest["encoder"]["subjects"])

    def summary(self) -> dict[str, Any]:
        """What a listing of bundles shows of this one."""
        signal = self.signal
        return {
            "name": self.name,
            "encoder": self.manifest["encoder"]["name"],
            "baseline": (self.manifest["baseline"] or {}).get("name"),
            "target": self.manifest["target"],
            "signal": {key: signal[key] for key in ("kind", "n_chans", "n_times", "sfreq", "tmin")
                       if key in signal},
            "subjects": self.subjects,
            "n_gallery": len(self.gallery.table),
            "n_examples": 0 if self.examples is None else len(self.examples.trials),
            "generators": {kind: name for kind, (name, _) in self.generators.items()},
            "brainrecon_version": self.manifest["brainrecon_version"],
        }


class _Named(BaseModel):
    """A manifest entry naming a model."""

    name: str


class _Encoder(_Named):
    subjects: list[str]


class _Target(_Named):
    dim: PositiveInt


class _Signal(BaseModel):
    n_chans: PositiveInt
    n_times: PositiveInt
    sfreq: PositiveFloat | None = None
    ch_names: list[str] | None = None


class Manifest(BaseModel):
    """The parts of ``bundle.json`` that loading and serving read (other keys are kept)."""

    model_config = ConfigDict(extra="allow")

    brainrecon_version: str
    signal: _Signal
    preprocess: dict[str, Any]
    encoder: _Encoder
    baseline: _Named | None
    target: _Target
    examples: Any
    generators: dict[str, Any]
    generate: dict[str, Any]
    evaluate: dict[str, Any]
    files: dict[str, str]


def verify_files(root: Path, manifest: dict[str, Any]) -> None:
    """Check that every file the manifest lists exists under ``root`` with its sha256.

    Raises
    ------
    DataError
        Naming the first missing or changed file.
    """
    for relative, expected in manifest["files"].items():
        path = root / relative
        if not path.resolve().is_relative_to(root.resolve()):
            raise DataError(f"{root / BUNDLE_FILE}: file {relative!r} lies outside the bundle")
        require_file(path, f"a file of the bundle listed in {BUNDLE_FILE}")
        if sha256(path) != expected:
            raise DataError(f"{path}: sha256 differs from {root / BUNDLE_FILE}; expected the "
                            "file as exported (the bundle was changed after export)")


def read_manifest(root: Path) -> dict[str, Any]:
    """Read and check ``bundle.json`` (format, version, name)."""
    path = root / BUNDLE_FILE
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path}: not a brainrecon decoder bundle; expected format {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: bundle format version {manifest.get('format_version')!r}; "
                        f"expected {FORMAT_VERSION} (export it again with this brainrecon)")
    if not re.match(NAME_PATTERN, str(manifest.get("name", ""))):
        raise DataError(f"{path}: bundle name {manifest.get('name')!r}; expected letters, "
                        "digits, '_', '-' or '.' (at most 64)")
    try:
        Manifest.model_validate(manifest)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"])) or "the top level"
        raise DataError(f"{path}: {where}: {error['msg']}; expected the manifest as the "
                        "export stage wrote it") from None
    return manifest


def _gallery(root: Path) -> Gallery:
    table = read_tsv(root / "gallery" / "stimuli.tsv", ["stimulus_id", "split"])
    latents = read_npy_file(root / "gallery" / "latents.npy", "the gallery latents")
    if latents.ndim != 2 or len(latents) != len(table):
        raise DataError(f"{root / 'gallery' / 'latents.npy'}: shape {latents.shape}; expected "
                        f"({len(table)}, dim), one row per stimulus of stimuli.tsv")
    latents = latents.astype(np.float32)
    return Gallery(table, latents, unit_rows(latents.astype(np.float64)).astype(np.float32))


def _examples(root: Path) -> Examples:
    epochs = read_npy_file(root / "examples" / "epochs.npy", "the example trials")
    trials = read_tsv(root / "examples" / "trials.tsv", ["subject", "stimulus_id"])
    if len(epochs) != len(trials):
        raise DataError(f"{root / 'examples' / 'epochs.npy'}: {len(epochs)} trials; expected "
                        f"{len(trials)}, the rows of trials.tsv")
    return Examples(epochs.astype(np.float32), trials)


def load_bundle(directory: str | Path) -> Bundle:
    """Load the bundle in ``directory`` after checking the sha256 of every file.

    Raises
    ------
    DataError
        If ``bundle.json`` is missing or of another format, or a file is missing or changed.
    """
    root = Path(directory)
    manifest = read_manifest(root)
    verify_files(root, manifest)
    encoder, _ = load_encoder(root / "encoder")
    baseline = load_encoder(root / "baseline")[0] if manifest.get("baseline") else None
    generators = {kind: load_generator(root / "generators" / kind)
                  for kind in manifest["generators"]}
    examples = _examples(root) if manifest.get("examples") else None
    bundle = Bundle(root, manifest, encoder, baseline, _gallery(root), examples, generators)
    logger.info("loaded bundle %r from %s (%s -> %s)", bundle.name, root,
                manifest["encoder"]["name"], manifest["target"]["name"])
    return bundle


def find_bundles(paths: Iterable[str | Path]) -> dict[str, Path]:
    """Bundle folders by name: each path is a bundle, or a folder whose children are.

    Raises
    ------
    DataError
        If a path holds no bundle, or two bundles share a name.
    """
    found: dict[str, Path] = {}
    for path in map(Path, paths):
        candidates = [path] if (path / BUNDLE_FILE).is_file() else \
            sorted(child for child in path.glob("*") if (child / BUNDLE_FILE).is_file())
        if not candidates:
            raise DataError(f"{path}: no {BUNDLE_FILE} in it or in its sub-folders; expected a "
                            "bundle written by the export stage (models/decoders/<study>)")
        for candidate in candidates:
            name = read_manifest(candidate)["name"]
            if name in found:
                raise DataError(f"{candidate}: bundle name {name!r} is also {found[name]}; "
                                "expected one bundle per name")
            found[name] = candidate
    return found
