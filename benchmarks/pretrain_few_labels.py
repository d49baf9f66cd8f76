"""Benchmark: self-supervised pretraining, then fine-tuning on few labels, against scratch.

One simulated EEG study (params.yaml's ``eeg`` study, resized from the command line) is
generated, preprocessed and given its targets by the functions the DVC stages call. The
patch transformer backbone is pretrained (``codebook`` and ``mae``) on the epochs of every
training trial with no label read. Then a fraction of the training stimuli keeps its
labels (the other training trials are set aside), and the patch transformer is trained on
those few labeled trials from scratch, fine-tuned from each pretrained backbone, and (with
``--probe``) trained with the backbone frozen: same labeled trials, same validation trials,
same seeds. Each model predicts the test trials, scored as the ``evaluate`` stage does
(zero-shot retrieval among the test stimuli, repetitions averaged, bootstrap CIs over
stimuli). Ridge on the same few labels is the usual linear reference. Results: a markdown
table on stdout and ``benchmarks/results/pretrain_few_labels.json``.

Usage::

    python benchmarks/pretrain_few_labels.py        # about 8 minutes on 2 CPU cores
    python benchmarks/pretrain_few_labels.py --label-fraction 0.1 --seeds 0 1 2 --probe
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.config import load_section
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.train import fit_encoder
from pipeline.evaluation.bootstrap import bootstrap_ci
from pipeline.evaluation.metrics import METRICS
from pipeline.evaluation.retrieval import retrieval_scores
from pipeline.io import read_tsv, write_json, write_tsv
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study
from pipeline.pretrain.options import PretrainConfig
from pipeline.pretrain.run import pretrain_study
from pipeline.stage import run_stage
from pipeline.studies import generate_study
from pipeline.studies.options import StudyConfig
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "pretrain_few_labels.json"
METHODS = ("codebook", "mae")
N_BOOTSTRAP, CONFIDENCE = 1000, 0.95
logger = logging.getLogger("benchmarks.pretrain_few_labels")


def make_study(args: argparse.Namespace, work: Path) -> dict[str, Path]:
    """Generate, preprocess and give targets to the resized ``eeg`` study of params.yaml."""
    study = load_section(StudyConfig, args.params, "eeg").model_dump()
    study["options"].setdefault("simulated", {}).update(
        n_subjects=args.subjects, test_repetitions=args.repetitions, image_size=32,
        stimuli=dict(zip(("train", "val", "test"), args.stimuli, strict=True)),
        oracle={"n_noise_epochs": 100},
    )
    paths = {name: work / name for name in ("raw", "preprocessed", "targets")}
    for path in paths.values():
        path.mkdir(parents=True)
    generate_study(StudyConfig.model_validate(study), paths["raw"])
    preprocess_study(load_section(PreprocessConfig, args.params, "eeg"), paths["raw"],
                     paths["preprocessed"])
    targets = load_section(TargetsConfig, args.params, "eeg")
    targets = targets.model_copy(update={"name": args.targets})
    compute_targets(targets, paths["raw"], paths["targets"])
    return paths


def few_labels(preprocessed: Path, fraction: float, out: Path) -> dict[str, Any]:
    """A view of the study in which only ``fraction`` of the training stimuli keep labels.

    The other training trials get split ``unlabeled`` (no fit reads them); the epochs and
    info are linked, not copied. The labeled stimuli are drawn once (seed 0).
    """
    out.mkdir()
    for name in ("epochs.npy", "info.json"):
        (out / name).symlink_to((preprocessed / name).resolve())
    trials = read_tsv(preprocessed / "trials.tsv")
    train = sorted(set(trials.loc[trials["split"] == "train", "stimulus_id"]))
    n_labeled = max(2, round(fraction * len(train)))
    labeled = set(np.random.default_rng(0).choice(train, n_labeled, replace=False))
    unlabeled = (trials["split"] == "train") & ~trials["stimulus_id"].isin(labeled)
    write_tsv(trials.assign(split=trials["split"].mask(unlabeled, "unlabeled")),
              out / "trials.tsv")
    return {"dir": out, "labeled_stimuli": n_labeled, "train_stimuli": len(train),
            "labeled_trials": int(((trials["split"] == "train") & ~unlabeled).sum()),
            "unlabeled_trials": int(unlabeled.sum())}


def score(model_dir: Path, paths: dict[str, Path], out: Path, seed: int) -> dict[str, Any]:
    """Top-1 and top-5 of the test trials (repetitions averaged) with bootstrap CIs."""
    predict_latents(model_dir, paths["preprocessed"], out, splits=["test"])
    latents = np.load(paths["targets"] / "latents.npy")
    retrieval = retrieval_scores(np.load(out / "predictions.npy"), read_tsv(out / "trials.tsv"),
                                 latents, read_tsv(paths["targets"] / "stimuli.tsv"), True)
    entry = {}
    for name in ("top1", "top5"):
        metric = METRICS.get(name)
        values = metric.per_query(retrieval.scores, retrieval.true_index)  # (n_query,)
        low, high = bootstrap_ci(values, retrieval.query_stimulus, N_BOOTSTRAP, CONFIDENCE, seed)
        entry[name] = round(float(values.mean()), 4)
        entry[f"{name}_ci"] = [round(low, 4), round(high, 4)]
        entry[f"{name}_chance"] = round(float(metric.chance(len(retrieval.gallery))), 4)
    return entry


def arms(args: argparse.Namespace, pretrained: dict[str, Path]) -> list[dict[str, Any]]:
    """The trainings compared: name, encoder, options and train settings."""
    backbone = {"patch_seconds": args.patch_seconds, "d_model": args.d_model}
    base = {"max_epochs": args.epochs, "patience": args.patience, "batch_size": args.batch_size,
            "lr": args.lr, "num_threads": args.threads}
    found = [{"name": "ridge (reference)", "encoder": "ridge", "options": {}, "train": base,
              "pretrained": None},
             {"name": "scratch", "encoder": "patch_transformer", "options": backbone,
              "train": base, "pretrained": None}]
    for method, path in pretrained.items():
        found.append({"name": f"{method} fine-tuned", "encoder": "patch_transformer",
                      "options": backbone, "train": {**base, "init": "pretrained"},
                      "pretrained": path})
        if args.probe:
            found.append({"name": f"{method} frozen", "encoder": "patch_transformer",
                          "options": backbone, "pretrained": path,
                          "train": {**base, "init": "pretrained", "freeze_pretrained": True}})
    return found


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build the study, pretrain, train every arm for every seed, and score them."""
    start = time.perf_counter()
    paths = make_study(args, work)
    study_seconds = time.perf_counter() - start
    view = few_labels(paths["preprocessed"], args.label_fraction, work / "few")
    backbone = {"patch_seconds": args.patch_seconds, "d_model": args.d_model}
    pretrain, pretrained = {}, {}
    for method in METHODS:
        cfg = PretrainConfig(method=method, splits=["train"], tokenizer_epochs=args.pretrain_epochs,
                             epochs=args.pretrain_epochs, batch_size=args.batch_size,
                             num_threads=args.threads)
        pretrained[method] = work / f"pretrained-{method}"
        pretrain[method] = pretrain_study(cfg, backbone, paths["preprocessed"],
                                          pretrained[method])
    rows = []
    for arm in arms(args, pretrained):
        for seed in args.seeds:
            model_dir = work / f"model-{re.sub(r'[^a-z]+', '-', arm['name'])}{seed}"
            cfg = TrainConfig.model_validate({**arm["train"], "seed": seed})
            summary = fit_encoder(arm["encoder"], arm["options"], cfg, view["dir"],
                                  paths["targets"], model_dir, pretrained_dir=arm["pretrained"])
            rows.append({"arm": arm["name"], "seed": seed,
                         "fit_seconds": summary["fit_seconds"],
                         "epochs_run": summary.get("epochs_run"),
                         **score(model_dir, paths, work / f"{model_dir.name}-pred", seed)})
            logger.info("%s seed %d: %s", arm["name"], seed, rows[-1])
    return {"args": {key: str(value) if isinstance(value, Path) else value
                     for key, value in vars(args).items()},
            "study_seconds": round(study_seconds, 1),
            "few_labels": {key: value for key, value in view.items() if key != "dir"},
            "pretrain": pretrain, "runs": rows,
            "total_seconds": round(time.perf_counter() - start, 1)}


