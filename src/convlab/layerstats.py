"""Per-layer activation and gradient statistics recorded while a model trains.

:class:`LayerStats` puts forward hooks on a model's layers. Every ``every``-th training forward
(counted by a hook on the model itself: a call in training mode with gradients enabled is one
step, so an ``evaluate()`` pass under ``no_grad`` is not counted) it records, per layer call:

* ``mean``, ``std`` -- of the layer's output over every element of the batch (``std`` is the
  population standard deviation, ``ddof=0``);
* ``zero_fraction`` (``ReLU``/``ReLU6`` layers only) -- the fraction of output elements that are
  exactly 0, i.e. of (example, unit) pairs where the ReLU is off;
* ``dead_fraction`` (``ReLU``/``ReLU6`` only) -- the fraction of units (one channel at one
  position, or one feature) whose output is 0 for every example of the batch: the dead ReLUs;
* ``grad_mean``, ``grad_std`` -- of d(loss)/d(output), taken by a :meth:`Tensor.register_hook`
  on the output when ``backward()`` reaches it;
* ``weight_grad_norm`` -- the L2 norm of this backward pass's gradient of the layer's ``weight``.

Values that do not apply (or a backward that never came) are ``None``. A module called several
times in one forward (a shared ``relu``) gives one record per call, labelled ``relu``,
``relu[2]``, ... as in :func:`convlab.viz.layer_statistics`.

>>> import convlab
>>> from convlab import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
>>> with LayerStats(model, every=1) as stats:
...     model(convlab.randn(16, 4)).sum().backward()
>>> [(r["layer"], r["grad_std"] is not None) for r in stats.records()]
[('0', True), ('1', True), ('2', True)]
"""

from __future__ import annotations

import os

import numpy as np

from .tensor import Tensor, is_grad_enabled
from .validate import ConvlabError

#: type names of the layers watched by default: convolutions, linear layers and activations
DEFAULT_KINDS = ("Conv", "Linear", "ReLU", "SiLU", "Hardswish", "Hardsigmoid", "Sigmoid", "Tanh", "GELU")
_ZERO_KINDS = ("ReLU", "ReLU6")  # outputs that are exactly 0 where the unit is off
FIELDS = ("step", "layer", "type", "shape", "mean", "std", "zero_fraction", "dead_fraction",
          "grad_mean", "grad_std", "weight_grad_norm")


def _moments(a) -> tuple[float, float]:
    a = np.asarray(a)
    return float(a.mean(dtype=np.float64)), float(a.std(dtype=np.float64))


def _host(t: Tensor) -> np.ndarray:
    from . import backend

    return backend.to_numpy(t._data)


