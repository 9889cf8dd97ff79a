"""The graph: :class:`Function`, the nodes it records, gradient hooks and the backward pass.

Every differentiable operation is a :class:`Function` subclass with two static methods written
side by side::

    forward(ctx, *arrays, **options) -> array
    backward(ctx, grad_output)       -> one gradient (or None) per positional input

``Function.apply`` runs ``forward`` on the raw arrays and, when gradients are wanted,
records a graph node. ``Tensor.backward`` walks the graph once, iteratively, in reverse
topological order, accumulating gradients for tensors used more than once.

Gradient hooks (``Tensor.register_hook``) follow torch: a hook on a leaf sees the gradient of
this backward pass before it is added to ``.grad``; a hook on an intermediate tensor sees the
whole gradient flowing into it before it travels further back. A hook may return a replacement.
"""

from __future__ import annotations

import weakref

from . import backend
from .grad_mode import is_grad_enabled
from .tensor_class import Tensor, _leaf
from .validate import ConvlabError


class Context:
    """Per-call storage for ``Function.forward`` to hand values to ``backward``."""

    __slots__ = ("saved", "needs_input_grad", "__dict__")

    def save_for_backward(self, *values):
        self.saved = values


class _Node:
    """One recorded call: the function, its context, its inputs and (weakly) its output.

    ``inputs`` holds, per positional argument, the leaf ``Tensor`` gradients accumulate into,
    or the ``_Node`` that made a non-leaf input, or None. Holding the producing node rather than
    the intermediate tensor lets an activation's array be freed as soon as nothing but the graph
    refers to it (as in torch): backward needs only what each ``ctx`` saved.
    """

    __slots__ = ("fn", "ctx", "inputs", "freed", "out")

    def __init__(self, fn, ctx, inputs):
        self.fn, self.ctx, self.inputs, self.freed, self.out = fn, ctx, inputs, False, None

    # torch's view of a node as ``tensor.grad_fn``
    def name(self) -> str:
        return f"{self.fn.__name__}Backward0"

    @property
    def next_functions(self) -> tuple:
        """``(function, 0)`` per input: the node that made it, ``AccumulateGrad`` for a leaf that
        requires grad, or ``None``."""
        out = []
        for v in self.inputs:
            if isinstance(v, _Node):
                out.append((v, 0))
            elif v is not None and v.requires_grad:
                out.append((AccumulateGrad(v), 0))
            else:
                out.append((None, 0))
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad:
    """The end of a ``next_functions`` chain: where a leaf's gradient is added to ``.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    next_functions = ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def _edge(a):
    """What a node keeps of one argument: a leaf tensor, the node that made a non-leaf, or None."""
    if not isinstance(a, Tensor):
        return None
    return a if a._node is None else a._node


class Function:
    """Base class of differentiable operations (see the module docstring)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = Context()
        raw = [a._data if isinstance(a, Tensor) else a for a in args]
        if backend._REGISTRY:  # (backend.has_devices(), inline: this runs for every op)
            _check_one_device(cls.__name__, raw)
        ctx.needs_input_grad = needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
        record = True in needs and is_grad_enabled()
        out = cls.forward(ctx, *raw, **kwargs)
        if isinstance(out, tuple):  # functions with extra non-differentiable outputs
            out, *extra = out
            return (_wrap(out, cls, ctx, args, record), *extra)
        return _wrap(out, cls, ctx, args, record)


def _check_one_device(op: str, raw) -> None:
    devices = {backend.device_of(a) for a in raw if hasattr(a, "shape") and hasattr(a, "dtype")}
    if len(devices) > 1:
        raise RuntimeError(
            f"{op}: expected all tensors on one device, got tensors on {' and '.join(sorted(devices))}; "
            "move them with .to(device)"
        )


