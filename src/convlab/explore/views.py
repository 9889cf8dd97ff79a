"""What each view of the explorer shows, as JSON-ready dicts: the model, an image's forward pass
with every layer's feature maps, one output cell's receptive field and formula, and the kernels.

Numbers come from the library itself: the model table is :func:`convlab.inspect.summary`, the
feature maps are the outputs the model's own layers produce (recorded by forward hooks), and
the formula of a convolution cell is rebuilt from the very input and weight that layer used,
then checked against the value the layer computed.

Receptive field of an output cell, per axis. A layer with kernel ``k``, stride ``s``, padding
``p`` and dilation ``d`` reads, for its output ``o``, its input rows ``o s - p + m d`` for
``m = 0 .. k-1``. If its input row ``t`` sees the network input rows ``[a + t J, a + t J + R - 1]``
(offset ``a``, jump ``J``, field ``R``), its output ``o`` sees ``[a' + o J', a' + o J' + R' - 1]`` with::

    a' = a - p J        J' = s J        R' = R + d (k - 1) J

(``R'`` and ``J'`` are :mod:`convlab.inspect`'s field and jump; the offset places the box.) The
box is clipped to the input; the part of it outside falls in the zero padding.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np

MAX_MAP_CHANNELS = 64  # feature-map channels sent per layer
MAX_MAP_SIDE = 64  # larger maps are sent every k-th row and column (the cells keep their true indices)
MAX_KERNEL_OUT, MAX_KERNEL_IN = 64, 32  # kernels sent per convolution


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _geometry(m, nsp=2):
    """``(kernel, stride, padding, dilation)`` per axis of a conv/pool module, or None."""
    from .. import nn

    if not isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        return None

    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nsp

    k, s = pair(m.kernel_size), pair(m.stride if m.stride is not None else m.kernel_size)
    d = pair(getattr(m, "dilation", 1))
    return k, s, m.padding, d


@dataclass
class Call:
    """One call of a leaf layer during the forward pass of one image."""

    index: int
    name: str
    type: str
    module: object
    input: np.ndarray | None  # (C, H, W) of the first tensor argument
    output: np.ndarray  # without the batch axis
    field: tuple | None  # per axis (offset a, jump J, size R) of the output's cells, or None


def _field_after(m, field, in_hw):
    """The field of ``m``'s output given its input's (see the module docstring)."""
    from ..shapes import _conv_pads

    g = _geometry(m)
    if field is None or g is None:
        return field
    k, s, p, d = g
    pads = _conv_pads(type(m).__name__, p, in_hw, k, s, d)
    return tuple((a - lo * J, si * J, R + di * (ki - 1) * J)
                 for (a, J, R), ki, si, (lo, _), di in zip(field, k, s, pads, d))


def forward(model, x: np.ndarray) -> tuple[list[Call], np.ndarray]:
    """Run ``model`` on the batch ``x`` (1, C, H, W), recording every leaf layer; ``(calls, logits)``."""
    from ..tensor import Tensor, no_grad, tensor

    leaves = [(n, m) for n, m in model.named_modules() if next(iter(m.children()), None) is None]
    calls: list[Call] = []
    fields: dict[int, tuple] = {}  # id(tensor) -> (tensor, field); the tensor is kept alive so ids stay unique
    counts: dict[str, int] = {}
    start = tuple((0, 1, 1) for _ in x.shape[2:])
    last = [start]

    def hook(name):
        def run(module, args, output):
            xs = [a for a in args if isinstance(a, Tensor)]
            inp = xs[0] if xs else None
            if inp is not None and id(inp) in fields:
                f_in = fields[id(inp)][1]
            else:
                f_in = last[0]
            spatial = inp is not None and inp.ndim == 4 and isinstance(output, Tensor) and output.ndim == 4
            f_out = _field_after(module, f_in, tuple(inp.shape[2:])) if spatial else None
            if isinstance(output, Tensor):
                fields[id(output)] = (output, f_out)
                if f_out is not None:
                    last[0] = f_out
            counts[name] = counts.get(name, 0) + 1
            label = name if counts[name] == 1 else f"{name} (call {counts[name]})"
            out = output.numpy()[0].copy() if isinstance(output, Tensor) else None
            calls.append(Call(len(calls), label, type(module).__name__, module,
                              inp.numpy()[0].copy() if inp is not None else None, out, f_out))
        return run

    handles = [m.register_forward_hook(hook(n or type(model).__name__)) for n, m in leaves]
    try:
        with no_grad():
            inp = tensor(x)
            fields[id(inp)] = (inp, start)
            logits = model(inp).numpy()[0]
    finally:
        for h in handles:
            h.remove()
    return calls, logits


def model_view(model, input_shape, title: str, classes, pre) -> dict:
    """View 1: :func:`convlab.inspect.summary` as rows."""
    from ..inspect import summary

    s = summary(model, tuple(input_shape))
    rows = [{"name": L.name, "type": L.type, "output_shape": list(L.output_shape) if L.output_shape else None,
             "params": None if L.repeat else L.trainable + L.non_trainable, "macs": L.macs,
             "rf": list(L.rf) if L.rf else None, "jump": list(L.jump) if L.jump else None} for L in s.layers]
    return {"title": title, "model": s.model, "input_shape": list(s.input_shape), "output_shape": list(s.output_shape),
            "layers": rows, "total_params": s.total_params, "total_macs": s.total_macs, "classes": list(classes),
            "preprocessing": pre}


def _maps(a: np.ndarray) -> dict:
    """A (C, H, W) map as uint8 per channel (min..max -> 0..255) plus the ranges; a map larger than
    MAX_MAP_SIDE is drawn from every ``step``-th row and column (``height``/``width`` stay the true size)."""
    a = a[:MAX_MAP_CHANNELS].astype(np.float32)
    lo = a.reshape(a.shape[0], -1).min(axis=1)
    hi = a.reshape(a.shape[0], -1).max(axis=1)
    step = -(-max(a.shape[1:]) // MAX_MAP_SIDE)
    drawn = a[:, ::step, ::step]
    scale = np.where(hi > lo, 255.0 / np.maximum(hi - lo, 1e-30), 0.0)
    q = np.rint((drawn - lo[:, None, None]) * scale[:, None, None]).astype(np.uint8)
    return {"channels": int(a.shape[0]), "height": int(a.shape[1]), "width": int(a.shape[2]),
            "drawn": [int(drawn.shape[1]), int(drawn.shape[2])], "min": lo.tolist(), "max": hi.tolist(), "data": b64(q)}


def image_view(calls: list[Call], logits: np.ndarray, display: np.ndarray, classes, topk: int = 5) -> dict:
    """View 2: prediction, top-k and every layer's feature maps."""
    z = logits.astype(np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p)[: min(topk, len(p))]
    def name(i):
        return (classes[i] if i < len(classes) else str(i))
    layers = []
    for c in calls:
        if c.output is None or c.output.ndim != 3:
            continue
        layers.append({"index": c.index, "name": c.name, "type": c.type, "shape": list(c.output.shape),
                       "clickable": c.field is not None, **_maps(c.output)})
    img = display
    return {"prediction": name(int(order[0])), "topk": [{"class": name(int(i)), "probability": float(p[i])} for i in order],
            "input": {"channels": int(img.shape[0]), "height": int(img.shape[1]), "width": int(img.shape[2]),
                      "data": b64(np.rint(img * 255).astype(np.uint8))},
            "layers": layers}


