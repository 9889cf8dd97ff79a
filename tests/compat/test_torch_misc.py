"""Functions training scripts call around the model (``torch.compile``, determinism switches,
``finfo``), small tensor helpers, ``autograd.grad``/``Variable`` and ``testing.assert_close``,
compared with torch (exact, or float64 at rtol 1e-12)."""

import numpy as np
import pytest

import convlab
from helpers import compare_with_torch, rand, require_torch

torch = require_torch()


def test_compile_returns_the_model_and_switches_are_recorded():
    net = convlab.nn.Linear(2, 2)
    assert convlab.compile(net) is net and convlab.compile(mode="max-autotune")(len) is len
    convlab.use_deterministic_algorithms(True)
    assert convlab.are_deterministic_algorithms_enabled()
    convlab.use_deterministic_algorithms(False)
    convlab.set_float32_matmul_precision("high")
    assert convlab.get_float32_matmul_precision() == "high"
    convlab.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError, match="Invalid precision"):
        convlab.set_float32_matmul_precision("low")
    assert convlab.finfo(convlab.float32).eps == torch.finfo(torch.float32).eps
    assert convlab.iinfo(convlab.int64).max == torch.iinfo(torch.int64).max


@pytest.mark.parametrize("fn", [
    lambda L, a: L.std_mean(a, dim=0)[0], lambda L, a: L.std_mean(a, dim=1, keepdim=True)[1],
    lambda L, a: L.var_mean(a, 1)[0], lambda L, a: L.diag(a), lambda L, a: L.diag(a, -1), lambda L, a: L.diag(a[0], 1),
    lambda L, a: L.outer(a[0], a[1]), lambda L, a: L.broadcast_to(a[0], (2, 4)), lambda L, a: L.clone(a),
    lambda L, a: a.mT,
])
def test_small_helpers_match_torch(fn):
    compare_with_torch(lambda a: fn(convlab, a), lambda a: fn(torch, a), [rand((3, 4), seed=1)])


def test_unique_bincount_index_add_all_any_match_torch():
    v = np.array([3, 1, 3, 0, 1, 3])
    for ours, theirs in zip(convlab.unique(convlab.tensor(v), return_inverse=True, return_counts=True),
                            torch.unique(torch.tensor(v), return_inverse=True, return_counts=True)):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(convlab.bincount(convlab.tensor(v), minlength=6).numpy(),
                                  torch.bincount(torch.tensor(v), minlength=6).numpy())
    idx, src = np.array([0, 2, 0]), rand((3, 2), seed=2)
    ours = convlab.zeros(3, 2, dtype=convlab.float64).index_add_(0, convlab.tensor(idx), convlab.tensor(src))
    theirs = torch.zeros(3, 2, dtype=torch.float64).index_add_(0, torch.tensor(idx), torch.tensor(src))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    b = np.array([[True, False], [True, True]])
    assert convlab.all(convlab.tensor(b)).item() == torch.all(torch.tensor(b)).item() is False
    np.testing.assert_array_equal(convlab.any(convlab.tensor(b), 1).numpy(), torch.any(torch.tensor(b), 1).numpy())


def test_autograd_grad_leaves_dot_grad_alone_and_matches_torch():
    a = rand((3,), seed=3)
    x, tx = convlab.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    h, th = x * x * 3, tx * tx * 3
    ours = convlab.autograd.grad(h.sum(), [h, x])
    theirs = torch.autograd.grad(th.sum(), [th, tx])
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-12)
    assert x.grad is None and tx.grad is None
    with pytest.raises(NotImplementedError, match="double backward"):
        convlab.autograd.grad((x * x).sum(), x, create_graph=True)
    v = convlab.autograd.Variable(convlab.ones(2), requires_grad=True)
    assert v.requires_grad and isinstance(v, convlab.Tensor)


def test_assert_close_uses_torchs_default_tolerances():
    convlab.testing.assert_close(convlab.ones(3), convlab.ones(3) + 5e-6)  # within float32's atol 1e-5
    torch.testing.assert_close(torch.ones(3), torch.ones(3) + 5e-6)
    with pytest.raises(AssertionError):
        convlab.testing.assert_close(convlab.ones(3), convlab.ones(3) + 1e-3)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(torch.ones(3), torch.ones(3) + 1e-3)


def test_squeeze_several_dims_mean_dtype_numpy_force_as_torch():
    assert convlab.ones(1, 2, 1).squeeze((0, 2)).shape == tuple(torch.ones(1, 2, 1).squeeze((0, 2)).shape)
    assert convlab.ones(3).mean(dtype=convlab.float64).dtype == np.float64
    assert convlab.ones(2, requires_grad=True).numpy(force=True).tolist() == [1.0, 1.0]


def test_recurrent_layers_are_refused_by_name():
    with pytest.raises(AttributeError, match="convlab.nn has no LSTM: convlab is a library for convolutional"):
        convlab.nn.LSTM  # noqa: B018
