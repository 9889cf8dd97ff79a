"""The preprocessing spec: how any picture becomes a model's input, in one place.

A :class:`Preprocessing` says how many channels the model takes, its image size, how a picture
of another size gets there (``resize``: ``"stretch"``, ``"pad"`` = fit inside and pad, or
``"crop"`` = fill and centre-crop), whether brightness is inverted, the zero padding added
around it and the per-channel mean/std it is normalised with. Checkpoints record it (under
``meta["preprocessing"]``), and training, evaluation, prediction, inspection and export all go
through the same two steps:

1. :meth:`Preprocessing.convert`: a decoded image (a PIL image, or an ``(H, W)``, ``(H, W, C)``
   or ``(C, H, W)`` array) -> float32 ``(C, H, W)`` pixels in [0, 1] of the right channels and
   size, inverted if asked. Datasets hold pixels at this stage (augmentation works on them);
2. :meth:`Preprocessing.finish`: a batch of such pixels ``(N, C, H, W)`` -> zero padding, then
   ``(x - mean) / std``: the model's input.

:meth:`Preprocessing.apply` is the two in a row, for one picture.

>>> import numpy as np
>>> spec = Preprocessing(channels=1, size=(4, 4), mean=(0.5,), std=(0.25,))
>>> spec.apply(np.full((8, 8, 3), 255, np.uint8)).shape      # white RGB 8x8 -> 1x4x4, (1 - 0.5) / 0.25
(1, 4, 4)
>>> float(spec.apply(np.full((8, 8, 3), 255, np.uint8))[0, 0, 0])
2.0
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..validate import ConvlabError
from .images import GRAY_MODES  # noqa: F401  (the modes that read as one channel)
from .images import LUMA as _LUMA  # ITU-R 601-2, Pillow's convert("L") weights

RESIZE_POLICIES = ("stretch", "pad", "crop")


def _pair(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How a picture becomes a model input (see the module docstring).

    Args:
        channels: 1 (grayscale) or 3 (RGB).
        size: ``(height, width)`` of the converted picture (before ``pad``), or one int for a square.
        resize: ``"stretch"`` (to the size, ignoring the aspect ratio), ``"pad"`` (scaled to fit
            inside, the rest black) or ``"crop"`` (scaled to cover, then centre-cropped).
        mean, std: per-channel normalisation (``channels`` values each), or None for none.
        invert: replace brightness ``v`` by ``1 - v`` (dark-on-light pictures for a model that
            learnt light-on-dark ones).
        pad: zero pixels added on every side after conversion (the model sees ``size + 2 * pad``).
    """

    channels: int
    size: tuple
    resize: str = "stretch"
    mean: tuple | None = None
    std: tuple | None = None
    invert: bool = False
    pad: int = 0

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ConvlabError(f"Preprocessing: channels must be 1 or 3, got {self.channels!r}")
        h, w = _pair(self.size)
        if h < 1 or w < 1:
            raise ConvlabError(f"Preprocessing: size must be positive, got {self.size!r}")
        object.__setattr__(self, "size", (h, w))
        if self.resize not in RESIZE_POLICIES:
            raise ConvlabError(f"Preprocessing: resize must be one of {', '.join(RESIZE_POLICIES)}, got {self.resize!r}")
        if (self.mean is None) != (self.std is None):
            raise ConvlabError("Preprocessing: give both mean and std, or neither")
        if self.mean is not None:
            mean, std = tuple(float(m) for m in self.mean), tuple(float(s) for s in self.std)
            if len(mean) == 1 and self.channels == 3:
                mean, std = mean * 3, std * 3
            if len(mean) != self.channels or len(std) != self.channels:
                raise ConvlabError(f"Preprocessing: mean and std need {self.channels} value{'s' if self.channels > 1 else ''} "
                                 "each (one per channel), "
                                 f"got {len(mean)} and {len(std)}")
            if not all(math.isfinite(v) for v in mean + std) or min(std) <= 0:
                raise ConvlabError(f"Preprocessing: mean must be finite and std finite and > 0, got {mean} and {std}")
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "std", std)
        if int(self.pad) != self.pad or self.pad < 0:
            raise ConvlabError(f"Preprocessing: pad must be a whole number >= 0, got {self.pad!r}")
        object.__setattr__(self, "pad", int(self.pad))
        object.__setattr__(self, "invert", bool(self.invert))

    # ------------------------------------------------------------------ description
    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the model's input."""
        h, w = self.size
        return self.channels, h + 2 * self.pad, w + 2 * self.pad

    @property
    def mode(self) -> str:
        """The Pillow mode of the pixels: ``"L"`` or ``"RGB"``."""
        return "L" if self.channels == 1 else "RGB"

    def describe(self) -> str:
        """One line, e.g. ``3x64x64 RGB (resize: pad), normalised with mean 0.49,0.48,0.45 std 0.25,0.24,0.26``."""
        c, h, w = self.input_shape
        parts = [f"{c}x{h}x{w} {'grayscale' if c == 1 else 'RGB'} (resize: {self.resize}"
                 + (f", then {self.pad} px of zero padding" if self.pad else "") + ")"]
        if self.invert:
            parts.append("inverted")
        if self.mean is not None:
            parts.append("normalised with mean " + ",".join(f"{m:.3g}" for m in self.mean)
                         + " std " + ",".join(f"{s:.3g}" for s in self.std))
        else:
            parts.append("not normalised")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        """JSON-ready, as stored in checkpoints (with ``mode``/``image_size``/``input_shape`` for older readers)."""
        return {"channels": self.channels, "size": list(self.size), "resize": self.resize,
                "mean": list(self.mean) if self.mean is not None else None,
                "std": list(self.std) if self.std is not None else None,
                "invert": self.invert, "pad": self.pad,
                "mode": self.mode, "image_size": list(self.size), "input_shape": list(self.input_shape)}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        """The inverse of :meth:`to_dict`; also reads the older ``{mode, image_size, pad, mean, std}`` form."""
        if isinstance(d, Preprocessing):
            return d
        if not isinstance(d, dict):
            raise TypeError(f"Preprocessing.from_dict: expected a dict, got {type(d).__name__}")
        channels = d.get("channels")
        if channels is None:
            mode = d.get("mode")
            channels = 1 if mode == "L" else 3 if mode == "RGB" else (d.get("input_shape") or [None])[0]
        size = d.get("size") or d.get("image_size")
        if channels is None or size is None:
            raise ConvlabError(f"Preprocessing.from_dict: needs channels and size, got keys {sorted(d)}")
        return cls(channels=int(channels), size=tuple(size), resize=d.get("resize", "stretch"),
                   mean=d.get("mean"), std=d.get("std"), invert=bool(d.get("invert", False)), pad=int(d.get("pad", 0)))

    def replace(self, **changes) -> Preprocessing:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ step 1: picture -> pixels
    def convert(self, image, notes: list | None = None) -> np.ndarray:
        """A decoded picture -> float32 ``(C, H, W)`` pixels in [0, 1] (channels, inversion, size).

        ``image``: a PIL image of any mode, or an array ``(H, W)``, ``(H, W, C)`` (C = 1, 3 or 4)
        or ``(C, H, W)`` (C = 1 or 3): uint8 is scaled by 1/255, uint16 by 1/65535, floats are
        taken as [0, 1]. Transparent pixels are composited on black. When ``notes`` is a list,
        what was changed is appended to it in words (``"RGBA -> grayscale"``, ``"300x200 -> 28x28 (pad)"``).
        """
        a, what = _to_hwc(image)
        if "EXIF" in what and notes is not None:
            notes.append("EXIF orientation applied")
            what = what.split(" (")[0]
        c = a.shape[2]
        if c in (2, 4):  # alpha: composite on black, the background of the training images
            a = a[..., :-1] * a[..., -1:]
            c -= 1
        if c != self.channels:
            a = a @ _LUMA[:, None] if c == 3 else np.repeat(a, 3, axis=2)
            if notes is not None:
                notes.append(f"{what} -> {'grayscale' if self.channels == 1 else 'RGB'}")
        elif what in ("RGBA", "LA", "PA") and notes is not None:
            notes.append(f"{what} -> {'grayscale' if self.channels == 1 else 'RGB'} (transparent parts black)")
        if self.invert:
            a = 1.0 - a
            if notes is not None:
                notes.append("inverted")
        h0, w0 = a.shape[:2]
        if (h0, w0) != self.size:
            a = _resize(a, self.size, self.resize)
            if notes is not None:
                notes.append(f"{w0}x{h0} -> {self.size[1]}x{self.size[0]} ({self.resize})")
        return np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)

    def convert_batch(self, images: np.ndarray) -> np.ndarray:
        """:meth:`convert` for a stack ``(N, C, H, W)`` (uint8 in, uint8 out); a stack already of the
        right shape and not to be inverted is returned as it is (the named datasets' fast path)."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[:, None]
        if images.shape[1:] == (self.channels, *self.size) and not self.invert:
            return images
        if images.shape[1:] == (self.channels, *self.size):  # only inversion: one array operation
            return (255 - images) if images.dtype == np.uint8 else 1.0 - images
        out = np.empty((len(images), self.channels, *self.size), np.float32)
        for i, x in enumerate(images):  # as (H, W, C): convert reads a (C, H, W) array <= 4 wide as (H, W, C)
            out[i] = self.convert(np.moveaxis(x if x.dtype != np.uint8 else x.astype(np.float32) / 255, 0, -1))
        return to_uint8(out) if images.dtype == np.uint8 else out

    # ------------------------------------------------------------------ step 2: pixels -> model input
    def finish(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels ``(N, C, H, W)`` (or ``(C, H, W)``) in [0, 1] -> the model's input: zero padding, then normalisation."""
        x = np.asarray(pixels, dtype=np.float32)
        t = self.transform()
        return x if t is None else np.asarray(t(x), dtype=np.float32)

    def apply(self, image, notes: list | None = None) -> np.ndarray:
        """One decoded picture -> the model's ``(C, H, W)`` input (:meth:`convert` then :meth:`finish`)."""
        return self.finish(self.convert(image, notes))

    def apply_batch(self, images) -> np.ndarray:
        """Pictures (a list, or a stack ``(N, C, H, W)``) -> the model's ``(N, C, H, W)`` input."""
        if isinstance(images, np.ndarray):
            pixels = self.convert_batch(images)
            if pixels.dtype == np.uint8:
                pixels = pixels.astype(np.float32) / 255
            return self.finish(pixels)
        return np.stack([self.apply(im) for im in images]) if len(images) else np.zeros((0, *self.input_shape), np.float32)

    def transform(self, augment=None):
        """The datasets' transform: pixels -> [zero padding] -> ``augment`` steps -> normalisation.

        ``augment``: a list of batched transforms run on the padded pixels (random crops, flips), or None.
        Random erasing, which works on normalised values, is for the caller to append."""
        from .transforms import Compose, Normalize, Pad

        steps = ([Pad(self.pad)] if self.pad else []) + list(augment or [])
        if self.mean is not None:
            steps.append(Normalize(self.mean, self.std))
        return Compose(steps) if steps else None


