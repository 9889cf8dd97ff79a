"""convlab.shapes: size formulas against torch, padding rules, unvisited pixels, receptive fields, errors."""

import itertools

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab import shapes
from helpers import require_torch


def test_conv_output_size_formula_and_torch():
    torch = require_torch()
    assert shapes.conv_output_size(32, 3, padding=1) == 32
    assert shapes.conv_output_size(224, 7, stride=2, padding=3) == 112
    assert shapes.conv_output_size((28, 30), (5, 3), stride=(1, 2)) == (24, 14)
    assert shapes.conv_output_size(7, 3, padding="same", stride=2) == 4
    assert shapes.conv_output_size(10, 3, dilation=2, padding="valid") == 6
    for w, k, s, p, d in itertools.product(range(1, 12), range(1, 5), range(1, 4), range(0, 3), range(1, 3)):
        if w + 2 * p < d * (k - 1) + 1:
            with pytest.raises(ValueError, match="smaller than the dilated kernel"):
                shapes.conv_output_size(w, k, s, p, d)
            continue
        got = shapes.conv_output_size(w, k, s, p, d)
        ref = torch.nn.functional.conv1d(torch.zeros(1, 1, w), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
        assert got == ref.shape[-1], (w, k, s, p, d)


def test_conv_transpose_output_size_matches_torch():
    torch = require_torch()
    for w, k, s, p, op, d in itertools.product(range(1, 6), range(1, 4), range(1, 4), range(0, 2), range(0, 2), range(1, 3)):
        if op >= s and op >= d:
            continue
        if (w - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:  # torch refuses it too: both raise RuntimeError
            with pytest.raises(RuntimeError, match="output size -?\\d+ is not positive"):
                shapes.conv_transpose_output_size(w, k, s, p, op, d)
            with pytest.raises(RuntimeError):
                torch.nn.functional.conv_transpose1d(torch.zeros(1, 1, w), torch.zeros(1, 1, k), stride=s, padding=p,
                                                     output_padding=op, dilation=d)
            continue
        size = shapes.conv_transpose_output_size(w, k, s, p, op, d)
        ref = torch.nn.functional.conv_transpose1d(torch.zeros(1, 1, w), torch.zeros(1, 1, k), stride=s, padding=p,
                                                   output_padding=op, dilation=d)
        assert size == ref.shape[-1]
        assert F.conv_transpose1d(cl.zeros(1, 1, w), cl.zeros(1, 1, k), stride=s, padding=p, output_padding=op,
                                  dilation=d).shape[-1] == size


def test_pool_output_size_matches_torch_ceil_mode():
    torch = require_torch()
    for w, k, s, p, d, ceil in itertools.product(range(1, 10), range(1, 4), range(1, 4), range(0, 2), range(1, 3), (False, True)):
        if 2 * p > d * (k - 1) + 1 or w + 2 * p < d * (k - 1) + 1:
            continue
        ref = torch.nn.functional.max_pool1d(torch.zeros(1, 1, w), k, s, p, d, ceil_mode=ceil).shape[-1]
        assert shapes.pool_output_size(w, k, s, p, d, ceil) == ref, (w, k, s, p, d, ceil)
        assert F.max_pool1d(cl.zeros(1, 1, w), k, s, p, d, ceil_mode=ceil).shape[-1] == ref
    assert shapes.pool_output_size(32, 2) == 16


def test_same_padding_follows_tensorflow():
    """output = ceil(input / stride); total padding split with the odd pixel at the end."""
    assert shapes.same_padding(5, 3) == (1, 1)
    assert shapes.same_padding(5, 4) == (1, 2)
    assert shapes.same_padding(224, 7, stride=2) == (2, 3)
    assert shapes.same_padding(7, 1, stride=3) == (0, 0)
    assert shapes.same_padding((7, 8), (3, 3), 2) == ((1, 1), (0, 1))
    for w, k, s, d in itertools.product(range(1, 15), range(1, 6), range(1, 4), range(1, 3)):
        lo, hi = shapes.same_padding(w, k, s, d)
        assert 0 <= hi - lo <= 1
        assert shapes.conv_output_size(w, k, s, (lo, hi), d) == -(-w // s)
        y = F.conv1d(cl.zeros(1, 1, w), cl.zeros(1, 1, k), stride=s, dilation=d, padding="same")
        assert y.shape[-1] == -(-w // s)


def test_unvisited_counts_pixels_no_tap_reads():
    assert shapes.unvisited(8, 3, stride=2) == 1  # windows 0-2, 2-4, 4-6: row 7 never read
    assert shapes.unvisited(7, 1, stride=2) == 3  # a 1x1 stride-2 conv skips every other row
    assert shapes.unvisited(224, 7, stride=2, padding=3) == 0  # the ResNet stem floors off padding only
    assert shapes.unvisited(32, 3, padding=1) == 0
    assert shapes.unvisited(9, 2, stride=1, dilation=3) == 0
    assert shapes.unvisited((8, 9), 3, 2) == (1, 0)
    for w, k, s, p, d in itertools.product(range(1, 12), range(1, 4), range(1, 4), range(0, 2), range(1, 3)):
        if w + 2 * p < d * (k - 1) + 1:
            continue
        x = np.zeros(w)
        out = shapes.conv_output_size(w, k, s, p, d)
        for o in range(out):
            for j in range(k):
                i = o * s + j * d - p
                if 0 <= i < w:
                    x[i] = 1
        assert shapes.unvisited(w, k, s, p, d) == int((x == 0).sum()), (w, k, s, p, d)


def test_receptive_field_grows_3_5_7_and_strides_compound():
    assert [r.size for r in shapes.receptive_field([(3, 1)] * 3)] == [3, 5, 7]
    rf = shapes.receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)])
    assert [(r.size, r.jump) for r in rf] == [(3, 1), (4, 2), (8, 2), (10, 4), (18, 4)]
    assert shapes.receptive_field([{"kernel_size": 3, "dilation": 2}])[0].size == 5
    assert shapes.receptive_field([(7, 2, 3), (3, 2, 1)])[-1].size == 11  # ResNet stem + maxpool

    class Layer:
        kernel_size, stride, padding, dilation = (5, 5), (1, 1), 0, 1

    assert shapes.receptive_field([Layer(), Layer()])[-1].size == 9


def test_param_and_mac_counts():
    torch = require_torch()
    assert shapes.conv_params(3, 64, 3) == 1792
    for cin, cout, k, g, bias in [(3, 64, 3, 1, True), (16, 32, (3, 5), 4, False), (8, 8, 3, 8, True)]:
        m = torch.nn.Conv2d(cin, cout, k, groups=g, bias=bias)
        assert shapes.conv_params(cin, cout, k, groups=g, bias=bias) == sum(p.numel() for p in m.parameters())
    assert shapes.conv_macs(3, 64, 3, (32, 32)) == 27 * 64 * 1024


def test_impossible_configurations_name_every_number():
    with pytest.raises(ValueError, match=r"conv2d: padded input 4x4 is smaller than the dilated kernel 5x5 "
                                         r"\(kernel 3, dilation 2, padding 1\)"):
        shapes.conv_geometry("conv2d", (1, 1, 2, 2), (1, 1, 3, 3), padding=1, dilation=2)
    with pytest.raises(ValueError, match=r"input has 3 channels but weight expects 4 \(weight shape \(8, 4, 3, 3\)\)"):
        shapes.conv_geometry("conv2d", (1, 3, 8, 8), (8, 4, 3, 3))
    with pytest.raises(ValueError, match="looks like NHWC"):
        shapes.conv_geometry("conv2d", (2, 32, 32, 3), (8, 3, 3, 3))
    with pytest.raises(ValueError, match="padding 2 should be at most half"):
        shapes.pool_geometry("max_pool2d", (1, 1, 8, 8), 2, padding=2)
    for bad in ({"stride": 0}, {"dilation": 0}, {"stride": (1, -2)}):
        with pytest.raises(ValueError, match="must be positive"):
            shapes.conv_geometry("conv2d", (1, 1, 8, 8), (1, 1, 3, 3), **bad)
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        shapes.pool_geometry("avg_pool2d", (1, 1, 8, 8), (2, 0))
    with pytest.raises(ValueError, match="padding must be an int, a tuple, 'valid' or 'same'"):
        shapes.conv_geometry("conv2d", (1, 1, 8, 8), (1, 1, 3, 3), padding="full")
    with pytest.raises(ValueError, match="in_channels 3 is not divisible by groups 2"):
        shapes.conv_geometry("conv_transpose2d", (1, 3, 4, 4), (3, 2, 3, 3), groups=2, transposed=True)
    with pytest.raises(ValueError, match=r"expected a 4-D input in NCHW \(batch, channels, height, width\) layout"):
        F.conv2d(cl.ones(1, 1, 1, 8, 8), cl.ones(1, 1, 3, 3))
    with pytest.raises(ValueError, match="last axis looks like channels"):
        F.conv2d(cl.ones(1, 1, 8, 8, 3), cl.ones(1, 3, 3, 3))


def test_geometry_reports_the_padding_applied():
    g = shapes.conv_geometry("conv2d", (1, 1, 7, 8), (1, 1, 3, 3), stride=2, padding="same")
    assert g.pads == ((1, 1), (0, 1)) and g.out_size == (4, 4) and g.padded == (9, 9)
    g = shapes.conv_geometry("conv2d", (1, 1, 8, 8), (1, 1, 4, 4), padding="same")
    assert g.pads == ((1, 2), (1, 2)) and g.out_size == (8, 8)


def test_trace_and_min_input_size_delegate_to_inspect(monkeypatch):
    import convlab.inspect as inspect

    monkeypatch.setattr(inspect, "trace", lambda model, shape, *a, **k: ("trace", model, shape))
    monkeypatch.setattr(inspect, "min_input_size", lambda model, *a, **k: ("min", model, a))
    assert shapes.trace("m", (1, 28, 28)) == ("trace", "m", (1, 28, 28))
    assert shapes.min_input_size("m", 3) == ("min", "m", (3,))


def test_geometry_is_cached_but_still_checks_every_call():
    """conv_geometry/pool_geometry are memoized on plain arguments: the same call returns the
    same object, while True/1.0 (not plain, or typed apart) and lists still get checked."""
    from convlab.shapes import conv_geometry, pool_geometry

    g1 = conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), 1, 1, 1, 1)
    assert conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), 1, 1, 1, 1) is g1
    assert g1.out_size == (8, 8) and g1.pads == ((1, 1), (1, 1))
    with pytest.raises(ValueError, match=r"conv2d: stride must be an int or a tuple of 2 ints, got True"):
        conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), True, 1, 1, 1)
    with pytest.raises(ValueError, match=r"conv2d: stride must be an int or a tuple of 2 ints, got \(True, 1\)"):
        conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), (True, 1), 1, 1, 1)
    with pytest.raises(ValueError, match=r"conv2d: padding must be an int"):
        conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), 1, 1.0, 1, 1)
    assert conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), [1, 1], [1, 1], 1, 1) == g1  # lists: not cached, same answer
    p1 = pool_geometry("max_pool2d", (1, 1, 7, 7), 2, None, 0, 1, True)
    assert p1.out_size == (4, 4) and pool_geometry("max_pool2d", (1, 1, 7, 7), 2, None, 0, 1, False).out_size == (3, 3)
    assert pool_geometry("max_pool2d", (1, 1, 7, 7), 2, None, 0, 1, 1).out_size == (4, 4)  # ceil_mode=1 means True
    for _ in range(2):  # an error is raised again, not cached
        with pytest.raises(ValueError, match="input has 3 channels but weight expects 4"):
            conv_geometry("conv2d", (2, 3, 8, 8), (4, 4, 3, 3))


def test_shift_layout_cache_follows_the_memory_budget():
    """The flat-grid layout is built once per geometry, but a new memory budget is honoured."""
    from convlab.ops import conv as C
    from convlab.shapes import conv_geometry

    geom = conv_geometry("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), 1, 1, 1, 1)
    lay = C._shift_layout(geom, 3, 4)
    assert lay is not None and C._shift_layout(geom, 3, 4) is lay and lay.shifts == (0, 1, 2, 9, 10, 11, 18, 19, 20)
    old = C.set_memory_budget(100)  # one sample's columns (3 * 9 * 72 floats) no longer fit
    try:
        assert C._shift_layout(geom, 3, 4) is None
    finally:
        C.set_memory_budget(old)
    assert C._shift_layout(geom, 3, 4) is lay
