"""convlab's compiled float32 GEMM (``convlab._sgemm``) and the dispatcher the ops call
(``convlab.ops.gemm.matmul``).

The kernel is checked against float64 products with the classical rounding bound of a
length-k sum, |fl(a @ b) - a @ b| <= k * 2**-24 * (|a| @ |b|) elementwise (blocking and FMAs
only make the true error smaller), on shapes that cross every blocking edge: rows around the
8-row tile, columns around the 48-column tile and the 3072-column block, k around the
256-deep block and the 1024 where transposed products switch to dot products; operands with
any strides; accumulation into C; 1-3 threads splitting columns or k.
"""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import gemm
from helpers import normwise_error, record_calls, require_torch

native = pytest.mark.needs_sgemm  # fails in CI where convlab._sgemm was not built; see conftest.py
U = 2.0**-24


def _bound(a, b, c0=None):
    k = a.shape[1]
    return (k + 1) * U * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)) + (0 if c0 is None else np.abs(c0)))


def _check(a, b, accumulate=False, threads=1, rng=None):
    from convlab import _sgemm

    m, n = a.shape[0], b.shape[1]
    c0 = (rng or np.random.default_rng(0)).standard_normal((m, n)).astype(np.float32)
    c = c0.copy()
    _sgemm.sgemm(a, b, c, accumulate, threads)
    exact = a.astype(np.float64) @ b.astype(np.float64) + (c0 if accumulate else 0)
    excess = np.abs(c - exact) - _bound(a, b, c0 if accumulate else None)
    assert excess.max(initial=-1) <= 0, f"{a.shape} @ {b.shape}: error above the rounding bound by {excess.max():.2e}"
    return c


