"""Shared validators: every public function and command checks its arguments with these.

Each validator takes the value, the name of the function (``where``) and of the argument
(``name``), and either returns the value in canonical form (an ``int``, a ``float``, a tuple, a
non-negative axis) or raises an error whose message names the function, the argument, the value
and what was expected.

The error classes let callers catch problems the way they would with torch:

* :class:`ConvlabError` derives from both ``ValueError`` and ``RuntimeError``: torch raises
  ``RuntimeError`` for most shape and configuration problems, Python code expects ``ValueError``;
  ``except`` either catches convlab's errors.
* :class:`DimensionError` is also an ``IndexError`` (torch raises ``IndexError`` for a dim out of
  range) and carries torch's message, ``Dimension out of range (expected to be in range of
  [-2, 1], but got 2)``.
* :class:`ArgumentTypeError` is also a ``TypeError`` (a float where an int belongs, a string
  where a number belongs).
* :class:`FileFormatError` is a :class:`ConvlabError` whose message starts with the file's path.

>>> dim(-1, 3, "softmax")
2
>>> dim(2, 2, "permute")
Traceback (most recent call last):
...
convlab.validate.DimensionError: permute: Dimension out of range (expected to be in range of [-2, 1], but got 2)
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import re

import numpy as np

INT64_MAX = 2**63 - 1
MAX_ELEMENTS = 2**40  # a declared size past this is refused before anything is allocated


class ConvlabError(ValueError, RuntimeError):
    """A bad argument, shape or configuration; catch it as ``ValueError`` or ``RuntimeError``."""


class DimensionError(ConvlabError, IndexError):
    """A dimension out of range (also an ``IndexError``, like torch's)."""


class ArgumentTypeError(ConvlabError, TypeError):
    """An argument of the wrong type (also a ``TypeError``)."""


class FileFormatError(ConvlabError):
    """A file that cannot be read as what it claims to be; the message starts with its path."""


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_))


def _fmt(v) -> str:
    return repr(v.item() if isinstance(v, np.generic) else v)


# --------------------------------------------------------------------------- dimensions
def dim(d, ndim: int, where: str, name: str = "dim", new_axis: bool = False) -> int:
    """``d`` in ``[-n, n)`` as a non-negative axis (``n = ndim``, ``ndim + 1`` for a new axis;
    a 0-d tensor accepts -1 and 0, as torch does)."""
    n = max(ndim + bool(new_axis), 1)
    if not _is_int(d):
        raise ArgumentTypeError(f"{where}: {name} must be an int, got {_fmt(d)}")
    if not -n <= d < n:
        suffix = "" if name == "dim" else f" for {name}"
        raise DimensionError(f"{where}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                             f"but got {int(d)}){suffix}")
    return int(d) % n


def dims(ds, ndim: int, where: str, name: str = "dims", unique: bool = True) -> tuple:
    """A sequence of dims, each checked with :func:`dim`; repeated axes refused when ``unique``."""
    if _is_int(ds):
        ds = (ds,)
    if not isinstance(ds, (tuple, list)):
        raise ArgumentTypeError(f"{where}: {name} must be an int or a sequence of ints, got {_fmt(ds)}")
    out = tuple(dim(d, ndim, where, "dim") for d in ds)
    if unique and len(set(out)) != len(out):
        raise ConvlabError(f"{where}: {name} {tuple(ds)!r} repeats an axis")
    return out


# --------------------------------------------------------------------------- integers
def integer(v, where: str, name: str, min: int | None = None, max: int | None = None) -> int:
    """An int (not a bool, not a float, not a string) in ``[min, max]``."""
    if not _is_int(v):
        kind = "an integer" if min is None else ("a positive integer" if min == 1 else f"an integer >= {min}")
        raise ArgumentTypeError(f"{where}: {name} must be {kind}, got {_fmt(v)} ({type(v).__name__})")
    v = int(v)
    if min is not None and v < min:
        want = "positive" if min == 1 else ("non-negative" if min == 0 else f">= {min}")
        raise ConvlabError(f"{where}: {name} must be {want}, got {v}")
    if max is not None and v > max:
        raise ConvlabError(f"{where}: {name} must be <= {max}, got {v}")
    return v


def positive_int(v, where: str, name: str, max: int | None = None) -> int:
    return integer(v, where, name, 1, max)


