"""params.yaml validation: every section of the shipped file parses; typos give one clear line."""

import subprocess
import sys

import pytest
import yaml

from pipeline.config import STUDY_GROUPS, load_section, parse_section
from pipeline.encoders.options import TrainConfig
from pipeline.errors import ParamsError
from pipeline.sections import SECTIONS, section_model


@pytest.fixture(scope="module")
def params(project_root):
    return yaml.safe_load((project_root / "params.yaml").read_text())


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_shipped_params_validate(params, section):
    parsed = parse_section(section_model(section), params[section])
    assert isinstance(parsed, section_model(section))


def test_every_params_section_has_a_model(params):
    assert set(params) == set(SECTIONS) | set(STUDY_GROUPS)


@pytest.mark.parametrize("group", sorted(STUDY_GROUPS))
def test_every_shipped_study_validates_with_its_overrides(params, project_root, group):
    for study in params[group]:
        for section in STUDY_GROUPS[group]:
            parsed = load_section(section_model(section), project_root / "params.yaml", study)
            assert isinstance(parsed, section_model(section))


def test_the_default_studies_and_the_more_studies_of_make_demo_all(params, project_root):
    """eeg (every stage, generators included) and speech by default; meg, seeg and fmri
    (more-studies.yaml, validated with `brainrecon add-studies` in tests/test_cli.py)."""
    more = yaml.safe_load((project_root / "more-studies.yaml").read_text())
    assert list(params["studies"]) == ["eeg", "speech"]
    assert list(more) == ["meg", "seeg", "fmri"]
    assert all(set(entry) == set(STUDY_GROUPS["studies"]) for entry in more.values())


EMPTY_OVERRIDES = {section: {} for section in STUDY_GROUPS["studies"]}


