"""Model inspection: per-layer summaries with receptive fields, shape traces that explain failures.

:func:`summary` runs one dummy forward pass (batch 1, zeros, eval mode, no gradients) with
forward hooks on every module and reports, per layer: output shape, parameters (trainable and
not), multiply-accumulates, and the **receptive field** with its **jump**. :func:`trace` is the
same walk; when a shape fails anywhere it raises :class:`ShapeError` showing the per-layer trace
up to the failing layer, the arithmetic that failed, and the smallest input that works, which
:func:`min_input_size` finds.

Receptive field arithmetic (per spatial axis). A layer with kernel ``k``, stride ``s`` and
dilation ``d`` turns the field ``r`` and jump ``j`` (input pixels between neighbouring outputs,
the product of the strides so far) of its input into::

    r_out = r + d(k - 1) * j        j_out = j * s

Element-wise layers keep both; a global pool (or a flatten) sees the whole map,
``r + (H - 1) * j``. Where branches meet (a residual sum, an Inception concat) the field is the
largest of the branches. Only modules are seen: values computed by functions between modules
(``relu(out + x)``) get the largest field of the enclosing module's inputs and finished layers,
which is exact for the usual residual, dense and inception blocks. A squeeze-and-excitation
gate multiplies every pixel by a function of the whole map, so after one the field is global.

Counting conventions: multiply-accumulates are those of convolutions and linear layers (the
weights); normalisation, activations and pooling are not counted. Activation memory is the sum
of every leaf layer's output; "forward/backward" doubles it for the gradients, as torchinfo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from . import nn, validate
from .shapes import _conv_pads
from .tensor import Tensor, no_grad, zeros
from .validate import ConvlabError

__all__ = ["Layer", "Summary", "ShapeError", "summary", "trace", "min_input_size"]


# --------------------------------------------------------------------------- records
@dataclass
class Layer:
    """One call of a module during the dummy forward pass.

    ``rf``/``jump`` are per spatial axis (``None`` when unknown); ``repeat`` marks a module
    called again (its parameters are counted at its first call only).
    """

    name: str
    type: str
    input_shape: tuple
    output_shape: tuple | None
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0
    rf: tuple | None = None
    jump: tuple | None = None
    output_bytes: int = 0
    repeat: bool = False

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


def _si(n: float) -> str:
    """``416520`` -> ``"0.417 M"``, ``1.8e9`` -> ``"1.8 G"``: three significant figures in the unit that fits."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale / 10:
            return f"{n / scale:.3g} {unit}"
    return f"{n:g}"


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _axes(t) -> str:
    """(7, 7) -> '7', (7, 5) -> '7x5', None -> '-'."""
    if t is None:
        return "-"
    vals = [int(v) if float(v).is_integer() else round(v, 2) for v in t]
    return str(vals[0]) if len(set(vals)) == 1 else "x".join(str(v) for v in vals)


