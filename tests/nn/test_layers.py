"""Every layer against torch with the same weights: output, input gradient, parameter gradients."""

import math

import numpy as np
import pytest

import convlab as cl
import convlab.nn as nn
from helpers import rand, require_torch

CONV = [  # (layer name, args, kwargs, input shape)
    ("Conv2d", (3, 4, 3), {}, (2, 3, 7, 7)),
    ("Conv2d", (4, 6, (3, 2)), {"stride": 2, "padding": 1, "groups": 2, "bias": False}, (2, 4, 8, 9)),
    ("Conv2d", (2, 3, 3), {"padding": "same", "dilation": 2}, (1, 2, 7, 6)),
    ("Conv2d", (2, 3, 4), {"padding": "same"}, (1, 2, 7, 6)),  # even kernel: the odd pixel goes last
    ("Conv2d", (2, 3, 3), {"padding": 2, "padding_mode": "reflect"}, (2, 2, 6, 5)),
    ("Conv2d", (2, 3, 3), {"padding": (1, 2), "padding_mode": "replicate", "stride": 2}, (2, 2, 6, 5)),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "circular"}, (2, 2, 6, 5)),
    ("Conv2d", (2, 3, 3), {"padding": "same", "padding_mode": "reflect"}, (2, 2, 6, 5)),
    ("Conv1d", (3, 5, 3), {"padding": 1, "stride": 2}, (2, 3, 11)),
    ("Conv1d", (2, 2, 3), {"padding": 1, "padding_mode": "circular"}, (2, 2, 6)),
    ("Conv3d", (2, 3, 2), {"padding": 1}, (1, 2, 4, 4, 3)),
    ("ConvTranspose2d", (4, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 4, 4, 5)),
    ("ConvTranspose2d", (4, 6, 3), {"groups": 2, "dilation": 2, "bias": False}, (1, 4, 3, 3)),
    ("ConvTranspose1d", (3, 2, 4), {"stride": 3}, (2, 3, 5)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("name,args,kw,shape", CONV, ids=lambda v: str(v))
def test_conv_layers_match_torch(name, args, kw, shape, check_layer):
    torch = require_torch()
    check_layer(getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw), rand(shape, 0))


def test_conv_float32_and_repr(check_layer):
    torch = require_torch()
    for args, kw in (((3, 8, 3), {"stride": 2, "padding": 1, "bias": False}),
                     ((4, 4, 3), {"padding": "same", "dilation": 2, "groups": 4, "padding_mode": "reflect"})):
        ours, theirs = nn.Conv2d(*args, **kw), torch.nn.Conv2d(*args, **kw)
        assert repr(ours) == repr(theirs)
        check_layer(ours, theirs, rand((2, args[0], 9, 9), 0, np.float32))
    assert repr(nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1)) == \
        repr(torch.nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1))


def test_conv_unbatched_input_with_padding_modes(check_layer):
    torch = require_torch()
    for mode in ("zeros", "reflect", "circular"):
        check_layer(nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode), torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode),
                    rand((2, 5, 6), 0))


def test_conv_transpose_output_size(check_layer):
    torch = require_torch()
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    ours.double(), theirs.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rand((1, 2, 4, 4), 0)
    y = ours(cl.tensor(x), output_size=(8, 8))
    ref = theirs(torch.tensor(x), output_size=[8, 8])
    assert y.shape == (1, 3, 8, 8)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="not reachable"):
        ours(cl.tensor(x), output_size=(11, 11))


def test_conv_constructor_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")


def test_linear_identity_flatten_unflatten(check_layer):
    torch = require_torch()
    check_layer(nn.Linear(5, 3), torch.nn.Linear(5, 3), rand((4, 5), 0))
    check_layer(nn.Linear(5, 3, bias=False), torch.nn.Linear(5, 3, bias=False), rand((2, 4, 5), 0))
    check_layer(nn.Identity(54, unused=1), torch.nn.Identity(54, unused=1), rand((2, 3), 0))
    check_layer(nn.Flatten(), torch.nn.Flatten(), rand((2, 3, 4, 5), 0))
    check_layer(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), rand((2, 3, 4, 5), 0))
    check_layer(nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3)), rand((4, 6), 0))
    for ours, theirs in ((nn.Linear(5, 3), torch.nn.Linear(5, 3)), (nn.Flatten(), torch.nn.Flatten())):
        assert repr(ours) == repr(theirs)
    with pytest.raises(ValueError, match="features"):
        nn.Linear(5, 3)(cl.ones(2, 4))


ACTIVATIONS = [
    ("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", (0.2,)), ("SiLU", ()), ("Sigmoid", ()), ("Tanh", ()),
    ("Hardswish", ()), ("Hardsigmoid", ()), ("Softmax", (1,)), ("Softmax", (-1,)), ("LogSoftmax", (1,)),
]


