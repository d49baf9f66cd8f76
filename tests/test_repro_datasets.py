"""`dvc repro` end to end on the public datasets' studies, each on a miniature of its release.

The project's `dataset-studies/*.yaml` entries are used as a user adds them, their folders
pointed at miniatures written in each release's own layout (tests/studies/dataset_fixtures.py),
with the tiny training and generation settings of the other repro test.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "studies"))  # the release miniatures

from dataset_fixtures import write_meg_masc, write_things_eeg2, write_things_meg  # noqa: E402
from nsd_fixture import write_nsd  # noqa: E402
from tiny_project import tiny_params  # noqa: E402

pytestmark = pytest.mark.slow

STAGES = ("study", "preprocess", "targets", "baseline", "pretrain", "train", "predict",
          "evaluate", "generators", "generate", "evaluate_generated", "export")
TIMEOUT = 1800
SOUND_STUDIES = ("meg_masc",)  # heard speech: word-level scores, no generators


def _folders(root: Path) -> dict[str, dict[str, str]]:
    """Each dataset study's options, pointed at a miniature of its release under ``root``."""
    eeg, images = write_things_eeg2(root / "things_eeg2")
    meg_root, meg_images = write_things_meg(root / "things_meg")
    return {"things_eeg2": {"eeg": str(eeg), "images": str(images)},
            "things_meg": {"root": str(meg_root), "images": str(meg_images)},
            "meg_masc": {"root": str(write_meg_masc(root / "meg_masc"))},
            "nsd": {"root": str(write_nsd(root / "nsd").root)}}


@pytest.fixture(scope="module")
def dataset_project(tmp_path_factory, project_root):
    work = tmp_path_factory.mktemp("datasets_project")
    for name in ("dvc.yaml", "stages", "pipeline"):
        source = project_root / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, work / name)
    params = tiny_params(project_root)
    params["studies"] = {}
    for key, options in _folders(tmp_path_factory.mktemp("releases")).items():
        entry = yaml.safe_load((project_root / "dataset-studies" / f"{key}.yaml").read_text())
        study = entry[key]
        study["study"]["options"][key].update(options)
        params["studies"][key] = study
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    python_path = os.pathsep.join(filter(None, (str(work), os.environ.get("PYTHONPATH"))))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=python_path)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"],
                ["dvc", "config", "core.analytics", "false"]):
        subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True)
    for name in (".gitignore", ".dvcignore"):
        shutil.copy(project_root / name, work / name)
    shutil.copytree(project_root / ".dvc" / "plots", work / ".dvc" / "plots")
    result = subprocess.run(["dvc", "repro"], cwd=work, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, f"dvc repro failed:\n{result.stdout}\n{result.stderr}"
    return work, result.stdout + result.stderr, list(params["studies"])


def test_every_stage_of_every_dataset_study_runs(dataset_project):
    work, output, studies = dataset_project
    for study in studies:
        for stage in STAGES:
            assert f"Running stage '{stage}@{study}'" in output, (stage, study)


def test_scores_sit_beside_chance_and_the_baseline_with_no_oracle(dataset_project):
    work, _, studies = dataset_project
    for study in studies:
        metrics = json.loads((work / "metrics" / study / "evaluate.json").read_text())
        top1 = next(value for key, value in metrics.items() if key.startswith("top1_"))
        assert top1["oracle"] is None and top1["chance"] > 0
        assert 0.0 <= top1["decoder"] <= 1.0 and 0.0 <= top1["baseline"] <= 1.0
        for png in ("retrieval.png", "topk.png", "similarity.png"):
            assert (work / "plots" / study / png).stat().st_size > 1000
        if study in SOUND_STUDIES:
            words = next(value for key, value in metrics.items() if key.startswith("word_top10"))
            assert 0.0 < words["chance"] < 1.0 and words["oracle"] is None
            assert (work / "plots" / study / "words.png").stat().st_size > 1000
        else:
            assert (work / "plots" / f"{study}_generation" / "reconstructions.png").is_file()


def test_the_licence_reaches_the_predictions_that_the_figures_credit(dataset_project):
    work, _, studies = dataset_project
    licences = {"things_eeg2": "CC BY 4.0", "things_meg": "CC0 1.0", "meg_masc": "CC BY 4.0",
                "nsd": "NSD Terms"}
    for study in studies:
        info = json.loads((work / "data" / "predictions" / study / "decoder" / "info.json"
                           ).read_text())
        assert info["source"]["license"].startswith(licences[study])
