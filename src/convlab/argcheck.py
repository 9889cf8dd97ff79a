"""Argument checks derived from the public API's own signatures (one place for argument coercion).

A parameter's *name* says what it takes wherever torch gives that name one meaning (``dim``,
``keepdim``, ``dtype``, ``device``, ``generator``, ``optimizer``, ``groups``...); otherwise its
annotation (a plain ``float``/``int``/``bool``/``str``, optionally ``| None``) or its default (a
bool) does; a parameter named like a tensor (``input``, ``a``, ``tensor``...) takes a Tensor
(arrays, lists and numbers are converted). :func:`checked` wraps a function (or a class's
``__init__``, or a ``Tensor`` method) so that a wrong type is refused by name before the body runs,
in torch's words (``sum: argument 'keepdim' must be a bool, got 0.5 (float)``), and so that running out
of memory, overflowing a C integer or nesting too deeply surfaces as a ConvlabError naming the
function instead of a bare internal error. Values (ranges, shapes) are the functions' own checks.

>>> def f(x, dim: int = 0, keepdim: bool = False): return dim
>>> checked(f)(1, keepdim=0.5)
Traceback (most recent call last):
...
convlab.validate.ArgumentTypeError: f: argument 'keepdim' must be a bool, got 0.5 (float)
"""

from __future__ import annotations

import functools
import inspect
import numbers

import numpy as np

from .validate import INT64_MAX, ArgumentTypeError, ConvlabError, _is_int, _safe_repr

TENSOR_PARAMS = frozenset({"input", "a", "tensor", "t"})
TENSOR_OPTIONAL = frozenset({"weight", "bias", "target", "running_mean", "running_var", "other", "pos_weight"})

# names with one meaning across torch's API
BOOL_NAMES = frozenset({
    "keepdim", "descending", "unbiased", "as_tuple", "requires_grad", "equal_nan", "inplace", "largest", "sorted",
    "stable", "ceil_mode", "count_include_pad", "return_indices", "non_blocking", "drop_last", "shuffle", "affine",
    "track_running_stats", "elementwise_affine", "nesterov", "amsgrad", "maximize", "log_target", "size_average",
    "reduce", "recompute_scale_factor", "antialias", "align_corners", "three_phase", "cycle_momentum", "sparse",
    "scale_grad_by_freq", "persistent_workers", "pin_memory", "return_counts", "return_inverse", "right"})
INT_NAMES = frozenset({
    "groups", "batch_size", "num_workers", "prefetch", "num_classes", "ignore_index", "num_replicas", "rank",
    "upscale_factor", "downscale_factor", "chunks", "diagonal", "tile_bytes", "start_dim", "end_dim", "total_steps",
    "steps_per_epoch", "epochs", "step_size", "T_max", "T_0", "T_mult", "last_epoch", "height", "width",
    "num_samples", "divisor_override", "ndim", "k", "step_size_up", "step_size_down", "total_iters",
    "patience", "cooldown", "decimals"})  # (layer sizes such as in_channels are checked by the layers, in their own words)
SCALAR_NAMES = frozenset({"fill_value", "negative_slope", "rtol", "atol", "gain", "min_val", "max_val",
                          "div_factor", "final_div_factor", "pct_start", "base_momentum", "max_momentum", "correction",
                          "dampening", "lambd", "margin", "label_smoothing", "delta", "eta_min", "start_factor",
                          "end_factor", "factor", "gamma", "weight_decay", "eps", "val", "p"} - {"lambd"})
# containers: a list/tuple/range/array/Tensor, never None, a number or a string
SEQUENCE_NAMES = frozenset({"indices", "lengths", "x_shape", "w_shape", "layers", "unflattened_size",
                            "betas", "classes", "scale", "ratio", "datasets"})
TUPLE_DIM = frozenset({"sum", "mean", "std", "var", "amax", "amin", "all", "any", "prod", "norm", "logsumexp",
                       "squeeze", "count_nonzero", "flip", "nansum", "nanmean", "std_mean", "var_mean", "roll",
                       "vector_norm"})
# (function, parameter) -> kind, where a name means something particular in a few functions
FN_RULES = {(f, p): "scalar" for f in ("fill_", "pad", "masked_fill", "masked_fill_", "constant_", "conv_pad")
            for p in ("value",)}
