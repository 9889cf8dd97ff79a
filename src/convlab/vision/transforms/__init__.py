"""torchvision-style transforms on one image: a PIL image or a ``(C, H, W)`` tensor (``(N, C, H, W)``
works too where the operation is the same for every image).

``Compose([Resize(32), RandomHorizontalFlip(), ToTensor(), Normalize(mean, std)])`` reads as in
torchvision. Random transforms draw from the library generator (:func:`convlab.manual_seed`); in a
DataLoader each batch draws from its own stream, so augmentation is the same for any number of
workers. Resizing goes through Pillow (bilinear by default, with Pillow's antialiasing when
shrinking, which torchvision's ``antialias=True`` was made to match).

>>> import numpy as np
>>> from PIL import Image
>>> t = Compose([Resize(8), CenterCrop(6), ToTensor(), Normalize([0.5], [0.5])])
>>> t(Image.fromarray(np.full((16, 20), 255, np.uint8))).shape
convlab.Size([1, 6, 6])
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ... import validate
from ...random import default_generator
from ...tensor import Tensor, from_numpy
from ...validate import ConvlabError
from . import functional  # noqa: F401  (transforms.functional, as in torchvision)
from .functional import (
    InterpolationMode,
    _array,
    _is_pil,
    _pair,
    _pil_filter,
    _resize_target,
    _size,
    crop,
    hflip,
    resize,
    vflip,
)


# ---------------------------------------------------------------- the transforms
class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t!r}\n" for t in self.transforms) + ")"


class Lambda:
    """Apply a user function."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return "Lambda()"


class ToTensor:
    """A PIL image or an ``(H, W[, C])`` array to a float32 ``(C, H, W)`` tensor; uint8 is scaled to [0, 1]."""

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            return pic
        a = np.asarray(pic)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise TypeError(f"ToTensor: pic should be a PIL image or an (H, W[, C]) array, got shape {a.shape}")
        chw = np.ascontiguousarray(a.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return from_numpy(chw.astype(np.float32) / np.float32(255))
        if chw.dtype == np.bool_:
            return from_numpy(chw.astype(np.float32))
        return from_numpy(chw.astype(np.float32) if chw.dtype.kind in "iu" else chw)

    def __repr__(self) -> str:
        return "ToTensor()"


class PILToTensor:
    """A PIL image to a ``(C, H, W)`` tensor of its own dtype (uint8 for 8-bit images), unscaled."""

    def __call__(self, pic):
        a = np.asarray(pic)
        a = a[:, :, None] if a.ndim == 2 else a
        return from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


class ToPILImage:
    """A ``(C, H, W)`` tensor (float in [0, 1] or uint8) to a PIL image ('L', 'RGB' or 'RGBA')."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        from PIL import Image

        a = _array(pic) if isinstance(pic, Tensor) else np.asarray(pic).transpose(2, 0, 1)
        if a.dtype.kind == "f":
            a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
        hwc = a.transpose(1, 2, 0)
        return Image.fromarray(hwc[:, :, 0] if hwc.shape[2] == 1 else hwc, mode=self.mode)


class ConvertImageDtype:
    """Cast an image tensor, rescaling: uint8 [0, 255] <-> float [0, 1]."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __call__(self, img: Tensor) -> Tensor:
        a = _array(img)
        if a.dtype.kind in "iu" and self.dtype.kind == "f":
            return from_numpy((a / np.iinfo(a.dtype).max).astype(self.dtype))
        if a.dtype.kind == "f" and self.dtype.kind in "iu":
            return from_numpy((a * np.iinfo(self.dtype).max).round().astype(self.dtype))
        return from_numpy(a.astype(self.dtype))


class Normalize:
    """``(x - mean) / std`` per channel of a ``(C, H, W)`` or ``(N, C, H, W)`` tensor."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = validate.reals(mean, "Normalize", "mean").tolist()
        self.std = validate.reals(std, "Normalize", "std").tolist()
        if any(s == 0 for s in self.std):
            raise ConvlabError(f"Normalize: std evaluated to zero after conversion ({self.std}), leading to division by zero")

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: expected a tensor (use ToTensor first), got {type(tensor).__name__}")
        a = _array(tensor)
        c = a.shape[-3]
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ConvlabError(f"Normalize: {len(self.mean)} means / {len(self.std)} stds for an image of {c} channels")
        mean = np.asarray(self.mean, a.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, a.dtype).reshape(-1, 1, 1)
        return from_numpy((a - mean) / std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Resize:
    """Resize to ``size``: an int resizes the shorter side (keeping the aspect ratio), ``(h, w)`` both."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        self.size, self.interpolation, self.max_size = size, interpolation, max_size

    def __call__(self, img):
        h, w = _size(img)
        return resize(img, _resize_target(h, w, self.size, self.max_size), self.interpolation)

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation={getattr(self.interpolation, 'value', self.interpolation)})"


