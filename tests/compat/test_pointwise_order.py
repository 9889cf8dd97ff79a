"""A small 1x1 convolution sums its channel products in a matrix product's order, so that checking
it against ``w.reshape(O, C) @ x.reshape(N, C, -1)`` at a 1e-6 tolerance passes as often as on torch
(over many seeds), and its gradients stay torch's."""

import numpy as np
import pytest

import convlab
import convlab.nn.functional as F
from helpers import compare_with_torch, require_torch

torch = require_torch()


def _mismatches(lib, conv, shape, seeds=200):
    n, c, o, h = shape
    bad = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = rng.standard_normal((o, c, 1, 1)).astype(np.float32)
        X, W = lib.tensor(x), lib.tensor(w)
        y = conv(X, W).numpy()
        as_matmul = (W.reshape(o, c) @ X.reshape(n, c, h * h)).reshape(n, o, h, h).numpy()
        bad += not np.allclose(y, as_matmul, rtol=1e-6, atol=1e-6)
    return bad


@pytest.mark.parametrize("shape", [(2, 16, 8, 6), (1, 32, 16, 8), (4, 64, 32, 7)])
def test_a_small_1x1_convolution_agrees_with_its_matmul_as_often_as_torchs(shape):
    ours = _mismatches(convlab, F.conv2d, shape)
    theirs = _mismatches(torch, torch.nn.functional.conv2d, shape)
    assert ours <= theirs, f"{ours} of 200 seeds disagree beyond 1e-6 on convlab, {theirs} on torch"


def test_the_channel_sum_runs_in_the_natural_order_for_few_channels():
    """Against a float32 loop over the input channels, c = 0, 1, 2, ... (the order a reader writes)."""
    fails = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
        w = rng.standard_normal((3, 4, 1, 1)).astype(np.float32)
        loop = np.zeros((2, 3, 5, 5), np.float32)
        for o in range(3):
            for c in range(4):
                loop[:, o] = loop[:, o] + x[:, c] * w[o, c, 0, 0]
        fails += not np.allclose(F.conv2d(convlab.tensor(x), convlab.tensor(w)).numpy(), loop, rtol=1e-6, atol=1e-6)
    assert fails == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_pointwise_path_keeps_torchs_values_and_gradients(dtype):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 5, 4, 3)).astype(dtype), rng.standard_normal((7, 5, 1, 1)).astype(dtype),
              rng.standard_normal(7).astype(dtype)]
    compare_with_torch(lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: torch.nn.functional.conv2d(x, w, b), arrays)
