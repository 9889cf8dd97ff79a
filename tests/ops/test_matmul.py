"""Batched, broadcasting matmul against torch, including 1-D promotion."""

import numpy as np
import pytest

import convlab as cl
from helpers import compare_with_torch, gradcheck_op

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
