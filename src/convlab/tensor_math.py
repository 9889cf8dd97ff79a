"""torch's remaining everyday tensor functions, met in public programs: element-wise math
(``floor``, ``round``, ``sin``, ``rsqrt``, ``log1p``, ``square``...), comparisons and logic as
functions (``torch.eq``, ``torch.logical_and``...), ``norm``, ``logsumexp``, ``flip``, ``roll``,
``scatter``/``scatter_``, ``unbind``, ``meshgrid``, ``tril``/``triu``, and the in-place forms
(``relu_``, ``sigmoid_``, ``masked_fill_``, ``exp_``...). Bound onto :class:`Tensor` and
exported as ``convlab.<name>``.

Element-wise ops with a gradient are one :class:`Function` each, the derivative beside the value:

    floor, ceil, round, trunc, sign: d/dx = 0 (piecewise constant, as torch)
    sin' = cos, cos' = -sin, tan' = 1 + tan^2, sinh' = cosh, cosh' = sinh, atan' = 1/(1+x^2)
    log1p' = 1/(1+x), expm1' = exp(x), log2' = 1/(x ln 2), log10' = 1/(x ln 10)
    reciprocal' = -1/x^2, rsqrt' = -rsqrt(x)^3 / 2, square' = 2x
"""

from __future__ import annotations

import math as _math

import numpy as np

from . import backend, validate
from .graph import Function
from .math import _operand, exp, log, where
from .tensor_class import Tensor, _leaf
from .tensor_scatter import scatter, scatter_add


def _unary(name: str, value, derivative):
    """An element-wise Function: ``value(xp, a)``; ``derivative(xp, a, out)`` multiplies the gradient."""

    def forward(ctx, a):
        xp = backend.array_module(a)
        out = value(xp, a)
        ctx.save_for_backward(a, out)
        return out

    def backward(ctx, g):
        a, out = ctx.saved
        return g * derivative(backend.array_module(g), a, out).astype(g.dtype, copy=False)

    op = type(name.capitalize(), (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward),
                                              "__doc__": f"element-wise {name}"})

    def fn(input: Tensor) -> Tensor:
        return op.apply(_operand(input))

    fn.__name__ = name
    fn.__doc__ = f"Element-wise ``{name}`` (torch.{name})."
    return fn


def _zero(xp, a, out):
    return xp.zeros_like(a)


_LN2, _LN10 = _math.log(2.0), _math.log(10.0)
_UNARY = {
    "floor": (lambda xp, a: xp.floor(a), _zero),
    "ceil": (lambda xp, a: xp.ceil(a), _zero),
    "trunc": (lambda xp, a: xp.trunc(a), _zero),
    "sign": (lambda xp, a: xp.sign(a), _zero),
    "sin": (lambda xp, a: xp.sin(a), lambda xp, a, o: xp.cos(a)),
    "cos": (lambda xp, a: xp.cos(a), lambda xp, a, o: -xp.sin(a)),
    "tan": (lambda xp, a: xp.tan(a), lambda xp, a, o: 1 + o * o),
    "sinh": (lambda xp, a: xp.sinh(a), lambda xp, a, o: xp.cosh(a)),
    "cosh": (lambda xp, a: xp.cosh(a), lambda xp, a, o: xp.sinh(a)),
    "atan": (lambda xp, a: xp.arctan(a), lambda xp, a, o: 1 / (1 + a * a)),
    "log1p": (lambda xp, a: xp.log1p(a), lambda xp, a, o: 1 / (1 + a)),
    "expm1": (lambda xp, a: xp.expm1(a), lambda xp, a, o: o + 1),
    "log2": (lambda xp, a: xp.log2(a), lambda xp, a, o: 1 / (a * _LN2)),
    "log10": (lambda xp, a: xp.log10(a), lambda xp, a, o: 1 / (a * _LN10)),
    "reciprocal": (lambda xp, a: 1 / a, lambda xp, a, o: -o * o),
    "rsqrt": (lambda xp, a: 1 / xp.sqrt(a), lambda xp, a, o: -0.5 * o * o * o),
    "square": (lambda xp, a: a * a, lambda xp, a, o: 2 * a),
}
for _name, (_value, _derivative) in _UNARY.items():
    globals()[_name] = _unary(_name, _value, _derivative)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - torch's name
    """Round half to even (as torch and NumPy); ``decimals`` places. Gradient 0."""
    scale = 10.0 ** decimals
    op = _unary("round", lambda xp, a: xp.round(a * scale) / scale if decimals else xp.round(a), _zero)
    return op(input)


# ---------------------------------------------------------------- comparisons and logic
def _compare(method: str):
    def fn(input, other) -> Tensor:
        return getattr(_operand(input), method)(other)

    fn.__name__ = method.strip("_")
    return fn


