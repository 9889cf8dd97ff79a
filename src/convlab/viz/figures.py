"""Building blocks of every figure: the Agg backend, atomic PNG writes, panels of images,
kernels and lines."""

from __future__ import annotations

import math
import pathlib

import numpy as np


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int = 110) -> str:
    """Write ``fig`` to ``path`` atomically (temporary file + rename) and close it."""
    from ..files import save_figure_bytes

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_figure_bytes(lambda f: fig.savefig(f, dpi=dpi, format=(path.suffix[1:] or "png"), bbox_inches="tight"), path)
    finally:
        _plt().close(fig)
    return str(path)


def _grid(n: int, ncols: int | None = None):
    ncols = ncols or min(n, 4)
    return math.ceil(n / ncols), ncols


def image_panels(images, titles, suptitle=None, cmap="gray", colorbar=True, symmetric=False,
                 vmin=None, vmax=None, ncols=None, panel_size=3.2):
    """Images side by side, each with a title, pixel axes and (for 2-D arrays) a colour bar.

    ``cmap``, ``symmetric``, ``vmin`` and ``vmax`` may be single values or one per panel.
    ``symmetric`` centres the colour scale on 0 (for signed responses); a number instead of
    ``True`` is the percentile of ``|value|`` that sets the scale (e.g. 99.5, robust to outliers).
    RGB ``(H, W, 3)`` panels are drawn as colour images without a colour bar.
    """
    plt = _plt()
    n = len(images)

    def each(v):
        return list(v) if isinstance(v, (list, tuple)) else [v] * n

    rows, cols = _grid(n, ncols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel_size * cols + 0.6, panel_size * rows + 0.4), squeeze=False)
    for ax, img, title, cm, sym, lo, hi in zip(axes.flat, images, titles, each(cmap), each(symmetric),
                                               each(vmin), each(vmax)):
        img = np.asarray(img)
        if img.ndim == 3:
            ax.imshow(img if img.dtype == np.uint8 else np.clip(img, 0, 1))
        else:
            if sym is not False and sym is not None:
                a = np.abs(img)
                m = float(a.max() if sym is True else np.percentile(a, sym)) or 1.0
                lo, hi = -m, m
            im = ax.imshow(img, cmap=cm, vmin=lo, vmax=hi)
            if colorbar:
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def kernel_panels(kernels, titles, suptitle=None, annotate=True):
    """Small kernels side by side on a shared diverging colour scale, values written in the cells."""
    plt = _plt()
    kernels = [np.asarray(k, dtype=np.float64) for k in kernels]
    m = max(float(np.abs(k).max()) for k in kernels) or 1.0
    fig, axes = plt.subplots(1, len(kernels), figsize=(3.4 * len(kernels) + 1, 3.6), squeeze=False)
    for ax, k, title in zip(axes.flat, kernels, titles):
        im = ax.imshow(k, cmap="RdBu_r", vmin=-m, vmax=m)
        if annotate:
            for (i, j), v in np.ndenumerate(k):
                ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=9,
                        color="white" if abs(v) > 0.6 * m else "black")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(k.shape[1]))
        ax.set_yticks(range(k.shape[0]))
    fig.colorbar(im, ax=list(axes.flat), fraction=0.025, pad=0.02, label="weight")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def line_plot(series: dict, x=None, title="", xlabel="", ylabel="", logy=False, marks=None):
    """One line per entry of ``series``; ``marks`` ({x: y}) are drawn as reference points."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, ys in series.items():
        xs = x if x is not None else np.arange(1, len(ys) + 1)
        ax.plot(xs, ys, "-o" if len(ys) <= 30 else "-", ms=4, label=name)
    if marks:
        ax.plot(list(marks), list(marks.values()), "kx", ms=9, label="seed's printed values")
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
