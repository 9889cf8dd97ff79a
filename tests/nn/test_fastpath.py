"""Layers' short path without a graph (nn/_fastpath.py): a call whose shapes passed every check
before runs the arithmetic directly. It must give the full path's values (compared with the
first, full-path call exactly, and with torch at float32 tolerance), and anything the full path
would refuse (a changed option, dtype, channel count) must still be refused in the same words."""

from __future__ import annotations

import numpy as np
import pytest

import convlab as cl
from convlab import nn
from convlab.nn import _fastpath
from convlab.validate import ConvlabError
from helpers import require_torch

RTOL, ATOL = 1e-5, 1e-5  # float32 against torch


def _layers():
    return [
        ("conv2d", lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 7, 7)),
        ("conv2d_nobias_stride", lambda: nn.Conv2d(3, 4, 3, stride=2, bias=False), (2, 3, 9, 9)),
        ("conv2d_groups_same", lambda: nn.Conv2d(4, 6, 3, padding="same", groups=2), (1, 4, 6, 6)),
        ("conv1d", lambda: nn.Conv1d(2, 3, 3), (2, 2, 9)),
        ("conv3d", lambda: nn.Conv3d(2, 2, 3, padding=1), (1, 2, 4, 4, 4)),
        ("batchnorm2d", lambda: nn.BatchNorm2d(3), (2, 3, 5, 5)),
        ("batchnorm1d", lambda: nn.BatchNorm1d(3), (4, 3)),
        ("linear", lambda: nn.Linear(5, 3), (2, 5)),
        ("linear_nobias", lambda: nn.Linear(5, 3, bias=False), (2, 4, 5)),
        ("relu", lambda: nn.ReLU(), (2, 3, 4)),
        ("maxpool2d", lambda: nn.MaxPool2d(2), (2, 3, 6, 6)),
        ("maxpool2d_pad_ceil", lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (1, 2, 7, 7)),
        ("maxpool1d", lambda: nn.MaxPool1d(2), (2, 3, 8)),
    ]


def _torch_twin(torch, layer):
    t = {nn.Conv2d: torch.nn.Conv2d, nn.Conv1d: torch.nn.Conv1d, nn.Conv3d: torch.nn.Conv3d}.get(type(layer))
    if t is not None:
        m = t(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
              layer.groups, layer.bias is not None)
    elif isinstance(layer, (nn.BatchNorm2d, nn.BatchNorm1d)):
        m = getattr(torch.nn, type(layer).__name__)(layer.num_features)
    elif isinstance(layer, nn.Linear):
        m = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    elif isinstance(layer, nn.ReLU):
        m = torch.nn.ReLU()
    else:
        m = getattr(torch.nn, type(layer).__name__)(layer.kernel_size, layer.stride, layer.padding, layer.dilation,
                                                    ceil_mode=layer.ceil_mode)
    sd = {k: torch.from_numpy(v.numpy().copy()) for k, v in layer.state_dict().items()}
    m.load_state_dict(sd)
    return m.eval()


@pytest.mark.parametrize("name, make, shape", _layers(), ids=[n for n, _, _ in _layers()])
def test_the_short_path_gives_the_full_paths_values_and_torchs(name, make, shape):
    torch = require_torch()
    cl.manual_seed(0)
    layer = make().eval()
    if isinstance(layer, (nn.BatchNorm2d, nn.BatchNorm1d)):  # running statistics that are not 0 and 1
        rng = np.random.default_rng(3)
        layer.running_mean.data = cl.tensor(rng.standard_normal(layer.num_features).astype(np.float32))
        layer.running_var.data = cl.tensor(rng.uniform(0.5, 2, layer.num_features).astype(np.float32))
        layer.weight.data = cl.tensor(rng.standard_normal(layer.num_features).astype(np.float32))
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    with cl.no_grad():
        first = layer(cl.tensor(x)).numpy()  # full path, remembered
        again = layer(cl.tensor(x))  # short path
    assert not again.requires_grad and again.grad_fn is None
    np.testing.assert_array_equal(again.numpy(), first)
    with torch.no_grad():
        want = _torch_twin(torch, layer)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(again.numpy(), want, rtol=RTOL, atol=ATOL)


def test_a_changed_option_takes_the_full_path_and_its_checks():
    torch = require_torch()
    cl.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3).eval()
    x = cl.randn(1, 2, 6, 6)
    with cl.no_grad():
        conv(x)
        conv(x)
        conv.padding = (2, 2)  # a new key: checked and sized again
        got = conv(x).numpy()
        assert got.shape == (1, 3, 8, 8)
        np.testing.assert_allclose(got, _torch_twin(torch, conv)(torch.from_numpy(x.numpy())).detach().numpy(),
                                   rtol=RTOL, atol=ATOL)
        conv.padding = [1, 1]  # unhashable: the full path (which takes a list)
        assert conv(x).shape == (1, 3, 6, 6)
        conv.padding = (-1, -1)
        with pytest.raises(ConvlabError, match=r"conv2d: padding must be non-negative, got \(-1, -1\)"):
            conv(x)


