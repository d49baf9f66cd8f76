"""Tiny studies run through every stage in-process, exported as bundles (session-wide).

``eeg`` (images) backs most serving tests; ``speech`` (heard sentences) the audio gallery.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from tiny_project import tiny_params

from pipeline.config import load_section
from pipeline.encoders.baseline import fit_baseline
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.train import fit_encoder
from pipeline.evaluation.evaluate import evaluate
from pipeline.evaluation.generation.evaluate import evaluate_generated
from pipeline.evaluation.options import EvaluateConfig
from pipeline.generators.fit import fit_generators
from pipeline.generators.generate import generate_outputs
from pipeline.generators.options import GenerateConfig
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.recordings import find_recordings, read_recording, stimulus_events
from pipeline.preprocess.study import preprocess_study
from pipeline.sections import section_model
from pipeline.serving.bundle import load_bundle
from pipeline.serving.export import export_bundle
from pipeline.serving.options import ExportConfig
from pipeline.studies import generate_study
from pipeline.targets.compute import compute_targets

STUDY = "eeg"
TINY_SPEECH = {"n_subjects": 1, "stimuli": {"train": 24, "val": 6, "test": 6},
               "oracle": {"n_noise_epochs": 100}}


def run_tiny_study(params_path: Path, root: Path, study: str = STUDY) -> dict[str, Path]:
    """Every stage of ``study`` of ``params_path`` into ``root``; the export's inputs."""
    def section(name):
        return load_section(section_model(name), params_path, study)

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
    params = tiny_params(project_root)
    speech = params["studies"]["speech"]["study"]["options"]["simulated"]
    speech.update(TINY_SPEECH)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _run_on_one_thread(params_path: Path, root: Path, study: str) -> dict[str, Path]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_tiny_study(params_path, root, study)
    finally:
        torch.set_num_threads(threads)


def _export(paths: dict[str, Path], params_path: Path, out: Path, study: str) -> Path:
    out.mkdir()
    export_bundle(load_section(ExportConfig, params_path, study), study, paths,
                  load_section(PreprocessConfig, params_path, study),
                  load_section(GenerateConfig, params_path, study),
                  load_section(EvaluateConfig, params_path, study), out)
    return out


@pytest.fixture(scope="session")
def tiny_study_paths(tiny_params_path, tmp_path_factory) -> dict[str, Path]:
    return _run_on_one_thread(tiny_params_path, tmp_path_factory.mktemp("study_run"), STUDY)


@pytest.fixture(scope="session")
def bundle_dir(tiny_study_paths, tiny_params_path, tmp_path_factory) -> Path:
    """The exported bundle (read-only for tests: copy it before damaging it)."""
    return _export(tiny_study_paths, tiny_params_path,
                   tmp_path_factory.mktemp("decoders") / STUDY, STUDY)


@pytest.fixture(scope="session")
def speech_study_paths(tiny_params_path, tmp_path_factory) -> dict[str, Path]:
    """Every stage of a tiny study of heard speech, run in-process."""
    return _run_on_one_thread(tiny_params_path, tmp_path_factory.mktemp("speech_run"), "speech")


@pytest.fixture(scope="session")
def speech_bundle_dir(speech_study_paths, tiny_params_path, tmp_path_factory) -> Path:
    """The exported bundle of the tiny study of heard speech (read-only for tests)."""
    return _export(speech_study_paths, tiny_params_path,
                   tmp_path_factory.mktemp("speech") / "speech", "speech")


@pytest.fixture(scope="session")
def bundle(bundle_dir):
    return load_bundle(bundle_dir)


@pytest.fixture
def bundle_copy(bundle_dir, tmp_path) -> Path:
    """A private copy of the bundle that a test may change."""
    return Path(shutil.copytree(bundle_dir, tmp_path / STUDY))


@pytest.fixture(scope="session")
def recording(tiny_study_paths, tmp_path_factory):
    """The first recording of the tiny study as FIF bytes, its events as TSV bytes, its subject."""
    path = find_recordings(tiny_study_paths["raw"], "eeg")[0]
    raw = read_recording(path)
    stimuli = pd.read_csv(tiny_study_paths["raw"] / "stimuli" / "stimuli.tsv", sep="\t",
                          dtype={"stimulus_id": str})
    events = stimulus_events(raw, stimuli["stimulus_id"])
    fif = tmp_path_factory.mktemp("fif") / "recording_raw.fif"
    raw.save(fif, verbose="error")
    return fif.read_bytes(), events.to_csv(sep="\t", index=False).encode(), path.subject, events