@native
@pytest.mark.parametrize("m", [1, 7, 8, 9, 16, 130])
@pytest.mark.parametrize("n", [1, 47, 48, 49, 100])
@pytest.mark.parametrize("k", [1, 255, 257])
def test_sgemm_within_rounding_bound_across_tile_edges(m, n, k):
    rng = np.random.default_rng(m * 10_000 + n * 100 + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    _check(a, b, rng=rng)


@native
@pytest.mark.parametrize("layout", ["rows", "a-transposed", "b-transposed", "both-transposed", "strided"])
@pytest.mark.parametrize("accumulate", [False, True], ids=["overwrite", "accumulate"])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("mkn", [(16, 144, 3100), (12, 2100, 70), (64, 1030, 96), (40, 20, 200)], ids=str)
def test_sgemm_any_strides_accumulate_and_threads(layout, accumulate, threads, mkn):
    """Transposed operands (B with columns contiguous along k takes the dot-product form once
    k >= 1024), sliced operands, C += A @ B, and the column and k splits over threads."""
    m, k, n = mkn
    rng = np.random.default_rng(sum(mkn) + threads)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    if layout in ("a-transposed", "both-transposed"):
        a = np.asfortranarray(a)
    if layout in ("b-transposed", "both-transposed"):
        b = np.asfortranarray(b)
    if layout == "strided":
        a = np.repeat(a, 2, axis=1)[:, ::2]
        b = np.repeat(b, 3, axis=0)[::3][:, :]
        assert not a.flags.c_contiguous and not b.flags.c_contiguous
    _check(a, b, accumulate=accumulate, threads=threads, rng=rng)


@native
def test_sgemm_column_split_gives_the_same_bits_for_any_thread_count():
    """Threads that split the columns sum every entry in the same order: identical results."""
    from convlab import _sgemm

    rng = np.random.default_rng(1)
    a = rng.standard_normal((32, 300)).astype(np.float32)
    b = rng.standard_normal((300, 5000)).astype(np.float32)
    results = []
    for threads in (1, 2, 3, 1):
        c = np.empty((32, 5000), np.float32)
        _sgemm.sgemm(a, b, c, False, threads)
        results.append(c)
    for c in results[1:]:
        np.testing.assert_array_equal(c, results[0])


@native
def test_sgemm_empty_and_nonfinite_like_numpy():
    from convlab import _sgemm

    a, b = np.ones((9, 0), np.float32), np.ones((0, 20), np.float32)
    c = np.full((9, 20), 5.0, np.float32)
    _sgemm.sgemm(a, b, c, False, 1)
    np.testing.assert_array_equal(c, np.zeros((9, 20)))
    c[:] = 5
    _sgemm.sgemm(a, b, c, True, 1)
    np.testing.assert_array_equal(c, np.full((9, 20), 5.0))
    a = np.ones((9, 5), np.float32)
    a[0, 0], a[1, 1] = np.inf, np.nan
    b = np.ones((5, 50), np.float32)
    b[2, 3] = -np.inf
    c = np.empty((9, 50), np.float32)
    _sgemm.sgemm(a, b, c, False, 1)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(c, a @ b)  # inf, nan and inf - inf = nan where numpy has them


@native
def test_sgemm_refuses_bad_buffers_with_their_names():
    from convlab import _sgemm

    a, b = np.ones((8, 4), np.float32), np.ones((4, 16), np.float32)
    with pytest.raises(ValueError, match=r"sgemm: a must be a 2-D float32 array, got 2-D with format 'd'"):
        _sgemm.sgemm(a.astype(np.float64), b, np.empty((8, 16), np.float32), False, 1)
    with pytest.raises(ValueError, match=r"sgemm: b must be a 2-D float32 array, got 1-D"):
        _sgemm.sgemm(a, b.ravel(), np.empty((8, 16), np.float32), False, 1)
    with pytest.raises(ValueError, match=r"sgemm: shapes \(8, 4\) @ \(4, 16\) do not give c's \(8, 15\)"):
        _sgemm.sgemm(a, b, np.empty((8, 15), np.float32), False, 1)
    with pytest.raises(ValueError, match=r"sgemm: c must have contiguous rows, got strides \(4, 32\)"):
        _sgemm.sgemm(a, b, np.empty((16, 8), np.float32).T, False, 1)
    with pytest.raises(ValueError, match="read-only"):
        c = np.empty((8, 16), np.float32)
        c.flags.writeable = False
        _sgemm.sgemm(a, b, c, False, 1)


def test_matmul_dispatch_keeps_numpy_semantics(gemm_path):
    """The dispatcher's results match numpy.matmul on both paths: float32 within float32
    rounding, float64, small and broadcast products exactly (they are numpy.matmul's own)."""
    rng = np.random.default_rng(3)
    a32, b32 = rng.standard_normal((3, 20, 70)).astype(np.float32), rng.standard_normal((3, 70, 50)).astype(np.float32)
    got = gemm.matmul(a32, b32)
    assert got.shape == (3, 20, 50) and got.dtype == np.float32
    exact = a32.astype(np.float64) @ b32.astype(np.float64)
    for i in range(3):
        assert np.all(np.abs(got[i] - exact[i]) <= _bound(a32[i], b32[i])), gemm_path
    a64, b64 = a32[0].astype(np.float64), b32[0].astype(np.float64)
    np.testing.assert_array_equal(gemm.matmul(a64, b64), a64 @ b64)
    small = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(gemm.matmul(*small), small[0] @ small[1])
    np.testing.assert_array_equal(gemm.matmul(a32, b32[0]), a32 @ b32[0])  # broadcast: numpy's


def test_set_native_and_threads_are_checked():
    previous = gemm.set_native(False)
    try:
        assert gemm.native_enabled() is False
        if not gemm.native_available():
            with pytest.raises(RuntimeError, match="set_native: convlab's compiled GEMM is not available here"):
                gemm.set_native(True)
    finally:
        gemm.set_native(previous)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=rf"set_num_threads expects a positive integer, got {bad!r}"):
            gemm.set_num_threads(bad)
    before = gemm.get_num_threads()
    try:
        gemm.set_num_threads(3)
        assert gemm.get_num_threads() == 3
    finally:
        gemm.set_num_threads(before)


