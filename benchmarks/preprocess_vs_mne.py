"""Benchmark: brainrecon's preprocess stage against a plain MNE script doing the same steps.

One simulated 64-channel EEG recording (one subject, about 10 minutes, BIDS BrainVision)
is preprocessed by (a) ``pipeline.preprocess.preprocess_study`` with the steps of the
shipped params.yaml and (b) a plain MNE script doing the same operations in place.
Runs alternate, after one warm-up run of each; medians of the wall (and CPU) times give
the overhead. Peak memory (``ru_maxrss``) is measured in a fresh process per method and
recording length, and for two recordings in one study, beside the size of a recording in
memory. Results: a markdown table on stdout and ``benchmarks/results/preprocess_vs_mne.json``.

Usage::

    python benchmarks/preprocess_vs_mne.py            # about 3 minutes on 2 CPU cores
    python benchmarks/preprocess_vs_mne.py --repeats 9 --memory-minutes 5 10 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "preprocess_vs_mne.json"
TARGET_OVERHEAD = 20.0  # percent
TEST_REPETITIONS = 4
ALLOCATORS = {  # glibc malloc settings of the memory runs
    "default": {},
    # a fixed threshold: freed arrays go back to the system instead of staying in the heap
    "mmap>=1MiB": {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)},
}


def preprocess_cfg():
    """The ``preprocess`` section of the shipped params.yaml."""
    from pipeline.preprocess.options import PreprocessConfig

    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    return PreprocessConfig.model_validate(params["preprocess"])


def simulate(minutes: float, out_dir: Path, n_subjects: int = 1) -> Path:
    """Simulate 64-channel EEG recordings of about ``minutes`` minutes (one trial a second)."""
    from pipeline.simulate.modalities import simulate_study
    from pipeline.simulate.options import SimulateConfig

    n_trials = round(minutes * 60)
    test = max(2, n_trials // 30)
    val = max(2, n_trials // 15)
    train = n_trials - val - TEST_REPETITIONS * test
    cfg = SimulateConfig(n_subjects=n_subjects, stimuli={"train": train, "val": val, "test": test},
                         test_repetitions=TEST_REPETITIONS, image_size=32,
                         oracle={"n_noise_epochs": 100})
    simulate_study(cfg, out_dir)
    return out_dir


def recording_path(raw_dir: Path):
    """The (first) EEG recording of the simulated BIDS root."""
    import mne_bids

    return mne_bids.find_matching_paths(raw_dir, datatypes="eeg", suffixes="eeg",
                                        extensions=".vhdr")[0]


def run_pipeline(raw_dir: Path, out_dir: Path) -> None:
    """(a) The preprocess stage's library call, with the shipped steps."""
    from pipeline.preprocess.study import preprocess_study

    preprocess_study(preprocess_cfg(), raw_dir, out_dir)


def run_plain_mne(raw_dir: Path, out_dir: Path) -> None:
    """(b) The same steps as a plain MNE script, in place.

    Bad channels are found with the same criterion as the pipeline's
    ``mark_bad_channels`` (robust z-score of windowed log variance, and flat channels),
    using its two numpy functions, so both mark and interpolate the same channels.
    """
    import mne
    import mne_bids

    from pipeline.preprocess.bads import find_bad_channels, windowed_variance

    raw = mne_bids.read_raw_bids(recording_path(raw_dir), verbose=False)
    raw.load_data(verbose=False)
    raw.pick("eeg", exclude=())
    variance = windowed_variance(raw.get_data(), round(raw.info["sfreq"]))  # (n_chans,)
    noisy, flat = find_bad_channels(variance, 4.0, 0.01)
    raw.info["bads"] += [name for name, bad in zip(raw.ch_names, noisy | flat, strict=True)
                         if bad and name not in raw.info["bads"]]
    raw.interpolate_bads(reset_bads=True, verbose=False)
    raw.notch_filter([50.0, 100.0], verbose=False)
    raw.filter(0.5, 40.0, verbose=False)
    raw.set_eeg_reference("average", projection=False, verbose=False)
    stimuli = set(pd.read_csv(raw_dir / "stimuli" / "stimuli.tsv", sep="\t",
                              dtype={"stimulus_id": str})["stimulus_id"])
    trials = np.isin(raw.annotations.description, list(stimuli))  # (n_annotations,)
    onsets = raw.annotations.onset[trials] - raw.first_time  # seconds from the first sample
    raw.resample(100.0, verbose=False)
    samples = np.round(onsets * raw.info["sfreq"]).astype(np.int64) + raw.first_samp
    events = np.column_stack([samples, np.zeros_like(samples), np.ones_like(samples)])
    epochs = mne.Epochs(raw, events, tmin=-0.1, tmax=0.6, baseline=None, preload=True,
                        reject_by_annotation=False, verbose=False)
    epochs.apply_baseline((-0.1, 0.0), verbose=False)
    data = epochs.get_data()  # (n_epochs, n_chans, n_times)
    low, median, high = np.percentile(data.transpose(1, 0, 2).reshape(data.shape[1], -1),
                                      [25, 50, 75], axis=1)  # (n_chans,) each
    scale = np.where(high > low, high - low, 1.0)
    data = np.clip((data - median[:, None]) / scale[:, None], -20.0, 20.0)
    np.save(out_dir / "epochs.npy", data.astype(np.float32))


