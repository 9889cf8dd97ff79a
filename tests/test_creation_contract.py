"""Creation functions against torch: dtypes, requires_grad, broadcast shapes, ranges and refusals
(from the survivors of ``benchmarks/mutation.py tensor``)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.helpers import require_torch

import convlab as cl


def _same(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert ours.requires_grad == theirs.requires_grad


def test_options_pass_through_like_torchs():
    torch = require_torch()
    _same(cl.eye(2, 3, dtype=cl.float64, requires_grad=True), torch.eye(2, 3, dtype=torch.float64, requires_grad=True))
    _same(cl.randperm(5, dtype=cl.float32, requires_grad=True), torch.randperm(5, dtype=torch.float32, requires_grad=True))
    _same(cl.randint(3, 9, (2, 4), dtype=cl.int32), torch.randint(3, 9, (2, 4), dtype=torch.int32))
    _same(cl.normal(0.0, 1.0, (2, 3), requires_grad=True), torch.normal(0.0, 1.0, (2, 3), requires_grad=True))
    _same(cl.zeros_like(cl.ones(2, 2), requires_grad=True), torch.zeros_like(torch.ones(2, 2), requires_grad=True))
    _same(cl.zeros(cl.tensor([2, 3])), torch.zeros(torch.Size([2, 3])))  # a size given as a 1-D tensor
    _same(cl.zeros(cl.tensor(4)), torch.zeros(torch.Size([4])))  # a 0-d tensor size


def test_normal_broadcasts_mean_and_std_tensors():
    torch = require_torch()
    m, s = np.zeros((3, 1)), np.ones((1, 4))
    _same(cl.normal(cl.tensor(m), cl.tensor(s)), torch.normal(torch.tensor(m), torch.tensor(s)))
    _same(cl.normal(0.0, cl.tensor(s)), torch.normal(0.0, torch.tensor(s)))
    _same(cl.normal(cl.tensor(m), 2.0), torch.normal(torch.tensor(m), 2.0))
    big = cl.normal(cl.full((20000,), 5.0, dtype=cl.float64), 0.5).numpy()
    assert abs(big.mean() - 5.0) < 0.02 and abs(big.std() - 0.5) < 0.02  # 20,000 draws: within 4 standard errors


def test_randint_with_one_bound_is_zero_to_it_and_randperm_of_nothing_is_empty():
    torch = require_torch()
    v = cl.randint(4, (1000,)).numpy()
    assert v.dtype == np.int64 and v.min() == 0 and v.max() == 3
    _same(cl.randperm(0), torch.randperm(0))


@pytest.mark.parametrize("call, kind, message", [
    (lambda: cl.arange(0, 5, -1), ValueError, r"arange"),
    (lambda: cl.randperm(True), ValueError, r"^randperm: n must be a non-negative integer, got True$"),
    (lambda: cl.randperm(-1), ValueError, r"randperm"),
    (lambda: cl.zeros((2, -1)), ValueError, r"^size must be a sequence of non-negative integers, got \(2, -1\)$"),
    (lambda: cl.zeros(2, size=(3,)), TypeError, r"^zeros\(\) got the size both positionally and as size="),
    (lambda: cl.zeros(10**7, 10**7), ValueError, r"^size: a tensor of shape \(10000000, 10000000\) needs"),
    (lambda: cl.arange(0, 1e15), ValueError, r"^arange: the range of shape \(1000000000000000,\) needs"),
    (lambda: cl.zeros(2, dtype="complex"), TypeError, r"dtype"),
])
def test_refusals_name_what_was_wrong(call, kind, message):
    with pytest.raises(kind, match=message):
        call()
