"""Pooling against torch: max (argmax routing, ties, indices), average, adaptive, unpooling."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from helpers import compare_with_torch, gradcheck_op, rand, require_torch

MAX2D = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (2, 3), "stride": (1, 2), "dilation": (2, 1)},
    {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 2},
    {"kernel_size": 2, "stride": 3, "ceil_mode": True},
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", MAX2D, ids=str)
def test_max_pool2d_matches_torch(kw, dtype):
    torch = require_torch()
    compare_with_torch(lambda x: F.max_pool2d(x, **kw), lambda x: torch.nn.functional.max_pool2d(x, **kw),
                       [rand((2, 3, 9, 8), 1, dtype)])
    ours, oi = F.max_pool2d(cl.tensor(rand((2, 3, 9, 8), 1, dtype)), return_indices=True, **kw)
    ref, ri = torch.nn.functional.max_pool2d(torch.tensor(rand((2, 3, 9, 8), 1, dtype)), return_indices=True, **kw)
    np.testing.assert_array_equal(oi.numpy(), ri.numpy())


def test_max_pool_ties_route_to_the_first_maximum_like_torch():
    torch = require_torch()
    x = np.array([[[[1.0, 1, 0, 2], [1, 1, 2, 2], [3, 3, 0, 0], [3, 3, 0, 0]]]])
    for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}):
        compare_with_torch(lambda t, kw=kw: F.max_pool2d(t, **kw), lambda t, kw=kw: torch.nn.functional.max_pool2d(t, **kw), [x])
    integers = rand((2, 2, 8, 8), 1).round()  # many ties
    compare_with_torch(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: torch.nn.functional.max_pool2d(t, 3, 2, 1), [integers])


def test_max_pool_propagates_nan_like_torch():
    torch = require_torch()
    x = rand((1, 1, 4, 4), 1)
    x[0, 0, 1, 1] = np.nan
    ours = F.max_pool2d(cl.tensor(x), 2).numpy()
    ref = torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_array_equal(ours[~np.isnan(ours)], ref[~np.isnan(ref)])


AVG2D = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": (2, 3), "stride": (2, 1), "padding": (1, 0), "divisor_override": 5},
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", AVG2D, ids=str)
def test_avg_pool2d_matches_torch(kw, dtype):
    torch = require_torch()
    compare_with_torch(lambda x: F.avg_pool2d(x, **kw), lambda x: torch.nn.functional.avg_pool2d(x, **kw),
                       [rand((2, 3, 9, 8), 1, dtype)])


@pytest.mark.parametrize("out", [1, 3, (4, 3), (7, 5), (2, None), (9, 8), (10, 11)], ids=str)
def test_adaptive_pool2d_matches_torch(out):
    torch = require_torch()
    tf = torch.nn.functional
    x = rand((2, 3, 9, 8), 1)
    compare_with_torch(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: tf.adaptive_avg_pool2d(t, out), [x])
    compare_with_torch(lambda t: F.adaptive_max_pool2d(t, out), lambda t: tf.adaptive_max_pool2d(t, out), [x])
    _, oi = F.adaptive_max_pool2d(cl.tensor(x), out, return_indices=True)
    _, ri = tf.adaptive_max_pool2d(torch.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(oi.numpy(), ri.numpy())


def test_pool1d_and_3d_match_torch():
    torch = require_torch()
    tf = torch.nn.functional
    x1, x3 = rand((2, 3, 11), 1), rand((1, 2, 5, 6, 4), 2)
    for dtype in (np.float64, np.float32):
        a = x1.astype(dtype)
        compare_with_torch(lambda t: F.max_pool1d(t, 3, 2, 1, ceil_mode=True),
                           lambda t: tf.max_pool1d(t, 3, 2, 1, ceil_mode=True), [a])
        compare_with_torch(lambda t: F.avg_pool1d(t, 4, 3, 2, count_include_pad=False),
                           lambda t: tf.avg_pool1d(t, 4, 3, 2, count_include_pad=False), [a])
        compare_with_torch(lambda t: F.adaptive_avg_pool1d(t, 4), lambda t: tf.adaptive_avg_pool1d(t, 4), [a])
        compare_with_torch(lambda t: F.adaptive_max_pool1d(t, 4), lambda t: tf.adaptive_max_pool1d(t, 4), [a])
    compare_with_torch(lambda t: F.max_pool3d(t, 2, padding=1), lambda t: tf.max_pool3d(t, 2, padding=1), [x3])
    compare_with_torch(lambda t: F.avg_pool3d(t, (2, 3, 2), 1), lambda t: tf.avg_pool3d(t, (2, 3, 2), 1), [x3])
    compare_with_torch(lambda t: F.adaptive_avg_pool3d(t, (2, 4, 3)), lambda t: tf.adaptive_avg_pool3d(t, (2, 4, 3)), [x3])


def test_max_unpool2d_matches_torch():
    torch = require_torch()
    tf = torch.nn.functional
    x = rand((2, 3, 8, 9), 1)
    for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}):
        y, i = F.max_pool2d(cl.tensor(x), return_indices=True, **kw)
        ry, ri = tf.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        compare_with_torch(lambda t, i=i, kw=kw: F.max_unpool2d(t, i, output_size=x.shape[2:], **kw),
                           lambda t, ri=ri, kw=kw: tf.max_unpool2d(t, ri, output_size=x.shape[2:], **kw), [y.numpy()])
    y, i = F.max_pool1d(cl.tensor(x[0]), 2, return_indices=True)
    ry, ri = tf.max_pool1d(torch.tensor(x[0]), 2, return_indices=True)
    compare_with_torch(lambda t: F.max_unpool1d(t, i, 2), lambda t: tf.max_unpool1d(t, ri, 2), [y.numpy()])


def test_pool_gradcheck():
    x = (2, 2, 5, 6)
    gradcheck_op(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), x)
    gradcheck_op(lambda t: F.max_pool2d(t, 2, 1, dilation=2), x)
    gradcheck_op(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False), x)
    gradcheck_op(lambda t: F.avg_pool2d(t, 2, divisor_override=3), x)
    gradcheck_op(lambda t: F.adaptive_avg_pool2d(t, (3, 4)), x)
    gradcheck_op(lambda t: F.adaptive_max_pool2d(t, (3, 4)), x)
    gradcheck_op(lambda t: F.max_pool1d(t, 2), (1, 2, 7))
    gradcheck_op(lambda t: F.avg_pool1d(t, 3, 2, 1), (1, 2, 7))
    gradcheck_op(lambda t: F.adaptive_avg_pool1d(t, 3), (1, 2, 7))
    gradcheck_op(lambda t: F.adaptive_max_pool1d(t, 3), (1, 2, 7))
    gradcheck_op(lambda t: F.max_pool3d(t, 2, 1, 1), (1, 1, 3, 3, 2))
    gradcheck_op(lambda t: F.avg_pool3d(t, 2, 1, 1, count_include_pad=False), (1, 1, 3, 3, 2))
    gradcheck_op(lambda t: F.adaptive_avg_pool3d(t, (2, 1, 2)), (1, 1, 3, 3, 3))
    idx = F.max_pool2d(cl.tensor(rand((1, 2, 4, 4), 9)), 2, return_indices=True)[1]
    gradcheck_op(lambda t: F.max_unpool2d(t, idx, 2), (1, 2, 2, 2))


def test_unbatched_input():
    torch = require_torch()
    x = rand((3, 6, 6), 1)
    compare_with_torch(lambda t: F.max_pool2d(t, 2), lambda t: torch.nn.functional.max_pool2d(t, 2), [x])
    compare_with_torch(lambda t: F.avg_pool2d(t, 2), lambda t: torch.nn.functional.avg_pool2d(t, 2), [x])
    compare_with_torch(lambda t: F.adaptive_avg_pool2d(t, 2), lambda t: torch.nn.functional.adaptive_avg_pool2d(t, 2), [x])


def test_pool_errors_name_the_numbers():
    x = cl.ones(1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"max_pool2d: padding 2 should be at most half of kernel size 3"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        F.avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="stride must be positive"):
        F.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"padded input 2x2 is smaller than the dilated kernel 3x3"):
        F.max_pool2d(cl.ones(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="NCHW"):
        F.max_pool2d(cl.ones(8, 8), 2)
    with pytest.raises(ValueError, match="strict=True and 1 rows, 1 columns"):
        F.max_pool2d(cl.ones(1, 1, 7, 7), 2, strict=True)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_avg_pool2d(x, 0)


def test_window_wholly_in_padding_gives_minus_inf_and_no_gradient():
    """A dilated ceil-mode window can read only padding: -inf as torch, and its gradient is dropped
    (torch sends it to a cell outside the window)."""
    torch = require_torch()
    x = cl.tensor(rand((1, 1, 3, 1), 1), requires_grad=True)
    y = F.max_pool2d(x, (1, 2), padding=(0, 1), dilation=(1, 2), ceil_mode=True)
    ref = torch.nn.functional.max_pool2d(torch.tensor(x.detach().numpy()), (1, 2), padding=(0, 1), dilation=(1, 2),
                                         ceil_mode=True)
    np.testing.assert_array_equal(y.detach().numpy(), ref.numpy())
    assert np.isinf(y.detach().numpy()).all()
    y.backward(np.ones(y.shape))
    assert not x.grad.numpy().any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", [{"kernel_size": 2}, {"kernel_size": 3}, {"kernel_size": (2, 3)},
                                {"kernel_size": 2, "stride": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}], ids=str)
def test_max_pool_tiled_and_overlapping_backward_with_ties_match_torch(kw, dtype):
    """Tiling windows (stride == kernel, no padding; 7x8 leaves rows/columns no window reads)
    write the gradient slice by slice; the others scatter it. ReLU-like zeros make many ties."""
    torch = require_torch()
    x = np.maximum(rand((3, 4, 7, 8), 5, dtype), 0)
    compare_with_torch(lambda t: F.max_pool2d(t, **kw), lambda t: torch.nn.functional.max_pool2d(t, **kw), [x])
    ours, oi = F.max_pool2d(cl.tensor(x), return_indices=True, **kw)
    ref, ri = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(oi.numpy(), ri.numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pooling_in_plane_chunks_matches_torch(monkeypatch, dtype):
    """Inputs larger than the cache are pooled a few (sample, channel) planes at a time
    (ops/pool.py ``_by_plane_chunks``); with the chunk size forced down to 3-4 planes, max
    (values, indices, ties, a NaN, both backward paths), average (count_include_pad both ways)
    and 3-D pooling still equal torch's (TOL: float64 rel 1e-8, float32 rel 1e-4)."""
    from convlab.ops import fused
    from convlab.ops import pool as P

    monkeypatch.setattr(fused, "_enabled", False)  # NumPy's chunked path (the compiled pass takes whole planes)
    torch = require_torch()
    x = rand((3, 5, 9, 8), 1, dtype)
    x[1, 2, 4, 4] = np.nan
    x[2, 1] = x[2, 1].round()  # ties
    itemsize = np.dtype(dtype).itemsize
    monkeypatch.setattr(P, "cache_bytes", lambda: 3 * 9 * 8 * itemsize + 1)  # 3 planes of 15 per chunk
    calls = []
    forward = P._max_forward
    monkeypatch.setattr(P, "_max_forward", lambda xs, geom: calls.append(xs.shape) or forward(xs, geom))
    F.max_pool2d(cl.tensor(x), 2)
    assert calls == [(3, 1, 9, 8)] * 5  # the chunking under test really happens
    for kw in MAX2D:
        compare_with_torch(lambda t, kw=kw: F.max_pool2d(t, **kw), lambda t, kw=kw: torch.nn.functional.max_pool2d(t, **kw), [x])
        _, oi = F.max_pool2d(cl.tensor(x), return_indices=True, **kw)
        _, ri = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(oi.numpy(), ri.numpy())
    for include in (True, False):
        kw = {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": include}
        compare_with_torch(lambda t, kw=kw: F.avg_pool2d(t, **kw), lambda t, kw=kw: torch.nn.functional.avg_pool2d(t, **kw), [x])
    x3 = rand((2, 3, 5, 6, 4), 2, dtype)
    monkeypatch.setattr(P, "cache_bytes", lambda: 5 * 6 * 4 * itemsize)  # 1 plane of 6 per chunk
    compare_with_torch(lambda t: F.max_pool3d(t, 2, 1, 1), lambda t: torch.nn.functional.max_pool3d(t, 2, 1, 1), [x3])
    compare_with_torch(lambda t: F.avg_pool3d(t, 3, 2, 1), lambda t: torch.nn.functional.avg_pool3d(t, 3, 2, 1), [x3])