def _wrap(out, cls, ctx, args, record):
    t = Tensor.__new__(Tensor)
    if record:
        t._data, t.grad, t._retain, t.requires_grad = out, None, False, True
        t._node = node = _Node(cls, ctx, tuple(_edge(a) for a in args))
        node.out = weakref.ref(t)  # for retain_grad() and hooks; the node never keeps its output alive
    else:
        t._data, t.grad, t.requires_grad, t._node, t._retain = out, None, False, None, False
    return t


def unbroadcast(grad, shape):
    """Sum ``grad`` back to ``shape``: the adjoint of NumPy broadcasting."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


# --------------------------------------------------------------------------- hooks
class RemovableHandle:
    """Puts ``hook`` into the registry ``hooks`` under a fresh id; ``remove()`` takes it out again.

    Returned by :meth:`Tensor.register_hook` and by ``Module.register_forward_hook`` /
    ``register_forward_pre_hook``. Also a context manager that removes the hook when the ``with``
    block ends."""

    __slots__ = ("hooks", "id")
    _next_id = 0

    def __init__(self, hooks: dict, hook):
        self.hooks, self.id = hooks, RemovableHandle._next_id
        RemovableHandle._next_id += 1
        hooks[self.id] = hook

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _run_hooks(hooks: dict, g):
    """Call each gradient hook in registration order; a non-None return replaces the gradient."""
    for hook in list(hooks.values()):
        result = hook(_leaf(g))
        if result is None:
            continue
        name = getattr(hook, "__name__", type(hook).__name__)
        if not isinstance(result, Tensor):
            raise TypeError(f"gradient hook {name!r} must return a Tensor or None, got {type(result).__name__}")
        if tuple(result._data.shape) != tuple(g.shape):
            raise RuntimeError(f"gradient hook {name!r} has changed the size of value: "
                               f"expected shape {tuple(g.shape)}, got {result.shape}")
        if result._data.dtype != g.dtype:
            raise RuntimeError(f"gradient hook {name!r} has changed the type of value: "
                               f"expected dtype {g.dtype}, got {result.dtype}")
        g = result._data
    return g


class _LeafHooks(dict):
    """A leaf tensor's gradient hooks, kept in its ``_retain`` slot (a leaf retains its grad anyway)."""

    __slots__ = ()


class _HookedRef(weakref.ref):
    """``node.out`` of a node whose output called ``retain_grad()`` or ``register_hook()``.

    The hooks live on the node, not on the tensor, so they fire even after the tensor object is
    gone (as torch keeps them on ``grad_fn``); ``retain`` asks backward to fill the tensor's ``.grad``.
    Plain nodes keep a plain ``weakref.ref``, so backward's check costs one class comparison."""

    __slots__ = ("hooks", "retain")

    def __init__(self, t, callback=None):
        super().__init__(t, callback)
        self.hooks, self.retain = {}, False

    def run(self, g):
        if self.hooks:
            g = _run_hooks(self.hooks, g)
        if self.retain:
            out = self()
            if out is not None:
                _accumulate(out, g)
        return g


def _hooked_ref(t: Tensor) -> _HookedRef:
    node = t._node
    if node.out.__class__ is not _HookedRef:
        node.out = _HookedRef(t)
    return node.out


# --------------------------------------------------------------------------- backward
def _topological_order(start) -> list:
    """Graph vertices reachable from ``start`` (leaf tensors and nodes), inputs before outputs."""
    order, visited = [], set()
    stack = [(start, False)]
    while stack:
        v, expanded = stack.pop()
        if expanded:
            order.append(v)
            continue
        if id(v) in visited:
            continue
        visited.add(id(v))
        stack.append((v, True))
        if isinstance(v, _Node):
            for parent in v.inputs:
                if parent is not None and id(parent) not in visited and (isinstance(parent, _Node) or parent.requires_grad):
                    stack.append((parent, False))
    return order