# ---------------------------------------------------------------------- helpers
def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Pixels in [0, 1] -> uint8 (rounded), a quarter of the memory for datasets held in memory."""
    return np.clip(np.rint(np.asarray(pixels, np.float32) * 255), 0, 255).astype(np.uint8)


def _to_hwc(image) -> tuple[np.ndarray, str]:
    """``(float32 (H, W, C) array in [0, 1], a word for what it was)``; pictures are decoded by
    :mod:`convlab.data.images` (every Pillow mode), arrays scaled by their dtype."""
    from .images import Decoded, _to_float

    if isinstance(image, Decoded):
        return image.pixels, image.mode + (" (EXIF orientation applied)" if image.rotated else "")
    if hasattr(image, "mode") and hasattr(image, "getbands"):  # a PIL image
        return _to_float(image, "the picture"), image.mode
    a = np.asarray(image.numpy() if hasattr(image, "numpy") else image)
    if a.ndim == 2:
        a = a[..., None]
    elif a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[2] not in (1, 2, 3, 4):
        a = a.transpose(1, 2, 0)  # (C, H, W)
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise ConvlabError(f"Preprocessing: expected an image array (H, W), (H, W, C) or (C, H, W) with 1-4 channels, "
                         f"got shape {a.shape}")
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535
    elif a.dtype.kind in "iu":
        raise ConvlabError(f"Preprocessing: integer image arrays must be uint8 or uint16, got {a.dtype}")
    else:
        a = a.astype(np.float32)
    return a, {1: "grayscale", 2: "LA", 3: "RGB", 4: "RGBA"}[a.shape[2]]


def _resize_plane(plane: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of one float plane with Pillow (antialiased when shrinking, like torchvision's)."""
    from PIL import Image

    return np.asarray(Image.fromarray(plane, mode="F").resize((hw[1], hw[0]), Image.BILINEAR), dtype=np.float32)


