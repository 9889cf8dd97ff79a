"""The ops' matrix products: ``numpy.matmul``, or convlab's own float32 GEMM (AVX-512 or AVX2).

NumPy hands float32 products to the OpenBLAS it bundles, which picks its kernels by CPU; where
it runs AVX2 kernels on a CPU with AVX-512 units (as on this project's machines, which pin
``OPENBLAS_CORETYPE=Haswell``), half of every FMA unit idles. ``convlab._sgemm`` (C, built by
pip from ``src/convlab/_sgemm*.c`` on install; ``_sgemm.h`` states the algorithm) runs the
textbook blocked GEMM with register-tiled micro-kernels for AVX-512 or AVX2: 1.3-2x the GFLOP/s
of NumPy on the convolutions' shapes here (``benchmarks/README.md``), and it reads the stride-1
convolutions' column matrices straight from their flat grid, which no BLAS can.

Which micro-kernels (:func:`isa`), a documented rule by CPU:

- AVX-512F with FMA -> ``"avx512"``. Full-width units (Zen 5, Intel's server cores) do twice
  the AVX2 work per cycle: measured on this project's 2-vCPU Zen 5 VM, 1024^3 on one thread
  252 GFLOP/s against 129 for the AVX2 kernels and 136 for OpenBLAS's Haswell kernels (FMA
  peak 270-284 at 512 bits, 137-142 at 256). Units that split a 512-bit FMA into two halves
  (Zen 4) run both kernels at the same FMA rate, the AVX-512 one with half the instructions
  (issue 17 measured 93 GFLOP/s there against OpenBLAS's 98), so it is never the slower choice.
- AVX2 with FMA, no AVX-512 -> ``"avx2"``: four 4 x 24 register sub-tiles per tile, about 92%
  of the 256-bit FMA peak on 1024^3 (5% behind OpenBLAS there), and the flat-grid products and
  one thread pool for every product, which BLAS cannot give.
- neither (or not x86-64, or no C compiler) -> ``numpy.matmul``.

``CONVLAB_GEMM_ISA=avx2`` (or ``avx512``) in the environment, or :func:`set_isa`, forces one
where the CPU has it; the tests run the products on each path this CPU has. The two sets round
differently (the dot form keeps 16 or 8 partial sums per entry), so a seeded run repeats its
bits on one machine at any thread count (``convlab.threads`` says where a split changes them),
not across CPUs of the two kinds.

:func:`matmul` is a drop-in for ``numpy.matmul`` on 2-D or equally-stacked 3-D operands. It
uses the compiled GEMM when all of these hold, else ``numpy.matmul``:

- the extension was built and the CPU has AVX-512F or AVX2 with FMA (``native_available()``);
- it is switched on: ``set_native(False)``, or ``CONVLAB_GEMM=numpy`` in the environment, keeps
  everything on NumPy (the tests run the convolutions both ways);
- both operands are float32 NumPy arrays (float64 and GPU arrays go to their own matmul);
- the product is large enough for the kernel's 8-row tiles to pay: at least 8 rows, 16
  columns, 8 inner terms.

Under ``convlab.set_float32_matmul_precision("medium")``, on CPUs with AVX512_BF16, every product
below runs on ``_sgemm_bf16`` instead (bfloat16 inputs, float32 sums; ``ops/gemm_bf16.py``).

:func:`shifted_matmul` and :func:`dot_shifted_matmul` are the stride-1 convolutions' products
with the column matrix read from the flat padded grid of ``ops/conv_shift.py`` instead of built:
the compiled GEMM copies its panels from the grid directly. They exist only on the compiled
path (:func:`shifted_suits` says when); elsewhere the ops build the columns and call
:func:`matmul`.

Threads: ``convlab.threads`` holds the count (``convlab.set_num_threads``; the default is
``OMP_NUM_THREADS``, else the cores the process may use); a product runs on one thread of
``_sgemm.c``'s persistent pool per ``_FLOPS_PER_THREAD`` of its work, up to that count.
"""

from __future__ import annotations

import os

import numpy as np

from .. import backend, threads
from ..threads import get_num_threads, set_num_threads
from . import gemm_bf16

try:
    from .. import _sgemm
except ImportError:  # built without the extension (no compiler, not x86-64): NumPy only
    _sgemm = None

