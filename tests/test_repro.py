"""A tiny `dvc repro` end to end in a temporary project, then the swap-the-encoder workflow.

The project holds the five studies of `make demo STUDIES=all`: the shipped params.yaml (eeg
and speech) with more-studies.yaml's meg, seeg and fmri added by `brainrecon add-studies`.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from tiny_project import TINY, merge, tiny_params

from pipeline.more_studies import add_studies
from pipeline.serving.bundle import load_bundle
from pipeline.serving.offline import evaluate_bundle

pytestmark = pytest.mark.slow

STAGES = ("study", "preprocess", "targets", "baseline", "pretrain", "train", "predict",
          "evaluate", "generators", "generate", "evaluate_generated", "export")
TINY_STUDIES = {  # the other studies, one subject and few stimuli each (eeg uses TINY)
    "meg": {"n_subjects": 1, "stimuli": {"train": 24, "val": 8, "test": 8}},
    "seeg": {"n_subjects": 1, "stimuli": {"train": 24, "val": 8, "test": 8}},
    "fmri": {"n_subjects": 1, "stimuli": {"train": 24, "val": 8, "test": 8},
             "fmri": {"oracle_noise_runs": 2}},
    "speech": {"n_subjects": 1, "stimuli": {"train": 24, "val": 8, "test": 8},
               "oracle": {"n_noise_epochs": 100}},
}
SOUNDS = {"speech"}  # studies of heard speech: no generators, word-level scores
TIMEOUT = 1800  # seconds for one dvc command; the first repro takes minutes on 2 cores


def run(cmd, cwd, env):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def run_json(cmd, cwd, env):
    """The JSON that ``cmd`` prints on stdout (its log lines go to stderr)."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def scalars(metrics):
    """``metrics`` without its lists (confidence intervals), as `dvc exp show` lists them."""
    if not isinstance(metrics, dict):
        return metrics
    return {key: scalars(value) for key, value in metrics.items() if not isinstance(value, list)}


def ran_stages(output):
    return set(re.findall(r"Running stage '([a-z_@0-9]+)'", output))


def commit(work, env, message):
    """Commit the tiny project's git-tracked files (DVC outputs are git-ignored), if changed."""
    run(["git", "add", "-A"], work, env)
    if run(["git", "status", "--porcelain"], work, env).strip():
        run(["git", "commit", "-q", "-m", message], work, env)


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory, project_root):
    work = tmp_path_factory.mktemp("project")
    for name in ("dvc.yaml", "stages", "pipeline"):
        source = project_root / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, work / name)
    (work / "params.yaml").write_text(yaml.safe_dump(tiny_params(project_root), sort_keys=False))
    added = add_studies(project_root / "more-studies.yaml", work / "params.yaml")
    assert added == ["meg", "seeg", "fmri"]
    params = yaml.safe_load((work / "params.yaml").read_text())
    for study, options in TINY_STUDIES.items():
        overrides = params["studies"][study]
        overrides["study"] = merge(overrides["study"], {"options": {"simulated": options}})
        overrides["train"] = merge(overrides["train"], TINY["train"])
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # the stages import the copy under test (the one DVC hashes as their dependency)
    python_path = os.pathsep.join(filter(None, (str(work), os.environ.get("PYTHONPATH"))))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=python_path, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    run(["git", "init", "-q"], work, env)
    run(["dvc", "init", "-q"], work, env)
    run(["dvc", "config", "core.analytics", "false"], work, env)
    for name in (".gitignore", ".dvcignore"):  # __pycache__ is no dependency nor git file
        shutil.copy(project_root / name, work / name)
    shutil.copytree(project_root / ".dvc" / "plots", work / ".dvc" / "plots")  # templates
    output = run(["dvc", "repro"], work, env)
    return work, env, output


def test_repro_runs_every_stage_and_writes_metrics(tiny_project):
    work, _, output = tiny_project
    studies = ["eeg", *TINY_STUDIES]
    assert ran_stages(output) == {f"{stage}@{study}" for stage in STAGES for study in studies}
    for study in studies:
        metrics = json.loads((work / "metrics" / study / "evaluate.json").read_text())
        top1 = metrics["top1_avg2"]
        assert top1["chance"] == pytest.approx(1 / 8)
        for key in ("decoder", "baseline", "oracle"):
            assert 0.0 <= top1[key] <= 1.0
        assert top1["oracle"] > top1["chance"], study
        for png in ("retrieval.png", "topk.png", "similarity.png"):
            assert (work / "plots" / study / png).stat().st_size > 1000
        curves = pd.read_csv(work / "metrics" / study / "training.csv")
        assert list(curves.columns) == ["epoch", "train_loss", "val_loss", "val_top1"]
        epochs = [0] if study == "fmri" else [0, 1]  # ridge: one row; conv: max_epochs 2
        assert curves["epoch"].tolist() == epochs, study
        assert (work / "metrics" / study / "training.png").stat().st_size > 10_000
        bundle = load_bundle(work / "models" / "decoders" / study)
        assert bundle.signal["kind"] == ("betas" if study == "fmri" else "epochs")
        offline = evaluate_bundle(bundle, work / "data" / "preprocessed" / study,
                                  work / "offline" / study)
        assert offline["top1_avg2"]["decoder"] == pytest.approx(top1["decoder"]), study
        generation = json.loads((work / "metrics" / study / "generation.json").read_text())
        if study in SOUNDS:
            assert metrics["word_top10_avg2"]["chance"] > 0
            assert not {"image", "text", "shape"} & set(generation)
            continue
        assert {"image", "text", "shape"} <= set(generation), study
        assert generation["shape"]["iou"]["ceiling"] > generation["shape"]["iou"]["chance"]
        sheet = work / "plots" / f"{study}_generation" / "reconstructions.png"
        assert sheet.stat().st_size > 10_000
        assert (sheet.parent / "channel_captions.tsv").stat().st_size > 100


