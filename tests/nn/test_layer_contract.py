"""convlab.nn's layers against torch.nn: every constructor default, refusals that name the layer,
the argument and the value, and the behaviours the layer tests did not reach. Written from the
survivors of ``benchmarks/mutation.py nn``."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from tests.helpers import require_torch

import convlab as cl
import convlab.nn as nn
from convlab.validate import ConvlabError

# the smallest valid value of each required constructor argument
REQUIRED = dict(dim=1, downscale_factor=2, embedding_dim=3, in_channels=2, in_features=3, kernel_size=2,
                normalized_shape=(4,), num_channels=2, num_embeddings=5, num_features=2, num_groups=1, out_channels=2,
                out_features=2, output_size=2, unflattened_size=(2, 2), upscale_factor=2, padding=1, groups=2, size=2,
                threshold=0.1, value=0.0)
NOT_LAYERS = {"DataParallel", "IncompatibleKeys", "Module", "ModuleDict", "ModuleList", "Parameter", "ParameterDict",
              "ParameterList", "RemovableHandle", "Sequential", "Identity", "Upsample", "UpsamplingBilinear2d",
              "UpsamplingNearest2d", "DistributedDataParallel"}
# torch's own message ("dropout probability has to be between 0 and 1, ...")
TORCH_WORDED = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d"}


def _layers():
    for name in sorted(dir(nn)):
        cls = getattr(nn, name)
        if inspect.isclass(cls) and not name.startswith("_") and name not in NOT_LAYERS:
            yield name, cls


def _defaults(fn) -> dict:
    return {p.name: p.default for p in inspect.signature(fn).parameters.values() if p.default is not p.empty}


def test_every_constructor_and_init_default_is_torchs():
    torch = require_torch()
    checked = 0
    pairs = [(getattr(nn, n).__init__, getattr(torch.nn, n).__init__) for n in dir(nn)
             if inspect.isclass(getattr(nn, n)) and hasattr(torch.nn, n) and not n.startswith("_")]
    pairs += [(getattr(nn.init, n), getattr(torch.nn.init, n)) for n in dir(nn.init)
              if n.endswith("_") and not n.startswith("_") and hasattr(torch.nn.init, n)]
    pairs += [(nn.Embedding.from_pretrained, torch.nn.Embedding.from_pretrained)]
    for ours, theirs in pairs:
        try:
            td = _defaults(theirs)
        except (TypeError, ValueError):
            continue
        for arg, value in _defaults(ours).items():
            if arg in td:
                assert value == td[arg], (ours.__qualname__, arg, value, td[arg])
                checked += 1
    assert checked >= 230  # layers, init functions, from_pretrained (as many as there were when this was written)


@pytest.mark.parametrize("name, cls", list(_layers()), ids=[n for n, _ in _layers()])
def test_a_bad_number_is_refused_naming_the_layer_argument_and_value(name, cls):
    """Each numeric argument in turn at -1, 0 (and -0.5 for floats): where the layer refuses it, the
    message names the layer and the argument (torch's wording where torch has one) and the value."""
    sig = inspect.signature(cls.__init__)
    req = {p.name: REQUIRED[p.name] for p in sig.parameters.values() if p.default is p.empty and p.name in REQUIRED}
    cls(**req)
    refused = 0
    for p in sig.parameters.values():
        default = p.default if p.default is not p.empty else req.get(p.name)
        if isinstance(default, bool) or not isinstance(default, (int, float)) or p.name == "dim":
            continue
        for bad in (-1, 0) if isinstance(default, int) else (-1.0, 0.0, -0.5):
            try:
                cls(**{**req, p.name: bad})
            except (ValueError, TypeError) as e:
                refused += 1
                msg = str(e)
                if name in TORCH_WORDED:
                    assert msg == f"dropout probability has to be between 0 and 1, but got {bad}"
                else:
                    assert msg.startswith(f"{name}: {p.name} ") and str(bad) in msg, msg
    assert refused or name not in {"Conv2d", "Linear", "GroupNorm", "Embedding", "PReLU", "PixelUnshuffle"}


def test_lazy_conv_refuses_bad_groups_by_name():
    with pytest.raises(ConvlabError, match=r"^LazyConv2d: groups must be a positive integer, got 0$"):
        nn.LazyConv2d(2, 2, groups=0)


@pytest.mark.parametrize("call, kind, message", [
    (lambda: nn.GELU("exact"), ConvlabError, r"^GELU: approximate must be one of 'none', 'tanh', got 'exact'"),
    (lambda: nn.HuberLoss(delta=0), ConvlabError, r"^HuberLoss: delta must be positive, got 0"),
    (lambda: nn.SmoothL1Loss(beta=-1), ConvlabError, r"^SmoothL1Loss: beta must be non-negative, got -1"),
    (lambda: nn.KLDivLoss(reduction="x"), ConvlabError, r"^KLDivLoss: reduction must be one of"),
    (lambda: nn.LayerNorm("a"), ConvlabError, r"^LayerNorm: normalized_shape must be a sequence"),
    (lambda: nn.Embedding(5, 3, padding_idx=7), ConvlabError, r"^Embedding: padding_idx"),
    (lambda: nn.Embedding.from_pretrained(cl.ones(3)), ConvlabError,
     r"^Embeddings parameter is expected to be 2-dimensional, got 1$"),
    (lambda: nn.Embedding.from_pretrained([[1.0]]), ConvlabError,
     r"^Embeddings parameter is expected to be 2-dimensional, got list$"),
    (lambda: nn.Upsample(), ValueError, r"^Upsample: give exactly one of size or scale_factor$"),
    (lambda: nn.Upsample(size=2, scale_factor=2), ValueError, r"^Upsample: give exactly one of size or scale_factor$"),
    (lambda: nn.DataParallel(3), TypeError, r"^DataParallel: module must be a Module, got int$"),
    (lambda: nn.BatchNorm1d(2)(cl.ones(2, 2, 2, 2)), ConvlabError,
     r"^BatchNorm1d: expected 2D or 3D input \(got 4D input of shape"),
    (lambda: nn.ParameterList([nn.Parameter(cl.ones(1))])[True], TypeError,
     r"^ParameterList indices must be integers or slices, not bool$"),
    (lambda: nn.ParameterList([nn.Parameter(cl.ones(1))])[-2], IndexError,
     r"^index -2 is out of range for ParameterList of length 1$"),
    (lambda: nn.ParameterList().append(3), TypeError,
     r"^cannot assign 'int' object as a parameter \(Parameter or Tensor expected\)$"),
])
def test_refusals_name_what_was_wrong(call, kind, message):
    with pytest.raises(kind, match=message):
        call()


def test_parameter_list_takes_the_first_item_by_its_negative_index():
    p = nn.Parameter(cl.ones(1))
    assert nn.ParameterList([p, nn.Parameter(cl.zeros(1))])[-2] is p


def test_size_mismatch_messages_write_shapes_as_tuples():
    with pytest.raises(RuntimeError, match=r"copying a param with shape \(3,\) from checkpoint, the shape in current "
                                           r"model is \(2,\)\."):
        nn.Linear(3, 2).load_state_dict({"weight": cl.ones(2, 3), "bias": cl.ones(3)})


def test_nested_repr_is_torchs():
    torch = require_torch()

    def build(m):
        return m.Sequential(m.Conv2d(1, 2, 3), m.Sequential(m.ReLU(), m.Linear(2, 3)), m.BatchNorm2d(2))
    assert repr(build(nn)) == repr(build(torch.nn))


def test_a_shared_buffer_is_named_once_unless_asked_for_every_name():
    torch = require_torch()

    def build(m, buffer):
        bn = m.BatchNorm1d(2)
        return m.Sequential(bn, bn)
    ours, theirs = build(nn, None), build(torch.nn, None)
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_buffers(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_buffers(remove_duplicate=False)]


def test_embedding_options_reach_the_lookup():
    torch = require_torch()
    rows = np.random.default_rng(0).standard_normal((5, 3)) * 3
    idx = np.array([[0, 2], [4, 2]])
    ours = nn.Embedding.from_pretrained(cl.tensor(rows.copy()), padding_idx=2, max_norm=1.0, norm_type=1.0)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(rows.copy()), padding_idx=2, max_norm=1.0, norm_type=1.0)
    assert ours.padding_idx == theirs.padding_idx == 2
    np.testing.assert_allclose(ours(cl.tensor(idx)).detach().numpy(), theirs(torch.tensor(idx)).detach().numpy(),
                               rtol=1e-12)
    assert nn.Embedding(5, 3).weight.shape == (5, 3)


