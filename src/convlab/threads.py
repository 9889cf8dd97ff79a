"""How many threads convlab runs on: one number for its compiled helpers and NumPy's BLAS.

The policy is torch's:

- the default is ``OMP_NUM_THREADS`` when it is set to a positive integer, else the cores this
  process may run on (``os.sched_getaffinity(0)``: a ``taskset`` or container CPU limit counts,
  the machine's total does not);
- :func:`set_num_threads` changes it for everything convlab runs: the persistent worker pools
  of the compiled helpers (``_sgemm.c``'s GEMM, ``_kernels.c``'s memory passes) and NumPy's
  BLAS (OpenBLAS or MKL, through ``threadpoolctl``); :func:`get_num_threads` reads it.
- No oversubscription: once convlab's compiled GEMM has run a product in this process, its pool
  does the float32 products' parallel work and NumPy's BLAS is held to one thread (what is left
  for it is small: batch-1 linear layers, float64 checks). OpenBLAS's idle threads spin for
  milliseconds after a call; on two threads they took the core convlab's worker needed (SmallCNN
  at batch 1: 0.40 ms with BLAS on one thread, 0.49 ms on two). Without the compiled GEMM
  (neither AVX-512 nor AVX2, ``CONVLAB_GEMM=numpy``) BLAS gets the whole count.

>>> import convlab
>>> n = convlab.get_num_threads()
>>> convlab.set_num_threads(1)
>>> convlab.get_num_threads()
1
>>> convlab.set_num_threads(n)

The workers are started once, on the first product or pass large enough to share, and kept:
between calls they spin for a few microseconds, then sleep on a condition variable (no CPU).

The size rule (measured, ``benchmarks/README.md`` "Threads"): work is cut into at most one share
per thread, and a share is never smaller than one thread's minimum, ``gemm._FLOPS_PER_THREAD``
(64 MFLOP, ~0.25 ms of one core) for a product, ``gemm._GRID_FLOPS_PER_THREAD`` (16 MFLOP) for
the chunk-per-thread convolutions (one wait per layer, each thread in its own cache), and
``fused.PARALLEL_MIN_VALUES`` (256K values, 1 MiB of float32) for a memory pass; a smaller call
stays on the calling thread. So batch-1 inference runs on one thread whatever the count, and on
16 cores a product uses only as many threads as it has shares for. Above the minimum the work is
cut by what is big (``_sgemm_driver.c``, ``_sgemm_conv.c`` and ``_kernels_pass.c`` explain their
cuts).

Results do not depend on the thread count: every cut in convlab keeps each output's sum in the
same order (columns, chunks of samples whose partial sums are added in chunk order, channels,
rows), except the plain GEMM's split of a long inner dimension when the output has fewer column
blocks than threads (``_sgemm_driver.c``; a weight gradient of the column-matrix path: 1x1
strided, dilated-strided or grouped-strided convolutions): there each thread sums a slice of k
and the slices are added in order, which rounds differently from one thread's sum; and the
column path's chunks, which grow with the threads the size rule gives the layer
(``ops/conv.py``), so that its weight gradient's chunk sums follow the count too. Stride-2
convolutions with kernels of 2x2 and more run on their phase grids (``ops/conv_phase.py``), the
same bits on any count.
"""

from __future__ import annotations

import os
import warnings

from .validate import ConvlabError

_threads: int | None = None
_listeners: list = []  # called with the new count: the compiled modules' pools (ops/fused.py)
_pool_owns_products = False  # set by claim_products() on the compiled GEMM's first product


def _env_threads() -> int | None:
    """``OMP_NUM_THREADS`` as a positive int, or None (unset; an invalid value warns, as libgomp does)."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if not value:
        return None
    first = value.split(",")[0].strip()  # OpenMP allows a list, one count per nesting level
    if first.isdigit() and int(first) > 0:
        return int(first)
    warnings.warn(f"convlab: ignoring OMP_NUM_THREADS={value!r}: expected a positive integer", RuntimeWarning,
                  stacklevel=3)
    return None


def default_num_threads() -> int:
    """``OMP_NUM_THREADS`` when set to a positive integer, else the cores this process may use."""
    env = _env_threads()
    if env is not None:
        return env
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """The number of threads convlab uses (compiled helpers and NumPy's BLAS)."""
    global _threads
    if _threads is None:
        _threads = default_num_threads()
    return _threads


def _check(n) -> int:
    import numbers

    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ConvlabError(f"set_num_threads expects a positive integer, got {n!r}")
    return int(n)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (a positive int) in convlab's compiled helpers and in NumPy's BLAS.

    Raises:
        ValueError: ``n`` is not a positive integer (``True``, ``2.0``, ``0`` and ``-1`` are not).
    """
    n = _check(n)
    global _threads
    _threads = n
    _set_blas_threads(1 if _pool_owns_products else n)
    for listener in _listeners:
        listener(n)


def claim_products() -> None:
    """Called by ``ops/gemm.py`` before the compiled GEMM's first product: from now on convlab's
    pool runs the products' threads and NumPy's BLAS one (see the module docstring)."""
    global _pool_owns_products
    if not _pool_owns_products:
        _pool_owns_products = True
        _set_blas_threads(1)


def products_claimed() -> bool:
    """True once convlab's compiled GEMM runs the products (NumPy's BLAS then on one thread)."""
    return _pool_owns_products


def on_change(listener) -> None:
    """Call ``listener(n)`` now and whenever :func:`set_num_threads` changes the count (how a
    compiled module that keeps its own count, ``_kernels``, follows it)."""
    _listeners.append(listener)
    listener(get_num_threads())


def _set_blas_threads(n: int) -> None:
    """Limit every BLAS loaded in this process (NumPy's OpenBLAS, MKL) to ``n`` threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a dependency, but a broken install should not stop training
        warnings.warn("convlab.set_num_threads: threadpoolctl is not installed; NumPy's BLAS keeps its own "
                      "thread count (pip install threadpoolctl)", RuntimeWarning, stacklevel=3)
        return
    threadpool_limits(limits=n, user_api="blas")


def blas_num_threads() -> int | None:
    """The thread count of NumPy's BLAS as it reports it (None when threadpoolctl finds none)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [lib["num_threads"] for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return counts[0] if counts else None


__all__ = ["blas_num_threads", "claim_products", "default_num_threads", "get_num_threads", "on_change",
           "products_claimed", "set_num_threads"]
