"""The compiled ReLU and batch-norm passes (convlab._kernels via ops/fused.py) against torch and
float64, on both paths (the ``kernels_path`` fixture), with the path each case takes asserted."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import fused, gemm
from helpers import record_calls, require_torch

compiled = pytest.mark.needs_kernels  # fails in CI where convlab._kernels was not built; see conftest.py


def count_kernel_calls(monkeypatch):
    """Route ops/fused.py's calls into convlab._kernels through a recorder: the list gets each
    called function's name."""
    return record_calls(monkeypatch, fused, "_kernels", lambda name, args: name)


def test_relu_matches_torch_with_nan_inf_and_signed_zeros(kernels_path, monkeypatch):
    """Forward and backward bit for bit like torch on finite values, +-inf, +-0 and NaN (NaN stays
    NaN forward; its gradient is zero); the compiled loops run only on the compiled path."""
    torch = require_torch()
    calls = count_kernel_calls(monkeypatch)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 5, 7)).astype(np.float32)
    x.flat[:6] = [np.inf, -np.inf, 0.0, -0.0, np.nan, 1e-40]
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours = cl.tensor(x, requires_grad=True)
    y = F.relu(ours)
    y.backward(g)
    theirs = torch.tensor(x, requires_grad=True)
    ty = torch.relu(theirs)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    assert calls == (["relu", "relu_backward"] if kernels_path == "compiled" else []), calls


def test_relu_float64_and_strided_stay_on_numpy(monkeypatch):
    """Arrays the compiled loops do not take (float64, a transposed view) give NumPy's result."""
    calls = count_kernel_calls(monkeypatch)
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    y64 = F.relu(cl.tensor(x.astype(np.float64))).numpy()
    yt = F.relu(cl.tensor(x.T)).numpy()
    np.testing.assert_array_equal(y64, np.maximum(x.astype(np.float64), 0))
    np.testing.assert_array_equal(yt, np.maximum(x.T, 0))
    assert calls == []


BN_CASES = [  # (shape, affine): pixels per channel from 1 (NumPy's reductions) to 1024
    ((8, 4, 32, 32), True),
    ((16, 6, 3, 3), True),  # 9 pixels: the compiled passes
    ((5, 3, 7), False),
    ((32, 5), True),  # a (N, C) batch norm: NumPy
    ((2, 3, 4, 5, 6), True),
]


@pytest.mark.parametrize("shape, affine", BN_CASES, ids=[str(c[0]) for c in BN_CASES])
def test_batch_norm_training_matches_torch(shape, affine, kernels_path, monkeypatch):
    """Training-mode output, input/weight/bias gradients and running statistics against torch in
    float32, normwise relative error <= 2e-5 (outputs) / 1e-4 (gradients); the compiled passes
    run exactly where they should (float32, at least 8 pixels per channel)."""
    torch = require_torch()
    calls = count_kernel_calls(monkeypatch)
    rng = np.random.default_rng(len(shape) * 10 + shape[1])
    x = (rng.standard_normal(shape) * 3 + 1.5).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    bn = {2: cl.nn.BatchNorm1d, 3: cl.nn.BatchNorm1d, 4: cl.nn.BatchNorm2d, 5: cl.nn.BatchNorm3d}[len(shape)](c, affine=affine)
    tbn = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}[len(shape)](
        c, affine=affine)
    if affine:
        w, b = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
        bn.weight.data[...], bn.bias.data[...] = w, b
        with torch.no_grad():
            tbn.weight.copy_(torch.tensor(w))
            tbn.bias.copy_(torch.tensor(b))
    ours = cl.tensor(x, requires_grad=True)
    y = bn(ours)
    y.backward(g)
    theirs = torch.tensor(x, requires_grad=True)
    ty = tbn(theirs)
    ty.backward(torch.tensor(g))

    def rel(a, b):
        return np.abs(a - b).max() / np.abs(b).max()

    assert rel(y.detach().numpy(), ty.detach().numpy()) <= 2e-5
    assert rel(ours.grad.numpy(), theirs.grad.numpy()) <= 1e-4
    if affine:
        assert rel(bn.weight.grad.numpy(), tbn.weight.grad.numpy()) <= 1e-4
        assert rel(bn.bias.grad.numpy(), tbn.bias.grad.numpy()) <= 1e-4
    assert rel(bn.running_mean.numpy(), tbn.running_mean.numpy()) <= 1e-5
    assert rel(bn.running_var.numpy(), tbn.running_var.numpy()) <= 1e-5
    on = kernels_path == "compiled" and int(np.prod(shape[2:])) >= 8
    assert calls == (["moments", "normalize", "grad_sums", "normalize_backward"] if on else []), calls