def test_upsample_passes_recompute_scale_factor_on():
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal((1, 1, 5, 5))
    ours = nn.Upsample(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)(cl.tensor(x))
    theirs = torch.nn.Upsample(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_dtypes_and_lazy_placeholders_are_torchs():
    torch = require_torch()
    assert nn.PReLU(dtype=cl.float64).weight.dtype == np.float64
    assert nn.LazyConv2d(2, 3).in_channels == torch.nn.LazyConv2d(2, 3).in_channels == 0
    lin = nn.LazyLinear(0)
    assert lin(cl.ones(4, 3)).shape == (4, 0)
    with pytest.raises(ConvlabError, match=r"LazyLinear: out_features must be a non-negative integer, got -1"):
        nn.LazyLinear(-1)


def test_xavier_init_draws_from_the_generator_it_is_given():
    a, b = cl.empty(4, 5), cl.empty(4, 5)
    nn.init.xavier_normal_(a, generator=cl.Generator().manual_seed(3))
    cl.randn(10)  # moves the library generator: the given one must not depend on it
    nn.init.xavier_normal_(b, generator=cl.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(a.numpy().std(), np.sqrt(2 / 9), rtol=0.5)  # gain 1: std sqrt(2 / (fan_in + fan_out))


def test_clip_grad_norm_leaves_gradients_under_the_limit_alone():
    torch = require_torch()
    g = np.array([3.0, 4.0])  # norm 5
    for max_norm in (7.5, 2.5):  # coefficient 1.5: untouched; 0.5: halved
        p, tp = nn.Parameter(cl.zeros(2, dtype=cl.float64)), torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
        p.grad, tp.grad = cl.tensor(g.copy()), torch.tensor(g.copy())
        total = nn.utils.clip_grad_norm_([p], max_norm)
        ref = torch.nn.utils.clip_grad_norm_([tp], max_norm)
        assert total.item() == ref.item() == 5.0
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
    empty = nn.utils.clip_grad_norm_([nn.Parameter(cl.zeros(2))], 1.0)  # no gradients: norm 0, as torch
    assert empty.item() == torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.zeros(2))], 1.0).item() == 0.0


