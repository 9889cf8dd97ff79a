"""Tensor, Function and the backward pass.

A :class:`Tensor` wraps an ndarray (``.data``). Every differentiable operation is a
:class:`Function` subclass with two static methods written side by side::

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

import contextlib
import threading
import weakref

import numpy as np

from . import backend
from ._allocator import tune_malloc

tune_malloc()  # recycle freed arrays between steps instead of page-faulting them in again

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
bool_ = np.bool_

_DEFAULT_DTYPE = np.dtype(np.float32)
_state = threading.local()


# --------------------------------------------------------------------------- grad mode
def is_grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        self.prev = is_grad_enabled()
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        return False


def no_grad():
    """Context manager and decorator that disables graph recording.

    >>> with no_grad():
    ...     y = tensor([1.0], requires_grad=True) * 2
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad():
    """Context manager and decorator that re-enables graph recording."""
    return _GradMode(True)


# --------------------------------------------------------------------------- random
_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the library-wide generator used by randn/rand, init, dropout and shuffling."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))


def default_generator() -> np.random.Generator:
    """The library-wide NumPy generator (seeded by :func:`manual_seed`)."""
    return _generator


@contextlib.contextmanager
def using_generator(generator):
    """Within the block, the library's random draws (init, dropout, randn...) come from ``generator``
    (any object with NumPy ``Generator`` methods); the previous generator is restored afterwards.
    Data-parallel training uses it to draw a whole global batch's dropout masks on every rank."""
    global _generator
    previous, _generator = _generator, generator
    try:
        yield generator
    finally:
        _generator = previous


def get_rng_state() -> dict:
    """The generator's state, a JSON-serialisable dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state


# --------------------------------------------------------------------------- dtypes
def _check_dtype(dtype: np.dtype, where: str) -> np.dtype:
    if dtype.kind not in "fiub":
        raise TypeError(
            f"{where}: unsupported dtype {dtype} (expected a floating, integer or bool dtype; "
            "complex, object and string data cannot be tensors)"
        )
    return dtype


def _parse_dtype(dtype, where: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: dtype {dtype!r} is not a data type") from None
    return _check_dtype(dt, where)


def _as_array(data, dtype, where: str):
    """Convert user data to an owned array: python floats become float32 like torch."""
    if isinstance(data, Tensor):
        data = data.data
    xp = backend.array_module(data)
    if dtype is not None:
        dtype = _parse_dtype(dtype, where)
    if hasattr(data, "dtype") and hasattr(data, "shape"):  # an ndarray-like
        src = np.dtype(data.dtype)
        _check_dtype(src, where)
        return xp.array(data, dtype=dtype, copy=True)
    try:
        arr = np.array(data)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{where}: cannot make a tensor from {type(data).__name__}: {exc}") from None
    _check_dtype(arr.dtype, where)
    if dtype is None and arr.dtype.kind == "f":
        dtype = _DEFAULT_DTYPE
    return arr.astype(dtype) if dtype is not None else arr


# --------------------------------------------------------------------------- graph
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
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        if backend.has_devices():
            _check_one_device(cls.__name__, raw)
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = is_grad_enabled() and any(needs)
        ctx.needs_input_grad = needs
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
    t.data, t.grad, t._retain = out, None, False
    if record:
        t.requires_grad = True
        t._node = node = _Node(cls, ctx, tuple(_edge(a) for a in args))
        node.out = weakref.ref(t)  # for retain_grad() and hooks; the node never keeps its output alive
    else:
        t.requires_grad, t._node = False, None
    return t


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
        if tuple(result.data.shape) != tuple(g.shape):
            raise RuntimeError(f"gradient hook {name!r} has changed the size of value: "
                               f"expected shape {tuple(g.shape)}, got {result.shape}")
        if result.data.dtype != g.dtype:
            raise RuntimeError(f"gradient hook {name!r} has changed the type of value: "
                               f"expected dtype {g.dtype}, got {result.dtype}")
        g = result.data
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


def _leaf(array) -> Tensor:
    """Wrap ``array`` as a graph-free tensor without copying or validating it."""
    t = Tensor.__new__(Tensor)
    t.data, t.grad, t.requires_grad, t._node, t._retain = array, None, False, None, False
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


# --------------------------------------------------------------------------- Tensor
class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Build one with :func:`tensor`; ``.data`` is the underlying ndarray, ``.grad`` the
    accumulated gradient (an ndarray-backed Tensor) after ``backward()``.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_retain", "__weakref__")
    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected ops

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype, "tensor")
        self.grad = None
        self._node = None
        self._retain = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- properties
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None):
        """Shape as a tuple (torch's ``size()``), or the length of ``dim``."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(backend.to_numpy(self.data), separator=", ", precision=4)
        extra = ", requires_grad=True" if self.requires_grad else ""
        dt = "" if self.dtype == _DEFAULT_DTYPE else f", dtype={self.dtype}"
        return f"tensor({body}{dt}{extra})"

    # ---- conversion
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy(): tensor requires grad; call .detach().numpy() instead")
        return backend.to_numpy(self.data)

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return self.data.reshape(-1)[0].item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        arr = backend.to_numpy(self.data)
        return arr.astype(dtype) if dtype is not None else arr

    def detach(self) -> Tensor:
        """A tensor sharing ``data`` but cut from the graph."""
        return _leaf(self.data)

    def clone(self) -> Tensor:
        from .ops.elementwise import Clone

        return Clone.apply(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}"
            )
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors")
        self.requires_grad = bool(requires_grad)
        return self

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

        >>> x = tensor([1.0, 2.0], requires_grad=True)
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

    def astype(self, dtype) -> Tensor:
        from .ops.elementwise import Cast

        return Cast.apply(self, dtype=_parse_dtype(dtype, "astype"))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def long(self) -> Tensor:
        return self.astype(np.int64)

    def to(self, target) -> Tensor:
        """``to(dtype)`` casts; ``to(device)`` moves (``'cpu'`` or a registered device)."""
        if isinstance(target, str):
            if target == self.device:
                return self
            from .ops.elementwise import ToDevice

            return ToDevice.apply(self, device=target)
        return self.astype(target)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    # ---- autograd
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
        xp = backend.array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs, "
                    f"got shape {self.shape}; pass gradient= of that shape"
                )
            seed = xp.ones_like(self.data)
        else:
            seed = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient)
            if tuple(seed.shape) != self.shape:
                raise ValueError(
                    f"backward(): gradient has shape {tuple(seed.shape)} but the tensor has shape {self.shape}"
                )
            seed = seed.astype(self.dtype, copy=False)
        _run_backward(self, seed, retain_graph)

    # ---- operators (defined in ops; bound below)


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
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        t.grad = _leaf(g.copy())
    else:
        t.grad.data = t.grad.data + g