_AVAILABLE = _sgemm is not None and _sgemm.available()
_enabled = _AVAILABLE and os.environ.get("CONVLAB_GEMM", "auto").lower() != "numpy"
ISAS = ("avx512", "avx2")
_MIN_ROWS, _MIN_COLS, _MIN_INNER = 8, 16, 8
# The size rule for threads: a product runs on one thread per _FLOPS_PER_THREAD of its work (at
# least one, at most convlab.get_num_threads()): 64 MFLOP, about 0.25 ms of one core at the
# kernels' 250 GFLOP/s, so that a second thread's wake-up, its share of the operands fetched
# into another core's cache, and the wait for the slower part stay small beside what it saves.
# Measured on a 2-vCPU Zen 5 VM, training steps on 2 threads against 1 (ms, minimum of 7,
# interleaved, benchmarks/README.md "Threads") at 8 / 32 / 64 / 128 MFLOP per thread: LeNet-5
# (products of 7-120 MFLOP) 6.18 / 5.61 / 4.81 / 4.84 against 4.96 on one thread; SmallCNN
# 32.6 / 33.4 / 33.5 / 35.9 against 47.5; ResNet-20 187 / 184 / 188 / 184 against 221. From
# 64 MFLOP on LeNet-5 stays on one thread (its largest product is 120 MFLOP) and the larger
# models keep their gain; batch-1 inference stays on one thread except ResNet-18's 224px layers.
_FLOPS_PER_THREAD = 64 << 20
# The chunk-per-thread convolutions (grid_conv_forward / grid_conv_weight_grad) synchronise once
# per layer, each thread working in its own cache on whole chunks of samples, so they pay from
# less work: 16 MFLOP per thread. LeNet-5's step on 2 threads (training, minimum of 11
# interleaved, 2-vCPU Zen 5, 19:57 UTC, load 3.5 from other sessions' low-priority jobs) 4.62 ms
# at 64 MFLOP (its convolutions, 30-90 MFLOP, on one thread), 3.85 at 32, 3.60 at 16, 3.54 at 8.
_GRID_FLOPS_PER_THREAD = 16 << 20


def native_available() -> bool:
    """True when the compiled GEMM was built and this CPU can run it (AVX-512F or AVX2, with FMA)."""
    return _AVAILABLE


def isa() -> str | None:
    """The compiled GEMM's micro-kernels: ``"avx512"``, ``"avx2"``, or None where it cannot run."""
    if not _AVAILABLE:
        return None
    return _sgemm.isa() if hasattr(_sgemm, "isa") else "avx512"  # a build older than the AVX2 kernels


def isa_supported(name: str) -> bool:
    """True when this CPU (and build) can run the ``name`` micro-kernels (``"avx512"``, ``"avx2"``)."""
    if not (_AVAILABLE and name in ISAS):
        return False
    return _sgemm.supports(name) if hasattr(_sgemm, "supports") else name == "avx512"  # an older build


def set_isa(name: str) -> str | None:
    """Use the ``"avx512"`` or ``"avx2"`` micro-kernels for every compiled product; returns the
    previous choice. The default is the module docstring's rule; forcing one is for tests and
    measurements.

    Raises:
        ValueError: ``name`` is not one of them, or this CPU cannot run it.
    """
    if name not in ISAS:
        raise ValueError(f"set_isa: name must be one of {ISAS}, got {name!r}")
    if not isa_supported(name):
        raise ValueError(f"set_isa: this CPU (or build) cannot run the {name} kernels")
    previous = isa()
    _sgemm.set_isa(name)
    return previous


def _isa_from_env():
    """``CONVLAB_GEMM_ISA`` (``avx512`` or ``avx2``) where set; ``auto`` or unset keeps the rule."""
    value = os.environ.get("CONVLAB_GEMM_ISA", "auto").strip().lower()
    if value in ("", "auto") or not _AVAILABLE or not hasattr(_sgemm, "set_isa"):
        return
    if value not in ISAS or not isa_supported(value):
        import warnings

        warnings.warn(f"convlab: ignoring CONVLAB_GEMM_ISA={value!r}: expected one of {ISAS} that this CPU runs",
                      RuntimeWarning, stacklevel=2)
        return
    _sgemm.set_isa(value)


_isa_from_env()


def native_enabled() -> bool:
    """True when :func:`matmul` uses the compiled GEMM (available and not switched off)."""
    return _enabled


def set_native(enabled: bool) -> bool:
    """Use the compiled GEMM (when available) or keep every product on NumPy; returns the
    previous setting. ``set_native(True)`` on a machine without it raises ``RuntimeError``."""
    global _enabled
    if enabled and not _AVAILABLE:
        raise RuntimeError("set_native: convlab's compiled GEMM is not available here "
                           "(built without a C compiler, or the CPU has neither AVX-512F nor AVX2 with FMA)")
    previous, _enabled = _enabled, bool(enabled)
    return previous


