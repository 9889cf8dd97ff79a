"""The compiled GEMM's two micro-kernel sets, AVX-512 and AVX2 (``_sgemm_avx512.c``,
``_sgemm_avx2.c``), each forced in turn by the ``gemm_isa`` fixture (a set the CPU cannot run is
skipped, saying so), and the rule that picks one (``ops/gemm.py``).

Each set is checked against float64 products with the rounding bound of a length-k sum,
|fl(a @ b) - a @ b| <= (k + 1) * 2**-24 * (|a| @ |b|) elementwise, on shapes that cross its tile
edges (8 rows, 48 columns, and for AVX2 the 4 x 24 sub-tiles inside them; k past the 256-deep
block, and the 8- or 16-lane tails of the dot form), on the flat-grid products, and through a
convolution's forward and backward pass against torch.
"""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import gemm
from helpers import normwise_error, require_torch

U = 2.0**-24


def _bound(a, b):
    return (a.shape[1] + 1) * U * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))


def _sgemm():
    from convlab import _sgemm

    return _sgemm


@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (3, 23, 5), (4, 24, 255), (5, 25, 257), (8, 48, 300), (13, 100, 40),
                                     (130, 49, 9)], ids=str)
@pytest.mark.parametrize("threads", [1, 2])
def test_each_isa_within_rounding_bound_across_tile_edges(gemm_isa, m, n, k, threads):
    rng = np.random.default_rng(m * 1000 + n + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = np.empty((m, n), np.float32)
    _sgemm().sgemm(a, b, c, False, threads)
    assert _sgemm().isa() == gemm_isa
    excess = np.abs(c - a.astype(np.float64) @ b) - _bound(a, b)
    assert excess.max() <= 0, f"{gemm_isa}: {excess.max():.2e} above the bound"


@pytest.mark.parametrize("k", [1030, 1037, 2100])
@pytest.mark.parametrize("threads", [1, 2])
def test_each_isa_dot_form_and_accumulate(gemm_isa, k, threads):
    """B with columns contiguous along k (a weight gradient's shape) takes the dot form; k with
    a tail of 6 and 5 values past the vector lanes; C += A @ B; two threads split k."""
    rng = np.random.default_rng(k + threads)
    a = rng.standard_normal((13, k)).astype(np.float32)
    b = np.asfortranarray(rng.standard_normal((k, 20)).astype(np.float32))
    c0 = rng.standard_normal((13, 20)).astype(np.float32)
    c = c0.copy()
    _sgemm().sgemm(a, b, c, True, threads)
    exact = a.astype(np.float64) @ b + c0
    assert np.all(np.abs(c - exact) <= _bound(a, b) + np.abs(c0) * 2 * U)


@pytest.mark.parametrize("span, plane, samples", [(20, 25, 7), (72, 81, 3)])
def test_each_isa_reads_the_shifted_grid(gemm_isa, span, plane, samples):
    """sgemm_shifted (tiles read in place within a sample, packed across samples) and
    sgemm_dot_shifted (the transposed columns) against B built by NumPy fancy indexing."""
    rng = np.random.default_rng(span + samples)
    m, k = 13, 37
    buf = rng.standard_normal((3, samples * plane + 60)).astype(np.float32)
    rowoff = rng.integers(0, buf.size - (samples - 1) * plane - span, size=k).astype(np.int64)
    cols = np.arange(samples * span)
    b = buf.ravel()[rowoff[:, None] + (cols // span * plane + cols % span)[None, :]]
    a = rng.standard_normal((m, k)).astype(np.float32)
    c = np.empty((m, samples * span), np.float32)
    _sgemm().sgemm_shifted(a, buf, rowoff, span, plane, c, False, 2)
    assert np.all(np.abs(c - a.astype(np.float64) @ b) <= _bound(a, b))
    q = 300
    offs = rng.integers(0, buf.size - q, size=19).astype(np.int64)
    bt = buf.ravel()[np.arange(q)[:, None] + offs[None, :]]
    g = rng.standard_normal((m, q)).astype(np.float32)
    c = np.empty((m, 19), np.float32)
    _sgemm().sgemm_dot_shifted(g, buf, offs, c, False, 2)
    assert np.all(np.abs(c - g.astype(np.float64) @ bt) <= _bound(g, bt))


def test_each_isa_column_split_gives_the_same_bits_for_any_thread_count(gemm_isa):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((20, 200)).astype(np.float32)
    b = rng.standard_normal((200, 1000)).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        c = np.empty((20, 1000), np.float32)
        _sgemm().sgemm(a, b, c, False, threads)
        results.append(c)
    for c in results[1:]:
        np.testing.assert_array_equal(c, results[0])


@pytest.mark.parametrize("kw", [{"padding": 1}, {"stride": 2, "padding": 1}], ids=["3x3 flat grid", "stride 2 columns"])
def test_each_isa_conv2d_forward_and_backward_match_torch(gemm_isa, kw):
    """A layer on the compiled GEMM with the forced micro-kernels: the output and all three
    gradients against torch, float32, normwise relative error <= 1e-4."""
    torch = require_torch()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    previous = gemm.set_native(True)
    try:
        ours = [cl.tensor(v, requires_grad=True) for v in (x, w, b)]
        y = F.conv2d(*ours, **kw)
        g = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(g)
    finally:
        gemm.set_native(previous)
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ty = torch.nn.functional.conv2d(*theirs, **kw)
    ty.backward(torch.tensor(g))
    pairs = [(y.detach().numpy(), ty.detach().numpy())] + [(o.grad.numpy(), t.grad.numpy()) for o, t in zip(ours, theirs)]
    for i, (o, t) in enumerate(pairs):
        assert normwise_error(o, t) <= 1e-4, f"{gemm_isa} {kw}: output/gradient {i}"


@pytest.mark.needs_sgemm
def test_default_isa_follows_the_rule():
    """A fresh import (the compiled module alone, in a subprocess without CONVLAB_GEMM_ISA) picks
    AVX-512F with FMA -> the AVX-512 kernels, else AVX2 with FMA -> the AVX2 ones."""
    import os
    import subprocess
    import sys

    from convlab import _cpu

    code = ("import importlib.util as u, sys; s = u.spec_from_file_location('convlab._sgemm', sys.argv[1]); "
            "m = u.module_from_spec(s); s.loader.exec_module(m); print(m.isa())")
    env = {k: v for k, v in os.environ.items() if k != "CONVLAB_GEMM_ISA"}
    out = subprocess.run([sys.executable, "-c", code, _sgemm().__file__], env=env, capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    expected = "avx512" if _cpu.has("avx512f") and _cpu.has("fma") else "avx2"
    assert out == expected
    assert gemm.isa_supported("avx512") == (_cpu.has("avx512f") and _cpu.has("fma"))
    assert gemm.isa_supported("avx2") == (_cpu.has("avx2") and _cpu.has("fma"))


@pytest.mark.needs_sgemm
def test_set_isa_and_the_environment_are_checked(monkeypatch):
    with pytest.raises(ValueError, match=r"set_isa: name must be one of \('avx512', 'avx2'\), got 'sse4'"):
        gemm.set_isa("sse4")
    with pytest.raises(ValueError, match=r"set_isa: name must be 'avx512' or 'avx2', got 'neon'"):
        _sgemm().set_isa("neon")
    with pytest.raises(TypeError, match=r"set_isa: name must be a str, got int"):
        _sgemm().set_isa(2)
    previous = gemm.isa()
    try:
        monkeypatch.setenv("CONVLAB_GEMM_ISA", "avx2")
        gemm._isa_from_env()
        assert gemm.isa() == ("avx2" if gemm.isa_supported("avx2") else previous)
        monkeypatch.setenv("CONVLAB_GEMM_ISA", "mmx")
        with pytest.warns(RuntimeWarning, match="ignoring CONVLAB_GEMM_ISA='mmx'"):
            gemm._isa_from_env()
    finally:
        gemm.set_isa(previous)