def test_what_the_full_path_refuses_is_still_refused_after_a_remembered_call():
    cl.manual_seed(0)
    conv, bn, fc = nn.Conv2d(2, 3, 3).eval(), nn.BatchNorm2d(2).eval(), nn.Linear(4, 2).eval()
    x = cl.randn(1, 2, 5, 5)
    with cl.no_grad():
        for layer, good in ((conv, x), (bn, x), (fc, cl.randn(3, 4))):
            layer(good)
            layer(good)
        with pytest.raises(TypeError, match=r"conv2d: input dtype float64 and weight dtype float32 should be the same"):
            conv(x.double())
        with pytest.raises(ConvlabError, match=r"conv2d: input has 3 channels but weight expects 2"):
            conv(cl.randn(1, 3, 5, 5))
        with pytest.raises(ConvlabError, match=r"BatchNorm2d: input of shape \(1, 3, 5, 5\) has 3 channels, "
                                                   r"expected num_features=2"):
            bn(cl.randn(1, 3, 5, 5))
        with pytest.raises(ConvlabError, match=r"linear: input of shape \(3, 5\) has 5 features"):
            fc(cl.randn(3, 5))
        conv.weight = nn.Parameter(cl.randn(3, 2, 2, 2))  # a new weight shape: a new key
        assert conv(x).shape == (1, 3, 4, 4)


def test_batch_norm_reads_its_running_statistics_on_every_call():
    bn = nn.BatchNorm2d(2).eval()
    x = cl.ones(1, 2, 3, 3)
    with cl.no_grad():
        assert np.allclose(bn(x).numpy(), 1 / np.sqrt(1 + 1e-5))
        assert np.allclose(bn(x).numpy(), 1 / np.sqrt(1 + 1e-5))
        bn.running_mean._data[:] = 1.0  # changed in place: the next call sees it
        assert np.allclose(bn(x).numpy(), 0.0)
        bn.eps = 0.5  # a new key
        bn.running_mean._data[:] = 0.0
        assert np.allclose(bn(x).numpy(), 1 / np.sqrt(1.5))
        bn.train()  # training updates the running statistics: never the short path
        bn(cl.randn(4, 2, 3, 3))
    assert int(bn.num_batches_tracked.item()) == 1 and not np.allclose(bn.running_mean.numpy(), 0.0)


def test_a_graph_to_record_takes_the_full_path():
    cl.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3)
    x = cl.randn(1, 2, 5, 5)
    with cl.no_grad():
        conv(x)
        conv(x)
    y = conv(x)  # grad mode on, the weight requires grad
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.shape == (3, 2, 3, 3)


def test_an_array_input_still_takes_the_full_path_and_its_conversion():
    cl.manual_seed(0)
    conv = nn.Conv2d(1, 1, 3)
    x = np.ones((1, 1, 4, 4), np.float32)
    with cl.no_grad():
        a = conv(cl.tensor(x)).numpy()
        b = conv(x).numpy()
    np.testing.assert_array_equal(a, b)


def test_a_layer_keeps_a_bounded_number_of_keys():
    conv = nn.Conv2d(1, 1, 3, padding=1)
    with cl.no_grad():
        for n in range(3, 3 + 2 * _fastpath.MAX_KEYS):
            conv(cl.zeros(1, 1, n, n))
    assert 0 < len(conv.__dict__[_fastpath._SLOT]) <= _fastpath.MAX_KEYS


def test_a_wrapped_apply_sees_every_call(monkeypatch):
    # the ONNX exporter records each Function.apply of a forward pass: no call may go around it
    from convlab.graph import Function

    original, seen = Function.__dict__["apply"], []
    monkeypatch.setattr(Function, "apply", classmethod(lambda cls, *a, **k: (seen.append(cls.__name__),
                                                                             original.__func__(cls, *a, **k))[1]))
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8, 3)).eval()
    with cl.no_grad():
        model(cl.randn(1, 1, 6, 6))
        model(cl.randn(1, 1, 6, 6))
    assert seen[:5] == ["ConvNd", "BatchNorm", "ReLU", "MaxPoolNd", "Reshape"] and seen[5] == "Linear"
    assert seen[: len(seen) // 2] == seen[len(seen) // 2:]


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.AdaptiveAvgPool2d((1, 1)), (2, 3, 5, 5)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 7, 8)),
    (lambda: nn.AdaptiveAvgPool1d(3), (2, 3, 8)),
], ids=["global", "uneven", "1d"])
def test_adaptive_average_pooling_short_path_matches_torch(make, shape):
    torch = require_torch()
    layer = make()
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    with cl.no_grad():
        first = layer(cl.tensor(x)).numpy()
        again = layer(cl.tensor(x)).numpy()
    np.testing.assert_array_equal(again, first)
    want = getattr(torch.nn, type(layer).__name__)(layer.output_size)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(again, want, rtol=RTOL, atol=ATOL)
    layer.output_size = 0  # changed: the full path refuses it
    with pytest.raises(ConvlabError, match=r"output_size must be positive, got 0"):
        layer(cl.tensor(x))


def test_resnet_option_a_shortcut_short_path_is_the_padded_subsample():
    from convlab.models.resnet import ShortcutA

    sc = ShortcutA(3, 8, stride=2)
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 7)).astype(np.float32)
    with cl.no_grad():
        first = sc(cl.tensor(x)).numpy()
        again = sc(cl.tensor(x)).numpy()
    want = np.zeros((2, 8, 4, 4), np.float32)
    want[:, 2:5] = x[:, :, ::2, ::2]  # 5 extra channels: 2 before, 3 after
    np.testing.assert_array_equal(first, want)
    np.testing.assert_array_equal(again, want)
