"""Reading files written by ``torch.save`` without running any of their code.

``torch.save`` writes a zip archive: ``<name>/data.pkl`` is a pickle describing the object, and
each tensor's storage is a raw little-endian member ``<name>/data/<key>``. A pickle is a small
program: its ``GLOBAL`` instructions name any importable callable and ``REDUCE`` calls it, which
is how a hostile file runs code the moment ``pickle.load`` (or ``torch.load(weights_only=False)``)
reads it. So this module does not use :mod:`pickle`. It interprets the pickle instructions itself
and allows only the globals a state dict needs: ``collections.OrderedDict``, torch's
tensor-rebuild functions (``torch._utils._rebuild_tensor_v2`` and friends) and its storage types
(``torch.FloatStorage``...). Any other global, and any instruction outside the data-building
subset (``INST``, ``OBJ``, ``NEWOBJ``, extension codes...), is refused with an error naming it,
before anything is called. (torch's own ``weights_only=True`` follows the same idea.)

What comes back: dicts, lists, tuples, numbers, strings and :class:`~convlab.Tensor` leaves
(copied out of the storages, so views such as a transposed weight keep their values).
"""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np

from .tensor import from_numpy
from .validate import ConvlabError

# storage type name -> (NumPy dtype of the bytes, conversion of the values)
_STORAGES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_, "BFloat16Storage": "bfloat16", "UntypedStorage": np.uint8,
}


class UnsafeTorchFile(ValueError):
    """A torch.save file asks for something other than tensors and plain containers."""


class _StorageType:
    def __init__(self, name):
        self.name = name


class _Storage:
    """One storage: its elements as a flat NumPy array (bfloat16 widened to float32)."""

    def __init__(self, array):
        self.array = array


def _rebuild_tensor(storage, storage_offset, size, stride, *ignored):
    """``torch._utils._rebuild_tensor_v2`` (and v1): the tensor viewing ``storage`` at ``offset``
    with ``size`` and ``stride`` (in elements), copied into a fresh contiguous array."""
    if not isinstance(storage, _Storage):
        raise UnsafeTorchFile(f"tensor rebuild got {type(storage).__name__} where a storage was expected")
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(storage_offset)
    flat = storage.array
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise UnsafeTorchFile(f"tensor with size {size} and stride {stride} is malformed")
    if all(size):  # the farthest element must lie inside the storage
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if offset < 0 or last >= len(flat):
            raise UnsafeTorchFile(f"tensor of size {size}, stride {stride}, offset {offset} reaches past its storage "
                                  f"of {len(flat)} elements")
        view = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * flat.itemsize for s in stride], writeable=False)
        return from_numpy(np.array(view))
    return from_numpy(np.zeros(size, flat.dtype))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    return data


def _ordered_dict(items=()):
    return dict(items)


_ALLOWED = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGES},
}

_MARK = object()


