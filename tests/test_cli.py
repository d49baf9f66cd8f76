"""The brainrecon command line: `brainrecon results` over a folder of studies, and
`brainrecon add-studies` (the switch of `make demo STUDIES=all`)."""

import json
import shutil

import pytest
import yaml

from pipeline.cli import main
from pipeline.errors import ParamsError
from pipeline.more_studies import add_studies

CROSSVAL = {
    "target": "minilm", "folds": "run", "n_folds": 3, "n_trials": 30, "n_blocks": 6,
    "confidence": 0.95, "ci": "percentile bootstrap over blocks", "chance": 0.5,
    "encoders": {"ridge": {"trial": {"accuracy": 0.7, "ci": [0.6, 0.8]},
                           "block": {"accuracy": 0.8, "ci": [0.45, 0.95]}}},
    "baselines": {"csp": {"trial": {"accuracy": 0.4, "ci": [0.3, 0.5]}, "block": None}},
}


def test_results_prints_every_study_of_a_folder(tmp_path, capsys):
    (tmp_path / "haxby").mkdir()
    (tmp_path / "haxby" / "crossval.json").write_text(json.dumps(CROSSVAL))
    (tmp_path / "empty").mkdir()
    main(["results", "--metrics", str(tmp_path)])
    out = capsys.readouterr().out
    assert "target: minilm | folds: run (3)" in out
    assert "ridge (encoder) | 0.700 [0.600, 0.800] * | 0.800 [0.450, 0.950] | 0.500\n" in out
    assert "csp (baseline)  | 0.400 [0.300, 0.500]   | n/a                  | 0.500\n" in out


def test_results_without_metrics_says_to_run_dvc_repro(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["results", "--metrics", str(tmp_path)])
    assert "no */evaluate.json or */crossval.json; run `dvc repro` first" in capsys.readouterr().err


def test_list_encoders_prints_each_encoder_with_its_options_and_defaults(capsys):
    main(["list", "encoders"])
    out = capsys.readouterr().out
    assert out.startswith("encoders\n")
    assert "\n  conv: " in out and "\n  ridge: " in out
    assert "    train.encoder.options.conv:\n" in out
    assert "      hidden_channels: int = 64  (channels of the residual blocks)\n" in out
    assert "      F2: int | None = None" in out


@pytest.mark.parametrize(("kind", "expected"), [
    ("studies", "  simulated: "), ("steps", "      l_freq: float | None = None\n"),
    ("targets", "  efficientnet_lite0: "), ("generators", "  image: diffusion: "),
    ("metrics", "  top1: top-1 accuracy\n"),
])
def test_list_prints_every_kind_of_component(capsys, kind, expected):
    main(["list", kind])
    assert expected in capsys.readouterr().out


def test_list_of_an_unknown_kind_names_the_kinds(capsys):
    with pytest.raises(SystemExit):
        main(["list", "encoder"])
    assert "invalid choice: 'encoder'" in capsys.readouterr().err


def test_add_studies_gives_the_five_studies_and_keeps_the_comments(tmp_path, project_root, capsys):
    for name in ("params.yaml", "more-studies.yaml"):
        shutil.copy(project_root / name, tmp_path / name)
    shipped = yaml.safe_load((tmp_path / "params.yaml").read_text())
    more = yaml.safe_load((tmp_path / "more-studies.yaml").read_text())
    assert list(shipped["studies"]) == ["eeg", "speech"]
    main(["add-studies", str(tmp_path / "more-studies.yaml"),
          "--params", str(tmp_path / "params.yaml")])
    assert "studies meg, seeg, fmri added" in capsys.readouterr().out
    text = (tmp_path / "params.yaml").read_text()
    added = yaml.safe_load(text)
    assert added == {**shipped, "studies": {**shipped["studies"], **more}}
    assert "# eeg's image generator trains the shared 1200 steps" in text
    assert "  # no latent prior on fmri" in text
    assert add_studies(tmp_path / "more-studies.yaml", tmp_path / "params.yaml") == []
    assert (tmp_path / "params.yaml").read_text() == text


def test_add_studies_refuses_a_part_of_them_or_an_invalid_study(tmp_path, project_root):
    params = tmp_path / "params.yaml"
    shutil.copy(project_root / "params.yaml", params)
    text = params.read_text()
    more = tmp_path / "more.yaml"
    more.write_text("speech: {}\nc: {}\n")
    with pytest.raises(ParamsError, match="has speech of .* but not the others"):
        add_studies(more, params)
    more.write_text("c: {train: {}}\n")
    with pytest.raises(ParamsError, match=r"params\.yaml with .*more\.yaml: studies\.c: got "
                                          r"keys train; expected exactly"):
        add_studies(more, params)
    assert params.read_text() == text
    assert sorted(path.name for path in tmp_path.iterdir()) == ["more.yaml", "params.yaml"]
    params.write_text("train: {}\nstudies: {}\n")
    with pytest.raises(ParamsError, match="expected a line 'studies:' opening the block"):
        add_studies(more, params)


def test_every_dataset_study_file_adds_one_valid_study(tmp_path, project_root):
    files = sorted((project_root / "dataset-studies").glob("*.yaml"))
    assert [path.stem for path in files] == ["meg_masc", "nsd", "things_eeg2", "things_meg"]
    for path in files:
        params = tmp_path / f"{path.stem}.params.yaml"
        shutil.copy(project_root / "params.yaml", params)
        assert add_studies(path, params) == [path.stem]
        study = yaml.safe_load(params.read_text())["studies"][path.stem]["study"]
        assert study["name"] == path.stem
