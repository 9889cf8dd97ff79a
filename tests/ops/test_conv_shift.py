"""The flat-grid ("shift") path of stride-1 convolution (ops/conv_shift.py) against torch.

Every case asserts which path it exercises (forward, input gradient through the flipped
convolution or the shifted col2im, weight gradient), then compares the output and all
gradients with torch in float64 and float32, whole-batch and chunked a few samples at a time.
"""

import numpy as np
import pytest

import convlab.functional as F
from convlab.ops import conv as C
from convlab.ops import gemm
from convlab.shapes import conv_geometry
from helpers import compare_with_torch, rand, require_torch

SHIFT = [  # (input shape, weight shape, kwargs): all take the flat-grid forward path
    ((3, 4, 8, 8), (5, 4, 3, 3), {"padding": 1}),
    ((2, 3, 9, 7), (4, 3, 3, 3), {"padding": 1}),
    ((2, 6, 10, 9), (4, 3, 3, 3), {"padding": 1, "groups": 2}),
    ((2, 2, 11, 10), (3, 2, 3, 3), {"padding": 2, "dilation": 2}),
    ((2, 2, 8, 9), (3, 2, 4, 3), {"padding": "same", "dilation": (1, 2)}),  # asymmetric padding
    ((2, 3, 9, 9), (2, 3, 5, 5), {"padding": 2}),
    ((3, 2, 9, 9), (8, 2, 5, 5), {"padding": 2}),  # more outputs than inputs: the shifted col2im
    ((2, 3, 12, 12), (4, 3, 5, 3), {"padding": (2, 1)}),
    ((2, 4, 6, 6), (3, 4, 1, 1), {}),  # 1x1
]


def _paths(xs, ws, kw):
    geom = conv_geometry("conv2d", xs, ws, kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1),
                         kw.get("groups", 1))
    return C._shift_layout(geom, xs[1], 8) is not None


GRID = ("shift_forward", "shift_input_grad", "shift_weight_grad")  # the flat grid's entry points in ops/conv.py
COLUMNS = "_columns_forward"  # the column path's forward (its input and weight gradients have no entry point)


@pytest.fixture
def taken(monkeypatch):
    """The names of the path functions of ops/conv.py that run, in order (see GRID and COLUMNS)."""
    calls = []

    def recording(name, real):
        def record(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return record

    for name in (*GRID, COLUMNS):
        monkeypatch.setattr(C, name, recording(name, getattr(C, name)))
    return calls


def _compiled(dtype):
    """float32 on the compiled GEMM, which reads the grid in place and so allows it more waste (1.6, not 1.3)."""
    return dtype == np.float32 and gemm.native_enabled()


@pytest.mark.parametrize("budget", [None, 1], ids=["whole", "per-sample"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,ws,kw", SHIFT, ids=str)
def test_shift_path_matches_torch(xs, ws, kw, dtype, budget):
    torch = require_torch()
    assert _paths(xs, ws, kw), "this case should take the flat-grid path"
    arrays = [rand(xs, 1, dtype), rand(ws, 2, dtype), rand((ws[0],), 3, dtype)]
    old = C.set_memory_budget(budget) if budget else None
    try:
        compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, **kw),
                           lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw), arrays)
    finally:
        if old:
            C.set_memory_budget(old)


