"""Dicts saved by numpy.save are read without running what a tampered pickle names."""

from __future__ import annotations

import os

import numpy as np
import pytest

from pipeline.errors import DataError
from pipeline.npy_dict import read_npy_dict


class _Payload:
    """Unpickling this would call os.system: the reader must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo unpickled",))


def test_a_saved_dict_of_arrays_reads_back(tmp_path):
    saved = {"data": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "names": ["Pz", "Oz"],
             "times": np.linspace(-0.2, 0.8, 4), "count": 3}
    np.save(tmp_path / "d.npy", saved)
    read = read_npy_dict(tmp_path / "d.npy", "a test dict")
    assert np.array_equal(read["data"], saved["data"]) and read["data"].dtype == np.float32
    assert read["names"] == ["Pz", "Oz"] and read["count"] == 3


def test_a_pickle_naming_anything_else_is_refused(tmp_path):
    np.save(tmp_path / "evil.npy", np.array({"data": _Payload()}, dtype=object),
            allow_pickle=True)
    with pytest.raises(DataError, match=r"evil\.npy: cannot read a test dict \(UnpicklingError: "
                                        r"refused to load posix\.system\)"):
        read_npy_dict(tmp_path / "evil.npy", "a test dict")


def test_plain_arrays_missing_and_damaged_files_are_named(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(DataError, match=r"plain\.npy: an array of shape \(3,\) and dtype "
                                        r"float64; expected a test dict"):
        read_npy_dict(tmp_path / "plain.npy", "a test dict")
    with pytest.raises(DataError, match=r"gone\.npy"):
        read_npy_dict(tmp_path / "gone.npy", "a test dict")
    np.save(tmp_path / "cut.npy", {"data": np.zeros(1000)})
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:300])
    with pytest.raises(DataError, match=r"cut\.npy: cannot read a test dict"):
        read_npy_dict(tmp_path / "cut.npy", "a test dict")
