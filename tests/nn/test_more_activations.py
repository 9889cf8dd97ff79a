"""GELU, Mish and the other added activations, the smooth-L1 / Huber / KL losses, pixel
(un)shuffle and the parameter containers, each against torch in float64 (values and gradients)."""

import math

import numpy as np
import pytest

import convlab as cl
import convlab.nn as nn
import convlab.nn.functional as F
from convlab.functional.extra import erf
from helpers import compare_with_torch, rand, require_torch

TOL = {"rtol": 1e-12, "atol": 1e-13}  # float64: every op here is a few flops per element


def test_erf_matches_math_erf_to_2e15():
    x = np.concatenate([np.linspace(-8, 8, 20001), [0.0, -0.0, 2.999999, 3.0, 3.000001, 1e-300, 40.0, -40.0]])
    ref = np.array([math.erf(v) for v in x])
    assert np.abs(erf(x) - ref).max() < 2e-15
    assert erf(np.array([5]))[0] == math.erf(5)  # integer input is promoted, not truncated


# (convlab function, torch function); inputs span both signs, the kinks and the tails
ACTIVATIONS = [
    (F.gelu, "gelu", {}),
    (F.gelu, "gelu", {"approximate": "tanh"}),
    (F.mish, "mish", {}),
    (F.celu, "celu", {"alpha": 0.5}),  # torch's backward rounds 1/alpha to float32: 0.5 is exact
    (F.selu, "selu", {}),
    (F.softsign, "softsign", {}),
    (F.tanhshrink, "tanhshrink", {}),
    (F.logsigmoid, "logsigmoid", {}),
]


@pytest.mark.parametrize("fn,name,kw", ACTIVATIONS, ids=lambda v: v if isinstance(v, str) else None)
def test_activation_matches_torch(fn, name, kw):
    torch = require_torch()
    x = np.concatenate([rand((3, 17), seed=1).ravel() * 3, [-30.0, -8.0, -0.5, 0.0, 0.5, 8.0, 30.0]])
    compare_with_torch(lambda t: fn(t, **kw), lambda t: getattr(torch.nn.functional, name)(t, **kw), [x], **TOL)


@pytest.mark.parametrize("layer,kw", [("GELU", {}), ("GELU", {"approximate": "tanh"}), ("Mish", {}), ("CELU", {}),
                                      ("SELU", {}), ("Softsign", {}), ("Tanhshrink", {}), ("LogSigmoid", {}),
                                      ("GLU", {"dim": 1})])
def test_activation_layers_match_torch(layer, kw):
    torch = require_torch()
    x = rand((2, 4, 3), seed=2)
    compare_with_torch(getattr(nn, layer)(**kw), getattr(torch.nn, layer)(**kw), [x], **TOL)


def test_glu_and_prelu_match_torch():
    torch = require_torch()
    compare_with_torch(lambda t: F.glu(t, 0), lambda t: torch.nn.functional.glu(t, 0), [rand((6, 3), seed=3)], **TOL)
    for w_shape in [(1,), (3,)]:
        compare_with_torch(F.prelu, torch.nn.functional.prelu, [rand((2, 3, 4, 2), seed=4), rand(w_shape, seed=5)],
                           **TOL)
    layer = nn.PReLU(3, init=0.1)
    assert list(layer.state_dict()) == list(torch.nn.PReLU(3).state_dict()) == ["weight"]
    np.testing.assert_array_equal(layer.weight.detach().numpy(), np.full(3, 0.1, np.float32))


@pytest.mark.parametrize("args,message", [
    ((F.gelu, rand(3)), {"approximate": "exact"}),
    ((F.glu, rand((3, 2))), {"dim": 0}),
])
def test_bad_arguments_are_refused_by_name(args, message):
    fn, x = args
    with pytest.raises(ValueError, match="approximate|even"):
        fn(cl.tensor(x), **message)