class CenterCrop:
    """The central ``size`` window (padded with zeros when the image is smaller)."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, img):
        h, w = _size(img)
        ch, cw = self.size
        return crop(img, int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw)

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class Pad:
    """Pad the borders: ``padding`` is one int, ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        if not (validate._is_int(padding) or isinstance(padding, (tuple, list))
                and all(validate._is_int(v) for v in padding)):
            raise validate.ArgumentTypeError(f"Pad: padding must be an int or a sequence of 2 or 4 ints, got "
                                             f"{validate._safe_repr(padding)}")
        p = [padding] * 4 if isinstance(padding, numbers.Integral) else list(padding)
        if len(p) == 2:
            p = [p[0], p[1], p[0], p[1]]
        if len(p) != 4:
            raise ConvlabError(f"Pad: padding must be an int or a sequence of 2 or 4, got {padding!r}")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ConvlabError(f"Pad: padding_mode must be constant, edge, reflect or symmetric, got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = p, fill, padding_mode

    def __call__(self, img):
        left, top, right, bottom = self.padding
        pil = _is_pil(img)
        a = np.asarray(img) if pil else _array(img)
        if pil:
            widths = [(top, bottom), (left, right)] + [(0, 0)] * (a.ndim - 2)
        else:
            widths = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
        kw = {"constant_values": self.fill} if self.padding_mode == "constant" else {}
        out = np.pad(a, widths, mode=self.padding_mode, **kw)
        if pil:
            from PIL import Image

            return Image.fromarray(out, mode=img.mode)
        return from_numpy(out)


class RandomCrop:
    """A random ``size`` window, after optional ``padding`` (torchvision's arguments)."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant"):
        self.size = _pair(size, "RandomCrop")
        self.pad = Pad(padding, fill, padding_mode) if padding is not None else None
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def __call__(self, img):
        if self.pad is not None:
            img = self.pad(img)
        h, w = _size(img)
        th, tw = self.size
        if self.pad_if_needed and (h < th or w < tw):
            img = Pad((max(tw - w, 0), max(th - h, 0)), self.fill, self.padding_mode)(img)
            h, w = _size(img)
        if h < th or w < tw:
            raise ConvlabError(f"RandomCrop: required crop size {(th, tw)} is larger than the input image size {(h, w)}")
        gen = default_generator()
        return crop(img, int(gen.integers(0, h - th + 1)), int(gen.integers(0, w - tw + 1)), th, tw)


class RandomResizedCrop:
    """A random crop of random area (``scale``) and aspect ratio (``ratio``), resized to ``size``
    (the Inception-style augmentation; torchvision's sampling rule, ten tries then a centre crop)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.size = _pair(size, "RandomResizedCrop")
        scale, ratio = (validate.reals(v, "RandomResizedCrop", n) for v, n in ((scale, "scale"), (ratio, "ratio")))
        if len(scale) != 2 or len(ratio) != 2 or scale.min() < 0 or ratio.min() <= 0:
            raise ConvlabError(f"RandomResizedCrop: scale and ratio must be pairs (min, max) of non-negative / positive "
                               f"numbers, got scale={scale.tolist()}, ratio={ratio.tolist()}")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ConvlabError(f"RandomResizedCrop: scale and ratio should be of kind (min, max), got {scale}, {ratio}")
        self.scale, self.ratio, self.interpolation = tuple(scale), tuple(ratio), interpolation

    def get_params(self, img) -> tuple[int, int, int, int]:
        h, w = _size(img)
        area, gen = h * w, default_generator()
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * gen.uniform(*self.scale)
            aspect = math.exp(gen.uniform(*log_ratio))
            cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return int(gen.integers(0, h - ch + 1)), int(gen.integers(0, w - cw + 1)), ch, cw
        in_ratio = w / h  # fallback: the largest centred crop within the ratio range
        if in_ratio < self.ratio[0]:
            cw, ch = w, int(round(w / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            ch, cw = h, int(round(h * self.ratio[1]))
        else:
            ch, cw = h, w
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def __call__(self, img):
        top, left, ch, cw = self.get_params(img)
        return resize(crop(img, top, left, ch, cw), self.size, self.interpolation)


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, img):
        return hflip(img) if default_generator().random() < self.p else img

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    def __call__(self, img):
        return vflip(img) if default_generator().random() < self.p else img


class RandomApply:
    """Apply the list of ``transforms`` with probability ``p``."""

    def __init__(self, transforms, p: float = 0.5):
        if not isinstance(transforms, (list, tuple)) or not all(callable(t) for t in transforms):
            raise validate.ArgumentTypeError(f"RandomApply: transforms must be a list of callables, got "
                                             f"{validate._safe_repr(transforms)}")
        self.transforms, self.p = list(transforms), validate.probability(p, "RandomApply", "p")

    def __call__(self, img):
        if default_generator().random() < self.p:
            for t in self.transforms:
                img = t(img)
        return img


class Grayscale:
    """Convert to grayscale (ITU-R 601-2 luma) with 1 or 3 output channels."""

    def __init__(self, num_output_channels: int = 1):
        if num_output_channels not in (1, 3):
            raise ConvlabError(f"Grayscale: num_output_channels should be either 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        if _is_pil(img):
            g = img.convert("L")
            return g if self.num_output_channels == 1 else g.convert("RGB")
        a = _array(img)
        luma = (0.2989 * a[..., 0, :, :] + 0.587 * a[..., 1, :, :] + 0.114 * a[..., 2, :, :]) if a.shape[-3] == 3 \
            else a[..., 0, :, :]
        out = np.repeat(luma[..., None, :, :], self.num_output_channels, axis=-3)
        return from_numpy(out.astype(a.dtype, copy=False))


class RandomRotation:
    """Rotate by an angle uniform in ``degrees`` (a number d means [-d, d])."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False, center=None, fill=0):
        if validate._is_real(degrees):
            d = validate.nonneg(degrees, "RandomRotation", "degrees")
            self.degrees = (-d, d)
        else:
            d = validate.reals(degrees, "RandomRotation", "degrees")
            if len(d) != 2 or d[0] > d[1]:
                raise ConvlabError(f"RandomRotation: degrees must be a number or a (min, max) pair, got {degrees!r}")
            self.degrees = (float(d[0]), float(d[1]))
        self.interpolation, self.expand, self.center, self.fill = interpolation, expand, center, fill

    def __call__(self, img):
        angle = float(default_generator().uniform(*self.degrees))
        if _is_pil(img):
            return img.rotate(angle, _pil_filter(self.interpolation), self.expand, self.center, fillcolor=self.fill)
        from PIL import Image

        a = _array(img)
        flat = a.reshape(-1, *a.shape[-2:]).astype(np.float32)
        out = np.stack([np.asarray(Image.fromarray(c, mode="F").rotate(angle, _pil_filter(self.interpolation),
                                                                        self.expand, self.center, fillcolor=self.fill))
                        for c in flat])
        return from_numpy(out.reshape(a.shape[:-2] + out.shape[-2:]).astype(a.dtype))

from ... import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
