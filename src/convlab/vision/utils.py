"""torchvision's ``utils``: :func:`make_grid` tiles a batch of images into one, :func:`save_image`
writes a batch (or one image) as a PNG/JPEG file, atomically."""

from __future__ import annotations

import io
import math
import os

import numpy as np

from ..files import write_atomic
from ..tensor import Tensor, from_numpy
from ..validate import ConvlabError


def _batch(tensor) -> np.ndarray:
    if isinstance(tensor, (list, tuple)):
        tensor = np.stack([np.asarray(t._data if isinstance(t, Tensor) else t) for t in tensor])
    a = np.asarray(tensor._data if isinstance(tensor, Tensor) else tensor)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        a = a[None] if a.shape[0] in (1, 3) else a[:, None]  # one (C, H, W) image, or (N, H, W)
    if a.ndim != 4:
        raise ConvlabError(f"make_grid: expected a (B, C, H, W) batch or a list of (C, H, W) images, got shape {a.shape}")
    return a


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False, value_range=None,
              scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Tile ``B`` images into a grid ``nrow`` wide, ``padding`` pixels apart (torchvision's layout).

    One-channel images become three-channel; ``normalize`` rescales to [0, 1] using ``value_range``
    (default: the min and max, of each image with ``scale_each``).

    Shape:
        ``(B, C, H, W)`` -> ``(3, rows * (H + padding) + padding, min(nrow, B) * (W + padding) + padding)``
        (C = 3 when C is 1 or 3); a single image comes back unpadded.

    >>> import convlab
    >>> make_grid(convlab.ones(5, 1, 4, 4), nrow=3).shape
    convlab.Size([3, 14, 20])
    """
    a = _batch(tensor).astype(np.float32, copy=True)
    if a.shape[1] == 1:
        a = np.repeat(a, 3, axis=1)
    if normalize:
        def rescale(x, lo, hi):
            np.clip(x, lo, hi, out=x)
            x -= lo
            x /= max(hi - lo, 1e-5)

        if scale_each:
            for img in a:
                rescale(img, *(value_range or (img.min(), img.max())))
        else:
            rescale(a, *(value_range or (a.min(), a.max())))
    b, c, h, w = a.shape
    if b == 1:
        return from_numpy(a[0])
    cols = min(nrow, b)
    rows = math.ceil(b / cols)
    grid = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value, np.float32)
    for k in range(b):
        y, x = divmod(k, cols)
        top, left = y * (h + padding) + padding, x * (w + padding) + padding
        grid[:, top:top + h, left:left + w] = a[k]
    return from_numpy(grid)


def save_image(tensor, fp, format: str | None = None, **kwargs) -> None:  # noqa: A002 - torchvision's name
    """Save an image or a batch (tiled with :func:`make_grid`, which takes the ``kwargs``); values in
    [0, 1] map to 0..255. ``fp`` is a path (written atomically) or a binary file object."""
    from PIL import Image

    grid = np.asarray(make_grid(tensor, **kwargs)._data)
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    if hasattr(fp, "write"):
        image.save(fp, format=format)
        return
    buf = io.BytesIO()
    fmt = format or os.path.splitext(os.fspath(fp))[1].lstrip(".").upper().replace("JPG", "JPEG") or "PNG"
    image.save(buf, format=fmt)
    write_atomic(fp, buf.getvalue())