FN_RULES.update({(f, p): "bound" for f in ("clamp", "clamp_", "clip", "clip_") for p in ("min", "max")})
FN_RULES.update({(f, p): "tensor_strict" for f in ("equal", "allclose", "mm", "bmm", "view_as", "reshape_as",
                                                   "expand_as", "type_as", "gather", "index_select", "masked_select")
                 for p in ("a", "b", "other", "mat2", "index", "mask")})
FN_RULES.update({("linspace", "start"): "scalar", ("linspace", "end"): "scalar", ("normal", "mean"): "bound",
                 ("normal", "std"): "bound", ("normal", "size"): "shape", ("copy_", "src"): "arraylike",
                 ("collate", "items"): "sequence", ("default_collate", "batch"): "sequence",
                 ("call_transform", "transform"): "callable", ("WeightedRandomSampler", "weights"): "arraylike"})
FN_RULES.update({(f, p): "tensor_strict" for f in ("cosine_similarity", "pairwise_distance") for p in ("x1", "x2")})
FN_RULES.update({(f, p): k for f in ("scatter", "scatter_add") for p, k in (("index", "tensor_strict"), ("src", "bound"),
                                                                            ("value", "scalar"))})
FN_RULES.update({("narrow", "start"): "int", ("narrow", "length"): "int", ("bincount", "minlength"): "int",
                 ("broadcast_to", "size"): "shape", ("local_response_norm", "size"): "int",
                 ("threshold", "threshold"): "scalar", ("threshold", "value"): "scalar"})
FN_RULES.update({(f, "tensors"): "tensors" for f in ("cat", "concatenate", "concat", "stack", "hstack", "vstack")})
GENERATORS = []  # [convlab Generator], filled on first use


def _kind_of(fn_name: str, p):
    """``(kind, optional)`` for one parameter, or None when nothing says what it takes."""
    d, empty = p.default, inspect.Parameter.empty
    name = p.name
    if (fn_name, name) in FN_RULES:
        return FN_RULES[fn_name, name], d is None or name == "transform"
    if name in ("device", "dtype", "generator", "optimizer") and fn_name != "type" \
            and (d is None or d is empty or name == "device"):
        return name, d is None or d is empty and name == "generator"
    if name == "dim" and (d is empty or d is None or _is_int(d)):
        return ("dims" if fn_name in TUPLE_DIM else "dim"), d is None
    if name == "rng":
        return "generator", True
    if name == "img":
        return "image", False
    if name in BOOL_NAMES and (isinstance(d, bool) or d is None or d is empty):
        return "bool", d is None
    if name in INT_NAMES and (_is_int(d) or d is None or d is empty):
        return "int", d is None or name == "batch_size"
    if name == "seed":
        return "seed", True
    if name == "params" and d is empty:
        return "params", False
    if name == "lr_lambda":
        return "callable", False
    if name == "dataset" and d is empty:
        return "dataset", False
    if name in SEQUENCE_NAMES and (d is empty or d is None or isinstance(d, (tuple, list))):
        return "sequence", d is None
    if name in SCALAR_NAMES and (isinstance(d, (int, float)) or d is None or d is empty):
        return "scalar", d is None
    if d is empty:
        return ("str", False) if p.annotation in ("str", str) else None
    ann = "" if p.annotation is empty else (
        p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "?"))
    ann = str(ann).replace(" ", "")
    optional = d is None or ann.endswith("|None") or ann.startswith("None|")
    plain = ann.removesuffix("|None").removeprefix("None|")
    if plain in ("float", "bool", "str", "int"):
        return ("intlike" if plain == "int" else plain), optional
    if ann:
        return None  # a union or a richer type: the function checks it itself
    if isinstance(d, bool):  # unannotated: only a bool default is taken as a declaration ("flag")
        return "flag", True
    if isinstance(d, str):  # an option named by a string ('mean', 'zeros', 'relu'); some also take numbers/tuples
        return "option", True
    return None


def _scalar(v) -> bool:
    """A real number, a bool, or a one-element real array / tensor (torch's ``Number`` or 0-d Tensor)."""
    if isinstance(v, (numbers.Real, np.number, np.bool_)):
        return not isinstance(v, (complex, np.complexfloating))
    shape = getattr(v, "shape", None)
    kind = getattr(np.dtype(getattr(v, "dtype", "O")) if not hasattr(getattr(v, "dtype", None), "numpy_dtype")
                   else v.dtype.numpy_dtype, "kind", "O") if shape is not None else "O"
    return shape is not None and int(np.prod(shape)) == 1 and kind in "fiub"


