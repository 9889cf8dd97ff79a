"""Hostile arguments into the torch-compat functions (norm, flip, select, unbind, scatter, swapaxes,
finfo, the padding layers, parameters_to_vector...): each refusal names the function or argument
and is the same kind of exception torch raises; where torch accepts, the values equal torch's."""

import math

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab import nn
from convlab.validate import ArgumentTypeError, ConvlabError, DimensionError

torch = pytest.importorskip("torch")

X = np.array([[1.0, -2.0, 0.0], [3.0, 0.0, -4.0]], dtype=np.float32)


@pytest.mark.parametrize("p", [0, 1, 2, 3.5, -1, math.inf, -math.inf])
@pytest.mark.parametrize("dim", [None, 1, (0, 1)])
def test_norm_every_p_equals_torch(p, dim):
    """p=0 counts non-zeros, p=-inf is the smallest |x| (it used to give 1.0); rtol 1e-6."""
    got = cl.norm(cl.tensor(X), p, dim).numpy()
    want = torch.norm(torch.tensor(X), p, dim).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: cl.norm(cl.tensor(X), []), ArgumentTypeError, "norm: p"),
    (lambda: cl.norm(cl.tensor(X), 2, (0, 0)), ConvlabError, "norm: dim"),
    (lambda: cl.flip(cl.tensor(X), (0, 0)), ConvlabError, "flip: dims"),
    (lambda: cl.flip(cl.tensor(X), None), ArgumentTypeError, "flip: dims"),
    (lambda: cl.flip(cl.tensor(X), 2), DimensionError, "flip: Dimension out of range"),
    (lambda: cl.fliplr(cl.tensor(1.0)), ConvlabError, "fliplr"),
    (lambda: cl.select(cl.tensor(X), -3, 0), DimensionError, "select: Dimension out of range"),
    (lambda: cl.select(cl.tensor(X), 0, 2), IndexError, "index 2 out of range"),
    (lambda: cl.unbind(cl.tensor(X), 2), DimensionError, "unbind"),
    (lambda: cl.tril(cl.tensor([1.0, 2.0])), ConvlabError, "tril"),
    (lambda: cl.logsumexp(cl.tensor(1.0), 1), DimensionError, "logsumexp"),
    (lambda: cl.tensor(X).swapaxes(0, 2), DimensionError, "axis1"),
    (lambda: cl.tensor(X).swapdims(None, 1), ArgumentTypeError, "dim0"),
    (lambda: cl.tensor(X).round(decimals="x"), ArgumentTypeError, "decimals"),
    (lambda: cl.scatter(cl.tensor(X), 1, cl.tensor([[0], [3]]), 1.0), IndexError, "out of bounds"),
    (lambda: cl.scatter(cl.tensor(X), 1, cl.tensor([[0.0]]), 1.0), TypeError, "int64"),
    (lambda: cl.scatter(cl.tensor(X), 1, [[0]], 1.0), TypeError, "index"),
    (lambda: cl.scatter_add(cl.tensor(X), 1, cl.tensor([0, 1]), cl.tensor(X)), ConvlabError, "scatter_add"),
    (lambda: cl.finfo(cl.int32), TypeError, "finfo"),
    (lambda: cl.finfo("x"), TypeError, "finfo"),
    (lambda: cl.FloatTensor([1.0], device=np.ones(2)), TypeError, "device"),
    (lambda: F.cosine_similarity(None, cl.tensor(X)), TypeError, "x1"),
    (lambda: F.channel_shuffle(cl.tensor(X), 1), ConvlabError, "channel_shuffle"),
    (lambda: F.instance_norm(cl.ones(2, 3, 4), use_input_stats=False), ConvlabError, "use_input_stats"),
    (lambda: nn.ReflectionPad2d(None), TypeError, "padding"),
    (lambda: nn.ConstantPad1d((1, 2, 3), 0.0), TypeError, "padding"),
    (lambda: nn.utils.parameters_to_vector(None), TypeError, "parameters"),
    (lambda: nn.utils.parameters_to_vector([1.0]), TypeError, "parameters"),
    (lambda: cl.narrow(cl.tensor(X), 1, 4, 0), IndexError, "narrow: start out of range"),
    (lambda: cl.narrow(cl.tensor(X), 1, 2, 2), ConvlabError, "exceeds dimension size"),
    (lambda: cl.narrow(cl.tensor(X), 0, None, 1), TypeError, "start"),
    (lambda: cl.roll(cl.tensor(X), None, 0), TypeError, "shifts"),
    (lambda: cl.roll(cl.tensor(X), (1, 2), 0), ConvlabError, "roll: shifts and dimensions must align"),
    (lambda: cl.roll(cl.tensor(X), 1, "x"), TypeError, "roll: dims"),
    (lambda: cl.logical_and(cl.tensor(X)), TypeError, "other"),
    (lambda: cl.bincount(cl.tensor([-1, 2])), ConvlabError, "bincount: input must be non-negative"),
    (lambda: cl.bincount(cl.tensor(X)), ConvlabError, "bincount"),
    (lambda: cl.bincount(cl.tensor([1]), minlength="x"), TypeError, "minlength"),
    (lambda: cl.broadcast_to(cl.tensor(X), None), TypeError, "size"),
    (lambda: F.local_response_norm(cl.ones(1, 2, 3), None), TypeError, "size"),
    (lambda: F.threshold(cl.tensor(X), 0.0, []), TypeError, "value"),
])
def test_hostile_arguments_are_refused_by_name(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_accepted_edge_cases_equal_torch():
    """Where torch accepts: equal values (exact: movement ops copy, scatter writes given numbers)."""
    x, t = cl.tensor(X), torch.tensor(X)
    np.testing.assert_array_equal(cl.flip(x, (-1, 0)).numpy(), torch.flip(t, (-1, 0)).numpy())
    np.testing.assert_array_equal(cl.flip(cl.tensor(2.0), 0).numpy(), torch.flip(torch.tensor(2.0), (0,)).numpy())
    np.testing.assert_array_equal(cl.select(x, -1, -1).numpy(), torch.select(t, -1, -1).numpy())
    np.testing.assert_array_equal(x.swapaxes(-1, 0).numpy(), t.swapaxes(-1, 0).numpy())
    idx = np.array([[2, 0], [1, 1]])
    np.testing.assert_array_equal(cl.scatter_add(x, 1, cl.tensor(idx), x).numpy(),
                                  torch.scatter_add(t, 1, torch.tensor(idx), t).numpy())
    np.testing.assert_array_equal(cl.narrow(x, 1, -3, 3).numpy(), torch.narrow(t, 1, -3, 3).numpy())
    np.testing.assert_array_equal(cl.narrow(x, 1, 3, 0).numpy(), torch.narrow(t, 1, 3, 0).numpy())
    np.testing.assert_array_equal(cl.roll(x, (1, -4), (1, 1)).numpy(), torch.roll(t, (1, -4), (1, 1)).numpy())
    y = t.flip(0)
    for p in (0, 1, 3, math.inf, -1):  # p=0 counts the non-zero differences (it divided by zero)
        np.testing.assert_allclose(F.pairwise_distance(x, cl.tensor(y.numpy()), p).numpy(),
                                   torch.nn.functional.pairwise_distance(t, y, p).numpy(), rtol=1e-6)
    for shape in ((3,), (2, 3), (2, 3, 4), (2, 3, 2, 2)):  # softmin's implicit dim, as torch's (with its warning)
        z = np.random.RandomState(0).randn(*shape).astype(np.float32)
        with pytest.warns(UserWarning, match="Implicit dimension"):
            got = F.softmin(cl.tensor(z)).numpy()
        with pytest.warns(UserWarning):
            want = torch.nn.functional.softmin(torch.tensor(z)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    for f in ("softmax", "log_softmax", "softmin"):  # a 0-d input: its one element (it was a bare ValueError)
        np.testing.assert_allclose(getattr(F, f)(cl.tensor(0.7), 0).numpy(),
                                   getattr(torch.nn.functional, f)(torch.tensor(0.7), 0).numpy(), atol=1e-7)
    assert cl.finfo().eps == torch.finfo().eps and cl.iinfo(cl.int16).max == torch.iinfo(torch.int16).max
    np.testing.assert_array_equal(nn.ConstantPad1d((-1, 2), 5.0)(x).numpy(),
                                  torch.nn.ConstantPad1d((-1, 2), 5.0)(t).numpy())
