"""Module API details a torch user relies on, against torch where it has them: reprs and defaults,
get_submodule, deleting attributes, ModuleList/ModuleDict, output_size of transposed convolutions,
AdaptiveMaxPool2d's indices, Unflatten, LogSoftmax's implicit dim, GroupNorm's dtype.

Written from the survivors of the mutation run (benchmarks/mutation.py nn)."""

import numpy as np
import pytest

import convlab as cl
from convlab import nn
from helpers import require_torch

torch = require_torch()


@pytest.mark.parametrize("build", [
    lambda m: m.AvgPool1d(3), lambda m: m.AvgPool1d(3, stride=1, padding=1, ceil_mode=True, count_include_pad=False),
    lambda m: m.LeakyReLU(), lambda m: m.LeakyReLU(0.2, inplace=True), lambda m: m.GroupNorm(2, 4),
    lambda m: m.GroupNorm(2, 4, eps=1e-3, affine=False), lambda m: m.AdaptiveMaxPool2d((2, 3), return_indices=True),
    lambda m: m.Unflatten(1, (2, 3)), lambda m: m.LogSoftmax(), lambda m: m.LogSoftmax(dim=0),
    lambda m: m.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
    lambda m: m.ModuleList([m.ReLU(), m.ReLU(), m.ReLU(), m.Tanh()]),
], ids=range(12))
def test_repr_is_torchs(build):
    assert repr(build(nn)) == repr(build(torch.nn))


def test_avg_pool1d_stride_defaults_to_the_kernel_like_torch():
    x = np.arange(2 * 3 * 11, dtype=np.float64).reshape(2, 3, 11)
    for kw in ({}, {"stride": 1}, {"stride": 2, "padding": 1}, {"ceil_mode": True, "count_include_pad": False, "padding": 1}):
        ours = nn.AvgPool1d(3, **kw)(cl.tensor(x)).numpy()
        np.testing.assert_allclose(ours, torch.nn.AvgPool1d(3, **kw)(torch.tensor(x)).numpy(), rtol=1e-12)


def test_get_submodule_and_its_errors():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    assert model.get_submodule("") is model
    assert model.get_submodule("1.1") is model[1][1]
    assert model.get_submodule("1") is model[1]
    with pytest.raises(AttributeError, match=r"^Sequential has no submodule '2' \(looking up '1.2'\)$"):
        model.get_submodule("1.2")
    with pytest.raises(AttributeError, match=r"^Linear has no submodule 'weight' \(looking up '0.weight'\)$"):
        model.get_submodule("0.weight")


def test_deleting_parameters_buffers_and_modules():
    m = nn.BatchNorm1d(3)
    m.register_buffer("extra", cl.zeros(2), persistent=False)
    del m.weight
    del m.running_mean
    del m.extra
    assert "weight" not in m.state_dict() and "running_mean" not in m.state_dict()
    assert [n for n, _ in m.named_parameters()] == ["bias"]
    m.register_buffer("extra", cl.ones(2))  # the same name again: persistent now
    assert "extra" in m.state_dict()
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    del seq[0]
    assert len(seq) == 1 and isinstance(seq[0], nn.Tanh)
    lin = nn.Linear(2, 2)
    lin.note = "x"
    del lin.note
    assert not hasattr(lin, "note")
    with pytest.raises(AttributeError):
        del lin.note


def test_module_without_forward_says_which():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match=r"Module \[Empty\] is missing the required 'forward' function"):
        Empty()(cl.zeros(1))


def test_module_dict_update_takes_pairs_and_mappings():
    d = nn.ModuleDict()
    d.update([("a", nn.ReLU()), ("b", nn.Tanh())])
    d.update({"c": nn.Sigmoid()})
    d.update(nn.ModuleDict({"d": nn.ReLU()}))
    assert list(d.keys()) == ["a", "b", "c", "d"] and isinstance(d["b"], nn.Tanh)


@pytest.mark.parametrize("size", [9, 10])
def test_conv_transpose_output_size_in_range_like_torch(size):
    """output_size picks output_padding in [smallest, smallest + stride - 1]; outside, torch's refusal."""
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5))
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double(), torch.nn.ConvTranspose2d(2, 3, 3, 2, 1).double()
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    y = ours(cl.tensor(x), output_size=(size, size)).detach().numpy()
    ty = theirs(torch.tensor(x), output_size=(size, size)).detach().numpy()
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    for bad in (8, 11):
        with pytest.raises(ValueError, match=rf"ConvTranspose2d: requested output size \({bad}, {bad}\) is not reachable: "
                                             r"dimension 0 must be in \[9, 10\] for input size 5$"):
            ours(cl.tensor(x), output_size=(bad, bad))


def test_adaptive_max_pool2d_module_returns_indices_when_asked():
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6))
    y, idx = nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(cl.tensor(x))
    ty, tidx = torch.nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert isinstance(nn.AdaptiveMaxPool2d(2)(cl.tensor(x)), cl.Tensor)


def test_unflatten_keeps_the_trailing_dimensions():
    x = np.arange(2 * 6 * 4, dtype=np.float64).reshape(2, 6, 4)
    np.testing.assert_array_equal(nn.Unflatten(1, (2, 3))(cl.tensor(x)).numpy(), x.reshape(2, 2, 3, 4))


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 4), (2, 3, 4, 5)], ids=str)
def test_log_softmax_implicit_dim_is_torchs(shape):
    x = np.random.default_rng(2).standard_normal(shape)
    with pytest.warns(UserWarning):
        theirs = torch.nn.LogSoftmax()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(nn.LogSoftmax()(cl.tensor(x)).numpy(), theirs, rtol=1e-12)


def test_group_norm_dtype_and_affine():
    g = nn.GroupNorm(2, 4, dtype=cl.float64)
    assert g.weight.dtype == np.float64 and g.bias.dtype == np.float64
    assert nn.GroupNorm(2, 4, affine=False).weight is None


def test_zero_grad_helpers_skip_missing_grads_and_clip_values():
    from convlab.nn.utils import clip_grad_value_

    a, b, c = (nn.Parameter(cl.ones(3)) for _ in range(3))
    a.grad, c.grad = cl.tensor(np.array([1.0, -5.0, 0.5])), cl.tensor(np.array([3.0, 0.1, -0.2]))
    clip_grad_value_([a, b, c], 0.4)  # b has no gradient: skipped, not the end of the list
    np.testing.assert_array_equal(a.grad.numpy(), [0.4, -0.4, 0.4])
    np.testing.assert_array_equal(c.grad.numpy(), [0.4, 0.1, -0.2])
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model(cl.ones((1, 2))).sum().backward()
    model[0].bias.grad = None
    model.zero_grad(set_to_none=False)
    assert model[0].bias.grad is None
    assert all((p.grad.numpy() == 0).all() for n, p in model.named_parameters() if n != "0.bias")
