"""Seeded random sweeps against torch.nn.functional: 300+ configurations per op, forward and
every gradient, float64 (relative error <= 1e-8) and float32 (<= 1e-4).

Each op is one test that loops over its configurations (tiny shapes), so the sweep stays fast.
The error is normwise: max |ours - torch| / max |torch| over each compared array.
"""

import warnings

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from helpers import normwise_error, require_torch

N_CONFIGS = 300


@pytest.fixture(autouse=True, params=[1, 2], ids=["1-thread", "2-threads"])
def _both_gemm_paths(gemm_path, request, monkeypatch):
    """Every sweep on the compiled GEMM at 1 thread and at 2 threads with every product and pass
    split however small (the size thresholds at 0), then on numpy.matmul."""
    from convlab.ops import fused, gemm

    if request.param == 2 and gemm_path == "numpy":
        pytest.skip("the 2-thread sweep runs on the compiled GEMM")
    before = cl.get_num_threads()
    cl.set_num_threads(request.param)
    if request.param == 2:
        monkeypatch.setattr(gemm, "_FLOPS_PER_THREAD", 0)
        if fused.available():
            fused._kernels.set_threads(2, 0)
    yield gemm_path
    cl.set_num_threads(before)  # restores _kernels' threshold too


TOL = {np.float64: 1e-8, np.float32: 1e-4}


def check(cl_fn, th_fn, arrays, dtype, what):
    """Forward and all gradients (a random upstream gradient) of both, in ``dtype``."""
    torch = require_torch()
    arrays = [a.astype(dtype) for a in arrays]
    ours_in = [cl.tensor(a, requires_grad=True) for a in arrays]
    ref_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = cl_fn(*ours_in)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = th_fn(*ref_in)
    assert out.shape == tuple(ref.shape), f"{what}: shape {out.shape} vs torch {tuple(ref.shape)}"
    assert out.dtype == dtype, what
    err = normwise_error(out.detach().numpy(), ref.detach().numpy())
    assert err <= TOL[dtype], f"{what}: forward rel err {err:.2e}"
    g = np.random.default_rng(len(what)).standard_normal(out.shape).astype(dtype)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for i, (c, t) in enumerate(zip(ours_in, ref_in)):
        tg = np.zeros(t.shape, dtype) if t.grad is None else t.grad.numpy()
        cg = np.zeros(c.shape, dtype) if c.grad is None else c.grad.numpy()
        err = normwise_error(cg, tg)
        assert err <= TOL[dtype], f"{what}: gradient {i} rel err {err:.2e}"


def _sweep(make, n=N_CONFIGS, seed=0):
    """Call ``make(rng)`` until it has produced ``n`` checked configurations (None = rejected)."""
    rng = np.random.default_rng(seed)
    done = tried = 0
    while done < n:
        tried += 1
        assert tried < 50 * n, "too many rejected configurations"
        if make(rng, np.float64 if done % 2 == 0 else np.float32):
            done += 1
    return done


def _padding(rng, nd, kernel, stride, dilation):
    """Every padding form: int, tuple, 'valid', 'same' (torch needs explicit pads when strided)."""
    form = rng.integers(5)
    if form == 0:
        p = int(rng.integers(0, 4))
        return p, p
    if form == 1:
        p = tuple(int(v) for v in rng.integers(0, 4, nd))
        return p, p
    if form == 2:
        return "valid", "valid"
    if form == 3 and all(s == 1 for s in stride):
        return "same", "same"
    return "same", None  # strided 'same' (TensorFlow's rule): torch gets the explicit pads


