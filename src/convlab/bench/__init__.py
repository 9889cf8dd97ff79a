"""Throughput and memory of convlab measured side by side with torch, in one process and one run.

    python benchmarks/run.py [--quick] [--json OUT]
    convlab bench [--quick] [--json OUT] [--models lenet5,smallcnn] [--threads N]

What is measured (float32, the same shapes and the same thread count for both libraries). The
headline is the default thread count (``convlab.get_num_threads()``: the cores the process may
use), what a user gets; the one-thread table comes second:

- the machine's FMA peak per core and on all threads (a register-only loop, ``convlab._cpu``),
  and the float32 GEMM rate (GFLOP/s) of NumPy and of convlab;
- full training steps (zero_grad, forward, cross-entropy, backward, SGD-momentum step) in
  images/s; the two libraries' steps are *interleaved* (convlab, torch, convlab, torch, ...),
  warm-up steps are excluded and the median of the repeats is reported, so a noisy machine
  slows both alike;
- inference (eval mode, no autograd) in images/s at batch 1 and batch 128;
- the peak resident memory of a training step, each library and model in its own fresh
  subprocess (``resource.getrusage`` maxrss), with the resident size before the step;
- the seed loop implementation of a convolution against the fast path (how many times faster);
- the per-layer conv suite of ``benchmarks/conv.py``, when that file exposes one, with each
  layer's GFLOP/s as a fraction of the measured peak x threads;
- the scaling table (``bench/scaling.py``): convlab alone at 1, 2, 4, ... N threads (minimum of the repeats), the
  parallel efficiency, and an Amdahl estimate for 16 cores; and the check that no row is more
  than 5% slower on N threads than on one.

torch is only a yardstick: it is imported lazily inside the functions that time it (never when
``convlab`` or this module is imported), and when it is absent the torch columns are left empty
with a note. The torch twins (``bench/twins.py``) are plain torch with the same layer names and shapes as the
convlab models, and start from convlab's weights.

Ratios are convlab time / torch time (lower is better): ``ratio = torch_ips / convlab_ips``.
"""

from __future__ import annotations

import sys
import time

from .. import threads as thread_policy
from ..ops import gemm
from .machine import _have_torch, blas_threads, fma_peak, gemm_rate, machine_info, peak_info, set_threads
from .memory import measure_memory, memory_rows
from .report import format_markdown
from .runners import bench_model
from .scaling import conv_layer_rows, never_slower, scaling_rows
from .suite import conv_module, conv_suite, seed_loop_speedup
from .twins import MEMORY_TARGET, MODELS, NUM_CLASSES, QUICK_MODELS, torch_twin


def run(*, threads=None, **options) -> dict:
    """The whole benchmark; returns the JSON-ready result (see :func:`format_markdown`).

    ``threads`` (default: convlab's default, the cores this process may use) is used by both
    libraries while it runs; convlab's count (NumPy's BLAS included) and torch's are restored
    afterwards, so a benchmark run inside a program (or a
    test) leaves that program's numerics as they were."""
    before_torch = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    before = thread_policy.get_num_threads()
    try:
        return _run(threads=threads, **options)
    finally:
        thread_policy.set_num_threads(before)  # convlab's pools and NumPy's BLAS
        if before_torch is not None and "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(before_torch)


