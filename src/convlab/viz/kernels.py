"""The kernels of a convolution layer as a grid of pictures."""

from __future__ import annotations

import numpy as np

from ..validate import ConvlabError
from .figures import _grid, subplots


def _weight(layer_or_weight) -> np.ndarray:
    w = getattr(layer_or_weight, "weight", layer_or_weight)
    w = getattr(w, "data", w)
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 4:
        raise ConvlabError(f"kernel_grid: expected a conv weight (out, in, kh, kw), got shape {w.shape}")
    return w


def kernel_grid(layer, title: str = "kernels", rgb: bool | None = None, max_out: int = 64, max_in: int = 8):
    """The kernels of a conv layer (or a weight array ``(out, in, kh, kw)``).

    ``rgb=True`` (the default when there are 3 input channels) draws each output channel's
    3 input-channel kernels as one colour picture, each rescaled to ``[0, 1]`` around 0 -> grey.
    Otherwise one cell per (output, input) pair (the first 16 outputs and ``max_in`` inputs),
    or for one input channel a grid of ``max_out`` kernels, on one diverging scale per layer.
    """
    full = _weight(layer)
    w = full[:max_out]
    o, i = w.shape[:2]
    if rgb is None:
        rgb = i == 3
    if rgb:
        if i != 3:
            raise ConvlabError(f"kernel_grid: rgb=True needs 3 input channels, got {i}")
        rows, cols = _grid(o, min(o, 8))
        fig, axes = subplots(rows, cols, figsize=(1.3 * cols + 0.5, 1.3 * rows + 0.8))
        for n, ax in enumerate(axes.flat):
            ax.axis("off")
            if n < o:
                k = np.moveaxis(w[n], 0, -1)
                m = float(np.abs(k).max()) or 1.0
                ax.imshow(0.5 + 0.5 * k / m, interpolation="nearest")
                ax.set_title(f"out {n}", fontsize=7)
    else:
        i = min(i, max_in)
        m = float(np.abs(w[:, :i]).max()) or 1.0
        if i == 1:  # one input channel: the kernels in a grid, 8 to a row
            rows, cols = _grid(o, min(o, 8))
            cells = {(n // cols, n % cols): (n, 0) for n in range(o)}
        else:  # a row per output channel (the first 16), a column per input channel
            o = min(o, 16)
            rows, cols = o, i
            cells = {(r, c): (r, c) for r in range(o) for c in range(i)}
        fig, axes = subplots(rows, cols, figsize=(1.1 * cols + 1.2, 1.1 * rows + 0.8))
        for (r, c), ax in np.ndenumerate(axes):
            ax.set_xticks([])
            ax.set_yticks([])
            if (r, c) not in cells:
                ax.axis("off")
                continue
            n, k = cells[(r, c)]
            im = ax.imshow(w[n, k], cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
            if i == 1:
                ax.set_title(f"out {n}", fontsize=7)
            else:
                if r == 0:
                    ax.set_title(f"in {c}", fontsize=7)
                if c == 0:
                    ax.set_ylabel(f"out {r}", fontsize=7)
        fig.colorbar(im, ax=list(axes.flat), fraction=0.03, pad=0.02, label="weight")
    shown = [f"the first {n} of {total} {what} channels" for n, total, what in
             ((o, full.shape[0], "output"), (i, full.shape[1], "input")) if n < total]
    if shown:
        title += f"\n(showing {' and '.join(shown)})"
    fig.suptitle(title)
    return fig
