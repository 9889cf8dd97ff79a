"""The torch functions programs reach for beyond the core ops, each compared with torch."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
import convlab.nn.functional as F
from helpers import compare_with_torch, require_torch

torch = require_torch()
RNG = np.random.default_rng(0)


def test_mm_bmm_repeat_and_sort_follow_torch_with_gradients():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))
    compare_with_torch(lambda x, y: convlab.mm(x, y), lambda x, y: torch.mm(x, y), [a, b])
    compare_with_torch(lambda x, y: convlab.bmm(x, y), lambda x, y: torch.bmm(x, y),
                       [RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 5))])
    compare_with_torch(lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), [RNG.standard_normal((2, 3))])
    compare_with_torch(lambda x: convlab.sort(x, 1, descending=True).values,
                       lambda x: torch.sort(x, 1, descending=True).values, [RNG.standard_normal((3, 5))])
    x = np.array([[3.0, 1.0, 2.0, 1.0]])
    assert convlab.sort(convlab.tensor(x)).indices.tolist() == torch.sort(torch.tensor(x), stable=True).indices.tolist()
    assert convlab.tensor(x).argsort(descending=True).tolist() == [[0, 2, 1, 3]]
    with pytest.raises(RuntimeError, match="mm: expected 2-D"):
        convlab.mm(convlab.ones(2), convlab.ones(2))


def test_predicates_and_comparison_methods():
    x = np.array([1.0, np.nan, np.inf, -2.0])
    t, tt = convlab.tensor(x), torch.tensor(x)
    for name in ("isnan", "isfinite", "isinf"):
        assert getattr(convlab, name)(t).tolist() == getattr(torch, name)(tt).tolist()
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        assert getattr(t, name)(0.5).tolist() == getattr(tt, name)(0.5).tolist(), name
    assert convlab.allclose(convlab.ones(2), convlab.ones(2) + 1e-9) and not convlab.equal(convlab.ones(2), convlab.zeros(2))


@pytest.mark.parametrize("ours,theirs", [
    (lambda x: F.elu(x, 0.7), lambda x: torch.nn.functional.elu(x, 0.7)),
    (lambda x: F.softplus(x, beta=2.0, threshold=3.0), lambda x: torch.nn.functional.softplus(x, beta=2.0, threshold=3.0)),
    (lambda x: F.hardtanh(x, -0.5, 0.8), lambda x: torch.nn.functional.hardtanh(x, -0.5, 0.8)),
    (lambda x: nn.ELU()(x), lambda x: torch.nn.ELU()(x)),
    (lambda x: F.interpolate(x, scale_factor=2), lambda x: torch.nn.functional.interpolate(x, scale_factor=2)),
    (lambda x: nn.Upsample(size=(6, 9))(x), lambda x: torch.nn.Upsample(size=(6, 9))(x)),
])
def test_activations_and_nearest_upsampling_match_torch(ours, theirs):
    compare_with_torch(ours, theirs, [RNG.standard_normal((2, 3, 3, 3)) * 3])


def test_unavailable_interpolation_modes_say_so():
    with pytest.raises(NotImplementedError, match="antialias=True is not available"):
        F.interpolate(convlab.ones(1, 1, 4, 4), scale_factor=0.5, mode="bilinear", antialias=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(convlab.ones(1, 1, 2), scale_factor=2, mode="bilinear")


def test_gather_masked_fill_and_normalize_follow_torch():
    index = np.array([[0, 0, 2], [1, 2, 1]])
    compare_with_torch(lambda x: convlab.gather(x, 1, convlab.tensor(index)),
                       lambda x: torch.gather(x, 1, torch.tensor(index)), [RNG.standard_normal((2, 4))])
    mask = np.array([[True, False, True, False]])
    compare_with_torch(lambda x: x.masked_fill(convlab.tensor(mask), -1.5),
                       lambda x: x.masked_fill(torch.tensor(mask), -1.5), [RNG.standard_normal((3, 4))])
    compare_with_torch(lambda x: F.normalize(x, dim=1), lambda x: torch.nn.functional.normalize(x, dim=1),
                       [RNG.standard_normal((3, 4))])