def receptive_box(field, i: int, j: int, hw) -> dict:
    """The input rows and columns output cell ``(i, j)`` sees, unclipped and clipped to the input."""
    (a0, J0, R0), (a1, J1, R1) = field
    top, left = a0 + i * J0, a1 + j * J1
    bottom, right = top + R0 - 1, left + R1 - 1
    return {"top": int(top), "left": int(left), "bottom": int(bottom), "right": int(right), "size": [int(R0), int(R1)],
            "jump": [int(J0), int(J1)],
            "clipped": {"top": int(max(top, 0)), "left": int(max(left, 0)),
                        "bottom": int(min(bottom, hw[0] - 1)), "right": int(min(right, hw[1] - 1))}}


def cell_view(call: Call, c: int, i: int, j: int, input_hw) -> dict:
    """View 3: the receptive field of one output cell and the arithmetic that produced it."""
    out = call.output
    C, H, W = out.shape
    for name, v, n in (("channel", c, C), ("row", i, H), ("column", j, W)):
        if not 0 <= v < n:
            raise IndexError(f"{name} {v} is outside 0..{n - 1} of layer '{call.name}' (shape {C}x{H}x{W})")
    view = {"layer": call.name, "type": call.type, "channel": c, "row": i, "column": j,
            "value": float(out[c, i, j]), "box": receptive_box(call.field, i, j, input_hw) if call.field else None}
    from .. import nn

    m = call.module
    if isinstance(m, nn.Conv2d):
        view["formula"] = conv_formula(m, call.input, c, i, j)
    elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        view["formula"] = pool_formula(m, call.input, c, i, j)
    elif call.input is not None and call.input.shape == out.shape:
        view["formula"] = {"kind": "elementwise", "input": float(call.input[c, i, j]), "output": float(out[c, i, j]),
                           "text": _elementwise_text(m)}
    return view