class _Machine:
    """The data-building subset of the pickle machine (protocols 2 to 5)."""

    def __init__(self, data: bytes, load_storage, where: str):
        self.data, self.pos, self.load_storage, self.where = data, 0, load_storage, where
        self.stack, self.memo = [], {}

    def read(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ConvlabError(f"{self.where}: the pickle is truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def line(self) -> str:
        end = self.data.index(b"\n", self.pos)
        out = self.data[self.pos:end].decode("utf-8")
        self.pos = end + 1
        return out

    def pop_mark(self) -> list:
        k = len(self.stack) - 1
        while self.stack[k] is not _MARK:
            k -= 1
        items = self.stack[k + 1:]
        del self.stack[k:]
        return items

    def find_global(self, module: str, name: str):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise UnsafeTorchFile(f"{self.where}: refusing to load the global {module}.{name}: convlab reads only "
                                  "tensors and plain containers from torch.save files (a pickle global can run code)")
        return target

    def run(self):
        st, u = self.stack, struct.unpack
        while True:
            op = self.read(1)
            if op == b"\x80":  # PROTO
                self.read(1)
            elif op == b"\x95":  # FRAME
                self.read(8)
            elif op == b".":  # STOP
                return st.pop()
            elif op == b"(":
                st.append(_MARK)
            elif op == b"}":
                st.append({})
            elif op == b"]":
                st.append([])
            elif op == b")":
                st.append(())
            elif op == b"N":
                st.append(None)
            elif op in (b"\x88", b"\x89"):
                st.append(op == b"\x88")
            elif op == b"K":
                st.append(self.read(1)[0])
            elif op == b"M":
                st.append(u("<H", self.read(2))[0])
            elif op == b"J":
                st.append(u("<i", self.read(4))[0])
            elif op == b"\x8a":  # LONG1
                st.append(int.from_bytes(self.read(self.read(1)[0]), "little", signed=True))
            elif op == b"\x8b":  # LONG4
                st.append(int.from_bytes(self.read(u("<i", self.read(4))[0]), "little", signed=True))
            elif op == b"G":
                st.append(u(">d", self.read(8))[0])
            elif op == b"X":
                st.append(self.read(u("<I", self.read(4))[0]).decode("utf-8"))
            elif op == b"\x8c":
                st.append(self.read(self.read(1)[0]).decode("utf-8"))
            elif op == b"\x8d":
                st.append(self.read(u("<Q", self.read(8))[0]).decode("utf-8"))
            elif op == b"U":
                st.append(self.read(self.read(1)[0]).decode("latin-1"))
            elif op == b"T":
                st.append(self.read(u("<i", self.read(4))[0]).decode("latin-1"))
            elif op == b"C":
                st.append(self.read(self.read(1)[0]))
            elif op == b"B":
                st.append(self.read(u("<I", self.read(4))[0]))
            elif op == b"\x8e":
                st.append(self.read(u("<Q", self.read(8))[0]))
            elif op == b"q":
                self.memo[self.read(1)[0]] = st[-1]
            elif op == b"r":
                self.memo[u("<I", self.read(4))[0]] = st[-1]
            elif op == b"\x94":  # MEMOIZE
                self.memo[len(self.memo)] = st[-1]
            elif op == b"h":
                st.append(self.memo[self.read(1)[0]])
            elif op == b"j":
                st.append(self.memo[u("<I", self.read(4))[0]])
            elif op == b"t":
                st.append(tuple(self.pop_mark()))
            elif op == b"\x85":
                st[-1:] = [(st[-1],)]
            elif op == b"\x86":
                st[-2:] = [tuple(st[-2:])]
            elif op == b"\x87":
                st[-3:] = [tuple(st[-3:])]
            elif op == b"a":
                value = st.pop()
                st[-1].append(value)
            elif op == b"e":
                items = self.pop_mark()
                st[-1].extend(items)
            elif op == b"s":
                value, key = st.pop(), st.pop()
                st[-1][key] = value
            elif op == b"u":
                items = self.pop_mark()
                st[-1].update(zip(items[::2], items[1::2]))
            elif op == b"c":  # GLOBAL module\nname\n
                module = self.line()
                st.append(self.find_global(module, self.line()))
            elif op == b"\x93":  # STACK_GLOBAL
                name, module = st.pop(), st.pop()
                st.append(self.find_global(module, name))
            elif op == b"R":  # REDUCE: only the allowlisted callables ever reach here
                args, fn = st.pop(), st.pop()
                if not callable(fn) or not isinstance(args, tuple):
                    raise UnsafeTorchFile(f"{self.where}: REDUCE on {type(fn).__name__}")
                st.append(fn(*args))
            elif op == b"b":  # BUILD: an OrderedDict's attributes (state_dict._metadata); dropped
                state = st.pop()
                if not isinstance(st[-1], dict) or not isinstance(state, (dict, type(None))):
                    raise UnsafeTorchFile(f"{self.where}: BUILD on {type(st[-1]).__name__}")
            elif op == b"Q":  # BINPERSID: a storage in the archive
                st.append(self.load_storage(st.pop()))
            else:
                raise UnsafeTorchFile(f"{self.where}: unsupported pickle instruction {op!r} at byte {self.pos - 1} "
                                      "(convlab reads tensors and plain containers only)")


def is_torch_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def is_legacy_torch(data: bytes) -> bool:
    """torch.save's format before PyTorch 1.6: a pickled magic number first."""
    return data[:2] == b"\x80\x02" and b"\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19" in data[:16]


def load_torch_file(path: str, data: bytes):
    """The object a ``torch.save`` zip file holds, with Tensor leaves (see the module docstring)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ConvlabError(f"load: {path}: a zip file that torch.save did not write: {exc}") from None
    names = archive.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pkl) != 1:
        raise ConvlabError(f"load: {path}: a zip file without torch.save's data.pkl (members: {names[:5]}...)")
    prefix = pkl[0][: -len("data.pkl")]
    big_endian = (prefix + "byteorder") in names and archive.read(prefix + "byteorder").strip() == b"big"
    storages: dict = {}

    def load_storage(pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise UnsafeTorchFile(f"load: {path}: unexpected persistent id {pid!r}")
        _, kind, key, _location, numel = pid
        if key not in storages:
            member = f"{prefix}data/{key}"
            if member not in names:
                raise ConvlabError(f"load: {path}: storage {key} is missing from the archive")
            raw = archive.read(member)
            dtype = _STORAGES[kind.name]
            if dtype == "bfloat16":  # the top half of a float32
                bits = np.frombuffer(raw, ">u2" if big_endian else "<u2").astype(np.uint32) << 16
                array = bits.view(np.float32)
            else:
                array = np.frombuffer(raw, np.dtype(dtype).newbyteorder(">" if big_endian else "<")).astype(dtype)
            storages[key] = _Storage(array)
        return storages[key]

    try:
        return _Machine(archive.read(pkl[0]), load_storage, f"load: {path}").run()
    except (AttributeError, TypeError, IndexError, KeyError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnsafeTorchFile) or (isinstance(exc, ValueError) and str(exc).startswith("load:")):
            raise
        raise ConvlabError(f"load: {path}: the pickle in this torch.save file is malformed "
                           f"({type(exc).__name__}: {exc})") from None