def _run_backward(root: Tensor, seed, retain_graph: bool) -> None:
    start = root if root._node is None else root._node
    grads = {id(start): seed}
    for v in reversed(_topological_order(start)):
        g = grads.pop(id(v), None)
        if g is None:
            continue
        if isinstance(v, Tensor):  # a leaf: its hooks run, then its gradient accumulates into .grad
            if v._retain.__class__ is _LeafHooks:
                g = _run_hooks(v._retain, g)
            _accumulate(v, g)
            continue
        node = v
        if node.out.__class__ is _HookedRef:  # the output called register_hook() or retain_grad()
            g = node.out.run(g)
        if node.freed:
            raise RuntimeError(
                "backward(): trying to backward through the graph a second time; its saved "
                "values were freed. Call backward(retain_graph=True) the first time if you need to."
            )
        in_grads = node.fn.backward(node.ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for parent, pg in zip(node.inputs, in_grads):
            if parent is None or pg is None or (isinstance(parent, Tensor) and not parent.requires_grad):
                continue
            key = id(parent)
            if key in grads:
                grads[key] = grads[key] + pg
            else:
                grads[key] = pg
        if not retain_graph:
            node.freed = True
            node.ctx = None


def _accumulate(t: Tensor, g) -> None:
    if g.dtype != t._data.dtype:
        g = g.astype(t._data.dtype)
    if t.grad is None:
        t.grad = _leaf(g.copy())
    else:
        t.grad._data = t.grad._data + g


# --------------------------------------------------------------------------- Tensor's autograd methods
def backward(self, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

    Args:
        gradient: d(loss)/d(self); may be omitted only for a one-element tensor.
        retain_graph: keep the graph so that ``backward`` may be called again.
    """
    if not self.requires_grad:
        raise RuntimeError(
            "backward(): tensor does not require grad and has no graph "
            "(did you build it under no_grad() or from tensors without requires_grad?)"
        )
    xp = backend.array_module(self._data)
    if gradient is None:
        if self._data.size != 1:
            raise RuntimeError(
                f"backward(): grad can be implicitly created only for scalar outputs, "
                f"got shape {self.shape}; pass gradient= of that shape"
            )
        seed = xp.ones_like(self._data)
    else:
        seed = gradient._data if isinstance(gradient, Tensor) else xp.asarray(gradient)
        if tuple(seed.shape) != self.shape:
            raise ConvlabError(
                f"backward(): gradient has shape {tuple(seed.shape)} but the tensor has shape {self.shape}"
            )
        seed = seed.astype(self.dtype, copy=False)
    _run_backward(self, seed, retain_graph)


def retain_grad(self) -> Tensor:
    """Keep ``.grad`` on this non-leaf tensor after ``backward()`` (leaves keep it anyway)."""
    if self._node is not None:  # the flag lives on the graph's reference to this tensor
        _hooked_ref(self).retain = True
    return self


def register_hook(self, hook) -> RemovableHandle:
    """Call ``hook(grad)`` each time the gradient with respect to this tensor is computed.

    ``grad`` is a tensor of this tensor's shape; a non-None return value (a tensor of the same
    shape and dtype) replaces it: on a leaf, in what is added to ``.grad``; on an intermediate
    tensor, in what flows back to its inputs (and into its ``.grad`` if ``retain_grad()`` was
    called). Several hooks run in registration order. Returns a handle whose ``remove()``
    unregisters the hook.

    >>> import convlab
    >>> x = convlab.tensor([1.0, 2.0], requires_grad=True)
    >>> h = x.register_hook(lambda g: g * 2)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [4.0, 8.0]
    >>> h.remove()
    """
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    if self._node is not None:
        return RemovableHandle(_hooked_ref(self).hooks, hook)
    if self._retain.__class__ is not _LeafHooks:
        self._retain = _LeafHooks()
    return RemovableHandle(self._retain, hook)


Tensor.backward, Tensor.retain_grad, Tensor.register_hook = backward, retain_grad, register_hook
Tensor.grad_fn = property(lambda self: self._node, doc="The node that made this tensor (None for a leaf).")
