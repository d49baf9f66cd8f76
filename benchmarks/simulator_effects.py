"""Benchmark: what each realistic simulator effect does to the ridge baseline and the oracle.

One simulated study (a key of params.yaml's ``studies``, resized from the command line) is
generated once per effect setting and snr, with one effect of ``study.options.simulated``
turned on at a time and the others off (latency jitter, amplitude variability, induced
bursts, run drift, subject-specific sources; :mod:`pipeline.simulate.trial_effects`), or
all five at once at moderate strengths (``all``), preprocessed, given its
targets and fitted with the study's ridge baseline by the functions the DVC stages call
(the targets depend only on the stimuli: computed once, shared). Each is evaluated as the
``evaluate`` stage does, with repetitions averaged and on single trials: ridge and oracle
top-1 with bootstrap CIs over stimuli. Results: ``benchmarks/results/simulator_effects.json``,
``.md`` and ``.png`` (rewritten after each setting).

Usage::

    python benchmarks/simulator_effects.py                     # eeg, 2 subjects, 240/40/40
    python benchmarks/simulator_effects.py --effects none all --snrs 0.2 0.1 0.06 \
        --subjects 3 --stimuli 480 40 40 --decoder conv \
        --results benchmarks/results/simulator_headroom.json
    python benchmarks/simulator_effects.py --effects none latency_20ms --work /tmp/effects
    python benchmarks/simulator_effects.py --effects none latency_50ms --decoder conv \
        --max-epochs 20 --results benchmarks/results/simulator_effects_conv.json
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

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from encoders import metric, run_encoder, study_sections  # noqa: E402

from pipeline.config import merge, parse_section  # noqa: E402
from pipeline.encoders.base import signal_args  # noqa: E402
from pipeline.encoders.baseline import fit_baseline  # noqa: E402
from pipeline.encoders.datamodule import load_encoder_data  # noqa: E402
from pipeline.evaluation.evaluate import evaluate  # noqa: E402
from pipeline.io import atomic_output_dir  # noqa: E402
from pipeline.preprocess.study import preprocess_study  # noqa: E402
from pipeline.sections import section_model  # noqa: E402
from pipeline.stage import run_stage  # noqa: E402
from pipeline.studies import generate_study  # noqa: E402
from pipeline.targets.compute import compute_targets  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "simulator_effects.json"
# Every effect off: the base of each one-effect setting below.
EFFECTS_OFF: dict[str, Any] = {
    "variability": {"latency_ms": 0.0, "amplitude_sd": 0.0},
    "induced": {"amplitude": 0.0},
    "run_drift": {"gain_sd": 0.0},
    "subject_sources": {"position_mm": 0.0, "orientation_deg": 0.0},
}
# name -> (effect, strength label, changes to study.options.simulated over EFFECTS_OFF)
SETTINGS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "none": ("none", "off", {}),
    "all": ("all five", "10 ms, sd 0.3, x1, sd 0.2, 5 mm 15 deg",
            {"variability": {"latency_ms": 10.0, "amplitude_sd": 0.3},
             "induced": {"amplitude": 1.0}, "run_drift": {"gain_sd": 0.2},
             "subject_sources": {"position_mm": 5.0, "orientation_deg": 15.0}}),
    "latency_20ms": ("latency jitter", "20 ms", {"variability": {"latency_ms": 20.0}}),
    "latency_50ms": ("latency jitter", "50 ms", {"variability": {"latency_ms": 50.0}}),
    "amplitude_0.3": ("amplitude gain", "sd 0.3", {"variability": {"amplitude_sd": 0.3}}),
    "amplitude_0.7": ("amplitude gain", "sd 0.7", {"variability": {"amplitude_sd": 0.7}}),
    "induced_1": ("induced bursts", "x1 13-30 Hz", {"induced": {"amplitude": 1.0}}),
    "induced_3": ("induced bursts", "x3 13-30 Hz", {"induced": {"amplitude": 3.0}}),
    "induced_3_gamma": ("induced bursts", "x3 30-60 Hz",
                        {"induced": {"amplitude": 3.0, "band": [30.0, 60.0]}}),
    "drift_0.2": ("run drift", "sd 0.2", {"run_drift": {"gain_sd": 0.2}}),
    "drift_0.5": ("run drift", "sd 0.5", {"run_drift": {"gain_sd": 0.5}}),
    "sources_5mm": ("subject sources", "5 mm 15 deg",
                    {"subject_sources": {"position_mm": 5.0, "orientation_deg": 15.0}}),
    "sources_10mm": ("subject sources", "10 mm 45 deg",
                     {"subject_sources": {"position_mm": 10.0, "orientation_deg": 45.0}}),
}
logger = logging.getLogger("benchmarks.simulator_effects")


def setting_sections(base: dict[str, Any], name: str | None, snr: float | None
                     ) -> dict[str, Any]:
    """``base`` sections with setting ``name`` (over every effect off; None keeps the study's
    effects) and ``snr`` (unless None) in the study's simulated options."""
    study = base["study"]
    changes = {} if name is None else merge(EFFECTS_OFF, SETTINGS[name][2])
    if snr is not None:
        changes = {**changes, "snr": snr}
    merged = merge(study.model_dump(mode="json"), {"options": {study.name: changes}})
    return {**base, "study": parse_section(section_model("study"), merged)}


