"""Benchmark: what generation costs on CPU, beside retrieval of the nearest training stimulus.

The default simulated EEG study's stimuli (480/40/40 at 64 px, seed 0) are rendered and given
their targets (params.yaml's ``targets`` for the study, EfficientNet-Lite0 by default). The
study's generators (params.yaml ``generators`` with the study's overrides) are fitted on the
training stimuli, then generate for the 40 test stimuli from their true latents with the
study's ``generate`` sampling options, after one warm-up output. The baseline, run in the same
process on the same latents, is retrieval: the nearest training stimulus by cosine, whose
image, caption and 3D object stand in for a generated one (MindEye's retrieval submodule);
both are scored against the test stimuli with every registered generation metric.

Results: a markdown table on stdout and ``benchmarks/results/generation_cost.{json,md}``.

Usage::

    python benchmarks/generation_cost.py                  # about 5 minutes on 2 CPU cores
    python benchmarks/generation_cost.py --study meg --threads 2
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from pipeline.config import load_section
from pipeline.evaluation.generation import GENERATION_METRICS
from pipeline.evaluation.generation.evaluate import TRUTH
from pipeline.evaluation.generation.score import (
    chance_level,
    load_metrics,
    metrics_of_kind,
    per_stimulus,
)
from pipeline.generators.base import StimulusSet
from pipeline.generators.fit import fit_generators, load_generator
from pipeline.generators.latents import unit_rows
from pipeline.generators.options import GenerateConfig, GeneratorsConfig
from pipeline.generators.outputs import OUTPUT_IO
from pipeline.generators.stimuli import load_stimulus_set
from pipeline.io import write_json
from pipeline.simulate.options import SimulateConfig
from pipeline.simulate.stimuli import make_stimuli
from pipeline.stage import run_stage
from pipeline.studies.options import StudyConfig
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "generation_cost"
logger = logging.getLogger("benchmarks.generation_cost")


def render_stimuli(study: str, params: Path, raw: Path) -> dict[str, Any]:
    """Render the study's simulated stimuli into ``raw/stimuli``; return the simulator options."""
    study_cfg = load_section(StudyConfig, params, study)
    if study_cfg.name != "simulated":
        raise SystemExit(f"study {study!r} is {study_cfg.name!r}; expected a simulated study")
    sim = SimulateConfig.model_validate(study_cfg.options.get("simulated", {}))
    stimuli = make_stimuli(sim)
    (raw / "stimuli" / "images").mkdir(parents=True, exist_ok=True)
    for name, image in zip(stimuli.table["image"], stimuli.images, strict=True):
        Image.fromarray(image).save(raw / "stimuli" / name)
    stimuli.table.to_csv(raw / "stimuli" / "stimuli.tsv", sep="\t", index=False)
    return {"n_stimuli": len(stimuli.table), "image_size": sim.image_size}


def time_generation(generator: Any, sampling: Any, latents: np.ndarray, seed: int,
                    repeats: int = 5) -> tuple[float, float, Any]:
    """Seconds per output, in one batch of ``latents`` (n, dim) and one latent at a time.

    Returns
    -------
    batched, single : float
        Seconds per output of one call on all latents, and the median seconds of ``repeats``
        calls on one latent (after a one-output warm-up).
    output : Output
        The batched call's output.
    """
    generator.generate(latents[:1], sampling, seed)
    singles = []
    for row in range(repeats):
        start = time.perf_counter()
        generator.generate(latents[row:row + 1], sampling, seed)
        singles.append(time.perf_counter() - start)
    start = time.perf_counter()
    output = generator.generate(latents, sampling, seed)
    return (time.perf_counter() - start) / len(latents), float(np.median(singles)), output


def time_writing(kind: str, output: Any, ids: list[str], directory: Path) -> float:
    """Seconds per output to write ``output`` as the generate stage does (PNG, TSV, meshes)."""
    start = time.perf_counter()
    OUTPUT_IO.get(kind).write(output, ids, directory)
    return (time.perf_counter() - start) / len(ids)


def time_retrieval(train_latents: np.ndarray, test_latents: np.ndarray, repeats: int = 50
                   ) -> tuple[float, np.ndarray]:
    """Seconds per query of nearest-training-stimulus retrieval by cosine, and the nearest
    training row of each test latent."""
    gallery = torch.from_numpy(unit_rows(train_latents.astype(np.float64)).astype(np.float32))
    queries = torch.from_numpy(test_latents.astype(np.float32))
    start = time.perf_counter()
    for _ in range(repeats):
        nearest = (queries @ gallery.T).argmax(dim=1)  # (n_test,) nearest training row
    return (time.perf_counter() - start) / (repeats * len(test_latents)), nearest.numpy()


