"""The one place the explorer turns pictures into model inputs: the checkpoint's preprocessing spec.

Two kinds of picture reach a model here: an item of the dataset's test split, and an image
uploaded from the page. Both go through the :class:`convlab.data.preprocess.Preprocessing` the
checkpoint records, in its two steps: ``convert`` (a decoded picture -> pixels of the model's
channels and size; the test split already holds such pixels) and ``finish`` (zero padding, then
normalisation). Uploads are decoded by :func:`convlab.data.images.decode_image`, the decoder of
``convlab predict``, so the explorer sees exactly what ``predict`` sees.

Upload limits (checked before any pixel is decoded): at most :data:`MAX_UPLOAD_BYTES` bytes,
:data:`MAX_PIXELS` pixels, and one of the formats in :data:`FORMATS`. The bytes are decoded in
memory and never written anywhere.
"""

from __future__ import annotations

import io

import numpy as np

from ..validate import ConvlabError

MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")


class UploadError(ValueError):
    """An uploaded image the explorer refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Preprocessing:
    """The explorer's view of a checkpoint's spec (``meta['preprocessing']``).

    ``display`` arrays are the pixels the model sees before normalisation, in [0, 1] and in the
    model input's coordinates (zero padding included), so a receptive field drawn on them lines up.
    """

    def __init__(self, meta: dict):
        from ..data.preprocess import from_checkpoint

        self.spec = from_checkpoint({"meta": meta or {}}, "the checkpoint")
        self.input_shape = tuple(self.spec.input_shape)

    def describe(self) -> dict:
        return {**self.spec.to_dict(), "text": self.spec.describe()}

    # ------------------------------------------------------------------ the two ways in
    def from_dataset_item(self, pixels) -> tuple[np.ndarray, np.ndarray]:
        """``(model input (1, C, H, W) float32, display (C, H, W))`` of a test-split item (pixels already converted)."""
        return self._finish(np.asarray(pixels, dtype=np.float32))

    def from_upload(self, data: bytes, content_type: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
        """Decode uploaded bytes and convert them with the spec; ``(input, display, note)``."""
        from PIL import Image, UnidentifiedImageError

        from ..data.images import decode_image

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
        notes: list[str] = []
        try:
            pixels = self.spec.convert(decode_image(io.BytesIO(data)), notes)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            reason = str(exc).split(": cannot read as an image: ")[-1]  # the message names the BytesIO, not a file
            raise UploadError(f"cannot decode the image ({reason})", 415) from None
        model_input, display = self._finish(pixels)
        return model_input, display, ", ".join(notes)

    def _finish(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if pixels.ndim == 2:
            pixels = pixels[None]
        if pixels.shape != (self.spec.channels, *self.spec.size):
            raise ConvlabError(f"pixels of shape {pixels.shape}; the spec converts to {(self.spec.channels, *self.spec.size)}")
        p = self.spec.pad
        display = np.pad(pixels, ((0, 0), (p, p), (p, p))) if p else pixels
        model_input = np.ascontiguousarray(self.spec.finish(pixels[None]), dtype=np.float32)
        return model_input, np.clip(display, 0.0, 1.0).astype(np.float32)