def count_native_calls(monkeypatch):
    """Route the dispatcher's calls into convlab._sgemm through a recorder: the returned list
    gets (function name, a's shape) per GEMM call."""
    return record_calls(monkeypatch, gemm, "_sgemm",
                        lambda name, args: (name, args[0].shape) if name.startswith("sgemm") else None)


CONV_CASES = [
    ("3x3 pad 1 (flat grid)", (4, 16, 12, 12), (24, 16, 3, 3), {"padding": 1}),
    ("5x5 valid (columns)", (4, 8, 14, 14), (16, 8, 5, 5), {}),
    ("stride 2", (3, 16, 13, 13), (32, 16, 3, 3), {"stride": 2, "padding": 1}),
    ("dilation 2 groups 2", (2, 16, 15, 15), (32, 8, 3, 3), {"dilation": 2, "padding": 2, "groups": 2}),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_float32_on_both_gemm_paths_matches_torch(case, gemm_path, monkeypatch):
    """Layers large enough for the compiled GEMM: values and all three gradients against torch
    (float32, normwise relative error <= 1e-4), and the compiled GEMM really ran (or did not)."""
    torch = require_torch()
    _, xs, ws, kw = case
    calls = count_native_calls(monkeypatch)
    rng = np.random.default_rng(len(case[0]))
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    ours = [cl.tensor(v, requires_grad=True) for v in (x, w, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    y = F.conv2d(*ours, **kw)
    ty = torch.nn.functional.conv2d(*theirs, **kw)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))
    pairs = [(y.detach().numpy(), ty.detach().numpy())] + [(o.grad.numpy(), t.grad.numpy()) for o, t in zip(ours, theirs)]
    for i, (o, t) in enumerate(pairs):
        err = normwise_error(o, t)
        assert err <= 1e-4, f"{case[0]} ({gemm_path}): output/gradient {i} rel err {err:.1e}"
    assert (len(calls) > 0) == (gemm_path == "native"), f"{gemm_path}: {len(calls)} compiled GEMM calls"


@native
@pytest.mark.parametrize("span, plane, samples", [(20, 25, 7), (72, 81, 3), (1056, 1089, 2), (5, 5, 40)])
@pytest.mark.parametrize("m, k", [(24, 37), (5, 300), (130, 20)], ids=str)
@pytest.mark.parametrize("accumulate", [False, True], ids=["overwrite", "accumulate"])
@pytest.mark.parametrize("threads", [1, 2])
def test_sgemm_shifted_reads_the_column_matrix_from_the_grid(span, plane, samples, m, k, accumulate, threads):
    """B[p, n] = buf.flat[rowoff[p] + (n // span) * plane + n % span]: spans shorter and longer
    than the kernel's 48-column tiles (read in place within a sample, packed where a tile
    straddles samples), rows under one 8-row tile and past one 128-row block, k past one
    256-deep block; against B built by NumPy fancy indexing and multiplied in float64, within
    the rounding bound."""
    from convlab import _sgemm

    rng = np.random.default_rng(span + samples + threads + m)
    buf = rng.standard_normal((3, samples * plane + 60)).astype(np.float32)
    rowoff = rng.integers(0, buf.size - (samples - 1) * plane - span, size=k).astype(np.int64)
    n = np.arange(samples * span)
    b = buf.ravel()[rowoff[:, None] + (n // span * plane + n % span)[None, :]]
    a = rng.standard_normal((m, k)).astype(np.float32)
    c0 = rng.standard_normal((m, samples * span)).astype(np.float32)
    c = c0.copy()
    _sgemm.sgemm_shifted(a, buf, rowoff, span, plane, c, accumulate, threads)
    exact = a.astype(np.float64) @ b.astype(np.float64) + (c0 if accumulate else 0)
    assert np.all(np.abs(c - exact) <= _bound(a, b) + (np.abs(c0) * 2.0**-24 if accumulate else 0))
    if not accumulate:
        np.testing.assert_array_equal(c, gemm.shifted_matmul(a, buf, rowoff, span, plane, samples))


@native
@pytest.mark.parametrize("k", [13, 512, 700, 2600])
@pytest.mark.parametrize("accumulate", [False, True], ids=["overwrite", "accumulate"])
@pytest.mark.parametrize("threads", [1, 2])
def test_sgemm_dot_shifted_reads_the_transposed_columns_from_the_grid(k, accumulate, threads):
    """c (+)= a @ B with B[q, j] = buf.flat[rowoff[j] + q]: 38 columns (six-column tiles and an
    edge), k with a 16-lane tail, and k long enough for two threads to split it, against NumPy
    fancy indexing and float64, within the rounding bound."""
    from convlab import _sgemm

    rng = np.random.default_rng(k + threads + accumulate)
    m, n = 13, 38
    buf = rng.standard_normal((2, k + 40)).astype(np.float32)
    rowoff = rng.integers(0, buf.size - k, size=n).astype(np.int64)
    b = buf.ravel()[np.arange(k)[:, None] + rowoff[None, :]]
    a = rng.standard_normal((m, k)).astype(np.float32)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    c = c0.copy()
    _sgemm.sgemm_dot_shifted(a, buf, rowoff, c, accumulate, threads)
    exact = a.astype(np.float64) @ b.astype(np.float64) + (c0 if accumulate else 0)
    assert np.all(np.abs(c - exact) <= _bound(a, b, c0 if accumulate else None))
    if threads == 1:  # the dispatcher on one thread: the same bits
        before = gemm.get_num_threads()
        gemm.set_num_threads(1)
        try:
            np.testing.assert_array_equal(gemm.dot_shifted_matmul(a, buf, rowoff, c0.copy(), accumulate), c)
        finally:
            gemm.set_num_threads(before)


@native
def test_sgemm_shifted_refuses_reads_outside_the_buffer():
    from convlab import _sgemm

    a, buf = np.ones((8, 2), np.float32), np.ones((4, 10), np.float32)
    c = np.empty((8, 6), np.float32)
    with pytest.raises(ValueError, match=r"sgemm_shifted: offsets 0\.\.31 read buf from 0 to 40, outside its 40 values"):
        _sgemm.sgemm_shifted(a, buf, np.array([0, 31]), 3, 7, c, False, 1)
    with pytest.raises(ValueError, match=r"sgemm_shifted: offsets -1\.\.0"):
        _sgemm.sgemm_shifted(a, buf, np.array([-1, 0]), 3, 7, c, False, 1)
    with pytest.raises(ValueError, match=r"sgemm_shifted: rowoff must be 2 int64 offsets \(one per column of a\), got 3"):
        _sgemm.sgemm_shifted(a, buf, np.array([0, 1, 2]), 3, 7, c, False, 1)
    with pytest.raises(ValueError, match=r"need 1 <= span <= plane and span dividing c's 6 columns, got span 4, plane 7"):
        _sgemm.sgemm_shifted(a, buf, np.array([0, 1]), 4, 7, c, False, 1)
    g = np.ones((8, 6), np.float32)
    with pytest.raises(ValueError, match=r"sgemm_dot_shifted: offsets 0\.\.35 read buf from 0 to 40, outside its 40 values"):
        _sgemm.sgemm_dot_shifted(g, buf, np.array([0, 35]), np.empty((8, 2), np.float32), False, 1)
    with pytest.raises(ValueError, match=r"sgemm_dot_shifted: rowoff must be 2 int64 offsets \(one per column of c\), got 1"):
        _sgemm.sgemm_dot_shifted(g, buf, np.array([0]), np.empty((8, 2), np.float32), False, 1)


DIRECT_CASES = [  # stride 1 on the flat grid, any number of output channels: columns read from the grid
    ("conv2d", (3, 5, 9, 8), (8, 5, 3, 3), {"padding": 1}),
    ("conv2d", (2, 6, 10, 9), (16, 3, 3, 3), {"padding": 1, "groups": 2}),
    ("conv2d", (2, 4, 11, 10), (9, 4, 3, 3), {"padding": 2, "dilation": 2}),
    ("conv2d", (2, 4, 8, 9), (10, 4, 4, 3), {"padding": "same", "dilation": (1, 2)}),  # asymmetric padding
    ("conv2d", (3, 8, 7, 7), (12, 8, 5, 5), {"padding": 2}),
    ("conv1d", (3, 4, 13), (8, 4, 3), {"padding": 2, "dilation": 2}),  # 13-position spans: panels straddle samples
    ("conv3d", (2, 3, 5, 10, 10), (8, 3, 3, 3, 3), {"padding": 1}),
    ("conv2d", (3, 1, 12, 12), (6, 1, 5, 5), {"padding": 2}),  # LeNet-5's conv1: 6 rows, under one 8-row tile
    ("conv2d", (2, 4, 9, 9), (2, 2, 3, 3), {"padding": 1, "groups": 2}),  # one output channel per group
]


@native
@pytest.mark.parametrize("chunks", ["whole", "per-sample"])
@pytest.mark.parametrize("case", DIRECT_CASES, ids=[f"{c[0]}{c[1]}x{c[2]}" for c in DIRECT_CASES])
def test_direct_grid_products_match_torch(case, chunks, monkeypatch):
    """Forward, weight gradient and (flipped-kernel) input gradient read the column matrix from
    the flat grid (sgemm_conv_forward / sgemm_conv_weight_grad; 3-D: sgemm_shifted,
    sgemm_dot_shifted), whole-batch and one sample per chunk (a
    1-byte cache target): float32 against torch, normwise relative error <= 1e-4."""
    from convlab.ops import conv_columns

    torch = require_torch()
    fn, xs, ws, kw = case
    calls = count_native_calls(monkeypatch)
    if chunks == "per-sample":
        monkeypatch.setattr(conv_columns, "_CACHE_BYTES", 1)
    rng = np.random.default_rng(xs[0] * 100 + ws[0])
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    ours = [cl.tensor(v, requires_grad=True) for v in (x, w, b)]
    y = getattr(F, fn)(*ours, **kw)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ty = getattr(torch.nn.functional, fn)(*theirs, **kw)
    ty.backward(torch.tensor(g))
    pairs = [(y.detach().numpy(), ty.detach().numpy())] + [(o.grad.numpy(), t.grad.numpy()) for o, t in zip(ours, theirs)]
    for i, (o, t) in enumerate(pairs):
        err = normwise_error(o, t)
        assert err <= 1e-4, f"{fn} {xs} x {ws}: output/gradient {i} rel err {err:.1e}"
    names = {name for name, _ in calls}
    if len(xs) == 5:  # 3-D: product by product
        assert {"sgemm_shifted", "sgemm_dot_shifted"} <= names, names
    else:  # 1-D and 2-D: chunk by chunk, products and copies together (_sgemm_conv.c)
        assert {"sgemm_conv_forward", "sgemm_conv_weight_grad"} <= names, names


@native
@pytest.mark.parametrize("forward_on", [True, False], ids=["native-then-numpy", "numpy-then-native"])
def test_switching_gemm_between_forward_and_backward(forward_on, monkeypatch):
    """The backward pass follows the layout its forward pass chose, even when the GEMM is switched
    in between (LeNet-5's conv2: the flat grid on the compiled GEMM, columns on NumPy's); the
    compiled GEMM ran in the forward pass exactly when it was on, and in the backward likewise."""
    torch = require_torch()
    calls = count_native_calls(monkeypatch)
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((4, 6, 14, 14)).astype(np.float32), rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    ours = [cl.tensor(v, requires_grad=True) for v in (x, w)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w)]
    previous = gemm.set_native(forward_on)
    try:
        y = F.conv2d(*ours)
        in_forward = len(calls)
        gemm.set_native(not forward_on)
        g = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(g)
    finally:
        gemm.set_native(previous)
    assert (in_forward > 0) == forward_on and (len(calls) > in_forward) == (not forward_on), calls
    torch.nn.functional.conv2d(*theirs).backward(torch.tensor(g))
    for o, t in zip(ours, theirs):
        err = normwise_error(o.grad.numpy(), t.grad.numpy())
        assert err <= 1e-4, err
