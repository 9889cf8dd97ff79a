"""The flat grid's convolution passes of the compiled GEMM (``_sgemm_conv.c``: a chunk of samples
per thread, product and copies together): the same bits on 1, 2 and 3 threads, torch's values,
and refusals that name the argument."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import conv_columns, gemm
from helpers import normwise_error, record_calls, require_torch

native = pytest.mark.skipif(not gemm.native_available(), reason="convlab._sgemm not built or no AVX-512F/AVX2 here")

CASES = [  # (fn, x shape, w shape, keywords)
    ("conv2d", (8, 16, 12, 12), (24, 16, 3, 3), {"padding": 1}),
    ("conv2d", (8, 8, 9, 11), (12, 4, 3, 3), {"padding": 1, "groups": 2}),
    ("conv2d", (3, 6, 10, 10), (16, 6, 3, 3), {"padding": 1}),  # 3 chunks: too few to share, products split by columns
    ("conv1d", (8, 6, 40), (10, 6, 5), {"padding": 2, "dilation": 2}),
    # batch 1, 35 columns and 96 rows: each product split by rows (_sgemm_driver.c's sgemm_run)
    ("conv2d", (1, 64, 5, 5), (96, 64, 3, 3), {"padding": 1}),
    # 128 output channels and more: the weight gradient on packed panels (PACKED_MIN_ROWS), shared out
    ("conv2d", (4, 8, 6, 6), (128, 8, 3, 3), {"padding": 1}),
    ("conv2d", (3, 5, 5, 7), (136, 5, 3, 3), {"padding": 1}),  # 3 chunks, 136 rows: split by columns, an edge panel
]


def _run(fn, x, w, b, g, kw, threads):
    cl.set_num_threads(threads)
    ours = [cl.tensor(v, requires_grad=True) for v in (x, w, b)]
    y = getattr(F, fn)(*ours, **kw)
    y.backward(cl.tensor(g))
    return [y.detach().numpy()] + [o.grad.numpy() for o in ours]


@native
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}{c[1]}x{c[2]}" for c in CASES])
def test_grid_convolution_is_the_same_bits_on_any_thread_count(case, monkeypatch):
    """One sample per chunk (a 1-byte cache target), every product threaded (size rule at 0):
    output, input, weight and bias gradients on 2 and 3 threads equal the 1-thread bits (the
    weight gradient's chunk sums are added in chunk order whoever computed them), both chunk-pass
    functions ran, and the values match torch (float32, normwise relative error <= 1e-4)."""
    torch = require_torch()
    fn, xs, ws, kw = case
    monkeypatch.setattr(conv_columns, "_CACHE_BYTES", 1)
    monkeypatch.setattr(gemm, "_FLOPS_PER_THREAD", 0)
    calls = record_calls(monkeypatch, gemm, "_sgemm", lambda name, args: name if name.startswith("sgemm_conv") else None)
    rng = np.random.default_rng(xs[0] * 10 + ws[0])
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    with cl.no_grad():
        g = rng.standard_normal(getattr(F, fn)(cl.tensor(x), cl.tensor(w), **kw).shape).astype(np.float32)
    before = cl.get_num_threads()
    try:
        runs = {t: _run(fn, x, w, b, g, kw, t) for t in (1, 2, 3)}
    finally:
        cl.set_num_threads(before)
    assert {"sgemm_conv_forward", "sgemm_conv_weight_grad"} <= set(calls), calls
    for t in (2, 3):
        for i, (a, c) in enumerate(zip(runs[1], runs[t])):
            np.testing.assert_array_equal(a, c, err_msg=f"{fn}: output/gradient {i} on {t} threads")
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ty = getattr(torch.nn.functional, fn)(*theirs, **kw)
    ty.backward(torch.tensor(g))
    ref = [ty.detach().numpy()] + [t.grad.numpy() for t in theirs]
    for i, (o, r) in enumerate(zip(runs[1], ref)):
        assert normwise_error(o, r) <= 1e-4, f"{fn}: output/gradient {i}"


@native
def test_grid_pass_refusals_name_the_argument():
    """Wrong dtypes, shapes, chunk boundaries and reads past the grid raise ValueError naming what is wrong."""
    from convlab import _sgemm

    w = np.zeros((4, 9), np.float32)
    buf = np.zeros((1, 200), np.float32)
    off = np.arange(9, dtype=np.int64)
    y = np.zeros((2, 4, 3, 3), np.float32)
    chunks = np.array([0, 1, 2], np.int64)
    _sgemm.sgemm_conv_forward(w, buf, off, 15, 25, 5, chunks, None, y, 0, 1)  # fits: no error
    with pytest.raises(ValueError, match="sgemm_conv_forward: w must be a C-contiguous float32 array"):
        _sgemm.sgemm_conv_forward(w.astype(np.float64), buf, off, 15, 25, 5, chunks, None, y, 0, 1)
    with pytest.raises(ValueError, match="chunks must rise strictly from 0 to the batch's 2 samples"):
        _sgemm.sgemm_conv_forward(w, buf, off, 15, 25, 5, np.array([0, 2, 2], np.int64), None, y, 0, 1)
    with pytest.raises(ValueError, match=r"offset 182 reads buf up to 221, outside its 200 values"):
        _sgemm.sgemm_conv_forward(w, buf, off + 182, 15, 25, 5, chunks, None, y, 0, 1)
    with pytest.raises(ValueError, match="from channel 1 do not fit together"):
        _sgemm.sgemm_conv_forward(w, buf, off, 15, 25, 5, chunks, None, y, 1, 1)
    out = np.zeros((4, 9), np.float32)
    _sgemm.sgemm_conv_weight_grad(y, 0, 4, buf, off, 5, 5, chunks, out, 2)  # fits
    with pytest.raises(ValueError, match="sgemm_conv_weight_grad: out must be a writable C-contiguous float32 array"):
        _sgemm.sgemm_conv_weight_grad(y, 0, 4, buf, off, 5, 5, chunks, out[:, ::2], 1)
    with pytest.raises(ValueError, match=r"offset 152 reads buf up to 201, outside its 200 values"):
        _sgemm.sgemm_conv_weight_grad(y, 0, 4, buf, off + 152, 5, 5, chunks, out, 1)


@native
@pytest.mark.parametrize("case", CASES[:2], ids=[f"{c[0]}{c[1]}x{c[2]}" for c in CASES[:2]])
def test_chunk_passes_give_the_product_by_product_bits(case, monkeypatch):
    """On one thread, the chunk passes (products and copies together) give exactly the bits of
    the product-by-product path they replace (sgemm_shifted / sgemm_dot_shifted with the grid
    copies around them): the same sums in the same order, the crop a copy plus the bias."""
    fn, xs, ws, kw = case
    monkeypatch.setattr(conv_columns, "_CACHE_BYTES", 1)
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    with cl.no_grad():
        g = rng.standard_normal(getattr(F, fn)(cl.tensor(x), cl.tensor(w), **kw).shape).astype(np.float32)
    before = cl.get_num_threads()
    try:
        chunked = _run(fn, x, w, b, g, kw, 1)
        monkeypatch.setattr(gemm, "grid_conv_suits", lambda *arrays: False)
        by_product = _run(fn, x, w, b, g, kw, 1)
    finally:
        cl.set_num_threads(before)
    for i, (a, c) in enumerate(zip(chunked, by_product)):
        np.testing.assert_array_equal(a, c, err_msg=f"{fn}: output/gradient {i}")
