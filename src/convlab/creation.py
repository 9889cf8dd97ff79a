"""Creation functions: ``tensor``, ``zeros``, ``ones``, ``full``, ``empty``, ``randn``, ``rand``,
``randint``, ``normal``, ``randperm``, ``arange``, ``linspace``, ``eye``, ``from_numpy``,
``as_tensor`` and the ``*_like`` forms (torch's names, arguments and dtype rules).

Random draws come from the library generator (:func:`convlab.manual_seed`) unless a NumPy
``generator=`` is given. torch's ``layout=``, ``pin_memory=`` and ``memory_format=`` choose nothing
on a CPU and are accepted."""

from __future__ import annotations

import math

import numpy as np

from . import backend, dtypes, random, validate
from .dtypes import _check_dtype
from .ops.elementwise import move_array
from .tensor_class import Tensor, _from_data, _leaf
from .validate import ConvlabError


def tensor(data, dtype=None, requires_grad: bool = False, device=None, pin_memory: bool = False) -> Tensor:
    """Build a tensor from a list, scalar or array (always copies, like ``torch.tensor``).

    Python floats become float32; integers int64; bools bool.

    >>> tensor([[1.0, 2.0]]).shape
    convlab.Size([1, 2])
    """
    t = _from_data(data, dtype)
    if device is not None and device != t.device:
        t._data = move_array(t._data, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


_CPU_ONLY_OPTIONS = ("layout", "pin_memory", "memory_format")  # nothing to choose on a CPU


def _options(where: str, size: tuple, options: dict) -> tuple:
    """The shape from ``*size`` or ``size=``; torch's layout/pin_memory options are accepted."""
    if "size" in options:
        if size:
            raise TypeError(f"{where}() got the size both positionally and as size=")
        size = options.pop("size")
        size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    for name in _CPU_ONLY_OPTIONS:
        options.pop(name, None)
    if options:
        raise TypeError(f"{where}() got an unexpected keyword argument {next(iter(options))!r}")
    return size


def _new(shape, dtype, requires_grad, device, make):
    if len(shape) == 1 and isinstance(shape[0], Tensor):  # a size given as a tensor
        shape = tuple(shape[0].tolist()) if shape[0].ndim else (int(shape[0]),)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 0:
            raise ConvlabError(f"size must be a sequence of non-negative integers, got {shape!r}")
    dtype = dtypes.get_default_dtype() if dtype is None else dtypes._parse_dtype(dtype, "dtype")
    validate.allocation(shape, dtype.itemsize, "size", "a tensor")
    xp = backend.module_for_device(device or "cpu")
    arr = make(xp, tuple(int(s) for s in shape), dtype)
    t = _leaf(arr)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size, dtype=None, requires_grad=False, device=None, **options) -> Tensor:
    size = _options("zeros", size, options)
    return _new(size, dtype, requires_grad, device, lambda xp, s, d: xp.zeros(s, dtype=d))


def ones(*size, dtype=None, requires_grad=False, device=None, **options) -> Tensor:
    size = _options("ones", size, options)
    return _new(size, dtype, requires_grad, device, lambda xp, s, d: xp.ones(s, dtype=d))


def full(size, fill_value, dtype=None, requires_grad=False, device=None, **options) -> Tensor:
    _options("full", (), options)
    size = validate.shape(size, "full", "size")
    if not validate._is_real(fill_value) and not isinstance(fill_value, (bool, np.bool_)):
        if not (getattr(fill_value, "ndim", None) == 0 and getattr(fill_value, "dtype", np.dtype("O")).kind in "fiub"):
            raise validate.ArgumentTypeError(f"full(): argument 'fill_value' must be Number, not "
                                             f"{type(fill_value).__name__}")
    return _new(size, dtype, requires_grad, device, lambda xp, s, d: xp.full(s, fill_value, dtype=d))


def _host_random(xp, arr):
    return arr if xp is np else xp.asarray(arr)


def randn(*size, dtype=None, requires_grad=False, device=None, generator=None, **options) -> Tensor:
    """Standard normal samples from the library generator (see :func:`manual_seed`)."""
    size = _options("randn", size, options)
    return _new(size, dtype, requires_grad, device,
                lambda xp, s, d: _host_random(xp, (generator or random.default_generator()).standard_normal(s).astype(d)))


def rand(*size, dtype=None, requires_grad=False, device=None, generator=None, **options) -> Tensor:
    """Uniform [0, 1) samples from the library generator."""
    size = _options("rand", size, options)
    return _new(size, dtype, requires_grad, device,
                lambda xp, s, d: _host_random(xp, (generator or random.default_generator()).random(s).astype(d)))


