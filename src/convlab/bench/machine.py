"""The machine side of the bench: thread counts (convlab's policy and torch's), the float32 GEMM
rate, the FMA peak per core, and what the machine is."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pathlib
import platform
import sys
import time

import numpy as np

from .. import threads as thread_policy


def blas_threads() -> int | None:
    """The number of threads NumPy's BLAS uses (None when threadpoolctl cannot find it)."""
    return thread_policy.blas_num_threads()


def set_threads(n: int) -> None:
    """Use ``n`` threads in convlab (its pools and NumPy's BLAS: ``convlab.set_num_threads``) and
    in torch if loaded."""
    thread_policy.set_num_threads(int(n))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(n))


# --------------------------------------------------------------------------- small helpers
def _median(xs):
    return float(np.median(xs)) if xs else float("nan")


def _have_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def gemm_rate(n: int = 1024, repeats: int = 5, matmul=None) -> float:
    """float32 ``n x n`` GEMM rate in GFLOP/s (median of ``repeats``, one warm-up) of ``matmul``:
    NumPy's by default, or e.g. ``convlab.ops.gemm.matmul`` (the compiled GEMM where built)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    matmul = matmul or np.matmul
    matmul(a, b)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        matmul(a, b)
        times.append(time.perf_counter() - t)
    return 2.0 * n ** 3 / _median(times) / 1e9


def machine_info(threads):
    info = {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "threads": threads, "numpy": np.__version__, "blas_threads": blas_threads()}
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, AttributeError):
        info["load_average"] = list(os.getloadavg())
    return info


def fma_peak(threads: int = 1, width: int | None = None, repeats: int = 7, iterations: int = 4_000_000) -> dict | None:
    """The FMA peak in GFLOP/s, measured: ``threads`` threads at once run a register-only loop of
    independent float32 FMAs (``convlab._cpu``), best of ``repeats``. ``width`` 512 (zmm) where
    the CPU has AVX-512F, else 256. None where the helper was not built or the CPU has no FMA.
    A CPU that splits 512-bit FMAs into two 256-bit halves (Zen 4) shows zmm = ymm per core;
    one with full-width units (Zen 5, Intel server cores) zmm = 2 x ymm."""
    try:
        from .. import _cpu
    except ImportError:
        return None
    width = width or (512 if _cpu.has("avx512f") else 256)
    if not (_cpu.has("fma") and _cpu.has("avx512f" if width == 512 else "avx2")):
        return None
    best = 0.0
    for _ in range(repeats):
        secs, chains = _cpu.fma_peak(width, threads, iterations)
        best = max(best, 2 * (width // 32) * chains * iterations * threads / secs / 1e9)
    return {"width": width, "threads": threads, "gflops": best, "per_thread_gflops": best / threads}


def peak_info(threads: int) -> dict | None:
    """Per-core peak (zmm and ymm) and the peak of ``threads`` threads together, in one place."""
    one = fma_peak(1)
    if one is None:
        return None
    info = {"width": one["width"], "per_core_gflops": one["gflops"],
            "threads": threads, "all_threads_gflops": fma_peak(threads)["gflops"] if threads > 1 else one["gflops"]}
    if one["width"] == 512:
        info["ymm_per_core_gflops"] = fma_peak(1, 256)["gflops"]
        info["avx512"] = "full width" if one["gflops"] >= 1.5 * info["ymm_per_core_gflops"] else "split in 256-bit halves"
    return info
