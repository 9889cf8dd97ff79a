"""Module system: registration, traversal, state dicts (torch's keys), hooks, modes, dtype, repr."""

import json
from collections import OrderedDict

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
import convlab.nn as nn
from convlab.models.smallcnn import ResBlock, SmallCNN  # seed 003's networks, as written there
from helpers import require_torch


def torch_twins():
    torch = require_torch()
    tnn, tF = torch.nn, torch.nn.functional

    class TSmallCNN(tnn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 32, kernel_size=3, padding=1)
            self.conv2 = tnn.Conv2d(32, 64, kernel_size=3, padding=1)
            self.pool = tnn.MaxPool2d(2, 2)
            self.bn1 = tnn.BatchNorm2d(32)
            self.bn2 = tnn.BatchNorm2d(64)
            self.fc1 = tnn.Linear(64 * 8 * 8, 128)
            self.drop = tnn.Dropout(0.5)
            self.fc2 = tnn.Linear(128, num_classes)

        def forward(self, x):
            x = self.pool(tF.relu(self.bn1(self.conv1(x))))
            x = self.pool(tF.relu(self.bn2(self.conv2(x))))
            x = x.flatten(1)
            x = self.drop(tF.relu(self.fc1(x)))
            return self.fc2(x)

    class TResBlock(tnn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1 = tnn.Conv2d(c, c, 3, padding=1)
            self.b1 = tnn.BatchNorm2d(c)
            self.c2 = tnn.Conv2d(c, c, 3, padding=1)
            self.b2 = tnn.BatchNorm2d(c)

        def forward(self, x):
            out = tF.relu(self.b1(self.c1(x)))
            out = self.b2(self.c2(out))
            return tF.relu(out + x)

    return TSmallCNN, TResBlock


def test_seed_networks_match_torch_keys_repr_and_outputs(torch_copy):
    torch = require_torch()
    TSmallCNN, TResBlock = torch_twins()
    for ours, theirs, shape in ((SmallCNN(), TSmallCNN(), (2, 3, 32, 32)), (ResBlock(4), TResBlock(4), (2, 4, 6, 6))):
        sd = theirs.state_dict()
        assert list(ours.state_dict()) == list(sd)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in sd.items()]
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
        assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
        assert repr(ours).replace("SmallCNN", "X").replace("ResBlock", "X") == \
            repr(theirs).replace("TSmallCNN", "X").replace("TResBlock", "X")
        torch_copy(ours, theirs)
        ours.eval(), theirs.eval()
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(ours(cl.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=1e-4)


def test_state_dict_round_trip_back_to_torch():
    torch = require_torch()
    TSmallCNN, _ = torch_twins()
    ours, theirs = SmallCNN(), TSmallCNN()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ours.state_dict()[k].numpy())
    assert theirs.state_dict()["bn1.num_batches_tracked"].dtype == torch.int64


def test_sequential_modulelist_moduledict_names():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    assert list(seq[1:].state_dict()) == ["2.weight", "2.bias"]  # a slice keeps the names, as torch
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.BatchNorm1d(2))
    assert list(ml.state_dict())[-5:] == ["3.weight", "3.bias", "3.running_mean", "3.running_var", "3.num_batches_tracked"]
    del ml[0]
    assert list(dict(ml.named_children())) == ["0", "1", "2"]
    md = nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.Identity()})
    md["c"] = nn.Linear(2, 2)
    assert list(md.state_dict()) == ["a.weight", "a.bias", "c.weight", "c.bias"] and "b" in md and len(md) == 3
    ordered = nn.Sequential(OrderedDict(stem=nn.Conv2d(1, 2, 3), act=nn.ReLU()))
    assert list(ordered.state_dict()) == ["stem.weight", "stem.bias"]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]


def test_modulelist_repr_compresses_repeats_like_torch():
    torch = require_torch()

    def build(lib):
        return lib.ModuleList([lib.Linear(2, 2) for _ in range(3)] + [lib.ReLU(), lib.Sequential(lib.ReLU(), lib.ReLU())])

    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_traversal_shared_parameters_and_apply():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(net.parameters())) == 2  # the shared layer counts once
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(net.children())) == 2 and len(list(net.modules())) == 3
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential"]  # children first, then the parent
    assert net.get_submodule("1") is net[1]


