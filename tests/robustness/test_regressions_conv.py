"""Regression tests for bugs the hostile-input catalogue found in the conv/pool engine."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import conv as C

X = cl.randn(1, 3, 8, 8)
W = cl.randn(4, 3, 3, 3)


@pytest.mark.parametrize("call", [
    lambda: F.conv2d(X, W, stride=1.5), lambda: F.conv2d(X, W, padding=1.5), lambda: F.max_pool2d(X, 1.5),
    lambda: F.conv2d(X, W, dilation=True),
], ids=["stride", "padding", "kernel", "bool"])
def test_float_sizes_are_refused_not_truncated(call):
    with pytest.raises(ValueError, match=r"must be an int or a tuple of 2 ints, got (1\.5|True)"):
        call()


def test_adaptive_output_size_must_be_integer():
    with pytest.raises(ValueError, match=r"output_size must be an int or a tuple of 2 ints \(or None\), got 1\.5"):
        F.adaptive_avg_pool2d(X, 1.5)


def test_zero_channel_weights_are_refused():
    with pytest.raises(ValueError, match=r"at least one output and one input channel, got weight shape \(0, 3, 3, 3\)"):
        F.conv2d(X, cl.randn(0, 3, 3, 3))


def test_pooling_dtype_and_empty_checks():
    with pytest.raises(TypeError, match="max_pool2d: expected a numeric input, got dtype bool"):
        F.max_pool2d(cl.tensor(np.zeros((1, 1, 4, 4), bool)), 2)
    with pytest.raises(TypeError, match="adaptive_avg_pool2d: expected a floating-point input, got dtype int64"):
        F.adaptive_avg_pool2d(cl.tensor(np.zeros((1, 1, 4, 4), np.int64)), 2)
    with pytest.raises(ValueError, match=r"expected non-zero size for non-batch dimensions, got input shape \(1, 1, 0, 4\)"):
        F.adaptive_max_pool2d(cl.zeros(1, 1, 0, 4), 2)


def test_one_sample_over_the_memory_budget_is_refused_before_allocating():
    old = C.get_memory_budget()
    C.set_memory_budget(1 << 20)
    try:
        # one sample's columns: 3 * 7*7 * 122*122 * 4 bytes = 8,751,792 bytes > the 4 MiB floor and the 1 MiB budget
        with pytest.raises(MemoryError, match=r"needs 8751792 bytes .* more than the memory budget of 1048576 bytes"):
            F.conv2d(cl.randn(1, 3, 128, 128), cl.randn(2, 3, 7, 7))
    finally:
        C.set_memory_budget(old)
