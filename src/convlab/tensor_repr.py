"""How a tensor prints: the layout torch users read (``print(x)`` in a tutorial), with
convlab's name where torch writes its own.

- Floats get 4 decimals (``0.2449``), or scientific notation when the non-zero magnitudes span
  more than 1000x, exceed 1e8 or fall below 1e-4 (``1.0000e-05``); when every value is a
  whole number they print as ``1.``, ``2.``.
- All elements share one width, right-aligned; rows wrap at 80 columns and continue under the
  first element; nested dims are separated by as many newlines as they are deep.
- More than 1000 elements: the first and last 3 along each dim, with ``...`` between.
- Suffixes: ``dtype=`` unless the default float type, int64 or bool (as torch); ``size=`` for
  an empty tensor that is not 1-D; ``requires_grad=True`` on a leaf, ``grad_fn=<...>`` otherwise.

>>> import convlab
>>> convlab.tensor([[1.0, 2.0], [3.0, 4.5]])
tensor([[1.0000, 2.0000],
        [3.0000, 4.5000]])
>>> convlab.tensor([1e-5, 1.0]), convlab.tensor([1, 2]), convlab.tensor([2.0, 3.0])
(tensor([1.0000e-05, 1.0000e+00]), tensor([1, 2]), tensor([2., 3.]))
"""

from __future__ import annotations

import numpy as np

LINEWIDTH, THRESHOLD, EDGEITEMS, PRECISION = 80, 1000, 3, 4


def _float_formatter(values: np.ndarray):
    """torch's choice of format for these (shown) values, and the width: computed, as torch's,
    from the finite non-zero values only (zeros, nan and inf are padded to it)."""
    nonzero = values[np.isfinite(values) & (values != 0)].astype(np.float64)
    if nonzero.size == 0:
        fmt = lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"  # noqa: E731
        return fmt, 0
    mag = np.abs(nonzero)
    ratio_sci = mag.max() / mag.min() > 1000.0 or mag.max() > 1e8
    if np.all(nonzero == np.ceil(nonzero)):  # whole numbers: "1.", "2."
        if ratio_sci:
            fmt = lambda v: f"{v:.{PRECISION}e}" if np.isfinite(v) else f"{v}"  # noqa: E731
        else:
            fmt = lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"  # noqa: E731
    elif ratio_sci or mag.min() < 1e-4:
        fmt = lambda v: f"{v:.{PRECISION}e}" if np.isfinite(v) else f"{v}"  # noqa: E731
    else:
        fmt = lambda v: f"{v:.{PRECISION}f}" if np.isfinite(v) else f"{v}"  # noqa: E731
    return fmt, max(len(fmt(v)) for v in nonzero.tolist())


def _shown(a: np.ndarray, summarize: bool) -> np.ndarray:
    """The elements that will be printed (edges only when summarizing), for choosing the format."""
    if not summarize or a.ndim == 0:
        return a.reshape(-1)
    for d in range(a.ndim):
        if a.shape[d] > 2 * EDGEITEMS:
            a = np.concatenate([a.take(range(EDGEITEMS), d), a.take(range(a.shape[d] - EDGEITEMS, a.shape[d]), d)], d)
    return a.reshape(-1)


def _element_formatter(a: np.ndarray, summarize: bool):
    shown = _shown(a, summarize)
    if a.dtype.kind in "biu":
        fmt, width = str, max((len(str(v)) for v in shown.tolist()), default=0)
    else:
        fmt, width = _float_formatter(shown)
    return lambda v: fmt(v).rjust(width), width


def _layout(a: np.ndarray, fmt, width: int, indent: int, summarize: bool) -> str:
    if a.ndim == 0:
        return fmt(a.item())
    n = a.shape[0]
    cut = summarize and n > 2 * EDGEITEMS
    idx = list(range(EDGEITEMS)) + [None] + list(range(n - EDGEITEMS, n)) if cut else list(range(n))
    if a.ndim == 1:
        items = [" ..." if i is None else fmt(a[i].item()) for i in idx]
        per_line = max(1, (LINEWIDTH - indent) // (width + 2))
        lines = [", ".join(items[k:k + per_line]) for k in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    parts = ["..." if i is None else _layout(a[i], fmt, width, indent + 1, summarize) for i in idx]
    return "[" + sep.join(parts) + "]"


def format_tensor(t, default_float) -> str:
    from . import backend

    a = np.asarray(backend.to_numpy(t._data))
    prefix = "tensor("
    suffixes = []
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
    else:
        summarize = a.size > THRESHOLD
        fmt, width = _element_formatter(a, summarize)
        body = _layout(a, fmt, width, len(prefix), summarize)
    if a.dtype != default_float and a.dtype not in (np.dtype(np.int64), np.dtype(np.bool_)):
        suffixes.append(f"dtype=convlab.{a.dtype}")
    if t._node is not None:
        suffixes.append(f"grad_fn=<{t._node.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    # suffixes follow on the last line while it stays within 80 columns, else on a new line
    text = prefix + body
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > LINEWIDTH:
            text += ",\n" + " " * len(prefix) + suffix
            last = len(prefix) + len(suffix)
        else:
            text += ", " + suffix
            last += len(suffix) + 2
    return text + ")"
