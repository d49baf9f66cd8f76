"""The brainrecon command line: `brainrecon results` over a folder of studies."""

import json

import pytest

from pipeline.cli import main

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
