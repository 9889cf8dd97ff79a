"""Seed 001's picture: a convolution is one matrix product once the patches are unrolled."""

from __future__ import annotations

import numpy as np

from .figures import annotate_cells, cell_font_size, integer_ticks, subplots


def im2col_matrix(x, kernel_size, stride=1, padding=0) -> np.ndarray:
    """convlab's own ``im2col`` of ``x`` ``(N, C, H, W)`` laid out as seed 001's
    ``(N * Ho * Wo, C * kh * kw)`` matrix: one row per output position, one column per weight."""
    from .. import shapes
    from ..ops.conv import im2col

    x = np.asarray(x, dtype=np.float64)
    k = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    w_shape = (1, x.shape[1]) + tuple(k)
    geom = shapes.conv_geometry("im2col_matrix", x.shape, w_shape, stride=stride, padding=padding)
    col = im2col(x, geom)  # (C, kh, kw, N, Ho, Wo)
    return col.reshape(x.shape[1] * k[0] * k[1], -1).T.copy()


def _fmt(a) -> str:
    """A format short enough for a cell: whole numbers as they are, others to two decimals."""
    a = np.asarray(a)
    if np.all(a == np.round(a)) and np.abs(a).max() < 1e4:
        return "{:.0f}"
    return "{:.2f}" if np.abs(a).max() < 10 else "{:.3g}"


def im2col_figure(x=None, weight=None, stride=1, padding=0):
    """Seed 001's im2col picture: input, the unrolled patch matrix, the weights as a column and
    ``patches @ weights`` reshaped -- equal to ``conv2d``. Returns ``(figure, max |difference|)``.

    Values are written into the cells where they fit (two decimals; whole numbers as they are);
    a panel whose cells are too small for a legible number says so in its title instead."""
    import convlab
    from convlab import functional as F

    x = np.random.default_rng(1).integers(0, 10, (1, 1, 5, 5)).astype(np.float64) if x is None else np.asarray(x, np.float64)
    weight = np.array([[[[1.0, 0, -1], [1, 0, -1], [1, 0, -1]]]]) if weight is None else np.asarray(weight, np.float64)
    kh, kw = weight.shape[-2:]
    cols = im2col_matrix(x, (kh, kw), stride, padding)
    prod = cols @ weight.reshape(weight.shape[0], -1).T
    with convlab.no_grad():
        y = F.conv2d(convlab.tensor(x), convlab.tensor(weight), stride=stride, padding=padding).numpy()
    out = prod.reshape(x.shape[0], y.shape[2], y.shape[3], -1).transpose(0, 3, 1, 2)
    err = float(np.abs(out - y).max())
    width = [1.2, min(3.0, max(1.6, 0.045 * cols.shape[1])), 0.45, 1.2]
    fig, axes = subplots(1, 4, figsize=(4.2 * sum(width), 5.6), gridspec_kw={"width_ratios": width})
    axes = axes[0]
    panels = [(x[0, 0], f"input x ({x.shape[2]}x{x.shape[3]})", "viridis"),
              (cols, f"im2col: {cols.shape[0]} patches x {cols.shape[1]} weights", "viridis"),
              (weight.reshape(-1, 1)[: cols.shape[1]], "weights\n(a column)", "RdBu_r"),
              (out[0, 0], "patches @ weights\n(reshaped = conv2d)", "RdBu_r")]
    for ax, (a, title, cmap) in zip(axes, panels):
        sym = float(np.abs(a).max()) or 1.0
        im = ax.imshow(a, cmap=cmap, aspect="auto", vmin=-sym if cmap == "RdBu_r" else None,
                       vmax=sym if cmap == "RdBu_r" else None)
        ax.set_title(title, fontsize=10)
        integer_ticks(ax, x=a.shape[1] > 1, y=True)
        if a.shape[1] == 1:
            ax.set_xticks([])
        ax.tick_params(labelsize=8)
        fig.colorbar(im, ax=ax, fraction=0.08 if a.shape[1] == 1 else 0.046, pad=0.04)
    axes[1].set_xlabel("kernel entry (c, i, j), flattened", fontsize=9)
    axes[1].set_ylabel("output position", fontsize=9)
    fig.suptitle(f"convolution as one matrix product (seed 001); max |im2col - conv2d| = {err:.1e}")
    fig.draw_without_rendering()  # the layout, once, to size the cells
    fits = [cell_font_size(ax, a, _fmt(a), max_size=8, layout=False) is not None for ax, (a, _, _) in zip(axes, panels)]
    for ax, (a, title, _), fit in zip(axes, panels, fits):
        if not fit:
            ax.set_title(f"{title}\n(values not written:\n{a.shape[0]}x{a.shape[1]} cells too small)", fontsize=10)
    if not all(fits):
        fig.draw_without_rendering()  # the longer titles shrank the panels a little
    for ax, (a, _, _), fit in zip(axes, panels, fits):
        if fit:
            annotate_cells(ax, a, _fmt(a), max_size=8, layout=False)
    return fig, err
