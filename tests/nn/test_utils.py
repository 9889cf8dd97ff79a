"""Gradient clipping against torch.nn.utils; convlab.nn.functional is convlab.functional."""

import math

import numpy as np
import pytest

import convlab as cl
import convlab.nn as nn
from helpers import rand, require_torch


@pytest.mark.parametrize("max_norm,norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, math.inf)])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    torch = require_torch()
    grads = [rand((3, 4), 0), rand((5,), 1)]
    ours = [nn.Parameter(cl.zeros(*g.shape, dtype=cl.float64)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = cl.tensor(g), torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(ref.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_nonfinite():
    p = nn.Parameter(cl.zeros(3))
    p.grad = cl.tensor([-2.0, 0.5, 3.0])
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.5, 1.0]
    p.grad = cl.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_nn_functional_alias():
    import convlab.functional
    import convlab.nn.functional as F

    for name in ("conv2d", "max_pool2d", "relu", "cross_entropy", "batch_norm", "dropout", "softmax"):
        assert getattr(F, name) is getattr(convlab.functional, name)
