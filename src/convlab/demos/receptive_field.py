"""Seed 003 (and 001): how far one output pixel sees into the input.

Formula (``convlab.shapes.receptive_field``): ``RF_l = RF_{l-1} + D_l (k_l - 1) * prod_{i<l} s_i``.
Three stacked 3x3 layers see 7x7 with 3 * 9 = 27 weights per channel pair, against 49 for one
7x7 kernel; strides multiply the later layers' reach; dilation (seed 001) widens it with no
extra weights.

Empirically: build each stack from ``nn.Conv2d`` with all weights 1 and no bias, take one output
pixel, backpropagate to the input and look at which input pixels received a non-zero gradient.
The gradient there counts the paths from that input pixel to the output, which is why the field
is brighter in the middle (the *effective* receptive field is smaller than the theoretical one).
"""

from __future__ import annotations

import numpy as np

NAME = "receptive-field"
SEED_SOURCE = "003 (receptive field), 001 (dilation)"
SUMMARY = "three 3x3 layers see 7x7 with 27 weights vs 49; strides and dilation grow the field"

STACKS = {
    "three 3x3, stride 1": [(3, 1, 0, 1)] * 3,
    "three 3x3, stride 2": [(3, 2, 0, 1)] * 3,
    "three 3x3, dilation 1, 2, 4": [(3, 1, 0, 1), (3, 1, 0, 2), (3, 1, 0, 4)],
    "one 7x7": [(7, 1, 0, 1)],
}


def build(stack):
    """``nn.Conv2d`` layers (kernel, stride, padding, dilation) with unit weights, no bias."""
    from convlab import nn

    layers = []
    for k, s, p, d in stack:
        conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False).double()
        conv.weight.data = np.ones(conv.weight.shape, conv.weight.dtype)
        layers.append(conv)
    return layers


def gradient_field(layers, size: int, out_pos=None) -> np.ndarray:
    """|d y[out_pos] / d x| over a ``size x size`` input (default: the central output pixel)."""
    import convlab

    x = convlab.zeros(1, 1, size, size, dtype=np.float64, requires_grad=True)
    y = x
    for layer in layers:
        y = layer(y)
    oh, ow = y.shape[-2:]
    i, j = out_pos if out_pos is not None else (oh // 2, ow // 2)
    seed = np.zeros(y.shape)
    seed[0, 0, i, j] = 1.0
    y.backward(seed)
    return np.abs(x.grad.numpy()[0, 0])


def extent(field: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the non-zero region."""
    rows, cols = np.nonzero(field)
    return int(rows.min()), int(cols.min()), int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def formula_box(stack, out_index: int) -> tuple[int, int, int, int]:
    """(top, left, h, w) of output pixel ``(out_index, out_index)``'s field by the formula: its
    centre is ``start + out_index * jump`` (continuous coordinates, pixel p spans [p, p + 1))."""
    from .. import shapes

    rf = shapes.receptive_field(stack)[-1]
    top = int(round(rf.start + out_index * rf.jump - rf.size / 2))
    return top, top, int(rf.size), int(rf.size)


def analyse(size: int = 41) -> dict:
    from .. import shapes

    out = {}
    for name, stack in STACKS.items():
        rf = shapes.receptive_field(stack)[-1]
        layers = build(stack)
        field = gradient_field(layers, size)
        top, left, h, w = extent(field)
        out_size = size
        for k, s, p, d in stack:
            out_size = shapes.conv_output_size(out_size, k, s, p, d)
        weights = sum(k * k for k, *_ in stack)
        out[name] = {"formula": int(rf.size), "jump": int(rf.jump), "empirical": (h, w), "weights": weights,
                     "field": field, "box": (top, left, h, w), "formula_box": formula_box(stack, out_size // 2)}
    return out


def run(out_dir, log=print, figures: bool = True, size: int = 41) -> dict:
    from .. import shapes

    per_layer = [r.size for r in shapes.receptive_field(STACKS["three 3x3, stride 1"])]
    log(f"three stacked 3x3 layers (stride 1): RF after each layer {per_layer}")
    log(f"weights per input/output channel pair: three 3x3 = {3 * 9}, one 7x7 = {7 * 7}; with 64 channels "
        f"in and out (+bias): {3 * shapes.conv_params(64, 64, 3)} vs {shapes.conv_params(64, 64, 7)}")
    res = analyse(size)
    log(f"{'stack':30s} {'formula':>8s} {'jump':>5s} {'gradient':>9s} {'weights':>8s}  same place")
    for name, r in res.items():
        h, w = r["empirical"]
        log(f"{name:30s} {r['formula']:>8d} {r['jump']:>5d} {f'{h}x{w}':>9s} {r['weights']:>8d}  "
            f"{r['box'] == r['formula_box']}")
    result = {"per_layer": per_layer, "stacks": {n: {k: v for k, v in r.items() if k != "field"} for n, r in res.items()},
              "figures": []}
    if figures:
        from .. import viz
        from .laplace import grace_hopper

        image = grace_hopper()[60:60 + 4 * size:4, 200:200 + 4 * size:4]  # a size x size thumbnail of the face
        fig = viz.receptive_field_panels(image, [r["field"] for r in res.values()],
                                         [r["formula_box"] for r in res.values()],
                                         [f"{n}\nformula {r['formula']} (box), gradient {r['empirical'][0]}x"
                                          f"{r['empirical'][1]} (colour)" for n, r in res.items()],
                                         suptitle="receptive field of the central output pixel (|d out / d input|)")
        result["figures"].append(viz.save_figure(fig, out_dir / "receptive_field.png"))
    return result