def test_shift_chunks_split_the_batch_unevenly(taken):
    """Chunks of two samples over a batch of five (the last chunk is short)."""
    torch = require_torch()
    xs, ws = (5, 3, 6, 6), (4, 3, 3, 3)
    per_sample = 3 * 9 * 6 * 8 * 8  # columns of one sample: C * prod(K) rows of span = 6 * 8, float64
    arrays = [rand(xs, 1), rand(ws, 2), rand((4,), 3)]
    old = C.set_memory_budget(2 * per_sample)
    try:
        import convlab.ops.conv_columns as CC

        cache, CC._CACHE_BYTES = CC._CACHE_BYTES, 2 * per_sample
        try:
            compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                               lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1), arrays)
        finally:
            CC._CACHE_BYTES = cache
    finally:
        C.set_memory_budget(old)
    assert taken == ["shift_forward", "shift_forward", "shift_weight_grad"]  # the input gradient: the flipped kernel


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shift_path_in_1d_and_3d(dtype, taken):
    torch = require_torch()
    tf = torch.nn.functional
    compare_with_torch(lambda x, w, b: F.conv1d(x, w, b, padding=2, dilation=2),
                       lambda x, w, b: tf.conv1d(x, w, b, padding=2, dilation=2),
                       [rand((3, 4, 13), 1, dtype), rand((6, 4, 3), 2, dtype), rand((6,), 3, dtype)])
    assert taken[0] == "shift_forward", taken
    taken.clear()
    compare_with_torch(lambda x, w, b: F.conv1d(x, w, b, padding=1),
                       lambda x, w, b: tf.conv1d(x, w, b, padding=1),
                       [rand((3, 2, 10), 1, dtype), rand((7, 2, 3), 2, dtype), rand((7,), 3, dtype)])
    assert taken[0] == "shift_forward", taken
    taken.clear()
    compare_with_torch(lambda x, w, b: F.conv3d(x, w, b, padding=1),
                       lambda x, w, b: tf.conv3d(x, w, b, padding=1),
                       [rand((2, 2, 5, 6, 4), 1, dtype), rand((3, 2, 3, 3, 2), 2, dtype), rand((3,), 3, dtype)])
    assert taken[0] == "shift_forward", taken
    taken.clear()
    compare_with_torch(lambda x, w, b: F.conv3d(x, w, b, padding=(1, 0, 1)),
                       lambda x, w, b: tf.conv3d(x, w, b, padding=(1, 0, 1)),
                       [rand((2, 2, 4, 5, 6), 1, dtype), rand((5, 2, 3, 2, 3), 2, dtype), rand((5,), 3, dtype)])
    # the grid wastes 1.46x here: the flat grid on the compiled GEMM only, else the columns (input gradient: the grid's)
    assert taken[0] == ("shift_forward" if _compiled(dtype) else COLUMNS), taken


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stride1_transposed_convolution_runs_the_shift_path_both_ways(dtype, taken):
    """Its forward is a convolution's input gradient (the flipped kernel on the grid, or the grid's
    shifted col2im), its input gradient that convolution's forward, its weight gradient the convolution's."""
    torch = require_torch()
    tf = torch.nn.functional
    for kw in ({}, {"padding": 1}, {"padding": 1, "dilation": 2}):
        taken.clear()
        compare_with_torch(lambda x, w, b, kw=kw: F.conv_transpose2d(x, w, b, **kw),
                           lambda x, w, b, kw=kw: tf.conv_transpose2d(x, w, b, **kw),
                           [rand((2, 4, 6, 7), 1, dtype), rand((4, 3, 3, 3), 2, dtype), rand((3,), 3, dtype)])
        assert taken[0] in ("shift_forward", "shift_input_grad"), (kw, taken)
        if "dilation" in kw and not _compiled(dtype):  # the convolution wastes 1.43x on the grid: its columns back
            assert taken[1:] == [COLUMNS], (kw, taken)
        else:
            assert taken[1:] == ["shift_forward", "shift_weight_grad"], (kw, taken)


def test_only_some_inputs_require_grad_on_the_shift_path(taken):
    torch = require_torch()
    for mask in ([True, False, False], [False, True, False], [False, False, True], [True, True, False]):
        taken.clear()
        compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                           lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1),
                           [rand((2, 3, 7, 7), 1), rand((4, 3, 3, 3), 2), rand((4,), 3)], grad_mask=mask)
        # the forward, then the input gradient (the flipped kernel) and the weight gradient, each only if asked for
        want = ["shift_forward"] + ["shift_forward"] * mask[0] + ["shift_weight_grad"] * mask[1]
        assert taken == want, (mask, taken)


def test_wasteful_grids_take_the_column_path():
    """A valid 5x5 convolution of a small image computes too many dropped positions on the grid."""
    geom = conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 5, 5), 1, 0, 1, 1)
    assert C._shift_layout(geom, 3, 4) is None
    geom = conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), 2, 1, 1, 1)  # strided
    assert C._shift_layout(geom, 3, 4) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_forward_with_shifted_col2im_input_gradient(dtype):
    """LeNet-5's conv2 (valid 5x5 on 14x14): the forward and weight gradient take the column
    path (40% grid waste), the input gradient the flat grid's shifted col2im (short rows)."""
    torch = require_torch()
    geom = conv_geometry("conv2d", (2, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1, 1)
    assert C._shift_layout(geom, 6, 8) is None and C._shift_layout(geom, 6, 8, max_waste=1.5) is not None
    compare_with_torch(lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: torch.nn.functional.conv2d(x, w, b),
                       [rand((3, 6, 14, 14), 1, dtype), rand((16, 6, 5, 5), 2, dtype), rand((16,), 3, dtype)])