METHODS = {"pipeline": run_pipeline, "mne": run_plain_mne}


def timed(method: str, raw_dir: Path, work: Path, index: int) -> tuple[float, float]:
    """Run ``method`` into a fresh folder; return its wall and CPU times in seconds."""
    out = work / f"{method}_{index}"
    out.mkdir()
    wall, cpu = time.perf_counter(), time.process_time()
    METHODS[method](raw_dir, out)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure_times(raw_dir: Path, work: Path, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Alternate the methods (order swapped every repeat) after one warm-up run of each.

    Returns ``{"wall": {method: [s, ...]}, "cpu": {...}}``; CPU time (all threads of this
    process) is the figure that other work on a shared machine disturbs least.
    """
    for method in METHODS:
        timed(method, raw_dir, work, -1)
    times: dict[str, dict[str, list[float]]] = {"wall": {}, "cpu": {}}
    for index in range(repeats):
        order = list(METHODS) if index % 2 == 0 else list(METHODS)[::-1]
        for method in order:
            wall, cpu = timed(method, raw_dir, work, index)
            times["wall"].setdefault(method, []).append(wall)
            times["cpu"].setdefault(method, []).append(cpu)
            print(f"  {method:8s} run {index}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    return times


def child(method: str, raw_dir: Path, out_dir: Path) -> None:
    """Run one method in this (fresh) process; print its peak memory as JSON."""
    import mne  # noqa: F401  (imports count in the baseline, not in the run)
    import mne_bids  # noqa: F401

    import pipeline.preprocess  # noqa: F401

    imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    out_dir.mkdir(parents=True, exist_ok=True)
    METHODS[method](raw_dir, out_dir)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"imports_mib": round(imports, 1), "peak_mib": round(peak, 1)}))


def in_subprocess(*args: str, env: dict[str, str] | None = None) -> str:
    """Run this script with ``args`` in a fresh interpreter; return its last output line.

    Linux carries a process's peak RSS over into the children it forks, so the parent
    stays small (it imports no MNE) until every memory measurement is done.
    """
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, env={**os.environ, **(env or {})})
    if result.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def measure_memory(method: str, raw_dir: Path, out_dir: Path, allocator: str
                   ) -> dict[str, float]:
    """Peak resident memory of ``method`` in a fresh interpreter, with ``ALLOCATORS[allocator]``."""
    return json.loads(in_subprocess("--child", method, "--raw", str(raw_dir), "--out",
                                    str(out_dir), env=ALLOCATORS[allocator]))


def recording_mib(raw_dir: Path) -> dict[str, float]:
    """Size of the recording: in memory as float64, and on disk."""
    import mne_bids

    path = recording_path(raw_dir)
    raw = mne_bids.read_raw_bids(path, verbose=False)
    files = [path.fpath, *path.fpath.parent.glob(path.fpath.stem + ".eeg")]
    return {"minutes": round(raw.times[-1] / 60, 2),
            "n_channels": raw.info["nchan"],
            "in_memory_mib": round(raw.info["nchan"] * raw.n_times * 8 / 2**20, 1),
            "on_disk_mib": round(sum(file.stat().st_size for file in files) / 2**20, 1)}


def compare_outputs(work: Path) -> float:
    """Largest absolute difference between the two methods' epochs (robust-scaled units)."""
    ours = np.load(work / "pipeline_0" / "epochs.npy", mmap_mode="r")
    theirs = np.load(work / "mne_0" / "epochs.npy", mmap_mode="r")
    if ours.shape != theirs.shape:
        raise RuntimeError(f"epochs differ in shape: pipeline {ours.shape}, mne {theirs.shape}")
    return float(np.abs(ours - theirs).max())


def markdown(results: dict) -> str:
    """The results as markdown tables."""
    timing, recording = results["timing"], results["recording"]
    lines = [
        f"Recording: {recording['n_channels']} channels, {recording['minutes']} min, "
        f"{recording['in_memory_mib']} MiB in memory (float64); {timing['repeats']} "
        "alternating runs each after a warm-up run; largest difference between the two "
        f"outputs: {results['max_abs_difference']:.2g}",
        "",
        "| method | median wall (s) | median CPU (s) | wall runs (s) |",
        "| --- | --- | --- | --- |",
    ]
    for method in METHODS:
        runs = ", ".join(f"{value:.2f}" for value in timing["wall_s"][method])
        lines.append(f"| {method} | {timing['median_wall_s'][method]:.2f} | "
                     f"{timing['median_cpu_s'][method]:.2f} | {runs} |")
    lines += [
        f"| **overhead** | **{timing['overhead_wall_percent']:+.1f}%** | "
        f"**{timing['overhead_cpu_percent']:+.1f}%** | target <= {TARGET_OVERHEAD:.0f}% |",
        "",
        "| recordings | each in memory (MiB) | method | malloc | peak RSS (MiB) "
        "| peak over imports (MiB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["memory"]:
        lines.append(f"| {row['n_recordings']} x {row['minutes']} min | {row['in_memory_mib']} | "
                     f"{row['method']} | {row['allocator']} | {row['peak_mib']} | "
                     f"{row['over_imports_mib']} |")
    return "\n".join(lines)


def overhead(medians: dict[str, float]) -> float:
    """Extra time of the pipeline over the plain MNE script, in percent."""
    return round(100 * (medians["pipeline"] / medians["mne"] - 1), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--memory-minutes", type=float, nargs="+", default=[5.0, 10.0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=list(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--simulate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--subjects", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.raw, args.out)
        return
    if args.simulate:
        simulate(args.simulate, args.out, args.subjects)
        print(json.dumps(recording_mib(args.out)))
        return

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="brainrecon-bench-") as tmp:
        work = Path(tmp)
        studies = {(minutes, 1) for minutes in {args.minutes, *args.memory_minutes}}
        studies.add((min(args.memory_minutes), 2))  # two recordings: memory must not add up
        roots, sizes = {}, {}
        for minutes, subjects in sorted(studies):
            print(f"simulating {subjects} x {minutes:g} min of 64-channel EEG", flush=True)
            roots[minutes, subjects] = work / f"raw_{minutes:g}min_{subjects}"
            sizes[minutes, subjects] = json.loads(in_subprocess(
                "--simulate", str(minutes), "--subjects", str(subjects), "--out",
                str(roots[minutes, subjects])))
        memory = []
        shortest = min(args.memory_minutes)
        runs = [((minutes, 1), method, "default") for minutes in args.memory_minutes
                for method in METHODS]
        runs += [((shortest, 2), "pipeline", "default"), ((shortest, 1), "pipeline", "mmap>=1MiB"),
                 ((shortest, 2), "pipeline", "mmap>=1MiB")]
        for index, ((minutes, subjects), method, allocator) in enumerate(runs):
            print(f"peak memory: {method}, {subjects} x {minutes:g} min, {allocator} malloc",
                  flush=True)
            peak = measure_memory(method, roots[minutes, subjects], work / f"mem_{index}",
                                  allocator)
            memory.append({"method": method, "n_recordings": subjects, "allocator": allocator,
                           **sizes[minutes, subjects], **peak,
                           "over_imports_mib": round(peak["peak_mib"] - peak["imports_mib"], 1)})
        print(f"timing ({args.repeats} alternating runs each, after a warm-up run)", flush=True)
        times = measure_times(roots[args.minutes, 1], work, args.repeats)
        wall = {method: statistics.median(values) for method, values in times["wall"].items()}
        cpu = {method: statistics.median(values) for method, values in times["cpu"].items()}
        results = {
            "recording": sizes[args.minutes, 1],
            "timing": {"repeats": args.repeats, "wall_s": times["wall"], "cpu_s": times["cpu"],
                       "median_wall_s": wall, "median_cpu_s": cpu,
                       "overhead_wall_percent": overhead(wall),
                       "overhead_cpu_percent": overhead(cpu)},
            "max_abs_difference": compare_outputs(work),
            "memory": memory,
        }
    results["seconds"] = round(time.perf_counter() - began, 1)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    print(f"\nwritten {args.results} in {results['seconds']} s")


if __name__ == "__main__":
    main()
