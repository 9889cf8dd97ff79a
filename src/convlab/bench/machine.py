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
