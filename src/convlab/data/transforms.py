"""Image transforms: ``Compose``, ``ToTensor``, ``Normalize``, ``Pad``, ``RandomCrop``,
``RandomHorizontalFlip``, ``RandomErasing``, ``Lambda``.

Every transform takes one image ``(C, H, W)`` *or a whole batch* ``(N, C, H, W)`` (a NumPy
array or a convlab ``Tensor``; the result has the same kind) and draws its randomness for
all samples of a batch at once, so augmenting a batch is a handful of array operations,
not a Python loop per image.

Randomness: ``transform(x, rng=g)`` draws from the NumPy generator ``g``; without ``rng``
the transform uses its own generator, seeded by ``seed`` (or, when ``seed`` is None, from
the library generator at construction, so :func:`convlab.manual_seed` makes it
reproducible). The :class:`~convlab.data.DataLoader` passes a generator derived from
``(loader seed, epoch, batch index)``, so augmentation is a pure function of the batch's
position: reproducible, independent of prefetching, and exact after a resume.

>>> import numpy as np
>>> flip = RandomHorizontalFlip(p=1.0)
>>> flip(np.arange(3, dtype=np.float32).reshape(1, 1, 3)).tolist()
[[[2.0, 1.0, 0.0]]]
"""

from __future__ import annotations

import numpy as np

from .. import validate
from ..random import scoped_generator
from ..tensor import Tensor, default_generator
from ..validate import ConvlabError


def _unwrap(x):
    if isinstance(x, Tensor):
        return x._data, True
    return np.asarray(x), False


def _wrap(a, was_tensor: bool):
    return Tensor(a, dtype=a.dtype) if was_tensor else a


def _as_batch(a: np.ndarray, name: str):
    """View ``a`` as ``(N, C, H, W)``; return it and whether it was a single image."""
    if a.ndim == 3:
        return a[None], True
    if a.ndim == 4:
        return a, False
    raise ConvlabError(f"{name}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {a.shape}")


def call_transform(transform, x, rng=None):
    """Apply ``transform`` to ``x``, passing ``rng`` to convlab transforms (plain callables get ``x`` only)."""
    if transform is None:
        return x
    if isinstance(transform, Transform):
        return transform(x, rng=rng)
    return transform(x)


def is_batched(transform) -> bool:
    """True when ``transform`` accepts a whole ``(N, C, H, W)`` batch."""
    return transform is None or bool(getattr(transform, "batched", False))


class Transform:
    """Base class: subclasses implement ``apply(batch, rng)`` on an ``(N, C, H, W)`` array."""

    batched = True

    def __init__(self, seed: int | None = None):
        if seed is None:
            seed = int(default_generator().integers(2**63))
        self.seed = seed
        self.generator = np.random.default_rng(seed)

    def __call__(self, x, rng: np.random.Generator | None = None):
        a, was_tensor = _unwrap(x)
        batch, single = _as_batch(a, type(self).__name__)
        if rng is None:  # inside a DataLoader fetch: that batch's stream, the same for any num_workers
            rng = scoped_generator() or getattr(self, "generator", None)
        out = self.apply(batch, rng)
        return _wrap(out[0] if single else out, was_tensor)

    def apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose(Transform):
    """Apply transforms one after another (the same ``rng`` is handed down the chain)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        self.batched = all(is_batched(t) for t in self.transforms)

    def __call__(self, x, rng=None):
        for t in self.transforms:
            x = call_transform(t, x, rng)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class Lambda(Transform):
    """Wrap a function of the image (or batch) as a transform."""

    def __init__(self, fn, batched: bool = False):
        self.fn, self.batched = fn, batched

    def __call__(self, x, rng=None):
        return self.fn(x)


class ToTensor(Transform):
    """Convert a PIL image, an ``(H, W)`` / ``(H, W, C)`` uint8 array, or a float ``(C, H, W)``
    array to a float32 ``Tensor`` ``(C, H, W)`` with values in [0, 1] (uint8 is divided by 255).
    Float arrays and batches pass through unchanged apart from becoming float32 Tensors."""

    def __init__(self):
        pass

    def __call__(self, x, rng=None):
        if isinstance(x, Tensor):
            return x if x.dtype == np.float32 else Tensor(x._data.astype(np.float32))
        if not isinstance(x, np.ndarray) and hasattr(x, "mode") and hasattr(x, "size"):  # a PIL image
            x = np.asarray(x)
        a = np.asarray(x)
        if a.dtype == np.uint8:
            if a.ndim == 2:
                a = a[:, :, None]
            if a.ndim != 3:
                raise ConvlabError(f"ToTensor: expected a (H, W) or (H, W, C) uint8 image, got shape {a.shape}")
            a = a.transpose(2, 0, 1).astype(np.float32)
            a /= 255
            return Tensor(a, dtype=a.dtype)
        if a.ndim == 2:
            a = a[None]
        return Tensor(a.astype(np.float32, copy=False))


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel.

    Args:
        mean, std: one number per channel (or a single number for all channels).
    """

    def __init__(self, mean, std):
        self.mean = validate.reals(mean, "Normalize", "mean").astype(np.float32)
        self.std = validate.reals(std, "Normalize", "std").astype(np.float32)
        if np.any(self.std == 0):
            raise ConvlabError(f"Normalize: std must be non-zero, got {self.std.tolist()}")

    def apply(self, batch, rng):
        c = batch.shape[1]
        if self.mean.size not in (1, c) or self.std.size not in (1, c):
            raise ConvlabError(f"Normalize: {self.mean.size} means/{self.std.size} stds for images with {c} channels")
        return ((batch - self.mean[:, None, None]) / self.std[:, None, None]).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _pair(v, name):
    """An int or a pair of non-negative ints (1.5 and None refused, never truncated)."""
    pair = (v, v) if validate._is_int(v) else v
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(validate._is_int(x) for x in pair):
        raise validate.ArgumentTypeError(f"{name}: expected an int or a pair, got {validate._safe_repr(v)}")
    if min(pair) < 0:
        raise ConvlabError(f"{name}: expected non-negative ints, got {tuple(pair)}")
    return int(pair[0]), int(pair[1])