# --------------------------------------------------------------------------- creation
def tensor(data, dtype=None, requires_grad: bool = False, device: str | None = None) -> Tensor:
    """Build a tensor from a list, scalar or array (always copies, like ``torch.tensor``).

    Python floats become float32; integers int64; bools bool.

    >>> tensor([[1.0, 2.0]]).shape
    (1, 2)
    """
    t = Tensor(data, requires_grad=False, dtype=dtype)
    if device is not None and device != t.device:
        from .ops.elementwise import move_array

        t.data = move_array(t.data, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _new(shape, dtype, requires_grad, device, make):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 0:
            raise ValueError(f"size must be a sequence of non-negative integers, got {shape!r}")
    dtype = _DEFAULT_DTYPE if dtype is None else _check_dtype(np.dtype(dtype), "dtype")
    xp = backend.module_for_device(device or "cpu")
    arr = make(xp, tuple(int(s) for s in shape), dtype)
    t = _leaf(arr)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(size, dtype, requires_grad, device, lambda xp, s, d: xp.zeros(s, dtype=d))


def ones(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(size, dtype, requires_grad, device, lambda xp, s, d: xp.ones(s, dtype=d))


def full(size, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(tuple(size), dtype, requires_grad, device, lambda xp, s, d: xp.full(s, fill_value, dtype=d))


def _host_random(xp, arr):
    return arr if xp is np else xp.asarray(arr)


def randn(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Standard normal samples from the library generator (see :func:`manual_seed`)."""
    return _new(size, dtype, requires_grad, device,
                lambda xp, s, d: _host_random(xp, _generator.standard_normal(s).astype(d)))


def rand(*size, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Uniform [0, 1) samples from the library generator."""
    return _new(size, dtype, requires_grad, device,
                lambda xp, s, d: _host_random(xp, _generator.random(s).astype(d)))


def randint(low, high, size, dtype=np.int64, device=None) -> Tensor:
    if not low < high:
        raise ValueError(f"randint: low must be smaller than high, got low={low!r}, high={high!r}")
    return _new(tuple(size), dtype, False, device,
                lambda xp, s, d: _host_random(xp, _generator.integers(low, high, s).astype(d)))


def zeros_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return zeros(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def ones_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return ones(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Like ``torch.arange``: integers give int64, any float argument gives float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError(f"arange: step must be non-zero, got {step!r}")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = _DEFAULT_DTYPE if is_float else np.int64
    xp = backend.module_for_device(device or "cpu")
    t = _leaf(xp.arange(start, end, step).astype(dtype))
    return t.requires_grad_(True) if requires_grad else t


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap an ndarray without copying (like ``torch.from_numpy``)."""
    _check_dtype(np.dtype(array.dtype), "from_numpy")
    return _leaf(array)


def as_tensor(data, dtype=None) -> Tensor:
    """Return ``data`` if it is already a tensor of ``dtype``, else a new tensor."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return tensor(data, dtype=dtype)


def _set_default_dtype(dtype) -> None:
    global _DEFAULT_DTYPE
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _DEFAULT_DTYPE = dtype


def get_default_dtype():
    return _DEFAULT_DTYPE