def nonneg_int(v, where: str, name: str, max: int | None = None) -> int:
    return integer(v, where, name, 0, max)


def int_tuple(v, n: int, where: str, name: str, min: int | None = None) -> tuple:
    """An int or a sequence of ``n`` ints (``kernel_size=3`` or ``(3, 5)``), each >= ``min``."""
    if _is_int(v):
        v = (v,) * n
    if not isinstance(v, (tuple, list)) or len(v) != n:
        raise ArgumentTypeError(f"{where}: {name} must be an int or a sequence of {n} ints, got {_fmt(v)}")
    return tuple(integer(x, where, name, min) for x in v)


def shape(v, where: str, name: str = "size") -> tuple:
    """A sequence of non-negative ints whose product fits in int64."""
    if _is_int(v):
        v = (v,)
    if not isinstance(v, (tuple, list)) or not all(_is_int(s) and s >= 0 for s in v):
        raise ConvlabError(f"{where}: {name} must be a sequence of non-negative integers, got {_fmt(v)}")
    out = tuple(int(s) for s in v)
    checked_prod(out, where, f"the number of elements of {name} {out}")
    return out


# --------------------------------------------------------------------------- real numbers
def real(v, where: str, name: str, min: float | None = None, max: float | None = None, *,
         min_open: bool = False, max_open: bool = False, finite: bool = True) -> float:
    """A real number (not a bool or a string), finite unless ``finite=False``, in the interval
    ``[min, max]`` (open at either end with ``min_open`` / ``max_open``). NaN is always refused."""
    if hasattr(v, "ndim") and getattr(v, "ndim", None) == 0 and hasattr(v, "item"):
        v = v.item()
    if not _is_real(v):
        raise ArgumentTypeError(f"{where}: {name} must be a real number, got {_fmt(v)} ({type(v).__name__})")
    f = float(v)
    if math.isnan(f) or (finite and math.isinf(f)):
        raise ConvlabError(f"{where}: {name} must be a finite number, got {f}")
    lo = min is not None and (f <= min if min_open else f < min)
    hi = max is not None and (f >= max if max_open else f > max)
    if lo or hi:
        left = "" if min is None else ("(" if min_open else "[") + f"{min:g}"
        right = "" if max is None else f"{max:g}" + (")" if max_open else "]")
        parts = []
        if min is not None:
            parts.append(("positive" if min_open else "non-negative") if min == 0 else
                         (f"> {min:g}" if min_open else f">= {min:g}"))
        if max is not None:
            parts.append(f"< {max:g}" if max_open else f"<= {max:g}")
        want = f"in {left}, {right}" if len(parts) == 2 and min != 0 or (min == 0 and not min_open and max) \
            else " and ".join(parts)
        raise ConvlabError(f"{where}: {name} must be {want}, got {f}")
    return f


def positive(v, where: str, name: str) -> float:
    return real(v, where, name, 0.0, min_open=True)


def nonneg(v, where: str, name: str) -> float:
    return real(v, where, name, 0.0)


def probability(v, where: str, name: str = "p") -> float:
    return real(v, where, name, 0.0, 1.0)


def choice(v, options, where: str, name: str):
    try:
        ok = v in options
    except TypeError:
        ok = False
    if not ok:
        raise ConvlabError(f"{where}: {name} must be one of {', '.join(repr(o) for o in options)}, got {_fmt(v)}")
    return v


# --------------------------------------------------------------------------- dtypes
def dtype(d, where: str, kinds: str = "fiub") -> np.dtype:
    """A NumPy dtype of one of ``kinds`` (float, int, uint, bool); anything else (an unhashable
    object, an unknown name, complex/object/string data) is refused by name."""
    try:
        dt = np.dtype(getattr(d, "numpy_dtype", d))
    except (TypeError, ValueError, AttributeError, RecursionError):
        raise ArgumentTypeError(f"{where}: dtype {_safe_repr(d)} is not a data type") from None
    if dt.kind not in kinds:
        raise ArgumentTypeError(f"{where}: unsupported dtype {dt} (expected a floating, integer or bool dtype)")
    return dt


def _safe_repr(v, limit: int = 80) -> str:
    try:
        r = repr(v)
    except Exception:  # a hostile __repr__ must not hide the real error
        r = f"<{type(v).__name__}>"
    return r if len(r) <= limit else r[:limit] + "..."