def _table(header, rows, right_from: int | None = None) -> list[str]:
    """Aligned text table; columns from ``right_from`` on are right-aligned (numbers)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    numeric = [right_from is not None and i >= right_from for i in range(len(header))]

    def fmt(r):
        return "  ".join(str(v).rjust(w) if num else str(v).ljust(w) for v, w, num in zip(r, widths, numeric)).rstrip()
    line = "-" * len(fmt(header))
    return [fmt(header), line, *[fmt(r) for r in rows], line]


@dataclass
class Summary:
    """What :func:`summary` found; ``str(summary)`` (or ``print``) gives the table."""

    model: str
    input_shape: tuple
    output_shape: tuple
    layers: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    buffers: int = 0
    total_macs: int = 0
    input_bytes: int = 0
    activation_bytes: int = 0
    params_bytes: int = 0

    @property
    def forward_backward_bytes(self) -> int:
        """Activations kept for backward plus their gradients: twice the forward activations."""
        return 2 * self.activation_bytes

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.forward_backward_bytes + self.params_bytes

    def __str__(self) -> str:
        header = ("Layer", "Type", "Output shape", "Params", "Non-trainable", "MACs", "RF", "Jump")
        rows = []
        for L in self.layers:
            params = "(repeat)" if L.repeat else f"{L.trainable:,}"
            frozen = "" if L.repeat else f"{L.non_trainable:,}"
            rows.append((L.name, L.type, str(L.output_shape), params, frozen, f"{L.macs:,}", _axes(L.rf), _axes(L.jump)))
        out = [f"{self.model}: input {self.input_shape} -> output {self.output_shape}"]
        out += _table(header, rows, right_from=3)
        out += [
            f"Total params: {self.total_params:,} (trainable {self.trainable_params:,}, "
            f"non-trainable {self.non_trainable_params:,}); buffers: {self.buffers:,}",
            f"Multiply-accumulates: {self.total_macs:,} ({_si(self.total_macs)})",
            f"Input: {_human_bytes(self.input_bytes)}; activations, forward: {_human_bytes(self.activation_bytes)}, "
            f"forward/backward: {_human_bytes(self.forward_backward_bytes)}; params and buffers: "
            f"{_human_bytes(self.params_bytes)}; estimated total: {_human_bytes(self.total_bytes)}",
        ]
        return "\n".join(out)

    __repr__ = __str__


class ShapeError(ValueError):
    """A forward pass failed on shapes. ``layers`` is the trace up to the failure, ``failed``
    the failing :class:`Layer` (``output_shape`` None), ``explanation`` the arithmetic that
    failed and ``min_size`` the smallest square input that works (``None`` if unknown)."""

    def __init__(self, message, layers, failed, explanation, min_size):
        super().__init__(message)
        self.layers, self.failed, self.explanation, self.min_size = layers, failed, explanation, min_size


# --------------------------------------------------------------------------- receptive fields
def _pair(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _spatial(shape, nsp):
    return tuple(shape[2:]) if shape is not None and len(shape) == nsp + 2 else None


class _RF(NamedTuple):
    """Field ``r`` and jump ``j`` per axis of a tensor whose spatial size is ``at`` (None: not a map)."""

    r: tuple
    j: tuple
    at: tuple | None


def _merge(rfs, at=None):
    """Where branches meet: the largest field; the jump of the branches that have the result's
    size ``at`` (a 1x1 gate broadcast over a map, as in squeeze-excitation, keeps the map's jump)."""
    rfs = [f for f in rfs if f is not None]
    if not rfs:
        return None
    n = min(len(f.r) for f in rfs)
    same = [f for f in rfs if at is not None and f.at == tuple(at)] or rfs
    return _RF(tuple(max(f.r[i] for f in rfs) for i in range(n)), tuple(max(f.j[i] for f in same) for i in range(n)),
               tuple(at) if at is not None else same[0].at)


def _leaf_rf(m, rf, in_size, out_size):
    """Field and jump after leaf module ``m`` (see the module docstring)."""
    if rf is None:
        return None
    r, j = rf.r, rf.j
    if in_size is None:
        return _RF(r, j, out_size)  # not a spatial map any more: the field was fixed when it stopped being one
    if out_size is None:  # flatten & co: every output sees the whole map
        return _RF(tuple(ri + (h - 1) * ji for ri, ji, h in zip(r, j, in_size)), tuple(ji * h for ji, h in zip(j, in_size)),
                   None)
    n = len(in_size)
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
        k, s = _pair(m.kernel_size, n), _pair(m.stride, n)
        d = _pair(getattr(m, "dilation", 1), n)
    elif isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        # window of output i: rows floor(i*H/O) .. ceil((i+1)*H/O): about ceil(H/O) wide, H/O apart
        k = tuple(-(-h // o) for h, o in zip(in_size, out_size))
        s, d = tuple(max(h // o, 1) for h, o in zip(in_size, out_size)), (1,) * n
    elif isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        k, s, d = _pair(m.kernel_size, n), _pair(m.stride, n), _pair(m.dilation, n)
        j = tuple(ji / si for ji, si in zip(j, s))  # outputs are 1/s input pixels apart
        return _RF(tuple(ri + di * (ki - 1) * ji for ri, di, ki, ji in zip(r, d, k, j)), j, tuple(out_size))
    elif tuple(in_size) != tuple(out_size):  # an unknown resampling (e.g. a strided slice): jump by the ratio
        return _RF(r, tuple(ji * -(-h // o) for ji, h, o in zip(j, in_size, out_size)), tuple(out_size))
    else:
        return _RF(r, j, tuple(out_size))
    return _RF(tuple(ri + di * (ki - 1) * ji for ri, di, ki, ji in zip(r, d, k, j)),
               tuple(ji * si for ji, si in zip(j, s)), tuple(out_size))


# --------------------------------------------------------------------------- the hooked run
def _tensors(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _shape_of(obj):
    ts = list(_tensors(obj))
    if len(ts) == 1:
        return tuple(ts[0].shape)
    return tuple(tuple(t.shape) for t in ts) if ts else None


@dataclass
class _Frame:
    module: object
    name: str
    args: tuple
    in_rf: _RF | None
    seen: list = field(default_factory=list)  # fields of the layers finished inside this call


class _Tracer:
    """Hooks on every module of ``model``; records leaf layers and the stack of open calls."""

    def __init__(self, model, nsp: int, record: bool = True):
        self.model, self.nsp, self.record = model, nsp, record
        self.names = {}
        for name, m in model.named_modules():
            self.names.setdefault(id(m), name or type(model).__name__)
        self.rf_of: dict[int, tuple] = {}  # id(tensor) -> (tensor, _RF); the tensor is kept alive so ids stay unique
        self.stack: list[_Frame] = []
        self.layers: list[Layer] = []
        self.called: set[int] = set()
        self.handles = []

    def __enter__(self):
        for m in self.model.modules():
            self.handles.append(m.register_forward_pre_hook(self._pre))
            self.handles.append(m.register_forward_hook(self._post))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        return False

    def _pre(self, module, args):
        at = _spatial(_shape_of(args), self.nsp)
        known = [self.rf_of[id(t)][1] for t in _tensors(args) if id(t) in self.rf_of]
        if known:
            in_rf = _merge(known, at)
        elif self.stack:  # made by a function inside the enclosing module: its inputs and finished layers
            top = self.stack[-1]
            in_rf = _merge([top.in_rf, *top.seen], at)
        else:  # the model's input
            in_rf = _RF((1,) * self.nsp, (1,) * self.nsp, at)
        self.stack.append(_Frame(module, self.names.get(id(module), type(module).__name__), args, in_rf))

    def _post(self, module, args, output):
        frame = self.stack.pop()
        leaf = next(iter(module.children()), None) is None
        out_shape = _shape_of(output)
        at = _spatial(out_shape, self.nsp)
        if leaf:
            out_rf = _leaf_rf(module, frame.in_rf, _spatial(_shape_of(args), self.nsp), at)
        else:
            out_rf = _merge([frame.in_rf, *frame.seen], at)
        for t in _tensors(output):
            self.rf_of[id(t)] = (t, out_rf)
        if self.stack and out_rf is not None:
            self.stack[-1].seen.append(out_rf)
        own = list(module.parameters(recurse=False))
        if self.record and (leaf or own):
            repeat = id(module) in self.called
            self.called.add(id(module))
            row = Layer(frame.name, type(module).__name__, _shape_of(args), out_shape, repeat=repeat,
                        rf=out_rf.r if out_rf else None, jump=out_rf.j if out_rf else None,
                        macs=_macs(module, args, output),
                        output_bytes=sum(t._data.nbytes for t in _tensors(output)) if leaf else 0)
            if not repeat:
                row.trainable = sum(p.numel() for p in own if p.requires_grad)
                row.non_trainable = sum(p.numel() for p in own if not p.requires_grad)
            self.layers.append(row)


def _macs(m, args, output) -> int:
    """Multiply-accumulates of a convolution or linear layer for this call (0 for other layers)."""
    outs = list(_tensors(output))
    if not outs:
        return 0
    out = outs[0]
    w = getattr(m, "weight", None)
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        x = next(_tensors(args))  # every input pixel scatters a (out/groups) x k window
        return x.numel() * math.prod(w.shape[1:])
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return out.numel() * math.prod(w.shape[1:])  # each output: in/groups x kernel products
    if isinstance(m, nn.Linear):
        return out.numel() * m.in_features
    return 0


# --------------------------------------------------------------------------- failure arithmetic
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


# --------------------------------------------------------------------------- running
class _EvalMode:
    """Eval mode for the dummy pass, each module's own mode restored afterwards."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()

    def __exit__(self, *exc):
        for m, mode in self.modes:
            object.__setattr__(m, "training", mode)
        return False


def _dummy(model, shape):
    """Zeros (no draw from the library RNG) in the dtype and on the device of the model's parameters."""
    p = next(iter(model.parameters()), None)
    x = zeros(*shape, dtype=p.dtype if p is not None and p.dtype.kind == "f" else None)
    return x if p is None or p.device == "cpu" else x.to(p.device)


def _attempt(model, shape, record=True):
    """Run the hooked forward pass. Returns (tracer, input, output, error)."""
    nsp = len(shape) - 2
    tracer = _Tracer(model, nsp, record)
    x = _dummy(model, shape)
    with _EvalMode(model), no_grad(), tracer:
        try:
            out = model(x)
        except ValueError as exc:  # shape errors of convlab's ops and NumPy's are ValueErrors
            return tracer, x, None, exc
    return tracer, x, out, None


def _per_sample(input_shape) -> tuple:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) < 2 or any(v < 1 for v in shape):
        raise ConvlabError(f"input_shape must be (channels, *spatial) with positive sizes, e.g. (3, 224, 224); got {input_shape}")
    return shape


_SHOWN = 40  # trace rows printed before the failing layer


def _fail(model, shape, tracer, exc):
    """Build the ShapeError for a failed attempt."""
    nsp = len(shape) - 2
    frame = tracer.stack[-1] if tracer.stack else None
    failed = Layer(frame.name if frame else type(model).__name__, type(frame.module if frame else model).__name__,
                   _shape_of(frame.args) if frame else shape, None)
    kind, lines = _explain(frame, nsp, tracer.layers) if frame else ("other", [])
    best = None
    if kind == "channels":
        hint = "the input size is not the problem: change the number of input channels"
    else:
        try:
            best = min_input_size(model, in_channels=shape[1], spatial_dims=nsp)
            hint = f"smallest input that works: {shape[1]}x{'x'.join(str(v) for v in best)} (convlab.inspect.min_input_size)"
        except ValueError as why:
            hint = f"no square input size works either ({why})"
    rows = [(L.name, L.type, str(L.input_shape), str(L.output_shape)) for L in tracer.layers[-_SHOWN:]]
    if len(tracer.layers) > _SHOWN:
        rows.insert(0, (f"... {len(tracer.layers) - _SHOWN} earlier layers (ShapeError.layers has all)", "", "", ""))
    rows.append((f"> {failed.name}", failed.type, str(failed.input_shape), "FAILED"))
    msg = [f"{type(model).__name__} fails on input {shape} at layer '{failed.name}' ({failed.type}):"]
    msg += ["  " + r for r in _table(("Layer", "Type", "Input shape", "Output shape"), rows)]
    msg += [f"what failed: {line}" for line in lines]
    msg += [f"error: {exc}", hint]
    return ShapeError("\n".join(msg), tracer.layers, failed, lines, best)


def trace(model, input_shape, batch_size: int = 1) -> list:
    """Run ``model`` on a dummy ``(batch_size, *input_shape)`` input and return its leaf layers in call order.

    Each :class:`Layer` has the name, type, input and output shape. When a shape fails anywhere,
    raises :class:`ShapeError` whose message is the trace up to the failing layer (marked
    ``>``), the arithmetic that failed (padded size, effective kernel ``d(k-1)+1``, floor or
    ceil) and the smallest square input that works.

    >>> import convlab.models as models
    >>> trace(models.lenet5(), (1, 32, 32))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convlab.inspect.ShapeError: LeNet5 fails on input (1, 1, 32, 32) at layer 'fc1' (Linear):
    ...
    """
    shape = (int(batch_size), *_per_sample(input_shape))
    tracer, _, _, exc = _attempt(model, shape)
    if exc is not None:
        raise _fail(model, shape, tracer, exc) from exc
    return tracer.layers


def summary(model, input_shape, batch_size: int = 1) -> Summary:
    """Per-layer table of ``model`` on an input of ``input_shape`` (``(C, H, W)``, no batch axis).

    Per leaf layer: output shape, trainable and non-trainable parameters, multiply-accumulates,
    receptive field and jump; totals and the activation memory of one forward/backward pass
    (see the module docstring for the conventions). The model runs once in eval mode under
    ``no_grad`` on zeros; its training flags are restored. Shape failures raise :class:`ShapeError`.

    >>> import convlab.models as models
    >>> s = summary(models.lenet5(), (1, 28, 28))
    >>> s.total_params, s.layers[0].rf, s.layers[-1].output_shape
    (61706, (5, 5), (1, 10))
    """
    shape = (int(batch_size), *_per_sample(input_shape))
    tracer, x, out, exc = _attempt(model, shape)
    if exc is not None:
        raise _fail(model, shape, tracer, exc) from exc
    params = list(model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    bufs = list(model.buffers())
    return Summary(
        model=type(model).__name__,
        input_shape=shape,
        output_shape=_shape_of(out),
        layers=tracer.layers,
        total_params=total,
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        buffers=sum(b.numel() for b in bufs),
        total_macs=sum(L.macs for L in tracer.layers),
        input_bytes=x._data.nbytes,
        activation_bytes=sum(L.output_bytes for L in tracer.layers),
        params_bytes=sum(p._data.nbytes for p in params) + sum(b._data.nbytes for b in bufs),
    )


MAX_UPWARD_TRIES = 64  # sizes tried one by one above the first that is not too small


def min_input_size(model, in_channels: int | None = None, *, spatial_dims: int = 2, max_size: int = 4096) -> tuple:
    """Smallest square (cubic, ...) input ``model`` accepts, as a tuple of sizes, e.g. ``(15, 15)``.

    Runs the model (batch of one, eval mode) on trial sizes. A failure is classified by the
    arithmetic of the failing layer: *too small* (a window larger than its padded input, or a
    linear layer short of features) only ever happens below the answer, because output sizes
    never shrink when the input grows; so the sizes 1, 2, 4, 8, ... are tried until one is not
    too small, and a bisection finds the first such size. Raises ``ValueError`` when no size can
    work: the channels do not match (``in_channels`` defaults to the first convolution's) or a
    linear layer already receives more features than it expects.

    >>> import convlab.models as models
    >>> min_input_size(models.googlenet()), min_input_size(models.densenet121())
    ((15, 15), (29, 29))
    """
    if in_channels is None:
        first = next((m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))), None)
        if first is None:
            raise ConvlabError("min_input_size: the model has no convolution to take in_channels from; pass in_channels=")
        in_channels = first.in_channels

    cache = {}
    # bounded work and memory: a probe's activations are at most (sum of the layers' output channels)
    # x size^d float32 values; a size whose bound passes a quarter of the memory limit is not tried
    width = sum(getattr(m, "out_channels", 0) for m in model.modules()) or in_channels
    budget = validate.memory_limit() // 4

    def probe(size):
        need = 4 * width * size ** spatial_dims
        if size not in cache and need > budget:
            raise ConvlabError(f"min_input_size: no input up to size {max(cache, default=0)} works, and trying {size} could need "
                               f"{validate._human(need)} of activations, more than the {validate._human(budget)} the "
                               "search may use")
        if size not in cache:
            tracer, _, _, exc = _attempt(model, (1, in_channels) + (size,) * spatial_dims, record=False)
            frame = tracer.stack[-1] if tracer.stack else None
            kind, lines = ("ok", []) if exc is None else _explain(frame, spatial_dims, tracer.layers) if frame else ("other", [])
            where = f" at '{frame.name}' ({type(frame.module).__name__}) for size {size}" if frame else ""
            cache[size] = (kind, (lines[0] if lines else str(exc)) + where)
            if kind == "channels":
                raise ConvlabError(f"min_input_size: no input size works: {cache[size][1]}")
        return cache[size][0]

    lo, hi = 0, 1  # invariant: every size <= lo is too small; hi is the next size to try
    while probe(hi) == "too_small":
        if hi >= max_size:
            raise ConvlabError(f"min_input_size: every square input up to {max_size} is too small")
        lo, hi = hi, min(2 * hi, max_size)
    while hi - lo > 1:  # the first size in (lo, hi] that is not too small
        mid = (lo + hi) // 2
        if probe(mid) == "too_small":
            lo = mid
        else:
            hi = mid
    last = min(max_size, hi + MAX_UPWARD_TRIES)
    for size in range(hi, last + 1):  # 'other' failures (say, a concat of odd sizes): try upwards, a bounded number
        kind = probe(size)
        if kind == "ok":
            return (size,) * spatial_dims
        if kind == "too_large":
            raise ConvlabError(f"min_input_size: no input size works: size {size - 1} is too small and {size} too large "
                             f"({cache[size][1]})")
    raise ConvlabError(f"min_input_size: no square input from {hi} to {last} works (last: {cache[last][1]})")
