"""Running the hooked pass: :func:`trace`, :func:`summary` and :func:`min_input_size`."""

from __future__ import annotations

from .. import nn, validate
from ..tensor import no_grad, zeros
from ..validate import ConvlabError
from .explain import _explain
from .records import Layer, ShapeError, Summary, _table
from .tracer import _shape_of, _Tracer


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
            raise ConvlabError(f"min_input_size: no input up to size {max(cache, default=0)} works, and trying {size} "
                               f"could need {validate._human(need)} of activations, more than the "
                               f"{validate._human(budget)} the search may use")
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
