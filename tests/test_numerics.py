"""The pinned numeric environment of the stages (pipeline/numerics.py)."""

import json
import os
import subprocess
import sys

from pipeline.numerics import (
    AVX2,
    CODE_PATHS,
    OPT_OUT,
    STAGE_THREADS,
    THREADS,
    cpu_flags,
    pin_numerics,
    pinned_environment,
)

AVX512_CPU = {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw"}


def test_threads_are_pinned_on_any_machine():
    for flags, machine in ((set(), "aarch64"), ({"sse4_2"}, "x86_64"), (AVX512_CPU, "x86_64")):
        env = pinned_environment(flags, machine, (2, 4))
        assert env["OMP_NUM_THREADS"] == str(STAGE_THREADS)
        assert env["OPENBLAS_NUM_THREADS"] == "1"


def test_avx2_cpus_share_one_code_path():
    avx2 = pinned_environment({"avx2", "fma"}, "x86_64", (2, 4))
    avx512 = pinned_environment(AVX512_CPU, "x86_64", (2, 4))
    assert avx2 == {**THREADS, **CODE_PATHS, **AVX2}
    assert avx512 == {**avx2, "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
    assert "AVX512_SKX" in pinned_environment(AVX512_CPU, "x86_64", (2, 2))[
        "NPY_DISABLE_CPU_FEATURES"]


def test_no_instruction_set_is_forced_where_it_could_fault():
    assert pinned_environment({"sse4_2", "avx"}, "x86_64", (2, 4)) == {**THREADS, **CODE_PATHS}
    assert pinned_environment({"avx2", "fma"}, "arm64", (2, 4)) == {**THREADS, **CODE_PATHS}


def test_opt_out_and_replacing_the_shell_values():
    environ = {OPT_OUT: "1", "OMP_NUM_THREADS": "8"}
    assert pin_numerics(environ) == {}
    assert environ["OMP_NUM_THREADS"] == "8"
    environ = {"OMP_NUM_THREADS": "8"}
    assert pin_numerics(environ)["OMP_NUM_THREADS"] == str(STAGE_THREADS)
    assert environ["OMP_NUM_THREADS"] == str(STAGE_THREADS)


def test_cpu_flags_of_a_missing_file(tmp_path):
    assert cpu_flags(tmp_path / "cpuinfo") == set()
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu avx2 fma\n")
    assert cpu_flags(tmp_path / "cpuinfo") == {"fpu", "avx2", "fma"}


def test_a_stage_process_runs_pinned():
    """A fresh interpreter that imports pipeline first (as every stage script does) runs
    torch on STAGE_THREADS threads, on AVX2 where the CPU has it, whatever the shell says."""
    code = ("import pipeline, json, torch\n"
            "print(json.dumps([torch.get_num_threads(), torch.backends.cpu.get_cpu_capability()"
            "]))")
    env = {key: value for key, value in os.environ.items()  # as a shell would start it
           if key != OPT_OUT and key not in CODE_PATHS}
    env["OMP_NUM_THREADS"] = "3"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True)
    threads, capability = json.loads(result.stdout.strip().splitlines()[-1])
    assert threads == STAGE_THREADS
    if {"avx2", "fma"} <= cpu_flags():
        assert capability == "AVX2"


def test_keep_freed_memory_changes_no_result():
    """A stage process keeps freed memory (glibc: no page faults for large temporaries)."""
    code = ("import numpy as np\nfrom pipeline.numerics import keep_freed_memory\n"
            "a = np.random.default_rng(0).standard_normal((300, 4000))\nbefore = (a @ a.T).sum()\n"
            "applied = keep_freed_memory()\nafter = (a @ a.T).sum()\n"
            "print(applied, before == after)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    applied, same = result.stdout.split()
    assert same == "True"
    assert applied == ("True" if sys.platform == "linux" else "False")  # glibc here


def test_mne_takes_its_numpy_code_whether_or_not_numba_is_installed():
    """With numba importable (the test tools install it), MNE would compile some sums with it;
    the pinned stages keep MNE on its numpy code, as where numba is absent."""
    probe = "import pipeline, mne._numba as m; print(m.has_numba)"
    env = {key: value for key, value in os.environ.items()  # as a shell would start it
           if key != OPT_OUT and key not in CODE_PATHS}
    pinned = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                            text=True, check=True)
    assert pinned.stdout.strip() == "False"
    try:
        import numba  # noqa: F401
    except ImportError:
        return
    native = subprocess.run([sys.executable, "-c", probe], env={**env, OPT_OUT: "1"},
                            capture_output=True, text=True, check=True)
    assert native.stdout.strip() == "True", "numba is installed: MNE would use it unpinned"
