"""shapes: the receptive-field stack in every layer form it takes, and unvisited's per-axis padding
and refusals, by hand (from the survivors of ``benchmarks/mutation.py shapes``)."""

from __future__ import annotations

import pytest

import convlab.nn as nn
from convlab.shapes import receptive_field, unvisited
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
