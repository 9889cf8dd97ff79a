"""Pictures of what a convolutional network computes (matplotlib, Agg backend, files only).

* :func:`kernel_grid` -- the kernels of a conv layer, one cell per (output, input) channel pair,
  or one RGB picture per output channel for 3-channel inputs;
* :func:`capture_feature_maps` / :func:`feature_map_grid` -- the outputs of chosen layers for an
  input, captured with forward hooks;
* :func:`layer_statistics` / :func:`statistics_figure` -- per layer mean and std of activations
  and of their gradients, and the fraction of dead ReLUs;
* :func:`im2col_figure` -- seed 001's point: the convolution is one matrix product once the
  patches are unrolled into the rows of a matrix (drawn from convlab's own ``im2col``);
* :func:`receptive_field` / :func:`receptive_field_panels` -- the input pixels that reach one
  output pixel, found from the gradient, drawn over the image;
* building blocks the demos share: :func:`image_panels`, :func:`kernel_panels`,
  :func:`line_plot` and :func:`save_figure` (atomic PNG writes).
"""

from __future__ import annotations

import math
import pathlib
from collections import OrderedDict

import numpy as np

from .validate import ConvlabError


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int = 110) -> str:
    """Write ``fig`` to ``path`` atomically (temporary file + rename) and close it."""
    from .files import save_figure_bytes

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


# ------------------------------------------------------------------ kernels of a layer
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
    plt = _plt()
    full = _weight(layer)
    w = full[:max_out]
    o, i = w.shape[:2]
    if rgb is None:
        rgb = i == 3
    if rgb:
        if i != 3:
            raise ConvlabError(f"kernel_grid: rgb=True needs 3 input channels, got {i}")
        rows, cols = _grid(o, min(o, 8))
        fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols + 0.5, 1.3 * rows + 0.8), squeeze=False)
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
        fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 1.2, 1.1 * rows + 0.8), squeeze=False)
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
    if (o, i) != full.shape[:2]:
        title += f"\n(showing {o} of {full.shape[0]} outputs x {i} of {full.shape[1]} inputs)"
    fig.suptitle(title)
    return fig


# ------------------------------------------------------------------ hooks: maps and statistics
def _as_batch(x, model):
    """``x`` as a tensor in the dtype of the model's parameters (float32 when it has none)."""
    import convlab

    if isinstance(x, convlab.Tensor):
        return x
    dtype = next((p.dtype for p in model.parameters()), np.float32)
    return convlab.tensor(np.asarray(x, dtype=dtype))


def _named_layers(model, layers=None, kinds=("Conv", "ReLU", "Pool", "Linear", "BatchNorm")):
    named = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    if layers is not None:
        wanted = list(layers)
        missing = [n for n in wanted if n not in dict(named)]
        if missing:
            raise ConvlabError(f"no layer named {missing}; layers: {[n for n, _ in named]}")
        return [(n, dict(named)[n]) for n in wanted]
    return [(n, m) for n, m in named if any(k in type(m).__name__ for k in kinds)]


def _record_calls(model, chosen, keep):
    """Forward hooks on ``chosen`` that call ``keep(label, module, output)`` once per call; a
    module used several times in one forward (LeNet's shared ``act``) is labelled ``act[1]``, ``act[2]``, ..."""
    counts = {}

    def hook(module, inp, out, name):
        counts[name] = counts.get(name, 0) + 1
        keep(name if counts[name] == 1 else f"{name}[{counts[name]}]", module, out)

    return [m.register_forward_hook(lambda mod, inp, out, name=n: hook(mod, inp, out, name)) for n, m in chosen]


def capture_feature_maps(model, x, layers=None) -> OrderedDict:
    """``{layer name: output array}`` for one forward pass, captured with forward hooks.

    ``layers`` lists module names (``model.named_modules()``); by default every conv, ReLU,
    pooling, batch-norm and linear leaf module. A module called twice appears twice.
    """
    import convlab

    maps = OrderedDict()
    handles = _record_calls(model, _named_layers(model, layers),
                            lambda label, mod, out: maps.__setitem__(label, out.detach().numpy()))
    try:
        with convlab.no_grad():
            model(_as_batch(x, model))
    finally:
        for h in handles:
            h.remove()
    return maps