def _conv_case(nd):
    tf_names = {1: "conv1d", 2: "conv2d", 3: "conv3d"}

    def make(rng, dtype):
        torch = require_torch()
        groups = int(rng.choice([1, 1, 2, 3, 4]))
        cin = groups * int(rng.integers(1, 8 // groups + 1))
        cout = groups * int(rng.integers(1, 8 // groups + 1))
        hi = {1: 21, 2: 21, 3: 8}[nd]
        size = tuple(int(v) for v in rng.integers(1, hi, nd))
        kernel = tuple(int(v) for v in rng.integers(1, 6 if nd < 3 else 4, nd))
        stride = tuple(int(v) for v in rng.integers(1, 4, nd))
        dilation = tuple(int(v) for v in rng.integers(1, 4, nd))
        padding, th_padding = _padding(rng, nd, kernel, stride, dilation)
        if not _fits(size, kernel, dilation, padding, stride):
            return False
        pads = cl.shapes.conv_geometry("sweep", (1, cin) + size, (cout, cin // groups) + kernel,
                                       stride, padding, dilation, groups).pads
        batch = int(rng.integers(1, 5))
        x = rng.standard_normal((batch, cin) + size)
        w = rng.standard_normal((cout, cin // groups) + kernel)
        b = rng.standard_normal(cout)
        tfn = getattr(torch.nn.functional, tf_names[nd])
        if th_padding is None:
            flat = tuple(v for lo_hi in reversed(pads) for v in lo_hi)

            def th(x_, w_, b_):
                return tfn(torch.nn.functional.pad(x_, flat), w_, b_, stride, 0, dilation, groups)
        else:
            def th(x_, w_, b_):
                return tfn(x_, w_, b_, stride, th_padding, dilation, groups)

        def ours(x_, w_, b_):
            return getattr(F, tf_names[nd])(x_, w_, b_, stride, padding, dilation, groups)

        check(ours, th, [x, w, b], dtype, f"{tf_names[nd]} x{x.shape} w{w.shape} s{stride} p{padding} d{dilation} g{groups}")
        return True

    return make


def _fits(size, kernel, dilation, padding, stride):
    try:
        cl.shapes.conv_output_size(size, kernel, stride, padding, dilation)
    except ValueError:
        return False
    return True


def test_conv1d_sweep():
    assert _sweep(_conv_case(1)) == N_CONFIGS


def test_conv2d_sweep():
    assert _sweep(_conv_case(2), seed=1) == N_CONFIGS


def test_conv3d_sweep():
    assert _sweep(_conv_case(3), seed=2) == N_CONFIGS


def _transpose_case(nd):
    name = {1: "conv_transpose1d", 2: "conv_transpose2d"}[nd]

    def make(rng, dtype):
        torch = require_torch()
        groups = int(rng.choice([1, 1, 2, 3, 4]))
        cin = groups * int(rng.integers(1, 8 // groups + 1))
        cout = groups * int(rng.integers(1, 8 // groups + 1))
        size = tuple(int(v) for v in rng.integers(1, 13, nd))
        kernel = tuple(int(v) for v in rng.integers(1, 6, nd))
        stride = tuple(int(v) for v in rng.integers(1, 4, nd))
        dilation = tuple(int(v) for v in rng.integers(1, 4, nd))
        padding = tuple(int(v) for v in rng.integers(0, 3, nd))
        opad = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        try:
            cl.shapes.conv_transpose_output_size(size, kernel, stride, padding, opad, dilation)
        except RuntimeError:  # a non-positive output size: refused, as torch refuses it
            return False
        batch = int(rng.integers(1, 5))
        x = rng.standard_normal((batch, cin) + size)
        w = rng.standard_normal((cin, cout // groups) + kernel)
        b = rng.standard_normal(cout)
        check(lambda x_, w_, b_: getattr(F, name)(x_, w_, b_, stride, padding, opad, groups, dilation),
              lambda x_, w_, b_: getattr(torch.nn.functional, name)(x_, w_, b_, stride, padding, opad, groups, dilation),
              [x, w, b], dtype, f"{name} x{x.shape} w{w.shape} s{stride} p{padding} op{opad} d{dilation} g{groups}")
        return True

    return make


def test_conv_transpose1d_sweep():
    assert _sweep(_transpose_case(1), seed=3) == N_CONFIGS


def test_conv_transpose2d_sweep():
    assert _sweep(_transpose_case(2), seed=4) == N_CONFIGS
