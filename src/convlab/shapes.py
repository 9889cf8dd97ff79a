"""Output sizes, padding rules, receptive fields, parameter counts and configuration checks.

Every convolution and pooling op sizes its output with one formula (seed 003, seed 004)::

    out = floor((W + P_lo + P_hi - D * (K - 1) - 1) / S) + 1

where ``W`` is the input size, ``P_lo``/``P_hi`` the padding before and after (``P`` each for
an integer ``padding``), ``D`` the dilation (a dilated kernel spans ``D * (K - 1) + 1`` pixels),
``K`` the kernel size and ``S`` the stride. The ``+ 1`` counts the first window (fence posts).

A stride that does not divide evenly floors, like torch: the last rows/columns are never
visited (ResNet's 7x7 stride-2 stem relies on it). :func:`unvisited` reports how many; the
functional ops take ``strict=True`` to turn that into an error. Truly impossible
configurations (a kernel larger than the padded input, channels that do not divide into
groups, ...) raise ``ValueError`` naming every number involved.

>>> conv_output_size(32, 3, padding=1)
32
>>> [r.size for r in receptive_field([(3, 1), (3, 1), (3, 1)])]
[3, 5, 7]
"""

from __future__ import annotations

import functools
import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from . import validate
from .tensor_class import Size
from .validate import INT64_MAX, ConvlabError

__all__ = [
    "ConvGeometry", "RF", "conv_geometry", "conv_macs", "conv_output_size", "conv_params",
    "conv_transpose_output_size", "min_input_size", "pool_geometry", "pool_output_size",
    "receptive_field", "same_padding", "trace", "unvisited",
]

_LAYOUT = {1: "NCL (batch, channels, length)", 2: "NCHW (batch, channels, height, width)",
           3: "NCDHW (batch, channels, depth, height, width)"}


_ATOMS = frozenset({int, str, bool, type(None)})
_INT = frozenset({int})


def _plain(v) -> bool:
    """Whether ``v`` is an exact int, bool, string, None or a flat tuple (or :class:`~convlab.Size`)
    of exact ints: values whose equal cache keys mean equal arguments (with ``typed=True``
    keeping ``True`` apart from ``1``; inside a tuple only ints are allowed, where ``typed`` does
    not look)."""
    t = type(v)
    if t is tuple or t is Size:
        return set(map(type, v)) <= _INT
    return t in _ATOMS