def test_training_curves_are_dvc_plots(tiny_project, tmp_path):
    """`dvc plots show --json` fills the training_curves template with every epoch (the
    HTML of `dvc plots show` loads Vega from a CDN; the stage's PNG needs no network)."""
    work, env, _ = tiny_project
    curves, png = "metrics/eeg/training.csv", "metrics/eeg/training.png"
    show = ["dvc", "plots", "show", "--json", "-o", str(tmp_path / "dvc_plots"), curves, png]
    plots = run_json(show, work, env)["data"]
    spec = plots[curves][0]["content"]
    assert [row["epoch"] for row in spec["data"]["values"]] == ["0", "1"]
    assert {row["rev"] for row in spec["data"]["values"]} == {"workspace"}
    folded = spec["hconcat"][0]["transform"][0]["fold"]
    assert folded == ["train loss", "validation loss"], "the template's two loss curves"
    assert plots[png][0]["type"] == "image"


def test_second_repro_is_a_no_op(tiny_project):
    work, env, _ = tiny_project
    output = run(["dvc", "repro"], work, env)
    assert ran_stages(output) == set()
    assert "up to date" in run(["dvc", "status"], work, env)


def test_changing_a_default_reruns_the_stages_that_read_it(tiny_project):
    """A default in the code a stage runs (the evaluate section's bootstrap count) makes
    `dvc status` list exactly the stages that run that module; then the file is restored."""
    work, env, _ = tiny_project
    options = work / "pipeline" / "evaluation" / "options.py"
    original = options.read_text()
    assert "n_bootstrap: int = Field(1000, ge=10)" in original
    try:
        options.write_text(original.replace("Field(1000, ge=10)", "Field(999, ge=10)"))
        status = json.loads(run(["dvc", "status", "--json"], work, env).strip().splitlines()[-1])
    finally:
        options.write_text(original)
    studies = ["eeg", *TINY_STUDIES]
    assert set(status) == {f"{stage}@{study}" for study in studies
                           for stage in ("evaluate", "evaluate_generated", "export")}, status
    assert all("pipeline/evaluation/options.py" in json.dumps(changes)
               for changes in status.values())
    assert "up to date" in run(["dvc", "status"], work, env)


def test_a_forced_rerun_writes_the_same_bytes(tiny_project):
    """Every output of a stage is a function of its inputs and params alone: no timing,
    version or path in it, and the same float results on another number of threads or
    hash seed (pipeline/numerics.py pins the threads), so dvc.lock does not change."""
    work, env, _ = tiny_project
    lock = (work / "dvc.lock").read_bytes()
    elsewhere = dict(env, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="4", PYTHONHASHSEED="random")
    stages = [f"{stage}@eeg" for stage in STAGES] + ["study@speech", "targets@speech"]
    output = run(["dvc", "repro", "--force", "--single-item", *stages], work, elsewhere)
    assert ran_stages(output) == set(stages)
    assert "Updating lock file" not in output
    assert (work / "dvc.lock").read_bytes() == lock