def test_registration_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter or None expected"):
        m.weight = cl.zeros(2, 2)
    m.bias = None
    assert "bias" not in m.state_dict()
    m.register_buffer("scale", cl.ones(2))
    m.register_buffer("cache", cl.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["weight", "scale"]
    assert [n for n, _ in m.named_buffers()] == ["scale", "cache"]
    del m.scale
    assert "scale" not in m.state_dict()
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("in_features", cl.ones(1))

    class NoInit(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cl.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        NoInit()


def test_parameter_shares_data_and_prints():
    t = cl.zeros(3)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and p._data is t._data
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(cl.zeros(1), requires_grad=False).requires_grad


def test_load_state_dict_strict_errors_list_everything():
    src = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    dst = nn.Sequential(nn.Conv2d(1, 5, 3), nn.BatchNorm2d(5), nn.Linear(2, 2))
    sd = src.state_dict()
    sd["extra.weight"] = cl.zeros(1)
    with pytest.raises(RuntimeError) as info:
        dst.load_state_dict(sd)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "2.weight", "2.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert "size mismatch for 0.weight: copying a param with shape (4, 1, 3, 3) from checkpoint, " \
           "the shape in current model is (5, 1, 3, 3)." in msg
    assert "size mismatch for 1.running_var" in msg
    # strict=False reports the key differences but still refuses wrong shapes
    with pytest.raises(RuntimeError, match="size mismatch"):
        dst.load_state_dict(sd, strict=False)
    ok = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Linear(2, 2))
    result = ok.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["2.weight", "2.bias"] and result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(ok[0].weight.data, src[0].weight.data)


def test_load_state_dict_copies_in_place_and_casts():
    m = nn.Linear(3, 2)
    w = m.weight
    m.load_state_dict({"weight": np.ones((2, 3)), "bias": [1.0, 2.0]})
    assert m.weight is w and m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.bias.data, [1.0, 2.0])


def test_forward_hooks_capture_replace_and_remove():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    feats = {}
    h = net[0].register_forward_hook(lambda mod, inp, out: feats.update(out=out, inp=inp))
    y = net(cl.ones(4, 2))
    assert feats["out"].shape == (4, 3) and feats["inp"][0].shape == (4, 2) and y.shape == (4, 3)
    h.remove()
    feats.clear()
    net(cl.ones(1, 2))
    assert feats == {}
    with net.register_forward_hook(lambda mod, inp, out: out * 0):
        assert float(net(cl.ones(1, 2)).abs().sum()) == 0.0
    assert float(net(cl.tensor([[1.0, 1.0]])).abs().sum()) >= 0.0
    assert not net._forward_hooks
    pre = net.register_forward_pre_hook(lambda mod, inp: (inp[0] * 0,))
    assert np.allclose(net(cl.ones(1, 2)).data, F.relu(net[0].bias).data[None])
    pre.remove()


def test_train_eval_and_zero_grad():
    net = SmallCNN()
    assert net.training and net.bn1.training
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    x = cl.randn(2, 3, 32, 32)
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_keeps_integer_buffers_and_casts_grads():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    net(cl.randn(4, 2)).sum().backward()
    net.to(cl.float64)
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net[1].running_mean.dtype == np.float64 and net[1].num_batches_tracked.dtype == np.int64
    assert net.float()[0].weight.dtype == np.float32
    assert net.to("cpu") is net
    with pytest.raises(TypeError, match="floating"):
        net.to(cl.int64)


def test_state_dict_values_are_detached_views():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad and sd["weight"]._data is m.weight._data
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    json.dumps({k: v.shape for k, v in sd.items()})  # plain shapes


def test_missing_forward_and_repr_of_custom_module():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="forward"):
        Empty()(cl.ones(1))
    assert repr(Empty()) == "Empty()"