def randint(low, high=None, size=None, dtype=np.int64, device=None, generator=None, requires_grad=False) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` means low = 0, as in torch)."""
    if size is None:
        if high is None or isinstance(high, (int, np.integer)):
            raise TypeError("randint() missing the size argument, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    size = validate.shape(size, "randint", "size")
    low, high = validate.integer(low, "randint", "low"), validate.integer(high, "randint", "high")
    if not low < high:
        raise ConvlabError(f"randint: low must be smaller than high, got low={low!r}, high={high!r}")
    return _new(size, dtype, False, device,
                lambda xp, s, d: _host_random(xp, (generator or random.default_generator()).integers(low, high, s).astype(d)))


def empty(*size, dtype=None, requires_grad=False, device=None, **options) -> Tensor:
    """A tensor of ``size`` (filled with zeros: convlab never hands out uninitialised memory)."""
    return zeros(*_options("empty", size, options), dtype=dtype, requires_grad=requires_grad, device=device)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples of N(mean, std**2): ``mean``/``std`` numbers with ``size=``, or tensors (broadcast).

    The draws come from the library generator (:func:`manual_seed`) unless ``generator`` is given.
    """
    gen = generator or random.default_generator()
    m = mean._data if isinstance(mean, Tensor) else mean
    sd = std._data if isinstance(std, Tensor) else std
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        if size is not None:
            raise TypeError("normal(): size= is only taken with a number mean and std")
        ref = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(np.shape(m), np.shape(sd))
        out = (np.asarray(m) + np.asarray(sd) * gen.standard_normal(shape)).astype(dtype or ref.dtype)
        return tensor(out, device=device or ref.device, requires_grad=requires_grad)
    if size is None:
        raise TypeError("normal(): give size= when mean and std are numbers, e.g. normal(0.0, 1.0, size=(3,))")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return _new(size, dtype, requires_grad, device,
                lambda xp, s, d: _host_random(xp, (m + sd * gen.standard_normal(s)).astype(d)))


def randperm(n: int, dtype=np.int64, device=None, generator=None, requires_grad=False) -> Tensor:
    """A random permutation of ``0 .. n-1`` from the library generator."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ConvlabError(f"randperm: n must be a non-negative integer, got {n!r}")
    gen = generator or random.default_generator()
    return _new((int(n),), dtype, requires_grad, device, lambda xp, s, d: _host_random(xp, gen.permutation(s[0]).astype(d)))


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps!r}")
    return _new((int(steps),), dtype, requires_grad, device, lambda xp, s, d: xp.linspace(start, end, s[0]).astype(d))


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The ``n x m`` identity matrix."""
    m = n if m is None else m
    return _new((n, m), dtype, requires_grad, device, lambda xp, s, d: xp.eye(s[0], s[1], dtype=d))


def _like(maker):
    def like(t: Tensor, dtype=None, requires_grad=False, device=None, **options) -> Tensor:
        _options(maker.__name__ + "_like", (), options)
        return maker(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device or t.device)

    like.__name__ = maker.__name__ + "_like"
    like.__doc__ = f"``{maker.__name__}`` of ``t``'s shape, dtype and device."
    return like


def full_like(t: Tensor, fill_value, dtype=None, requires_grad=False, device=None, **options) -> Tensor:
    _options("full_like", (), options)
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device or t.device)


def zeros_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return zeros(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def ones_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return ones(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


randn_like, rand_like, empty_like = _like(randn), _like(rand), _like(empty)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None, **options) -> Tensor:
    """Like ``torch.arange``: integers give int64, any float argument gives float32."""
    _options("arange", (), options)
    if end is None:
        start, end = 0, start
    start, end, step = (validate.real(v, "arange", n, finite=True) if isinstance(v, float) else v
                        for v, n in ((start, "start"), (end, "end"), (step, "step")))
    for v, n in ((start, "start"), (end, "end"), (step, "step")):
        if not validate._is_real(v):
            raise validate.ArgumentTypeError(f"arange: {n} must be a real number, got {v!r}")
    if step == 0:
        raise ConvlabError(f"arange: step must be non-zero, got {step!r}")
    if (end - start) * step < 0:  # torch's rule: an empty range the wrong way round is a mistake, not []
        raise ConvlabError(f"arange: upper bound and lower bound inconsistent with step sign (start={start}, "
                           f"end={end}, step={step})")
    validate.allocation([max(math.ceil((end - start) / step), 0)], 8, "arange", "the range")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = dtypes.get_default_dtype() if is_float else np.int64
    xp = backend.module_for_device(device or "cpu")
    t = _leaf(xp.arange(start, end, step).astype(dtype))
    return t.requires_grad_(True) if requires_grad else t


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap an ndarray without copying (like ``torch.from_numpy``)."""
    if not isinstance(array, np.ndarray):
        raise validate.ArgumentTypeError(f"from_numpy(): expected np.ndarray (got {type(array).__name__})")
    _check_dtype(np.dtype(array.dtype), "from_numpy")
    return _leaf(array)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Return ``data`` if it is already a tensor of ``dtype`` on ``device``, else a new tensor."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data if device is None else data.to(device)
    return tensor(data, dtype=dtype, device=device)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    return t.numel()
