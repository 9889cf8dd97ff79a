"""Convolution and transposed convolution against torch: forward, every gradient, gradcheck."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from helpers import compare_with_torch, gradcheck_op, rand, require_torch

CONV2D = [  # (input shape, weight shape, kwargs)
    ((2, 3, 8, 8), (4, 3, 3, 3), {}),
    ((2, 3, 9, 7), (5, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((1, 4, 10, 10), (6, 2, 3, 3), {"groups": 2, "dilation": 2, "padding": (2, 1)}),
    ((3, 4, 7, 7), (4, 1, 3, 3), {"groups": 4, "padding": 1}),  # depthwise
    ((2, 2, 8, 9), (3, 2, 4, 3), {"padding": "same", "dilation": (1, 2)}),  # even kernel 'same'
    ((2, 2, 6, 6), (3, 2, 3, 3), {"padding": "valid", "stride": (1, 3)}),
    ((1, 1, 5, 5), (1, 1, 5, 5), {}),  # 1x1 output
    ((2, 3, 7, 7), (2, 3, 1, 1), {"stride": 2}),  # ResNet 1x1 stride-2 shortcut
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,ws,kw", CONV2D, ids=str)
def test_conv2d_matches_torch(xs, ws, kw, dtype):
    torch = require_torch()
    arrays = [rand(xs, 1, dtype), rand(ws, 2, dtype), rand((ws[0],), 3, dtype)]
    compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw), arrays)


def test_conv2d_without_bias_and_unbatched():
    torch = require_torch()
    compare_with_torch(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: torch.nn.functional.conv2d(x, w, padding=1),
                       [rand((3, 6, 6), 1), rand((2, 3, 3, 3), 2)])


def test_conv2d_only_some_inputs_require_grad():
    torch = require_torch()
    for mask in ([True, False, False], [False, True, False], [False, False, True]):
        compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, stride=2),
                           lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride=2),
                           [rand((2, 3, 7, 7), 1), rand((4, 3, 3, 3), 2), rand((4,), 3)], grad_mask=mask)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv1d_conv3d_match_torch(dtype):
    torch = require_torch()
    tf = torch.nn.functional
    compare_with_torch(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
                       lambda x, w, b: tf.conv1d(x, w, b, stride=2, padding=1, dilation=2),
                       [rand((2, 4, 13), 1, dtype), rand((6, 4, 3), 2, dtype), rand((6,), 3, dtype)])
    compare_with_torch(lambda x, w, b: F.conv1d(x, w, b, padding="same", groups=2),
                       lambda x, w, b: tf.conv1d(x, w, b, padding="same", groups=2),
                       [rand((2, 4, 10), 1, dtype), rand((6, 2, 4), 2, dtype), rand((6,), 3, dtype)])
    compare_with_torch(lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1),
                       lambda x, w, b: tf.conv3d(x, w, b, stride=(1, 2, 1), padding=1),
                       [rand((2, 2, 5, 6, 4), 1, dtype), rand((3, 2, 3, 3, 2), 2, dtype), rand((3,), 3, dtype)])


TRANSPOSE = [
    ((2, 4, 5, 5), (4, 3, 3, 3), {}),
    ((2, 4, 5, 6), (4, 3, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 4, 4, 4), (4, 2, 2, 3), {"stride": (2, 3), "groups": 2, "dilation": (1, 2)}),
    ((2, 2, 3, 3), (2, 2, 4, 4), {"stride": 3, "padding": 1, "output_padding": (2, 0)}),
    ((2, 3, 4, 4), (3, 1, 3, 3), {"groups": 3, "dilation": 3, "output_padding": 2}),  # output_padding < dilation
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,ws,kw", TRANSPOSE, ids=str)
def test_conv_transpose2d_matches_torch(xs, ws, kw, dtype):
    torch = require_torch()
    groups = kw.get("groups", 1)
    arrays = [rand(xs, 1, dtype), rand(ws, 2, dtype), rand((ws[1] * groups,), 3, dtype)]
    compare_with_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
                       lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kw), arrays)


def test_conv_transpose1d_3d_match_torch():
    torch = require_torch()
    tf = torch.nn.functional
    compare_with_torch(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=2, output_padding=1),
                       lambda x, w, b: tf.conv_transpose1d(x, w, b, stride=3, padding=2, output_padding=1),
                       [rand((2, 3, 6), 1), rand((3, 5, 4), 2), rand((5,), 3)])
    compare_with_torch(lambda x, w: F.conv_transpose3d(x, w, stride=2), lambda x, w: tf.conv_transpose3d(x, w, stride=2),
                       [rand((1, 2, 3, 2, 3), 1), rand((2, 2, 2, 3, 2), 2)])


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x), y> == <x, conv_transpose(y)>: seed 003's input gradient is the transposed conv."""
    x, w = rand((2, 3, 9, 8), 1), rand((4, 3, 3, 3), 2)
    y = F.conv2d(cl.tensor(x), cl.tensor(w), stride=2, padding=1)
    r = rand(y.shape, 3)
    back = F.conv_transpose2d(cl.tensor(r), cl.tensor(w), stride=2, padding=1, output_padding=(0, 1))
    assert back.shape == x.shape
    np.testing.assert_allclose((y.numpy() * r).sum(), (x * back.numpy()).sum(), rtol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"dilation": 2, "groups": 2}, {"padding": "same"}], ids=str)