@pytest.mark.parametrize("shape", [(4, 3, 6, 5), (6, 4)], ids=str)
def test_batch_norm_eval_matches_torch(shape, kernels_path, monkeypatch):
    """Evaluation mode (running statistics): output and input gradient against torch within 2e-5 /
    1e-4 normwise; the compiled normalisation runs for images on the compiled path only."""
    torch = require_torch()
    rng = np.random.default_rng(11)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 - 0.5).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    mean, var = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    w, b = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    calls = count_kernel_calls(monkeypatch)
    ours = cl.tensor(x, requires_grad=True)
    y = F.batch_norm(ours, cl.tensor(mean), cl.tensor(var), cl.tensor(w), cl.tensor(b), training=False)
    y.backward(g)
    theirs = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.batch_norm(theirs, torch.tensor(mean), torch.tensor(var), torch.tensor(w), torch.tensor(b),
                                        training=False)
    ty.backward(torch.tensor(g))
    assert np.abs(y.detach().numpy() - ty.detach().numpy()).max() / np.abs(ty.detach().numpy()).max() <= 2e-5
    assert np.abs(ours.grad.numpy() - theirs.grad.numpy()).max() / np.abs(theirs.grad.numpy()).max() <= 1e-4
    assert calls == (["normalize"] if kernels_path == "compiled" and len(shape) == 4 else []), calls


