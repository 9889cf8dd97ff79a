"""Tensor methods the core tests did not reach (topk, chunk, argmin, all/any, the new_*/*_like
constructors, as_tensor/from_numpy, the Python protocols), each against torch."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import convlab as cl
from helpers import require_torch

torch = require_torch()

X = np.array([[3.0, 1.0, 4.0, 1.0, 5.0], [9.0, 2.0, 6.0, 5.0, 3.0]], dtype=np.float32)  # ties in row 0


@pytest.mark.parametrize("k, dim, largest", [(2, -1, True), (3, 1, False), (1, 0, True), (2, 0, False), (0, 1, True)])
def test_topk_values_indices_and_gradient_match_torch(k, dim, largest):
    x = cl.tensor(X, requires_grad=True)
    tx = torch.tensor(X, requires_grad=True)
    v, i = x.topk(k, dim=dim, largest=largest)
    tv, ti = tx.topk(k, dim=dim, largest=largest)
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert i.dtype == np.int64
    w = np.arange(1, v.numel() + 1, dtype=np.float32).reshape(v.shape)  # distinct weights per output
    (v * cl.tensor(w)).sum().backward()
    (tv * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())  # a scatter: exact


def test_topk_unsorted_holds_the_same_set_and_refuses_k_past_the_size():
    v, i = cl.topk(cl.tensor(X), 3, sorted=False)
    assert sorted(v.tolist()[1]) == [5.0, 6.0, 9.0] and sorted(i.tolist()[1]) == [0, 2, 3]
    named = cl.tensor(X).topk(2)
    assert named.values.tolist() == [[5.0, 4.0], [9.0, 6.0]] and named.indices.tolist() == [[4, 2], [0, 2]]
    with pytest.raises(RuntimeError, match=r"^topk: selected index k=6 out of range for a dimension of size 5$"):
        cl.tensor(X).topk(6)


@pytest.mark.parametrize("n, chunks, dim", [(5, 2, 0), (6, 3, 0), (7, 3, 0), (4, 6, 0), (5, 2, 1), (3, 1, 0)])
def test_chunk_matches_torch(n, chunks, dim):
    a = np.arange(n * 2, dtype=np.float32).reshape((n, 2) if dim == 0 else (2, n))
    ours = cl.tensor(a).chunk(chunks, dim)
    theirs = torch.tensor(a).chunk(chunks, dim)
    assert [t.shape for t in ours] == [tuple(t.shape) for t in theirs]
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    assert len(cl.chunk(cl.tensor(a), chunks, dim)) == len(theirs)


@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_argmin_argmax_all_any_match_torch(dim, keepdim):
    x, tx = cl.tensor(X), torch.tensor(X)
    kw = {} if dim is None else dict(dim=dim, keepdim=keepdim)
    for name in ("argmin", "argmax"):
        ours, theirs = getattr(x, name)(**kw), getattr(tx, name)(**kw)
        assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    m = X > 2.5
    for name in ("all", "any"):
        ours, theirs = getattr(cl.tensor(m), name)(**kw), getattr(torch.tensor(m), name)(**kw)
        assert ours.dtype == np.bool_ and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert cl.argmin(x).item() == 1 and cl.argmin(x, 1).tolist() == [1, 1]


def test_new_full_new_tensor_and_full_like_match_torch():
    x, tx = cl.zeros(2, dtype=cl.float64), torch.zeros(2, dtype=torch.float64)
    f = x.new_full((2, 3), 1.5)
    assert f.dtype == np.float64 and f.tolist() == tx.new_full((2, 3), 1.5).tolist()
    assert x.new_full([2], 7, dtype=cl.int64).tolist() == [7, 7] and x.new_full([2], 7, dtype=cl.int64).dtype == np.int64
    n = x.new_tensor([1, 2])
    assert n.dtype == np.float64 and n.tolist() == [1.0, 2.0] == tx.new_tensor([1, 2]).tolist()
    assert x.new_tensor([1.0], requires_grad=True).requires_grad
    fl = cl.full_like(x, 3)
    assert fl.dtype == np.float64 and fl.tolist() == [3.0, 3.0] == torch.full_like(tx, 3).tolist()
    assert cl.full_like(x, 2, dtype=cl.float32).dtype == np.float32
    assert cl.ones_like(x).tolist() == [1.0, 1.0] and cl.ones_like(cl.tensor([1, 2])).dtype == np.int64


def test_from_numpy_shares_memory_and_as_tensor_converts():
    a = np.array([1.0, 2.0])
    t = cl.from_numpy(a)
    a[0] = 9.0
    assert t.dtype == np.float64 and t.tolist() == [9.0, 2.0]
    b = np.array([1.0, 2.0], dtype=np.float32)
    s = cl.as_tensor(b)  # (a copy, where torch.as_tensor would share the array: convlab's documented choice)
    assert s.dtype == np.float32 and s.tolist() == [1.0, 2.0]
    b[1] = 8.0
    c = cl.as_tensor(b, dtype=cl.float64)
    assert c.dtype == np.float64 and c.tolist() == [1.0, 8.0]
    assert cl.as_tensor([1, 2]).dtype == np.int64 and cl.as_tensor(s) is s


def test_python_protocols_match_torch():
    x, tx = cl.tensor(X), torch.tensor(X)
    assert len(x) == len(tx) == 2
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(cl.tensor(1.0))
    assert bool(cl.tensor([0.5])) is True and bool(cl.tensor(0.0)) is False
    with pytest.raises(RuntimeError, match=r"^the truth value of a tensor of shape \(2, 5\) is ambiguous$"):
        bool(x)
    np.testing.assert_array_equal(np.asarray(x), X)
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert x.is_floating_point() and not cl.tensor([1]).is_floating_point()
    assert cl.zeros(2, dtype=cl.float64).element_size() == 8 == torch.zeros(2, dtype=torch.float64).element_size()
    assert cl.zeros(2, dtype=cl.float16).element_size() == 2
    assert x.is_contiguous() and not x.t().is_contiguous() and tx.t().is_contiguous() is False
    size = pickle.loads(pickle.dumps(x.shape))
    assert size == (2, 5) and type(size) is type(x.shape) and size.numel() == 10


def test_enable_grad_inside_no_grad_records():
    x = cl.tensor([1.0], requires_grad=True)
    with cl.no_grad():
        with cl.enable_grad():
            y = x * 3
        z = x * 3
    assert y.requires_grad and not z.requires_grad

    @cl.enable_grad()
    def f(v):
        return v * 2

    with cl.no_grad():
        assert f(x).requires_grad


def test_contiguous_makes_a_row_major_copy_that_keeps_the_gradient():
    x = cl.tensor(X, requires_grad=True)
    assert x.contiguous() is x
    t = x.t()
    c = t.contiguous()
    assert not t.is_contiguous() and c.is_contiguous() and torch.tensor(X).t().contiguous().is_contiguous()
    np.testing.assert_array_equal(c.detach().numpy(), X.T)
    (c * cl.tensor(np.arange(10, dtype=np.float32).reshape(5, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(10, dtype=np.float32).reshape(5, 2).T)  # exact