class Pad(Transform):
    """Add ``padding`` pixels of value ``fill`` on every side (e.g. 28x28 -> 32x32 with ``padding=2``)."""

    def __init__(self, padding, fill: float = 0.0):
        self.padding, self.fill = _pair(padding, "Pad padding"), fill

    def apply(self, batch, rng):
        ph, pw = self.padding
        return np.pad(batch, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=self.fill)

    def __repr__(self) -> str:
        return f"Pad(padding={self.padding}, fill={self.fill})"


class RandomCrop(Transform):
    """Pad by ``padding`` (zeros, or ``fill``) then crop a random ``size`` window per image.

    Args:
        size: output ``(h, w)`` (an int for square).
        padding: pixels added on each side before cropping (int or ``(ph, pw)``).
        fill: the value of the padding.
        seed: seed of the transform's own generator (used when no ``rng`` is passed).
    """

    def __init__(self, size, padding=0, fill: float = 0.0, seed=None):
        super().__init__(seed)
        self.size = _pair(size, "RandomCrop size")
        self.padding = _pair(padding, "RandomCrop padding")
        self.fill = fill

    def apply(self, batch, rng):
        n, c, _, _ = batch.shape
        ph, pw = self.padding
        if ph or pw:
            batch = np.pad(batch, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=self.fill)
        H, W = batch.shape[2:]
        h, w = self.size
        if h > H or w > W:
            raise ConvlabError(f"RandomCrop: crop {h}x{w} is larger than the padded image {H}x{W}")
        top = rng.integers(0, H - h + 1, size=n)
        left = rng.integers(0, W - w + 1, size=n)
        # one gather for the whole batch: rows[n, i] = top[n] + i, cols[n, j] = left[n] + j
        rows = (top[:, None] + np.arange(h))[:, None, :, None]
        cols = (left[:, None] + np.arange(w))[:, None, None, :]
        return batch[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, seed=None):
        super().__init__(seed)
        self.p = p

    def apply(self, batch, rng):
        flip = rng.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomErasing(Transform):
    """With probability ``p`` set a random rectangle of each image to ``value`` (Zhong et al., 2017).

    The rectangle covers a fraction of the area drawn from ``scale`` with an aspect ratio
    drawn log-uniformly from ``ratio``; like torchvision, up to 10 draws are made per image
    and an image with no draw that fits is left as it is.

    Args:
        value: a number, or ``"random"`` for standard-normal noise.
    """

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0, seed=None):
        super().__init__(seed)
        p = validate.probability(p, "RandomErasing", "p")
        if not 0 <= p <= 1:
            raise ConvlabError(f"RandomErasing: p must be in [0, 1], got {p}")
        self.p, self.scale, self.ratio, self.value = p, scale, ratio, value

    def apply(self, batch, rng, tries: int = 10):
        n, c, H, W = batch.shape
        erase = rng.random(n) < self.p
        area = H * W * rng.uniform(self.scale[0], self.scale[1], size=(n, tries))
        logr = rng.uniform(np.log(self.ratio[0]), np.log(self.ratio[1]), size=(n, tries))
        h = np.round(np.sqrt(area * np.exp(logr))).astype(np.int64)
        w = np.round(np.sqrt(area / np.exp(logr))).astype(np.int64)
        fits = (h >= 1) & (w >= 1) & (h < H) & (w < W)
        first = np.argmax(fits, axis=1)  # the first draw that fits, per image
        ok = erase & fits[np.arange(n), first]
        h, w = h[np.arange(n), first], w[np.arange(n), first]
        top = (rng.random(n) * (H - h + 1)).astype(np.int64)
        left = (rng.random(n) * (W - w + 1)).astype(np.int64)
        r = np.arange(H)[None, :, None]
        col = np.arange(W)[None, None, :]
        mask = ((r >= top[:, None, None]) & (r < (top + h)[:, None, None])
                & (col >= left[:, None, None]) & (col < (left + w)[:, None, None]) & ok[:, None, None])
        mask = np.broadcast_to(mask[:, None], batch.shape)
        if isinstance(self.value, str):
            if self.value != "random":
                raise ConvlabError(f"RandomErasing: value must be a number or 'random', got {self.value!r}")
            fill = rng.standard_normal(batch.shape).astype(batch.dtype)
        else:
            fill = np.asarray(self.value, dtype=batch.dtype)
        return np.where(mask, fill, batch)

    def __repr__(self) -> str:
        return f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value!r})"

from .. import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
