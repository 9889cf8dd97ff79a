"""Stride-2 convolutions on the four phase grids (ops/conv_phase.py): torch's values, the same
bits on 1, 2 and 3 threads, the path taken where it should be and only there, and the phase
scatter against a NumPy construction."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab.ops import conv_columns, conv_phase, fused, gemm
from convlab.shapes import conv_geometry
from helpers import normwise_error, record_calls, require_torch

native = pytest.mark.skipif(not (gemm.native_available() and fused.available()),
                            reason="convlab._sgemm / _kernels not built or no AVX-512F/AVX2 here")

CASES = [  # x shape, w shape, padding
    ((6, 16, 16, 16), (32, 16, 3, 3), 1),  # ResNet-20's 16>32 downsampling, smaller
    ((3, 3, 30, 28), (8, 3, 7, 7), 3),  # a 7x7 stem
    ((4, 5, 9, 11), (6, 5, 3, 3), 1),  # odd sizes
    ((5, 2, 7, 6), (3, 2, 4, 2), (2, 0)),  # even kernel, uneven padding
    ((2, 4, 8, 8), (6, 4, 2, 2), 0),  # no padding
]


def _run(xs, ws, pad, threads, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    cl.set_num_threads(threads)
    ours = [cl.tensor(v, requires_grad=True) for v in (x, w, b)]
    y = F.conv2d(*ours, stride=2, padding=pad)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(np.float32)
    y.backward(cl.tensor(g))
    return (x, w, b, g), [y.detach().numpy()] + [o.grad.numpy() for o in ours]


@native
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}x{c[1]}p{c[2]}" for c in CASES])
def test_phase_path_matches_torch_on_any_thread_count(case, monkeypatch):
    """One sample per chunk (a 1-byte cache target) and every product threaded (size rule at 0):
    the chunk passes ran, output and all gradients on 2 and 3 threads are the 1-thread bits, and
    they match torch (float32, normwise relative error <= 1e-4)."""
    torch = require_torch()
    xs, ws, pad = case
    monkeypatch.setattr(conv_columns, "_CACHE_BYTES", 1)
    monkeypatch.setattr(gemm, "_FLOPS_PER_THREAD", 0)
    calls = record_calls(monkeypatch, gemm, "_sgemm", lambda name, args: name if name.startswith("sgemm_conv") else None)
    before = cl.get_num_threads()
    try:
        runs = {t: _run(xs, ws, pad, t) for t in (1, 2, 3)}
    finally:
        cl.set_num_threads(before)
    assert calls.count("sgemm_conv_forward") == 3 and calls.count("sgemm_conv_weight_grad") == 3, calls
    arrays, one = runs[1]
    for t in (2, 3):
        for i, (a, c) in enumerate(zip(one, runs[t][1])):
            np.testing.assert_array_equal(a, c, err_msg=f"output/gradient {i} on {t} threads")
    theirs = [torch.tensor(v, requires_grad=True) for v in arrays[:3]]
    ty = torch.nn.functional.conv2d(*theirs, stride=2, padding=pad)
    ty.backward(torch.tensor(arrays[3]))
    ref = [ty.detach().numpy()] + [t.grad.numpy() for t in theirs]
    for i, (o, r) in enumerate(zip(one, ref)):
        assert o.shape == r.shape
        assert normwise_error(o, r) <= 1e-4, f"output/gradient {i}"


@native
def test_phase_path_agrees_with_the_column_path(monkeypatch):
    """The same layer on the column path (im2col): output and gradients within float32 rounding
    (normwise 1e-6: both sum the same products, grouped differently)."""
    _, phased = _run((8, 16, 16, 16), (32, 16, 3, 3), 1, 1)
    monkeypatch.setattr(conv_phase, "_enabled", False)
    _, columns = _run((8, 16, 16, 16), (32, 16, 3, 3), 1, 1)
    for i, (a, c) in enumerate(zip(phased, columns)):
        assert normwise_error(a, c) <= 1e-6, f"output/gradient {i}"


def test_phase_layout_fits_only_stride_two_kernels_of_two_or_more():
    """Stride 2 with a 3x3 or 7x7 kernel fits; 1x1, stride 1 or 3, dilation, groups and 1-D do not."""
    def geom(ws, x=(2, 4, 16, 16), **kw):
        return conv_geometry("conv", x, ws, **kw)

    assert conv_phase.PhaseLayout.fits(geom((8, 4, 3, 3), stride=2, padding=1))
    assert conv_phase.PhaseLayout.fits(geom((8, 4, 7, 7), stride=2, padding=3))
    assert not conv_phase.PhaseLayout.fits(geom((8, 4, 1, 1), stride=2))
    assert not conv_phase.PhaseLayout.fits(geom((8, 4, 3, 3), stride=1, padding=1))
    assert not conv_phase.PhaseLayout.fits(geom((8, 4, 3, 3), stride=3, padding=1))
    assert not conv_phase.PhaseLayout.fits(geom((8, 4, 3, 3), stride=2, dilation=2))
    assert not conv_phase.PhaseLayout.fits(geom((8, 2, 3, 3), stride=2, padding=1, groups=2))
    assert not conv_phase.PhaseLayout.fits(geom((8, 4, 3), x=(2, 4, 16), stride=2, padding=1))


@native
def test_float64_and_the_switch_keep_the_column_path(monkeypatch):
    """float64 inputs, and the module switch off, never reach the phase pass."""
    calls = record_calls(monkeypatch, fused, "_kernels", lambda name, args: name if name == "phase_grid" else None)
    x, w = np.ones((2, 3, 8, 8)), np.ones((4, 3, 3, 3))
    F.conv2d(cl.tensor(x), cl.tensor(w), stride=2, padding=1)
    monkeypatch.setattr(conv_phase, "_enabled", False)
    F.conv2d(cl.tensor(x.astype(np.float32)), cl.tensor(w.astype(np.float32)), stride=2, padding=1)
    assert calls == []
    monkeypatch.setattr(conv_phase, "_enabled", True)
    F.conv2d(cl.tensor(x.astype(np.float32)), cl.tensor(w.astype(np.float32)), stride=2, padding=1)
    assert calls == ["phase_grid"]


@native
@pytest.mark.parametrize("top, left", [(1, 1), (0, 2), (3, 0)])
def test_phase_grid_scatter_matches_numpy(top, left):
    """Row 4c + 2a + b, sample s, position (u, v) holds x[s, c, 2u + a - top, 2v + b - left], zero
    outside x and past the planes (a NumPy construction through a zero-padded copy)."""
    n, c, h, w, gh, gw, tail = 3, 2, 7, 9, 5, 6, 4
    x = np.random.default_rng(top * 10 + left).standard_normal((n, c, h, w)).astype(np.float32)
    out = np.full((4 * c, n * gh * gw + tail), np.nan, np.float32)
    fused.phase_grid(x, (h, w, gh, gw), top, left, out)
    pad = np.zeros((n, c, 2 * gh + 2 + top, 2 * gw + 2 + left), np.float32)
    pad[:, :, top:top + h, left:left + w] = x
    want = np.zeros_like(out)
    for a in (0, 1):
        for b in (0, 1):
            phase = pad[:, :, a::2, b::2][:, :, :gh, :gw]  # (n, c, gh, gw)
            want[np.arange(c) * 4 + 2 * a + b, :n * gh * gw] = phase.transpose(1, 0, 2, 3).reshape(c, -1)
    np.testing.assert_array_equal(out, want)


@native
def test_phase_grid_refuses_a_short_buffer():
    """A buffer too small for the planes raises ValueError naming the sizes."""
    x = np.zeros((2, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="phase_grid: 4 phase grids of 5x5"):
        fused.phase_grid(x, (8, 8, 5, 5), 1, 1, np.zeros((12, 40), np.float32))