@pytest.mark.parametrize("name,kw", [
    ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5, "reduction": "sum"}),
    ("smooth_l1_loss", {"beta": 0.0, "reduction": "none"}),
    ("huber_loss", {}), ("huber_loss", {"delta": 0.3, "reduction": "none"}),
])
def test_robust_regression_losses_match_torch(name, kw):
    torch = require_torch()
    x, y = rand((4, 5), seed=6) * 2, rand((4, 5), seed=7)
    compare_with_torch(lambda a, b: getattr(F, name)(a, b, **kw), lambda a, b: getattr(torch.nn.functional, name)(a, b, **kw),
                       [x, y], **TOL)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # torch's advice to use batchmean
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    torch = require_torch()
    logits = rand((3, 5), seed=8)
    inp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    p = np.exp(rand((3, 5), seed=9))
    p /= p.sum(1, keepdims=True)
    p[0, 1] = 0.0  # a zero-probability target contributes 0, not NaN
    target = np.log(p + 1e-300) if log_target else p
    kw = {"reduction": reduction, "log_target": log_target}
    # the target's gradient is torch's NaN at a zero probability (ours 0): compared with log targets only
    compare_with_torch(lambda a, b: F.kl_div(a, b, **kw), lambda a, b: torch.nn.functional.kl_div(a, b, **kw),
                       [inp, target], grad_mask=[True, log_target], **TOL)
    ours = nn.KLDivLoss(**kw)(cl.tensor(inp), cl.tensor(target)).numpy()
    np.testing.assert_allclose(ours, torch.nn.KLDivLoss(**kw)(torch.tensor(inp), torch.tensor(target)).numpy(), **TOL)


def test_loss_layers_match_torch():
    torch = require_torch()
    x, y = rand((4, 3), seed=10), rand((4, 3), seed=11)
    for ours, theirs in [(nn.SmoothL1Loss(beta=0.4), torch.nn.SmoothL1Loss(beta=0.4)),
                         (nn.HuberLoss(delta=2.0, reduction="sum"), torch.nn.HuberLoss(delta=2.0, reduction="sum"))]:
        compare_with_torch(ours, theirs, [x, y], **TOL)
    with pytest.raises(ValueError, match="delta"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(cl.tensor(x), cl.tensor(y), beta=-1.0)
    with pytest.raises(ValueError, match="reduction"):
        nn.KLDivLoss(reduction="batch")


@pytest.mark.parametrize("shape,r", [((2, 12, 3, 4), 2), ((8, 3, 2), 2), ((1, 9, 2, 2), 3)])
def test_pixel_shuffle_and_unshuffle_match_torch(shape, r):
    torch = require_torch()
    x = rand(shape, seed=12)
    compare_with_torch(lambda t: F.pixel_shuffle(t, r), lambda t: torch.nn.functional.pixel_shuffle(t, r), [x], **TOL)
    up = torch.nn.functional.pixel_shuffle(torch.tensor(x), r).numpy()
    compare_with_torch(nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), [up], **TOL)
    np.testing.assert_array_equal(nn.PixelUnshuffle(r)(nn.PixelShuffle(r)(cl.tensor(x))).numpy(), x)
    with pytest.raises(ValueError, match="divisible"):
        F.pixel_shuffle(cl.tensor(rand((1, 5, 2, 2))), 2)


def test_parameter_containers_register_like_torch():
    torch = require_torch()

    def build(lib):
        m = lib.nn.Module()
        m.plist = lib.nn.ParameterList([lib.nn.Parameter(lib.zeros(2)), lib.ones(3)])
        m.plist.append(lib.nn.Parameter(lib.zeros(1)))
        m.pdict = lib.nn.ParameterDict({"scale": lib.nn.Parameter(lib.ones(4))})
        m.pdict["shift"] = lib.zeros(4)
        return m

    ours, theirs = build(cl), build(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert isinstance(ours.plist[1], nn.Parameter) and ours.plist[1].requires_grad
    assert list(ours.pdict.keys()) == ["scale", "shift"] and len(ours.plist) == 3
    (ours.plist[1].sum() * 2).backward()
    np.testing.assert_array_equal(ours.plist[1].grad.numpy(), np.full(3, 2.0, np.float32))
    with pytest.raises(TypeError):
        ours.plist.append("not a tensor")


@pytest.mark.filterwarnings("ignore:size_average and reduce args")
def test_legacy_size_average_and_reduce_pick_the_reduction_as_torch():
    torch = require_torch()
    x, y = rand((3, 4), seed=13), rand((3, 4), seed=14, low=0.1)  # KL needs targets > 0
    for legacy in [{"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}]:
        for ours, theirs in [(nn.SmoothL1Loss(**legacy), torch.nn.SmoothL1Loss(**legacy)),
                             (nn.KLDivLoss(**legacy), torch.nn.KLDivLoss(**legacy))]:
            np.testing.assert_allclose(ours(cl.tensor(x), cl.tensor(y)).numpy(),
                                       theirs(torch.tensor(x), torch.tensor(y)).numpy(), **TOL)
        np.testing.assert_allclose(F.smooth_l1_loss(cl.tensor(x), cl.tensor(y), **legacy).numpy(),
                                   torch.nn.functional.smooth_l1_loss(torch.tensor(x), torch.tensor(y), **legacy).numpy(),
                                   **TOL)