def test_killed_train_resumes_under_dvc_repro(tiny_project):
    """Kill the first `dvc repro train@eeg` of new params (its process group, SIGKILL) once
    last.ckpt holds epoch >= 1: `dvc repro` drops the dead process's DVC lock entries,
    resumes from the checkpoint, and ends with the weights, history and metrics of an
    uninterrupted seeded run (`dvc repro --force -s train@eeg` afterwards), exactly.

    Leaves eeg training for 8 epochs, with every stage up to date.
    """
    work, env, _ = tiny_project
    params_path = work / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["studies"]["eeg"]["train"] = {"max_epochs": 8, "patience": 8}  # time to kill it
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    last = work / "models" / "checkpoints" / "eeg" / "decoder" / "last.ckpt"
    with open(work / "killed.log", "w") as log:  # not in the run cache: it really trains
        process = subprocess.Popen(["dvc", "repro", "train@eeg"], cwd=work, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 600
        while process.poll() is None and time.monotonic() < deadline:
            if last.is_file() and torch.load(last, weights_only=True)["epoch"] >= 1:
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        assert process.wait(timeout=60) == -signal.SIGKILL, "train@eeg ended before the kill"
    rwlock = (work / ".dvc" / "tmp" / "rwlock").read_text()
    assert f'"pid": {process.pid}' in rwlock, "the killed dvc left its lock entries"

    output = run(["dvc", "repro"], work, env)
    assert "had been killed. Auto removed it from the lock file" in output
    resumed = re.search(r"resuming from epoch (\d+)", output)
    assert resumed and int(resumed.group(1)) >= 2, output
    assert {"train@eeg", "predict@eeg", "evaluate@eeg"} <= ran_stages(output)
    assert not last.parent.exists(), "checkpoints are removed after the fit"
    decoder = work / "models" / "encoders" / "eeg" / "decoder"
    curves = work / "metrics" / "eeg" / "training.csv"
    assert pd.read_csv(curves)["epoch"].tolist() == list(range(8)), "every epoch, once"
    files = [decoder / "model.safetensors", decoder / "history.csv", curves,
             work / "metrics" / "eeg" / "evaluate.json"]
    after_resume = [path.read_bytes() for path in files]

    output = run(["dvc", "repro", "--force", "-s", "train@eeg"], work, env)
    assert "resuming" not in output
    run(["dvc", "repro"], work, env)
    assert [path.read_bytes() for path in files] == after_resume
    assert "up to date" in run(["dvc", "status"], work, env)


def test_outputs_travel_through_a_remote(tiny_project, tmp_path):
    """Push to a local remote, clone the git repository afresh, pull: every stage is up to
    date in the clone, and `dvc repro` runs nothing."""
    work, env, _ = tiny_project
    run(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], work, env)
    commit(work, env, "tiny project")
    run(["dvc", "push"], work, env)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(work), str(clone)], tmp_path, env)
    clone_env = dict(env, PYTHONPATH=env["PYTHONPATH"].replace(str(work), str(clone), 1))
    assert not (clone / "models" / "decoders").exists()
    run(["dvc", "pull"], clone, clone_env)
    assert "up to date" in run(["dvc", "status"], clone, clone_env)
    assert ran_stages(run(["dvc", "repro"], clone, clone_env)) == set()
    for path in ("models/encoders/eeg/decoder/model.safetensors", "metrics/eeg/training.csv",
                 "metrics/fmri/evaluate.json", "models/decoders/speech/bundle.json"):
        assert (clone / path).read_bytes() == (work / path).read_bytes(), path


def test_swapping_the_encoder_in_a_dvc_exp_reruns_only_train_and_after(tiny_project):
    """`dvc status` after the swap in params.yaml lists only train, in every study; `dvc exp
    run -S` of the same swap, for the eeg study's last stages, reruns eeg's train and what
    follows it, and `dvc exp show` lists the experiment with its params and metrics. Leaves
    the experiment's results in the workspace (the other studies' train stages out of date)."""
    work, env, _ = tiny_project
    commit(work, env, "tiny project")  # the experiment's baseline
    params_path = work / "params.yaml"
    committed = params_path.read_text()
    params = yaml.safe_load(committed)
    params["train"]["encoder"]["name"] = "ridge"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(run(["dvc", "status", "--json"], work, env).strip().splitlines()[-1])
    studies = ["eeg", *TINY_STUDIES]
    assert set(status) == {f"train@{study}" for study in studies}
    params_path.write_text(committed)
    last = ["export@eeg", "evaluate_generated@eeg"]  # the other studies' swap is the same code
    output = run(["dvc", "exp", "run", "-n", "ridge", "-S", "train.encoder.name=ridge", *last],
                 work, env)
    downstream = ("train", "predict", "evaluate", "generate", "evaluate_generated", "export")
    assert ran_stages(output) == {f"{stage}@eeg" for stage in downstream}
    metrics = json.loads((work / "metrics" / "eeg" / "evaluate.json").read_text())
    assert metrics["encoder"] == "ridge"

    shown = run_json(["dvc", "exp", "show", "--json"], work, env)
    baseline = next(entry for entry in shown if entry["rev"] != "workspace")
    experiments = {exp["name"]: exp["revs"][0]["data"] for exp in baseline["experiments"]}
    params = experiments["ridge"]["params"]["params.yaml"]["data"]
    assert params["train"]["encoder"]["name"] == "ridge"
    shown_metrics = experiments["ridge"]["metrics"]
    assert shown_metrics["metrics/eeg/evaluate.json"]["data"] == scalars(metrics)
    for study in studies:
        top1 = shown_metrics[f"metrics/{study}/evaluate.json"]["data"]["top1_avg2"]
        assert 0.0 <= top1["decoder"] <= 1.0, study
    base_data = baseline["data"]
    assert base_data["params"]["params.yaml"]["data"]["train"]["encoder"]["name"] == "conv"
    assert base_data["metrics"]["metrics/eeg/evaluate.json"]["data"]["encoder"] == "conv"
    meg = "metrics/meg/evaluate.json"  # not a target of the experiment: the baseline's scores
    assert shown_metrics[meg]["data"] == base_data["metrics"][meg]["data"]
