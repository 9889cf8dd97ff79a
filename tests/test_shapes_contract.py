"""shapes: the receptive-field stack in every layer form it takes, and unvisited's per-axis padding
and refusals, by hand (from the survivors of ``benchmarks/mutation.py shapes``)."""

from __future__ import annotations

import pytest

import convlab.nn as nn
from convlab.shapes import (
    check_strict,
    conv_geometry,
    conv_macs,
    conv_output_size,
    conv_params,
    conv_transpose_output_size,
    pool_geometry,
    pool_output_size,
    receptive_field,
    same_padding,
    unvisited,
)
from convlab.validate import ConvlabError


def test_receptive_field_reads_every_layer_form():
    """Rule: span = D(K-1)+1; start += ((span-1)/2 - P) * jump; size += (span-1) * jump; jump *= S.
    Worked by hand from (size, jump, start) = (1, 1, 0.5)."""
    layers = [dict(kernel_size=3, stride=2, padding=1, dilation=2),  # span 5: (5, 2, 1.5)
              (3,),                                                   # k only: (9, 2, 3.5)
              (2, 2, 1),                                              # k, s, p: (11, 4, 2.5)
              (3, 1, 0, 2),                                           # k, s, p, d: span 5: (27, 4, 10.5)
              nn.MaxPool2d(2),                                        # stride defaults to the kernel: (31, 8, 12.5)
              nn.Conv2d(1, 1, 3, padding=1),                          # (47, 8, 12.5)
              dict(kernel=3),                                         # 'kernel' for 'kernel_size': (63, 8, 20.5)
              nn.Conv2d(1, 1, 3, padding="same")]                     # a string padding counts 0: (79, 8, 28.5)
    assert [tuple(r) for r in receptive_field(layers)] == [
        (5, 2, 1.5), (9, 2, 3.5), (11, 4, 2.5), (27, 4, 10.5), (31, 8, 12.5), (47, 8, 12.5), (63, 8, 20.5),
        (79, 8, 28.5)]


def test_unvisited_takes_padding_per_axis():
    # axis 0: 8 rows, k 3, s 2, no padding: outputs read rows 0..6, row 7 unread; axis 1: padding 1
    # shifts the windows to -1..7: every column read
    assert unvisited((8, 8), 3, 2, (0, 1)) == (1, 0)
    assert unvisited(7, 1, stride=2) == 3 and unvisited(9, 3, stride=1, dilation=2) == 0


@pytest.mark.parametrize("args, message", [
    ((-1, 3), r"^unvisited: size must be non-negative, got -1$"),
    ((1 << 25, 3), r"^unvisited: size must be <= 16777216, got 33554432$"),
    ((8, 0), r"^unvisited: kernel_size must be positive, got 0$"),
    ((8, 3, 0), r"^unvisited: stride must be positive, got 0$"),
    ((8, 3, 1, -1), r"^unvisited: padding must be non-negative, got -1$"),
    ((8, 3, 1, 0, 0), r"^unvisited: dilation must be positive, got 0$"),
    ((8, 3, 1, "x"), r"^unvisited: padding must be one of 'valid', 'same', got 'x'$"),
])
def test_unvisited_refusals_name_the_argument(args, message):
    with pytest.raises(ConvlabError, match=message):
        unvisited(*args)


# ---- each sizing function's refusals name the function and the argument (torch's message form)
@pytest.mark.parametrize("fn, args, kwargs, message", [
    (conv_params, (4, 4, 3), dict(groups=0), r"^conv_params: groups must be positive, got 0$"),
    (conv_params, (0, 4, 3), {}, r"^conv_params: in_channels must be positive, got 0$"),
    (conv_params, (4, 6, 3), dict(groups=4), r"^conv_params: out_channels 6 is not divisible by groups 4$"),
    (conv_params, (6, 4, 3), dict(groups=4), r"^conv_params: in_channels 6 is not divisible by groups 4$"),
    (conv_output_size, (-1, 3), {}, r"^conv_output_size: size must be non-negative, got -1$"),
    (conv_output_size, (10, 3), dict(padding=(-1, 0)), r"^conv_output_size: padding must be non-negative, got -1$"),
    (conv_output_size, (10, 3), dict(padding=(0, -2)), r"^conv_output_size: padding must be non-negative, got -2$"),
    (conv_macs, (3, 4, 0, (8, 8)), {}, r"^conv_macs: kernel_size must be positive, got 0$"),
    (conv_macs, (3, 4, 3, (-1, 8)), {}, r"^conv_macs: output_size must be non-negative, got -1$"),
    (conv_transpose_output_size, (-1, 3), {}, r"^conv_transpose_output_size: size must be non-negative, got -1$"),
    (conv_transpose_output_size, (5, 3), dict(padding=-1),
     r"^conv_transpose_output_size: padding must be non-negative, got -1$"),
    (conv_transpose_output_size, (5, 3), dict(output_padding=-1),
     r"^conv_transpose_output_size: output_padding must be non-negative, got -1$"),
    (pool_output_size, (5, 3), dict(padding=-1), r"^pool_output_size: padding must be non-negative, got -1$"),
    (same_padding, (-1, 3), {}, r"^same_padding: size must be non-negative, got -1$"),
    # the padded size is bounded too (the answer is counted pixel by pixel)
    (unvisited, (10, 3), dict(padding=(0, 1 << 24)), r"^unvisited: the padded size must be <= 16777216, got 16777226$"),
], ids=[f"case{i}" for i in range(15)])  # plain ids: mutmut hands them to pytest
def test_sizing_refusals_name_the_function_and_argument(fn, args, kwargs, message):
    with pytest.raises(ConvlabError, match=message):
        fn(*args, **kwargs)


