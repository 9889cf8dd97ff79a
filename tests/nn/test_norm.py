"""Batch, group and layer norm against torch (train and eval, running statistics) and gradcheck."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
import convlab.nn as nn
from helpers import gradcheck_op, rand, require_torch

BN = [  # (layer, kwargs, input shape)
    ("BatchNorm2d", {}, (4, 3, 5, 6)),
    ("BatchNorm2d", {"momentum": None}, (2, 3, 4, 4)),
    ("BatchNorm2d", {"affine": False}, (2, 3, 4, 4)),
    ("BatchNorm2d", {"bias": False, "eps": 1e-3, "momentum": 0.3}, (2, 3, 4, 4)),
    ("BatchNorm2d", {"track_running_stats": False}, (3, 2, 4, 4)),
    ("BatchNorm1d", {}, (8, 5)),
    ("BatchNorm1d", {}, (4, 5, 7)),
    ("BatchNorm3d", {}, (2, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("name,kw,shape", BN, ids=lambda v: str(v))
def test_batchnorm_train_then_eval_matches_torch(name, kw, shape, check_layer):
    torch = require_torch()
    ours, theirs = getattr(nn, name)(shape[1], **kw), getattr(torch.nn, name)(shape[1], **kw)
    if theirs.affine:  # non-trivial affine parameters
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
            if theirs.bias is not None:
                theirs.bias.uniform_(-0.5, 0.5)
    check_layer(ours, theirs, rand(shape, 0) * 2 + 1)
    for step in range(1, 4):  # running statistics follow torch's over several batches
        check_layer(ours, theirs, rand(shape, step) * 3 - 1, copy=False)
    if theirs.track_running_stats:
        assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked) == 4
    ours.eval(), theirs.eval()
    check_layer(ours, theirs, rand(shape, 9), copy=False)
    assert repr(ours) == repr(theirs)


def test_batchnorm_float32(check_layer):
    torch = require_torch()
    check_layer(nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4), rand((8, 4, 6, 6), 0, np.float32) * 5 + 3)


def test_batchnorm_errors():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(cl.ones(1, 3, 1, 1))
    bn.eval()(cl.ones(1, 3, 1, 1))  # fine in eval mode
    with pytest.raises(ValueError, match="expected 4D input"):
        bn(cl.ones(2, 3))
    with pytest.raises(ValueError, match="num_features=3"):
        bn(cl.ones(2, 4, 2, 2))


@pytest.mark.parametrize("training", [True, False])
def test_fused_batchnorm_gradcheck(training):
    rm, rv = cl.tensor(rand((3,), 5)), cl.tensor(rand((3,), 6, low=0.5))

    def fn(x, w, b):
        # running stats are re-copied so that every gradcheck evaluation sees the same state
        return F.batch_norm(x, cl.tensor(rm.data), cl.tensor(rv.data), w, b, training=training, momentum=0.1)

    gradcheck_op(fn, (4, 3, 2, 3), (3,), (3,))
    gradcheck_op(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (5, 3), (3,), (3,))


def test_batchnorm_is_one_graph_node():
    x = cl.randn(4, 3, 5, 5, requires_grad=True)
    y = nn.BatchNorm2d(3)(x)
    assert y._node.fn.__name__ == "BatchNorm" and y._node.inputs[0] is x


@pytest.mark.parametrize("groups,channels,shape,kw", [
    (2, 4, (3, 4, 5, 5), {}), (1, 3, (2, 3, 7), {}), (3, 3, (2, 3, 2, 2), {"affine": False}),
    (2, 6, (2, 6, 3, 3), {"bias": False, "eps": 1e-3}),
], ids=str)
def test_groupnorm_matches_torch(groups, channels, shape, kw, check_layer):
    torch = require_torch()
    ours, theirs = nn.GroupNorm(groups, channels, **kw), torch.nn.GroupNorm(groups, channels, **kw)
    if theirs.affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
    check_layer(ours, theirs, rand(shape, 0) * 2 + 1)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("normalized,shape,kw", [
    (5, (3, 5), {}), ((4, 5), (2, 3, 4, 5), {}), (6, (2, 6), {"elementwise_affine": False}), (4, (3, 4), {"bias": False}),
], ids=str)
def test_layernorm_matches_torch(normalized, shape, kw, check_layer):
    torch = require_torch()
    ours, theirs = nn.LayerNorm(normalized, **kw), torch.nn.LayerNorm(normalized, **kw)
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 1.5)
    check_layer(ours, theirs, rand(shape, 0) * 2 + 1)
    assert repr(ours) == repr(theirs)


def test_group_and_layer_norm_gradcheck():
    gradcheck_op(lambda x, w, b: F.group_norm(x, 2, w, b), (2, 4, 3), (4,), (4,))
    gradcheck_op(lambda x, w, b: F.layer_norm(x, (3, 2), w, b), (2, 3, 2), (3, 2), (3, 2))


def test_norm_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="does not end with"):
        nn.LayerNorm(4)(cl.ones(2, 5))