def _numpy_gemm_rate(threads, repeats):
    """NumPy's GEMM rate with its BLAS on ``threads`` threads (convlab holds it to one once its own
    GEMM runs the products; NumPy alone would have them all)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return gemm_rate(1024, repeats=repeats)
    with threadpool_limits(limits=threads, user_api="blas"):
        return gemm_rate(1024, repeats=repeats)


def _tables(names, *, threads, repeats, warmup, batch, shape, inference_batches, quick, use_torch, log):
    """Training and inference rows (convlab and torch interleaved) of every model at ``threads``."""
    set_threads(threads)
    training, inference = [], []
    for name in names:
        started = time.perf_counter()
        rows = bench_model(name, shape, batch, repeats=repeats if name != "resnet18" else max(2, repeats // 2),
                           warmup=warmup if name != "resnet18" else 1,
                           inference_batches=tuple(b for b in inference_batches if not (name == "resnet18" and quick and b > 16)),
                           use_torch=use_torch, log=log)
        training += [r for r in rows if r["kind"] == "train"]
        inference += [r for r in rows if r["kind"] == "infer"]
        if log:
            log(f"  ({name} on {threads} thread(s): {time.perf_counter() - started:.0f} s)")
    return training, inference


def _run(*, quick=False, models=None, threads=None, repeats=None, warmup=None, batch=None, shape=None,
         inference_batches=None, memory=True, conv=True, seed_loops=True, use_torch=None, scaling=True,
         log=None) -> dict:
    threads = int(threads or thread_policy.default_num_threads())
    notes = []
    if use_torch is None:
        use_torch = _have_torch()
    if not use_torch:
        notes.append("torch is not installed: torch columns are empty")
    torch_version = None
    if use_torch:
        import torch

        torch_version = torch.__version__
    set_threads(threads)
    names = list(models or (QUICK_MODELS if quick else MODELS))
    repeats = int(repeats or (3 if quick else 7))
    warmup = int(warmup if warmup is not None else (1 if quick else 2))
    if inference_batches is None:
        inference_batches = (1, 128)
    if quick and models is None:
        notes.append("--quick: resnet18 skipped, fewer repeats, no one-thread table")
    peak = peak_info(threads)
    result = {"machine": dict(machine_info(threads), torch=torch_version), "peak": peak,
              "config": {"quick": quick, "repeats": repeats, "warmup": warmup, "dtype": "float32",
                         "optimizer": "SGD(lr=0.01, momentum=0.9)", "loss": "CrossEntropyLoss",
                         "inference_batches": list(inference_batches)},
              "gemm": {"n": 1024, "gflops": _numpy_gemm_rate(threads, 3 if quick else 7),
                       "convlab_gflops": gemm_rate(1024, repeats=3 if quick else 7, matmul=gemm.matmul),
                       "convlab_gemm": gemm.describe()},
              "training": [], "inference": [], "one_thread": None, "scaling": None, "conv_scaling": None,
              "never_slower": None,
              "memory": [], "seed_loops": None, "conv_suite": None, "conv_suite_one_thread": None, "notes": notes}
    if log:
        if peak:
            log(f"FMA peak ({peak['width']}-bit): {peak['per_core_gflops']:.0f} GFLOP/s per core, "
                f"{peak['all_threads_gflops']:.0f} on {threads} thread(s)")
        log(f"float32 GEMM 1024 on {threads} thread(s): numpy {result['gemm']['gflops']:.1f} GFLOP/s, "
            f"convlab ({result['gemm']['convlab_gemm']}) {result['gemm']['convlab_gflops']:.1f} GFLOP/s")
    common = dict(repeats=repeats, warmup=warmup, batch=batch, shape=shape, inference_batches=inference_batches,
                  quick=quick, use_torch=use_torch, log=log)
    result["training"], result["inference"] = _tables(names, threads=threads, **common)
    if threads > 1 and not quick:
        training, inference = _tables(names, threads=1, **common)
        result["one_thread"] = {"training": training, "inference": inference}
    if scaling and threads > 1:
        result["scaling"] = scaling_rows([n for n in names if n != "resnet18" or not quick], threads,
                                         repeats=repeats, inference_batches=inference_batches if not quick else (),
                                         log=log)
    set_threads(threads)
    if memory:
        result["memory"] = memory_rows(names, batch=batch, shape=shape, use_torch=use_torch, threads=threads, log=log)
    if seed_loops:
        result["seed_loops"] = seed_loop_speedup()
    if conv and quick:
        notes.append("--quick: per-layer conv suite skipped (run without --quick, or benchmarks/conv.py)")
    elif conv:
        suite, why = conv_suite(quick, result["gemm"]["gflops"], use_torch, peak=peak, threads=threads)
        result["conv_suite"] = suite
        if why:
            notes.append(why)
        elif threads > 1:
            set_threads(1)
            result["conv_suite_one_thread"], _ = conv_suite(quick, None, use_torch, peak=peak, threads=1)
            set_threads(threads)
    if result["scaling"] and conv and not quick:
        module, _ = conv_module()
        if module is not None and hasattr(module, "SUITE"):
            result["conv_scaling"] = conv_layer_rows(module.SUITE, threads, repeats=3 if quick else 10)
            set_threads(threads)
    if result["scaling"]:
        suite, one = result["conv_suite"], result["conv_suite_one_thread"]
        result["never_slower"] = never_slower(result["scaling"], suite and suite["layers"], one and one["layers"],
                                              result.get("conv_scaling"))
    return result


__all__ = ["MEMORY_TARGET", "MODELS", "NUM_CLASSES", "QUICK_MODELS", "bench_model", "blas_threads", "conv_suite",
           "fma_peak", "format_markdown", "gemm_rate", "machine_info", "measure_memory", "memory_rows", "never_slower",
           "peak_info", "run", "scaling_rows", "seed_loop_speedup", "set_threads", "torch_twin"]