# --------------------------------------------------------------------------- arithmetic on declared sizes
def checked_prod(factors, where: str, what: str = "the size", limit: int = INT64_MAX) -> int:
    """The product of non-negative ints, refused (not wrapped) when it passes ``limit``."""
    total = 1
    for f in factors:
        total *= int(f)
    if total > limit:
        raise ConvlabError(f"{where}: {what} is {total}, past the limit {limit}")
    return total


def checked_nbytes(shape_, itemsize: int, where: str, what: str = "the declared size") -> int:
    """Bytes of an array of ``shape_`` and ``itemsize``, in exact Python ints (no int64 wrap)."""
    count = checked_prod(shape_, where, f"{what}'s element count")
    return checked_prod((count, itemsize), where, f"{what} in bytes")


def allocation(shape_, itemsize: int, where: str, what: str = "the result", limit: int | None = None) -> int:
    """Refuse to allocate more than ``limit`` bytes (default: half the machine's memory)."""
    nbytes = checked_nbytes(shape_, itemsize, where, what)
    limit = limit if limit is not None else memory_limit()
    if nbytes > limit:
        raise ConvlabError(f"{where}: {what} of shape {tuple(int(s) for s in shape_)} needs {_human(nbytes)}, "
                           f"more than the {_human(limit)} allowed")
    return nbytes


def memory_limit() -> int:
    """Half the physical memory (or 8 GiB when it cannot be read); CONVLAB_MAX_BYTES overrides."""
    env = os.environ.get("CONVLAB_MAX_BYTES")
    if env and env.isdigit():
        return int(env)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"  # pragma: no cover


