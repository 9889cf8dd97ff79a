"""cumsum, cumprod, prod, index_select, masked_select, nonzero, repeat_interleave, einsum and
embedding against torch: forward and every input gradient in float64 (atol 1e-12)."""

import numpy as np
import pytest
import torch

import convlab
import convlab.functional as F
from convlab import nn

RNG = np.random.default_rng(1919)
TOL = 1e-12


def compare(ours, theirs, arrays, grad=True):
    """Run both on the same float64 inputs; compare outputs and, with a random upstream gradient,
    the gradients of every input."""
    xt = [torch.tensor(a, requires_grad=grad) for a in arrays]
    xc = [convlab.tensor(a, requires_grad=grad) for a in arrays]
    yt, yc = theirs(*xt), ours(*xc)
    assert tuple(yc.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=0, atol=TOL)
    if grad:
        go = RNG.standard_normal(tuple(yt.shape))
        yt.backward(torch.tensor(go))
        yc.backward(convlab.tensor(go))
        for a, b in zip(xc, xt):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=0, atol=TOL)


def with_zeros(shape):
    x = RNG.standard_normal(shape)
    x[RNG.random(shape) < 0.3] = 0.0
    return x


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scans_match_torch(dim):
    compare(lambda x: convlab.cumsum(x, dim), lambda x: torch.cumsum(x, dim), [RNG.standard_normal((3, 4, 5))])
    compare(lambda x: x.cumprod(dim), lambda x: x.cumprod(dim), [RNG.standard_normal((3, 4, 5))])
    compare(lambda x: x.cumprod(dim), lambda x: x.cumprod(dim), [with_zeros((3, 4, 5))])


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_prod_matches_torch_with_and_without_zeros(dim, keepdim):
    kw = {} if dim is None else dict(dim=dim, keepdim=keepdim)
    for x in (RNG.standard_normal((3, 4)), with_zeros((3, 4)), np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]])):
        compare(lambda t: convlab.prod(t, **kw), lambda t: torch.prod(t, **kw), [x])


def test_index_select_masked_select_and_repeat_interleave_match_torch():
    index = np.array([2, 0, 2, 1])
    compare(lambda x: x.index_select(1, convlab.tensor(index)), lambda x: x.index_select(1, torch.tensor(index)),
            [RNG.standard_normal((2, 3, 4))])
    mask = RNG.random((3, 1)) < 0.5
    compare(lambda x: convlab.masked_select(x, convlab.tensor(mask)),
            lambda x: torch.masked_select(x, torch.tensor(mask)), [RNG.standard_normal((3, 4))])
    compare(lambda x: x.repeat_interleave(2), lambda x: x.repeat_interleave(2), [RNG.standard_normal((2, 3))])
    reps = np.array([1, 0, 3])
    compare(lambda x: convlab.repeat_interleave(x, convlab.tensor(reps), dim=1),
            lambda x: torch.repeat_interleave(x, torch.tensor(reps), dim=1), [RNG.standard_normal((2, 3))])
    assert convlab.repeat_interleave(convlab.tensor([2, 1])).tolist() == [0, 0, 1]


def test_nonzero_matches_torch():
    x = with_zeros((3, 4))
    assert np.array_equal(convlab.nonzero(convlab.tensor(x)).numpy(), torch.nonzero(torch.tensor(x)).numpy())
    ours = convlab.tensor(x).nonzero(as_tuple=True)
    theirs = torch.tensor(x).nonzero(as_tuple=True)
    assert len(ours) == 2 and all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(ours, theirs))


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij->", [(3, 4)]),
    ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("ij->ji", [(3, 4)]), ("i,j->ij", [(3,), (4,)]),
    ("ij,ij->i", [(3, 4), (3, 4)]), ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("ijk->j", [(2, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("ij,k->i", [(2, 3), (4,)]),
])
def test_einsum_matches_torch(equation, shapes):
    compare(lambda *t: convlab.einsum(equation, *t), lambda *t: torch.einsum(equation, *t),
            [RNG.standard_normal(s) for s in shapes])


def test_einsum_refuses_what_it_cannot_do():
    a = convlab.ones(2, 3)
    with pytest.raises(ValueError, match="ellipsis"):
        convlab.einsum("...j...->j", a)
    with pytest.raises(ValueError, match="subscripts .* does not match"):
        convlab.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="subscript j has size"):
        convlab.einsum("ij,jk->ik", a, a)


@pytest.mark.parametrize("kw", [{}, dict(padding_idx=1), dict(scale_grad_by_freq=True), dict(max_norm=1.0)])
def test_embedding_matches_torch(kw):
    idx = np.array([[1, 4, 1], [0, 2, 1]])
    w = RNG.standard_normal((5, 3))
    compare(lambda t: F.embedding(convlab.tensor(idx), t, **kw),
            lambda t: torch.nn.functional.embedding(torch.tensor(idx), t, **kw), [w])


def test_embedding_module_padding_and_from_pretrained():
    torch.manual_seed(0)
    m = nn.Embedding(6, 4, padding_idx=2)
    assert np.all(m.weight.detach().numpy()[2] == 0) and m.weight.requires_grad
    w = convlab.tensor(RNG.standard_normal((3, 2)))
    frozen = nn.Embedding.from_pretrained(w)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(convlab.tensor([2, 0])).numpy(), w.numpy()[[2, 0]])
    with pytest.raises(IndexError, match="out of range"):
        frozen(convlab.tensor([3]))
