"""Reading image files into float arrays in [0, 1], for every mode Pillow decodes.

``read_image(path, mode=None)`` returns a float32 ``(C, H, W)`` array: ``C = 1`` for ``mode="L"``,
3 for ``"RGB"``. What each file mode becomes (before the conversion to ``mode``):

==========================  =============================================================
``1``                       0 or 1
``L``, ``P``, ``RGB``       8-bit values / 255 (a palette is looked up first)
``LA``, ``RGBA``, ``PA``    composited on black: value * alpha (the training images' background)
``CMYK``                    (1 - C)(1 - K), (1 - M)(1 - K), (1 - Y)(1 - K)
``YCbCr``                   JPEG's full-range BT.601 transform to RGB
``I;16``, ``I;16B/L/N``     16-bit values / 65535 (not clipped to 8 bits)
``I``                       32-bit integers holding 16-bit data (Pillow's mode for many 16-bit files): / 65535;
                            values outside [0, 65535] are refused, not clipped
``F``                       32-bit floats, kept as they are when in [0, 1]; anything else is refused
==========================  =============================================================

EXIF orientation is applied first (a phone photo stored sideways comes out upright). Colour to
gray uses ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B, Pillow's and torchvision's weights),
computed in float so that 16-bit precision survives. Every error names the file.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from ..validate import FileFormatError, choice, reading

GRAY_MODES = ("1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N", "I;16S", "P;L")
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _to_float(im, path) -> np.ndarray:
    """Pillow image -> float32 ``(H, W, C)`` in [0, 1], C in {1, 3}, alpha composited on black."""
    m = im.mode
    if m == "P" or m == "PA":
        im = im.convert("RGBA" if (m == "PA" or "transparency" in im.info) else "RGB")
        m = im.mode
    elif m in ("La", "RGBa"):  # premultiplied alpha: the colour is already value * alpha
        im = im.convert("LA" if m == "La" else "RGBA")
        m = im.mode
    elif m in ("RGBX", "HSV", "LAB"):
        im = im.convert("RGB")
        m = "RGB"
    if m == "1":
        a = np.asarray(im, dtype=np.float32)
    elif m in ("L", "RGB", "LA", "RGBA"):
        a = np.asarray(im, dtype=np.float32) / np.float32(255)
    elif m.startswith("I;16"):
        a = np.asarray(im).astype(np.float32) / np.float32(65535)
    elif m == "I":
        raw = np.asarray(im)
        lo, hi = (int(raw.min()), int(raw.max())) if raw.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise FileFormatError(f"{path}: a 32-bit integer image with values in [{lo}, {hi}]; convlab reads "
                                  "integer images of up to 16 bits (values in [0, 65535])")
        a = raw.astype(np.float32) / np.float32(65535)
    elif m == "F":
        a = np.asarray(im, dtype=np.float32)
        if a.size and not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1):
            lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
            raise FileFormatError(f"{path}: a floating-point image with values in [{lo}, {hi}] (or NaN/infinity); "
                                  "convlab reads floating-point images whose values lie in [0, 1]")
    elif m == "CMYK":
        c = np.asarray(im, dtype=np.float32) / np.float32(255)
        a = (1 - c[..., :3]) * (1 - c[..., 3:])
    elif m == "YCbCr":
        ycc = np.asarray(im, dtype=np.float32)
        y, cb, cr = ycc[..., 0], ycc[..., 1] - 128, ycc[..., 2] - 128
        a = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1) / 255
        a = np.clip(a, 0, 1)
    else:
        raise FileFormatError(f"{path}: image mode {m!r} is not supported")
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] in (2, 4):  # composite on black: value * alpha
        a = a[..., :-1] * a[..., -1:]
    return a


def _convert(a: np.ndarray, mode: str) -> np.ndarray:
    if mode == "L" and a.shape[-1] == 3:
        return (a @ LUMA)[..., None]
    if mode == "RGB" and a.shape[-1] == 1:
        return np.repeat(a, 3, axis=-1)
    return a


def _resize(a: np.ndarray, size) -> np.ndarray:
    """Bilinear resize of each channel in float (Pillow's mode-F filter, no 8-bit rounding)."""
    from PIL import Image

    h, w = size
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(a[..., c])).resize((w, h), Image.BILINEAR))
             for c in range(a.shape[-1])]
    return np.stack(chans, -1)


def natural_mode(im_mode: str) -> str:
    """The mode an image reads as when none is asked for: ``"L"`` for gray files, else ``"RGB"``."""
    return "L" if im_mode in GRAY_MODES else "RGB"


def read_image(path, mode: str | None = None, size=None) -> np.ndarray:
    """Read an image file as a float32 ``(C, H, W)`` array in [0, 1].

    Args:
        path: the image file (PNG, JPEG, BMP, GIF, WebP, TIFF, PPM/PGM...), or a binary file object
            (``io.BytesIO``) holding one.
        mode: ``"L"`` (1 channel), ``"RGB"`` (3 channels) or None (``"L"`` for grayscale files,
            else ``"RGB"``).
        size: ``(height, width)`` to resize to (bilinear, in float), or None.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: (a ``ValueError`` and ``RuntimeError``) the file is not an image Pillow
            can decode, holds values convlab cannot map to [0, 1], or is larger than Pillow's
            decompression-bomb limit; the message starts with the path.

    >>> import numpy as np, tempfile, os
    >>> from PIL import Image
    >>> p = os.path.join(tempfile.mkdtemp(), "g16.png")
    >>> Image.fromarray(np.full((2, 3), 32768, np.uint16)).save(p)
    >>> read_image(p).shape, round(float(read_image(p).mean()), 4)
    ((1, 2, 3), 0.5)
    """
    return _read(path, mode, size)[0]


class Decoded(NamedTuple):
    """A decoded picture: ``pixels`` float32 ``(H, W, C)`` in [0, 1] with C = 1 or 3 (alpha
    composited on black), the file's Pillow ``mode``, and whether EXIF orientation ``rotated`` it."""

    pixels: np.ndarray
    mode: str
    rotated: bool


def decode_image(path) -> Decoded:
    """Decode a picture file of any mode (see the table above), EXIF orientation applied, into a
    :class:`Decoded`; errors name the file (``FileNotFoundError``, or ``FileFormatError``)."""
    from PIL import Image, ImageOps

    with reading(path, "an image") as p, warnings.catch_warnings():
        # Pillow's "Corrupt EXIF data" and kin: the picture decodes, or the error below names the file
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
        with Image.open(path if hasattr(path, "read") else p) as im:  # a path, or a binary file object (an upload)
            original_mode = im.mode
            im.load()
            orientation = im.getexif().get(0x0112, 1)
            im = ImageOps.exif_transpose(im) or im
            rotated = orientation not in (0, 1, None)
            a = _to_float(im, p)
    return Decoded(a, original_mode, rotated)


def _read(path, mode, size):
    if mode is not None:
        choice(mode, ("L", "RGB"), "read_image", "mode")
    if size is not None:
        from ..validate import int_tuple

        size = int_tuple(size, 2, "read_image", "size", min=1)
    a, original_mode, rotated = decode_image(path)
    want = mode or natural_mode(original_mode)
    notes = []
    a = _convert(a, want)
    if want != original_mode:
        notes.append(f"mode {original_mode} -> {want}")
    if rotated:
        notes.append("EXIF orientation applied")
    if size is not None and a.shape[:2] != tuple(size):
        notes.append(f"size {a.shape[1]}x{a.shape[0]} -> {size[1]}x{size[0]}")
        a = _resize(a, size)
    return np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32), ", ".join(notes)