def _bad_type(kind: str, v) -> bool:
    """True when ``v`` cannot be what a parameter of ``kind`` takes."""
    if kind in ("bool", "flag"):
        if isinstance(v, (bool, np.bool_)) or _is_int(v) and v in (0, 1):
            return False
        if kind == "bool":
            return True
        # an unannotated bool default: some also take a tuple (clip=(lo, hi)); never text or junk
        return isinstance(v, (str, bytes, dict, set, complex, float)) and not (isinstance(v, float) and v in (0.0, 1.0)) \
            or (isinstance(v, np.ndarray) and v.size != 1) or type(v) is object
    if kind == "int":
        return not (_is_int(v) and -INT64_MAX - 1 <= v <= INT64_MAX)
    if kind == "seed":
        return not (_is_int(v) and 0 <= v <= 2**64 - 1)
    if kind == "params":  # a Tensor is the optimizer's own refusal ("... but got a Tensor")
        return isinstance(v, (str, bytes, dict)) or not hasattr(v, "__iter__")
    if kind == "callable":  # one function, or one per parameter group
        return not (callable(v) or isinstance(v, (list, tuple)) and v and all(callable(f) for f in v))
    if kind == "dataset":  # map-style (__getitem__) or iterable-style (__iter__)
        return not (hasattr(v, "__getitem__") or hasattr(v, "__iter__")) or isinstance(v, (str, bytes))
    if kind == "shape":
        return not (_is_int(v) or isinstance(v, (tuple, list)) and all(_is_int(s) for s in v))
    if kind == "arraylike":
        return isinstance(v, (str, bytes, dict, set, complex)) or type(v) is object or \
            isinstance(v, np.ndarray) and v.dtype.kind not in "fiub"
    if kind == "image":
        if isinstance(v, (_tensor_class(), np.ndarray)):
            return False
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover - Pillow is a dependency
            return True
        return not isinstance(v, Image.Image)
    if kind == "sequence":
        return isinstance(v, (str, bytes, dict, set)) or not hasattr(v, "__len__") or \
            isinstance(v, np.ndarray) and v.ndim != 1
    if kind == "dim":
        return not _is_int(v)
    if kind == "dims":
        return not (_is_int(v) or isinstance(v, (tuple, list)) and all(_is_int(d) for d in v))
    if kind == "scalar":
        return not _scalar(v) or getattr(v, "ndim", 0) != 0
    if kind == "float":
        return not (_scalar(v) or isinstance(v, (bool, np.bool_)))
    if kind == "str":
        return not isinstance(v, str)
    if kind == "intlike":  # ints, or the tuples/lists/strings that many int options also take
        return isinstance(v, (float, complex, bytes, dict, set)) and not (isinstance(v, float) and v.is_integer()) \
            or (isinstance(v, np.ndarray) and v.ndim > 0) or type(v) is object
    if kind == "dtype":
        from .validate import dtype

        try:
            dtype(v, "")
        except ConvlabError:
            return True
        return False
    if kind == "device":
        return not isinstance(v, str)
    if kind == "option":
        return isinstance(v, (bytes, dict, set, complex)) or type(v) is object or isinstance(v, np.ndarray) and v.size != 1
    if kind == "bound":
        return not (_scalar(v) or isinstance(v, (np.ndarray, _tensor_class())))
    if kind == "tensor_strict":
        return not isinstance(v, _tensor_class())
    if kind == "tensors":
        return not (isinstance(v, (tuple, list)) and all(isinstance(t, _tensor_class()) for t in v))
    if kind == "generator":
        if not GENERATORS:
            from .random import Generator

            GENERATORS.append(Generator)
        return not isinstance(v, (GENERATORS[0], np.random.Generator))
    if kind == "optimizer":
        from .optim.optimizer import Optimizer

        return not isinstance(v, Optimizer)
    return False


_WORDS = {"bool": "a bool", "flag": "a bool", "scalar": "a real number", "float": "a real number", "str": "a string",
          "dim": "an int", "dims": "an int or a tuple of ints", "int": "an int", "intlike": "an int (or a tuple of ints)",
          "dtype": "a dtype",
          "device": "a device (such as 'cpu')", "option": "str", "seed": "a non-negative int", "callable": "a function",
          "params": "an iterable of Tensors or dicts", "dataset": "a Dataset",
          "sequence": "a sequence (list or tuple)",
          "shape": "a tuple of ints", "arraylike": "a Tensor or an array of numbers", "image": "a PIL Image or a Tensor",
          "bound": "a number or a Tensor", "tensor_strict": "a Tensor", "tensors": "a sequence of Tensors",
          "generator": "a Generator (convlab.Generator, as torch.Generator)", "optimizer": "an Optimizer"}