@pytest.mark.parametrize("name,args", ACTIVATIONS, ids=lambda v: str(v))
def test_activations_match_torch(name, args, check_layer):
    torch = require_torch()
    x = rand((3, 4, 5), 0) * 4
    x.flat[:6] = [0.0, 6.0, -3.0, 3.0, 1e-3, -1e-3]  # the kinks of relu, relu6 and the hard functions
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    # torch's hard* backward multiplies by 1/6 rounded to float32 even for float64 input
    check_layer(ours, theirs, x, rtol=1e-7 if name.startswith("Hard") else None)
    assert repr(ours) == repr(theirs)


def test_softmax_default_dim_and_inplace_flag():
    torch = require_torch()
    x = rand((2, 3), 0)
    np.testing.assert_allclose(nn.Softmax()(cl.tensor(x)).numpy(), torch.nn.Softmax(dim=1)(torch.tensor(x)).numpy())
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"


POOLS = [
    ("MaxPool2d", (2,), {}, (2, 3, 6, 6)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (1, 2, 7, 8)),
    ("MaxPool2d", (2,), {"dilation": 2}, (1, 2, 7, 7)),
    ("AvgPool2d", (2,), {}, (2, 3, 6, 6)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (1, 2, 7, 8)),
    ("AvgPool2d", (2,), {"divisor_override": 3}, (1, 2, 4, 4)),
    ("MaxPool1d", (3,), {"stride": 2}, (2, 3, 9)),
    ("AvgPool1d", (2,), {}, (2, 3, 8)),
    ("AdaptiveAvgPool2d", ((1, 1),), {}, (2, 3, 5, 5)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 3, 7, 5)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveMaxPool2d", (2,), {}, (2, 3, 5, 7)),
]


@pytest.mark.parametrize("name,args,kw,shape", POOLS, ids=lambda v: str(v))
def test_pooling_layers_match_torch(name, args, kw, shape, check_layer):
    torch = require_torch()
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    check_layer(ours, theirs, rand(shape, 0))
    assert repr(ours) == repr(theirs)


def test_maxpool_return_indices():
    torch = require_torch()
    x = rand((1, 2, 4, 4), 0)
    y, idx = nn.MaxPool2d(2, return_indices=True)(cl.tensor(x))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def _uniform_bound(t):
    return float(np.abs(t.data).max())


@pytest.mark.parametrize("make,fan_in", [
    (lambda: nn.Conv2d(8, 16, 3), 8 * 9),
    (lambda: nn.Conv2d(8, 16, 3, groups=4), 2 * 9),
    (lambda: nn.Conv1d(4, 6, 5), 20),
    (lambda: nn.ConvTranspose2d(8, 6, 3, groups=2), 3 * 9),  # torch's fan_in from weight.shape[1]
    (lambda: nn.Linear(300, 200), 300),
])
def test_default_init_is_torchs_uniform(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): sqrt(3) * sqrt(2 / 6) / sqrt(fan_in)
    w, b = layer.weight.data, layer.bias.data
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert _uniform_bound(layer.weight) <= bound and _uniform_bound(layer.bias) <= bound
    assert _uniform_bound(layer.weight) > 0.9 * bound  # really spread over the interval
    # U(-B, B) has variance B^2 / 3
    assert abs(w.var() - bound**2 / 3) < 0.1 * bound**2 / 3 if w.numel() > 1000 else True
    assert abs(w.mean()) < 0.1 * bound


def test_default_init_is_seeded_by_manual_seed():
    cl.manual_seed(3)
    a = nn.Conv2d(2, 3, 3)
    cl.manual_seed(3)
    b = nn.Conv2d(2, 3, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, nn.Conv2d(2, 3, 3).weight.data)


def test_norm_layers_default_init():
    bn = nn.BatchNorm2d(3)
    assert bn.weight.data.tolist() == [1, 1, 1] and bn.bias.data.tolist() == [0, 0, 0]
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
    assert bn.num_batches_tracked.item() == 0 and bn.num_batches_tracked.dtype == np.int64
    ln = nn.LayerNorm((2, 3))
    assert ln.weight.shape == (2, 3) and float(ln.bias.data.sum()) == 0


def test_dropout_train_eval_and_scaling():
    x = cl.ones(1000, 50)
    drop = nn.Dropout(0.3)
    y = drop(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert float(nn.Dropout(1.0)(x).sum()) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout_gradient_uses_the_mask_and_seed_repeats():
    x = cl.randn(20, 30, requires_grad=True)
    cl.manual_seed(7)
    y = nn.Dropout(0.5)(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (y.detach().numpy() != 0) * 2.0)
    cl.manual_seed(7)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).detach().numpy(), y.detach().numpy())


def test_dropout2d_zeros_whole_channels():
    x = cl.ones(8, 16, 5, 5)
    y = nn.Dropout2d(0.5)(x).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0 < (per_channel[..., 0] == 0).mean() < 1
    assert nn.Dropout2d(0.5).eval()(x) is x
    assert repr(nn.Dropout2d(0.25)) == "Dropout2d(p=0.25, inplace=False)"
