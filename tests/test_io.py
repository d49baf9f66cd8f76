import pytest

from pipeline.errors import DataError
from pipeline.io import atomic_output_dir, atomic_output_file, read_tsv


def test_atomic_dir_replaces_on_success(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic_output_dir(out) as tmp:
        (tmp / "new.txt").write_text("new")
        assert not (out / "new.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_output_dir(out) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_removes_what_a_killed_run_left(tmp_path):
    stale = tmp_path / ".model.abc123.partial"
    stale.mkdir()
    (stale / "half.bin").write_bytes(b"x")
    other = tmp_path / ".model2.abc123.partial"  # another output's: kept
    other.mkdir()
    with atomic_output_dir(tmp_path / "model") as out:
        (out / "weights.bin").write_bytes(b"done")
    assert sorted(path.name for path in tmp_path.iterdir()) == [".model2.abc123.partial",
                                                                "model"]


def test_atomic_file_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "metrics.json"
    with pytest.raises(RuntimeError), atomic_output_file(out) as tmp:
        tmp.write_text("{")
        raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []
    with atomic_output_file(out) as tmp:
        tmp.write_text("{}")
    assert out.read_text() == "{}"


def test_read_tsv_names_missing_column(tmp_path):
    path = tmp_path / "trials.tsv"
    path.write_text("subject\tsplit\n01\ttrain\n")
    with pytest.raises(DataError, match=r"trials.tsv: missing column\(s\) stimulus_id"):
        read_tsv(path, required=["subject", "stimulus_id"])


def test_read_tsv_names_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.tsv: file not found"):
        read_tsv(tmp_path / "nope.tsv")