def _resize(a: np.ndarray, size: tuple[int, int], policy: str) -> np.ndarray:
    h0, w0 = a.shape[:2]
    h, w = size
    if policy == "stretch":
        target = (h, w)
    else:  # scale by the smaller ratio to fit inside ("pad"), the larger to cover ("crop")
        pick = min if policy == "pad" else max
        s = pick(h / h0, w / w0)
        target = (max(1, round(h0 * s)), max(1, round(w0 * s)))
        if policy == "pad":
            target = (min(target[0], h), min(target[1], w))
        else:
            target = (max(target[0], h), max(target[1], w))
    a = np.stack([_resize_plane(np.ascontiguousarray(a[..., k]), target) for k in range(a.shape[2])], axis=2)
    if policy == "pad":
        out = np.zeros((h, w, a.shape[2]), np.float32)
        top, left = (h - target[0]) // 2, (w - target[1]) // 2
        out[top:top + target[0], left:left + target[1]] = a
        return out
    if policy == "crop":
        top, left = (target[0] - h) // 2, (target[1] - w) // 2
        return a[top:top + h, left:left + w]
    return a


def from_checkpoint(ckpt: dict, path: str = "checkpoint", fallback: Preprocessing | None = None) -> Preprocessing:
    """The :class:`Preprocessing` a checkpoint records (``meta["preprocessing"]``), else ``fallback``;
    without either, a ``ValueError`` that names the flags supplying it."""
    meta = (ckpt.get("meta") if isinstance(ckpt, dict) else None) or {}
    pre = meta.get("preprocessing")
    if pre:
        return Preprocessing.from_dict(pre)
    if fallback is not None:
        return fallback
    raise ConvlabError(f"{path} does not record how its pictures were preprocessed; give it with --image-size H,W and "
                     "--channels 1|3 (and --mean/--std if the model was trained on normalised input), or save the "
                     "checkpoint with convlab.save(model, path, preprocessing=...) or Trainer(..., preprocessing=...)")
