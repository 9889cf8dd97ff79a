"""Branches no other test reached (found by seeding bugs into a copy and by the mutation run):
batch norm's evaluation-mode weight and bias gradients and its partial ``needs_input_grad``
cases, on both kernel paths; the 3-D adaptive max pool and max unpool. Each against torch."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from helpers import require_torch

torch = require_torch()


def _rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)], ids=["float32", "float64"])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("grads", ["all", "input", "weight", "bias", "affine"])
def test_batch_norm_gradients_of_each_argument_match_torch(training, grads, dtype, tol, kernels_path):
    """Input, weight and bias gradients (each asked for alone, and all together) in training and in
    evaluation mode (running statistics: then the weight's gradient is sum(g * x_hat) with the
    running mean and variance), normwise against torch; the ones not asked for stay None."""
    rng = np.random.default_rng(4)
    shape = (3, 4, 5, 6)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w, b = rng.uniform(0.5, 1.5, 4).astype(dtype), rng.standard_normal(4).astype(dtype)
    mean, var = rng.standard_normal(4).astype(dtype), rng.uniform(0.5, 2, 4).astype(dtype)
    wants = {"all": (1, 1, 1), "input": (1, 0, 0), "weight": (0, 1, 0), "bias": (0, 0, 1), "affine": (0, 1, 1)}[grads]
    ours = [cl.tensor(v, requires_grad=bool(r)) for v, r in zip((x, w, b), wants)]
    theirs = [torch.tensor(v, requires_grad=bool(r)) for v, r in zip((x, w, b), wants)]
    y = F.batch_norm(ours[0], cl.tensor(mean.copy()), cl.tensor(var.copy()), ours[1], ours[2], training=training)
    ty = torch.nn.functional.batch_norm(theirs[0], torch.tensor(mean.copy()), torch.tensor(var.copy()), theirs[1],
                                        theirs[2], training=training)
    assert _rel(y.detach().numpy(), ty.detach().numpy()) <= tol
    y.backward(g)
    ty.backward(torch.tensor(g))
    for name, o, t, r in zip(("input", "weight", "bias"), ours, theirs, wants):
        if r:
            assert _rel(o.grad.numpy(), t.grad.numpy()) <= 10 * tol, name
        else:
            assert o.grad is None, name


@pytest.mark.parametrize("output_size", [(2, 3, 2), (1, 1, 1), (3, 5, 4), (None, 2, 3)], ids=str)
def test_adaptive_max_pool3d_matches_torch(output_size):
    """Values, argmax indices and the gradient (routed to each window's maximum) in float64."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 7, 6))
    ours, theirs = cl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, idx = F.adaptive_max_pool3d(ours, output_size, return_indices=True)
    ty, tidx = torch.nn.functional.adaptive_max_pool3d(theirs, output_size, return_indices=True)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    g = rng.standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("size, kernel, stride, padding, output_size", [  # size: what the default output size gives
    ((4, 6, 8), 2, 2, 0, None), ((5, 7, 9), 3, 2, 1, None), ((4, 7, 8), (2, 3, 2), (2, 2, 1), (1, 0, 1), None),
    ((5, 7, 9), 2, 2, 0, (5, 7, 9)),
], ids=str)
def test_max_unpool3d_inverts_max_pool3d_like_torch(size, kernel, stride, padding, output_size):
    """Each pooled value goes back to its argmax position (zeros elsewhere), with or without an
    explicit output size; the gradient gathers from those positions. float64, exact."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 2, *size))
    ty, tidx = torch.nn.functional.max_pool3d(torch.tensor(x), kernel, stride, padding, return_indices=True)
    y = cl.tensor(ty.numpy(), requires_grad=True)
    tyg = ty.clone().requires_grad_(True)
    ours = F.max_unpool3d(y, cl.tensor(tidx.numpy()), kernel, stride, padding, output_size=output_size)
    theirs = torch.nn.functional.max_unpool3d(tyg, tidx, kernel, stride, padding, output_size=output_size)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    g = rng.standard_normal(theirs.shape)
    ours.backward(g)
    theirs.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.grad.numpy(), tyg.grad.numpy())
