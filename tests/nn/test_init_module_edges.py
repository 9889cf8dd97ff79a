"""nn.init's distributions and refusals, and Module/Parameter bookkeeping, against torch or by hand
(from the survivors of ``benchmarks/mutation.py nn``). Distribution checks use 100,000 draws: a
sample std within 2% of the true one, a sample mean within 0.02 std."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.helpers import require_torch

import convlab as cl
import convlab.nn as nn
from convlab.validate import ConvlabError


def _draw(fill, shape=(200, 500), **kw):
    t = cl.empty(*shape, dtype=cl.float64)
    fill(t, generator=cl.Generator().manual_seed(0), **kw)
    return t.numpy()


def test_kaiming_normal_uses_the_negative_slope():
    v = _draw(nn.init.kaiming_normal_, a=0.5, nonlinearity="leaky_relu")  # gain sqrt(2 / (1 + a^2)), fan_in 500
    assert abs(v.std() / (math.sqrt(2 / 1.25) / math.sqrt(500)) - 1) < 0.02


def test_kaiming_and_xavier_uniform_draw_from_the_given_generator_with_the_default_gain():
    a = _draw(nn.init.kaiming_uniform_)
    cl.randn(10)  # the library generator moves; the given one decides alone
    np.testing.assert_array_equal(a, _draw(nn.init.kaiming_uniform_))
    x = _draw(nn.init.xavier_uniform_)  # gain 1: U(-sqrt(6 / (fan_in + fan_out)), +...)
    bound = math.sqrt(6 / 700)
    assert np.abs(x).max() <= bound and np.abs(x).max() > 0.999 * bound


def test_trunc_normal_defaults_are_standard_on_minus_two_two():
    v = _draw(nn.init.trunc_normal_)
    assert v.min() >= -2 and v.max() <= 2 and v.max() > 1.99 and abs(v.mean()) < 0.02


@pytest.mark.parametrize("mean, std, a, b", [
    (0.5, 0.0, 0.0, 1.0),     # std 0: every value is the mean
    (0.0, 0.5, 0.5, 1.0),     # mean outside [a, b]; mass 0.136
    (10.0, 1.0, 9.0, 11.0),   # mass 0.683 around a shifted mean, either side of zero
    (-10.0, 1.0, -11.0, -9.0),
    (0.0, 1.0, 3.5, 3.9),     # a thin tail: mass 1.85e-4, just over the 1e-4 floor
])
def test_trunc_normal_fills_intervals_that_hold_enough_mass(mean, std, a, b):
    v = _draw(nn.init.trunc_normal_, shape=(50,), mean=mean, std=std, a=a, b=b)
    assert v.min() >= a and v.max() <= b
    if std == 0:
        assert (v == mean).all()


def test_trunc_normal_refusals_name_the_argument():
    with pytest.raises(ConvlabError, match=r"^trunc_normal_: b must be a finite number, got nan$"):
        nn.init.trunc_normal_(cl.empty(3), b=float("nan"))
    with pytest.raises(ConvlabError, match=r"holding at least 1e-4"):
        nn.init.trunc_normal_(cl.empty(3), a=10.0, b=11.0)
    with pytest.raises(ConvlabError, match=r"^Fan in and fan out can not be computed for a tensor with fewer than 2 "
                                           r"dimensions, got \(3,\)$"):
        nn.init.xavier_uniform_(cl.empty(3))


def test_a_single_input_layer_still_gets_a_random_bias():
    b = nn.Linear(1, 200).bias.detach().numpy()  # fan_in 1: U(-1, 1), as torch
    assert np.abs(b).max() <= 1 and np.abs(b).max() > 0.9


def test_module_bookkeeping_matches_torch():
    torch = require_torch()
    for m, P, z in ((nn, nn.Parameter, cl.zeros), (torch.nn, torch.nn.Parameter, torch.zeros)):
        outer = m.Sequential(m.Linear(2, 2))
        outer.register_parameter("own", P(z(1)))
        outer.register_buffer("b", z(2))
        outer.b = P(z(2))  # a parameter replaces the buffer of that name
        names = ([n for n, _ in outer.named_parameters(recurse=False)], [n for n, _ in outer.named_buffers()])
        if m is nn:
            ours = names
    assert ours == names == (["own", "b"], [])
    seen = []
    lin = nn.Linear(2, 2)
    lin.register_forward_hook(lambda mod, args, out: seen.append(mod))
    lin(cl.ones(1, 2))
    assert seen == [lin]  # the hook is given the module
    with pytest.raises(AttributeError, match=r"^'Linear' object has no attribute 'nothing'$"):
        lin.nothing


def test_registering_before_init_is_refused_as_torch():
    class Early(nn.Module):
        def __init__(self, what):
            if what == "module":
                self.add_module("m", nn.ReLU())
            else:
                self.register_parameter("p", None)

    for what in ("module", "parameter"):
        with pytest.raises(AttributeError, match=rf"^cannot assign {what} before Module.__init__\(\) call$"):
            Early(what)


def test_partial_state_dicts_load_what_they_hold():
    torch = require_torch()
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    bias = np.array([1.5, -2.0], dtype=np.float32)
    r = ours.load_state_dict({"bias": cl.tensor(bias)}, strict=False)  # weight (first) missing: bias still loads
    t = theirs.load_state_dict({"bias": torch.tensor(bias)}, strict=False)
    np.testing.assert_array_equal(ours.bias.detach().numpy(), theirs.bias.detach().numpy())
    assert list(r.missing_keys) == list(t.missing_keys) == ["weight"]
    with pytest.raises(RuntimeError, match=r"unsupported dtype <U1 for weight"):
        nn.Linear(3, 3).load_state_dict({"weight": np.array([["a"] * 3] * 3), "bias": np.zeros(3)})


def test_parameters_from_nothing_lists_and_lazy_dtypes():
    torch = require_torch()
    assert nn.Parameter().shape == tuple(torch.nn.Parameter().shape) == (0,)
    assert nn.Parameter().dtype == np.float32
    p = nn.Parameter([1.0, 2.0])  # array-likes are taken (torch wants a tensor)
    assert p.shape == (2,) and p.requires_grad
    lazy = nn.LazyLinear(2, dtype=cl.float64)
    lazy(cl.ones(1, 3, dtype=cl.float64))
    assert lazy.weight.dtype == lazy.bias.dtype == np.float64


@pytest.mark.parametrize("call, message", [
    (lambda: nn.Conv2d(4, 3, 3, groups=2), r"^Conv2d: out_channels \(3\) must be divisible by groups \(2\)$"),
    (lambda: nn.Embedding(5, 3, padding_idx=1.5), r"^Embedding: padding_idx must be an integer, got 1.5"),
])
def test_layer_argument_refusals(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.parametrize("call, message", [
    (lambda: nn.PReLU(init=float("nan")), r"^PReLU: init must be a finite number, got nan$"),
    (lambda: nn.init.trunc_normal_(cl.empty(3), mean=float("nan")), r"^trunc_normal_: mean must be a finite number, got nan$"),
    (lambda: nn.init.trunc_normal_(cl.empty(3), std=-1), r"^trunc_normal_: std must be non-negative, got -1"),
    (lambda: nn.Parameter("abc"), r"^Parameter: unsupported dtype <U3"),
])
def test_value_refusals_name_the_owner_and_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_trunc_normal_with_zero_spread_at_the_upper_end():
    v = _draw(nn.init.trunc_normal_, shape=(4,), mean=1.0, std=0.0, a=0.0, b=1.0)  # b itself is inside [a, b]
    assert (v == 1.0).all()


def test_more_module_bookkeeping_matches_torch():
    torch = require_torch()
    results = []
    for m, z in ((nn, cl.zeros), (torch.nn, torch.zeros)):
        net = m.Sequential(m.Sequential(m.Linear(2, 2), m.Sequential(m.ReLU())))
        names = [n for n, _ in net.named_modules()]
        holder = m.Module()
        holder.register_buffer("b", z(1), persistent=False)
        del holder.b
        holder.register_buffer("b", z(1))  # persistent this time: in the state dict
        dest = {}
        out = net.state_dict(destination=dest)
        results.append((names, list(holder.state_dict()), out is dest, sorted(dest),
                        tuple(m.Linear(3, 0)(z(2, 3)).shape)))
    assert results[0] == results[1]
    assert results[0][0] == ["", "0", "0.0", "0.1", "0.1.0"]


def test_torch_state_dicts_and_numpy_parameters_load():
    torch = require_torch()
    theirs = torch.nn.Linear(3, 2)
    ours = nn.Linear(3, 2)
    ours.load_state_dict(theirs.state_dict())  # torch tensors as values
    np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    assert nn.Parameter(np.zeros(3)).shape == (3,)
    emb = nn.Embedding.from_pretrained(cl.ones(4, 2), sparse=True)
    assert emb.sparse is torch.nn.Embedding.from_pretrained(torch.ones(4, 2), sparse=True).sparse is True
