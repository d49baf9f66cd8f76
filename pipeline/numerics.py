"""One numeric environment for every stage, so that its outputs are the same bytes anywhere.

The float results of the libraries the stages use depend on the machine, not only on the
seeds (measured on torch 2.14.1, numpy 2.4, scipy-openblas 0.3.31):

- the number of threads: torch's conv weight gradients and full reductions, and OpenBLAS's
  ``dgemm`` (numpy ``@``), sum in a different order on 1, 2 or 4 threads; torch's default is
  one thread per core, OpenBLAS's too (and it never runs more threads than cores);
- the optional packages installed: MNE's forward model and a few other sums run through
  numba when it can be imported, and round differently from their numpy code (the simulated
  recordings differed in 1 sample in 700,000 with the test tools installed and without);
- the instruction set each library picks at run time: torch's own kernels (softmax),
  oneDNN's convolutions and GELU, MKL's ``sgemm`` on Intel CPUs, OpenBLAS's kernels
  (SkylakeX, Haswell, Zen) and numpy's ``exp`` and ``log1p``, which take other code paths
  (and round differently) with AVX-512 than with AVX2.

:func:`pin_numerics` sets the environment these libraries read when they load, before
numpy or torch is imported (``pipeline/__init__.py`` calls it): torch and MKL on
``STAGE_THREADS`` threads whatever the number of cores (a stage's ``num_threads`` > 0 still
overrides it), OpenBLAS on one thread (it cannot run more than the cores) with its Haswell
kernels, and every library on AVX2 at most (numpy's AVX-512 paths off). Every x86-64 CPU
with AVX2 and FMA (Intel since 2013, AMD since 2015) then computes the same bytes; the cost
on the default studies is about 3 % (the image generator's steps on AVX2 instead of
AVX-512). Elsewhere (ARM, a CPU without AVX2, a GPU) only the thread counts are pinned.

Set ``BRAINRECON_NATIVE_NUMERICS=1`` to keep each library's own choices (faster on many
cores, not byte-identical across machines).
"""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

STAGE_THREADS = 2  # torch / MKL / OpenMP threads of every stage, on any number of cores
OPT_OUT = "BRAINRECON_NATIVE_NUMERICS"
THREADS = {"OMP_NUM_THREADS": str(STAGE_THREADS), "MKL_NUM_THREADS": str(STAGE_THREADS),
           "OPENBLAS_NUM_THREADS": "1"}
# one code path whatever optional packages are installed: MNE compiles some of its sums with
# numba when numba is importable (the test tools bring it in), and they round differently
CODE_PATHS = {"MNE_USE_NUMBA": "false"}
AVX2 = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # torch's convolutions (oneDNN)
    "MKL_CBWR": "AVX2",  # MKL's conditional numerical reproducibility: one code path
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's and scipy's BLAS kernels
    "CT2_FORCE_CPU_ISA": "AVX2",  # CTranslate2 (the whisper_tiny target)
}
# numpy's run-time dispatch targets above AVX2, by the names of its version
NUMPY_AVX512 = {(2, 4): "X86_V4 AVX512_ICL AVX512_SPR",
                (0, 0): "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL "
                        "AVX512_SPR"}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def _numpy_version() -> tuple[int, int]:
    try:
        return tuple(int(part) for part in version("numpy").split(".")[:2])  # type: ignore[return-value]
    except (PackageNotFoundError, ValueError):
        return (0, 0)


def pinned_environment(flags: set[str], machine: str, numpy_version: tuple[int, int]
                       ) -> dict[str, str]:
    """The variables :func:`pin_numerics` sets on a CPU with ``flags`` (see the module doc)."""
    env = {**THREADS, **CODE_PATHS}
    if machine.lower() in ("x86_64", "amd64") and {"avx2", "fma"} <= flags:
        env.update(AVX2)
        if "avx512f" in flags:
            env["NPY_DISABLE_CPU_FEATURES"] = next(
                names for since, names in NUMPY_AVX512.items() if numpy_version >= since)
    return env


def pin_numerics(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Set the pinned numeric environment (unless ``BRAINRECON_NATIVE_NUMERICS`` is set).

    Values already set are replaced: a shell's ``OMP_NUM_THREADS`` would change the bytes.
    Only libraries loaded afterwards read them (and the processes this one starts).
    Returns the variables set (empty when opted out).
    """
    environ = os.environ if environ is None else environ
    if environ.get(OPT_OUT, "") not in ("", "0"):
        return {}
    env = pinned_environment(cpu_flags(), platform.machine(), _numpy_version())
    environ.update(env)
    return env



# glibc mallopt parameters
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
TOP_PAD = 256 << 20


def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and keep freed memory for the rest of the process.

    glibc maps every block over 32 MiB afresh and unmaps it when freed, so the large
    temporaries of torch and numpy (EfficientNet-Lite0's 51 MB activations, every batch)
    page-fault in again each time: 31 of the 60 CPU seconds of targets@eeg were the kernel
    zeroing pages. Stage processes are short-lived (``pipeline.cli.run_stage`` calls this);
    results do not change. Returns whether it applied (glibc only).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return all(libc.mallopt(option, value) == 1 for option, value in (
        (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, TOP_PAD)))
