"""convlab.nn.init: gains, fans, bounds and statistics as torch.nn.init documents them."""

import math

import numpy as np
import pytest

import convlab as cl
from convlab.nn import init
from helpers import require_torch


def test_calculate_gain_matches_torch():
    torch = require_torch()
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError, match="Unsupported"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape,fans", [((20, 30), (30, 20)), ((16, 8, 3, 3), (72, 144)), ((4, 2, 5), (10, 20))])
def test_fans(shape, fans):
    assert init._calculate_fan_in_and_fan_out(cl.zeros(*shape)) == fans


def test_kaiming_and_xavier_statistics():
    w = cl.zeros(256, 128, 3, 3)  # fan_in 1152, fan_out 2304
    fan_in, fan_out = 128 * 9, 256 * 9
    init.kaiming_uniform_(w, a=0, nonlinearity="relu")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan_in)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.01)
    init.xavier_uniform_(w, gain=2.0)
    xb = 2.0 * math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(w.data).max() <= xb and w.data.std() == pytest.approx(xb / math.sqrt(3), rel=0.01)
    init.xavier_normal_(w)
    assert w.data.std() == pytest.approx(math.sqrt(2.0 / (fan_in + fan_out)), rel=0.01)
    assert abs(w.data.mean()) < 1e-3
    assert w.dtype == np.float32


def test_fill_and_simple_distributions():
    t = cl.zeros(1000, dtype=cl.float64)
    assert init.constant_(t, 0.5) is t and set(t.data.tolist()) == {0.5}
    assert set(init.ones_(t).data.tolist()) == {1.0} and set(init.zeros_(t).data.tolist()) == {0.0}
    init.uniform_(t, -2, 3)
    assert t.data.min() >= -2 and t.data.max() < 3
    init.normal_(t, 1.0, 0.1)
    assert t.data.mean() == pytest.approx(1.0, abs=0.02) and t.dtype == np.float64
    init.trunc_normal_(t, std=1.0, a=-0.5, b=0.5)
    assert t.data.min() >= -0.5 and t.data.max() <= 0.5


def test_init_is_in_place_without_graph_and_seeded():
    p = cl.nn.Parameter(cl.zeros(4, 4))
    data = p._data
    cl.manual_seed(1)
    init.kaiming_uniform_(p, a=math.sqrt(5))
    assert p._data is data and p.is_leaf and p.grad is None
    first = p.detach().numpy().copy()
    cl.manual_seed(1)
    init.kaiming_uniform_(p, a=math.sqrt(5))
    np.testing.assert_array_equal(p.data, first)
    own = np.random.default_rng(0)
    init.normal_(p, generator=own)
    np.testing.assert_array_equal(p.data, np.random.default_rng(0).normal(0, 1, (4, 4)).astype(np.float32))


def test_init_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(cl.zeros(3))
    with pytest.raises(ValueError, match="Mode"):
        init.kaiming_uniform_(cl.zeros(3, 3), mode="fan_avg")
