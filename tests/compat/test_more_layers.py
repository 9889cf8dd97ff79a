"""Layers and functions that public CNN programs use (fast neural style's InstanceNorm2d and
ReflectionPad2d, AlexNet's LocalResponseNorm, ShuffleNet's channel shuffle, d2l's
LazyBatchNorm2d, ...), each compared with torch in float64: outputs and input gradients at the
helpers' float64 tolerance (rtol 1e-10), parameter gradients at rtol 1e-10."""

import numpy as np
import pytest

import convlab
from helpers import compare_with_torch, rand, require_torch

torch = require_torch()


def _twins(make):
    """The same layer from both libraries, convlab's holding torch's initial state (float64)."""
    theirs = make(torch).double()
    ours = make(convlab).double()
    ours.load_state_dict({k: convlab.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


LAYERS = [
    (lambda L: L.nn.InstanceNorm2d(3), (2, 3, 5, 4)),
    (lambda L: L.nn.InstanceNorm2d(3, affine=True), (2, 3, 5, 4)),
    (lambda L: L.nn.InstanceNorm1d(3, affine=True, track_running_stats=True), (2, 3, 7)),
    (lambda L: L.nn.InstanceNorm3d(2), (1, 2, 3, 3, 3)),
    (lambda L: L.nn.InstanceNorm2d(3), (3, 5, 4)),  # unbatched
    (lambda L: L.nn.LocalResponseNorm(2), (2, 5, 3, 3)),
    (lambda L: L.nn.LocalResponseNorm(5, alpha=1e-2, beta=0.6, k=2.0), (2, 7, 3, 3)),
    (lambda L: L.nn.LocalResponseNorm(3), (2, 4, 6)),
    (lambda L: L.nn.ReflectionPad2d(2), (1, 2, 4, 5)),
    (lambda L: L.nn.ReflectionPad2d((1, 0, 2, 1)), (1, 2, 4, 5)),
    (lambda L: L.nn.ReplicationPad2d((1, 2, 0, 3)), (1, 2, 4, 5)),
    (lambda L: L.nn.ReflectionPad1d(2), (2, 3, 5)),
    (lambda L: L.nn.ReplicationPad3d(1), (1, 1, 2, 3, 3)),
    (lambda L: L.nn.ZeroPad2d((1, 2, 3, 0)), (1, 2, 3, 3)),
    (lambda L: L.nn.ConstantPad2d(1, 3.5), (1, 2, 3, 3)),
    (lambda L: L.nn.CircularPad2d(1), (1, 2, 3, 3)),
    (lambda L: L.nn.MaxPool3d(2), (1, 2, 4, 4, 4)),
    (lambda L: L.nn.AvgPool3d(2, stride=1), (1, 2, 3, 4, 4)),
    (lambda L: L.nn.AdaptiveAvgPool3d(1), (2, 3, 2, 3, 4)),
    (lambda L: L.nn.AdaptiveMaxPool1d(3), (2, 3, 7)),
    (lambda L: L.nn.ChannelShuffle(3), (2, 6, 2, 2)),
    (lambda L: L.nn.Softmax2d(), (2, 4, 3, 3)),
    (lambda L: L.nn.Softmin(dim=1), (3, 5)),
    (lambda L: L.nn.Threshold(0.1, 20.0), (3, 5)),
    (lambda L: L.nn.Hardshrink(0.4), (3, 5)),
    (lambda L: L.nn.Softshrink(0.4), (3, 5)),
]


@pytest.mark.parametrize("make,shape", LAYERS, ids=lambda v: "" if callable(v) else str(v))
def test_layer_matches_torch_in_training_mode(make, shape):
    ours, theirs = _twins(make)
    compare_with_torch(ours, theirs, [rand(shape, seed=len(shape))])
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    for (name, b), c in zip(theirs.named_buffers(), ours.buffers()):  # running statistics moved alike
        np.testing.assert_allclose(c.numpy(), b.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


def test_instance_norm_with_running_stats_uses_them_in_eval_mode():
    ours, theirs = _twins(lambda L: L.nn.InstanceNorm2d(3, affine=True, track_running_stats=True))
    x = rand((4, 3, 5, 5), seed=3) * 2 + 1
    for _ in range(2):
        ours(convlab.tensor(x)), theirs(torch.tensor(x))
    ours.eval(), theirs.eval()
    y = rand((2, 3, 5, 5), seed=4)
    np.testing.assert_allclose(ours(convlab.tensor(y)).detach().numpy(), theirs(torch.tensor(y)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_lazy_batch_norm_learns_its_channels_and_matches_batch_norm():
    ours = convlab.nn.LazyBatchNorm2d().double()
    theirs = torch.nn.LazyBatchNorm2d().double()
    x = rand((4, 3, 2, 2), seed=5)
    compare_with_torch(ours, theirs, [x])
    assert ours.num_features == theirs.num_features == 3 and not ours.has_uninitialized_params()
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10)


def test_max_unpool_inverts_max_pool_as_torch():
    x = rand((1, 2, 4, 4), seed=6)
    y, i = convlab.nn.MaxPool2d(2, return_indices=True)(convlab.tensor(x))
    ty, ti = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(convlab.nn.MaxUnpool2d(2)(y, i).numpy(), torch.nn.MaxUnpool2d(2)(ty, ti).numpy())


@pytest.mark.parametrize("fn,shapes", [
    (lambda L, a, b: L.nn.functional.cosine_similarity(a, b), [(4, 3), (4, 3)]),
    (lambda L, a, b: L.nn.functional.cosine_similarity(a, b, dim=0, eps=1e-3), [(4, 3), (1, 3)]),
    (lambda L, a, b: L.nn.functional.pairwise_distance(a, b), [(4, 3), (4, 3)]),
    (lambda L, a, b: L.nn.functional.pairwise_distance(a, b, p=1.5, keepdim=True), [(4, 3), (4, 3)]),
])
def test_similarity_functions_match_torch(fn, shapes):
    arrays = [rand(s, seed=i) for i, s in enumerate(shapes)]
    compare_with_torch(lambda a, b: fn(convlab, a, b), lambda a, b: fn(torch, a, b), arrays)


@pytest.mark.parametrize("name,shape,mask_shape", [("Dropout1d", (4, 6, 5), (4, 6, 1)),
                                                   ("Dropout3d", (2, 5, 2, 2, 2), (2, 5, 1, 1, 1))])
def test_channel_dropout_zeroes_whole_channels(name, shape, mask_shape):
    convlab.manual_seed(0)
    layer = getattr(convlab.nn, name)(p=0.5)
    y = layer(convlab.ones(*shape)).numpy()
    per_channel = y.reshape(*mask_shape[:2], -1)
    assert set(np.unique(y)) <= {0.0, 2.0} and (per_channel.min(-1) == per_channel.max(-1)).all()
    assert 0 < (per_channel[..., 0] == 0).sum() < per_channel[..., 0].size  # some but not all channels dropped
    layer.eval()
    assert (layer(convlab.ones(*shape)).numpy() == 1).all()