def feature_map_grid(maps: dict, max_channels: int = 8, title: str = "feature maps"):
    """One row per layer: its first ``max_channels`` channels for the first input of the batch."""
    plt = _plt()
    spatial = [(n, a) for n, a in maps.items() if np.ndim(a) == 4]
    if not spatial:
        raise ConvlabError("feature_map_grid: no 4-D (N, C, H, W) feature maps to draw")
    cols = max(min(a.shape[1], max_channels) for _, a in spatial)
    fig, axes = plt.subplots(len(spatial), cols, figsize=(1.5 * cols + 1.5, 1.6 * len(spatial) + 0.8), squeeze=False)
    for r, (name, a) in enumerate(spatial):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < a.shape[1]:
                ax.imshow(a[0, c], cmap="viridis")
                ax.set_title(f"ch {c}", fontsize=7)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(f"{name}\n{tuple(a.shape[1:])}", fontsize=7)
    fig.suptitle(title)
    return fig


def layer_statistics(model, x, target=None, loss_fn=None, layers=None) -> list[dict]:
    """Per layer: mean/std of its output and of the loss gradient at that output, and for ReLUs
    the fraction of dead units (output zero for every input of the batch).

    The loss is ``loss_fn(model(x), target)``; by default cross-entropy against ``target`` or,
    without one, against the model's own predictions. Run it on a batch during training to watch
    activations and gradients layer by layer.
    """
    from convlab import functional as F

    calls = []

    def keep(label, module, out):
        if getattr(out, "requires_grad", False):
            out.retain_grad()
        calls.append((label, module, out))

    handles = _record_calls(model, _named_layers(model, layers), keep)
    try:
        logits = model(_as_batch(x, model))
    finally:
        for h in handles:
            h.remove()
    if target is None:
        target = logits.detach().numpy().argmax(axis=1)
    import convlab

    target = target if isinstance(target, convlab.Tensor) else convlab.tensor(np.asarray(target, dtype=np.int64))
    loss = (loss_fn or F.cross_entropy)(logits, target)
    model.zero_grad()
    loss.backward()
    stats = []
    for name, module, out in calls:
        a = out.detach().numpy()
        g = out.grad.numpy() if out.grad is not None else None
        row = {"layer": name, "type": type(module).__name__, "shape": tuple(a.shape[1:]),
               "mean": float(a.mean()), "std": float(a.std()),
               "grad_mean": float(g.mean()) if g is not None else float("nan"),
               "grad_std": float(g.std()) if g is not None else float("nan"), "dead_fraction": float("nan")}
        if "ReLU" in type(module).__name__:
            row["dead_fraction"] = float(np.mean(np.all(a <= 0, axis=0)))
        stats.append(row)
    return stats


def statistics_figure(stats: list[dict], title: str = "per-layer statistics"):
    plt = _plt()
    names = [s["layer"] for s in stats]
    y = np.arange(len(names))
    fig, axes = plt.subplots(1, 3, figsize=(14, 0.35 * len(names) + 2.2), sharey=True)
    axes[0].barh(y, [s["mean"] for s in stats], xerr=[s["std"] for s in stats], color="tab:blue", alpha=0.7)
    axes[0].set(title="activation mean +- std", xlabel="value")
    axes[1].barh(y, [s["grad_std"] for s in stats], color="tab:orange", alpha=0.8)
    axes[1].set(title="gradient std at the layer's output", xlabel="std (log)", xscale="log")
    dead = [0.0 if math.isnan(s["dead_fraction"]) else s["dead_fraction"] for s in stats]
    axes[2].barh(y, dead, color="tab:red", alpha=0.8)
    axes[2].set(title="dead ReLU fraction (ReLU layers)", xlabel="fraction", xlim=(0, 1))
    axes[0].set_yticks(y, [f"{n} ({s['type']})" for n, s in zip(names, stats)], fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ im2col
def im2col_matrix(x, kernel_size, stride=1, padding=0) -> np.ndarray:
    """convlab's own ``im2col`` of ``x`` ``(N, C, H, W)`` laid out as seed 001's
    ``(N * Ho * Wo, C * kh * kw)`` matrix: one row per output position, one column per weight."""
    from . import shapes
    from .ops.conv import im2col

    x = np.asarray(x, dtype=np.float64)
    k = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    w_shape = (1, x.shape[1]) + tuple(k)
    geom = shapes.conv_geometry("im2col_matrix", x.shape, w_shape, stride=stride, padding=padding)
    col = im2col(x, geom)  # (C, kh, kw, N, Ho, Wo)
    return col.reshape(x.shape[1] * k[0] * k[1], -1).T.copy()


def im2col_figure(x=None, weight=None, stride=1, padding=0):
    """Seed 001's im2col picture: input, the unrolled patch matrix, the weights as a column and
    ``patches @ weights`` reshaped -- equal to ``conv2d``. Returns ``(figure, max |difference|)``."""
    import convlab
    from convlab import functional as F

    plt = _plt()
    x = np.random.default_rng(1).integers(0, 10, (1, 1, 5, 5)).astype(np.float64) if x is None else np.asarray(x, np.float64)
    weight = np.array([[[[1.0, 0, -1], [1, 0, -1], [1, 0, -1]]]]) if weight is None else np.asarray(weight, np.float64)
    kh, kw = weight.shape[-2:]
    cols = im2col_matrix(x, (kh, kw), stride, padding)
    prod = cols @ weight.reshape(weight.shape[0], -1).T
    with convlab.no_grad():
        y = F.conv2d(convlab.tensor(x), convlab.tensor(weight), stride=stride, padding=padding).numpy()
    out = prod.reshape(x.shape[0], y.shape[2], y.shape[3], -1).transpose(0, 3, 1, 2)
    err = float(np.abs(out - y).max())
    fig, axes = plt.subplots(1, 4, figsize=(16, 5), gridspec_kw={"width_ratios": [1.2, 1.6, 0.35, 1.2]})
    panels = [(x[0, 0], f"input x ({x.shape[2]}x{x.shape[3]})", "viridis"),
              (cols, f"im2col: {cols.shape[0]} patches x {cols.shape[1]} weights", "viridis"),
              (weight.reshape(-1, 1)[: cols.shape[1]], "weights\n(column)", "RdBu_r"),
              (out[0, 0], "patches @ weights\n(reshaped = conv2d)", "RdBu_r")]
    for ax, (a, title, cmap) in zip(axes, panels):
        sym = float(np.abs(a).max()) or 1.0
        im = ax.imshow(a, cmap=cmap, aspect="auto", vmin=-sym if cmap == "RdBu_r" else None,
                       vmax=sym if cmap == "RdBu_r" else None)
        if a.size <= 400:
            for (i, j), v in np.ndenumerate(a):
                ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=7, color="k")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(a.shape[1]) if a.shape[1] > 1 else [])
        ax.set_yticks(range(a.shape[0]))
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    axes[1].set(xlabel="kernel entry (c, i, j)", ylabel="output position")
    fig.suptitle(f"convolution as one matrix product (seed 001); max |im2col - conv2d| = {err:.1e}")
    fig.tight_layout()
    return fig, err


