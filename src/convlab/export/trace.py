"""Recording the primitive operations one forward pass runs, with the layer that ran each.

Every differentiable operation in convlab is a :class:`convlab.tensor.Function` called through
``Function.apply`` (convolution, batch norm, ``x + y``, ``cat``, ``flatten``...), so a forward pass
is fully described by the sequence of those calls: which ``Function``, which tensors went in (the
model input, a parameter, a constant, or the output of an earlier call), its options (the
convolution's geometry, the pooling window...) and the tensor that came out. :func:`trace`
records that sequence while the model runs once, on this thread only; forward hooks on every
sub-module keep the dotted name of the layer being run, so an operation that cannot be exported
is reported with the layer that used it.

Comparisons (``x < 6``) make boolean masks outside the graph; they are recorded too (as
:class:`Compare`), since ``where`` and the activations built on it (``relu6``, ``hardswish``)
consume them. Anything else that is not a ``Function`` call is not seen: arithmetic done on ``.data`` or ``.numpy()``
outside the graph makes a new tensor that the trace takes for a constant. The exporter traces
twice, on different inputs and batch sizes, and refuses a model whose two traces differ.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from ..graph import Function
from ..tensor import Tensor, no_grad


@dataclass
class Call:
    """One ``Function.apply``: ``fn(*args, **kwargs) -> output``, run inside the sub-module named
    ``scope`` (dotted, '' for the model itself); ``layer`` says it in words for messages."""

    fn: type
    args: tuple
    kwargs: dict
    output: Tensor
    scope: str
    layer: str


@dataclass
class Trace:
    """A recorded forward pass: the input, the calls in order and what the model returned."""

    input: Tensor
    calls: list = field(default_factory=list)
    output: object = None
    keep: list = field(default_factory=list)  # every tensor seen, so no id() is reused while the trace lives


class Compare:
    """Marker for a recorded comparison ``a <op> b`` (its ``kwargs["op"]``: ``lt``, ``le``, ...)."""


_COMPARISONS = ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "eq", "ne")


def _layer_name(name: str, module) -> str:
    return f"'{name}' ({type(module).__name__})" if name else f"the model ({type(module).__name__})"


def trace(model, x: Tensor) -> Trace:
    """Run ``model(x)`` once under ``no_grad`` and record every ``Function.apply`` it makes."""
    rec = Trace(input=x)
    root = ("", _layer_name("", model))
    scopes: list[tuple] = []
    owner = threading.get_ident()
    original = Function.__dict__["apply"]  # the classmethod object, restored below

    def recorded(cls, *args, **kwargs):
        out = original.__func__(cls, *args, **kwargs)
        if threading.get_ident() == owner:
            first = out[0] if isinstance(out, tuple) else out
            rec.calls.append(Call(cls, args, kwargs, first, *(scopes[-1] if scopes else root)))
            rec.keep.extend([first, *args])
        return out

    def compared(op, method):
        def fn(a, b):
            out = method(a, b)
            if threading.get_ident() == owner and isinstance(out, Tensor):
                other = b if isinstance(b, Tensor) else np.asarray(b, dtype=a.dtype)
                rec.calls.append(Call(Compare, (a, other), {"op": op.strip("_")}, out, *(scopes[-1] if scopes else root)))
                rec.keep.extend([out, other])
            return out

        return fn

    def leave(module, args, out):  # returns None: a forward hook's return value would replace the output
        if scopes:
            scopes.pop()

    handles = []
    for name, module in model.named_modules():
        label = (name, _layer_name(name, module))
        handles.append(module.register_forward_pre_hook(lambda m, a, label=label: scopes.append(label)))
        handles.append(module.register_forward_hook(leave))
    methods = {op: Tensor.__dict__[op] for op in _COMPARISONS if op in Tensor.__dict__}
    Function.apply = classmethod(recorded)
    for op, method in methods.items():
        setattr(Tensor, op, compared(op, method))
    try:
        with no_grad():
            rec.output = model(x)
    finally:
        Function.apply = original
        for op, method in methods.items():
            setattr(Tensor, op, method)
        for h in handles:
            h.remove()
    return rec