@compiled
def test_batch_norm_statistics_survive_a_large_mean():
    """Activations at 1e4 +- 1: the compiled statistics (float64 sums, rows merged with Chan's
    formula) give the variance within 1e-6 relative of float64 NumPy and the output within 1e-3
    absolute (the float32 input itself carries 1e4 * 2^-24 ~ 6e-4 of rounding)."""
    rng = np.random.default_rng(7)
    x = (1e4 + rng.standard_normal((16, 3, 12, 12))).astype(np.float32)
    mean, var = fused.moments(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var, x64.var(axis=(0, 2, 3)), rtol=1e-6)
    y = F.batch_norm(cl.tensor(x), None, None, training=True).numpy()
    exact = (x64 - x64.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(x64.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    assert np.abs(y - exact).max() <= 1e-3


@compiled
@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
def test_batch_norm_takes_a_strided_gradient_after_a_compiled_forward(affine, monkeypatch):
    """A gradient the compiled backward does not take (a channel-sliced view ``g[:, ::2]``, which a
    reshape keeps strided) after a compiled forward: the forward ran the compiled statistics and
    normalisation, the backward ran none of the compiled passes (the NumPy branch that rebuilds the
    centred input from the saved x and mean), and the input, weight and bias gradients match torch
    in float32 within 1e-4 normwise."""
    torch = require_torch()
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((4, 3, 6, 6)) * 2 + 1).astype(np.float32)
    g = rng.standard_normal((4, 6, 6, 6)).astype(np.float32)[:, ::2]  # strided (4, 3, 6, 6)
    assert not g.flags.c_contiguous and not g.reshape(4, 3, -1).flags.c_contiguous
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    calls = count_kernel_calls(monkeypatch)
    ours = [cl.tensor(v, requires_grad=True) for v in (x, w, b)]
    F.batch_norm(ours[0], None, None, *(ours[1:] if affine else ()), training=True).backward(g)
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    torch.nn.functional.batch_norm(theirs[0], None, None, *(theirs[1:] if affine else ()), training=True).backward(
        torch.tensor(np.ascontiguousarray(g)))
    assert calls == ["moments", "normalize"], calls  # compiled forward, NumPy backward
    for o, t in zip(ours[:3 if affine else 1], theirs):
        assert np.abs(o.grad.numpy() - t.grad.numpy()).max() / np.abs(t.grad.numpy()).max() <= 1e-4


@compiled
def test_kernel_buffers_are_checked():
    """Wrong sizes and formats raise ValueError naming the function, the argument and what it
    expected, before anything is written."""
    from convlab import _kernels

    x = np.ones((2, 3, 4), np.float32)
    y = np.full_like(x, 7)
    with pytest.raises(ValueError, match=r"relu: mask must be 24 contiguous values of format '\?', got 24 of format 'f'"):
        _kernels.relu(x, y, np.empty(x.shape, np.float32))
    assert (y == 7).all()
    with pytest.raises(ValueError, match=r"relu_backward: out must be 24 contiguous values of format 'f', got 12"):
        _kernels.relu_backward(x, np.ones(x.shape, bool), np.empty(12, np.float32))
    with pytest.raises(ValueError, match=r"moments: x's 24 values are not n=5 samples of c=3 channels"):
        _kernels.moments(x, 5, 3, np.empty(3), np.empty(3))
    with pytest.raises(ValueError, match=r"moments: mean must be 3 contiguous values of format 'd', got 3 of format 'f'"):
        _kernels.moments(x, 2, 3, np.empty(3, np.float32), np.empty(3))
    with pytest.raises(ValueError, match=r"normalize: scale must be 3 contiguous values of format 'f', got 2"):
        _kernels.normalize(x, 2, 3, np.zeros(3, np.float32), np.ones(2, np.float32), np.zeros(3, np.float32), y)
    with pytest.raises(ValueError, match=r"ndarray is not C-contiguous"):
        _kernels.relu(x.transpose(2, 1, 0), y, np.empty(x.shape, bool))
    img, col = np.ones((1, 2, 4, 4), np.float32), np.empty((2, 3, 3, 1, 2, 2), np.float32)
    geometry = (1, 2, 4, 4, 3, 3, 1, 1, 1, 1, 0, 0, 2, 2)
    _kernels.im2col_2d(img, geometry, col)
    assert (col == 1).all()
    with pytest.raises(TypeError, match=r"geometry must be 14 ints"):
        _kernels.im2col_2d(img, geometry[:13], col)
    with pytest.raises(ValueError, match=r"im2col_2d: geometry entry 6 must be positive, got 0"):
        _kernels.im2col_2d(img, geometry[:6] + (0,) + geometry[7:], col)
    with pytest.raises(ValueError, match=r"col2im_2d: out must be 32 contiguous values of format 'f', got 16"):
        _kernels.col2im_2d(col, geometry, np.empty(16, np.float32))
    w = np.ones((2, 1, 3, 3), np.float32)
    strided = geometry[:6] + (2, 2) + geometry[8:]
    with pytest.raises(ValueError, match=r"depthwise_2d: need mode 0-2 and stride 1 .* got mode 0, stride \(2, 2\)"):
        _kernels.depthwise_2d(0, img, w, strided, None, np.empty((1, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"depthwise_2d: out must be 18 contiguous values of format 'd', got 18 of format 'f'"):
        _kernels.depthwise_2d(2, img, np.ones((1, 2, 2, 2), np.float32), geometry, None, np.empty(18, np.float32))


def test_set_enabled_round_trip():
    """set_enabled returns the previous setting; switching on where nothing was built says why."""
    previous = fused.set_enabled(False)
    try:
        assert not fused.enabled() and not fused.suits(np.ones(3, np.float32))
        if fused.available():
            assert fused.set_enabled(True) is False and fused.enabled()
        else:
            with pytest.raises(RuntimeError, match="set_enabled: convlab's compiled kernels are not available here"):
                fused.set_enabled(True)
    finally:
        fused.set_enabled(previous)


COLUMN_GEOMETRIES = [  # (x shape, kernel, stride, dilation, ((top, bottom), (left, right)))
    ((2, 3, 9, 11), (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1))),  # ResNet's stride-2 3x3
    ((1, 2, 12, 12), (7, 7), (2, 2), (1, 1), ((3, 3), (3, 3))),  # the 7x7/2 stem
    ((2, 4, 8, 7), (1, 1), (2, 2), (1, 1), ((0, 0), (0, 0))),  # a 1x1/2 shortcut
    ((3, 2, 10, 9), (3, 2), (1, 3), (2, 1), ((2, 0), (0, 3))),  # asymmetric everything
    ((1, 1, 4, 5), (3, 3), (1, 1), (1, 1), ((4, 4), (4, 4))),  # padding wider than the kernel's reach
]


@compiled
@pytest.mark.parametrize("case", COLUMN_GEOMETRIES, ids=[f"{c[1]}s{c[2]}d{c[3]}p{c[4]}" for c in COLUMN_GEOMETRIES])
def test_compiled_im2col_and_col2im_equal_numpys(case):
    """The compiled 2-D im2col is the same copy as NumPy's strided slices and its col2im the same
    sums in the same order: bit-identical, whatever the stride, dilation and padding."""
    from convlab.ops import conv_columns
    from convlab.shapes import ConvGeometry

    shape, kernel, stride, dilation, pads = case
    out = tuple((w + lo + hi - d * (k - 1) - 1) // s + 1
                for w, k, s, d, (lo, hi) in zip(shape[2:], kernel, stride, dilation, pads))
    geom = ConvGeometry(kernel, stride, dilation, pads, 1, shape[2:], out)
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    col = rng.standard_normal((shape[1],) + kernel + (shape[0],) + out).astype(np.float32)
    results = {}
    for on in (True, False):
        previous = fused.set_enabled(on)
        try:
            results[on] = conv_columns.im2col(x, geom), conv_columns.col2im(col, geom)
        finally:
            fused.set_enabled(previous)
    for ours, numpys in zip(results[True], results[False]):
        assert ours.shape == numpys.shape
        np.testing.assert_array_equal(ours, numpys)


GRID_CASES = [  # (fn, x shape, w shape, padding, dilation): stride-1 geometries on the flat grid
    ("conv2d", (3, 4, 9, 8), (5, 4, 3, 3), 1, 1),
    ("conv2d", (2, 3, 8, 9), (4, 3, 4, 3), "same", (1, 2)),  # asymmetric padding
    ("conv2d", (2, 2, 7, 7), (3, 2, 5, 5), 0, 1),  # valid: LeNet's conv2
    ("conv1d", (3, 4, 13), (6, 4, 3), 2, 2),
]


@compiled
@pytest.mark.parametrize("case", GRID_CASES, ids=[f"{c[0]}{c[1]}x{c[2]}" for c in GRID_CASES])
def test_compiled_grid_copies_equal_numpys(case, monkeypatch):
    """The flat grid's copies in and out (ops/conv_shift.py) compiled and in NumPy: the same grid
    buffer, the same grad_y grids (per-sample chunks, span and whole planes) and the same
    convolution output with its bias, bit for bit; the compiled ones ran."""
    from convlab.ops import conv_shift
    from convlab.shapes import conv_geometry

    fn, xs, ws, padding, dilation = case
    geom = conv_geometry(fn, xs, ws, 1, padding, dilation)
    layout = conv_shift.ShiftLayout(geom)
    rng = np.random.default_rng(sum(xs))
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    gy = rng.standard_normal((xs[0], ws[0]) + geom.out_size).astype(np.float32)
    chunks = [(0, 1), (1, xs[0])]
    calls = count_kernel_calls(monkeypatch)
    results = {}
    for on in (True, False):
        previous = fused.set_enabled(on)
        try:
            # each grid is copied as it comes: NumPy's generator refills one buffer per chunk
            grids = [g.copy() for planes in (False, True) for g in layout.output_grids(gy, chunks, whole_planes=planes)]
            # on NumPy's GEMM: the compiled one crops its products itself (_sgemm_conv.c)
            native = gemm.set_native(False) if gemm.native_available() else False
            try:
                results[on] = [layout.scatter(x), conv_shift.shift_forward(x, w, layout, bias=b)] + grids
            finally:
                if native:
                    gemm.set_native(True)
        finally:
            fused.set_enabled(previous)
    for i, (ours, numpys) in enumerate(zip(results[True], results[False], strict=True)):
        assert ours.shape == numpys.shape
        np.testing.assert_array_equal(ours, numpys, err_msg=f"result {i}")
    assert {"grid_in", "grid_out"} <= set(calls), calls


def test_three_d_grids_stay_on_numpy(monkeypatch):
    """3-D geometries have no compiled grid copies: scatter and output_grids run NumPy's."""
    from convlab.ops import conv_shift
    from convlab.shapes import conv_geometry

    calls = count_kernel_calls(monkeypatch)
    layout = conv_shift.ShiftLayout(conv_geometry("conv3d", (2, 2, 4, 5, 6), (3, 2, 3, 3, 3), 1, 1))
    x = np.arange(2 * 2 * 4 * 5 * 6, dtype=np.float32).reshape(2, 2, 4, 5, 6)
    buf = layout.scatter(x)
    assert buf.sum() == x.sum() and np.count_nonzero(buf) == np.count_nonzero(x)
    assert calls == []


DEPTHWISE_CASES = [  # (fn, x shape, kernel, padding, dilation)
    ("conv2d", (3, 4, 10, 9), (3, 3), 1, 1),
    ("conv2d", (2, 3, 8, 11), (5, 3), (2, 0), (1, 2)),
    ("conv2d", (2, 2, 9, 9), (4, 4), "same", 1),  # asymmetric padding
    ("conv2d", (1, 5, 6, 7), (3, 3), 0, 2),
    ("conv1d", (2, 3, 12), (3,), 1, 1),  # 1-D: NumPy on both paths
]


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=[f"{c[0]}{c[1]}k{c[2]}p{c[3]}d{c[4]}" for c in DEPTHWISE_CASES])
def test_depthwise_matches_torch(case, kernels_path, monkeypatch):
    """Depthwise convolution (groups = channels, stride 1): output and the input, weight and bias
    gradients against torch in float32, normwise relative error <= 1e-5; the compiled plane
    loops run for 2-D on the compiled path only (forward, input gradient, weight gradient)."""
    torch = require_torch()
    fn, xs, kernel, padding, dilation = case
    c = xs[1]
    rng = np.random.default_rng(sum(xs))
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((c, 1) + kernel).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    calls = count_kernel_calls(monkeypatch)
    ours = [cl.tensor(v, requires_grad=True) for v in (x, w, b)]
    y = getattr(F, fn)(*ours, padding=padding, dilation=dilation, groups=c)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ty = getattr(torch.nn.functional, fn)(*theirs, padding=padding, dilation=dilation, groups=c)
    ty.backward(torch.tensor(g))
    pairs = [(y.detach().numpy(), ty.detach().numpy())] + [(o.grad.numpy(), t.grad.numpy()) for o, t in zip(ours, theirs)]
    for i, (o, t) in enumerate(pairs):
        assert o.shape == t.shape
        assert np.abs(o - t).max() / np.abs(t).max() <= 1e-5, f"output/gradient {i}"
    on = kernels_path == "compiled" and fn == "conv2d"
    assert calls.count("depthwise_2d") == (3 if on else 0), calls
