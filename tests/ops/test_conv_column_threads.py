"""The column path (strided convolutions: im2col + GEMM) on several threads: its chunks of samples
grow until each chunk's product gets every thread the size rule gives the layer
(``ops/conv.py`` ``_column_cache``), with torch's values; the forward pass and the input gradient
are the same bits on any thread count (each output sums its own inner dimension, whatever the
chunks), the weight gradient within float32 rounding of the one-thread sum."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import conv, conv_phase, gemm
from helpers import normwise_error, record_calls, require_torch

native = pytest.mark.skipif(not gemm.native_available(), reason="convlab._sgemm not built or no AVX-512F/AVX2 here")


@pytest.fixture(autouse=True)
def _columns(monkeypatch):
    """The column path for the stride-2 layer (ops/conv_phase.py would take it otherwise; what
    stays on the column path: 1x1 strided kernels, strides above 2, dilated or grouped ones)."""
    monkeypatch.setattr(conv_phase, "_enabled", False)

# ResNet-20's 16>32 stride-2 layer, batch 16: 18.9 MFLOP a pass, 7 samples in a 1 MiB chunk
XS, WS, KW = (16, 16, 32, 32), (32, 16, 3, 3), {"stride": 2, "padding": 1}


def _run(x, w, b, g, threads):
    cl.set_num_threads(threads)
    ours = [cl.tensor(v, requires_grad=True) for v in (x, w, b)]
    y = F.conv2d(*ours, **KW)
    y.backward(cl.tensor(g))
    return [y.detach().numpy()] + [o.grad.numpy() for o in ours]


@native
def test_strided_columns_chunk_for_the_threads(monkeypatch):
    """With 16 MFLOP per thread, the layer's 38 MFLOP products get 2 threads: one chunk of 16
    samples on 2 threads (three cache-sized ones of 7, 7, 2 on 1, 16 MFLOP at most: one thread
    each), every sgemm call asking for 2 threads; output and input
    gradient bit for bit the 1-thread ones, weight and bias gradients within 1e-6 (normwise),
    everything within 1e-4 of torch (float32)."""
    torch = require_torch()
    monkeypatch.setattr(gemm, "_FLOPS_PER_THREAD", 16 << 20)
    calls = record_calls(monkeypatch, gemm, "_sgemm", lambda name, args: args[-1] if name == "sgemm" else None)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(XS).astype(np.float32), rng.standard_normal(WS).astype(np.float32)
    b = rng.standard_normal(WS[0]).astype(np.float32)
    g = rng.standard_normal((16, 32, 16, 16)).astype(np.float32)
    before = cl.get_num_threads()
    try:
        one = _run(x, w, b, g, 1)
        one_calls = list(calls)
        calls.clear()
        two = _run(x, w, b, g, 2)
    finally:
        cl.set_num_threads(before)
    assert one_calls == [1] * 9, one_calls  # 3 chunks x (forward, input gradient, weight gradient), one thread
    assert calls == [2] * 3, calls  # one chunk, each product on 2 threads
    np.testing.assert_array_equal(one[0], two[0], err_msg="output")
    np.testing.assert_array_equal(one[1], two[1], err_msg="input gradient")
    for i in (2, 3):
        assert normwise_error(two[i], one[i]) <= 1e-6, f"gradient {i}"
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ty = torch.nn.functional.conv2d(*theirs, **KW)
    ty.backward(torch.tensor(g))
    ref = [ty.detach().numpy()] + [t.grad.numpy() for t in theirs]
    for i, (o, r) in enumerate(zip(two, ref)):
        assert normwise_error(o, r) <= 1e-4, f"output/gradient {i}"


@native
def test_weight_gradient_sums_the_forward_chunks(monkeypatch):
    """The weight gradient sums the chunks the forward pass kept its columns for, even when the
    thread count changed in between (its own chunking would differ: 3 chunks on 1 thread)."""
    monkeypatch.setattr(gemm, "_FLOPS_PER_THREAD", 16 << 20)
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(XS).astype(np.float32), rng.standard_normal(WS).astype(np.float32)
    g = rng.standard_normal((16, 32, 16, 16)).astype(np.float32)
    before = cl.get_num_threads()
    try:
        cl.set_num_threads(2)
        cx, cw = cl.tensor(x, requires_grad=True), cl.tensor(w, requires_grad=True)
        y = F.conv2d(cx, cw, **KW)
        cl.set_num_threads(1)
        y.backward(cl.tensor(g))
        ref = _run(x, w, np.zeros(32, np.float32), g, 1)
    finally:
        cl.set_num_threads(before)
    assert normwise_error(cw.grad.numpy(), ref[2]) <= 1e-6


def test_column_cache_keeps_cache_sized_chunks_on_one_thread():
    """On one thread (or off the compiled GEMM) the chunks stay cache-sized: the weight's bytes or
    1 MiB, whichever is larger."""
    from convlab.shapes import conv_geometry

    geom = conv_geometry("conv2d", (128,) + XS[1:], WS, stride=2, padding=1)
    x = np.zeros((128,) + XS[1:], np.float32)
    before = cl.get_num_threads()
    try:
        cl.set_num_threads(1)
        assert conv._column_cache(WS, x, geom) == 1 << 20
    finally:
        cl.set_num_threads(before)