# --------------------------------------------------------------------------- arrays
def finite_array(a, where: str, name: str) -> None:
    """Refuse an array holding NaN or infinity (a floating array only; ints are always finite)."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ConvlabError(f"{where}: {name} holds {bad} non-finite value(s) (NaN or infinity)")


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text, strings skipped (no recursion)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    b = np.frombuffer(stripped.encode("utf-8", "replace"), np.uint8)
    step = (b == ord("[")).astype(np.int64) + (b == ord("{")) - (b == ord("]")) - (b == ord("}"))
    return int(np.cumsum(step).max(initial=0))


# --------------------------------------------------------------------------- files
@contextlib.contextmanager
def reading(path, what: str):
    """Re-raise any error met while reading ``path`` so that its message names the file.

    ``FileNotFoundError``/``PermissionError``/``IsADirectoryError`` keep their type; everything
    else (a decoder's bare error, a ``MemoryError``, a ``RecursionError``) becomes a
    :class:`FileFormatError` ``"PATH: cannot read as WHAT: REASON"``. Errors that already name
    the file pass unchanged.
    """
    p = os.fspath(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
    p = p.decode("utf-8", "replace") if isinstance(p, bytes) else p
    try:
        yield p
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except OSError as exc:
        if exc.errno is None:  # a decoder's "cannot identify", "truncated", ...: a format problem
            raise FileFormatError(f"{p}: cannot read as {what}: {exc or type(exc).__name__}") from exc
        if exc.filename is not None or p in str(exc):
            raise
        raise type(exc)(exc.errno, f"{p}: {exc.strerror or exc}") from exc
    except MemoryError as exc:
        raise FileFormatError(f"{p}: cannot read as {what}: it declares more data than fits in memory") from exc
    except Exception as exc:
        msg = str(exc)
        if isinstance(exc, ConvlabError) and p in msg:
            raise
        reason = "nested too deeply" if isinstance(exc, RecursionError) else (msg or type(exc).__name__)
        raise FileFormatError(f"{p}: cannot read as {what}: {reason}") from exc


# --------------------------------------------------------------------------- argparse types
class _CliType:
    """An argparse ``type=`` callable built from a validator. Text that does not parse raises
    ``ValueError`` (argparse then says "invalid int value: 'x'", using ``__name__``); a parsed
    value the validator refuses raises ``ArgumentTypeError`` with the validator's words."""

    def __init__(self, name: str, parse, check):
        self.__name__ = name
        self._parse, self._check = parse, check

    def __call__(self, text: str):
        import argparse

        value = self._parse(text)  # ValueError -> argparse's "invalid NAME value: 'TEXT'"
        try:
            return self._check(value)
        except ConvlabError as exc:
            raise argparse.ArgumentTypeError(str(exc).replace(": value ", "", 1)) from None

    def __repr__(self) -> str:
        return self.__name__


def cli_int(min: int | None = None, max: int | None = None) -> _CliType:
    """``type=`` for an integer flag in ``[min, max]`` (``--pad``, ``--patience``, ``--steps``)."""
    return _CliType("int", lambda s: int(s.strip(), 10), lambda v: integer(v, "", "value", min, max))


def cli_float(min: float | None = None, max: float | None = None, *, min_open: bool = False,
              max_open: bool = False) -> _CliType:
    """``type=`` for a finite real flag (NaN and infinity refused) in the given interval."""
    return _CliType("float", float, lambda v: real(v, "", "value", min, max, min_open=min_open, max_open=max_open))


def cli_list(item: _CliType, sep: str = ",") -> _CliType:
    """``type=`` for a non-empty ``sep``-separated list, each item checked by ``item``."""
    def parse(text):
        parts = [t.strip() for t in text.split(sep)]
        if not text.strip() or any(t == "" for t in parts):
            raise ValueError(text)
        return parts

    def check(parts):
        import argparse

        try:
            return [item(t) for t in parts]
        except ValueError:
            raise ConvlabError(f": value must be a list of {item.__name__} separated by '{sep}', got {sep.join(parts)!r}") \
                from None
        except argparse.ArgumentTypeError as exc:
            raise ConvlabError(f": value items {exc}") from None

    return _CliType(f"{item.__name__} list", parse, check)


# --------------------------------------------------------------------------- signature-derived checks
# The public API's own signatures say what each argument is: a parameter whose default is a bool
# takes a bool, a float default a real number, a str default a string; a parameter named like a
# tensor (``input``, ``a``, ``tensor``...) takes a Tensor (arrays, lists and numbers are converted).
# :func:`checked` wraps a function (or a class's ``__init__``) so that a wrong type is refused by
# name before the body runs, and so that running out of memory, overflowing a C integer or nesting
# too deeply surfaces as a ConvlabError naming the function instead of a bare internal error.
TENSOR_PARAMS = frozenset({"input", "a", "tensor", "t"})
TENSOR_OPTIONAL = frozenset({"weight", "bias", "target", "running_mean", "running_var", "other", "pos_weight"})


def _kind_of(p):
    """``(kind, optional)`` from the annotation (when it is a plain ``float``/``int``/``bool``/``str``,
    optionally ``| None``) or else from the default's type; None when neither says."""
    import inspect

    d = p.default
    if d is inspect.Parameter.empty:
        return None
    ann = "" if p.annotation is inspect.Parameter.empty else (
        p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "?"))
    ann = str(ann).replace(" ", "")
    optional = d is None or ann.endswith("|None") or ann.startswith("None|")
    plain = ann.removesuffix("|None").removeprefix("None|")
    if plain in ("float", "bool", "str", "int"):
        return plain, optional
    if ann:
        return None  # a union or a richer type: the function checks it itself
    if isinstance(d, bool):  # unannotated: only a bool default is taken as a declaration ("flag")
        return "flag", True
    return None


def _bad_type(kind: str, v) -> bool:
    if type(v) in _GOOD_TYPES.get(kind, ()):
        return False
    if kind == "bool":
        return not (isinstance(v, (bool, np.bool_)) or (_is_int(v) and v in (0, 1)))
    if kind == "flag":  # an unannotated bool default: some also take a tuple (clip=(lo, hi)); never text or junk
        return isinstance(v, (str, bytes, dict, set, complex, float)) and not (isinstance(v, float) and v in (0.0, 1.0)) \
            or (isinstance(v, np.ndarray) and v.size != 1) or type(v) is object
    if kind == "float":
        if isinstance(v, (bool, np.bool_)):
            return False  # torch takes True as 1.0
        if isinstance(v, numbers.Real) or isinstance(v, np.number):
            return isinstance(v, complex)
        size = getattr(v, "size", None)
        return not (size == 1 and getattr(getattr(v, "dtype", None), "kind", "") in "fiu")
    if kind == "str":
        return not isinstance(v, str)
    if kind == "int":  # ints, or the tuples/lists/strings that many int options also take
        return isinstance(v, (float, complex, bytes, dict, set)) and not (isinstance(v, float) and v.is_integer()) \
            or (isinstance(v, np.ndarray) and v.ndim > 0)
    return False


