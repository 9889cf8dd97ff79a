"""read_image against an independent decode: the values are the numbers written into the file
(by hand-built PNG bytes or from the NumPy array handed to Pillow), mapped to [0, 1] by the
formula in the test, with the tolerance written beside it."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from convlab.data import load_image, read_image
from convlab.data.images import _to_float
from convlab.validate import FileFormatError

RNG = np.random.default_rng(0)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png16(values: np.ndarray) -> bytes:
    """A 16-bit grayscale PNG written byte by byte (no Pillow): IHDR, one IDAT, IEND."""
    h, w = values.shape
    rows = b"".join(b"\x00" + values[i].astype(">u2").tobytes() for i in range(h))  # filter 0 per row
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b"")


def test_16bit_png_is_scaled_by_65535_not_clipped(tmp_path):
    values = np.full((5, 7), 32768, np.uint16)
    values[0, 0], values[-1, -1] = 0, 65535
    p = tmp_path / "g16.png"
    p.write_bytes(_png16(values))
    got = read_image(p)
    assert got.shape == (1, 5, 7)
    np.testing.assert_allclose(got[0], values / 65535.0, rtol=0, atol=1e-7)
    assert abs(float(got.mean()) - values.mean() / 65535) < 1e-6  # the 0.998 was the clipped mean


def test_16bit_png_keeps_precision_below_8_bits(tmp_path):
    values = RNG.integers(0, 65536, (4, 6)).astype(np.uint16)
    p = tmp_path / "r16.png"
    p.write_bytes(_png16(values))
    np.testing.assert_allclose(read_image(p)[0], values / 65535.0, atol=1e-7)
    rgb = read_image(p, mode="RGB")
    np.testing.assert_allclose(rgb, np.repeat(values[None] / 65535.0, 3, 0), atol=1e-7)


def _save(tmp_path, im, fmt, name):
    p = tmp_path / name
    im.save(p, fmt)
    return p


U8 = RNG.integers(0, 256, (4, 5, 4)).astype(np.uint8)


@pytest.mark.parametrize("mode,fmt,expected", [
    ("L", "PNG", lambda a: a[..., :1] / 255),
    ("RGB", "PNG", lambda a: a[..., :3] / 255),
    ("RGBA", "PNG", lambda a: a[..., :3] / 255 * (a[..., 3:] / 255)),
    ("LA", "PNG", lambda a: a[..., :1] / 255 * (a[..., 1:2] / 255)),
    ("CMYK", "TIFF", lambda a: (1 - a[..., :3] / 255) * (1 - a[..., 3:] / 255)),
])
def test_eight_bit_modes_match_the_written_array(tmp_path, mode, fmt, expected):
    bands = len(mode)
    raw = np.ascontiguousarray(U8[..., :bands])
    im = Image.frombytes(mode, (5, 4), raw.tobytes())
    got = read_image(_save(tmp_path, im, fmt, f"x.{fmt.lower()}"))
    np.testing.assert_allclose(got.transpose(1, 2, 0), expected(U8.astype(np.float64)), atol=1e-6)


def test_bilevel_and_palette(tmp_path):
    bits = RNG.integers(0, 2, (4, 8)).astype(bool)
    im = Image.frombytes("1", (8, 4), np.packbits(bits, axis=1).tobytes())
    np.testing.assert_array_equal(read_image(_save(tmp_path, im, "PNG", "b.png"))[0], bits.astype(np.float32))
    palette = RNG.integers(0, 256, (256, 3)).astype(np.uint8)
    index = RNG.integers(0, 256, (3, 4)).astype(np.uint8)
    p = Image.frombytes("L", (4, 3), index.tobytes())
    p.putpalette(palette.tobytes())  # makes it mode P
    assert p.mode == "P"
    got = read_image(_save(tmp_path, p, "PNG", "p.png"))
    np.testing.assert_allclose(got.transpose(1, 2, 0), palette[index] / 255.0, atol=1e-6)


def test_ycbcr_follows_the_jpeg_transform(tmp_path):
    ycc = RNG.integers(16, 240, (3, 4, 3)).astype(np.uint8)
    im = Image.frombytes("YCbCr", (4, 3), ycc.tobytes())
    got = read_image(_save(tmp_path, im, "TIFF", "y.tif")).transpose(1, 2, 0)
    y, cb, cr = (ycc[..., i].astype(np.float64) for i in range(3))
    rgb = np.stack([y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128), y + 1.772 * (cb - 128)], -1)
    np.testing.assert_allclose(got, np.clip(rgb, 0, 255) / 255, atol=1e-5)


@pytest.mark.parametrize("mode,dtype", [("I;16", "<u2"), ("I;16B", ">u2"), ("I;16L", "<u2"), ("I;16N", "=u2")])
def test_16bit_variants(mode, dtype):
    values = RNG.integers(0, 65536, (3, 5)).astype(dtype)
    im = Image.frombytes(mode, (5, 3), values.tobytes())
    np.testing.assert_allclose(_to_float(im, "mem")[..., 0], values / 65535.0, atol=1e-7)


def test_32bit_integer_and_float_images(tmp_path):
    values = RNG.integers(0, 65536, (3, 4)).astype(np.int32)
    p = _save(tmp_path, Image.fromarray(values, "I"), "TIFF", "i.tif")
    np.testing.assert_allclose(read_image(p)[0], values / 65535.0, atol=1e-7)
    f = RNG.random((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(read_image(_save(tmp_path, Image.fromarray(f, "F"), "TIFF", "f.tif"))[0], f)


@pytest.mark.parametrize("bad,match", [
    (np.array([[-1, 70000]], np.int32), r"values in \[-1, 70000\]"),
])
def test_32bit_integers_out_of_range_are_refused_not_clipped(tmp_path, bad, match):
    p = _save(tmp_path, Image.fromarray(bad, "I"), "TIFF", "big.tif")
    with pytest.raises(FileFormatError, match=str(p).replace("\\", "\\\\") + ".*" + match):
        read_image(p)


@pytest.mark.parametrize("value", [2.0, np.nan, np.inf])
def test_float_images_outside_0_1_are_refused(tmp_path, value):
    p = _save(tmp_path, Image.fromarray(np.array([[0.5, value]], np.float32), "F"), "TIFF", "f.tif")
    with pytest.raises(ValueError, match="f.tif: a floating-point image"):
        read_image(p)


@pytest.mark.parametrize("orientation,transform", [
    (1, lambda a: a), (2, lambda a: a[:, ::-1]), (3, lambda a: a[::-1, ::-1]),
    (6, lambda a: np.rot90(a, -1)), (8, lambda a: np.rot90(a, 1)),
])
def test_exif_orientation_is_applied(tmp_path, orientation, transform):
    a = RNG.integers(0, 256, (2, 3)).astype(np.uint8)
    im = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / "o.png"
    im.save(p, exif=exif.tobytes())
    got, note = load_image(p)
    np.testing.assert_allclose(got[0], transform(a) / 255.0, atol=1e-7)
    assert ("EXIF orientation applied" in note) == (orientation != 1)


def test_rgb_to_gray_uses_luma_and_resize_is_float(tmp_path):
    a = RNG.integers(0, 256, (4, 6, 3)).astype(np.uint8)
    p = _save(tmp_path, Image.fromarray(a), "PNG", "c.png")
    got = read_image(p, mode="L")[0]
    np.testing.assert_allclose(got, (a / 255.0) @ [0.299, 0.587, 0.114], atol=1e-6)
    small, note = load_image(p, size=(2, 3))
    assert small.shape == (3, 2, 3) and "size 6x4 -> 3x2" in note
    assert 0 <= small.min() and small.max() <= 1


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_every_decoder_error_names_the_file(tmp_path, data):
    p = tmp_path / "broken.png"
    p.write_bytes(data)
    with pytest.raises(ValueError, match="broken.png") as info:
        read_image(p)
    assert isinstance(info.value, RuntimeError)


def test_bad_mode_and_size_are_named(tmp_path):
    p = _save(tmp_path, Image.fromarray(U8[..., 0]), "PNG", "g.png")
    with pytest.raises(ValueError, match=r"read_image: mode must be one of 'L', 'RGB', got 'CMYK'"):
        read_image(p, mode="CMYK")
    with pytest.raises(ValueError, match=r"read_image: size must be positive, got 0"):
        read_image(p, size=(0, 3))


def test_in_memory_png_matches_file(tmp_path):
    buf = io.BytesIO(_png16(np.array([[1, 2]], np.uint16)))
    p = tmp_path / "m.png"
    p.write_bytes(buf.getvalue())
    np.testing.assert_allclose(read_image(p)[0], [[1 / 65535, 2 / 65535]], atol=1e-9)
