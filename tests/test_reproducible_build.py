"""`grader build` writes the same bytes on every machine: the oracle's last digits depend on the
CPU's BLAS kernel, NumPy's and torch's SIMD dispatch and the thread count, and none may reach a
handout. Each case builds in a fresh interpreter as another CPU would and compares with the
committed handouts."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from grader.authoring.selfcheck_record import DIGITS, rounded
from nbtools import REPO, run_grader

_FLAGS = (
    set(Path("/proc/cpuinfo").read_text().split("flags", 1)[1].split("\n", 1)[0].split())
    if Path("/proc/cpuinfo").is_file() and "flags" in Path("/proc/cpuinfo").read_text()
    else set()
)


def _core_types() -> list[str]:
    """OpenBLAS kernels this CPU can run (a kernel whose instructions it lacks would crash)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return []
    kernels = [("Prescott", "sse3"), ("Sandybridge", "avx"), ("Haswell", "avx2"), ("SkylakeX", "avx512f")]
    return [name for name, flag in kernels if flag in _FLAGS or (flag == "sse3" and "pni" in _FLAGS)]


def _machines() -> list[dict[str, str]]:
    machines: list[dict[str, str]] = [{"OPENBLAS_CORETYPE": core} for core in _core_types()]
    machines += [
        {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
        {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
        {"ATEN_CPU_CAPABILITY": "default"},
    ]
    # NumPy refuses to start when told to disable a feature the CPU lacks: only those it has.
    simd = ["AVX512F", "AVX512_SKX"] if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= _FLAGS else []
    if {"avx2", "fma"} <= _FLAGS:
        machines.append({"NPY_DISABLE_CPU_FEATURES": " ".join([*simd, "AVX2", "FMA3"])})
    return machines


@pytest.mark.parametrize("machine", _machines(), ids=lambda m: ",".join(f"{k}={v}" for k, v in m.items()))
def test_the_handouts_are_the_same_bytes_whatever_the_cpu_kernel_dispatch_or_thread_count(machine):
    env = {**os.environ, **machine}
    done = run_grader("build", "--check", cwd=REPO, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_floats_are_written_with_twelve_significant_digits_which_the_tolerance_cannot_tell_apart():
    assert DIGITS == 12
    assert rounded(4.207954573220417) == rounded(4.207954573220419) == 4.20795457322
    assert rounded(-7.287707025700285e-05) == -7.2877070257e-05
    assert rounded(3) == 3 and rounded(float("inf")) == float("inf")
    assert abs(rounded(1 / 3) - 1 / 3) < 1e-5 * (1 / 3) * 1e-6
