"""What the layers compute for an input, caught with forward hooks: feature maps and per-layer
statistics of activations and gradients."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from ..validate import ConvlabError
from .figures import spread, subplots


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


def feature_map_grid(maps: dict, max_channels: int = 8, max_layers: int | None = 12, title: str = "feature maps"):
    """One row per layer: its first ``max_channels`` channels for the first input of the batch.
    Outputs of 1x1 pixels (after a global pool, one number per channel) are left out.

    With more than ``max_layers`` layers of 4-D output, ``max_layers`` of them spaced evenly from
    the first to the last are drawn (None: all). What is left out is stated: the title gives the
    layers shown of how many, each row's label the channels shown of how many.
    """
    four_d = [(n, a) for n, a in maps.items() if np.ndim(a) == 4]
    spatial = [(n, a) for n, a in four_d if a.shape[2] * a.shape[3] > 1]
    if not spatial:
        raise ConvlabError("feature_map_grid: no 4-D (N, C, H, W) feature maps larger than 1x1 to draw")
    pooled = len(four_d) - len(spatial)
    if max_layers is not None:
        spatial = [spatial[k] for k in spread(len(spatial), max_layers)]
    cols = max(min(a.shape[1], max_channels) for _, a in spatial)
    fig, axes = subplots(len(spatial), cols, figsize=(1.45 * cols + 2.6, 1.5 * len(spatial) + 0.9))
    for r, (name, a) in enumerate(spatial):
        shown = min(a.shape[1], cols)
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < shown:
                ax.imshow(a[0, c], cmap="viridis")
                ax.set_title(f"ch {c}", fontsize=7, pad=2)
            else:
                ax.axis("off")
        channels = f"all {shown} channels" if shown == a.shape[1] else f"{shown} of {a.shape[1]} channels"
        axes[r, 0].set_ylabel(f"{name}\n{'x'.join(map(str, a.shape[1:]))}\n{channels}", fontsize=7,
                              rotation=0, ha="right", va="center")
    if len(spatial) < len(four_d):
        why = [f"{pooled} with 1x1 outputs left out"] if pooled else []
        if len(spatial) + pooled < len(four_d):
            why.append(("the rest" if pooled else "") + " evenly spaced from the first to the last")
        title += f"\n(showing {len(spatial)} of {len(four_d)} layers: {', '.join(why).strip()})"
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


def statistics_figure(stats: list[dict], title: str = "per-layer statistics", max_rows: int = 60):
    """Three bar charts side by side, a row per layer: activation mean +- std, gradient std, dead
    ReLU fraction. With more than ``max_rows`` layers, ``max_rows`` of them spaced evenly from the
    first to the last are drawn, and the title says so."""
    total = len(stats)
    stats = [stats[k] for k in spread(total, max_rows)]
    names = [s["layer"] for s in stats]
    y = np.arange(len(names))
    fig, axes = subplots(1, 3, figsize=(15, 0.24 * len(names) + 2.0), sharey=True)
    axes = axes[0]
    axes[0].barh(y, [s["mean"] for s in stats], xerr=[s["std"] for s in stats], color="tab:blue", alpha=0.7)
    axes[0].set(title="activation mean +- std", xlabel="value")
    grad = [s["grad_std"] for s in stats]
    axes[1].barh(y, grad, color="tab:orange", alpha=0.8)
    if any(g > 0 for g in grad if not math.isnan(g)):
        axes[1].set_xscale("log")
    axes[1].set(title="gradient std at the layer's output", xlabel="std (log)")
    dead = [0.0 if math.isnan(s["dead_fraction"]) else s["dead_fraction"] for s in stats]
    axes[2].barh(y, dead, color="tab:red", alpha=0.8)
    axes[2].set(title="dead ReLU fraction (ReLU layers)", xlabel="fraction", xlim=(0, 1))
    axes[0].set_yticks(y, [f"{n} ({s['type']})" for n, s in zip(names, stats)], fontsize=7)
    axes[0].set_ylim(len(names) - 0.5, -0.5)  # the first layer on top
    if len(stats) < total:
        title += f"\n(showing {len(stats)} of {total} layers, evenly spaced from the first to the last)"
    fig.suptitle(title)
    return fig
