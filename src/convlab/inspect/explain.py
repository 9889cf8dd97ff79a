"""Failure arithmetic: why a layer's shapes did not fit (padded size, effective kernel, channels)."""

from __future__ import annotations

import math

from .. import nn
from ..shapes import _conv_pads
from .fields import _pair
from .tracer import _Frame, _tensors


def _explain(frame: _Frame, nsp: int, layers) -> tuple[str, list[str]]:
    """Classify why ``frame``'s module failed and spell out the arithmetic.

    Returns ``(kind, lines)`` with kind ``'too_small'``, ``'too_large'``, ``'channels'`` or ``'other'``.
    """
    m = frame.module
    xs = list(_tensors(frame.args))
    if not xs:
        return "other", []
    shape = tuple(xs[0].shape)
    kind = type(m).__name__
    conv = isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))
    if conv or isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
        if len(shape) != nsp + 2:
            return "other", [f"{kind} expects a {nsp + 2}-D (N, C, H, W) input but receives shape {shape}"]
        if conv and shape[1] != m.in_channels:
            return "channels", [f"{kind} expects {m.in_channels} input channels (in_channels) but receives {shape[1]}"]
        size = shape[2:]
        n = len(size)
        k, s = _pair(m.kernel_size, n), _pair(m.stride, n)
        d = _pair(getattr(m, "dilation", 1), n)
        pads = _conv_pads(kind, m.padding, size, k, s, d)
        ceil = getattr(m, "ceil_mode", False)
        lines, small = [], False
        axes = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}.get(n, range(n))
        for axis, w, ki, si, di, (lo, hi) in zip(axes, size, k, s, d, pads):
            padded, eff = w + lo + hi, di * (ki - 1) + 1
            num = padded - eff
            out = (-(-num // si) if ceil else num // si) + 1
            rnd = "ceil" if ceil else "floor"
            last = ""
            if ceil and out >= 1 and (out - 1) * si >= w + lo:  # torch: no window may start in the right padding
                out, last = out - 1, " - 1 (the last window would start in the padding)"
            pad_txt = f"{w} + {lo} + {hi}" if lo != hi else f"{w} + 2*{lo}"
            ok = out >= 1 and padded >= eff
            small = small or not ok
            lines.append(f"{axis}: padded size {pad_txt} = {padded}; effective kernel d(k-1)+1 = {di}*({ki}-1)+1 = {eff}; "
                         f"out = {rnd}(({padded} - {eff}) / {si}) + 1{last} = {out}" + ("" if ok else "  <-- fails: below 1"))
        return ("too_small" if small else "other"), lines
    if isinstance(m, nn.Linear):
        got = shape[-1]
        if got == m.in_features:
            return "other", []
        src = ""
        for L in reversed(layers):  # the map that was flattened into these features
            o = L.output_shape
            if o and isinstance(o[0], int) and len(o) > 2 and math.prod(o[1:]) == got:
                src = f" = {'x'.join(str(v) for v in o[1:])} (output of '{L.name}', flattened)"
                break
        how = "too few: the input is too small" if got < m.in_features else "too many: the input is too large"
        return ("too_small" if got < m.in_features else "too_large"), [
            f"Linear expects {m.in_features} input features (in_features) but receives {got}{src}; {how}"]
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and len(shape) > 1 and shape[1] != m.num_features:
        return "channels", [f"{kind} expects {m.num_features} channels (num_features) but receives {shape[1]}"]
    return "other", []