def test_same_padding_inside_the_output_size_uses_stride_and_dilation():
    # 'same' at stride 1, dilation 2: total padding D(K-1) = 4, (2, 2): out = (10 + 4 - 5) + 1 = 10
    assert conv_output_size(10, 3, padding="same", dilation=2) == 10
    # stride 2: ceil(10/2) = 5 outputs, total max(4*2 + 3 - 10, 0) = 1 -> (0, 1): out = (11 - 3)//2 + 1 = 5
    assert conv_output_size(10, 3, stride=2, padding="same") == 5
    # dilation 2, stride 3: out ceil(10/3) = 4, total 3*3 + 5 - 10 = 4 -> (2, 2): (14 - 5)//3 + 1 = 4
    assert conv_output_size(10, 3, stride=3, padding="same", dilation=2) == 4
    # and unvisited with 'same': 10 wide, (2, 2) padding, windows at -2, 1, 4, 7 reading taps +0, +2, +4:
    # read {-2,0,2, 1,3,5, 4,6,8, 7,9,11}: every one of 0..9 is read
    assert unvisited(10, 3, stride=3, padding="same", dilation=2) == 0


def test_conv_macs_takes_an_int_output_size():
    # one spatial axis of 32 outputs: 64 * 3 * 3 * 32 multiply-accumulates per sample
    assert conv_macs(3, 64, 3, 32) == 64 * 3 * 3 * 32 == 18432
    assert conv_macs(3, 64, 3, (32, 32)) == 64 * 3 * 9 * 1024


def test_receptive_field_reads_a_layers_dilation():
    # span D(K-1)+1 = 5 for a 3x3 kernel at dilation 2, padding 0: size 5, start (5-1)/2 + 0.5 = 2.5
    assert [tuple(r) for r in receptive_field([nn.Conv2d(1, 1, 3, dilation=2)])] == [(5, 1, 2.5)]


@pytest.mark.parametrize("x_shape, w_shape, stride, message", [
    ((1, 1, 8), (1, 1, 3), 2, r"strict=True and 1 axis-0 positions of the 8 input are never visited"),
    ((1, 1, 7, 8, 8), (1, 1, 3, 3, 3), 2,
     r"strict=True and 1 axis-1 positions, 1 axis-2 positions of the 7x8x8 input are never visited"),
], ids=[f"case{i}" for i in range(2)])  # plain ids: mutmut hands them to pytest
def test_strict_names_the_axes_of_1d_and_3d_inputs(x_shape, w_shape, stride, message):
    # 8 wide, kernel 3, stride 2: windows at 0, 2, 4 read 0..6, position 7 unread; 7 wide reads all
    geom = conv_geometry("conv", x_shape, w_shape, stride=stride)
    with pytest.raises(ConvlabError, match=message):
        check_strict("conv", geom)


def test_the_geometry_cache_is_bounded():
    # a long-running process sizing ever-new shapes must not grow the cache without end
    for n in range(4200):
        pool_geometry("max_pool2d", (1, 1, 2, n + 2), 2)
    info = pool_geometry.cache_info()
    assert info.maxsize == 4096 and info.currsize <= 4096


@pytest.mark.parametrize("padding, dilation", [(1, 1), (2, 1), (1, 2), (2, 2), (3, 2)])
def test_pool_output_size_refuses_what_pooling_refuses(padding, dilation):
    # torch's rule is on the undilated kernel: 2P <= K (max_pool1d(kernel 3, padding 2, dilation 2) refuses)
    torch = pytest.importorskip("torch")
    x = torch.zeros(1, 1, 10)
    try:
        want = torch.nn.functional.max_pool1d(x, 3, stride=1, padding=padding, dilation=dilation).shape[-1]
    except RuntimeError:
        with pytest.raises(ConvlabError, match=rf"^pool_output_size: padding {padding} should be at most half of "
                                               r"kernel size 3$"):
            pool_output_size(10, 3, stride=1, padding=padding, dilation=dilation)
        return
    assert pool_output_size(10, 3, stride=1, padding=padding, dilation=dilation) == want
