"""Seeded random pooling sweeps against torch.nn.functional: 300 configurations per op,
forward and input gradient, float64 (<= 1e-8) and float32 (<= 1e-4)."""

import numpy as np

import convlab.functional as F
from helpers import require_torch
from ops.test_conv_sweep import N_CONFIGS, _sweep, check  # tests/ is on sys.path (conftest)


def _window(rng, nd, dilated):
    kernel = tuple(int(v) for v in rng.integers(1, 6, nd))
    stride = None if rng.random() < 0.25 else tuple(int(v) for v in rng.integers(1, 4, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 4, nd)) if dilated else (1,) * nd
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    return kernel, stride, padding, dilation


def _input(rng, nd, kernel, padding, dilation):
    size = tuple(int(v) for v in rng.integers(1, 21 if nd < 3 else 8, nd))
    if any(s + 2 * p < d * (k - 1) + 1 for s, p, d, k in zip(size, padding, dilation, kernel)):
        return None
    return rng.standard_normal((int(rng.integers(1, 5)), int(rng.integers(1, 9))) + size)


def _max_case(nd):
    name = f"max_pool{nd}d"

    def make(rng, dtype):
        torch = require_torch()
        kernel, stride, padding, dilation = _window(rng, nd, dilated=True)
        x = _input(rng, nd, kernel, padding, dilation)
        if x is None:
            return False
        ceil = bool(rng.integers(2))
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil)
        if np.isinf(getattr(F, name)(x, **kw).numpy()).any():
            # a dilated ceil-mode window can fall wholly in the padding: both give -inf, but torch
            # then sends its gradient to an unrelated cell (test_pool.py pins our behaviour)
            return False
        check(lambda t: getattr(F, name)(t, **kw), lambda t: getattr(torch.nn.functional, name)(t, **kw),
              [x], dtype, f"{name} {x.shape} {kw}")
        return True

    return make


def _avg_case(nd):
    name = f"avg_pool{nd}d"

    def make(rng, dtype):
        torch = require_torch()
        kernel, stride, padding, dilation = _window(rng, nd, dilated=False)
        x = _input(rng, nd, kernel, padding, dilation)
        if x is None or (nd == 3 and any(s < k for s, k in zip(x.shape[2:], kernel))):
            return False  # torch's avg_pool3d also wants the *unpadded* input to hold the kernel
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=bool(rng.integers(2)),
                  count_include_pad=bool(rng.integers(2)))
        if nd > 1 and rng.random() < 0.2:
            kw["divisor_override"] = int(rng.integers(1, 10))
        check(lambda t: getattr(F, name)(t, **kw), lambda t: getattr(torch.nn.functional, name)(t, **kw),
              [x], dtype, f"{name} {x.shape} {kw}")
        return True

    return make


def _adaptive_case(kind, nd):
    name = f"adaptive_{kind}_pool{nd}d"

    def make(rng, dtype):
        torch = require_torch()
        size = tuple(int(v) for v in rng.integers(1, 21, nd))
        out = tuple(int(rng.integers(1, s + 4)) for s in size)
        x = rng.standard_normal((int(rng.integers(1, 5)), int(rng.integers(1, 9))) + size)
        check(lambda t: getattr(F, name)(t, out), lambda t: getattr(torch.nn.functional, name)(t, out),
              [x], dtype, f"{name} {x.shape} -> {out}")
        return True

    return make


def test_max_pool1d_sweep():
    assert _sweep(_max_case(1), seed=10) == N_CONFIGS


def test_max_pool2d_sweep():
    assert _sweep(_max_case(2), seed=11) == N_CONFIGS


def test_avg_pool1d_sweep():
    assert _sweep(_avg_case(1), seed=12) == N_CONFIGS


def test_avg_pool2d_sweep():
    assert _sweep(_avg_case(2), seed=13) == N_CONFIGS


def test_adaptive_avg_pool2d_sweep():
    assert _sweep(_adaptive_case("avg", 2), seed=14) == N_CONFIGS


def test_adaptive_max_pool2d_sweep():
    assert _sweep(_adaptive_case("max", 2), seed=15) == N_CONFIGS


def test_max_pool3d_sweep():
    assert _sweep(_max_case(3), seed=18) == N_CONFIGS


def test_avg_pool3d_sweep():
    assert _sweep(_avg_case(3), seed=19) == N_CONFIGS


def test_adaptive_max_pool1d_sweep():
    assert _sweep(_adaptive_case("max", 1), seed=20) == N_CONFIGS


def test_adaptive_avg_pool1d_sweep():
    assert _sweep(_adaptive_case("avg", 1), seed=16) == N_CONFIGS


def test_max_unpool2d_round_trip_sweep():
    torch = require_torch()
    tf = torch.nn.functional
    rng = np.random.default_rng(17)
    for i in range(N_CONFIGS):
        k = int(rng.integers(1, 4))
        s = int(rng.integers(1, 4))
        p = int(rng.integers(0, k // 2 + 1))
        size = tuple(int(v) for v in rng.integers(k, 13, 2))
        x = rng.standard_normal((int(rng.integers(1, 3)), int(rng.integers(1, 4))) + size)
        _, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        _, ridx = tf.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
        np.testing.assert_array_equal(idx.numpy(), ridx.numpy())
        y = F.max_pool2d(x, k, s, p).numpy()
        args = (k, s, p)
        check(lambda t, idx=idx, size=size, args=args: F.max_unpool2d(t, idx, *args, output_size=size),
              lambda t, ridx=ridx, size=size, args=args: tf.max_unpool2d(t, ridx, *args, output_size=size),
              [y], np.float64 if i % 2 == 0 else np.float32, f"max_unpool2d {x.shape} k{k} s{s} p{p}")
