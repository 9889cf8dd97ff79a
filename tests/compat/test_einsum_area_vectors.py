"""``einsum`` with ``...``, ``interpolate(mode='area')`` and ``nn.utils.parameters_to_vector``,
compared with torch in float64 (values and gradients at the helpers' rtol 1e-8)."""

import numpy as np
import pytest

import convlab
from helpers import compare_with_torch, rand, require_torch

torch = require_torch()


@pytest.mark.parametrize("equation,shapes", [
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk", [(2, 3, 4), (4, 5)]), ("b...,b...->b", [(2, 3), (2, 3)]),
    ("i...->...", [(3, 4, 2)]), ("...->", [(2, 3)]), ("bc...,c->b...", [(2, 3, 4, 5), (3,)]),
])
def test_einsum_with_ellipsis_matches_torch(equation, shapes):
    compare_with_torch(lambda *t: convlab.einsum(equation, *t), lambda *t: torch.einsum(equation, *t),
                       [rand(s, seed=i) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("shape,kw", [((1, 2, 7, 9), {"size": (3, 4)}), ((2, 1, 8, 8), {"scale_factor": 0.5}),
                                      ((1, 1, 3, 5), {"size": (6, 10)}), ((1, 2, 9), {"size": 4}),
                                      ((1, 1, 4, 4, 6), {"size": (2, 2, 3)})])
def test_area_interpolation_matches_torch(shape, kw):
    compare_with_torch(lambda x: convlab.nn.functional.interpolate(x, mode="area", **kw),
                       lambda x: torch.nn.functional.interpolate(x, mode="area", **kw), [rand(shape, seed=3)])
    up = convlab.nn.Upsample(mode="area", **kw)(convlab.tensor(rand(shape, seed=3)))
    assert up.shape == tuple(torch.nn.Upsample(mode="area", **kw)(torch.tensor(rand(shape, seed=3))).shape)


def test_parameters_to_vector_and_back_match_torch():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    ours = convlab.nn.Sequential(convlab.nn.Linear(3, 2), convlab.nn.Linear(2, 1))
    ours.load_state_dict({k: convlab.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    v, tv = convlab.nn.utils.parameters_to_vector(ours.parameters()), torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    convlab.nn.utils.vector_to_parameters(convlab.arange(11.0), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(11.0), theirs.parameters())
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy(), err_msg=name)
