"""Benchmark: the decoder, the ridge baseline and the oracle as the training set grows.

One simulated study (a key of params.yaml's ``studies``, ``eeg`` by default) is generated
once with the largest number of training stimuli, preprocessed and given its targets by the
functions the DVC stages call. Each smaller training set keeps the trials of the first
``n_train`` training stimuli of one seeded order (so the sets are nested) and marks the
others ``unused``; validation and test stimuli are the same at every size. At each size the
study's ridge baseline and the decoder (``train.encoder`` of params.yaml unless
``--decoder``) are fitted, selected on validation only, and scored as the ``evaluate``
stage scores them: top-1 among the test stimuli with repetitions averaged, bootstrap CIs
over stimuli, beside the oracle (which knows the simulation: the same at every size).

Results: ``benchmarks/results/decoder_scaling.json`` (``{"study", "rows": [{"n_train",
"decoder_top1", "ridge_top1", "oracle_top1", ...}]}``), ``.md`` and ``.png``, rewritten
after each size.

Usage::

    python benchmarks/decoder_scaling.py                         # eeg, 1 subject, 240..4000
    python benchmarks/decoder_scaling.py --sizes 240 480 --work /tmp/scaling
    python benchmarks/decoder_scaling.py --decoder ridge --results /tmp/ridge_scaling.json
    python benchmarks/decoder_scaling.py --effects all --snr 0.1 \
        --results benchmarks/results/decoder_scaling_all_effects.json
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from encoders import metric, prepare_study, run_encoder, study_sections  # noqa: E402
from simulator_effects import SETTINGS, setting_sections  # noqa: E402

from pipeline.encoders.base import signal_args  # noqa: E402
from pipeline.encoders.baseline import fit_baseline  # noqa: E402
from pipeline.encoders.datamodule import load_encoder_data  # noqa: E402
from pipeline.io import write_json  # noqa: E402
from pipeline.preprocess.holdout import UNUSED  # noqa: E402
from pipeline.stage import run_stage  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "decoder_scaling.json"
SIZES = (240, 480, 1000, 2000, 4000)
TRIALS_FILE = "trials.tsv"
logger = logging.getLogger("benchmarks.decoder_scaling")


def subset_study(full: Path, out: Path, n_train: int, seed: int) -> int:
    """A view of the study in ``full`` training on its first ``n_train`` training stimuli.

    ``out`` gets links to everything of ``full`` but the preprocessed trials table, whose
    other training trials become ``unused`` (never fitted on). The order of the training
    stimuli is one permutation drawn from ``seed``, so smaller sets are nested in larger ones.
    Returns the number of training trials kept.
    """
    shutil.rmtree(out, ignore_errors=True)
    (out / "preprocessed").mkdir(parents=True)
    for name in ("raw", "targets"):
        os.symlink(full / name, out / name)
    for path in (full / "preprocessed").iterdir():
        if path.name != TRIALS_FILE:
            os.symlink(path, out / "preprocessed" / path.name)
    trials = pd.read_csv(full / "preprocessed" / TRIALS_FILE, sep="\t", dtype=str,
                         keep_default_na=False)
    train = trials["split"] == "train"
    stimuli = np.array(sorted(set(trials.loc[train, "stimulus_id"])))
    if n_train > len(stimuli):
        raise ValueError(f"{full}: {len(stimuli)} training stimuli; cannot keep {n_train}")
    kept = set(np.random.default_rng(seed).permutation(stimuli)[:n_train])
    dropped = train & ~trials["stimulus_id"].isin(kept)
    trials.loc[dropped, "split"] = UNUSED
    trials.to_csv(out / "preprocessed" / TRIALS_FILE, sep="\t", index=False)
    return int((train & ~dropped).sum())


def run_size(n_train: int, args: argparse.Namespace, sections: dict[str, Any], full: Path
             ) -> dict[str, Any]:
    """Fit the baseline and the decoder on the first ``n_train`` training stimuli; score both."""
    work = full.parent / f"n{n_train}"
    start = time.perf_counter()
    n_trials = subset_study(full, work, n_train, args.seed)
    fit_baseline(sections["baseline"], work / "preprocessed", work / "targets",
                 work / "baseline" / "model", work / "baseline" / "predictions")
    data = load_encoder_data(work / "preprocessed", work / "targets")
    epochs = data.preprocessed.epochs
    signal = signal_args(epochs.shape[1], epochs.shape[2], data.preprocessed.info["sfreq"],
                         data.target.shape[1], len(data.subjects),
                         data.preprocessed.info["ch_pos"])
    run = run_encoder(args.decoder, 0, sections, work, signal)
    if run["status"] != "ok":
        raise RuntimeError(f"{args.decoder} at n_train {n_train}: {run['reason']}")
    top1 = metric(run, "top1")
    row = {"n_train": n_train, "n_train_trials": n_trials,
           "decoder_top1": top1["decoder"], "decoder_ci": top1["decoder_ci"],
           "ridge_top1": top1["baseline"], "ridge_ci": top1["baseline_ci"],
           "oracle_top1": top1["oracle"], "oracle_ci": top1["oracle_ci"],
           "chance": top1["chance"], "decoder_val_top1": run["train"]["val_top1"],
           "fit_seconds": run["train"]["fit_seconds"],
           "seconds": round(time.perf_counter() - start, 1)}
    if "ridge_weight" in run["train"]:
        row["ridge_weight"] = run["train"]["ridge_weight"]
    logger.info("n_train %d: decoder %.3f, ridge %.3f, oracle %.3f (%.0f s)", n_train,
                row["decoder_top1"], row["ridge_top1"], row["oracle_top1"], row["seconds"])
    return row


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table."""
    study = results["study"]
    lines = [f"Study `{study['modality']}`: {study['n_subjects']} subject(s), "
             f"{study['val']}/{study['test']} val/test stimuli, {study['test_repetitions']} "
             f"test repetitions averaged; decoder `{study['decoder']}`, baseline ridge; top-1 "
             f"with 95% bootstrap CIs over test stimuli; chance {results['rows'][0]['chance']:.3f}"
             f"; snr {study.get('snr', 'n/a')}, effects: {study.get('effects', 'n/a')}"
             if results["rows"] else "", "",
             "| n_train | decoder | ridge | oracle | decoder / ridge | fit (s) |",
             "| --- " * 6 + "|"]
    for row in results["rows"]:
        cells = [f"{row[f'{key}_top1']:.3f} [{row[f'{key}_ci'][0]:.2f}, "
                 f"{row[f'{key}_ci'][1]:.2f}]" for key in ("decoder", "ridge", "oracle")]
        ratio = row["decoder_top1"] / row["ridge_top1"] if row["ridge_top1"] else float("inf")
        lines.append(f"| {row['n_train']} | {' | '.join(cells)} | {ratio:.2f} | "
                     f"{row['fit_seconds']:.0f} |")
    return "\n".join(lines)