eq, ne, lt, le, gt, ge = (_compare(m) for m in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logical(np_fn):
    if np_fn is np.logical_not:
        def fn(input) -> Tensor:
            a = _operand(input)._data
            return _leaf(backend.array_module(a).asarray(np_fn(a.astype(bool))))
    else:
        def fn(input, other) -> Tensor:
            a = _operand(input)._data
            xp = backend.array_module(a)
            return _leaf(xp.asarray(np_fn(a.astype(bool), xp.asarray(_operand(other)._data).astype(bool))))

    fn.__name__ = np_fn.__name__
    return fn


logical_and, logical_or, logical_xor, logical_not = (_logical(f) for f in (np.logical_and, np.logical_or,
                                                                          np.logical_xor, np.logical_not))


# ---------------------------------------------------------------- reductions
class _PNorm(Function):
    """``||a||_p`` over ``dim``; gradient ``g * a |a|^(p-2) / ||a||^(p-1)`` (0 where the norm is 0, as torch)."""

    @staticmethod
    def forward(ctx, a, p, dim, keepdim):
        xp = backend.array_module(a)
        absa = xp.abs(a)
        if p == _math.inf:
            out = absa.max(axis=dim, keepdims=True)
        elif p == -_math.inf:
            out = absa.min(axis=dim, keepdims=True)
        elif p == 0:  # the count of non-zero elements (torch's "0-norm")
            out = (absa != 0).sum(axis=dim, keepdims=True).astype(a.dtype)
        else:
            out = (absa ** p).sum(axis=dim, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        ctx.p, ctx.dim = p, dim
        return out if keepdim else xp.squeeze(out, axis=dim) if dim is not None else out.reshape(())

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        xp = backend.array_module(a)
        g = g.reshape(out.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.p == 0:
                grad = xp.zeros_like(a)
            elif abs(ctx.p) == _math.inf:
                hit = (xp.abs(a) == out).astype(a.dtype)
                grad = xp.sign(a) * hit / hit.sum(axis=ctx.dim, keepdims=True)
            else:
                grad = a * xp.abs(a) ** (ctx.p - 2) / out ** (ctx.p - 1)
        return g * xp.where(out == 0, 0, grad).astype(a.dtype, copy=False)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The ``p``-norm over ``dim`` (all elements by default); ``'fro'`` is the 2-norm."""
    a = _operand(input)
    if p in ("fro", None):
        p = 2.0
    if p == "nuc" or isinstance(p, str):
        raise NotImplementedError(f"norm: p={p!r} is a matrix norm convlab does not provide (use p='fro' or a number)")
    p = validate.real(p, "norm", "p", finite=False)
    if isinstance(dim, (tuple, list)):
        dim = validate.dims(dim, a.ndim, "norm", "dim") if a.ndim else None
    elif dim is not None:
        dim = validate.dim(dim, a.ndim, "norm") if a.ndim else None
    out = _PNorm.apply(a, p=p, dim=dim, keepdim=keepdim)
    return out if dtype is None else out.to(dtype)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x), dim))``, computed after subtracting the maximum so nothing overflows."""
    a = _operand(input)
    validate.dims(dim, a.ndim, "logsumexp", "dim")
    m = a.detach().amax(dim, keepdim=True)
    m = where(m.isfinite(), m, m * 0)
    out = log(exp(a - m).sum(dim, keepdim=True)) + m
    return out if keepdim else out.squeeze(dim)


# ---------------------------------------------------------------- movement
def flip(input: Tensor, dims) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy, as torch)."""
    a = _operand(input)
    dims = validate.dims(dims, a.ndim, "flip", "dims")
    index = [slice(None)] * a.ndim
    for d in dims if a.ndim else ():  # a 0-d tensor: dims 0 and -1 name its only "axis"; nothing to reverse
        index[d] = slice(None, None, -1)
    return a[tuple(index)] if a.ndim else a.clone()


def _at_least(a: Tensor, n: int, where: str) -> Tensor:
    if a.ndim < n:
        raise validate.ConvlabError(f"{where}: input tensor must have at least {n} dimensions, got shape "
                                    f"{tuple(a.shape)}")
    return a


def fliplr(input: Tensor) -> Tensor:
    """Reverse the columns (dim 1) of a tensor of at least 2 dims."""
    return flip(_at_least(_operand(input), 2, "fliplr"), 1)


def flipud(input: Tensor) -> Tensor:
    """Reverse the rows (dim 0) of a tensor of at least 1 dim."""
    return flip(_at_least(_operand(input), 1, "flipud"), 0)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements along ``dims`` circularly (flattened first when ``dims`` is None)."""
    from .math import cat

    a = _operand(input)
    if dims is None:
        return roll(a.flatten(), shifts, 0).reshape(*a.shape)
    shifts = (shifts,) if validate._is_int(shifts) else shifts
    if not isinstance(shifts, (tuple, list)) or not all(validate._is_int(s) for s in shifts):
        raise validate.ArgumentTypeError(f"roll: argument 'shifts' must be an int or a tuple of ints, got "
                                         f"{validate._safe_repr(shifts, 40)}")
    dims = validate.dims(dims, a.ndim, "roll", "dims", unique=False)
    if len(shifts) != len(dims):
        raise validate.ConvlabError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    for s, d in zip(shifts, dims if a.ndim else ()):
        n = a.shape[d]
        s %= max(n, 1)
        if s:
            a = cat([a.narrow(d, n - s, s), a.narrow(d, 0, n - s)], d)
    return a


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dim."""
    a = _operand(input)
    dim = validate.dim(dim, _at_least(a, 1, "unbind").ndim, "unbind")
    return tuple(a.select(dim, i) for i in range(a.shape[dim]))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice ``index`` along ``dim``, without that dim."""
    a = _operand(input)
    dim = validate.dim(dim, _at_least(a, 1, "select").ndim, "select")
    index = validate.integer(index, "select", "index")
    if not -a.shape[dim] <= index < a.shape[dim]:
        raise validate.DimensionError(f"select(): index {index} out of range for tensor of size {list(a.shape)} "
                                      f"at dimension {dim}")
    where_ = [slice(None)] * a.ndim
    where_[dim] = index
    return a[tuple(where_)]


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """``transpose(input, axis0, axis1)`` (NumPy's name)."""
    a = _operand(input)
    return a.transpose(validate.dim(axis0, a.ndim, "swapaxes", "axis0"), validate.dim(axis1, a.ndim, "swapaxes", "axis1"))


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """``transpose(input, dim0, dim1)``."""
    a = _operand(input)
    return a.transpose(validate.dim(dim0, a.ndim, "swapdims", "dim0"), validate.dim(dim1, a.ndim, "swapdims", "dim1"))


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    a = _operand(input)
    dim = validate.dim(dim, _at_least(a, 1, "narrow").ndim, "narrow")
    n = a.shape[dim]
    if not -n <= start <= n:
        raise validate.DimensionError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], but got "
                                      f"{start})")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise validate.ConvlabError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}), or "
                                    f"length is negative")
    where_ = [slice(None)] * a.ndim
    where_[dim] = slice(start, start + length)
    return a[tuple(where_)]


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids; ``indexing='ij'`` (torch's default) or ``'xy'``."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    ts = [_operand(t) for t in tensors]
    shape = [t.shape[0] for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(ts):
        axis = i if indexing == "ij" or len(ts) < 2 else {0: 1, 1: 0}.get(i, i)
        view = [1] * len(ts)
        view[axis] = t.shape[0]
        out.append(t.reshape(*view).expand(*shape))
    return tuple(out)


def _triangle(upper: bool):
    def fn(input: Tensor, diagonal: int = 0) -> Tensor:
        a = _at_least(_operand(input), 2, fn.__name__)
        xp = backend.array_module(a._data)
        rows, cols = a.shape[-2], a.shape[-1]
        ones = xp.ones((rows, cols), dtype=bool)
        keep = xp.triu(ones, diagonal) if upper else xp.tril(ones, diagonal)
        return where(_leaf(keep), a, a * 0)

    fn.__name__ = "triu" if upper else "tril"
    return fn


triu, tril = _triangle(True), _triangle(False)


# ---------------------------------------------------------------- in place
def _inplace(fn_name: str):
    def op_(self, *args, **kwargs) -> Tensor:
        from .methods import _check_inplace, _store

        _check_inplace(self, fn_name + "_")
        return _store(self, getattr(self, fn_name)(*args, **kwargs).detach(), fn_name + "_")

    op_.__name__ = fn_name + "_"
    return op_


def clamp_min(input: Tensor, min: float) -> Tensor:  # noqa: A002
    return _operand(input).clamp(min=min)


def clamp_max(input: Tensor, max: float) -> Tensor:  # noqa: A002
    return _operand(input).clamp(max=max)


_FUNCTIONS = {n: globals()[n] for n in _UNARY}
_FUNCTIONS.update({
    "round": round, "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "greater": greater,
    "greater_equal": greater_equal, "less": less, "less_equal": less_equal, "not_equal": not_equal,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not,
    "norm": norm, "logsumexp": logsumexp, "flip": flip, "fliplr": fliplr, "flipud": flipud, "roll": roll,
    "unbind": unbind, "select": select,
    "swapaxes": swapaxes, "swapdims": swapdims, "narrow": narrow, "triu": triu, "tril": tril, "scatter": scatter,
    "scatter_add": scatter_add, "clamp_min": clamp_min, "clamp_max": clamp_max,
})
__all__ = [*_FUNCTIONS, "meshgrid"]

_SKIP_METHODS = {"eq", "ne", "lt", "le", "gt", "ge"}  # already Tensor methods
for _name, _fn in _FUNCTIONS.items():
    if _name not in _SKIP_METHODS:
        setattr(Tensor, _name, _fn)
for _name in (*_UNARY, "round", "relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs", "neg", "pow", "masked_fill",
              "clamp_min", "clamp_max", "tril", "triu", "scatter", "scatter_add", "eq", "ne", "lt", "le", "gt", "ge",
              "logical_not", "index_fill"):
    if hasattr(Tensor, _name):
        setattr(Tensor, _name + "_", _inplace(_name))
Tensor.absolute = Tensor.abs
Tensor.negative = Tensor.neg
Tensor.multiply = Tensor.mul
Tensor.divide = Tensor.div
Tensor.subtract = Tensor.sub
Tensor.ndimension = lambda self: self.ndim
