"""Benchmark: every registered encoder on one simulated study, beside chance and the oracle.

One simulated study (a key of params.yaml's ``studies``: eeg, meg, seeg or fmri, with its
overrides, resized from the command line) is generated, preprocessed and given its targets
once, by the functions the DVC stages call. Every encoder of ``ENCODERS`` (or those named)
is fitted with its ``train.encoder.options`` (else its defaults), predicts the test trials
and is evaluated as the ``evaluate`` stage does (bootstrap CIs over stimuli, the oracle on
the same gallery). An encoder that cannot take the trials is skipped, one that fails is
reported; neither stops the others. Results: a markdown table on stdout and
``benchmarks/results/encoders.json`` and ``.md`` (rewritten after each encoder).

Usage::

    python benchmarks/encoders.py                   # eeg, 2 subjects, 240/40/40 stimuli
    python benchmarks/encoders.py --modality fmri --encoders ridge mlp --seeds 0 1 2
    python benchmarks/encoders.py --work /tmp/bench  # keep (and later reuse) the study
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from pipeline.config import load_section, merge, parse_section
from pipeline.encoders import ENCODERS
from pipeline.encoders.base import signal_args
from pipeline.encoders.baseline import fit_baseline
from pipeline.encoders.datamodule import load_encoder_data
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.train import fit_encoder
from pipeline.evaluation.evaluate import evaluate
from pipeline.io import atomic_output_dir, read_json, write_json
from pipeline.preprocess.study import preprocess_study
from pipeline.sections import section_model
from pipeline.stage import run_stage
from pipeline.studies import generate_study
from pipeline.targets.compute import compute_targets

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "encoders.json"
SECTIONS = ("study", "preprocess", "targets", "baseline", "train", "evaluate")
logger = logging.getLogger("benchmarks.encoders")


def study_sections(args: argparse.Namespace) -> dict[str, Any]:
    """The validated params sections of study ``args.modality``, resized by ``args``."""
    sections = {name: load_section(section_model(name), args.params, args.modality)
                for name in SECTIONS}
    size = {"n_subjects": args.subjects, "test_repetitions": args.repetitions,
            "stimuli": dict(zip(("train", "val", "test"), args.stimuli, strict=True))}
    changes = {"study": {"options": {sections["study"].name: size}},
               "train": {"num_threads": args.threads},
               "evaluate": {"metrics": sorted({*sections["evaluate"].metrics, "top1", "top5"})}}
    if args.max_epochs:
        changes["train"]["max_epochs"] = args.max_epochs
    if args.targets:
        changes["targets"] = {"name": args.targets}
    if args.n_bootstrap:
        changes["evaluate"]["n_bootstrap"] = args.n_bootstrap
    return {name: parse_section(section_model(name), merge(sections[name].model_dump(mode="json"),
                                            changes.get(name, {})))
            for name in SECTIONS}


def prepare_study(sections: dict[str, Any], work: Path) -> dict[str, Any]:
    """Generate, preprocess, compute targets and fit the baseline in ``work``, or reuse what
    the same sections made there; return ``{"prepare_seconds", "reused"}``."""
    stamp = {name: sections[name].model_dump(mode="json")
             for name in ("study", "preprocess", "targets", "baseline")}
    done = read_json(work / "study.json") if (work / "study.json").is_file() else {}
    if done.get("sections") == stamp:
        logger.info("reusing the study in %s", work)
        return {"prepare_seconds": done["seconds"], "reused": True}
    start = time.perf_counter()
    logger.info("generating the study in %s", work / "raw")
    with atomic_output_dir(work / "raw") as out:
        generate_study(sections["study"], out)
    logger.info("preprocessing")
    with atomic_output_dir(work / "preprocessed") as out:
        preprocess_study(sections["preprocess"], work / "raw", out)
    logger.info("computing the %s targets", sections["targets"].name)
    with atomic_output_dir(work / "targets") as out:
        compute_targets(sections["targets"], work / "raw", out)
    logger.info("fitting the %s baseline", sections["baseline"].encoder)
    fit_baseline(sections["baseline"], work / "preprocessed", work / "targets",
                 work / "baseline" / "model", work / "baseline" / "predictions")
    seconds = round(time.perf_counter() - start, 1)
    write_json({"sections": stamp, "seconds": seconds}, work / "study.json")
    return {"prepare_seconds": seconds, "reused": False}


def cannot_apply(name: str, options: dict[str, Any], signal: dict[str, Any]) -> str | None:
    """Why encoder ``name`` cannot take the study's trials (None if a dummy batch passes)."""
    try:
        model = ENCODERS.get(name)(**signal, **options).eval()
        x = torch.zeros(2, signal["n_chans"], signal["n_times"])  # (B, C, T)
        with torch.no_grad():
            out = model(x, torch.zeros(2, dtype=torch.long))  # (B, D)
    except Exception as exc:  # any error of a foreign encoder means it does not apply
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    if tuple(out.shape) != (2, signal["n_outputs"]):
        return f"output shape {tuple(out.shape)}; expected (2, {signal['n_outputs']})"
    return None


