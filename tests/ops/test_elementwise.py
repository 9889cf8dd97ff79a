"""Elementwise ops: gradcheck in float64 and parity with torch (values and gradients)."""

import numpy as np
import pytest

import convlab as cl
from helpers import compare_with_torch, gradcheck_op, rand, require_torch

# broadcasting edge cases: equal, size-1 axes, scalars (0-d), leading-axis broadcast
SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (3, 2)), ((5,), ()), ((2, 1, 3), (4, 1))]

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a**b, lambda a, b: a**b),
    "maximum": (cl.maximum, None),
    "minimum": (cl.minimum, None),
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_matches_torch(name, shapes, dtype):
    torch = require_torch()
    cl_fn, th_fn = BINARY[name]
    th_fn = th_fn or getattr(torch, name)
    low = 0.5 if name in ("pow", "div") else None
    a, b = rand(shapes[0], 1, dtype, low=low), rand(shapes[1], 2, dtype, low=low)
    compare_with_torch(cl_fn, th_fn, [a, b])


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_gradcheck(name):
    gradcheck_op(BINARY[name][0], (3, 1), (1, 4), low=0.5)


UNARY = {
    "neg": (lambda a: -a, lambda a: -a, None),
    "exp": (cl.exp, None, None),
    "log": (cl.log, None, 0.1),
    "sqrt": (cl.sqrt, None, 0.1),
    "abs": (cl.abs, None, None),
    "tanh": (cl.tanh, None, None),
    "sigmoid": (cl.sigmoid, None, None),
    "relu": (cl.relu, None, None),
    "leaky_relu": (lambda a: cl.leaky_relu(a, 0.2), "F.leaky_relu", None),
    "clamp": (lambda a: cl.clamp(a, -0.5, 0.7), "clamp", None),
    "clamp_min": (lambda a: cl.clamp(a, min=0.1), "clamp_min", None),
}


def _torch_unary(torch, name, spec):
    import torch.nn.functional as F

    if spec is None:
        return getattr(torch, name)
    if callable(spec):
        return spec
    return {
        "F.leaky_relu": lambda a: F.leaky_relu(a, 0.2),
        "clamp": lambda a: torch.clamp(a, -0.5, 0.7),
        "clamp_min": lambda a: torch.clamp(a, min=0.1),
    }[spec]


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unary_matches_torch(name, shape, dtype):
    torch = require_torch()
    cl_fn, spec, low = UNARY[name]
    compare_with_torch(cl_fn, _torch_unary(torch, name, spec), [rand(shape, 3, dtype, low=low)])


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_gradcheck(name):
    cl_fn, _, low = UNARY[name]
    gradcheck_op(cl_fn, (4, 3), low=low if low else None)


def test_where_matches_torch():
    torch = require_torch()
    cond = rand((3, 4), 5) > 0
    compare_with_torch(
        lambda c, a, b: cl.where(c, a, b), lambda c, a, b: torch.where(c, a, b), [cond, rand((3, 1), 1), rand((4,), 2)]
    )


def test_sigmoid_is_stable_for_huge_logits():
    x = cl.tensor([-1e4, -100.0, 0.0, 100.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = cl.sigmoid(x).numpy()
    np.testing.assert_allclose(y, [0.0, 3.7200760e-44, 0.5, 1.0, 1.0], rtol=1e-6, atol=1e-43)


def test_scalar_operand_keeps_float32():
    x = cl.ones(3)
    assert (x * 2.5).dtype == np.float32
    assert (2.5 - x).dtype == np.float32
    assert (x**2).dtype == np.float32
    assert (cl.arange(3) * 0.5).dtype == np.float32  # int tensor * float -> default float, as torch


def test_broadcast_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(5,\) cannot be broadcast"):
        cl.ones(3, 4) + cl.ones(5)


def test_comparisons_return_bool_tensors_without_grad():
    x = cl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    assert m.tolist() == [False, True, True]
    assert (x == 2.0).tolist() == [False, True, False]