def test_conv2d_gradcheck(kw):
    gradcheck_op(lambda x, w, b: F.conv2d(x, w, b, **kw), (2, 2, 5, 5), (2, 2 // kw.get("groups", 1), 3, 2), (2,))


def test_conv1d_conv3d_transpose_gradcheck():
    gradcheck_op(lambda x, w: F.conv1d(x, w, stride=2, padding=1), (1, 2, 6), (2, 2, 3))
    gradcheck_op(lambda x, w: F.conv3d(x, w, padding=(0, 1, 0)), (1, 1, 3, 3, 3), (2, 1, 2, 2, 2))
    gradcheck_op(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, output_padding=1), (1, 2, 3, 3), (2, 1, 2, 2), (1,))
    gradcheck_op(lambda x, w: F.conv_transpose1d(x, w, stride=2, dilation=2), (1, 2, 4), (2, 3, 2))
    gradcheck_op(lambda x, w: F.conv_transpose3d(x, w, stride=(1, 2, 1), padding=1), (1, 2, 2, 2, 2), (2, 1, 3, 2, 3))
    gradcheck_op(lambda x, w: F.conv2d(x, w, padding="same", groups=3), (1, 3, 4, 4), (3, 1, 3, 3))  # depthwise


def test_same_padding_with_stride_uses_tensorflow_rule():
    """torch refuses padding='same' with stride 2; here the output is ceil(W/S) and the odd pad goes last."""
    torch = require_torch()
    x, w = rand((1, 2, 7, 8), 1), rand((3, 2, 3, 3), 2)
    y = F.conv2d(cl.tensor(x), cl.tensor(w), padding="same", stride=2)
    assert y.shape == (1, 3, 4, 4)
    # TF rule: H: total (4-1)*2+3-7=2 -> (1, 1); W: (4-1)*2+3-8=1 -> (0, 1)
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(torch.tensor(x), (0, 1, 1, 1)), torch.tensor(w), stride=2)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    assert cl.shapes.same_padding((7, 8), 3, 2) == ((1, 1), (0, 1))