def _elementwise_text(m) -> str:
    from .. import nn

    if isinstance(m, nn.ReLU):
        return "max(0, x)"
    if isinstance(m, (nn.BatchNorm2d,)):
        return "(x - running_mean) / sqrt(running_var + eps) * weight + bias"
    return type(m).__name__


def _windows(x: np.ndarray, i: int, j: int, k, s, pads, d):
    """The input rows/columns a window reads (negative or past the end: padding)."""
    rows = [i * s[0] - pads[0][0] + m * d[0] for m in range(k[0])]
    cols = [j * s[1] - pads[1][0] + n * d[1] for n in range(k[1])]
    inside = np.array([[0 <= r < x.shape[1] and 0 <= q < x.shape[2] for q in cols] for r in rows])
    return rows, cols, inside


def conv_formula(m, x: np.ndarray, c: int, i: int, j: int) -> dict:
    """Seed 003's worked example for one output: per input channel the kernel window, the input
    patch (zeros where it covers padding), each product and their sum; then the total plus the bias.

    ``S(c, i, j) = b[c] + sum_ch sum_m sum_n X[ch, i s - p + m d, j s - p + n d] * K[c, ch, m, n]``
    (cross-correlation: the kernel is not flipped). Products are formed from the float32 values
    the layer used and summed in float64; the library's float32 output agrees to float32 rounding.
    """
    from ..shapes import _conv_pads

    k, s, p, d = _geometry(m)
    pads = _conv_pads("conv2d", p, x.shape[1:], k, s, d)
    w = m.weight.detach().numpy()
    groups = m.groups
    cin_g = w.shape[1]
    first = (c // (w.shape[0] // groups)) * cin_g  # the input channels of c's group
    rows, cols, inside = _windows(x, i, j, k, s, pads, d)
    channels, total = [], 0.0
    for g in range(cin_g):
        ch = first + g
        patch = np.array([[x[ch, r, q] if ok else 0.0 for q, ok in zip(cols, okrow)]
                          for r, okrow in zip(rows, inside)], dtype=np.float64)
        kern = w[c, g].astype(np.float64)
        prod = patch * kern
        total += float(prod.sum())
        channels.append({"channel": ch, "kernel": kern.tolist(), "patch": patch.tolist(), "products": prod.tolist(),
                         "sum": float(prod.sum())})
    bias = None if m.bias is None else float(m.bias.detach().numpy()[c])
    return {"kind": "conv", "kernel_size": list(k), "stride": list(s), "padding": [lo for lo, _ in pads],
            "dilation": list(d), "rows": rows, "cols": cols, "inside": inside.tolist(), "channels": channels,
            "sum": total, "bias": bias, "result": total + (bias or 0.0)}


def pool_formula(m, x: np.ndarray, c: int, i: int, j: int) -> dict:
    """The window a pooling cell reads and its max or mean."""
    from .. import nn
    from ..shapes import _conv_pads

    k, s, p, d = _geometry(m)
    pads = _conv_pads("pool", p, x.shape[1:], k, s, d)
    rows, cols, inside = _windows(x, i, j, k, s, pads, d)
    is_max = isinstance(m, nn.MaxPool2d)
    fill = -math.inf if is_max else 0.0
    patch = np.array([[x[c, r, q] if ok else fill for q, ok in zip(cols, okrow)] for r, okrow in zip(rows, inside)])
    result = float(patch.max()) if is_max else float(patch.sum() / patch.size)
    return {"kind": "maxpool" if is_max else "avgpool", "kernel_size": list(k), "stride": list(s), "rows": rows,
            "cols": cols, "inside": inside.tolist(),
            "patch": [[v if math.isfinite(v) else None for v in r] for r in patch.tolist()], "result": result}


def kernels_view(model) -> dict:
    """View 4: the weights of every convolution (the first layer is drawn in colour by the page)."""
    from .. import nn

    layers = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            w = np.asarray(m.weight.detach().numpy(), dtype=np.float32)
            shown = w[:MAX_KERNEL_OUT, :MAX_KERNEL_IN]
            layers.append({"name": name, "shape": list(w.shape), "shown": list(shown.shape),
                           "absmax": float(np.abs(w).max()) if w.size else 0.0, "data": b64(shown)})
    return {"layers": layers}


def kernels_payload(name, w) -> dict | None:
    """The first layer's kernels as streamed to the training view."""
    if w is None:
        return None
    shown = np.asarray(w, np.float32)[:MAX_KERNEL_OUT, :3]
    return {"name": name, "shape": list(w.shape), "shown": list(shown.shape), "absmax": float(np.abs(w).max()),
            "data": b64(shown)}
