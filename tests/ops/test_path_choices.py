"""Which path an op takes at the sizes its rules name, asserted, with the result against torch:
the small 1x1 convolution's direct product (``_TINY_MACS``, counted on the batch), the columns kept
for the backward when they fit the memory budget, pooling windows that tile the input exactly, and
the ops' own defaults and dim normalisation (from the survivors of ``benchmarks/mutation.py ops``)."""

from __future__ import annotations

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import conv as C
from convlab.ops import movement as V
from convlab.ops import norm as N
from convlab.ops import pool as P
from helpers import compare_with_torch, rand, require_torch

torch = require_torch()


def _recording(monkeypatch, module, *names):
    calls = []
    for name in names:
        real = getattr(module, name)

        def record(*args, _name=name, _real=real, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, record)
    return calls


@pytest.mark.parametrize("n, tiny", [(10, True), (11, False)])
def test_a_small_1x1_convolution_takes_the_direct_product_counted_on_the_batch(monkeypatch, n, tiny):
    """n * out_channels * in_channels * pixels = n * 5 * 2 * 10 <= 1000 (the bound, lowered for the
    test): 10 samples take the direct product, 11 do not (counting the 2 channels for the batch would
    let 11 through: 2 * 100 = 200)."""
    monkeypatch.setattr(C, "_TINY_MACS", 1000)
    calls = _recording(monkeypatch, C, "_pointwise_forward")
    compare_with_torch(lambda x, w: F.conv1d(x, w), lambda x, w: torch.nn.functional.conv1d(x, w),
                       [rand((n, 2, 10), 1), rand((5, 2, 1), 2)])
    assert calls == (["_pointwise_forward"] if tiny else []), calls


def test_only_stride_1_unpadded_1x1_convolutions_take_the_direct_product(monkeypatch):
    calls = _recording(monkeypatch, C, "_pointwise_forward")
    for kw, direct in (({}, True), ({"stride": 2}, False), ({"padding": 1}, False)):
        calls.clear()
        compare_with_torch(lambda x, w, kw=kw: F.conv2d(x, w, **kw),
                           lambda x, w, kw=kw: torch.nn.functional.conv2d(x, w, **kw),
                           [rand((2, 4, 6, 6), 1), rand((3, 4, 1, 1), 2)])
        # (the input gradient of the direct one is a 1x1 convolution of the same size: direct too)
        assert calls == (["_pointwise_forward"] * 2 if direct else []), (kw, calls)


@pytest.mark.parametrize("slack, kept", [(0, True), (-1, False)])
def test_columns_are_kept_for_the_backward_exactly_when_they_fit_the_budget(monkeypatch, slack, kept):
    """A strided 3x3 convolution (the column path): its columns take C * K * N * out * itemsize =
    3 * 9 * 2 * 16 * 8 = 6912 bytes. With a budget of 6912 the weight gradient reuses them (no
    im2col in the backward); with 6911 it rebuilds them from the input."""
    monkeypatch.setattr(C, "get_memory_budget", lambda: 3 * 9 * 2 * 16 * 8 + slack)
    calls = _recording(monkeypatch, C, "im2col")
    x = cl.tensor(rand((2, 3, 8, 8), 1), requires_grad=True)
    w = cl.tensor(rand((4, 3, 3, 3), 2), requires_grad=True)
    y = F.conv2d(x, w, stride=2, padding=1)
    assert y.shape == (2, 4, 4, 4) and calls, "the column path's forward builds columns"
    calls.clear()
    g = rand((2, 4, 4, 4), 3)
    y.backward(cl.tensor(g))
    assert (calls == []) == kept, calls
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x.detach().numpy(), w.detach().numpy()))
    torch.nn.functional.conv2d(tx, tw, stride=2, padding=1).backward(torch.tensor(g))
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("size, kw, tiles", [(8, {}, True), (9, {}, True), (8, {"stride": 1}, False),
                                             (8, {"padding": 1}, False)])
def test_max_pool_backward_writes_tiling_windows_slice_by_slice(monkeypatch, size, kw, tiles):
    """Kernel 2, stride 2 on 8 (4 windows x 2 = 8 pixels: an exact fit) or 9 (the last row unread)
    tiles the input; stride 1 or padding overlaps or pads: those scatter. float64 (the NumPy passes)."""
    calls = _recording(monkeypatch, P, "_tile_backward", "_scatter_windows")
    compare_with_torch(lambda x: F.max_pool2d(x, 2, **kw), lambda x: torch.nn.functional.max_pool2d(x, 2, **kw),
                       [rand((2, 3, size, size), 1)])
    assert set(calls) == ({"_tile_backward"} if tiles else {"_scatter_windows"}), calls


@pytest.mark.parametrize("shape, dims", [((3,), (-1,)), ((2, 3), (-1, -2)), ((2, 3, 4), (-1, 0, -2))])
def test_the_permute_op_takes_negative_dims(shape, dims):
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    out = V.Permute.apply(cl.tensor(a), dims=dims)
    np.testing.assert_array_equal(out.numpy(), torch.tensor(a).permute(*dims).numpy())


def test_the_batch_norm_op_defaults_are_torchs():
    """eps 1e-5 (and training) when the op is called without them, as torch's functional batch_norm."""
    x, w, b = rand((4, 3, 5), 1), rand((3,), 2), rand((3,), 3)
    ours = N.BatchNorm.apply(cl.tensor(x), cl.tensor(w), cl.tensor(b))
    theirs = torch.nn.functional.batch_norm(torch.tensor(x), None, None, torch.tensor(w), torch.tensor(b),
                                            training=True)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)
