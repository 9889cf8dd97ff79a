"""torch's everyday tensor functions that public programs call (``x.norm()``, ``torch.flip``,
``scatter_`` one-hot labels, ``floor``/``round``, in-place ``relu_``...), compared with torch in
float64: values and gradients at the helpers' float64 tolerance (rtol 1e-8, atol 1e-10)."""

import math

import numpy as np
import pytest

import convlab
from helpers import compare_with_torch, rand, require_torch

torch = require_torch()

UNARY = ["floor", "ceil", "trunc", "sign", "round", "sin", "cos", "tan", "sinh", "cosh", "atan", "log1p", "expm1",
         "log2", "log10", "reciprocal", "rsqrt", "square"]


@pytest.mark.parametrize("name", UNARY)
def test_elementwise_function_and_method_match_torch(name):
    positive = name in ("log2", "log10", "rsqrt", "log1p", "reciprocal")
    x = rand((3, 4), seed=1, low=0.1 if positive else None) * (1 if positive else 2.3)
    compare_with_torch(lambda a: getattr(convlab, name)(a), lambda a: getattr(torch, name)(a), [x])
    compare_with_torch(lambda a: getattr(a, name)(), lambda a: getattr(a, name)(), [x])


@pytest.mark.parametrize("kwargs", [{}, {"p": 1}, {"p": 3, "dim": 1}, {"dim": (0, 1), "keepdim": True},
                                    {"p": math.inf, "dim": 0}, {"p": "fro", "dim": -1}])
def test_norm_matches_torch(kwargs):
    x = rand((3, 4), seed=2)
    compare_with_torch(lambda a: a.norm(**kwargs), lambda a: a.norm(**kwargs), [x])
    compare_with_torch(lambda a: convlab.norm(a, **kwargs), lambda a: torch.norm(a, **kwargs), [x])


def test_norm_of_zeros_has_a_zero_gradient_as_torch():
    x = convlab.zeros(3, dtype=convlab.float64, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("fn", [
    lambda L, a: L.logsumexp(a, dim=1), lambda L, a: a.logsumexp(0, keepdim=True),
    lambda L, a: L.flip(a, [0, 1]), lambda L, a: a.flip(1), lambda L, a: L.fliplr(a),
    lambda L, a: L.roll(a, 1, 0), lambda L, a: a.roll((2, -1), (1, 0)), lambda L, a: L.roll(a, 3),
    lambda L, a: L.unbind(a, 1)[2], lambda L, a: a.narrow(1, 1, 2), lambda L, a: a.select(0, -1),
    lambda L, a: L.tril(a), lambda L, a: a.triu(1), lambda L, a: L.clamp_min(a, 0.1), lambda L, a: a.clamp_max(0),
])
def test_reductions_and_movement_match_torch(fn):
    compare_with_torch(lambda a: fn(convlab, a), lambda a: fn(torch, a), [rand((3, 4), seed=3)])


def test_scatter_makes_one_hot_labels_and_routes_gradients():
    labels = np.array([[1], [3], [0]])
    ours = convlab.zeros(3, 4).scatter_(1, convlab.tensor(labels), 1)
    theirs = torch.zeros(3, 4).scatter_(1, torch.tensor(labels), 1)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    index = np.array([[0, 2], [1, 0]])
    compare_with_torch(lambda a, s: a.scatter(1, convlab.tensor(index), s),
                       lambda a, s: a.scatter(1, torch.tensor(index), s), [rand((2, 3), seed=4), rand((2, 2), seed=5)])
    rows = np.array([[0, 1], [0, 0]])  # two writes into cell (0, 1): scatter_add sums them
    compare_with_torch(lambda a, s: convlab.scatter_add(a, 0, convlab.tensor(rows), s),
                       lambda a, s: torch.scatter_add(a, 0, torch.tensor(rows), s),
                       [rand((2, 3), seed=4), rand((2, 2), seed=5)])


def test_comparisons_and_logic_as_functions():
    a, b = rand((5,), seed=6), rand((5,), seed=7)
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal"):
        np.testing.assert_array_equal(getattr(convlab, name)(convlab.tensor(a), convlab.tensor(b)).numpy(),
                                      getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy())
    p, q = a > 0, b > 0
    for name in ("logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(getattr(convlab, name)(convlab.tensor(p), convlab.tensor(q)).numpy(),
                                      getattr(torch, name)(torch.tensor(p), torch.tensor(q)).numpy())
    np.testing.assert_array_equal(convlab.logical_not(convlab.tensor(p)).numpy(), ~p)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch(indexing):
    ours = convlab.meshgrid(convlab.arange(3), convlab.arange(4), convlab.arange(2), indexing=indexing)
    theirs = torch.meshgrid(torch.arange(3), torch.arange(4), torch.arange(2), indexing=indexing)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())


@pytest.mark.parametrize("name,args", [("relu_", ()), ("sigmoid_", ()), ("exp_", ()), ("pow_", (2,)),
                                       ("floor_", ()), ("clamp_min_", (0.2,)), ("masked_fill_", None)])
def test_in_place_forms_write_into_the_tensor(name, args):
    x = rand((2, 3), seed=8)
    if args is None:
        args = (x > 0, -1.0)
    ours, theirs = convlab.tensor(x), torch.tensor(x)
    o_args = [convlab.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    t_args = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    assert getattr(ours, name)(*o_args) is ours
    getattr(theirs, name)(*t_args)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-15)
    leaf = convlab.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(leaf, name)(*o_args)


def test_clamp_with_tensor_bounds_matches_torch_values_and_gradients():
    """bentrevett's AlexNet notebook: ``image.clamp_(min=image.min(), max=image.max())``."""
    lo, hi = rand((4,), seed=10) * 0.3, np.array(0.5)
    compare_with_torch(lambda a, lo_, hi_: convlab.clamp(a, lo_, hi_), lambda a, lo_, hi_: torch.clamp(a, lo_, hi_),
                       [rand((3, 4), seed=9), lo, hi])
    compare_with_torch(lambda a, lo_: a.clamp(min=lo_), lambda a, lo_: a.clamp(min=lo_), [rand((3, 4), seed=9), lo])
    image = convlab.tensor(rand((2, 3), seed=11))
    image.clamp_(min=image.min(), max=image.max() * 0.5)
    assert float(image.max()) == pytest.approx(rand((2, 3), seed=11).max() * 0.5)