def test_linear_and_conv_biases_are_drawn_like_torchs():
    """Both weight and bias get torch's default init: bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    for layer, fan_in in ((nn.Linear(400, 300), 400), (nn.Conv2d(16, 300, 5), 16 * 25)):
        b = layer.bias.detach().numpy()
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound  # 300 draws reach the edge
        assert abs(b.std() - bound / np.sqrt(3)) < 0.15 * bound / np.sqrt(3)  # U(-a, a): std a / sqrt(3)


def test_module_registration_refusals_are_torchs():
    torch = require_torch()

    class Early(nn.Module):
        def __init__(self):
            self.register_buffer("b", cl.zeros(1))

    class TorchEarly(torch.nn.Module):
        def __init__(self):
            self.register_buffer("b", torch.zeros(1))

    with pytest.raises(AttributeError) as ours:
        Early()
    with pytest.raises(AttributeError) as theirs:
        TorchEarly()
    assert str(ours.value) == str(theirs.value) == "cannot assign buffer before Module.__init__() call"
    with pytest.raises(TypeError, match=r"^module name should be a string, got int$"):
        nn.Module().add_module(1, nn.ReLU())
    with pytest.raises(TypeError, match=r"^parameter name should be a string, got int$"):
        nn.Module().register_parameter(1, None)


def _plain(v):
    if isinstance(v, (bool, int, float, str, type(None))):
        return v
    if isinstance(v, (tuple, list)) and all(isinstance(x, (bool, int, float, str)) for x in v):
        return tuple(v)
    return NotImplemented


@pytest.mark.parametrize("name, cls", list(_layers()), ids=[n for n, _ in _layers()])
def test_a_layer_built_with_defaults_holds_torchs_settings(name, cls):
    """Every public setting both layers keep (stride, eps, momentum, inplace, reduction, ...) equals
    torch's when only the required arguments are given: the defaults in action."""
    torch = require_torch()
    tcls = getattr(torch.nn, name, None)
    if tcls is None:
        pytest.skip(f"torch.nn has no {name}")
    sig = inspect.signature(cls.__init__)
    req = {p.name: REQUIRED[p.name] for p in sig.parameters.values() if p.default is p.empty and p.name in REQUIRED}
    ours, theirs = cls(**req), tcls(**req)
    common = [k for k in vars(theirs) if not k.startswith("_") and k in vars(ours)
              and _plain(vars(theirs)[k]) is not NotImplemented]
    for k in common:
        assert _plain(vars(ours)[k]) == _plain(vars(theirs)[k]), (k, vars(ours)[k], vars(theirs)[k])
    for pname, p in theirs.named_parameters():  # PReLU's init, norm layers' ones/zeros
        if pname in dict(ours.named_parameters()) and name in {"PReLU", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
                                                               "GroupNorm", "LayerNorm"}:
            np.testing.assert_array_equal(dict(ours.named_parameters())[pname].detach().numpy(), p.detach().numpy())
