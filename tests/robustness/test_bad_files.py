# ruff: noqa: E501  (one case per line: the table reads better unwrapped)
"""Hostile files: IDX, CIFAR binaries, images, image folders, checkpoints (safetensors).

Each case writes its bad file under ``tmp_path`` and asserts the exception type and that the
message names the file and the check that failed.
"""

import gzip
import json
import struct

import numpy as np
from hostile import Case, check, params

import convlab as cl
import convlab.nn as nn
from convlab.data import IDXError, ImageFolder, load_image, read_cifar_bin, read_idx, write_idx


def _idx(tmp, name, raw):
    p = tmp / name
    p.write_bytes(raw)
    return p


_GOOD = b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + bytes(range(6))

IDX = [
    Case("idx-empty", lambda t: read_idx(_idx(t, "e", b"")), IDXError, r"\be: not a valid IDX file: magic check failed: .*0 bytes"),
    Case("idx-3-bytes", lambda t: read_idx(_idx(t, "s", b"\x00\x00\x08")), IDXError, r"magic check failed: the file has 3 bytes"),
    Case("idx-magic", lambda t: read_idx(_idx(t, "m", b"\x01\x02\x08\x01" + _GOOD[4:])), IDXError,
         r"magic check failed: .*found 01020801"),
    Case("idx-text", lambda t: read_idx(_idx(t, "txt", b"hello world, not idx")), IDXError, r"magic check failed: .*found 68656c6c"),
    Case("idx-dtype", lambda t: read_idx(_idx(t, "d", b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"x")), IDXError,
         r"dtype check failed: unknown dtype code 0x07"),
    Case("idx-zero-dims", lambda t: read_idx(_idx(t, "z", b"\x00\x00\x08\x00")), IDXError, r"dims check failed: .*0 dimensions"),
    Case("idx-header-truncated", lambda t: read_idx(_idx(t, "h", b"\x00\x00\x08\x03" + struct.pack(">I", 2))), IDXError,
         r"dims check failed: the header declares 3 dimensions \(16 header bytes\) but the file has 8 bytes"),
    Case("idx-data-truncated", lambda t: read_idx(_idx(t, "tr", _GOOD[:-1])), IDXError,
         r"length check failed: .*shape \(2, 3\) of uint8 \(6 data bytes\) but the file holds 5 data bytes"),
    Case("idx-data-trailing", lambda t: read_idx(_idx(t, "tl", _GOOD + b"\x00")), IDXError,
         r"length check failed: .*holds 7 data bytes"),
    Case("idx-huge-header", lambda t: read_idx(_idx(t, "hh", b"\x00\x00\x08\x02" + struct.pack(">II", 60000, 60000))), IDXError,
         r"length check failed: .*\(60000, 60000\) of uint8 \(3600000000 data bytes\) but the file holds 0"),
    Case("idx-float-truncated", lambda t: read_idx(_idx(t, "f", b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + b"\x00" * 5)),
         IDXError, r"length check failed: .*float32 \(8 data bytes\) .*5 data bytes"),
    Case("idx-bad-gzip", lambda t: read_idx(_idx(t, "g.gz", b"\x1f\x8b" + b"garbage" * 3)), IDXError,
         r"gzip check failed: the file starts like gzip but cannot be decompressed"),
    Case("idx-gzip-truncated", lambda t: read_idx(_idx(t, "gt.gz", gzip.compress(_GOOD)[:-6])), IDXError, r"gzip check failed"),
    Case("idx-gzip-wrong-length", lambda t: read_idx(_idx(t, "gl.gz", gzip.compress(_GOOD[:-2]))), IDXError,
         r"length check failed"),
    Case("idx-missing", lambda t: read_idx(t / "nope"), FileNotFoundError, r"nope"),
    Case("write_idx-complex", lambda t: write_idx(t / "c", np.ones(3, complex)), TypeError, r"dtype complex128 has no IDX code"),
    Case("write_idx-0d", lambda t: write_idx(t / "c", np.array(1, np.uint8)), ValueError, r"needs 1 to 255 dimensions, got 0"),
]