def test_conv_pad_modes_match_torch_layers():
    torch = require_torch()
    for mode in ("reflect", "replicate", "circular"):
        layer = torch.nn.Conv2d(2, 3, 3, padding=2, padding_mode=mode).double()
        x = rand((2, 2, 6, 5), 1)
        w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()

        def ours(xx, ww, bb, mode=mode):
            xp, p = F.conv_pad(xx, 2, mode)
            return F.conv2d(xp, ww, bb, padding=p)

        compare_with_torch(ours, lambda xx, ww, bb, mode=mode: torch.nn.functional.conv2d(
            torch.nn.functional.pad(xx, (2, 2, 2, 2), mode=mode), ww, bb), [x, w, b])
        np.testing.assert_allclose(ours(cl.tensor(x), cl.tensor(w), cl.tensor(b)).numpy(),
                                   layer(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_float32_stays_float32():
    y = F.conv2d(cl.randn(1, 2, 5, 5), cl.randn(3, 2, 3, 3), cl.randn(3))
    assert y.dtype == np.float32


def test_memory_budget_chunks_the_batch_with_the_same_results():
    from convlab.ops import conv as C

    x, w, b = rand((5, 3, 9, 9), 1), rand((4, 3, 3, 3), 2), rand((4,), 3)
    g = rand((5, 4, 5, 5), 4)

    def run(fn):
        ts = [cl.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = fn(*ts)
        y.backward(g if y.shape == g.shape else rand(y.shape, 4))
        return [y.detach().numpy()] + [t.grad.numpy() for t in ts]

    conv = lambda xx, ww, bb: F.conv2d(xx, ww, bb, stride=2, padding=1)  # noqa: E731
    tconv = lambda xx, ww, bb: F.conv_transpose2d(xx, ww.permute(1, 0, 2, 3), bb, stride=2)  # noqa: E731
    full = run(conv), run(tconv)
    old = C.set_memory_budget(3 * 9 * 25 * 8 * 2)  # two samples' columns per chunk
    try:
        assert C.get_memory_budget() == 3 * 9 * 25 * 8 * 2
        chunked = run(conv), run(tconv)
        C.set_memory_budget(1)  # one sample per chunk
        single = run(conv), run(tconv)
    finally:
        C.set_memory_budget(old)
    for a_run, b_run, c_run in zip(full, chunked, single):
        for a, b_, c in zip(a_run, b_run, c_run):
            np.testing.assert_allclose(b_, a, rtol=1e-13, atol=1e-13)
            np.testing.assert_allclose(c, a, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="positive"):
        C.set_memory_budget(0)


def test_conv_errors_name_the_numbers():
    with pytest.raises(ValueError, match=r"conv2d: padded input 4x4 is smaller than the dilated kernel 5x5 "
                                         r"\(kernel 3, dilation 2, padding 1\)"):
        F.conv2d(cl.ones(1, 1, 2, 2), cl.ones(1, 1, 3, 3), padding=1, dilation=2)
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels but weight expects 4 \(weight shape \(8, 4, 3, 3\)\)"):
        F.conv2d(cl.ones(1, 3, 8, 8), cl.ones(8, 4, 3, 3))
    with pytest.raises(ValueError, match="NHWC"):
        F.conv2d(cl.ones(1, 8, 8, 3), cl.ones(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"expected a 4-D input in NCHW .* got shape \(8,\)"):
        F.conv2d(cl.ones(8), cl.ones(4, 3, 3, 3))
    with pytest.raises(ValueError, match="out_channels 5 is not divisible by groups 2"):
        F.conv2d(cl.ones(1, 4, 8, 8), cl.ones(5, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="input has 3 channels but weight expects 4 x groups 2"):
        F.conv2d(cl.ones(1, 3, 8, 8), cl.ones(4, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="stride must be positive"):
        F.conv2d(cl.ones(1, 1, 8, 8), cl.ones(1, 1, 3, 3), stride=0)
    with pytest.raises(ValueError, match="dilation must be positive"):
        F.conv2d(cl.ones(1, 1, 8, 8), cl.ones(1, 1, 3, 3), dilation=(1, -1))
    with pytest.raises(ValueError, match="bias must have shape"):
        F.conv2d(cl.ones(1, 1, 8, 8), cl.ones(2, 1, 3, 3), cl.ones(3))
    with pytest.raises(TypeError, match="dtype"):
        F.conv2d(cl.ones(1, 1, 8, 8, dtype=np.float64), cl.ones(2, 1, 3, 3))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(cl.ones(1, 1, 3, 3), cl.ones(1, 1, 3, 3), stride=2, output_padding=2)


def test_strict_rejects_unvisited_pixels():
    x, w = cl.ones(1, 1, 8, 9), cl.ones(1, 1, 3, 3)
    assert F.conv2d(x, w, stride=2).shape == (1, 1, 3, 4)  # floors, like torch: row 7 is never read
    with pytest.raises(ValueError, match=r"strict=True and 1 rows of the 8x9 input are never visited"):
        F.conv2d(x, w, stride=2, strict=True)
    # ResNet's 7x7/2 stem floors away only a padding column: every pixel is read
    assert F.conv2d(cl.ones(1, 1, 224, 224), cl.ones(1, 1, 7, 7), stride=2, padding=3, strict=True).shape == (1, 1, 112, 112)
    assert F.conv2d(cl.ones(1, 1, 8, 8), cl.ones(1, 1, 3, 3), padding=1, strict=True).shape == (1, 1, 8, 8)
