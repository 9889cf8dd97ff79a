"""Lazy layers and nn.parallel, as torch programs use them."""

import math

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from helpers import require_torch

torch = require_torch()


@pytest.mark.parametrize("make,x_shape,weight_shape,fan_in", [
    (lambda lib: lib.nn.LazyLinear(3), (2, 7), (3, 7), 7),
    (lambda lib: lib.nn.LazyConv2d(4, 3, padding=1), (2, 5, 6, 6), (4, 5, 3, 3), 45),
    (lambda lib: lib.nn.LazyConv2d(4, 3, groups=2), (1, 6, 5, 5), (4, 3, 3, 3), 27),
    (lambda lib: lib.nn.LazyConv1d(2, 5), (1, 3, 9), (2, 3, 5), 15),
])
def test_lazy_layers_take_their_input_size_from_the_first_batch(make, x_shape, weight_shape, fan_in):
    ours, theirs = make(convlab), make(torch)
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    y, ty = ours(convlab.tensor(x)), theirs(torch.tensor(x))
    assert y.shape == tuple(ty.shape) and ours.weight.shape == tuple(theirs.weight.shape) == weight_shape
    bound = 1 / math.sqrt(fan_in)  # torch's default init, drawn when the shape becomes known
    assert float(ours.weight.abs().max()) <= bound and float(ours.bias.abs().max()) <= bound
    assert float(ours.weight.abs().max()) > 0.5 * bound and not ours.has_uninitialized_params()
    # the layer then behaves exactly as the plain one with the same weights
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    np.testing.assert_allclose(ours(convlab.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_an_optimizer_made_before_the_first_pass_trains_the_lazy_weights():
    convlab.manual_seed(0)
    net = nn.Sequential(nn.LazyConv2d(3, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    opt = convlab.optim.SGD(net.parameters(), lr=0.1)
    x, y = convlab.randn(4, 1, 6, 6), convlab.tensor([0, 1, 0, 1])
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert net[0].weight.shape == (3, 1, 3, 3) and net[3].weight.shape == (2, 48)
    assert losses[-1] < 0.5 * losses[0]


def test_data_parallel_is_the_module_behind_torchs_interface():
    inner = nn.Linear(3, 2)
    dp = nn.DataParallel(inner, device_ids=[0])
    assert dp.module is inner and list(dp.state_dict()) == list(torch.nn.DataParallel(torch.nn.Linear(3, 2)).state_dict())
    x = convlab.ones(4, 3)
    np.testing.assert_array_equal(dp(x).detach().numpy(), inner(x).detach().numpy())
    assert nn.parallel.DataParallel is nn.DataParallel