def run_encoder(name: str, seed: int, sections: dict[str, Any], work: Path,
                signal: dict[str, Any]) -> dict[str, Any]:
    """Fit, predict and evaluate one encoder with one seed; failures become the row's status."""
    train = sections["train"]
    options = train.encoder.kwargs(name)
    row: dict[str, Any] = {"encoder": name, "seed": seed, "options": options}
    reason = cannot_apply(name, options, signal)
    if reason:
        logger.warning("%s skipped: %s", name, reason)
        return {**row, "status": "skipped", "reason": reason}
    cfg = train.model_copy(update={"seed": seed,
                                   "encoder": train.encoder.model_copy(update={"name": name})})
    out = work / "runs" / f"{name}_seed{seed}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    try:
        summary = fit_encoder(name, options, cfg, work / "preprocessed", work / "targets",
                              out / "model")
        predict_latents(out / "model", work / "preprocessed", out / "predictions")
        metrics = evaluate(sections["evaluate"], out / "predictions",
                           work / "baseline" / "predictions", work / "targets",
                           work / "raw" / "derivatives" / "oracle", out / "evaluate.json",
                           out / "topk.csv", out / "plots")
    except Exception as exc:  # one encoder's failure must not lose the others' results
        logger.exception("%s (seed %d) failed", name, seed)
        return {**row, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    return {**row, "status": "ok", "train": summary, "metrics": metrics,
            "wall_seconds": round(time.perf_counter() - start, 1)}


def metric(run: dict[str, Any], name: str) -> dict[str, Any]:
    """The evaluate entry of metric ``name`` (``top1_avg4``, ``top1_single``, ...)."""
    return next(value for key, value in run["metrics"].items()
                if key.startswith(f"{name}_") and isinstance(value, dict))


def ci_cell(entry: dict[str, Any], key: str) -> str:
    """``0.512 [0.40, 0.63]`` from a metric entry's value and CI, or ``n/a``."""
    if entry.get(key) is None:
        return "n/a"
    low, high = entry[f"{key}_ci"]
    return f"{entry[key]:.3f} [{low:.2f}, {high:.2f}]"


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table, with the study, chance and the oracle above it."""
    study, runs = results["study"], results["runs"]
    lines = [f"Study `{study['modality']}`: {study['n_subjects']} subjects, stimuli "
             f"{study['stimuli']} (train/val/test), {study['test_repetitions']} test "
             f"repetitions, targets `{study['targets']}`; study prepared in "
             f"{study['prepare_seconds']:.0f} s{' (reused)' * study['reused']}, "
             f"{results['seconds']:.0f} s in all."]
    done = [run for run in runs if run["status"] == "ok"]
    if done:
        top1, top5 = metric(done[0], "top1"), metric(done[0], "top5")
        first = done[0]["metrics"]
        lines.append(f"{first['n_test_stimuli']}-way retrieval of {first['n_queries']} test "
                     f"queries (repetitions averaged: {first['average_repetitions']}); chance "
                     f"top-1 {top1['chance']:.3f}, top-5 {top5['chance']:.3f}; oracle top-1 "
                     f"{ci_cell(top1, 'oracle')}, top-5 {ci_cell(top5, 'oracle')}; "
                     f"{first['confidence']:.0%} bootstrap CIs over stimuli.")
    lines += ["", "| encoder | seed | top-1 [CI] | top-5 [CI] | top-1 / oracle | train (s) "
              "| parameters | epochs | status |", "| --- " * 9 + "|"]
    for run in runs:
        head = f"| {run['encoder']} | {run['seed']} |"
        if run["status"] != "ok":
            reason = run["reason"].replace("|", "/")[:160]
            lines.append(f"{head} | | | | | | {run['status']}: {reason} |")
            continue
        top1, train = metric(run, "top1"), run["train"]
        ratio = "n/a" if top1["ratio_to_oracle"] is None else f"{top1['ratio_to_oracle']:.2f}"
        epochs = train.get("epochs_run") or train["fit_method"].replace("_", " ")
        lines.append(f"{head} {ci_cell(top1, 'decoder')} | "
                     f"{ci_cell(metric(run, 'top5'), 'decoder')} | {ratio} | "
                     f"{train['fit_seconds']:.1f} | {train['n_params']:,} | {epochs} | ok |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=PROJECT_ROOT / "params.yaml")
    parser.add_argument("--modality", default="eeg",
                        help="a key of params.yaml's studies (eeg, meg, seeg, fmri)")
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--stimuli", type=int, nargs=3, default=[240, 40, 40],
                        metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--repetitions", type=int, default=4, help="test repetitions")
    parser.add_argument("--targets", default=None, help="targets.name (default: the study's)")
    parser.add_argument("--encoders", nargs="+", default=None, help="default: all registered")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    for option in ("--max-epochs", "--n-bootstrap"):
        parser.add_argument(option, type=int, default=None, help="default: params.yaml")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the study and runs here (default: a temporary folder)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def write_results(results: dict[str, Any], path: Path) -> None:
    """Write the results as JSON at ``path`` and the table beside it (``.md``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(results) + "\n")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Prepare the study in ``work``, run every encoder and seed; the results are rewritten
    after each run, so an interrupted benchmark keeps the runs done."""
    began = time.perf_counter()
    sections = study_sections(args)
    prepared = prepare_study(sections, work)
    data = load_encoder_data(work / "preprocessed", work / "targets")
    epochs = data.preprocessed.epochs  # (n_trials, C, T)
    signal = signal_args(epochs.shape[1], epochs.shape[2], data.preprocessed.info["sfreq"],
                         data.target.shape[1], len(data.subjects),
                         data.preprocessed.info["ch_pos"])
    study = {"modality": args.modality, "n_subjects": args.subjects,
             "stimuli": "/".join(map(str, args.stimuli)), "test_repetitions": args.repetitions,
             "targets": sections["targets"].name, **prepared,
             "signal": {key: value for key, value in signal.items() if key != "chs_pos"},
             "sections": {name: sections[name].model_dump(mode="json") for name in SECTIONS}}
    results: dict[str, Any] = {"study": study, "runs": [], "seconds": 0.0}
    names = args.encoders or list(ENCODERS)
    for index, (name, seed) in enumerate((n, s) for n in names for s in args.seeds):
        logger.info("[%d/%d] %s, seed %d", index + 1, len(names) * len(args.seeds), name, seed)
        results["runs"].append(run_encoder(name, seed, sections, work, signal))
        results["seconds"] = round(time.perf_counter() - began, 1)
        write_results(results, args.results)
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write the JSON and markdown results."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        results = run(args, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="brainrecon-encoders-") as tmp:
            results = run(args, Path(tmp))
    print(markdown(results))
    print(f"\nwritten {args.results} and {args.results.with_suffix('.md').name}")
    return results


if __name__ == "__main__":
    run_stage("bench-encoders", main)
