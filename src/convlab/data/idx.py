"""The IDX file format of MNIST, Fashion-MNIST and KMNIST.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the data
in C order, big-endian::

    bytes 0-1   0x00 0x00          (the magic's zero prefix)
    byte  2     dtype code         0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dims     n >= 1
    4 .. 4+4n   the n sizes
    then        prod(sizes) * itemsize bytes

Files may be gzipped (detected by content, not by name).

>>> import tempfile, os, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "x-idx2-ubyte")
>>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
>>> read_idx(path).tolist()
[[0, 1, 2], [3, 4, 5]]
"""

from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from .. import validate
from ..validate import ConvlabError, FileFormatError

# dtype code -> big-endian NumPy dtype
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IDXError(FileFormatError):
    """A file that is not a valid IDX file; the message names the failed check and the path."""


def _fail(path, check: str, detail: str):
    raise IDXError(f"{path}: not a valid IDX file: {check} check failed: {detail}")


def _read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip's own magic number
        try:
            return _gunzip(path, raw)
        except (OSError, EOFError, zlib.error) as exc:
            _fail(path, "gzip", f"the file starts like gzip but cannot be decompressed ({exc})")
    return raw


def _gunzip(path, raw: bytes) -> bytes:
    """Decompress the header first, then at most the data bytes it declares (plus one, to see
    that nothing follows): a small file that would inflate past its declared size (a
    decompression bomb) is refused before that memory is taken."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = d.decompress(raw, 4)
    if len(out) == 4:
        out += d.decompress(d.unconsumed_tail, 4 * out[3])
        if len(out) == 4 + 4 * out[3] and out[2] in IDX_DTYPES:
            shape = [int(v) for v in np.frombuffer(out, ">u4", offset=4)]
            need = _declared_bytes(path, shape, IDX_DTYPES[out[2]])
            out += d.decompress(d.unconsumed_tail, need + 1)
    if d.unconsumed_tail and not d.eof:  # more than the header declares: the length check will say so
        return out + d.decompress(d.unconsumed_tail, 1)
    out += d.flush()
    if not d.eof:
        raise EOFError("the compressed stream is truncated")
    return out


def _declared_bytes(path, shape, dtype) -> int:
    """Data bytes of ``shape`` in exact integers (no int64 wrap-around), refused past the memory limit."""
    try:
        return validate.allocation(shape, dtype.itemsize, str(path), "the declared data")
    except validate.ConvlabError as exc:
        _fail(path, "length", f"the header declares shape {tuple(shape)} of {dtype.name}: {str(exc).split(': ', 1)[-1]}")


def read_idx(path) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a native-endian NumPy array.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        IDXError: the magic number, dtype code, dimensions or file length is wrong; the
            message says which check failed and names the file.
    """
    path = os.fspath(path)
    with validate.reading(path, "an IDX file"):
        raw = _read_bytes(path)
    if len(raw) < 4:
        _fail(path, "magic", f"the file has {len(raw)} bytes, fewer than the 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        _fail(path, "magic", f"the magic number must start with two zero bytes, found {raw[:4].hex()}")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        _fail(path, "dtype", f"unknown dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        _fail(path, "dims", "the header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        _fail(path, "dims", f"the header declares {ndim} dimensions ({header} header bytes) but the file has {len(raw)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: exact, no int64 wrap-around
    actual = len(raw) - header
    if actual != expected:
        _fail(
            path, "length",
            f"the header declares shape {shape} of {dtype.name} ({expected} data bytes) but the file holds {actual} data bytes",
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzipped when ``compress`` (default: ``path`` ends in .gz)."""
    path = os.fspath(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX code (use uint8, int8, int16, int32, float32 or float64)")
    if array.ndim == 0 or array.ndim > 255:
        raise ConvlabError(f"write_idx: an IDX array needs 1 to 255 dimensions, got {array.ndim}")
    head = bytes([0, 0, codes[native], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=IDX_DTYPES[codes[native]]).tobytes()
    if compress is None:
        compress = path.endswith(".gz")
    blob = head + body
    from ..files import write_atomic

    write_atomic(path, gzip.compress(blob, compresslevel=6) if compress else blob)