def _refuse(where: str, name: str, kind: str, v):
    """The refusal: ``WHERE: argument 'NAME' must be WHAT, got VALUE (TYPE)`` (the words of
    torch's ``argument 'keepdim' must be bool, not float``, with the value shown)."""
    if kind == "dtype" and v is not None:
        from .validate import dtype

        dtype(v, where)  # its own words: "dtype 'foo' is not a data type" / "unsupported dtype complex64"
    if kind == "seed":
        return ArgumentTypeError(f"{where}: seed must be a non-negative integer, got {_safe_repr(v, 40)}")
    if kind == "optimizer":
        return ArgumentTypeError(f"{where}: {type(v).__name__} is not an Optimizer (argument '{name}')")
    if kind == "params":
        return ArgumentTypeError(f"{where}: params argument given to the optimizer should be an iterable of Tensors or "
                                 f"dicts, but got {type(v).__name__}")
    got = "None" if v is None else f"{_safe_repr(v, 40)} ({type(v).__name__})"
    if kind in ("tensor_strict", "image", "tensors"):
        got = type(v).__name__
    return ArgumentTypeError(f"{where}: argument '{name}' must be {_WORDS[kind]}, got {got}")


_TENSOR = []  # [Tensor], filled on first use (argcheck is imported before the Tensor class exists)


def _tensor_class():
    if not _TENSOR:
        from .tensor_class import Tensor

        _TENSOR.append(Tensor)
    return _TENSOR[0]


def as_tensor_arg(v, where: str, name: str, convert: bool = True):
    """``v`` as a Tensor for argument ``name`` of ``where``: a Tensor passes; arrays, lists and
    numbers are converted when ``convert`` (else refused, as torch refuses them); anything else is
    an :class:`ArgumentTypeError` in torch's words."""
    if isinstance(v, _tensor_class()):
        return v
    if convert and isinstance(v, (np.ndarray, np.generic, list, tuple, int, float)) \
            and not isinstance(v, (bool, np.bool_)):
        from .creation import tensor

        try:
            return tensor(v)
        except (TypeError, ValueError) as exc:
            raise ArgumentTypeError(f"{where}: argument '{name}' must be a Tensor, got {type(v).__name__} ({exc})") \
                from None
    raise ArgumentTypeError(f"{where}: argument '{name}' must be a Tensor, got {type(v).__name__}")


def _plan(fn, where: str, tensors: bool):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    plan = []  # (position or None, name, kind, optional)
    for i, p in enumerate(sig.parameters.values()):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "self":
            continue
        pos = i if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else None
        if (where, p.name) in FN_RULES:
            plan.append((pos, p.name, FN_RULES[where, p.name], p.default is None or p.name == "transform"))
            continue
        if tensors and (p.name in TENSOR_PARAMS and p.default is inspect.Parameter.empty
                        or p.name in TENSOR_OPTIONAL and p.default in (None, inspect.Parameter.empty)):
            plan.append((pos, p.name, "tensor", p.default is None))
            continue
        kind = _kind_of(where, p)
        if kind:
            plan.append((pos, p.name, kind[0], kind[1]))
    return plan


# Exact types that a parameter of each kind always takes: a value of one of them is accepted
# by one set lookup, before any other check (``_bad_type`` decides everything else; the types
# listed here are exactly those for which it says "fine" whatever the value).
_ALWAYS_OK = {"bool": (bool,), "flag": (bool,), "str": (str,), "option": (str,), "dim": (int,),
              "scalar": (float, int, bool), "float": (float, int, bool), "intlike": (int, tuple, list, str),
              "device": (str,), "callable": (), "sequence": (tuple, list, range), "dims": (int,)}
_INT_KINDS = {"int": (-INT64_MAX - 1, INT64_MAX), "seed": (0, 2**64 - 1)}  # exact ints within bounds