def prepare(sections: dict[str, Any], work: Path, targets: Path) -> float:
    """Generate, preprocess and fit the ridge baseline in ``work``; compute the targets into
    ``targets`` unless there (they depend only on the stimuli); return the seconds taken."""
    start = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    with atomic_output_dir(work / "raw") as out:
        generate_study(sections["study"], out)
    with atomic_output_dir(work / "preprocessed") as out:
        preprocess_study(sections["preprocess"], work / "raw", out)
    if not targets.is_dir():
        with atomic_output_dir(targets) as out:
            compute_targets(sections["targets"], work / "raw", out)
    shutil.copytree(targets, work / "targets")
    fit_baseline(sections["baseline"], work / "preprocessed", work / "targets",
                 work / "baseline" / "model", work / "baseline" / "predictions")
    return round(time.perf_counter() - start, 1)


def score(sections: dict[str, Any], work: Path, average: bool) -> dict[str, Any]:
    """Ridge and oracle top-1 (with CIs) of the prepared study in ``work``."""
    cfg = sections["evaluate"].model_copy(update={"average_repetitions": average})
    out = work / ("evaluate_avg" if average else "evaluate_single")
    predictions = work / "baseline" / "predictions"
    metrics = evaluate(cfg, predictions, predictions, work / "targets",
                       work / "raw" / "derivatives" / "oracle", out / "evaluate.json",
                       out / "topk.csv", out / "plots")
    top1 = metric({"metrics": metrics}, "top1")
    return {key: top1[key] for key in ("decoder", "decoder_ci", "oracle", "oracle_ci", "chance")}


def run_setting(name: str, snr: float | None, base: dict[str, Any], work: Path,
                decoder: str | None) -> dict[str, Any]:
    """Prepare one effect setting's study at ``snr`` (None: the study's) and score it,
    averaged and single-trial (and fit encoder ``decoder`` on it, unless None)."""
    effect, strength, _ = SETTINGS[name]
    sections = setting_sections(base, name, snr)
    study = sections["study"].model_dump(mode="json")
    simulated = study["options"][study["name"]]
    study_dir = work / (name if snr is None else f"{name}_snr{snr:g}")
    start = time.perf_counter()
    prepare_seconds = prepare(sections, study_dir, work / "targets")
    effects = {key: simulated[key] for key in EFFECTS_OFF}
    row = {"setting": name, "effect": effect, "strength": strength, "snr": simulated["snr"],
           "effects": effects,
           "averaged": score(sections, study_dir, True),
           "single_trial": score(sections, study_dir, False),
           "prepare_seconds": prepare_seconds}
    if decoder:
        row["decoder"] = decoder_top1(decoder, sections, study_dir)
    return {**row, "seconds": round(time.perf_counter() - start, 1)}


