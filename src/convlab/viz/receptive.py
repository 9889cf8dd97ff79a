"""The input pixels that reach one output pixel, found from the gradient, drawn over the image."""

from __future__ import annotations

import numpy as np

from ..validate import ConvlabError
from .activations import _named_layers, _record_calls
from .figures import subplots


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
    from matplotlib.patches import Rectangle

    fig, axes = subplots(1, len(fields), figsize=(4 * len(fields) + 1, 4.6))
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
    return fig
