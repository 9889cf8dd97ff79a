"""Batched, broadcasting matmul against torch, including 1-D promotion."""

import numpy as np
import pytest

import convlab as cl
from helpers import compare_with_torch, gradcheck_op, rand, require_torch

SHAPES = [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
          ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 6))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_matches_torch(shapes, dtype):
    from helpers import rand

    compare_with_torch(lambda a, b: a @ b, lambda a, b: a @ b, [rand(shapes[0], 1, dtype), rand(shapes[1], 2, dtype)])


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_matmul_gradcheck(shapes):
    gradcheck_op(lambda a, b: cl.matmul(a, b), *shapes)


def test_matmul_error_names_shapes():
    with pytest.raises(ValueError, match=r"matmul: \(3, 4\) @ \(5, 2\): inner dimensions 4 and 5 differ"):
        cl.ones(3, 4) @ cl.ones(5, 2)


LINEAR_SHAPES = [((5, 4), (3, 4)), ((4,), (3, 4)), ((2, 5, 4), (3, 4)), ((0, 4), (3, 4))]


@pytest.mark.parametrize("shapes", LINEAR_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_fused_linear_matches_torch(shapes, dtype, bias):
    """F.linear is one node (ops.matmul.Linear): values and the input, weight and bias gradients
    against torch (TOL: float64 rel 1e-8, float32 rel 1e-4), for 1-D, 2-D, 3-D and empty inputs."""
    torch = require_torch()
    arrays = [rand(shapes[0], 1, dtype), rand(shapes[1], 2, dtype)] + ([rand(shapes[1][:1], 3, dtype)] if bias else [])
    compare_with_torch(lambda *t: cl.nn.functional.linear(*t), lambda *t: torch.nn.functional.linear(*t), arrays)


def test_fused_linear_gradcheck_and_single_node():
    """float64 finite differences through x, W and b; and the output's graph node is the one
    Linear function (not transpose, matmul and add)."""
    from convlab.ops.matmul import Linear

    gradcheck_op(lambda x, w, b: cl.nn.functional.linear(x, w, b), (2, 3, 4), (5, 4), (5,))
    y = cl.nn.functional.linear(cl.ones(2, 4, requires_grad=True), cl.ones(3, 4), cl.ones(3))
    assert y._node.fn is Linear
    np.testing.assert_array_equal(y.detach().numpy(), np.full((2, 3), 5.0, np.float32))


def test_fused_linear_keeps_numpy_promotion_for_mixed_dtypes():
    """A float32 input with a float64 bias promotes as ``x @ W.T + b`` does in NumPy."""
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    w = np.ones((2, 3), np.float32)
    b = np.array([0.5, -0.5])
    y = cl.nn.functional.linear(cl.tensor(x), cl.tensor(w), cl.tensor(b))
    np.testing.assert_array_equal(y.numpy(), x @ w.T + b)
    assert y.dtype == np.float64