def decoder_top1(name: str, sections: dict[str, Any], work: Path) -> dict[str, Any]:
    """Fit encoder ``name`` (seed 0) on the prepared study in ``work``; its averaged top-1."""
    data = load_encoder_data(work / "preprocessed", work / "targets")
    epochs = data.preprocessed.epochs  # (n_trials, C, T)
    signal = signal_args(epochs.shape[1], epochs.shape[2], data.preprocessed.info["sfreq"],
                         data.target.shape[1], len(data.subjects),
                         data.preprocessed.info["ch_pos"])
    run = run_encoder(name, 0, sections, work, signal)
    if run["status"] != "ok":
        return {"status": run["status"], "reason": run["reason"]}
    top1 = metric(run, "top1")
    return {"status": "ok", "decoder": top1["decoder"], "decoder_ci": top1["decoder_ci"],
            "fit_seconds": run["train"]["fit_seconds"]}


def cell(entry: dict[str, Any], key: str) -> str:
    """``0.512 [0.40, 0.63]``."""
    low, high = entry[f"{key}_ci"]
    return f"{entry[key]:.3f} [{low:.2f}, {high:.2f}]"


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table."""
    study = results["study"]
    lines = [f"Study `{study['modality']}`: {study['n_subjects']} subjects, stimuli "
             f"{study['stimuli']} (train/val/test), {study['test_repetitions']} test "
             f"repetitions; ridge = the study's baseline; top-1 with "
             f"{study['confidence']:.0%} bootstrap CIs over stimuli; {results['seconds']:.0f} s.",
             "", "| effect | strength | snr | ridge avg | oracle avg | ridge single | "
             "oracle single |", "| --- " * 7 + "|"]
    for row in results["rows"]:
        averaged, single = row["averaged"], row["single_trial"]
        lines.append(f"| {row['effect']} | {row['strength']} | {row['snr']:g} | "
                     f"{cell(averaged, 'decoder')} | "
                     f"{cell(averaged, 'oracle')} | {cell(single, 'decoder')} | "
                     f"{cell(single, 'oracle')} |")
    decoded = [row for row in results["rows"] if "decoder" in row]
    if decoded:
        lines += ["", f"`{results['study']['decoder']}` decoder (seed 0), repetitions averaged:",
                  "", "| effect | strength | snr | top-1 [CI] | fit (s) |", "| --- " * 5 + "|"]
        for row in decoded:
            fit = row["decoder"]
            text = (f"{cell(fit, 'decoder')} | {fit['fit_seconds']:.0f}"
                    if fit["status"] == "ok" else f"{fit['status']}: {fit['reason']} |")
            lines.append(f"| {row['effect']} | {row['strength']} | {row['snr']:g} | {text} |")
    return "\n".join(lines)


MODELS = (("decoder", "ridge", "tab:blue"), ("oracle", "oracle", "tab:orange"))


def tick_label(row: dict[str, Any]) -> str:
    """The effect, its strength when short, and the snr."""
    strength = f" {row['strength']}" if len(row["strength"]) <= 14 else ""
    return f"{row['effect']}{strength}\nsnr {row['snr']:g}"


def errorbars(ax: plt.Axes, x: list[float], entries: list[dict[str, Any]], key: str,
              style: dict[str, Any]) -> None:
    """Plot ``entries[i][key]`` at ``x[i]`` with its CI as error bars."""
    values = [entry[key] for entry in entries]
    errors = [[v - entry[f"{key}_ci"][0] for v, entry in zip(values, entries, strict=True)],
              [entry[f"{key}_ci"][1] - v for v, entry in zip(values, entries, strict=True)]]
    ax.errorbar(x, values, yerr=errors, capsize=3, **style)


def figure(results: dict[str, Any], path: Path) -> None:
    """Top-1 (CIs as error bars) of ridge, the oracle and the decoder (if fitted) per setting,
    averaged and single-trial; with several snrs, one curve per effect setting against snr."""
    rows = results["rows"]
    snrs = sorted({row["snr"] for row in rows})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, key, title in zip(axes, ("averaged", "single_trial"),
                              ("test repetitions averaged", "single trials"), strict=True):
        groups = ([[row for row in rows if row["setting"] == name]
                   for name in dict.fromkeys(row["setting"] for row in rows)]
                  if len(snrs) > 1 else [[row] for row in rows])
        for index, group in enumerate(groups):
            group = sorted(group, key=lambda row: row["snr"])
            curves = len(snrs) > 1  # one labelled curve per setting, else one point each
            marker, line = ("osD^v<>ph*"[index % 10], "-") if curves else ("o", "none")
            x = [row["snr"] for row in group] if curves else [index]
            name = group[0]["effect"] if curves else None
            for offset, (model, label, colour) in enumerate(MODELS):
                shift = [value + 0.12 * (offset - 0.5) for value in x] if len(snrs) == 1 else x
                errorbars(ax, shift, [row[key] for row in group], model,
                          {"color": colour, "marker": marker, "linestyle": line,
                           "label": (f"{label}, {name}" if curves else label)
                          if curves or index == 0 else None})
            if key == "averaged" and all("decoder" in row for row in group):
                fits = [row["decoder"] for row in group if row["decoder"]["status"] == "ok"]
                shift = [value + 0.24 for value in x] if len(snrs) == 1 else x
                errorbars(ax, shift[:len(fits)], fits, "decoder",
                          {"color": "tab:green", "marker": marker, "linestyle": line,
                           "label": (f"{results['study']['decoder']}, {name}" if curves
                                    else results["study"]["decoder"])
                          if curves or index == 0 else None})
        ax.axhline(rows[0][key]["chance"], color="grey", linestyle=":", label="chance")
        if len(snrs) > 1:
            ax.set_xscale("log")
            ax.set_xticks(snrs, [f"{snr:g}" for snr in snrs])
            ax.set_xlabel("snr (evoked RMS / noise RMS at the sensors)")
        else:
            ax.set_xticks(range(len(rows)), [tick_label(row) for row in rows], rotation=60,
                          ha="right", fontsize=8)
        ax.set_title(title)
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("top-1")
    axes[0].legend(fontsize=7, loc="center left", bbox_to_anchor=(0.0, 0.68))
    fig.suptitle(f"Simulator effects ({results['study']['modality']}): ridge, oracle"
                 + (f" and {results['study']['decoder']}" if results["study"]["decoder"] else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(results: dict[str, Any], path: Path) -> None:
    """Write the JSON, the markdown table (``.md``) and the figure (``.png``) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(results) + "\n")
    figure(results, path.with_suffix(".png"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=PROJECT_ROOT / "params.yaml")
    parser.add_argument("--modality", default="eeg",
                        help="a key of params.yaml's studies (eeg, meg, seeg)")
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--stimuli", type=int, nargs=3, default=[240, 40, 40],
                        metavar=("TRAIN", "VAL", "TEST"))
    parser.add_argument("--repetitions", type=int, default=4, help="test repetitions")
    parser.add_argument("--effects", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--snrs", type=float, nargs="+", default=[None],
                        help="snr of every setting (default: the study's)")
    parser.add_argument("--n-bootstrap", type=int, default=None, help="default: params.yaml")
    parser.add_argument("--decoder", default=None,
                        help="also fit this encoder (conv, ...) on each setting (slow on CPU)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="the decoder's epochs (default: params.yaml)")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the studies here (default: a temporary folder)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.targets, args.threads = None, 2
    return args


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Run every setting of ``args.effects``; the results are rewritten after each."""
    began = time.perf_counter()
    base = study_sections(args)
    study = {"modality": args.modality, "n_subjects": args.subjects,
             "stimuli": "/".join(map(str, args.stimuli)), "test_repetitions": args.repetitions,
             "confidence": base["evaluate"].confidence, "decoder": args.decoder,
             "sections": {name: base[name].model_dump(mode="json")
                          for name in ("study", "preprocess", "targets", "baseline")}}
    results: dict[str, Any] = {"study": study, "rows": [], "seconds": 0.0}
    runs = [(name, snr) for snr in args.snrs for name in args.effects]
    for index, (name, snr) in enumerate(runs):
        logger.info("[%d/%d] %s, snr %s", index + 1, len(runs), name, snr or "of the study")
        results["rows"].append(run_setting(name, snr, base, work, args.decoder))
        results["seconds"] = round(time.perf_counter() - began, 1)
        write_results(results, args.results)
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write the JSON, markdown and figure."""
    args = parse_args(argv)
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        results = run(args, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="brainrecon-effects-") as tmp:
            results = run(args, Path(tmp))
    print(markdown(results))
    print(f"\nwritten {args.results} and its .md and .png")
    return results


if __name__ == "__main__":
    run_stage("bench-simulator-effects", main)
