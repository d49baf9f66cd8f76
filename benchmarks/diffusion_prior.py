"""Benchmark: does the diffusion prior bring noisy or predicted latents nearer the true ones?

The prior of the ``diffusion`` image generator is fitted (alone, without the UNet) on the
training latents of a targets folder (a ``targets`` stage output: stimuli.tsv, latents.npy),
with the validation latents for selection, as ``DiffusionGenerator.fit`` does. Then, on the
val and test stimuli, the latents are corrupted to cosine about 0.5 with the truth (noise of
relative norm 1.73) and, when a predictions folder is given, the decoder's predictions are
averaged per stimulus (unit rows, as the generate stage does). For each, before and after
the prior: the mean cosine with the true latent (raw, and centred on the training mean) and
the 2-way identification accuracy (centred cosine with the true latent against another
stimulus's true latent). Beside the prior, a linear denoiser (ridge from corrupted to clean
scaled training latents, with the prior's corruption) shows what a linear map already gets.
The table is printed (markdown) and written to ``--out`` (json).

Usage::

    python benchmarks/diffusion_prior.py data/targets/eeg --predictions data/predictions/eeg/decoder
    python benchmarks/diffusion_prior.py data/targets/eeg --options prior_steps=300 --steps 1 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline.generators.image.diffusion import DiffusionGenerator
from pipeline.generators.latents import LatentScaler, l2_normalise, noisy_unit, unit_rows

NOISE = 1.73  # relative noise norm: cosine 0.5 with the clean latent
LINEAR_DRAWS = 20  # corrupted copies of each training latent for the linear denoiser


def linear_denoiser(scaler: LatentScaler, train_unit: np.ndarray, noise: float, seed: int,
                    ) -> np.ndarray:
    """Ridge map (dim, dim) from corrupted to clean scaled training latents (alpha 1)."""
    generator = torch.Generator().manual_seed(seed)
    unit = torch.from_numpy(train_unit).repeat(LINEAR_DRAWS, 1)  # (n * draws, dim)
    corrupted = scaler.transform(noisy_unit(unit, noise, generator).numpy())
    clean = scaler.transform(unit.numpy())
    gram = corrupted.T @ corrupted + np.eye(scaler.dim)
    return np.linalg.solve(gram, corrupted.T @ clean)


def metrics(unit: np.ndarray, truth: np.ndarray, mean: np.ndarray) -> dict[str, float]:
    """Raw and centred cosine with the truth, 2-way identification (unit rows (n, dim))."""
    centred, true_centred = unit_rows(unit - mean), unit_rows(truth - mean)
    similarity = centred @ true_centred.T  # (n, n)
    off = ~np.eye(len(unit), dtype=bool)
    return {"cos": float(np.mean(np.sum(unit * truth, axis=1))),
            "cos_centred": float(np.mean(np.diag(similarity))),
            "two_way": float(np.mean((np.diag(similarity)[:, None] > similarity)[off]))}


def predicted(predictions: Path, stimuli: pd.DataFrame, split: str) -> np.ndarray:
    """Mean unit-normalised prediction of each stimulus of ``split`` (n, dim), table order."""
    rows = np.load(predictions / "predictions.npy")
    trials = pd.read_csv(predictions / "trials.tsv", sep="\t", dtype={"subject": str})
    unit = l2_normalise(rows, str(predictions / "predictions.npy"))
    ids = stimuli.loc[stimuli["split"] == split, "stimulus_id"]
    return np.stack([unit[(trials["stimulus_id"] == i).to_numpy()].mean(0) for i in ids])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", type=Path)
    parser.add_argument("--predictions", type=Path)
    parser.add_argument("--options", nargs="*", default=[], help="key=value prior options")
    parser.add_argument("--steps", nargs="*", type=int, default=[1, 10], help="DDIM steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "diffusion_prior.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = DiffusionGenerator.parse_options(
        {"prior": True, **dict(kv.split("=") for kv in args.options)})
    stimuli = pd.read_csv(args.targets / "stimuli.tsv", sep="\t")
    latents = np.load(args.targets / "latents.npy")
    unit = {s: l2_normalise(latents[(stimuli["split"] == s).to_numpy()]) for s in
            ("train", "val", "test")}
    scaler = LatentScaler.fit(unit["train"])
    start = time.perf_counter()
    prior = DiffusionGenerator.fit_prior(options, scaler, unit["train"], unit["val"], args.seed)
    seconds = time.perf_counter() - start
    print(f"prior fitted in {seconds:.1f} s on 1 thread "
          f"({len(unit['train'])} latents, dim {scaler.dim}); best val loss "
          f"{min(h['val_loss'] for h in prior.history):.4f} of {len(prior.history)} evaluations")
    linear = linear_denoiser(scaler, unit["train"], options.prior_noise, args.seed)
    rng = np.random.default_rng(args.seed)
    inputs = {}
    for split in ("val", "test"):
        noise = rng.standard_normal(unit[split].shape) / np.sqrt(scaler.dim)
        inputs[f"{split} noisy"] = (unit_rows(unit[split] + NOISE * noise), unit[split])
        if args.predictions:
            inputs[f"{split} predicted"] = (unit_rows(predicted(args.predictions, stimuli, split)),
                                          unit[split])
    print("| latents | prior | cos | cos centred | 2-way |\n|---|---|---|---|---|")
    results = []
    for name, (given, truth) in inputs.items():
        rows = {"none": given,
                "linear": unit_rows((scaler.transform(given.astype(np.float32)) @ linear)
                                    * scaler.scale + scaler.mean)}
        for steps in args.steps:
            out = prior.sample(scaler.transform(given.astype(np.float32)), steps,
                               torch.Generator().manual_seed(args.seed))
            rows[f"{steps} steps"] = unit_rows(out * scaler.scale + scaler.mean)
        for label, out in rows.items():
            m = metrics(out, truth, scaler.mean)
            results.append({"latents": name, "prior": label, **m})
            print(f"| {name} | {label} | {m['cos']:.3f} | {m['cos_centred']:.3f} | "
                  f"{m['two_way']:.3f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "targets": str(args.targets), "predictions": str(args.predictions),
        "options": options.model_dump(mode="json"), "fit_seconds": seconds,
        "history": prior.history, "rows": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