def test_study_overrides_merge_onto_the_section(tmp_path):
    params = {"train": {"lr": 0.01, "encoder": {"name": "conv"}},
              "studies": {"fast": {**EMPTY_OVERRIDES, "train": {"lr": 0.5}}}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert load_section(TrainConfig, path).lr == 0.01
    merged = load_section(TrainConfig, path, "fast")
    assert (merged.lr, merged.encoder.name) == (0.5, "conv")
    with pytest.raises(ParamsError, match="unknown study 'slow'; expected one of fast"):
        load_section(TrainConfig, path, "slow")


def test_a_study_must_list_every_section_of_its_group(tmp_path):
    params = {"train": {}, "studies": {"fast": {"train": {"lr": 0.5}}}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match=r"studies\.fast: got keys train; expected exactly "
                                          r"study, preprocess, .*\(use \{\} for a section"):
        load_section(TrainConfig, path, "fast")


def test_override_errors_name_the_study(tmp_path):
    params = {"train": {}, "studies": {"fast": {**EMPTY_OVERRIDES, "train": {"lr": -1}}}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match=r"overrides of study 'fast'\): train\.lr: .*greater"):
        load_section(TrainConfig, path, "fast")


@pytest.mark.parametrize(
    ("section", "raw", "message"),
    [
        ("train", {"lrr": 0.1}, r"train\.lrr: unknown key; expected one of seed, encoder, .*; "
                                 r"did you mean 'lr'\?"),
        ("train", {"encoder": {"name": "cnov"}}, r"did you mean 'conv'\?"),
        ("preprocess", {"fmri": {"estimater": "lss"}},
         r"preprocess\.fmri\.estimater: unknown key; expected one of estimator, .*did you mean "
         r"'estimator'"),
        ("train", {"encoder": {"nmae": "conv"}}, r"train\.encoder\.nmae: unknown key"),
        ("train", {"encoder": {"name": "cnov"}},
         r"train\.encoder\.name: unknown encoder 'cnov'; expected one of .*conv.*ridge"),
        ("train", {"lr": -1}, r"train\.lr: .*greater than 0 \(got -1\)"),
        ("train", {"loss": {"weights": {"clip": 0, "mse": 0}}},
         r"train\.loss\.weights: got \{'clip': 0\.0, 'mse': 0\.0\}; expected weights >= 0"),
        ("train", {"loss": {"weights": {"infonce": 1.0}}},
         r"train\.loss\.weights: unknown loss 'infonce'; expected one of clip, mse, siglip"),
        ("train", {"loss": {"clip": 1.0}}, r"train\.loss\.clip: unknown key"),
        ("train", {"strategy": "dpp"}, r"train\.strategy: unknown strategy 'dpp'; expected .*ddp"),
        ("train", {"devices": 0}, r"train\.devices: got 0; expected a positive integer or auto"),
        ("train", {"devices": 2, "batch_size": 9},
         r"train: got batch_size=9 for devices=2 x num_nodes=1 processes; expected a multiple"),
        ("train", {"encoder": {"options": {"transformer": {}}}},
         r"train\.encoder\.options: unknown encoder 'transformer'"),
        ("targets", {"name": "clip"}, r"targets\.name: unknown target 'clip'; expected one of"),
        ("study", {"name": "nsd2"},
         r"study\.name: unknown study 'nsd2'; expected one of .*simulated"),
        ("study", {"options": {"simulated": {"n_subjects": "three"}}},
         r"study\.options: simulated\.n_subjects: .*integer.*\(got 'three'\)"),
        ("preprocess", {"steps": [{"fn": "filtre"}]},
         r"preprocess\.steps\.0\.fn: unknown preprocessing step 'filtre'; expected one of"),
        ("preprocess", {"steps": "filter"}, r"preprocess\.steps: .*valid list"),
        ("evaluate", {"metrics": ["top3"]}, r"evaluate\.metrics: unknown metric 'top3'"),
        ("evaluate", {"confidence": 1.5}, r"evaluate\.confidence: .*less than 1 \(got 1\.5\)"),
        ("train", {"max_epochs": True},
         r"train\.max_epochs: .*got true; expected a number, not a boolean"),
        ("train", {"lr": False}, r"train\.lr: .*got false; expected a number, not a boolean"),
        ("study", {"options": {"simulated": {"snr": True}}},
         r"simulated\.snr: .*got true; expected a number, not a boolean"),
    ],
)
def test_bad_values_name_key_value_and_expectation(section, raw, message):
    with pytest.raises(ParamsError, match=message) as info:
        parse_section(section_model(section), raw)
    assert str(info.value).startswith("params.yaml: ")
    assert "\n" not in str(info.value)


def test_section_must_be_a_mapping():
    with pytest.raises(ParamsError, match=r"train: expected a mapping of keys, got 3"):
        parse_section(TrainConfig, 3)


@pytest.mark.parametrize("text", ["train: null\n", "train: [1, 2]\n", "train: 3\n"])
def test_a_section_that_is_not_a_mapping_is_an_error_not_the_defaults(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text + "studies: {eeg: {study: {}, preprocess: {}, targets: {}, "
                    "baseline: {}, pretrain: {}, train: {}, evaluate: {}, generators: {}, "
                    "generate: {}, export: {}}}\n")
    for study in (None, "eeg"):
        with pytest.raises(ParamsError, match=r"params\.yaml: train: expected a mapping of "
                                              r"keys \(\{\} for the defaults\), got "):
            load_section(TrainConfig, path, study)


def test_booleans_stay_valid_where_a_field_takes_them(params):
    train = parse_section(TrainConfig, {"sync_batchnorm": False, "patience": 3})
    assert train.sync_batchnorm is False and train.patience == 3


def test_load_section_reports_missing_file_and_section(tmp_path):
    with pytest.raises(ParamsError, match=r"params\.yaml: file not found"):
        load_section(TrainConfig, tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("evaluate: {}\n")
    with pytest.raises(ParamsError, match="missing section 'train'"):
        load_section(TrainConfig, tmp_path / "params.yaml")


def test_load_section_reports_bad_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: {lr: [\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_section(TrainConfig, path)


def test_encoder_options_for_the_selected_encoder(params):
    cfg = parse_section(TrainConfig, params["train"])
    assert cfg.encoder.kwargs() == params["train"]["encoder"]["options"][cfg.encoder.name]
    assert cfg.encoder.kwargs("ridge") == params["train"]["encoder"]["options"]["ridge"]


def test_the_loader_imports_no_package_of_the_pipeline():
    """pipeline.config is generic: the packages import it, never the reverse (no cycle)."""
    code = ("import sys, pipeline.config; "
            "print(sorted(m for m in sys.modules if m.startswith('pipeline')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['pipeline', 'pipeline.config', 'pipeline.errors', 'pipeline.numerics']"


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_each_section_model_lives_with_the_package_that_reads_it(section):
    model = section_model(section)
    assert model.section == section
    assert model.__module__ != "pipeline.config"
