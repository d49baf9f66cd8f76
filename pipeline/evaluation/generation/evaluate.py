"""The ``evaluate_generated`` stage: image, caption and 3D metrics with chance and ceiling."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.evaluation.generation import GENERATION_METRICS
from pipeline.evaluation.generation.score import SOURCES, metric_entry, metrics_of_kind
from pipeline.evaluation.generation.sheet import plot_sheet
from pipeline.evaluation.options import EvaluateConfig
from pipeline.generators.base import ImageOutput, ShapeOutput, StimulusSet, TextOutput
from pipeline.generators.generate import INDEX_FILE
from pipeline.generators.outputs import OUTPUT_IO
from pipeline.generators.stimuli import REQUIRED
from pipeline.io import atomic_output_file, read_json, read_tsv, write_json, write_tsv
from pipeline.provenance import credit_line
from pipeline.registry import Registry

logger = logging.getLogger(__name__)

Output = ImageOutput | TextOutput | ShapeOutput
TRUTH: Registry[Callable[[StimulusSet, Output], Output]] = Registry("output kind")


@TRUTH.register("image")
def _true_images(test: StimulusSet, generated: ImageOutput) -> ImageOutput:
    """The stimulus images at the generated size."""
    return ImageOutput(test.images(generated.images.shape[1]))


@TRUTH.register("text")
def _true_captions(test: StimulusSet, generated: TextOutput) -> TextOutput:
    """The stimulus captions."""
    return TextOutput(test.table["caption"].tolist())


@TRUTH.register("shape")
def _true_shapes(test: StimulusSet, generated: ShapeOutput) -> ShapeOutput:
    """The stimulus objects, at the generated grid resolution and point count."""
    from pipeline.generators.shape.geometry import true_shapes

    return true_shapes(test.table, resolution=generated.occupancy.shape[1],
                       n_points=generated.points.shape[1])


def _test_stimuli(raw_dir: Path, generated_dir: Path) -> StimulusSet:
    """The generated test stimuli (from the raw table), in generation order; no latents."""
    index = read_tsv(generated_dir / INDEX_FILE, required=("stimulus_id",))
    ids = index["stimulus_id"].astype(str).tolist()
    table = read_tsv(raw_dir / "stimuli" / "stimuli.tsv", required=REQUIRED)
    table = table.astype({"stimulus_id": str}).set_index("stimulus_id").loc[ids].reset_index()
    return StimulusSet(raw_dir / "stimuli", table, np.zeros((len(ids), 0), np.float32))


@dataclass(frozen=True)
class ChannelInputs:
    """What the channel report reads: preprocessed trials, the generators and the targets."""

    preprocessed_dir: Path
    generators_dir: Path
    targets_dir: Path


def _credit(channels: ChannelInputs | None) -> str | None:
    """The data's attribution, from the preprocessed ``info.json`` (None without one)."""
    if channels is None:
        return None
    info_path = Path(channels.preprocessed_dir) / "info.json"
    source = read_json(info_path).get("source") if info_path.is_file() else None
    return credit_line(source or {})


def describe_channels(inputs: ChannelInputs, raw_dir: Path, seed: int, out_dir: Path) -> None:
    """Write the LaVCa-style report: each channel group's driving stimuli, captioned."""
    from pipeline.generators.fit import load_generator
    from pipeline.generators.stimuli import load_stimulus_set
    from pipeline.generators.text.channel_captions import channel_captions

    _, generator = load_generator(Path(inputs.generators_dir) / "text")
    stimuli = load_stimulus_set(raw_dir, inputs.targets_dir)
    channel_captions(inputs.preprocessed_dir, stimuli, generator, generator.parse_sampling({}),
                     out_dir, seed=seed)


def evaluate_generated(cfg: EvaluateConfig, generated_dir: str | Path, raw_dir: str | Path,
                       metrics_path: str | Path, plots_dir: str | Path,
                       channels: ChannelInputs | None = None) -> dict[str, Any]:
    """Score every generated kind from every source against the test stimuli.

    Parameters
    ----------
    cfg : EvaluateConfig
        Bootstrap size, confidence and seed; ``sheet_rows`` for the reconstruction sheet.
    generated_dir : str or Path
        The ``generate`` stage's output.
    raw_dir : str or Path
        The study's raw root (the true stimuli).
    metrics_path : str or Path
        Where the metrics JSON is written.
    plots_dir : str or Path
        Where ``reconstructions.png`` (when something was generated) and ``per_stimulus.tsv``
        are written, and the channel
        report (``channel_captions.tsv`` and ``.png``) when ``channels`` is given.
    channels : ChannelInputs, optional
        The inputs of the LaVCa-style channel report (needs a fitted text generator).

    Returns
    -------
    dict
        The metrics: one entry per metric (see :func:`score.metric_entry`), grouped by kind.
    """
    generated_dir, raw_dir, plots_dir = Path(generated_dir), Path(raw_dir), Path(plots_dir)
    test = _test_stimuli(raw_dir, generated_dir)
    ids = test.table["stimulus_id"].tolist()
    summary = read_json(generated_dir / "generate.json")
    results: dict[str, Any] = {"n_test_stimuli": len(ids), "confidence": cfg.confidence,
                               "n_bootstrap": cfg.n_bootstrap, "chance": "mismatched pairs "
                               "(matched metrics), 0.5 (two_way), 1/n (retrieval)"}
    per_stimulus = pd.DataFrame({"stimulus_id": ids})
    outputs: dict[str, dict[str, Output]] = {}
    for kind, info in summary["kinds"].items():
        sources = [source for source in SOURCES if (generated_dir / source).is_dir()]
        outputs[kind] = {s: OUTPUT_IO.get(kind).read(ids, generated_dir / s) for s in sources}
        truth = TRUTH.get(kind)(test, outputs[kind]["ceiling"])
        results[kind] = {"generator": info["generator"]}
        for name in metrics_of_kind(kind):
            logger.info("scoring %s: %s", kind, name)
            entry, values = metric_entry(GENERATION_METRICS.get(name), outputs[kind], truth,
                                         cfg.n_bootstrap, cfg.confidence, cfg.seed)
            results[kind][name] = entry
            for source, column in values.items():
                per_stimulus[f"{name}_{source}"] = column
    plots_dir.mkdir(parents=True, exist_ok=True)
    write_tsv(per_stimulus, plots_dir / "per_stimulus.tsv")
    if outputs:  # a study that generates nothing (generators.kinds: []) has no sheet
        plot_sheet(test, outputs, cfg.sheet_rows, plots_dir / "reconstructions.png",
                   _credit(channels))
    if channels is not None and "text" in summary["kinds"]:
        describe_channels(channels, raw_dir, cfg.seed, plots_dir)
    with atomic_output_file(metrics_path) as path:
        write_json(results, path)
    return results
