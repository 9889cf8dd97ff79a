"""The one place the explorer turns pictures into model inputs: the checkpoint's preprocessing.

Two kinds of picture reach a model here: an item of the dataset's test split, and an image
uploaded from the page. Both go through the preprocessing the checkpoint records (its mode,
size, padding and normalisation), the code path ``convlab predict`` uses, so the explorer sees
exactly what ``predict`` sees. Everything that knows how that record is laid out lives in
:class:`Preprocessing`; when the data module's preprocessing spec changes, this adapter is
what changes with it.

Upload limits (checked before any pixel is decoded): at most :data:`MAX_UPLOAD_BYTES` bytes,
:data:`MAX_PIXELS` pixels, and one of the formats in :data:`FORMATS`. The bytes are decoded in
memory and never written anywhere.
"""

from __future__ import annotations

import io

import numpy as np

MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")


class UploadError(ValueError):
    """An uploaded image the explorer refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Preprocessing:
    """The deterministic preprocessing a checkpoint records (``meta['preprocessing']``).

    ``display`` arrays are what the model sees before normalisation, in [0, 1] and in the
    model input's coordinates (padding included), so a receptive field drawn on them lines up.
    """

    def __init__(self, spec: dict):
        if not spec or "input_shape" not in spec:
            raise ValueError("the checkpoint does not record its preprocessing (not written by convlab train)")
        self.spec = dict(spec)
        self.mode = spec.get("mode") or ("L" if spec["input_shape"][0] == 1 else "RGB")
        self.image_size = tuple(int(v) for v in spec.get("image_size") or spec["input_shape"][1:])
        self.input_shape = tuple(int(v) for v in spec["input_shape"])
        self.pad = int(spec.get("pad") or 0)
        mean, std = spec.get("mean"), spec.get("std")
        self.mean = None if mean is None else np.asarray(mean, np.float32).reshape(-1, 1, 1)
        self.std = None if std is None else np.asarray(std, np.float32).reshape(-1, 1, 1)

    def describe(self) -> dict:
        return {"mode": self.mode, "image_size": list(self.image_size), "pad": self.pad,
                "input_shape": list(self.input_shape),
                "mean": None if self.mean is None else self.mean.ravel().tolist(),
                "std": None if self.std is None else self.std.ravel().tolist()}

    # ------------------------------------------------------------------ the two ways in
    def from_dataset_item(self, image) -> tuple[np.ndarray, np.ndarray]:
        """``(model input (1, C, H, W) float32, display (C, H, W) in [0, 1])`` of a raw test-split item."""
        return self._finish(np.asarray(image, dtype=np.float32))

    def from_upload(self, data: bytes, content_type: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
        """Decode uploaded bytes with the checkpoint's mode and size; ``(input, display, note)``."""
        from PIL import Image, UnidentifiedImageError

        from ..data import load_image

        if not data:
            raise UploadError("the upload is empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise UploadError(f"the upload has {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,}", 413)
        if content_type and not (content_type.startswith("image/") or content_type == "application/octet-stream"):
            raise UploadError(f"expected an image content type, got {content_type!r}", 415)
        try:
            with Image.open(io.BytesIO(data), formats=FORMATS) as im:  # reads the header only
                w, h = im.size
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise UploadError(f"not an image in one of the formats {', '.join(FORMATS)} ({exc})", 415) from None
        if w * h > MAX_PIXELS:
            raise UploadError(f"the image has {w}x{h} = {w * h:,} pixels; the limit is {MAX_PIXELS:,}", 413)
        try:
            x, note = load_image(io.BytesIO(data), mode=self.mode, size=self.image_size)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            reason = str(exc).split(": cannot read as an image: ")[-1]  # the message names the BytesIO, not a file
            raise UploadError(f"cannot decode the image ({reason})", 415) from None
        model_input, display = self._finish(x)
        return model_input, display, note

    def _finish(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pad, then normalise (the order of ``convlab.train.run.eval_transform``)."""
        from ..train.run import eval_transform

        if x.ndim == 2:
            x = x[None]
        if x.shape[0] != self.input_shape[0]:
            raise ValueError(f"image has {x.shape[0]} channels but the model takes {self.input_shape[0]}")
        display = np.pad(x, ((0, 0), (self.pad, self.pad), (self.pad, self.pad))) if self.pad else x
        transform = eval_transform(self.spec)
        batch = x[None] if transform is None else transform(x[None])
        return np.ascontiguousarray(batch, dtype=np.float32), np.clip(display, 0.0, 1.0).astype(np.float32)
