"""Max pooling's compiled passes (``_kernels_pool.c`` through ``ops/fused.py``): the AVX-512
forward and the portable one (each forced by ``pool_simd``), and the backward, against the NumPy
path of ``ops/pool.py`` bit for bit (the same maxima, the same first-maximum and first-NaN
offsets, the same sums in the same order), and through ``max_pool2d`` against torch."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import fused, pool
from convlab.shapes import pool_geometry
from helpers import require_torch

pytestmark = pytest.mark.needs_kernels

CASES = [  # (shape, kernel, stride, padding, dilation, ceil_mode)
    ((3, 4, 28, 28), 2, None, 0, 1, False),  # LeNet-5: tiling 2x2, rows of 14
    ((2, 3, 40, 37), 2, None, 0, 1, True),  # a ragged last window
    ((2, 5, 15, 17), 3, 2, 1, 1, False),  # ResNet's 3x3/2: overlapping, padded
    ((2, 3, 9, 9), 3, 1, 1, 2, True),  # dilated, stride 1
    ((2, 2, 11, 12), (2, 3), (3, 1), (1, 1), 1, False),  # stride 3: the strided loads
    ((1, 2, 6, 40), (1, 4), (1, 4), 0, 1, False),  # rows longer than one 16-lane block
]


def _input(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    x[0, 0, :2, :6] = 1.5  # ties: the first maximum in row-major order wins
    x[-1, -1, 1, 2] = np.nan  # the first NaN wins its windows
    x[0, -1, :3, :3] = -np.inf  # windows of -inf (and padding)
    x.reshape(-1)[7::13] = -0.0
    return x


def _numpy_pool(x, geom, gy):
    """ops/pool.py's NumPy path: values, offsets and the input gradient."""
    best, arg = pool._max_forward(x, geom)
    ctx = type("Ctx", (), {"arg": arg, "geom": geom, "shape": x.shape})()
    before = fused.set_enabled(False)
    try:
        gx = pool.MaxPoolNd.backward(ctx, gy)
    finally:
        fused.set_enabled(before)
    return best, arg, gx


@pytest.mark.parametrize("simd", [True, False], ids=["avx512", "portable"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}k{c[1]}s{c[2]}" for c in CASES])
def test_compiled_max_pool_matches_the_numpy_path_bit_for_bit(case, threads, simd, record_property):
    shape, k, s, p, d, ceil = case
    before_simd = fused._kernels.pool_simd()
    if simd and not before_simd:
        pytest.skip("this CPU has no AVX-512F for the vector pooling loop")
    x = _input(shape, sum(shape))
    geom = pool_geometry("max_pool2d", shape, k, s, p, d, ceil)
    gy = np.random.default_rng(1).standard_normal((shape[0], shape[1]) + geom.out_size).astype(np.float32)
    fused._kernels.pool_simd(simd)
    fused._kernels.set_threads(threads, 0)  # every pass shared, whatever its size
    try:
        best, arg = fused.maxpool_2d(x, geom)
        gx = fused.maxpool_backward_2d(gy, arg, geom)
        assert bool(fused._kernels.pool_simd()) == simd
    finally:
        fused._kernels.pool_simd(before_simd)
        fused._kernels.set_threads(cl.get_num_threads(), fused.PARALLEL_MIN_VALUES)
    record_property("convlab_path", f"max pool {'AVX-512' if simd else 'portable'}")
    ref_best, ref_arg, ref_gx = _numpy_pool(x, geom, gy)
    np.testing.assert_array_equal(best, ref_best)
    assert np.array_equal(np.signbit(best), np.signbit(ref_best))
    np.testing.assert_array_equal(arg, ref_arg)
    np.testing.assert_array_equal(gx, ref_gx)


def test_max_pool2d_takes_the_compiled_pass_and_matches_torch(monkeypatch):
    """LeNet-5's pool and ResNet's 3x3/2 through F.max_pool2d: values, indices and the input
    gradient against torch, float32; the compiled forward ran where the CPU has AVX-512F and the
    compiled backward for the overlapping windows."""
    torch = require_torch()
    ran = []
    for name in ("maxpool_2d", "maxpool_backward_2d"):
        real = getattr(fused, name)
        monkeypatch.setattr(fused, name, lambda *a, _real=real, _name=name: (ran.append(_name), _real(*a))[1])
    for shape, kw in [((4, 6, 28, 28), {"kernel_size": 2}), ((2, 8, 17, 17), {"kernel_size": 3, "stride": 2, "padding": 1})]:
        x = _input(shape, 3)
        x[~np.isfinite(x)] = 0  # NaN and all--inf windows: the bitwise test above covers them
        ours = cl.tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        y, i = F.max_pool2d(ours, return_indices=True, **kw)
        ty, ti = torch.nn.functional.max_pool2d(theirs, return_indices=True, **kw)
        g = np.random.default_rng(0).standard_normal(y.shape).astype(np.float32)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=0, atol=1e-6)
    expected = (["maxpool_2d"] * 2 if fused.pool_vectorised() else []) + ["maxpool_backward_2d"]
    assert sorted(ran) == sorted(expected), ran


def test_compiled_max_pool_refuses_what_it_cannot_hold():
    x = np.zeros((1, 1, 20, 20), np.float32)
    geom = pool_geometry("max_pool2d", x.shape, 12, 1, 0, 1, False)
    with pytest.raises(ValueError, match=r"maxpool_2d: at most 127 kernel offsets fit the int8 argmax, got 144"):
        fused.maxpool_2d(x, geom)
    geom = pool_geometry("max_pool2d", x.shape, 2, None, 0, 1, False)
    with pytest.raises(ValueError, match=r"maxpool_2d: x must be 400 contiguous values of format 'f', got 400 of format 'd'"):
        fused.maxpool_2d(x.astype(np.float64), geom)
