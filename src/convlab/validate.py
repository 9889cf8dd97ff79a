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
    if not isinstance(v, (tuple, list)) or not all(_is_int(s) for s in v):
        raise ArgumentTypeError(f"{where}: {name} must be a sequence of non-negative integers, got {_safe_repr(v)}")
    if not all(s >= 0 for s in v):
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


def reals(v, where: str, name: str) -> np.ndarray:
    """A number or a non-empty sequence of finite real numbers, as a 1-d float64 array
    (``Normalize(mean=(0.5, 0.5, 0.5), ...)``)."""
    items = [v] if _is_real(v) or isinstance(v, (str, bytes)) or v is None else v
    try:
        items = list(items)
    except TypeError:
        items = [v]
    if not items:
        raise ConvlabError(f"{where}: {name} must be a number or a non-empty sequence of numbers, got {_safe_repr(v)}")
    return np.array([real(x, where, name) for x in items], dtype=np.float64)


def real_array(v, where: str, name: str, ndim: int | None = None) -> np.ndarray:
    """``v`` as a float64 array of real numbers (a list, an array, a Tensor), ``ndim``-D when given."""
    try:
        raw = np.asarray(v)
        if raw.dtype.kind not in "fiub":
            raise TypeError(raw.dtype)
        a = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{where}: {name} must be an array of real numbers, got {_safe_repr(v)}") from None
    if ndim is not None and a.ndim != ndim:
        raise ConvlabError(f"{where}: {name} must be {ndim}-D, got shape {a.shape}")
    return a


def positive(v, where: str, name: str) -> float:
    return real(v, where, name, 0.0, min_open=True)


def nonneg(v, where: str, name: str) -> float:
    return real(v, where, name, 0.0)


def probability(v, where: str, name: str = "p") -> float:
    return real(v, where, name, 0.0, 1.0)


def choice(v, options, where: str, name: str):
    try:
        ok = bool(v in options)
    except (TypeError, ValueError):  # unhashable, or an array whose truth value is ambiguous
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
        words = {"f": "floating", "i": "integer", "u": "unsigned", "b": "bool"}
        parts = [words[k] for k in kinds if k in words and not (k == "u" and "i" in kinds)]
        want = ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0]
        raise ArgumentTypeError(f"{where}: unsupported dtype {dt} (expected a {want} dtype)")
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
def path_arg(path, where: str, name: str = "path") -> str:
    """A file name: ``str``, ``bytes`` or ``os.PathLike``, not empty, no NUL character; as ``str``
    (bytes decoded with the file system's encoding, so a non-UTF-8 name survives)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise ArgumentTypeError(f"{where}: {name} must be a path (str, bytes or os.PathLike), got {type(path).__name__}")
    p = os.fsdecode(os.fspath(path))
    if not p or "\0" in p:
        raise ConvlabError(f"{where}: {name} must be a non-empty path without NUL characters, got {p!r}")
    return p


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


# the signature-derived wrapper (checked, check_namespace) lives in convlab.argcheck
