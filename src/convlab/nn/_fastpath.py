"""The short path of a layer's call when no graph is recorded (inference): check once per shape.

A layer called at every step of a prediction loop sees the same shapes each time, and its
checks (the functional's argument checks, the geometry, the dtype and shape agreement of input,
weight and bias) are most of the cost of a small layer at batch 1. So a layer remembers the
*key* of each call whose checks passed: everything those checks read (the input's and the
parameters' shapes, dtypes and array types, and the layer's own options such as ``stride``,
``padding`` or ``eps``). A later call with an equal key passed the same checks, so it runs the
arithmetic directly, on the very function the full path would call (``conv_forward``,
``BatchNorm.forward``...), and returns the same values. Anything else (a new shape, an option
changed since, a non-Tensor input, a graph to record, arrays on a device) takes the full path,
with its exceptions and messages.

Keys are only ever built from values the full path checks; a layer keeps at most
:data:`MAX_KEYS` of them (a model fed ever-new sizes does not grow without end).
"""

from __future__ import annotations

from .. import backend
from ..grad_mode import is_grad_enabled
from ..graph import Context, Function
from ..tensor import Tensor, _leaf

MAX_KEYS = 16
_SLOT = "_fastpath_keys"
# the short path calls Function.forward, not apply: while something wraps apply (the ONNX
# exporter's trace records every apply), every call takes the full path
_FUNCTION_DICT = Function.__dict__
_APPLY = _FUNCTION_DICT["apply"]


def _array_key(t):
    d = t._data
    return d.shape, d.dtype, d.__class__


def key(module, input, *options):
    """The key of ``module(input)`` with its parameters and ``options``, or None when this call
    must take the full path: the input is not exactly a Tensor, arrays may live on a device,
    ``Function.apply`` is wrapped (a trace), or a graph is to be recorded (grad mode on and any
    tensor requiring grad)."""
    if input.__class__ is not Tensor or backend._REGISTRY or _FUNCTION_DICT["apply"] is not _APPLY:
        return None
    params = module._parameters
    if is_grad_enabled() and (input.requires_grad or any(p is not None and p.requires_grad for p in params.values())):
        return None
    return (module.__class__, _array_key(input),
            tuple([(name, None if p is None else _array_key(p)) for name, p in params.items()])) + options


def recall(module, k):
    """What :func:`remember` stored for key ``k`` on ``module`` (None: not seen, or ``k`` None)."""
    if k is None:
        return None
    seen = module.__dict__.get(_SLOT)
    if seen is None:
        return None
    try:
        return seen.get(k)
    except TypeError:  # an option changed into something unhashable (a list): the full path checks it
        return None


def remember(module, k, value=True) -> None:
    """Store ``value`` (True, or what the short path needs, such as a geometry) for key ``k``:
    the call with that key passed every check of the full path."""
    if k is None:
        return
    seen = module.__dict__.get(_SLOT)
    if seen is None:
        seen = {}
        object.__setattr__(module, _SLOT, seen)
    elif len(seen) >= MAX_KEYS:
        seen.clear()
    try:
        seen[k] = value
    except TypeError:
        pass


def run(fn, *args, **kwargs):
    """``fn.forward`` (a :class:`~convlab.graph.Function`) on raw arrays, as ``fn.apply`` runs it
    when it records nothing; the first output wrapped as a tensor outside the graph."""
    ctx = Context()
    ctx.needs_input_grad = (False,) * len(args)
    out = fn.forward(ctx, *args, **kwargs)
    return _leaf(out[0] if isinstance(out, tuple) else out)