class LayerStats:
    """Record per-layer statistics every ``every``-th training step (see the module docstring).

    Args:
        model: a :class:`convlab.nn.Module`; its own calls are the steps.
        every: record on steps ``every``, ``2 * every``, ... (steps are counted from 1 like
            ``Trainer.step``).
        layers: module names from ``model.named_modules()`` (default: every leaf convolution,
            linear layer and activation).
        weight_grads: also record the norm of each layer's weight gradient.
        steps: a callable returning the number of steps completed so far (``lambda: trainer.step``,
            which follows a resumed run); by default the recorder counts the training forwards itself.

    Use as a context manager, or call :meth:`close` to remove every hook.
    """

    def __init__(self, model, every: int = 50, layers=None, weight_grads: bool = True, steps=None):
        from .nn import Module
        from .viz import _named_layers

        if not isinstance(model, Module):
            raise TypeError(f"LayerStats: model must be a convlab.nn.Module, got {type(model).__name__}")
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ConvlabError(f"LayerStats: every must be a positive integer, got {every!r}")
        if steps is not None and not callable(steps):
            raise TypeError(f"LayerStats: steps must be a callable returning the completed step count, got {steps!r}")
        if isinstance(layers, str):
            layers = [layers]
        self.model, self.every, self.weight_grads = model, int(every), bool(weight_grads)
        self.layers = _named_layers(model, layers, kinds=DEFAULT_KINDS)
        if not self.layers:
            raise ConvlabError(f"LayerStats: {type(model).__name__} has no convolution, linear or activation "
                             "leaf module to watch; name the layers with layers=[...]")
        self.step, self._steps = 0, steps
        self._records: list[dict] = []
        self._active = False
        self._calls: dict[str, int] = {}
        self._pending: list = []  # this step's gradient-hook handles
        self._handles = [model.register_forward_pre_hook(self._begin)]
        self._handles += [m.register_forward_hook(lambda mod, inp, out, name=n: self._layer(name, mod, out))
                          for n, m in self.layers]
        self._handles.append(model.register_forward_hook(self._end))

    # ------------------------------------------------------------------ hooks
    def _begin(self, model, inputs):
        if not (model.training and is_grad_enabled()):
            self._active = False
            return None
        self.step = self.step + 1 if self._steps is None else int(self._steps()) + 1
        self._active = self.step % self.every == 0
        self._calls = {}
        self._drop_pending()
        return None

    def _end(self, model, inputs, output):
        self._active = False
        return None

    def _layer(self, name, module, out):
        if not self._active or not isinstance(out, Tensor):
            return None
        count = self._calls[name] = self._calls.get(name, 0) + 1
        a = _host(out)
        mean, std = _moments(a)
        rec = dict.fromkeys(FIELDS)
        rec.update(step=self.step, layer=name if count == 1 else f"{name}[{count}]", type=type(module).__name__,
                   shape=list(a.shape[1:]), mean=mean, std=std)
        if type(module).__name__ in _ZERO_KINDS:
            off = a == 0
            rec["zero_fraction"] = float(off.mean())
            rec["dead_fraction"] = float(off.all(axis=0).mean()) if a.ndim > 1 else float(off.all())
        if out.requires_grad:
            self._pending.append(out.register_hook(lambda g, rec=rec: self._grad(rec, g)))
            weight = getattr(module, "weight", None)
            if self.weight_grads and count == 1 and isinstance(weight, Tensor) and weight.requires_grad:
                self._pending.append(self._one_shot(weight, rec))
        self._records.append(rec)
        return None

    @staticmethod
    def _grad(rec, g):
        rec["grad_mean"], rec["grad_std"] = _moments(_host(g))

    def _one_shot(self, weight, rec):
        handle = None

        def hook(g):
            rec["weight_grad_norm"] = float(np.sqrt(np.sum(np.square(_host(g), dtype=np.float64))))
            handle.remove()  # the next backward of this step's weights (another step) is not ours

        handle = weight.register_hook(hook)
        return handle

    def _drop_pending(self):
        for h in self._pending:
            h.remove()
        self._pending = []

    # ------------------------------------------------------------------ results
    def records(self) -> list[dict]:
        """Copies of the records so far, in the order the layers ran (one dict per layer call per recorded step)."""
        return [dict(r) for r in self._records]

    def to_jsonl(self, path) -> str:
        """Write the records to ``path``, one JSON object a line, atomically (temporary file + rename)."""
        from .train.logs import write_jsonl

        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return write_jsonl(self._records, path)

    def close(self) -> None:
        """Remove every hook this recorder put on the model, its layers and pending gradients."""
        for h in self._handles:
            h.remove()
        self._handles = []
        self._drop_pending()
        self._active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self) -> str:
        return (f"LayerStats(every={self.every}, layers={[n for n, _ in self.layers]}, step={self.step}, "
                f"records={len(self._records)})")