def describe() -> str:
    """Which GEMM float32 products take, in words (for the bench and reports)."""
    if not _enabled:
        return "numpy.matmul"
    if gemm_bf16.bf16_active():
        return "compiled AVX512_BF16 (bfloat16 inputs, float32 sums)"
    return f"compiled {'AVX-512' if isa() == 'avx512' else 'AVX2'}"


def native_for(*arrays) -> bool:
    """True when the compiled GEMM is on and every array is a float32 NumPy array (what it takes)."""
    if _enabled and all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays):
        if not threads.products_claimed():  # once: NumPy's BLAS to one thread, the pool runs the products
            threads.claim_products()
        return True
    return False


def _threads_for(macs: int, per: int | None = None) -> int:
    """Threads for a product of ``macs`` multiply-adds: one per ``per`` FLOP of work (default
    ``_FLOPS_PER_THREAD``), at least one and at most ``convlab.get_num_threads()`` (all of them
    when the size is 0)."""
    most = threads.get_num_threads()
    per = _FLOPS_PER_THREAD if per is None else per
    if per <= 0:
        return most
    return max(1, min(most, 2 * macs // per))


def _grid_flops() -> int:
    """Work per thread for the chunk-per-thread convolutions: ``_GRID_FLOPS_PER_THREAD``, never
    more than a plain product's (``_FLOPS_PER_THREAD``: the tests set that to 0 to force every split)."""
    return min(_FLOPS_PER_THREAD, _GRID_FLOPS_PER_THREAD)


def threads_for(macs: int) -> int:
    """The size rule's threads for a product of ``macs`` multiply-adds (see :func:`_threads_for`)."""
    return _threads_for(macs)


def flops_per_thread() -> int:
    """The size rule's work per thread for a product, in FLOP (``_FLOPS_PER_THREAD``)."""
    return max(1, _FLOPS_PER_THREAD)


def _native_suits(a, b) -> bool:
    return (native_for(a, b) and a.ndim == b.ndim and a.ndim in (2, 3)
            and a.shape[:-2] == b.shape[:-2] and a.shape[-1] == b.shape[-2]
            and a.shape[-2] >= _MIN_ROWS and b.shape[-1] >= _MIN_COLS and a.shape[-1] >= _MIN_INNER)


def matmul(a, b):
    """``a @ b`` as ``numpy.matmul`` computes it (up to float32 rounding: the sums are grouped
    differently). Shapes: ``(m, k) @ (k, n) -> (m, n)``, or ``(g, m, k) @ (g, k, n) -> (g, m, n)``
    on the compiled path; anything else ``numpy.matmul`` takes goes to it."""
    if not _native_suits(a, b):
        return backend.array_module(a, b).matmul(a, b)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    out = np.empty(a.shape[:-1] + (n,), dtype=np.float32)
    workers = _threads_for(m * n * k)
    kernels = gemm_bf16.kernels(_sgemm)  # bfloat16 inputs under "medium" precision (ops/gemm_bf16.py)
    if a.ndim == 2:
        kernels.sgemm(a, b, out, False, workers)
    else:
        for i in range(a.shape[0]):
            kernels.sgemm(a[i], b[i], out[i], False, workers)
    return out


def shifted_suits(rows, a, buf) -> bool:
    """True when :func:`shifted_matmul` and :func:`dot_shifted_matmul` can run for a product
    with ``rows`` rows: the compiled GEMM is on, ``a`` and ``buf`` are float32 NumPy arrays and
    ``buf`` is C-contiguous. Any number of rows: unlike :func:`matmul`, whose short products
    NumPy runs as fast (the compiled kernel packs all of ``b`` for a few rows), the alternative
    here is building the column matrix (LeNet-5's 6-channel conv1: forward 2.3 -> 0.9 ms,
    weight gradient 2.0 -> 1.0 ms at batch 128)."""
    return rows >= 1 and native_for(a, buf) and buf.flags.c_contiguous


def shifted_matmul(a, buf, rowoff, span, plane, samples):
    """``a @ B`` for the column matrix ``B`` of a flat padded grid, never built (only where
    :func:`shifted_suits`): ``B[p, n] = buf.flat[rowoff[p] + (n // span) * plane + n % span]``,
    ``p < a.shape[1]``, ``n < samples * span``. Shapes: ``a`` ``(m, k)``, ``rowoff`` ``(k,)``
    int64 -> ``(m, samples * span)``. (``ops/conv_shift.py`` explains the grid.)"""
    m = a.shape[0]
    out = np.empty((m, samples * span), dtype=np.float32)
    gemm_bf16.kernels(_sgemm).sgemm_shifted(a, buf, np.ascontiguousarray(rowoff, dtype=np.int64), span, plane, out,
                                            False, _threads_for(m * a.shape[1] * out.shape[1]))
    return out


def dot_shifted_matmul(a, buf, rowoff, out, accumulate):
    """``out (+)= a @ B`` where ``B``, the transposed column matrix of a flat padded grid, is never
    built: ``B[q, j] = buf.flat[rowoff[j] + q]`` (a weight gradient, ``grad_y_grid @ col^T`` with
    grad_y on whole grid planes; only where :func:`shifted_suits`). Shapes: ``a`` ``(m, k)`` with
    contiguous rows, ``rowoff`` ``(n,)`` int64, ``out`` ``(m, n)``."""
    gemm_bf16.kernels(_sgemm).sgemm_dot_shifted(a, buf, np.ascontiguousarray(rowoff, dtype=np.int64), out, accumulate,
                                                _threads_for(a.size * out.shape[1]))
    return out


def grid_conv_suits(*arrays) -> bool:
    """True when :func:`grid_conv_forward` and :func:`grid_conv_weight_grad` can run: the compiled
    float32 GEMM is on (not the bfloat16 one of "medium" precision, whose products stay one by
    one: ``ops/gemm_bf16.py``) and every array (None skipped) is a float32 NumPy array."""
    return (native_for(*(a for a in arrays if a is not None)) and hasattr(_sgemm, "sgemm_conv_forward")
            and not gemm_bf16.bf16_active())


def _bounds(chunks, n):
    """``[(s0, s1), ...]`` chunks of samples -> their boundaries ``[0, ..., n]`` as int64."""
    return np.asarray([s0 for s0, _ in chunks] + [n], dtype=np.int64)


def grid_conv_forward(wm, buf, rowoff, span, plane, gw, chunks, bias, y, o0):
    """``y[:, o0:o0 + m] = crop(wm @ B) (+ bias)``, the stride-1 convolution of the flat grid ``buf``
    (``B[p, s * span + t] = buf.flat[rowoff[p] + s * plane + t]``, never built), chunk by chunk of
    ``chunks`` (``[(s0, s1), ...]``): each chunk's product and crop on one thread when there are
    two chunks per thread or more, else each product split over the threads by columns
    (``_sgemm_conv.c``); the same bits at any thread count. Shapes: ``wm`` ``(m, k)``, ``rowoff``
    ``(k,)``, ``y`` ``(N, C_out, h, w)`` C-contiguous with ``h * gw == span``, ``bias`` ``(m,)`` or None."""
    m, k = wm.shape
    n = y.shape[0]
    _sgemm.sgemm_conv_forward(np.ascontiguousarray(wm), buf, np.ascontiguousarray(rowoff, dtype=np.int64), span, plane, gw,
                        _bounds(chunks, n), None if bias is None else np.ascontiguousarray(bias, dtype=np.float32), y,
                        o0, _threads_for(m * k * n * span, _grid_flops()))


def grid_conv_weight_grad(gy, o0, m, buf, coloff, gh, gw, chunks, out):
    """``out = G @ B^T`` summed over ``chunks`` in chunk order: ``G`` is ``gy[:, o0:o0 + m]`` laid on
    the whole ``gh x gw`` grid planes (zero past the output's edge), ``B[q, j] =
    buf.flat[coloff[j] + q]`` (a weight gradient's columns read from the flat grid). Each chunk's
    grid and dot products on one thread when there are two chunks per thread or more, their sums
    added in chunk order after, as one thread adds them: the same bits at any thread count.
    Shapes: ``gy`` ``(N, O, h, w)``, ``coloff`` ``(n,)``, ``out`` ``(m, n)`` C-contiguous."""
    n = gy.shape[0]
    _sgemm.sgemm_conv_weight_grad(np.ascontiguousarray(gy), o0, m, buf, np.ascontiguousarray(coloff, dtype=np.int64), gh, gw,
                            _bounds(chunks, n), out, _threads_for(m * out.shape[1] * n * gh * gw, _grid_flops()))


__all__ = ["ISAS", "describe", "dot_shifted_matmul", "get_num_threads", "grid_conv_forward", "grid_conv_suits",
           "grid_conv_weight_grad", "isa", "isa_supported", "matmul",
           "native_available", "native_enabled", "native_for", "set_isa", "set_native", "set_num_threads",
           "shifted_matmul", "shifted_suits"]
