"""A tiny eeg study run through every stage in-process, exported as a bundle (session-wide)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from tiny_project import tiny_params

from pipeline.config import load_section
from pipeline.encoders import fit_baseline, fit_encoder, predict_latents
from pipeline.evaluation import evaluate
from pipeline.evaluation.generation.evaluate import evaluate_generated
from pipeline.generators.fit import fit_generators
from pipeline.generators.generate import generate_outputs
from pipeline.preprocess import preprocess_study
from pipeline.serving.bundle import load_bundle
from pipeline.serving.export import export_bundle
from pipeline.studies import generate_study
from pipeline.targets import compute_targets

STUDY = "eeg"


def run_tiny_study(params_path: Path, root: Path) -> dict[str, Path]:
    """Every stage of the eeg study of ``params_path`` into ``root``; the export's inputs."""
    def section(name):
        return load_section(name, params_path, STUDY)

    paths = {name: root / name for name in ("raw", "preprocessed", "targets", "generators")}
    paths.update(encoder=root / "models" / "decoder", baseline=root / "models" / "baseline",
                 evaluate=root / "metrics" / "evaluate.json",
                 generation=root / "metrics" / "generation.json")
    predictions = {"decoder": root / "predictions" / "decoder",
                   "baseline": root / "predictions" / "baseline"}
    for name in ("raw", "preprocessed", "targets"):
        paths[name].mkdir(parents=True)
    generate_study(section("study"), paths["raw"])
    preprocess_study(section("preprocess"), paths["raw"], paths["preprocessed"])
    compute_targets(section("targets"), paths["raw"], paths["targets"])
    fit_baseline(section("baseline"), paths["preprocessed"], paths["targets"], paths["baseline"],
                 predictions["baseline"])
    train = section("train")
    fit_encoder(train.encoder.name, train.encoder.kwargs(), train, paths["preprocessed"],
                paths["targets"], paths["encoder"])
    predict_latents(paths["encoder"], paths["preprocessed"], predictions["decoder"])
    paths["evaluate"].parent.mkdir(parents=True)
    evaluate(section("evaluate"), predictions["decoder"], predictions["baseline"],
             paths["targets"], paths["raw"] / "derivatives" / "oracle", paths["evaluate"],
             root / "metrics" / "topk.csv", root / "plots")
    fit_generators(section("generators"), paths["raw"], paths["targets"], paths["generators"])
    generate_outputs(section("generate"), paths["generators"], predictions, paths["raw"],
                     paths["targets"], root / "generated")
    evaluate_generated(section("evaluate"), root / "generated", paths["raw"],
                       paths["generation"], root / "plots_generation")
    return paths


@pytest.fixture(scope="session")
def tiny_params_path(project_root, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params(project_root), sort_keys=False))
    return path


@pytest.fixture(scope="session")
def tiny_study_paths(tiny_params_path, tmp_path_factory) -> dict[str, Path]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_tiny_study(tiny_params_path, tmp_path_factory.mktemp("study_run"))
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def bundle_dir(tiny_study_paths, tiny_params_path, tmp_path_factory) -> Path:
    """The exported bundle (read-only for tests: copy it before damaging it)."""
    out = tmp_path_factory.mktemp("decoders") / STUDY
    out.mkdir()
    export_bundle(load_section("export", tiny_params_path, STUDY), STUDY, tiny_study_paths,
                  load_section("preprocess", tiny_params_path, STUDY),
                  load_section("generate", tiny_params_path, STUDY), out)
    return out


@pytest.fixture(scope="session")
def bundle(bundle_dir):
    return load_bundle(bundle_dir)


@pytest.fixture
def bundle_copy(bundle_dir, tmp_path) -> Path:
    """A private copy of the bundle that a test may change."""
    return Path(shutil.copytree(bundle_dir, tmp_path / STUDY))