def save_to_run(records, out_dir, title: str = "per-layer statistics during training") -> tuple[str, str] | None:
    """Write ``layer_stats.jsonl`` and ``layer_stats.png`` into the run directory ``out_dir``.

    ``records`` is a list or a :class:`LayerStats`. Records of an existing ``layer_stats.jsonl``
    from steps before the first new one are kept (a resumed run continues its file). Returns the
    two paths, or None when there is nothing to write."""
    records = records.records() if isinstance(records, LayerStats) else list(records)
    if not records:
        return None
    from .train.logs import read_jsonl, write_jsonl

    jsonl = os.path.join(out_dir, "layer_stats.jsonl")
    if os.path.exists(jsonl):
        first = min(r["step"] for r in records)
        records = [r for r in read_jsonl(jsonl) if r["step"] < first] + records
    os.makedirs(out_dir, exist_ok=True)
    return write_jsonl(records, jsonl), plot_layer_stats(records, os.path.join(out_dir, "layer_stats.png"), title)


def _series(records, key):
    """``{layer: (steps, values)}`` of one field, skipping records where it is None."""
    out: dict[str, tuple[list, list]] = {}
    for r in records:
        v = r.get(key)
        if v is not None:
            steps, vals = out.setdefault(r["layer"], ([], []))
            steps.append(r["step"])
            vals.append(v)
    return out


def format_table(records, step: int | None = None) -> str:
    """A text table of one recorded step (default: the last) -- one line per layer call."""
    records = list(records)
    if not records:
        return "no layer statistics recorded"
    step = max(r["step"] for r in records) if step is None else step
    rows = [r for r in records if r["step"] == step]
    if not rows:
        raise ConvlabError(f"format_table: no records at step={step!r}")

    def f(v, spec):
        return format(v, spec) if v is not None else format("-", ">" + spec.split(".")[0])

    lines = [f"layer statistics at step {step}",
             f"{'layer':18s} {'type':10s} {'mean':>10s} {'std':>10s} {'dead':>6s} {'grad std':>10s} {'|dW|':>10s}"]
    for r in rows:
        lines.append(f"{r['layer'][:18]:18s} {r['type'][:10]:10s} {f(r['mean'], '10.4f')} {f(r['std'], '10.4f')} "
                     f"{f(r['dead_fraction'], '6.3f')} {f(r['grad_std'], '10.3e')} {f(r['weight_grad_norm'], '10.3e')}")
    return "\n".join(lines)


def plot_layer_stats(records, path, title: str = "per-layer statistics during training") -> str:
    """Activation std, gradient std (both on log axes) and dead-ReLU fraction of each layer over
    the recorded steps, written to ``path`` (PNG) atomically. ``records`` is a list of records or
    the path of a JSONL file written by :meth:`LayerStats.to_jsonl`."""
    from .viz import _plt, save_figure

    if isinstance(records, (str, os.PathLike)):
        from .train.logs import read_jsonl

        records = read_jsonl(records)
    records = list(records)
    if not records:
        raise ConvlabError("plot_layer_stats: records is empty (was anything recorded? check every= and model.train())")
    plt = _plt()
    layers = list(dict.fromkeys(r["layer"] for r in records))
    cmap = plt.get_cmap("tab10" if len(layers) <= 10 else "viridis")
    colors = {name: cmap(i if len(layers) <= 10 else i / (len(layers) - 1)) for i, name in enumerate(layers)}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
    panels = (("std", "activation std", "std (log)"), ("grad_std", "gradient std at the layer output", "std (log)"),
              ("dead_fraction", "dead ReLU fraction (zero for the whole batch)", "fraction"))
    for ax, (key, label, ylabel) in zip(axes, panels):
        series = _series(records, key)
        for name, (steps, vals) in series.items():
            ax.plot(steps, vals, "o-" if len(steps) < 30 else "-", ms=3, color=colors[name], label=name)
        if key != "dead_fraction" and any(v > 0 for _, vals in series.values() for v in vals):
            ax.set_yscale("log")
        if key == "dead_fraction":
            ax.set_ylim(-0.03, 1.03)
            if not series:
                ax.text(0.5, 0.5, "no ReLU layer watched", ha="center", va="center", transform=ax.transAxes)
        ax.set(title=label, xlabel="step", ylabel=ylabel)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, title="layer",
               ncols=max(1, -(-len(labels) // 24)))  # at most 24 names a column
    fig.suptitle(title)
    return save_figure(fig, path)
