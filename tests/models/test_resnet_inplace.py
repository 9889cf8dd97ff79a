"""The ResNets' in-place inference path (models/_inplace.py): conv -> batch norm (-> + shortcut)
-> ReLU written over the convolution's output when no graph is recorded.

It must give the layer-by-layer path's values (the same compiled loops on the same inputs: the
same bits), torch's within float32 rounding, never run with a graph to record or a hook that could
keep an intermediate tensor, and never write a tensor the caller holds.
"""

import numpy as np
import pytest

import convlab
import convlab.models as models
from convlab import nn
from convlab.models import _inplace
from convlab.models.resnet import BasicBlock, Bottleneck, conv1x1
from convlab.ops import fused
from helpers import normwise_error, require_torch

pytestmark = pytest.mark.skipif(not fused.available(), reason="the in-place path runs the compiled passes")


def _randomize_batch_norms(model, rng):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data[...] = rng.uniform(0.5, 1.5, n)
            m.bias.data[...] = rng.normal(0, 0.2, n)
            m.running_mean.data[...] = rng.normal(0, 0.2, n)
            m.running_var.data[...] = rng.uniform(0.5, 1.5, n)


def _count_inplace(monkeypatch):
    calls = []
    real = _inplace._relu_inplace
    monkeypatch.setattr(_inplace, "_relu_inplace", lambda d: (calls.append(d.shape), real(d)))
    return calls


def _layer_by_layer(model, x):
    """The model's output with a (no-op) hook on every ReLU: the in-place path steps aside."""
    handles = [m.register_forward_hook(lambda *a: None) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        with convlab.no_grad():
            return model(x).numpy()
    finally:
        for h in handles:
            h.remove()


def _resnet20():
    convlab.manual_seed(0)
    model = models.resnet20(num_classes=5).eval()
    _randomize_batch_norms(model, np.random.default_rng(1))
    return model


def test_resnet20_in_place_gives_the_layer_by_layer_bits_and_leaves_the_input(monkeypatch):
    model = _resnet20()
    x = convlab.tensor(np.random.default_rng(2).standard_normal((3, 3, 16, 16)).astype(np.float32))
    before = x.numpy().copy()
    calls = _count_inplace(monkeypatch)
    with convlab.no_grad():
        first = model(x).numpy()  # each batch norm's full checks, then in place where remembered
        again = model(x).numpy()
    # 9 blocks x 2 ReLUs + the stem's, on the second call (the first remembers the batch norms' keys)
    assert len(calls) >= 19
    ref = _layer_by_layer(model, x)
    assert np.array_equal(first, ref) and np.array_equal(again, ref)  # the same loops: the same bits
    np.testing.assert_array_equal(x.numpy(), before)


def test_resnet20_in_place_matches_torch():
    torch = require_torch()
    import zoo_twins as twins

    model = _resnet20()
    with torch.device("meta"):
        twin = twins.CifarResNet(20, 5)
    state = {k: torch.from_numpy(np.array(v.detach().numpy())) for k, v in model.state_dict().items()}
    twin.load_state_dict(state, strict=True, assign=True)
    x = np.random.default_rng(3).standard_normal((2, 3, 16, 16)).astype(np.float32)
    with convlab.no_grad():
        model(convlab.tensor(x))
        y = model(convlab.tensor(x)).numpy()
    with torch.no_grad():
        ty = twin.eval()(torch.from_numpy(x)).numpy()
    assert normwise_error(y, ty) <= 2e-5  # float32 rounding of 19 convolutions in a different order


def test_a_hook_sees_an_intermediate_tensor_that_stays_as_it_was():
    model = _resnet20()
    block = model.layer1[0]
    kept = []
    block.conv1.register_forward_hook(lambda m, i, o: kept.append((o, o.numpy().copy())))
    x = convlab.randn(2, 3, 16, 16)
    with convlab.no_grad():
        model(x)
        model(x)
    for out, copy in kept:
        np.testing.assert_array_equal(out.numpy(), copy)  # the batch norm wrote a new array


def test_a_block_input_and_shortcut_are_read_only(monkeypatch):
    convlab.manual_seed(0)
    block = BasicBlock(8, 8).eval()
    _randomize_batch_norms(block, np.random.default_rng(4))
    x = convlab.randn(2, 8, 6, 6)
    before = x.numpy().copy()
    calls = _count_inplace(monkeypatch)
    with convlab.no_grad():
        block(x)
        y = block(x).numpy()
    assert calls  # the in-place path ran
    np.testing.assert_array_equal(x.numpy(), before)
    assert np.array_equal(y, _layer_by_layer(block, x))


def test_bottleneck_with_a_projection_shortcut_in_place(monkeypatch):
    convlab.manual_seed(0)
    block = Bottleneck(8, 4, stride=2, downsample=nn.Sequential(conv1x1(8, 16, 2), nn.BatchNorm2d(16))).eval()
    _randomize_batch_norms(block, np.random.default_rng(5))
    x = convlab.randn(2, 8, 8, 8)
    calls = _count_inplace(monkeypatch)
    with convlab.no_grad():
        block(x)
        y = block(x).numpy()
    assert calls
    assert np.array_equal(y, _layer_by_layer(block, x))


def test_a_graph_to_record_takes_the_layers(monkeypatch):
    model = _resnet20()
    x = convlab.randn(2, 3, 16, 16)
    calls = _count_inplace(monkeypatch)
    out = model(x)  # grad mode on, parameters require grad
    out.sum().backward()
    assert not calls and model.conv1.weight.grad is not None
    assert np.array_equal(out.detach().numpy(), _layer_by_layer(model, x))


def test_training_mode_and_numpy_passes_take_the_layers(monkeypatch):
    model = _resnet20()
    x = convlab.randn(2, 3, 16, 16)
    calls = _count_inplace(monkeypatch)
    ref = _layer_by_layer(model, x)
    previous = fused.set_enabled(False)
    try:
        with convlab.no_grad():
            y = model(x).numpy()
    finally:
        fused.set_enabled(previous)
    assert normwise_error(y, ref) <= 1e-5  # NumPy's batch norm rounds in another order
    with convlab.no_grad():
        model.train()(x)
    assert not calls
