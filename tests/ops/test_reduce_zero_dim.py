"""max/min along a dim of a 0-d tensor: torch takes dim 0 or -1 (the tensor itself) and returns the
value and index 0; convlab raised a bare ValueError from unpacking the empty dims (found by a mutant of
MaxDim.forward's 0-d branch, which no input could reach)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.helpers import require_torch

import convlab


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_along_the_only_dim_of_a_scalar_is_torchs(name, dim, keepdim):
    torch = require_torch()
    x = convlab.tensor(3.5, dtype=convlab.float64, requires_grad=True)
    t = torch.tensor(3.5, dtype=torch.float64, requires_grad=True)
    v, i = getattr(x, name)(dim=dim, keepdim=keepdim)
    tv, ti = getattr(t, name)(dim=dim, keepdim=keepdim)
    assert v.shape == tuple(tv.shape) == () and i.shape == tuple(ti.shape) == ()
    assert v.item() == tv.item() == 3.5 and i.item() == ti.item() == 0 and i.dtype == np.int64
    v.backward(convlab.tensor(2.0, dtype=convlab.float64))
    tv.backward(torch.tensor(2.0, dtype=torch.float64))
    assert x.grad.item() == t.grad.item() == 2.0
    v.data.fill_(0.0)  # the result is a new tensor, not a view of the input
    assert x.item() == 3.5


def test_max_along_a_missing_dim_of_a_scalar_is_refused_as_torch():
    with pytest.raises(IndexError, match=r"expected to be in range of \[-1, 0\], but got 1"):
        convlab.tensor(3.0).max(dim=1)
