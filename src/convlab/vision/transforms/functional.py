"""torchvision's ``transforms.functional``: the geometry the transforms use, on a PIL image or a
``(..., H, W)`` tensor."""

from __future__ import annotations

import enum
import numbers

import numpy as np

from ...tensor import Tensor, from_numpy
from ...validate import ConvlabError


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
        return mode
    name = mode.value if isinstance(mode, InterpolationMode) else str(mode)
    return {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
            "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}[name]


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


def _pair(size, name: str) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) in (1, 2):
        return (int(size[0]), int(size[-1]))
    raise ConvlabError(f"{name}: size must be an int or a (height, width) pair, got {size!r}")


def _array(img: Tensor) -> np.ndarray:
    return np.asarray(img._data)


def resize(img, size, interpolation=InterpolationMode.BILINEAR):
    """Resize to ``(h, w)``."""
    h, w = size
    if _is_pil(img):
        return img.resize((w, h), _pil_filter(interpolation))
    from PIL import Image

    a = _array(img)
    flat = a.reshape(-1, a.shape[-2], a.shape[-1]).astype(np.float32, copy=False)
    out = np.stack([np.asarray(Image.fromarray(c, mode="F").resize((w, h), _pil_filter(interpolation))) for c in flat])
    return from_numpy(out.reshape(a.shape[:-2] + (h, w)).astype(a.dtype if a.dtype.kind == "f" else np.float32))


def crop(img, top: int, left: int, height: int, width: int):
    """The ``height x width`` window at ``(top, left)``; outside the image is zero, as torchvision pads."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    a = _array(img)
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
    return from_numpy(np.ascontiguousarray(_array(img)[..., ::-1]))


def vflip(img):
    if _is_pil(img):
        from PIL import Image

        return img.transpose(Image.FLIP_TOP_BOTTOM)
    return from_numpy(np.ascontiguousarray(_array(img)[..., ::-1, :]))


def _resize_target(h: int, w: int, size, max_size=None) -> tuple[int, int]:
    """torchvision's rule: an int resizes the shorter side to it, keeping the aspect ratio."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    s = int(size[0] if isinstance(size, (tuple, list)) else size)
    short, long = (h, w) if h <= w else (w, h)
    new_short, new_long = s, int(s * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if h <= w else (new_long, new_short)