def table(results: dict[str, Any]) -> str:
    """A markdown table: one row per arm (mean over seeds; CIs of each seed)."""
    lines = ["| model | top-1 | top-1 95% CI | top-5 | top-5 95% CI | fit (s) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for arm in dict.fromkeys(row["arm"] for row in results["runs"]):
        runs = [row for row in results["runs"] if row["arm"] == arm]
        cis = {name: "; ".join(f"[{r[f'{name}_ci'][0]:.3f}, {r[f'{name}_ci'][1]:.3f}]"
                               for r in runs) for name in ("top1", "top5")}
        lines.append(
            f"| {arm} | {np.mean([r['top1'] for r in runs]):.3f} | {cis['top1']} | "
            f"{np.mean([r['top5'] for r in runs]):.3f} | {cis['top5']} | "
            f"{np.mean([r['fit_seconds'] for r in runs]):.1f} |")
    first = results["runs"][0]
    lines.append(f"| chance | {first['top1_chance']:.3f} | | {first['top5_chance']:.3f} | | |")
    pre = results["pretrain"]
    lines += ["", "| pretraining | loss | seconds | perplexity | usage | collapsed |",
              "| --- | --- | --- | --- | --- | --- |"]
    for method, summary in pre.items():
        losses = ", ".join(f"{key} {value:.3f}" for key, value in summary["losses"].items())
        lines.append(f"| {method} | {losses} | {summary['seconds']:.0f} | "
                     f"{summary.get('perplexity', '')} | {summary.get('usage', '')} | "
                     f"{summary.get('collapsed', '')} |")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=PROJECT_ROOT / "params.yaml")
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--stimuli", type=int, nargs=3, default=[240, 40, 40],
                        metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--repetitions", type=int, default=4, help="test repetitions")
    parser.add_argument("--targets", default="simulator", help="target latent space")
    parser.add_argument("--label-fraction", type=float, default=0.15,
                        help="fraction of the training stimuli whose trials keep labels")
    parser.add_argument("--patch-seconds", type=float, default=0.25)
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--pretrain-epochs", type=int, default=6,
                        help="epochs of each pretraining phase")
    parser.add_argument("--epochs", type=int, default=25, help="most training epochs")
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--probe", action="store_true",
                        help="also train the head alone on each frozen backbone")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="keep the files here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="brainrecon-pretrain-") as work:
            results = run(args, Path(work))
    else:
        results = run(args, args.work)
    RESULTS.parent.mkdir(exist_ok=True)
    write_json(results, RESULTS)
    print(table(results))
    print(f"\n{results['total_seconds']:.0f} s in all; {RESULTS}")
    logger.info("results: %s", json.dumps(results["few_labels"]))


if __name__ == "__main__":
    run_stage("pretrain_few_labels", main)