def quality(kind: str, output: Any, test: StimulusSet, retrieved: StimulusSet
            ) -> list[dict[str, Any]]:
    """Every registered metric of ``kind`` for the generated outputs and for the retrieved
    training stimuli shown in their place, beside chance (as ``evaluate_generated`` scores)."""
    truth = TRUTH.get(kind)(test, output)
    shown = TRUTH.get(kind)(retrieved, output)  # the nearest training stimuli's own outputs
    rows = []
    for name in metrics_of_kind(kind):
        metric = GENERATION_METRICS.get(name)
        generated_scores = metric.pairwise(output, truth)  # (n, n)
        rows.append({"kind": kind, "metric": name, "higher_is_better": metric.higher_is_better,
                     "generated": float(per_stimulus(metric, generated_scores).mean()),
                     "retrieved": float(per_stimulus(metric, metric.pairwise(shown, truth)).mean()),
                     "chance": chance_level(metric, generated_scores)})
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Fit the study's generators and time them beside retrieval."""
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_gen_"))
    shutil.rmtree(work / "raw", ignore_errors=True)
    shutil.rmtree(work / "targets", ignore_errors=True)
    study = render_stimuli(args.study, args.params, work / "raw")
    start = time.perf_counter()
    compute_targets(load_section(TargetsConfig, args.params, args.study), work / "raw",
                    work / "targets")
    targets_seconds = time.perf_counter() - start
    generators_cfg = load_section(GeneratorsConfig, args.params, args.study)
    generate_cfg = load_section(GenerateConfig, args.params, args.study)
    summary = fit_generators(generators_cfg, work / "raw", work / "targets", work / "generators")
    stimuli = load_stimulus_set(work / "raw", work / "targets")
    ids = stimuli.split("test").table["stimulus_id"].tolist()
    test = unit_rows(stimuli.split("test").latents.astype(np.float64)).astype(np.float32)
    retrieval, nearest = time_retrieval(stimuli.split("train").latents, test)
    train = stimuli.split("train")
    retrieved = StimulusSet(train.root, train.table.iloc[nearest].reset_index(drop=True),
                            train.latents[nearest])
    load_metrics()
    rows, scores = [], []
    for kind, fitted in summary["generators"].items():
        name, generator = load_generator(work / "generators" / kind)
        sampling = generator.parse_sampling(generate_cfg.sampling.get(name, {}))
        per_output, single, output = time_generation(generator, sampling, test,
                                                     generate_cfg.seed)
        writing = time_writing(kind, output, ids, work / "generated" / kind)
        scores += quality(kind, output, stimuli.split("test"), retrieved)
        rows.append({"kind": kind, "generator": name, "fit_seconds": fitted["fit_seconds"],
                     "seconds_per_output": per_output, "outputs_per_second": 1.0 / per_output,
                     "seconds_single_output": single, "write_seconds_per_output": writing,
                     "retrieval_seconds_per_query": retrieval,
                     "sampling": sampling.model_dump(mode="json")})
        logger.info("%s: %.4f s per output", kind, per_output)
    if not args.work:
        shutil.rmtree(work)
    return {"study": args.study, **study, "n_test": len(test), "targets_seconds": targets_seconds,
            "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "rows": rows, "quality": scores}


def table(results: dict[str, Any]) -> str:
    """The results as a markdown table."""
    lines = [f"Study {results['study']}: {results['n_stimuli']} stimuli at "
             f"{results['image_size']} px, {results['n_test']} test latents, "
             f"{results['threads']} torch threads", "",
             "| kind | generator | fit (s) | per output, batch of all (s) | outputs / s | "
             "one output alone (s) | writing per output (s) | retrieval per query (s) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in results["rows"]:
        lines.append(f"| {row['kind']} | {row['generator']} | {row['fit_seconds']:.1f} | "
                     f"{row['seconds_per_output']:.4f} | {row['outputs_per_second']:.1f} | "
                     f"{row['seconds_single_output']:.4f} | "
                     f"{row['write_seconds_per_output']:.4f} | "
                     f"{row['retrieval_seconds_per_query']:.2e} |")
    lines += ["", "Quality from the true test latents (the generators' ceiling) against showing "
              "the nearest training stimulus:", "",
              "| kind | metric | generated | nearest training stimulus | chance |",
              "| --- | --- | --- | --- | --- |"]
    for row in results["quality"]:
        better = "" if row["higher_is_better"] else " (lower is better)"
        lines.append(f"| {row['kind']} | {row['metric']}{better} | {row['generated']:.3f} | "
                     f"{row['retrieved']:.3f} | {row['chance']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", default="eeg", help="a key of params.yaml's studies")
    parser.add_argument("--params", type=Path, default=PROJECT_ROOT / "params.yaml")
    parser.add_argument("--work", help="working directory (default: a temporary one, removed)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    results = run(args)
    markdown = table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_json(results, RESULTS.with_suffix(".json"))
    RESULTS.with_suffix(".md").write_text(markdown + "\n")
    print(markdown)  # noqa: T201  (a benchmark's report)


if __name__ == "__main__":
    run_stage("generation_cost", main)