_REC = 3073
CIFAR = [
    Case(f"cifar-length-{n}", lambda t, n=n: read_cifar_bin(_idx(t, f"c{n}.bin", b"\x01" * n)), ValueError,
         rf"c{n}.bin: not a CIFAR-10 binary batch: length check failed: {n} bytes is not a positive multiple of the 3073-byte")
    for n in (0, 1, _REC - 1, _REC + 1, 2 * _REC - 17)
] + [
    Case("cifar-label", lambda t: read_cifar_bin(_idx(t, "lab.bin", b"\x0c" + b"\x00" * (_REC - 1))), ValueError,
         r"lab.bin: not a CIFAR-10 binary batch: label check failed: label 12 > 9"),
]


def _text(t, name, data=b"this is not an image"):
    p = t / name
    p.write_bytes(data)
    return p


IMAGES = [
    Case("image-text-as-png", lambda t: load_image(_text(t, "a.png")), Exception, r"a.png"),
    Case("image-truncated-png", lambda t: load_image(_text(t, "b.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)), Exception, r"b.png"),
    Case("image-empty-jpg", lambda t: load_image(_text(t, "c.jpg", b"")), Exception, r"c.jpg"),
    Case("image-missing", lambda t: load_image(t / "gone.png"), FileNotFoundError, r"gone.png"),
    Case("folder-missing", lambda t: ImageFolder(t / "nowhere"), FileNotFoundError, r"ImageFolder: .*nowhere is not a directory"),
    Case("folder-empty", lambda t: ImageFolder(t), FileNotFoundError, r"ImageFolder: .* has no class folders \(expected .*/CLASS/IMAGE"),
    Case("folder-classes-without-images", lambda t: ((t / "cat").mkdir(), _text(t / "cat", "notes.txt"), ImageFolder(t)),
         ValueError, r"ImageFolder: .*: empty class folder cat \(no pictures"),
    Case("folder-mode", lambda t: ImageFolder(_folder_with_image(t), mode="CMYK"), ValueError,
         r"ImageFolder: mode must be 'L' or 'RGB', got 'CMYK'"),
]


def _folder_with_image(t):
    from PIL import Image

    (t / "cls").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(t / "cls" / "x.png")
    return t


def _ckpt(t):
    p = t / "m.safetensors"
    cl.save({"w": cl.ones(2, 3), "step": 3}, p)
    return p


def _raw_safetensors(t, header, body=b""):
    h = json.dumps(header).encode() if not isinstance(header, bytes) else header
    p = t / "raw.safetensors"
    p.write_bytes(struct.pack("<Q", len(h)) + h + body)
    return p


def _truncate(t, cut):
    p = _ckpt(t)
    data = p.read_bytes()
    p.write_bytes(data[:cut] if cut >= 0 else data[:len(data) + cut])
    return p


def _flip_header(t):
    p = _ckpt(t)
    data = bytearray(p.read_bytes())
    data[8] = ord("x")  # the opening brace of the JSON header
    p.write_bytes(bytes(data))
    return p


_T = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
CHECKPOINTS = [
    Case("ckpt-empty", lambda t: cl.load(_text(t, "e.safetensors", b"")), ValueError, r"e.safetensors.*0 bytes, too short"),
    Case("ckpt-text", lambda t: cl.load(_text(t, "t.safetensors")), ValueError, r"t.safetensors.*header length field says \d+ bytes"),
    Case("ckpt-truncated-8", lambda t: cl.load(_truncate(t, 8)), ValueError, r"m.safetensors.*truncated: the header needs"),
    Case("ckpt-truncated-body", lambda t: cl.load(_truncate(t, -5)), ValueError, r"m.safetensors.*truncated"),
    Case("ckpt-trailing", lambda t: cl.load(_text(t, "x.safetensors", _ckpt(t).read_bytes() + b"junk")), ValueError,
         r"x.safetensors.*(trailing garbage|truncated)"),
    Case("ckpt-corrupt-json", lambda t: cl.load(_flip_header(t)), ValueError, r"m.safetensors.*(not valid JSON|corrupted)"),
    Case("ckpt-header-list", lambda t: cl.load(_raw_safetensors(t, [1, 2])), ValueError, r"header is a JSON list, expected an object"),
    Case("ckpt-header-string", lambda t: cl.load(_raw_safetensors(t, "abc")), ValueError, r"header is a JSON str"),
    Case("ckpt-entry-not-dict", lambda t: cl.load(_raw_safetensors(t, {"w": 5})), ValueError,
         r"tensor 'w': expected an entry with dtype, shape and data_offsets, got 5"),
    Case("ckpt-dtype", lambda t: cl.load(_raw_safetensors(t, {"w": {**_T, "dtype": "Q99"}}, b"\x00" * 8)), ValueError,
         r"tensor 'w': unknown dtype 'Q99'"),
    Case("ckpt-shape-str", lambda t: cl.load(_raw_safetensors(t, {"w": {**_T, "shape": "2"}}, b"\x00" * 8)), ValueError,
         r"tensor 'w': shape must be a list of non-negative integers, got '2'"),
    Case("ckpt-shape-neg", lambda t: cl.load(_raw_safetensors(t, {"w": {**_T, "shape": [-2]}}, b"\x00" * 8)), ValueError,
         r"tensor 'w': shape must be a list of non-negative integers, got \[-2\]"),
    Case("ckpt-offsets-order", lambda t: cl.load(_raw_safetensors(t, {"w": {**_T, "data_offsets": [8, 0]}}, b"\x00" * 8)),
         ValueError, r"tensor 'w': data_offsets must be \[begin, end\] .*got \[8, 0\]"),
    Case("ckpt-offsets-span", lambda t: cl.load(_raw_safetensors(t, {"w": {**_T, "shape": [3]}}, b"\x00" * 8)), ValueError,
         r"tensor 'w': F32\[3\] needs 12 bytes but data_offsets span 8"),
    Case("ckpt-offsets-past-end", lambda t: cl.load(_raw_safetensors(t, {"w": _T}, b"\x00" * 4)), ValueError,
         r"truncated: tensor 'w' ends at byte 8 of the data but the file holds 4"),
    Case("ckpt-metadata-types", lambda t: cl.load(_raw_safetensors(t, {"__metadata__": {"a": 1}, "w": _T}, b"\x00" * 8)),
         ValueError, r"__metadata__ must map strings to strings"),
    Case("ckpt-missing", lambda t: cl.load(t / "none.safetensors"), FileNotFoundError, r"none.safetensors"),
    Case("save-object", lambda t: cl.save({"f": object()}, t / "o.safetensors"), TypeError, r"save: cannot store object at"),
    Case("save-complex", lambda t: cl.save({"c": np.ones(2, complex)}, t / "c.safetensors"), TypeError,
         r"save: array at .* has dtype complex128"),
    Case("ckpt-other-model", lambda t: nn.Linear(2, 3).load_state_dict(cl.load(_model_ckpt(t))), RuntimeError,
         r"size mismatch for weight: copying a param with shape \(4, 5\) from checkpoint, the shape in current model is \(3, 2\)"),
]


def _model_ckpt(t):
    p = t / "lin.safetensors"
    cl.save(nn.Linear(5, 4).state_dict(), p)
    return p


FILE_FAMILIES = {"idx": IDX, "cifar": CIFAR, "images": IMAGES, "checkpoints": CHECKPOINTS}


@params(IDX)
def test_idx_files(case, tmp_path):
    check(case, tmp_path)


@params(CIFAR)
def test_cifar_files(case, tmp_path):
    check(case, tmp_path)


@params(IMAGES)
def test_images_and_folders(case, tmp_path):
    check(case, tmp_path)


@params(CHECKPOINTS)
def test_checkpoints(case, tmp_path):
    check(case, tmp_path)


def test_refused_checkpoint_leaves_the_model_untouched(tmp_path):
    model = nn.Linear(2, 3)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    try:
        model.load_state_dict(cl.load(_model_ckpt(tmp_path)))
    except RuntimeError:
        pass
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