def _memoized(fn):
    """Cache a geometry function on its arguments when they are plain (see :func:`_plain`).

    A model calls the same layers with the same shapes at every step; checking and sizing them
    again each time is most of the cost of a small layer at batch 1. Errors are not cached
    (the call raises again), and arguments that are not plain (lists, nested tuples, NumPy
    ints, floats) skip the cache and are checked as usual."""
    cached = functools.lru_cache(maxsize=4096, typed=True)(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for v in args:
            if type(v) not in _ATOMS and not _plain(v):
                return fn(*args, **kwargs)
        if kwargs and not all(_plain(v) for v in kwargs.values()):
            return fn(*args, **kwargs)
        return cached(*args, **kwargs)

    wrapper.cache_info = cached.cache_info
    return wrapper


# --------------------------------------------------------------------------- helpers
def ntuple(value, n: int, name: str, where: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` as a tuple of ``n`` ints, each at least ``minimum`` (else ``ValueError``)."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            value = tuple(value) * n
        if len(value) != n:
            raise ConvlabError(f"{where}: {name} must be an int or a tuple of {n} ints, got {tuple(value)}")
        out = tuple(value)
    else:
        out = (value,) * n
    # refuse 1.5, True, "3": a size is never silently truncated to an int
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in out):
        raise ConvlabError(f"{where}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    out = tuple(int(v) for v in out)
    if any(v > INT64_MAX for v in out):
        raise ConvlabError(f"{where}: {name} must fit in int64 (at most {INT64_MAX}), got {value!r}")
    if any(v < minimum for v in out):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ConvlabError(f"{where}: {name} must be {kind}, got {value!r}")
    return out


def _fmt(t) -> str:
    """(4, 4) -> '4x4'."""
    return "x".join(str(v) for v in t)


def _brief(t) -> str:
    """(3, 3) -> '3', (3, 5) -> '3x5'."""
    return str(t[0]) if len(set(t)) == 1 else _fmt(t)


def _scalar_or_tuple(fn, size, *args):
    """Apply a per-dimension function to an int or, elementwise, to tuples."""
    if isinstance(size, (list, tuple)):
        n = len(size)
        cols = [a if isinstance(a, (list, tuple)) else (a,) * n for a in args]
        return tuple(fn(s, *(c[i] for c in cols)) for i, s in enumerate(size))
    return fn(size, *args)


# --------------------------------------------------------------------------- sizes
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution: ``floor((W + 2P - D(K-1) - 1) / S) + 1``.

    ``size`` and the arguments may be ints or per-dimension tuples; ``padding`` may also be
    ``'valid'``, ``'same'`` or per-dimension ``(lo, hi)`` pairs. Raises ``ValueError`` when
    the dilated kernel does not fit in the padded input.

    >>> conv_output_size(224, 7, stride=2, padding=3)
    112
    """
    def one(w, k, s, p, d):
        w, k, s, d = _sizes("conv_output_size", w, k, s, d)
        lo, hi = _pad_pair(p, w, k, s, d, "conv_output_size")
        span = d * (k - 1) + 1
        if w + lo + hi < span:
            raise ConvlabError(
                f"conv_output_size: padded input {w + lo + hi} is smaller than the dilated kernel {span} "
                f"(size {w}, kernel {k}, dilation {d}, padding {p})"
            )
        return (w + lo + hi - span) // s + 1

    return _scalar_or_tuple(one, size, kernel_size, stride, _per_dim_padding(padding, size), dilation)


def _per_dim_padding(padding, size):
    if isinstance(padding, str) or not isinstance(size, (list, tuple)):
        return padding
    if isinstance(padding, (list, tuple)) and len(padding) == 1:
        return tuple(padding) * len(size)
    return padding


def _sizes(where, w, k, s, d):
    """Check one dimension's input size, kernel, stride and dilation (ints; size >= 0, others >= 1)."""
    return (validate.nonneg_int(w, where, "size"), validate.positive_int(k, where, "kernel_size"),
            validate.positive_int(s, where, "stride"), validate.positive_int(d, where, "dilation"))


def _pad_pair(p, w, k, s, d, where="padding"):
    if isinstance(p, str):
        validate.choice(p, ("valid", "same"), where, "padding")
        return (0, 0) if p == "valid" else same_padding(w, k, s, d)
    if isinstance(p, (list, tuple)):
        if len(p) != 2:
            raise ConvlabError(f"{where}: padding must be an int, 'valid', 'same' or (before, after), got {p!r}")
        return validate.nonneg_int(p[0], where, "padding"), validate.nonneg_int(p[1], where, "padding")
    p = validate.nonneg_int(p, where, "padding")
    return p, p


def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Output length of a transposed convolution: ``(W-1)S - 2P + D(K-1) + output_padding + 1``.

    >>> conv_transpose_output_size(16, 4, stride=2, padding=1)
    32
    """
    def one(w, k, s, p, op, d):
        where = "conv_transpose_output_size"
        w, k, s, d = _sizes(where, w, k, s, d)
        p, op = validate.nonneg_int(p, where, "padding"), validate.nonneg_int(op, where, "output_padding")
        if op >= max(s, d):
            raise ConvlabError(f"{where}: output_padding {op} must be smaller than either stride {s} or dilation {d}")
        out = (w - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            raise ConvlabError(f"{where}: output size {out} is not positive (size {w}, kernel {k}, stride {s}, "
                               f"padding {p}, output_padding {op}, dilation {d})")
        return out

    return _scalar_or_tuple(one, size, kernel_size, stride, padding, output_padding, dilation)


def _pool_out(w, k, s, p, d, ceil_mode):
    span = d * (k - 1) + 1
    num = w + 2 * p - span
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= w + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def pool_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Output length of max/avg pooling (``stride`` defaults to ``kernel_size``).

    ``ceil_mode=True`` rounds up, keeping a last partial window, but never one that would start
    in the right padding (torch's rule).

    >>> pool_output_size(5, 2), pool_output_size(5, 2, ceil_mode=True)
    (2, 3)
    """
    stride = kernel_size if stride is None else stride
    def one(w, k, s, p, d):
        where = "pool_output_size"
        w, k, s, d = _sizes(where, w, k, s, d)
        p = validate.nonneg_int(p, where, "padding")
        if 2 * p > k:  # torch's rule, on the undilated kernel (as pool_geometry)
            raise ConvlabError(f"{where}: padding {p} should be at most half of kernel size {k}")
        out = _pool_out(w, k, s, p, d, ceil_mode)
        if out < 1:
            raise ConvlabError(f"{where}: output size {out} is too small (size {w}, kernel {k}, stride {s}, "
                               f"padding {p}, dilation {d})")
        return out

    return _scalar_or_tuple(one, size, kernel_size, stride, padding, dilation)


def same_padding(size, kernel_size, stride=1, dilation=1):
    """Padding ``(before, after)`` that gives ``ceil(size / stride)`` outputs (TensorFlow's rule).

    For stride 1 this is torch's ``padding='same'``: total ``D(K-1)``, split evenly, the odd
    pixel at the end. For stride > 1 (which torch refuses) the total is
    ``max((ceil(W/S) - 1) S + D(K-1) + 1 - W, 0)``, again with the odd pixel at the end.

    >>> same_padding(5, 3), same_padding(5, 4), same_padding(224, 7, stride=2)
    ((1, 1), (1, 2), (2, 3))
    """
    def one(w, k, s, d):
        w, k, s, d = _sizes("same_padding", w, k, s, d)
        out = -(-w // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - w, 0)
        return total // 2, total - total // 2

    return _scalar_or_tuple(one, size, kernel_size, stride, dilation)


def unvisited(size, kernel_size, stride=1, padding=0, dilation=1):
    """How many input rows (or columns) no kernel tap ever reads.

    A stride that does not fit floors and leaves the last rows unread; a stride larger than
    the dilated kernel, or a dilation, leaves gaps. Zero means every input pixel matters.

    >>> unvisited(8, 3, stride=2), unvisited(7, 1, stride=2), unvisited(224, 7, stride=2, padding=3)
    (1, 3, 0)
    """
    def one(w, k, s, p, d):
        w, k, s, d = _sizes("unvisited", w, k, s, d)
        validate.nonneg_int(w, "unvisited", "size", max=1 << 24)  # the answer is counted pixel by pixel
        lo, hi = _pad_pair(p, w, k, s, d, "unvisited")
        validate.nonneg_int(w + lo + hi, "unvisited", "the padded size", max=1 << 24)
        out = (w + lo + hi - d * (k - 1) - 1) // s + 1
        seen = {o * s + j * d - lo for o in range(max(out, 0)) for j in range(k)}
        return sum(1 for i in range(w) if i not in seen)

    return _scalar_or_tuple(one, size, kernel_size, stride, _per_dim_padding(padding, size), dilation)


# --------------------------------------------------------------------------- receptive field
RF = namedtuple("RF", ["size", "jump", "start"])
RF.__doc__ = """Receptive field after a layer: ``size`` input pixels seen by one output pixel,
``jump`` input pixels between neighbouring outputs, ``start`` centre of the first output's field."""


def receptive_field(layers):
    """Receptive field size and jump after each layer of a stack.

    ``layers``: items ``(kernel, stride)``, ``(kernel, stride, padding)``,
    ``(kernel, stride, padding, dilation)``, dicts with those keys, or layer objects with
    ``kernel_size``/``stride`` (``padding``/``dilation`` optional) attributes. Per axis (the
    first axis of tuples is used). Rule: ``size += D(K-1) * jump``; ``jump *= S``.

    >>> [(r.size, r.jump) for r in receptive_field([(3, 1), (2, 2), (3, 1)])]
    [(3, 1), (4, 2), (8, 2)]
    """
    size, jump, start = 1, 1, 0.5
    out = []
    for layer in layers:
        k, s, p, d = _layer_params(layer)
        span = d * (k - 1) + 1
        start = start + ((span - 1) / 2 - p) * jump
        size = size + (span - 1) * jump
        jump = jump * s
        out.append(RF(size, jump, start))
    return out


def _first(v):
    return v[0] if isinstance(v, (list, tuple)) else v


def _layer_params(layer):
    if isinstance(layer, dict):
        get = layer.get
        k = get("kernel_size", get("kernel"))
        s, p, d = get("stride", 1), get("padding", 0), get("dilation", 1)
    elif isinstance(layer, (list, tuple)):
        k, s, p, d = (tuple(layer) + (1, 0, 1)[len(layer) - 1:])[:4]
    elif hasattr(layer, "kernel_size"):
        k = layer.kernel_size
        s = getattr(layer, "stride", None) or k
        p, d = getattr(layer, "padding", 0), getattr(layer, "dilation", 1)
    else:
        raise validate.ArgumentTypeError(f"receptive_field: each of layers must be (kernel, stride[, padding[, "
                                         f"dilation]]), a dict or a layer with kernel_size, got {layer!r:.60}")
    k, s, d = int(_first(k)), int(_first(s if s is not None else k)), int(_first(d))
    p = 0 if isinstance(p, str) else int(_first(p))
    return k, s, p, d


# --------------------------------------------------------------------------- counts
def conv_params(in_channels, out_channels, kernel_size, groups=1, bias=True, ndim=2):
    """Learnable parameters of a convolution: ``out * (in/groups) * prod(K) (+ out)``.

    >>> conv_params(3, 64, 3)
    1792
    """
    ndim = validate.integer(ndim, "conv_params", "ndim", 1, 3)
    k = ntuple(kernel_size, ndim, "kernel_size", "conv_params")
    cin, cout = _channels("conv_params", in_channels, out_channels, groups)
    return cout * (cin // groups) * math.prod(k) + (cout if bias else 0)


def conv_macs(in_channels, out_channels, kernel_size, output_size, groups=1):
    """Multiply-accumulates of a convolution producing ``output_size`` (per sample).

    >>> conv_macs(3, 64, 3, (32, 32))
    1769472
    """
    out = output_size if isinstance(output_size, (list, tuple)) else (output_size,)
    k = ntuple(kernel_size, len(out), "kernel_size", "conv_macs")
    out = tuple(validate.nonneg_int(o, "conv_macs", "output_size") for o in out)
    cin, cout = _channels("conv_macs", in_channels, out_channels, groups)
    return cout * (cin // groups) * math.prod(k) * math.prod(out)


def _channels(where, in_channels, out_channels, groups):
    """Positive channel counts, both divisible by a positive ``groups`` (torch's rule)."""
    cin = validate.positive_int(in_channels, where, "in_channels")
    cout = validate.positive_int(out_channels, where, "out_channels")
    g = validate.positive_int(groups, where, "groups")
    for name, c in (("in_channels", cin), ("out_channels", cout)):
        if c % g:
            raise ConvlabError(f"{where}: {name} {c} is not divisible by groups {g}")
    return cin, cout


# --------------------------------------------------------------------------- validated geometry
@dataclass(frozen=True)
class ConvGeometry:
    """Everything the fast kernels need about one convolution, already checked.

    ``in_size`` is the (unpadded) input's spatial size, ``out_size`` the output's, ``pads``
    one ``(before, after)`` pair per spatial dimension.
    """

    kernel: tuple
    stride: tuple
    dilation: tuple
    pads: tuple
    groups: int
    in_size: tuple
    out_size: tuple

    @property
    def nd(self) -> int:
        return len(self.kernel)

    @property
    def padded(self) -> tuple:
        return tuple(w + lo + hi for w, (lo, hi) in zip(self.in_size, self.pads))


def check_layout(where, shape, nd, channels_expected=None):
    if len(shape) not in (nd + 1, nd + 2):
        hint = ""
        if channels_expected is not None and len(shape) > 1 and shape[-1] == channels_expected:
            hint = " (the last axis looks like channels: convert NHWC with x.permute(0, 3, 1, 2))"
        raise ConvlabError(f"{where}: expected a {nd + 2}-D input in {_LAYOUT[nd]} layout (or {nd + 1}-D unbatched), "
                         f"got shape {tuple(shape)}{hint}")


@_memoized
def conv_geometry(where, x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1, transposed=False,
                  output_padding=0) -> ConvGeometry:
    """Check a convolution's arguments against its input/weight shapes and size it.

    ``x_shape`` is batched ``(N, C, *spatial)``; ``w_shape`` is ``(O, C/groups, *K)`` (or
    ``(C, O/groups, *K)`` when ``transposed``). For a transposed convolution the returned
    geometry describes the forward convolution it is the adjoint of: its ``in_size`` is the
    transposed op's output size and its ``out_size`` the transposed op's input size.
    """
    nd = len(x_shape) - 2
    if len(w_shape) != nd + 2:
        raise ConvlabError(f"{where}: weight must be {nd + 2}-D (out_channels, in_channels/groups, {'x'.join('k' * nd)}), "
                         f"got shape {tuple(w_shape)}")
    groups = int(groups)
    if groups < 1:
        raise ConvlabError(f"{where}: groups must be positive, got {groups}")
    kernel = tuple(int(k) for k in w_shape[2:])
    if any(k < 1 for k in kernel):
        raise ConvlabError(f"{where}: kernel size must be positive, got weight shape {tuple(w_shape)}")
    if w_shape[0] < 1 or w_shape[1] < 1:
        raise ConvlabError(f"{where}: weight must have at least one output and one input channel, "
                         f"got weight shape {tuple(w_shape)}")
    stride = _ntuple(stride, nd, "stride", where)
    dilation = _ntuple(dilation, nd, "dilation", where)
    c = x_shape[1]
    in_size = tuple(int(v) for v in x_shape[2:])
    if transposed:
        if c != w_shape[0]:
            raise ConvlabError(f"{where}: input has {c} channels but weight expects {w_shape[0]} "
                             f"(weight shape {tuple(w_shape)}: in_channels, out_channels/groups, ...)")
        if c % groups:
            raise ConvlabError(f"{where}: in_channels {c} is not divisible by groups {groups}")
        if isinstance(padding, str):
            raise ConvlabError(f"{where}: padding must be an int or a tuple for a transposed convolution, got {padding!r}")
        pad = _ntuple(padding, nd, "padding", where, minimum=0)
        opad = _ntuple(output_padding, nd, "output_padding", where, minimum=0)
        for o, s, d in zip(opad, stride, dilation):
            if o >= s and o >= d:
                raise ConvlabError(f"{where}: output_padding {opad} must be smaller than either stride {stride} "
                                 f"or dilation {dilation}")
        out = tuple((w - 1) * s - 2 * p + d * (k - 1) + op + 1
                    for w, k, s, p, op, d in zip(in_size, kernel, stride, pad, opad, dilation))
        if any(o < 1 for o in out):
            raise ConvlabError(f"{where}: output size {_fmt(out)} is not positive (input {_fmt(in_size)}, "
                             f"kernel {_brief(kernel)}, stride {_brief(stride)}, padding {_brief(pad)}, "
                             f"dilation {_brief(dilation)}, output_padding {_brief(opad)})")
        return ConvGeometry(kernel, stride, dilation, tuple((p, p) for p in pad), groups, out, in_size)
    cg = w_shape[1]
    if c != cg * groups:
        extra = f" x groups {groups}" if groups > 1 else ""
        hint = ""
        if nd == 2 and len(x_shape) == 4 and x_shape[-1] == cg * groups and c != x_shape[-1]:
            hint = "; the input looks like NHWC (channels last): convlab expects NCHW, use x.permute(0, 3, 1, 2)"
        raise ConvlabError(f"{where}: input has {c} channels but weight expects {cg * groups}{extra} "
                         f"(weight shape {tuple(w_shape)}){hint}")
    if w_shape[0] % groups:
        raise ConvlabError(f"{where}: out_channels {w_shape[0]} is not divisible by groups {groups}")
    pads = _conv_pads(where, padding, in_size, kernel, stride, dilation)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(w + lo + hi for w, (lo, hi) in zip(in_size, pads))
    if any(p < s for p, s in zip(padded, span)):
        pdesc = _brief(tuple(lo for lo, _ in pads)) if all(lo == hi for lo, hi in pads) else str(pads)
        raise ConvlabError(f"{where}: padded input {_fmt(padded)} is smaller than the dilated kernel {_fmt(span)} "
                         f"(kernel {_brief(kernel)}, dilation {_brief(dilation)}, padding {pdesc})")
    out = tuple((p - sp) // s + 1 for p, sp, s in zip(padded, span, stride))
    return ConvGeometry(kernel, stride, dilation, pads, groups, in_size, out)


def _conv_pads(where, padding, in_size, kernel, stride, dilation):
    nd = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            return tuple(same_padding(w, k, s, d) for w, k, s, d in zip(in_size, kernel, stride, dilation))
        raise ConvlabError(f"{where}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    if isinstance(padding, (list, tuple)) and padding and all(isinstance(p, (list, tuple)) for p in padding):
        if len(padding) != nd or any(len(p) != 2 or min(p) < 0 for p in padding):
            raise ConvlabError(f"{where}: explicit padding must be {nd} non-negative (before, after) pairs, got {padding}")
        return tuple((int(a), int(b)) for a, b in padding)
    return tuple((p, p) for p in _ntuple(padding, nd, "padding", where, minimum=0))


@_memoized
def pool_geometry(where, x_shape, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False) -> ConvGeometry:
    """Check pooling arguments and size the output; ``pads`` include the extra after-padding
    that ``ceil_mode`` windows reach into."""
    nd = len(x_shape) - 2
    kernel = _ntuple(kernel_size, nd, "kernel_size", where)
    no_stride = stride is None or (isinstance(stride, (list, tuple)) and not stride)  # torch: [] means kernel_size
    stride = kernel if no_stride else _ntuple(stride, nd, "stride", where)
    dilation = _ntuple(dilation, nd, "dilation", where)
    pad = _ntuple(padding, nd, "padding", where, minimum=0)
    if any(2 * p > k for p, k in zip(pad, kernel)):  # torch's rule, on the undilated kernel
        raise ConvlabError(f"{where}: padding {_brief(pad)} should be at most half of kernel size {_brief(kernel)}")
    in_size = tuple(int(v) for v in x_shape[2:])
    out = tuple(_pool_out(w, k, s, p, d, ceil_mode) for w, k, s, p, d in zip(in_size, kernel, stride, pad, dilation))
    if any(o < 1 for o in out):
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        padded = tuple(w + 2 * p for w, p in zip(in_size, pad))
        raise ConvlabError(f"{where}: padded input {_fmt(padded)} is smaller than the dilated kernel {_fmt(span)} "
                         f"(kernel_size {_brief(kernel)}, dilation {_brief(dilation)}, padding {_brief(pad)})")
    pads = tuple((p, max(p, (o - 1) * s + d * (k - 1) + 1 - w - p))
                 for w, k, s, p, d, o in zip(in_size, kernel, stride, pad, dilation, out))
    return ConvGeometry(kernel, stride, dilation, pads, 1, in_size, out)


def check_strict(where, geom: ConvGeometry) -> None:
    """``strict=True``: raise when a stride/dilation leaves input rows or columns unread."""
    missed = tuple(unvisited(w, k, s, p, d) for w, k, s, p, d in
                   zip(geom.in_size, geom.kernel, geom.stride, geom.pads, geom.dilation))
    if any(missed):
        axes = ("rows", "columns") if geom.nd == 2 else tuple(f"axis-{i} positions" for i in range(geom.nd))
        what = ", ".join(f"{m} {a}" for m, a in zip(missed, axes) if m)
        raise ConvlabError(f"{where}: strict=True and {what} of the {_fmt(geom.in_size)} input are never visited "
                         f"(kernel {_brief(geom.kernel)}, stride {_brief(geom.stride)}, padding {geom.pads}, "
                         f"dilation {_brief(geom.dilation)})")


# --------------------------------------------------------------------------- model-level (convlab.inspect)
def trace(model, input_shape, *args, **kwargs):
    """Per-layer output shapes of ``model`` on ``input_shape`` (see :func:`convlab.inspect.trace`)."""
    from .inspect import trace as _trace

    return _trace(model, input_shape, *args, **kwargs)


def min_input_size(model, *args, **kwargs):
    """Smallest input size ``model`` accepts (see :func:`convlab.inspect.min_input_size`)."""
    from .inspect import min_input_size as _min_input_size

    return _min_input_size(model, *args, **kwargs)

# the library's own callers (functional, ops) use these: their arguments are already checked
# by the public function they serve, so they skip the signature check of the public names below
_ntuple, _check_layout, _conv_geometry, _pool_geometry, _check_strict = (
    ntuple, check_layout, conv_geometry, pool_geometry, check_strict)

from . import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
