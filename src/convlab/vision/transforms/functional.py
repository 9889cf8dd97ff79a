"""torchvision's ``transforms.functional``: the geometry the transforms use, on a PIL image or a
``(..., H, W)`` tensor."""

from __future__ import annotations

import enum

import numpy as np

from ... import validate
from ...tensor import Tensor, from_numpy
from ...validate import ArgumentTypeError, ConvlabError


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    LANCZOS = "lanczos"
    BOX = "box"
    HAMMING = "hamming"


def _pil_filter(mode):
    from PIL import Image

    if isinstance(mode, int):  # a PIL constant, as older programs pass
        return validate.integer(mode, "transforms", "interpolation", 0, 5)
    name = mode.value if isinstance(mode, InterpolationMode) else mode
    filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
               "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}
    validate.choice(name, tuple(filters), "transforms", "interpolation")
    return filters[name]


def _is_pil(img) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(img, Image.Image)


def _size(img) -> tuple[int, int]:
    """(height, width) of a PIL image or a (..., H, W) tensor."""
    if _is_pil(img):
        return img.height, img.width
    if isinstance(img, Tensor):
        return img.shape[-2], img.shape[-1]
    raise TypeError(f"expected a PIL image or a tensor (C, H, W), got {type(img).__name__}")


def _pair(size, name: str, arg: str = "size") -> tuple[int, int]:
    """An int or a (height, width) pair of positive ints (1.5 is refused, never truncated)."""
    if isinstance(size, (tuple, list)) and len(size) == 1:
        size = size[0]
    if isinstance(size, (tuple, list)) and len(size) == 2 or validate._is_int(size):
        return validate.int_tuple(size, 2, name, arg, min=1)
    raise ArgumentTypeError(f"{name}: {arg} must be an int or a (height, width) pair, got {validate._safe_repr(size)}")


def _array(img, where: str = "transforms") -> np.ndarray:
    if not isinstance(img, Tensor):
        raise ArgumentTypeError(f"{where}: img should be a PIL Image or a Tensor, got {type(img).__name__}")
    if img.ndim < 2:
        raise ConvlabError(f"{where}: img should be a tensor (..., H, W) of at least 2 dimensions, got shape "
                           f"{tuple(img.shape)}")
    return np.asarray(img._data)


def resize(img, size, interpolation=InterpolationMode.BILINEAR):
    """Resize to ``(h, w)`` (an int resizes the shorter side to it, keeping the aspect ratio)."""
    size = [_pair(size, "resize")[0]] if validate._is_int(size) or isinstance(size, (tuple, list)) and len(size) == 1 \
        else _pair(size, "resize")
    if _is_pil(img):
        h, w = _resize_target(img.height, img.width, size)
        return img.resize((w, h), _pil_filter(interpolation))
    from PIL import Image

    a = _array(img, "resize")
    h, w = _resize_target(a.shape[-2], a.shape[-1], size)
    validate.allocation(a.shape[:-2] + (h, w), 4, "resize", "the resized image")
    flat = a.reshape(-1, a.shape[-2], a.shape[-1]).astype(np.float32, copy=False)
    out = np.stack([np.asarray(Image.fromarray(c, mode="F").resize((w, h), _pil_filter(interpolation))) for c in flat])
    return from_numpy(out.reshape(a.shape[:-2] + (h, w)).astype(a.dtype if a.dtype.kind == "f" else np.float32))


def crop(img, top: int, left: int, height: int, width: int):
    """The ``height x width`` window at ``(top, left)``; outside the image is zero, as torchvision pads."""
    top, left = validate.integer(top, "crop", "top"), validate.integer(left, "crop", "left")
    height, width = validate.nonneg_int(height, "crop", "height"), validate.nonneg_int(width, "crop", "width")
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    a = _array(img, "crop")
    validate.allocation(a.shape[:-2] + (height, width), a.dtype.itemsize, "crop", "the crop")
    H, W = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + (height, width), a.dtype)
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + height, H), min(left + width, W)
    if t1 > t0 and l1 > l0:
        out[..., t0 - top:t1 - top, l0 - left:l1 - left] = a[..., t0:t1, l0:l1]
    return from_numpy(out)


def hflip(img):
    if _is_pil(img):
        from PIL import Image

        return img.transpose(Image.FLIP_LEFT_RIGHT)
    return from_numpy(np.ascontiguousarray(_array(img, "hflip")[..., ::-1]))


def vflip(img):
    if _is_pil(img):
        from PIL import Image

        return img.transpose(Image.FLIP_TOP_BOTTOM)
    return from_numpy(np.ascontiguousarray(_array(img, "vflip")[..., ::-1, :]))


def _resize_target(h: int, w: int, size, max_size=None) -> tuple[int, int]:
    """torchvision's rule: an int resizes the shorter side to it, keeping the aspect ratio."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    s = int(size[0] if isinstance(size, (tuple, list)) else size)
    if not (h and w):
        raise ConvlabError(f"resize: cannot keep the aspect ratio of an empty {h}x{w} image")
    short, long = (h, w) if h <= w else (w, h)
    new_short, new_long = s, int(s * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if h <= w else (new_long, new_short)

from ... import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