# ------------------------------------------------------------------ receptive field
def receptive_field(model, x, layer: str | None = None, out_pos=None, channel: int = 0) -> np.ndarray:
    """``|d y[channel, out_pos] / d x|`` summed over input channels: the input pixels that reach
    one output pixel, shape ``x``'s ``(H, W)``.

    ``model``: a module or a list of callables applied in turn; ``x``: an input array
    ``(1, C, H, W)`` (its float dtype is kept; match the model's) or just its shape (then a random
    float64 input: a zero input would hide the paths through ReLUs). ``layer`` names a module
    whose output is used instead of the model's (caught with a forward hook); ``out_pos``
    defaults to the centre of that output.
    """
    import convlab

    if isinstance(x, tuple):
        x = np.random.default_rng(0).normal(size=x)  # float64, like ``.double()`` layers
    x = np.asarray(x)
    xt = convlab.tensor(x if x.dtype.kind == "f" else x.astype(np.float32), requires_grad=True)
    layers = model if isinstance(model, (list, tuple)) else [model]
    caught, handles = [], []
    if layer is not None:
        chosen = _named_layers(model, [layer])
        handles = _record_calls(model, chosen, lambda label, mod, out: caught.append(out))
    try:
        y = xt
        for f in layers:
            y = f(y)
    finally:
        for h in handles:
            h.remove()
    if layer is not None:
        y = caught[0]
    if y.ndim != 4:
        raise ConvlabError(f"receptive_field: the output must be (N, C, H, W), got {y.shape}")
    i, j = out_pos if out_pos is not None else (y.shape[2] // 2, y.shape[3] // 2)
    seed = np.zeros(y.shape, dtype=y.dtype)
    seed[0, channel, i, j] = 1.0
    y.backward(seed)
    return np.abs(xt.grad.numpy()[0]).sum(axis=0)


def receptive_field_panels(image, fields, boxes, titles, suptitle=None):
    """Each field (``|gradient|``) drawn over ``image`` with the formula's box (top, left, h, w)."""
    plt = _plt()
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, len(fields), figsize=(4 * len(fields) + 1, 4.6), squeeze=False)
    for ax, field, box, title in zip(axes.flat, fields, boxes, titles):
        ax.imshow(image, cmap="gray")
        masked = np.ma.masked_where(field == 0, field)
        im = ax.imshow(masked, cmap="hot", alpha=0.75)
        if box is not None:
            top, left, h, w = box
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, ec="cyan", lw=1.5))
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="|d out / d in|")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