_TENSOR = []  # [Tensor], filled on first use (validate is imported before the Tensor class exists)


def _tensor_class():
    if not _TENSOR:
        from .tensor_class import Tensor

        _TENSOR.append(Tensor)
    return _TENSOR[0]


def _coerce_tensor(where, name, v):
    if isinstance(v, _tensor_class()):
        return v
    if isinstance(v, (np.ndarray, np.generic, list, tuple, int, float)) and not isinstance(v, (bool, np.bool_)):
        from .creation import tensor

        try:
            return tensor(v)
        except (TypeError, ValueError) as exc:
            raise ArgumentTypeError(f"{where}: argument '{name}' must be a Tensor, got {type(v).__name__} ({exc})") \
                from None
    raise ArgumentTypeError(f"{where}: argument '{name}' must be a Tensor, got {type(v).__name__}")


def checked(fn, where: str | None = None, tensors: bool = True):
    """``fn`` with its arguments checked against its signature (see the comment above)."""
    import functools
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return fn
    where = where or fn.__name__
    plan = []  # (position or None, name, kind, optional)
    for i, p in enumerate(sig.parameters.values()):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "self":
            continue
        pos = i if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else None
        if tensors and (p.name in TENSOR_PARAMS and p.default is inspect.Parameter.empty
                        or p.name in TENSOR_OPTIONAL and p.default in (None, inspect.Parameter.empty)):
            plan.append((pos, p.name, "tensor", p.default is None))
            continue
        kind = _kind_of(p)
        if kind:
            plan.append((pos, p.name, kind[0], kind[1]))
    if not plan:
        return _guarded(fn, where)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tensor_type = _TENSOR[0] if _TENSOR else _tensor_class()
        n = len(args)
        for pos, name, kind, optional in plan:
            if pos is not None and pos < n:
                v = args[pos]
            elif name in kwargs:
                v = kwargs[name]
            else:
                continue
            if kind == "tensor":
                if isinstance(v, tensor_type) or v is None and optional:
                    continue
                c = _coerce_tensor(where, name, v)
                if c is not v:
                    if pos is not None and pos < n:
                        args = args[:pos] + (c,) + args[pos + 1:]
                    else:
                        kwargs[name] = c
            elif v is None:
                if not optional:
                    raise ArgumentTypeError(f"{where}: argument '{name}' must be {_KIND_WORDS[kind]}, got None")
            elif _bad_type(kind, v):
                raise ArgumentTypeError(f"{where}: argument '{name}' must be {_KIND_WORDS[kind]}, got "
                                        f"{_safe_repr(v, 40)} ({type(v).__name__})")
        return _call(fn, where, args, kwargs)

    return wrapper


_GOOD_TYPES = {"bool": (bool,), "flag": (bool,), "float": (float, int), "str": (str,), "int": (int, tuple)}
_KIND_WORDS = {"bool": "a bool", "flag": "a bool", "float": "a real number", "str": "a string",
               "int": "an int (or a tuple of ints)"}


class OutOfMemoryError(ConvlabError, MemoryError):
    """A call that would need more memory than there is (also a ``MemoryError``)."""


class TooLargeError(ConvlabError, OverflowError):
    """A value too large to compute with (also an ``OverflowError``)."""


def _call(fn, where, args, kwargs):
    try:
        return fn(*args, **kwargs)
    except ConvlabError:
        raise
    except MemoryError as exc:
        raise OutOfMemoryError(f"{where}: not enough memory for this call ({exc or 'the allocation failed'})") from None
    except OverflowError as exc:
        raise TooLargeError(f"{where}: a value is too large ({exc})") from None
    except RecursionError:
        raise ConvlabError(f"{where}: the input is nested too deeply") from None


def _guarded(fn, where):
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _call(fn, where, args, kwargs)

    return wrapper


def check_namespace(namespace: dict, names=None) -> None:
    """Replace the public functions of a module namespace by :func:`checked` versions and check
    the ``__init__`` of its public classes (once per class)."""
    import inspect

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