def checked(fn, where: str | None = None, tensors: bool = True, wrap_empty: bool = True):
    """``fn`` with its arguments checked against its signature (see the module's docstring).

    The good path is short: an argument whose exact type its kind always takes (a Tensor for a
    tensor, a bool for a flag, an int within int64 for an int...) passes by one lookup, and
    only the others go through :func:`_bad_type` and the refusal's words."""
    where = where or fn.__name__
    plan = _plan(fn, where, tensors)
    if plan is None:
        return fn
    if not plan:
        return _guarded(fn, where) if wrap_empty else fn
    fast = [(pos, name, kind, optional, frozenset(_ALWAYS_OK.get(kind, ())), _INT_KINDS.get(kind))
            for pos, name, kind, optional in plan]
    tensor_types = set()  # Tensor and its subclasses seen so far (Parameter...), filled on first use

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        n = len(args)
        for pos, name, kind, optional, ok, bounds in fast:
            if pos is not None and pos < n:
                v = args[pos]
            elif kwargs and name in kwargs:
                v = kwargs[name]
            else:
                continue
            t = v.__class__
            if kind == "tensor":
                if t in tensor_types or v is None and optional:
                    continue
                if isinstance(v, _TENSOR[0] if _TENSOR else _tensor_class()):
                    tensor_types.add(t)
                    continue
                c = as_tensor_arg(v, where, name)
                if pos is not None and pos < n:
                    args = args[:pos] + (c,) + args[pos + 1:]
                else:
                    kwargs[name] = c
            elif t in ok or bounds is not None and t is int and bounds[0] <= v <= bounds[1]:
                continue
            elif v is None:
                if not optional:
                    raise _refuse(where, name, kind, v)
            elif _bad_type(kind, v):
                raise _refuse(where, name, kind, v)
        try:  # (as _call, inline: one frame less on every checked call)
            return fn(*args, **kwargs)
        except ConvlabError:
            raise
        except _RESOURCE_ERRORS as exc:
            raise _named(where, exc) from None

    return wrapper


class OutOfMemoryError(ConvlabError, MemoryError):
    """A call that would need more memory than there is (also a ``MemoryError``)."""


class TooLargeError(ConvlabError, OverflowError):
    """A value too large to compute with (also an ``OverflowError``)."""


_RESOURCE_ERRORS = (MemoryError, OverflowError, RecursionError)


def _call(fn, where, args, kwargs):
    try:
        return fn(*args, **kwargs)
    except ConvlabError:
        raise
    except _RESOURCE_ERRORS as exc:
        raise _named(where, exc) from None


def _named(where: str, exc: BaseException) -> ConvlabError:
    """The convlab error for a resource error (one of ``_RESOURCE_ERRORS``) raised inside ``where``."""
    if isinstance(exc, MemoryError):
        return OutOfMemoryError(f"{where}: not enough memory for this call ({exc or 'the allocation failed'})")
    if isinstance(exc, OverflowError):
        return TooLargeError(f"{where}: a value is too large ({exc})")
    return ConvlabError(f"{where}: the input is nested too deeply")


def _guarded(fn, where):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _call(fn, where, args, kwargs)

    return wrapper


def check_namespace(namespace: dict, names=None) -> None:
    """Replace the public functions of a module namespace by :func:`checked` versions and check
    the ``__init__`` of its public classes (once per class)."""
    for name in list(names if names is not None else namespace):
        obj = namespace.get(name)
        if name.startswith("_") or obj is None or getattr(obj, "__wrapped_checked__", False):
            continue
        if inspect.isclass(obj):
            init = obj.__init__
            if init is not object.__init__ and not getattr(obj.__dict__.get("__init__"), "__wrapped_checked__", False) \
                    and not issubclass(obj, BaseException) and inspect.isfunction(init):
                # a subclass without its own __init__ inherits the parent's checked one: check the
                # function underneath under the subclass's name; any other decorator on __init__
                # (functools.wraps-style: a user's, a tracer's) stays in place
                plain = init.__wrapped__ if getattr(init, "__wrapped_checked__", False) else init
                new = checked(plain, obj.__name__, tensors=False)
                new.__wrapped_checked__ = True
                obj.__init__ = new
        elif inspect.isfunction(obj):
            new = checked(obj)
            new.__wrapped_checked__ = True
            namespace[name] = new


def check_methods(cls) -> None:
    """Wrap the public methods of ``cls`` (the Tensor class) whose signatures say something, so a
    method refuses a wrong type by name as the function of the same name does. Methods with nothing
    to check stay unwrapped (no cost on the hot paths)."""
    for name, obj in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(obj) or getattr(obj, "__wrapped_checked__", False):
            continue
        new = checked(obj, name, tensors=False, wrap_empty=False)
        if new is not obj:
            new.__wrapped_checked__ = True
            setattr(cls, name, new)
