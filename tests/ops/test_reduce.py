"""Reductions and softmax: gradcheck and torch parity, including keepdim and tuple dims."""

import numpy as np
import pytest

import convlab as cl
from helpers import compare_with_torch, gradcheck_op, rand, require_torch

DIMS = [None, 0, 1, -1, (0, 2)]


@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_mean(op, dim, keepdim, dtype):
    torch = require_torch()
    x = rand((2, 3, 4), 0, dtype)
    if dim is None:
        th = lambda t: getattr(torch, op)(t)  # noqa: E731
        clf = lambda t: getattr(cl, op)(t)  # noqa: E731
    else:
        th = lambda t: getattr(torch, op)(t, dim=dim, keepdim=keepdim)  # noqa: E731
        clf = lambda t: getattr(cl, op)(t, dim=dim, keepdim=keepdim)  # noqa: E731
    compare_with_torch(clf, th, [x])


@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("dim", [0, (1, 2), -1], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin_with_ties(op, dim, keepdim):
    torch = require_torch()
    x = np.round(rand((3, 4, 5), 0), 0)  # many ties: gradient is shared evenly among them
    compare_with_torch(lambda t: getattr(cl, op)(t, dim, keepdim), lambda t: getattr(torch, op)(t, dim, keepdim), [x])


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_along_dim_returns_values_and_indices(op, keepdim):
    torch = require_torch()
    x = rand((3, 5), 4)
    compare_with_torch(lambda t: getattr(cl, op)(t, 1, keepdim).values,
                       lambda t: getattr(torch, op)(t, 1, keepdim).values, [x])
    idx = getattr(cl, op)(cl.tensor(x), 1, keepdim).indices.numpy()
    np.testing.assert_array_equal(idx, getattr(torch, op)(torch.tensor(x), 1, keepdim).indices.numpy())


def test_full_max_shares_ties_like_torch():
    torch = require_torch()
    x = np.array([[1.0, 3.0], [3.0, 2.0]])
    compare_with_torch(lambda t: cl.max(t), lambda t: torch.max(t), [x])


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)], ids=str)
@pytest.mark.parametrize("correction", [0, 1])
def test_var_std(op, dim, correction):
    torch = require_torch()
    x = rand((3, 4, 2), 2)
    compare_with_torch(lambda t: getattr(cl, op)(t, dim=dim, correction=correction),
                       lambda t: getattr(torch, op)(t, dim=dim, correction=correction), [x])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_family(op, dim, dtype):
    torch = require_torch()
    x = rand((3, 4, 5), 7, dtype)
    compare_with_torch(lambda t: getattr(cl, op)(t, dim), lambda t: getattr(torch, op)(t, dim), [x])


def test_softmax_stable_for_huge_logits():
    torch = require_torch()
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32)
    compare_with_torch(lambda t: cl.log_softmax(t, 1), lambda t: torch.log_softmax(t, 1), [x])
    compare_with_torch(lambda t: cl.softmax(t, 1), lambda t: torch.softmax(t, 1), [x])


@pytest.mark.parametrize(
    "fn",
    [lambda t: t.sum(1), lambda t: t.mean((0, 1), keepdim=True), lambda t: cl.amax(t, 1), lambda t: t.max(0).values,
     lambda t: t.var(1), lambda t: t.std(), lambda t: cl.softmax(t, 1), lambda t: cl.log_softmax(t, 0)],
)
def test_reduce_gradcheck(fn):
    gradcheck_op(fn, (3, 4))


def test_bad_dim_is_rejected():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 3\)"):
        cl.ones(2, 3).sum(3)
