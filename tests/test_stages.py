"""Stage scripts: user errors end the stage with one line and leave no output behind."""

import errno
import subprocess
import sys

import pytest
import yaml

from pipeline.encoders import ENCODERS


def run_stage(project_root, cwd, script, *args):
    return subprocess.run(
        [sys.executable, str(project_root / "stages" / script), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def write_params(tmp_path, project_root, edit):
    params = yaml.safe_load((project_root / "params.yaml").read_text())
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_params_typo_ends_stage_with_one_line(tmp_path, project_root):
    def typo(params):
        params["train"]["encoder"]["name"] = "cnov"

    params = write_params(tmp_path, project_root, typo)
    out = tmp_path / "model"
    result = run_stage(project_root, tmp_path, "train.py", "--params", str(params),
                       "--preprocessed", "pre", "--targets", "tgt", "--out", str(out))
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert lines == [
        f"[train] error: {params}: train.encoder.name: unknown encoder 'cnov'; "
        f"expected one of {', '.join(ENCODERS.names())}; did you mean 'conv'?"
    ]
    assert not out.exists()


def test_missing_input_ends_stage_with_one_line_and_no_output(tmp_path, project_root):
    out = tmp_path / "preprocessed"
    result = run_stage(project_root, tmp_path, "preprocess.py",
                       "--params", str(project_root / "params.yaml"),
                       "--raw", str(tmp_path / "raw"), "--out", str(out))
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("[preprocess] error: ")
    assert str(tmp_path / "raw") in lines[0]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


@pytest.mark.parametrize("script", ["study.py", "preprocess.py", "targets.py", "baseline.py",
                                    "pretrain.py", "train.py", "predict.py", "evaluate.py",
                                    "crossval.py"])
def test_every_stage_has_help(project_root, tmp_path, script):
    result = run_stage(project_root, tmp_path, script, "--help")
    assert result.returncode == 0
    assert "DVC stage" in result.stdout


@pytest.mark.parametrize(("error", "shown"), [
    (OSError(errno.ENOSPC, "No space left on device", "data/preprocessed/eeg/epochs.npy"),
     "data/preprocessed/eeg/epochs.npy: No space left on device (OSError)"),
    (OSError("218112 requested and 102368 written"), "218112 requested and 102368 written"),
    (PermissionError(errno.EACCES, "Permission denied", "models/encoder"),
     "models/encoder: Permission denied (PermissionError)"),
])
def test_disk_errors_are_one_line_naming_the_path(error, shown, capsys):
    from pipeline.cli import main as cli_main
    from pipeline.stage import run_stage as run_in_process

    def failing(*_):
        raise error

    with pytest.raises(SystemExit) as exited:
        run_in_process("preprocess", failing)
    assert exited.value.code == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"[preprocess] error: {shown}") and "nothing was half-written" in line
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pipeline.cli._results", failing)
        with pytest.raises(SystemExit):
            cli_main(["results"])
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"brainrecon: error: {shown}")
