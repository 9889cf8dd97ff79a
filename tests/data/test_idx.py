import gzip
import os

import numpy as np
import pytest

from convlab.data import IDXError, read_idx, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path, dtype, gz):
    a = (np.arange(24) - 5).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / ("a-idx3" + (".gz" if gz else ""))
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_big_endian_on_disk(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.array([1, 256], dtype=np.int32))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 1]) and raw[4:8] == (2).to_bytes(4, "big")
    assert raw[8:] == (1).to_bytes(4, "big") + (256).to_bytes(4, "big")


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "labels-without-gz-suffix"
    write_idx(path, np.arange(5, dtype=np.uint8), compress=True)
    assert read_idx(path).tolist() == [0, 1, 2, 3, 4]


def _write(path, blob):
    path.write_bytes(blob)
    return path


def _header(code=0x08, dims=(2, 3)):
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, ">u4").tobytes()


@pytest.mark.parametrize(
    "blob, check",
    [
        (b"\x00\x00", "magic"),
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x07", "magic"),
        (_header(code=0x07) + bytes(6), "dtype"),
        (bytes([0, 0, 8, 0]), "dims"),
        (bytes([0, 0, 8, 3]) + b"\x00\x00\x00\x02", "dims"),  # header cut short
        (_header() + bytes(5), "length"),  # truncated data
        (_header() + bytes(7), "length"),  # trailing bytes
        (_header(code=0x0C) + bytes(6), "length"),  # int32 needs 24 bytes
    ],
)
def test_bad_files_name_the_check_and_the_path(tmp_path, blob, check):
    path = _write(tmp_path / "bad-idx", blob)
    with pytest.raises(IDXError, match=f"{check} check failed") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    # the same file gzipped fails the same check
    gz = _write(tmp_path / "bad-idx.gz", gzip.compress(blob))
    with pytest.raises(IDXError, match=f"{check} check failed"):
        read_idx(gz)


def test_truncated_gzip(tmp_path):
    good = gzip.compress(_header() + bytes(6))
    path = _write(tmp_path / "cut.gz", good[: len(good) // 2])
    with pytest.raises(IDXError, match="gzip check failed") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(os.path.join(tmp_path, "nope"))


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="no IDX code"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
