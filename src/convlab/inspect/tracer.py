"""The hooked forward pass: every module's call recorded with its shapes, receptive field and
multiply-accumulates, and the stack of open calls (where a failure happened)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import nn
from ..tensor import Tensor
from .fields import _RF, _leaf_rf, _merge, _spatial
from .records import Layer


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
