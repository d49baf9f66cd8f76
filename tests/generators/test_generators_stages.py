"""generators -> generate -> evaluate_generated on a tiny study: every output, every metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.evaluation.generation.evaluate import evaluate_generated
from pipeline.evaluation.options import EvaluateConfig
from pipeline.generators.fit import fit_generators
from pipeline.generators.generate import generate_outputs, stimulus_latents
from pipeline.generators.options import GenerateConfig, GeneratorsConfig
from pipeline.io import read_json, write_json, write_tsv

TINY = {
    "image": {"name": "diffusion", "options": {"diffusion": {
        "image_size": 16, "block_out_channels": [8, 16], "steps": 20, "eval_every": 10,
        "batch_size": 16}}},
    "text": {"name": "prefix_lm", "options": {"prefix_lm": {
        "epochs": 2, "lm_width": 16, "lm_heads": 2, "lm_layers": 1, "mapping_hidden": 16}}},
}
SAMPLING = {"diffusion": {"steps": 3}, "prefix_lm": {"max_new_tokens": 12}}


def _write_targets(stimuli, out: Path) -> Path:
    out.mkdir(parents=True)
    np.save(out / "latents.npy", stimuli.latents)
    write_tsv(stimuli.table[["stimulus_id", "split", "image", "caption"]], out / "stimuli.tsv")
    write_json({"name": "simulator", "dim": int(stimuli.latents.shape[1])}, out / "info.json")
    return out


def _write_predictions(stimuli, out: Path, noise: float, seed: int) -> Path:
    """Two subjects x one repetition of every val and test stimulus, latents plus noise."""
    rng = np.random.default_rng(seed)
    keep = stimuli.table["split"].isin(["val", "test"]).to_numpy()
    table = stimuli.table[keep]
    rows = np.tile(np.flatnonzero(keep), 2)
    trials = pd.DataFrame({"subject": np.repeat(["01", "02"], len(table)),
                           "stimulus_id": np.tile(table["stimulus_id"], 2),
                           "split": np.tile(table["split"], 2)})
    latents = stimuli.latents[rows] + noise * rng.normal(size=(len(rows), stimuli.latents.shape[1]))
    out.mkdir(parents=True)
    np.save(out / "predictions.npy", latents.astype(np.float32))
    write_tsv(trials, out / "trials.tsv")
    return out


@pytest.fixture(scope="module")
def generated(stimulus_set, tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    raw = stimulus_set.root.parent
    targets = _write_targets(stimulus_set, root / "targets")
    sources = {"decoder": _write_predictions(stimulus_set, root / "decoder", 0.3, 0),
               "baseline": _write_predictions(stimulus_set, root / "baseline", 3.0, 1)}
    fit_generators(GeneratorsConfig(**TINY), raw, targets, root / "generators",
                   checkpoint_dir=root / "checkpoints")
    generate_outputs(GenerateConfig(sampling=SAMPLING), root / "generators", sources, raw,
                     targets, root / "generated")
    return root, raw


def test_the_fit_writes_curves_and_removes_its_checkpoints_once_saved(generated):
    root, _ = generated
    assert pd.read_csv(root / "generators" / "image" / "history.csv")["step"].tolist() == [10, 20]
    assert list((root / "checkpoints").iterdir()) == []


def test_every_kind_is_generated_for_every_test_stimulus_and_source(generated, stimulus_set):
    root, _ = generated
    test_ids = stimulus_set.split("test").table["stimulus_id"].tolist()
    index = pd.read_csv(root / "generated" / "stimuli.tsv", sep="\t", dtype={"stimulus_id": str})
    assert index["stimulus_id"].tolist() == test_ids
    assert (index["n_trials_decoder"] == 2).all()
    for source in ("decoder", "baseline", "ceiling"):
        directory = root / "generated" / source
        assert sorted(p.stem for p in (directory / "images").glob("*.png")) == sorted(test_ids)
        assert len(pd.read_csv(directory / "captions.tsv", sep="\t")) == len(test_ids)
        meshes = directory / "shapes" / "meshes"
        assert {p.suffix for p in meshes.iterdir()} == {".ply", ".obj"}
        assert len(list(meshes.glob("*.ply"))) == len(test_ids)
    summary = read_json(root / "generated" / "generate.json")
    assert set(summary["kinds"]) == {"image", "text", "shape"}


def test_evaluation_reports_every_metric_beside_chance_and_ceiling(generated, tmp_path):
    root, raw = generated
    metrics = evaluate_generated(EvaluateConfig(n_bootstrap=50), root / "generated", raw,
                                 tmp_path / "generation.json", tmp_path / "plots")
    assert read_json(tmp_path / "generation.json") == metrics
    shape = metrics["shape"]
    assert {"chamfer", "iou", "shape_family"} <= set(shape)
    assert shape["shape_family"]["ceiling"] > shape["shape_family"]["chance"]
    for kind in ("image", "text", "shape"):
        for name, entry in metrics[kind].items():
            if isinstance(entry, dict):
                assert {"decoder", "decoder_ci", "baseline", "ceiling", "chance",
                        "beats_chance"} <= set(entry), (kind, name)
    per_stimulus = pd.read_csv(tmp_path / "plots" / "per_stimulus.tsv", sep="\t")
    assert len(per_stimulus) == 8 and "pixcorr_decoder" in per_stimulus
    assert (tmp_path / "plots" / "reconstructions.png").stat().st_size > 10_000


def test_stimulus_latents_average_unit_rows_and_refuse_missing_stimuli(generated, stimulus_set):
    root, _ = generated
    ids = stimulus_set.split("test").table["stimulus_id"].tolist()
    latents, counts = stimulus_latents(root / "decoder", ids)
    assert latents.shape == (len(ids), stimulus_set.latents.shape[1]) and (counts == 2).all()
    assert (np.linalg.norm(latents, axis=1) <= 1 + 1e-6).all()
    with pytest.raises(DataError, match="no test trial of stimulus 'nope'"):
        stimulus_latents(root / "decoder", [*ids, "nope"])
