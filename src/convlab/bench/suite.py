"""The seed's loop convolution against the fast path, and benchmarks/conv.py's per-layer suite."""

from __future__ import annotations

import contextlib
import importlib.util
import pathlib
import sys

import numpy as np

from .machine import gemm_rate
from .runners import _interleaved


def seed_loop_speedup(repeats=3):
    """Seed 001's loop convolution (``reference.conv2d_naive``) against the fast path."""
    import convlab
    import convlab.functional as F
    from convlab import reference

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 32, 32), dtype=np.float32)
    w = rng.standard_normal((16, 3, 3, 3), dtype=np.float32)
    b = np.zeros(16, np.float32)
    xt, wt, bt = convlab.tensor(x[None]), convlab.tensor(w), convlab.tensor(b)
    secs = _interleaved({"loop": lambda: reference.conv2d_naive(x, w, b, stride=1, padding=1),
                         "fast": lambda: F.conv2d(xt, wt, bt, padding=1)}, repeats, 1)
    return {"op": "conv2d", "input": [1, 3, 32, 32], "weight": [16, 3, 3, 3], "padding": 1,
            "loop_ms": secs["loop"] * 1e3, "fast_ms": secs["fast"] * 1e3, "speedup": secs["loop"] / secs["fast"]}


def conv_module():
    """``benchmarks/conv.py`` loaded from the source checkout, or ``(None, why not)``."""
    path = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "conv.py"
    if not path.exists():
        return None, "benchmarks/conv.py not found (run from a source checkout for the per-layer suite)"
    spec = importlib.util.spec_from_file_location("_convlab_bench_conv", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # their file, their failure: report it, do not crash the run
        return None, f"benchmarks/conv.py failed to import: {exc}"
    return module, None


def conv_suite(quick=False, gemm_gflops=None, use_torch=True, peak=None, threads=1):
    """The per-layer conv2d suite of ``benchmarks/conv.py`` (its ``bench_convs``), as rows.

    That file belongs to the convolution engine; it is loaded from the source checkout when
    present. Each row: forward and forward+backward milliseconds for both libraries, their
    ratios, convlab's GFLOP/s and its fraction of the GEMM rate measured in this run, and of the
    FMA peak x ``threads`` (``peak``: :func:`~convlab.bench.machine.peak_info`'s, when measured).
    """
    if not use_torch:
        return None, "per-layer conv suite skipped: it needs torch"
    module, why = conv_module()
    if module is None:
        return None, why
    fn = getattr(module, "bench_convs", None)
    if not callable(fn):
        return None, "benchmarks/conv.py exposes no bench_convs(torch, repeat, gemm, only); run it directly"
    import torch

    gemm = gemm_gflops or gemm_rate()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            raw = fn(torch, 3 if quick else 10, gemm, set())
    except Exception as exc:
        return None, f"benchmarks/conv.py bench_convs failed: {exc}"
    rows = []
    for name, cf, tf, cfb, tfb, flops in raw:
        rows.append({"layer": name, "convlab_fwd_ms": cf * 1e3, "torch_fwd_ms": tf * 1e3, "fwd_ratio": cf / tf,
                     "convlab_fwdbwd_ms": cfb * 1e3, "torch_fwdbwd_ms": tfb * 1e3, "fwdbwd_ratio": cfb / tfb,
                     "fwd_gflops": flops / cf / 1e9, "fwdbwd_gflops": 3 * flops / cfb / 1e9,
                     "fraction_of_gemm": 3 * flops / cfb / 1e9 / gemm,
                     "fraction_of_peak": None if not peak else 3 * flops / cfb / 1e9 / (peak["per_core_gflops"] * threads)})
    def geo(key):  # benchmarks/conv.py's own geometric mean, so both reports agree
        return module.geomean([r[key] for r in rows]) if rows else None

    return {"timing": "min of repeats (benchmarks/conv.py)", "threads": threads, "layers": rows,
            "geomean_fwd_ratio": geo("fwd_ratio"), "geomean_fwdbwd_ratio": geo("fwdbwd_ratio"),
            "targets_fwdbwd": {"engine (issue 3)": 1.5, "parity (issue 7)": 1.25, "every core (issue 17)": 1.0}}, None
