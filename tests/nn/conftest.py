"""The layer comparison used across tests/nn: same weights in convlab and torch, compare the
output, the input gradient, every parameter gradient and every buffer."""

import numpy as np
import pytest

import convlab as cl
from helpers import TOL, require_torch


def copy_from_torch(cl_module, th_module):
    """Load torch's state dict into the convlab module (exercises load_state_dict too)."""
    cl_module.load_state_dict({k: v.detach().numpy() for k, v in th_module.state_dict().items()})


def _check_layer(cl_layer, th_layer, x, *, rtol=None, atol=None, seed=1, copy=True):
    torch = require_torch()
    r, a = TOL[x.dtype.type]
    rtol, atol = rtol or r, atol or a
    if x.dtype == np.float64:
        th_layer.double()
        cl_layer.double()
    if copy:
        copy_from_torch(cl_layer, th_layer)
    floating = x.dtype.kind == "f"
    xc = cl.tensor(x, requires_grad=floating)
    xt = torch.tensor(x, requires_grad=floating)
    yc, yt = cl_layer(xc), th_layer(xt)
    assert yc.shape == tuple(yt.shape), f"shape {yc.shape} != torch {tuple(yt.shape)}"
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=atol, err_msg="output")
    for name, b in th_layer.named_buffers():
        np.testing.assert_allclose(dict(cl_layer.named_buffers())[name].numpy(), b.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"buffer {name}")
    if not yt.requires_grad:
        return yc
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(x.dtype)
    yc.backward(g)
    yt.backward(torch.tensor(g))
    if floating:
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol, err_msg="input grad")
    th_params = dict(th_layer.named_parameters())
    cl_params = dict(cl_layer.named_parameters())
    assert sorted(cl_params) == sorted(th_params)
    for name, p in cl_params.items():
        np.testing.assert_allclose(p.grad.numpy(), th_params[name].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"grad of {name}")
    return yc


@pytest.fixture
def check_layer():
    return _check_layer


@pytest.fixture
def torch_copy():
    return copy_from_torch
