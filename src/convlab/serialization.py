"""Checkpoints: ``save(obj, path)`` and ``load(path)`` in the safetensors format.

A file is a plain safetensors file (an 8-byte little-endian header length, a JSON header, then
the raw little-endian bytes of every tensor), so torch reads it with
``safetensors.torch.load_file`` and convlab reads what torch wrote with
``safetensors.torch.save_file``.

What is stored where:

* every array leaf of ``obj`` (a :class:`~convlab.Tensor`, a NumPy array or a NumPy scalar) is
  a safetensors tensor named by its path in ``obj`` joined with dots: ``model.conv1.weight``,
  ``optimizer.state.0.momentum_buffer``. A flat state dict ``{name: tensor}`` is therefore
  stored under its own names, unchanged, which is what makes the file readable by torch;
* everything else (dicts, lists, tuples, numbers, strings, booleans, ``None``) is written as
  JSON in the header's ``__metadata__`` map, under ``convlab.tree``, with each array leaf
  replaced by a reference ``{"__tensor__": name}`` (or ``"__ndarray__"`` for NumPy arrays, so
  they load back as arrays).

Loading never executes code: the header is JSON, the tensors are raw numbers, and no pickle is
involved anywhere. A file without ``convlab.tree`` (one written by torch) loads as a flat
``{name: Tensor}`` dict. A truncated or corrupted file raises :class:`ValueError` naming the
path and what is wrong.

Writes are atomic (:func:`convlab.files.write_atomic`: a temporary file in the destination's
directory, fsync, rename): an interrupted save leaves the previous file as it was, and the
temporary file a killed writer leaves behind is removed by the next save into that directory.

>>> import tempfile, os, numpy as np, convlab
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
>>> convlab.save({"epoch": 3, "model": {"w": convlab.ones(2)}, "lr": [0.1, 0.01]}, path)
>>> ckpt = convlab.load(path)
>>> ckpt["epoch"], ckpt["lr"], ckpt["model"]["w"].tolist()
(3, [0.1, 0.01], [1.0, 1.0])
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np

from . import backend, files, validate
from .tensor import Tensor, from_numpy
from .validate import ConvlabError, FileFormatError

__all__ = ["save", "load"]

FORMAT_VERSION = "1"
_TREE_KEY = "convlab.tree"
_FORMAT_KEY = "convlab.format"
# single-key JSON objects with these names are references/encodings, never user dicts
_MARKERS = ("__tensor__", "__ndarray__", "__scalar__", "__tuple__", "__dict__", "__float__")
_MAX_HEADER = 100 * 1024 * 1024  # the limit safetensors itself enforces
MAX_DEPTH = 128  # JSON nesting of a header; a training state needs about 10

# safetensors dtype names and their item sizes; NumPy has no bfloat16 / float8
_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}
_NOT_IN_NUMPY = {"BF16", "F8_E5M2", "F8_E4M3"}


# --------------------------------------------------------------------------- save
def save(obj, path, *, preprocessing=None, classes=None) -> None:
    """Write ``obj`` to ``path`` as a safetensors file, atomically.

    Args:
        obj: a state dict ``{name: Tensor | ndarray}`` or any nesting of dicts, lists and tuples
            whose leaves are tensors, arrays, NumPy scalars, ``int``, ``float``, ``str``,
            ``bool`` or ``None`` (a training state: model, optimizer, scheduler, epoch, RNG state).
            Dict keys may be strings, numbers, booleans, ``None`` or tuples of those.
            A :class:`~convlab.nn.Module` is saved as a checkpoint that ``convlab evaluate`` and
            ``convlab predict`` read: its state dict, and for a zoo model (``convlab.models.get``)
            how to build it again.
        path: destination file (``str`` or path-like); its directory must exist.
        preprocessing: a :class:`~convlab.data.preprocess.Preprocessing` (or its dict), recorded in
            the checkpoint's ``meta`` so the commands prepare pictures the way the model expects. With
            a plain state dict, the file becomes a checkpoint holding it under ``"model"``.
        classes: the class names, recorded beside it.

    Raises:
        TypeError: a leaf of an unsupported type (its path in ``obj`` is named).

    >>> import tempfile, os, convlab
    >>> from convlab.data.preprocess import Preprocessing
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> convlab.save(convlab.models.get("lenet5"), path, preprocessing=Preprocessing(channels=1, size=28))
    >>> convlab.load(path)["meta"]["preprocessing"]["input_shape"]
    [1, 28, 28]
    """
    obj = _as_checkpoint(obj, preprocessing, classes)
    to_file = path if hasattr(path, "write") else None  # torch.save(obj, f) / io.BytesIO()
    tensors: dict[str, np.ndarray] = {}
    tree = _encode(obj, (), tensors)
    metadata = {_FORMAT_KEY: FORMAT_VERSION, _TREE_KEY: json.dumps(tree, allow_nan=False, separators=(",", ":"))}
    import safetensors.numpy

    data = safetensors.numpy.save(tensors, metadata=metadata)
    if to_file is not None:
        to_file.write(data)
        return
    files.write_atomic(os.fspath(path), data)


def _as_checkpoint(obj, preprocessing, classes):
    """``obj``, or the training-checkpoint dict holding it (a Module, or preprocessing/classes given)."""
    from .nn.module import Module

    if not isinstance(obj, Module) and preprocessing is None and classes is None:
        return obj
    from .train.checkpoint import FORMAT

    if isinstance(obj, Module):
        ckpt = {"format": FORMAT, "model_spec": getattr(obj, "zoo_spec", None), "model": obj.state_dict(), "meta": {}}
    elif isinstance(obj, dict) and obj.get("format") == FORMAT:
        ckpt = {**obj, "meta": dict(obj.get("meta") or {})}
    elif isinstance(obj, dict):
        ckpt = {"format": FORMAT, "model_spec": None, "model": obj, "meta": {}}
    else:
        raise TypeError(f"save: preprocessing= and classes= go with a Module or a state dict, got {type(obj).__name__}")
    if preprocessing is not None:
        from .data.preprocess import Preprocessing

        ckpt["meta"]["preprocessing"] = Preprocessing.from_dict(preprocessing).to_dict()
    if classes is not None:
        ckpt["meta"]["classes"] = [str(c) for c in classes]
    return ckpt


def _encode(obj, where: tuple, tensors: dict):
    """Turn ``obj`` into JSON-able data, moving array leaves into ``tensors``."""
    if len(where) > MAX_DEPTH // 2:  # each level may take two JSON levels ({"__tuple__": [...]})
        raise ConvlabError(f"save: the object nests deeper than {MAX_DEPTH // 2} levels at {_where(where[:8])}... "
                           "(a container that holds itself?)")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, Tensor):
        return {"__tensor__": _put(backend.to_numpy(obj._data), where, tensors)}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": _put(obj, where, tensors)}
    if isinstance(obj, np.generic):  # a NumPy scalar keeps its dtype as a 0-d tensor
        return {"__scalar__": _put(np.asarray(obj), where, tensors)}
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}  # 'nan', 'inf', '-inf'
    if isinstance(obj, list):
        return [_encode(v, (*where, str(i)), tensors) for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, (*where, str(i)), tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        plain = all(isinstance(k, str) for k in obj) and not (len(obj) == 1 and next(iter(obj)) in _MARKERS)
        if plain:
            return {k: _encode(v, (*where, k), tensors) for k, v in obj.items()}
        return {"__dict__": [[_encode_key(k, where), _encode(v, (*where, str(k)), tensors)] for k, v in obj.items()]}
    raise TypeError(f"save: cannot store {type(obj).__name__} at {_where(where)}; supported leaves are "
                    "Tensor, ndarray, NumPy scalars, int, float, str, bool and None in dicts, lists and tuples")


def _encode_key(key, where):
    if key is None or isinstance(key, (bool, int, str)):
        return key
    if isinstance(key, float):
        return key if math.isfinite(key) else {"__float__": repr(key)}
    if isinstance(key, tuple):
        return {"__tuple__": [_encode_key(k, where) for k in key]}
    raise TypeError(f"save: dict key {key!r} of type {type(key).__name__} at {_where(where)} is not supported")


def _put(array: np.ndarray, where: tuple, tensors: dict) -> str:
    if array.dtype.kind not in "biuf" or array.dtype.byteorder == ">":
        raise TypeError(f"save: array at {_where(where)} has dtype {array.dtype}; only bool, integer and float "
                        "arrays in native byte order can be stored")
    name = ".".join(where) or "tensor"
    base, n = name, 1
    while name in tensors:  # two paths that join to the same dotted name ('a.b' and 'a' -> 'b')
        name, n = f"{base}~{n}", n + 1
    tensors[name] = array if array.flags.c_contiguous else array.copy(order="C")  # ascontiguousarray would make 0-d 1-d
    return name


def _where(where: tuple) -> str:
    return "obj" + "".join(f"[{w!r}]" for w in where)


# --------------------------------------------------------------------------- load
def load(path, map_location=None, weights_only=None, **torch_options):
    """Read a file written by :func:`save`, by ``safetensors.torch.save_file`` or by ``torch.save``.

    Returns the saved object with :class:`~convlab.Tensor` leaves (NumPy arrays and scalars come
    back as such). A safetensors file without convlab's structure loads as ``{name: Tensor}``.
    A ``torch.save`` file (a state dict, or any nesting of dicts, lists, numbers, strings and
    tensors) is read without running its pickle (:mod:`convlab.torchfile`); one that holds other
    Python objects is refused, naming the global it asked for.

    ``map_location`` moves the tensors to a device; ``weights_only`` (torch's switch for its
    unpickler) is accepted, and convlab always behaves as with ``weights_only=True``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is truncated, corrupted, or its header holds unexpected types;
            the message names the path and the problem.
    """
    if hasattr(path, "read"):  # torch.load(f) with an open file or io.BytesIO
        data = path.read()
        path = str(getattr(path, "name", "<file object>"))
    else:
        path = os.fspath(path)
        with validate.reading(path, "a safetensors checkpoint"), open(path, "rb") as f:
            data = f.read()
    from . import torchfile

    if torchfile.is_torch_zip(data) or torchfile.is_legacy_torch(data):
        if not torchfile.is_torch_zip(data):
            raise ConvlabError(f"load: {path}: a torch.save file in the format before PyTorch 1.6; re-save it with a "
                             "newer torch (torch.save(torch.load(f), f)) or as safetensors (safetensors.torch.save_file)")
        return _to_device(torchfile.load_torch_file(path, data), map_location)
    header = _parse_header(path, data)
    metadata = header.pop("__metadata__", None) or {}
    import safetensors.numpy

    try:
        arrays = safetensors.numpy.load(data)
    except Exception as exc:  # the header passed our checks; anything left is corruption
        raise ConvlabError(f"load: {path}: not a readable safetensors file: {exc}") from None
    tensors = {k: (a if a.flags.writeable else a.copy()) for k, a in arrays.items()}
    if _TREE_KEY not in metadata:
        return {k: from_numpy(tensors[k]) for k in header}  # header order = the writer's order
    if validate.json_depth(metadata[_TREE_KEY]) > MAX_DEPTH:
        raise FileFormatError(f"load: {path}: the structure in the header metadata nests deeper than {MAX_DEPTH} levels")
    try:
        tree = json.loads(metadata[_TREE_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConvlabError(f"load: {path}: the structure in the header metadata is not valid JSON: {exc}") from None
    out = _decode(tree, tensors, path, ())
    if isinstance(out, dict) and "model_spec" in out and "model" in out:  # written by save(model)
        from .saved_module import SavedModule

        return SavedModule(out)
    return out


def _to_device(obj, device):
    if device is None or (isinstance(device, str) and str(device) == "cpu") or callable(device) or isinstance(device, dict):
        return obj  # convlab's tensors are read onto the CPU
    if isinstance(obj, Tensor):
        return obj.to(str(device))
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _parse_header(path: str, data: bytes) -> dict:
    """Check the safetensors header field by field so that errors say exactly what is wrong."""
    def bad(msg):
        return FileFormatError(f"load: {path}: {msg}")

    if len(data) < 8:
        raise bad(f"file is {len(data)} bytes, too short for a safetensors header (truncated or not a checkpoint)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER:
        raise bad(f"header length field says {n} bytes (limit {_MAX_HEADER}); not a safetensors file (nor a "
                  "torch.save file, which starts with a zip header)")
    if 8 + n > len(data):
        raise bad(f"truncated: the header needs {n} bytes but only {len(data) - 8} follow the length field")
    text = data[8:8 + n]
    if validate.json_depth(text) > MAX_DEPTH:
        raise bad(f"header nests deeper than {MAX_DEPTH} levels; not a checkpoint convlab wrote")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise bad(f"corrupted header, not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise bad(f"header is a JSON {type(header).__name__}, expected an object")
    body = len(data) - 8 - n
    end_max = 0
    for name, info in header.items():
        if name == "__metadata__":
            if info is not None and not (isinstance(info, dict) and all(isinstance(v, str) for v in info.values())):
                raise bad("header __metadata__ must map strings to strings")
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {name!r}: expected an entry with dtype, shape and data_offsets, got {info!r:.200}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _ITEMSIZE:
            raise bad(f"tensor {name!r}: unknown dtype {dtype!r}")
        if dtype in _NOT_IN_NUMPY:
            raise bad(f"tensor {name!r} has dtype {dtype}, which NumPy cannot hold; convert it to float32 before saving")
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            raise bad(f"tensor {name!r}: shape must be a list of non-negative integers, got {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            raise bad(f"tensor {name!r}: data_offsets must be [begin, end] with 0 <= begin <= end, got {offsets!r}")
        need = math.prod(shape) * _ITEMSIZE[dtype]
        if offsets[1] - offsets[0] != need:
            raise bad(f"tensor {name!r}: {dtype}{shape} needs {need} bytes but data_offsets span {offsets[1] - offsets[0]}")
        if offsets[1] > body:
            raise bad(f"truncated: tensor {name!r} ends at byte {offsets[1]} of the data but the file holds {body}")
        end_max = max(end_max, offsets[1])
    if end_max != body:
        raise bad(f"the data section is {body} bytes but the tensors cover {end_max} (truncated or trailing garbage)")
    return header


def _decode(node, tensors: dict, path: str, where: tuple):
    def bad(msg):
        return FileFormatError(f"load: {path}: header structure at {_where(where)}: {msg}")

    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, tensors, path, (*where, str(i))) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        raise bad(f"unexpected JSON value {node!r:.100}")
    if len(node) == 1 and next(iter(node)) in _MARKERS:
        (kind, value), = node.items()
        if kind in ("__tensor__", "__ndarray__", "__scalar__"):
            if not isinstance(value, str) or value not in tensors:
                raise bad(f"{kind} refers to {value!r}, which is not a tensor in the file")
            arr = tensors[value]
            if kind == "__tensor__":
                return from_numpy(arr)
            if kind == "__scalar__":
                if arr.ndim != 0:
                    raise bad(f"scalar {value!r} has shape {arr.shape}")
                return arr[()]
            return arr
        if kind == "__float__":
            if value not in ("nan", "inf", "-inf"):
                raise bad(f"__float__ must be 'nan', 'inf' or '-inf', got {value!r}")
            return float(value)
        if not isinstance(value, list):
            raise bad(f"{kind} must hold a list, got {type(value).__name__}")
        if kind == "__tuple__":
            return tuple(_decode(v, tensors, path, (*where, str(i))) for i, v in enumerate(value))
        out = {}  # "__dict__": [[key, value], ...]
        for item in value:
            if not (isinstance(item, list) and len(item) == 2):
                raise bad(f"__dict__ items must be [key, value] pairs, got {item!r:.100}")
            key = _decode(item[0], {}, path, where)
            try:
                hash(key)
            except TypeError:
                raise bad(f"dict key {key!r:.100} is not hashable") from None
            out[key] = _decode(item[1], tensors, path, (*where, str(key)))
        return out
    return {k: _decode(v, tensors, path, (*where, k)) for k, v in node.items()}


from .saved_module import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals  # noqa: E402,F401