def figure(results: dict[str, Any], path: Path) -> None:
    """Top-1 against training stimuli (log scale): decoder, ridge and oracle with CI bands."""
    rows = results["rows"]
    n = [row["n_train"] for row in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for key, label, colour in (("decoder", f"decoder ({results['study']['decoder']})", "tab:blue"),
                               ("ridge", "ridge", "tab:green"), ("oracle", "oracle", "tab:orange")):
        values = [row[f"{key}_top1"] for row in rows]
        ax.plot(n, values, "o-", color=colour, label=label)
        ax.fill_between(n, [row[f"{key}_ci"][0] for row in rows],
                        [row[f"{key}_ci"][1] for row in rows], color=colour, alpha=0.2)
    ax.axhline(rows[0]["chance"], color="grey", linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(n)
    ax.set_xticklabels([str(value) for value in n])
    ax.set_xlabel("training stimuli")
    ax.set_ylabel("test top-1 (repetitions averaged)")
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.set_title(f"Decoder scaling ({results['study']['modality']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(results: dict[str, Any], path: Path) -> None:
    """The JSON at ``path``, its table (``.md``) and figure (``.png``) beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(results, path)
    path.with_suffix(".md").write_text(markdown(results) + "\n")
    if results["rows"]:
        figure(results, path.with_suffix(".png"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=PROJECT_ROOT / "params.yaml")
    parser.add_argument("--modality", default="eeg", help="a key of params.yaml's studies")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--subjects", type=int, default=1)
    parser.add_argument("--val", type=int, default=40)
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--repetitions", type=int, default=4)
    parser.add_argument("--decoder", default=None, help="an encoder name (train.encoder's)")
    parser.add_argument("--seed", type=int, default=0, help="order of the training stimuli")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--targets", default=None, help="a target name (the study's by default)")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--n-bootstrap", type=int, default=None)
    parser.add_argument("--effects", default=None, choices=list(SETTINGS),
                        help="simulator effects (benchmarks/simulator_effects.py; default: the "
                        "study's)")
    parser.add_argument("--snr", type=float, default=None, help="default: the study's")
    parser.add_argument("--work", type=Path, default=None, help="kept (default: temporary)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    # what benchmarks/encoders.study_sections reads
    args.stimuli = (max(args.sizes), args.val, args.test)
    return args


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Prepare the largest study in ``work``, then fit and score every size."""
    sections = setting_sections(study_sections(args), args.effects, args.snr)
    args.decoder = args.decoder or sections["train"].encoder.name
    start = time.perf_counter()
    prepared = prepare_study(sections, work / "full")
    study = sections["study"].model_dump(mode="json")
    simulated = study["options"][study["name"]]
    results = {"study": {"modality": args.modality, "n_subjects": args.subjects,
                         "snr": simulated["snr"], "effects": args.effects or "the study's",
                         "val": args.val, "test": args.test,
                         "test_repetitions": args.repetitions, "decoder": args.decoder,
                         "sizes": sorted(args.sizes), "order_seed": args.seed,
                         "prepare_seconds": prepared["prepare_seconds"]},
               "rows": []}
    for n_train in sorted(args.sizes):
        results["rows"].append(run_size(n_train, args, sections, work / "full"))
        results["seconds"] = round(time.perf_counter() - start, 1)
        write_results(results, args.results)
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write the results."""
    args = parse_args(argv)
    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="decoder_scaling_") as tmp:
            results = run(args, Path(tmp))
    else:
        results = run(args, args.work)
    print(markdown(results))
    return results


if __name__ == "__main__":
    run_stage("decoder_scaling", main)
