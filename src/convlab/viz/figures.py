"""Building blocks of every figure: the Agg backend, atomic PNG writes, panels of images,
kernels and lines, and the legibility checks the tests run on every figure.

Every figure is laid out by matplotlib's constrained layout (:func:`subplots`), which keeps the
figure title, panel titles, tick labels and colour bars apart however many panels there are;
:func:`overlapping_texts` finds any two texts that still overlap once drawn."""

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


def subplots(rows: int = 1, cols: int = 1, **kwargs):
    """``plt.subplots`` with constrained layout (titles, labels and colour bars never overlap)."""
    kwargs.setdefault("squeeze", False)
    return _plt().subplots(rows, cols, layout="constrained", **kwargs)


def drawn_texts(fig) -> list:
    """``(text, bounding box in pixels)`` of every non-empty text the figure draws: titles, axis and
    tick labels, colour-bar labels, legends and texts written into the axes."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ticks = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update((id(tick.label1), id(tick.label2)))
            for tick in axis._update_ticks():  # the ticks inside the view limits: the ones drawn
                ticks.discard(id(tick.label1))
                ticks.discard(id(tick.label2))
    out = []
    for t in fig.findobj(Text):
        if id(t) in ticks or not t.get_visible() or not t.get_text().strip() or not t.get_figure():
            continue
        box = t.get_window_extent(renderer)
        if box.width > 0 and box.height > 0:
            out.append((t, box))
    return out


def overlapping_texts(fig, tolerance: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose boxes overlap by more than ``tolerance`` pixels each way."""
    items = drawn_texts(fig)
    if len(items) < 2:
        return []
    b = np.array([[box.x0, box.y0, box.x1, box.y1] for _, box in items])
    w = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    h = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    i, j = np.nonzero(np.triu((w > tolerance) & (h > tolerance), 1))
    return [(items[a][0].get_text(), items[c][0].get_text()) for a, c in zip(i, j)]


def spread(n: int, k: int) -> list[int]:
    """``k`` indices of ``range(n)`` spaced evenly from the first to the last (all of them when ``n <= k``)."""
    if n <= k:
        return list(range(n))
    if k == 1:
        return [0]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


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
    n = len(images)

    def each(v):
        return list(v) if isinstance(v, (list, tuple)) else [v] * n

    rows, cols = _grid(n, ncols)
    fig, axes = subplots(rows, cols, figsize=(panel_size * cols + 0.6, panel_size * rows + 0.4))
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
    return fig


def kernel_panels(kernels, titles, suptitle=None, annotate=True):
    """Small kernels side by side on a shared diverging colour scale, values written in the cells
    (where they fit)."""
    kernels = [np.asarray(k, dtype=np.float64) for k in kernels]
    m = max(float(np.abs(k).max()) for k in kernels) or 1.0
    fig, axes = subplots(1, len(kernels), figsize=(3.4 * len(kernels) + 1, 3.6))
    for ax, k, title in zip(axes.flat, kernels, titles):
        im = ax.imshow(k, cmap="RdBu_r", vmin=-m, vmax=m)
        ax.set_title(title, fontsize=10)
        integer_ticks(ax)
    fig.colorbar(im, ax=list(axes.flat), fraction=0.025, pad=0.02, label="weight")
    if suptitle:
        fig.suptitle(suptitle)
    if annotate:
        fig.draw_without_rendering()
        for ax, k in zip(axes.flat, kernels):
            annotate_cells(ax, k, "{:+.2f}", max_size=9, layout=False)
    return fig


def integer_ticks(ax, x: bool = True, y: bool = True) -> None:
    """Whole-number ticks, as many as fit without their labels touching."""
    from matplotlib.ticker import MaxNLocator

    if x:
        ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True, min_n_ticks=1))
    if y:
        ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True, min_n_ticks=1))


def cell_font_size(ax, a, fmt: str = "{:.2f}", max_size: float = 8, min_size: float = 5, layout: bool = True):
    """The largest font, up to ``max_size`` points, in which every value of the 2-D array ``a``
    (drawn with ``imshow`` in ``ax``) fits its cell once the figure is laid out; None when that
    is below ``min_size`` points. ``layout=False``: the figure was laid out since its last change."""
    a = np.asarray(a)
    fig = ax.get_figure()
    if layout:
        fig.draw_without_rendering()  # runs the constrained layout: the axes' final size
    pos = ax.get_position()
    cell_w = pos.width * fig.get_figwidth() * 72 / a.shape[1]  # points
    cell_h = pos.height * fig.get_figheight() * 72 / a.shape[0]
    chars = max(len(fmt.format(v)) for v in a.ravel())
    size = min(max_size, 0.8 * cell_w / (0.62 * chars), 0.7 * cell_h)  # a digit is about 0.6 em wide
    return size if size >= min_size else None


def annotate_cells(ax, a, fmt: str = "{:.2f}", max_size: float = 8, min_size: float = 5, layout: bool = True) -> bool:
    """Write each value of the 2-D array ``a`` (drawn with ``imshow`` in ``ax``) into its cell in the
    font :func:`cell_font_size` finds, black on light cells and white on dark ones. Writes nothing,
    and returns False, when the cells are too small (the caller says so in a title)."""
    a = np.asarray(a)
    size = cell_font_size(ax, a, fmt, max_size, min_size, layout)
    if size is None:
        return False
    image = ax.images[-1]
    rgba = image.cmap(image.norm(a.astype(np.float64)))
    light = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) > 0.5  # perceived brightness of each cell
    for (i, j), v in np.ndenumerate(a):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=size, color="black" if light[i, j] else "white")
    return True


def line_plot(series: dict, x=None, title="", xlabel="", ylabel="", logy=False, marks=None):
    """One line per entry of ``series``; ``marks`` ({x: y}) are drawn as reference points."""
    fig, ax = _plt().subplots(figsize=(7, 4), layout="constrained")
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
