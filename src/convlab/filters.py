"""Classic image kernels and image filtering on convlab's own convolution.

Every kernel here is written in **convolution form**: :func:`filter_image` computes the true
2-D convolution of image processing (seed 004)::

    out[i, j] = sum_{m, n} K[m, n] * X[i + c_h - m, j + c_w - n]      (c = (k - 1) // 2, the centre)

that is, the kernel is rotated by 180 degrees before it slides. A deep-learning "convolution"
(``convlab.functional.conv2d``, the seeds' ``conv2d_naive``) is a cross-correlation: it slides
the kernel without the flip. :func:`filter_image` uses ``convlab.signal.convolve``, which runs
``conv2d`` on the flipped kernel, so both views agree; for kernels symmetric under the
180-degree rotation (box, gaussian, laplace, sharpen) the flip changes nothing, and for the
antisymmetric derivative kernels (Sobel, Prewitt, Scharr, seed 001's edge kernels) it flips the
sign of the response.

Sign conventions of the derivative kernels (x to the right, y downwards): in convolution form
``sobel_x`` is ``[[1, 0, -1], [2, 0, -2], [1, 0, -1]]`` so that ``filter_image(img, sobel_x())``
is **positive where intensity grows to the right** (the d/dx of the image, like
``scipy.ndimage.sobel`` and OpenCV), and ``sobel_y`` is positive where intensity grows
downwards. Their correlation forms (what a Conv2d weight would hold) are the flips, e.g. seed
000's "Sobel horizontal" ``[[-1, -2, -1], [0, 0, 0], [1, 2, 1]] == correlation_form(sobel_y())``.
Seed 001's ``edge_h``/``edge_v`` are kept exactly as that seed wrote them (it applied them as
cross-correlations, so they respond positively to bright-above-dark and bright-left-of-dark).

>>> sobel_x().tolist()[0]
[1.0, 0.0, -1.0]
>>> import numpy as np
>>> step = np.tile(np.array([0, 0, 0, 9, 9, 9], dtype=np.uint8), (4, 1))
>>> filter_image(step, "sobel_x", boundary="replicate")[1].tolist()
[0, 0, 36, 36, 0, 0]
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import validate
from .validate import ConvlabError

__all__ = [
    "KERNELS", "box", "correlation_form", "edge_h", "edge_v", "emboss", "filter_image", "gaussian",
    "get_kernel", "gradient_magnitude", "identity", "kernel_names", "laplace", "mean", "parse_kernel",
    "prewitt_x", "prewitt_y", "scharr_x", "scharr_y", "sharpen", "smooth", "sobel_x", "sobel_y",
]

def _k(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


# ------------------------------------------------------------------ named kernels
def identity(size: int = 3) -> np.ndarray:
    """A ``size x size`` kernel with 1 in the centre: filtering returns the image unchanged."""
    size = _check_odd(size, "identity")
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def box(size: int = 3) -> np.ndarray:
    """The mean (box-blur) kernel: ``size x size`` entries of ``1 / size**2``."""
    size = validate.positive_int(size, "box", "size", max=MAX_KERNEL_SIZE)
    return np.full((size, size), 1.0 / (size * size))


mean = box


def gaussian(sigma: float = 1.0, size: int | None = None) -> np.ndarray:
    """A normalised 2-D Gaussian, ``exp(-(x^2 + y^2) / (2 sigma^2))``, summing to 1.

    ``size`` defaults to ``2 * ceil(3 * sigma) + 1`` (covers +-3 sigma).
    """
    sigma = validate.real(sigma, "gaussian", "sigma", 0.0, (MAX_KERNEL_SIZE - 1) / 6, min_open=True)
    size = _check_odd(2 * math.ceil(3 * sigma) + 1 if size is None else size, "gaussian")
    x = np.arange(size) - size // 2
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


def sharpen() -> np.ndarray:
    """Identity plus the 4-neighbour edge response: ``[[0,-1,0],[-1,5,-1],[0,-1,0]]``."""
    return _k([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])


def laplace(neighbours: int = 8) -> np.ndarray:
    """The edge-detecting Laplace kernel with a positive centre (the negated discrete Laplacian).

    ``neighbours=8`` is seed 004's kernel: -1 everywhere and ``size - 1 = 8`` in the centre, so a
    flat patch gives 0 and a bright dot gives a large positive response. ``neighbours=4`` is
    ``[[0,-1,0],[-1,4,-1],[0,-1,0]]``.
    """
    if neighbours == 8:
        k = -np.ones((3, 3))
        k[1, 1] = 8.0
        return k
    if neighbours == 4:
        return _k([[0, -1, 0], [-1, 4, -1], [0, -1, 0]])
    raise ConvlabError(f"laplace: neighbours must be 4 or 8, got {neighbours!r}")


def sobel_x() -> np.ndarray:
    """Sobel d/dx in convolution form (positive where the image brightens to the right)."""
    return _k([[1, 0, -1], [2, 0, -2], [1, 0, -1]])


def sobel_y() -> np.ndarray:
    """Sobel d/dy in convolution form (positive where the image brightens downwards)."""
    return sobel_x().T.copy()


def prewitt_x() -> np.ndarray:
    """Prewitt d/dx in convolution form (uniform smoothing across the derivative)."""
    return _k([[1, 0, -1], [1, 0, -1], [1, 0, -1]])


def prewitt_y() -> np.ndarray:
    return prewitt_x().T.copy()


def scharr_x() -> np.ndarray:
    """Scharr d/dx in convolution form (3-10-3 weights: better rotational symmetry than Sobel)."""
    return _k([[3, 0, -3], [10, 0, -10], [3, 0, -3]])


def scharr_y() -> np.ndarray:
    return scharr_x().T.copy()


def emboss() -> np.ndarray:
    """The emboss kernel ``[[-2,-1,0],[-1,1,1],[0,1,2]]`` (a diagonal derivative plus the image)."""
    return _k([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


def edge_h() -> np.ndarray:
    """Seed 001's horizontal-edge kernel ``[[1,1,1],[0,0,0],[-1,-1,-1]]`` (as written there)."""
    return _k([[1, 1, 1], [0, 0, 0], [-1, -1, -1]])


def edge_v() -> np.ndarray:
    """Seed 001's vertical-edge kernel ``[[1,0,-1],[1,0,-1],[1,0,-1]]`` (as written there)."""
    return _k([[1, 0, -1], [1, 0, -1], [1, 0, -1]])


def correlation_form(kernel) -> np.ndarray:
    """The kernel rotated by 180 degrees: the weight a cross-correlating Conv2d needs to compute
    the same thing as convolving with ``kernel``."""
    return np.ascontiguousarray(validate.real_array(kernel, "correlation_form", "kernel", ndim=2)[::-1, ::-1])


KERNELS = {
    "identity": identity, "box": box, "mean": box, "blur": box, "gaussian": gaussian,
    "sharpen": sharpen, "laplace": laplace, "laplace4": lambda: laplace(4), "laplace8": lambda: laplace(8),
    "sobel_x": sobel_x, "sobel_y": sobel_y, "prewitt_x": prewitt_x, "prewitt_y": prewitt_y,
    "scharr_x": scharr_x, "scharr_y": scharr_y, "emboss": emboss, "edge_h": edge_h, "edge_v": edge_v,
}


def kernel_names() -> list[str]:
    return sorted(KERNELS)


MAX_KERNEL_SIZE = 1025  # named kernels are at most this wide (a 1025 x 1025 float64 kernel is 8 MiB)


def _check_odd(size, who):
    size = validate.positive_int(size, who, "size", max=MAX_KERNEL_SIZE)
    if size % 2 == 0:
        raise ConvlabError(f"{who}: size must be a positive odd integer, got {size!r}")
    return size


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _number(text: str, spec: str) -> float:
    """A float from ``'2'``, ``'-0.5'``, ``'1e-3'`` or a fraction ``'1/9'`` (no eval)."""
    text = text.strip()
    parts = text.split("/")
    if len(parts) in (1, 2) and all(_NUMBER.match(p.strip()) for p in parts):
        value = float(parts[0])
        if len(parts) == 2:
            den = float(parts[1])
            if den == 0:
                raise ConvlabError(f"kernel spec {spec!r}: division by zero in {text!r}")
            value /= den
        if not math.isfinite(value):
            raise ConvlabError(f"kernel spec {spec!r}: {text!r} is not a finite number")
        return value
    raise ConvlabError(f"kernel spec {spec!r}: {text!r} is not a number")


def parse_kernel(spec: str) -> np.ndarray:
    """A kernel from text: rows separated by ``;``, entries by ``,`` or spaces.

    >>> parse_kernel("1,0,-1; 2,0,-2; 1,0,-1").shape
    (3, 3)
    >>> parse_kernel("1/9 1/9 1/9").tolist() == [[1 / 9] * 3]
    True
    """
    if not isinstance(spec, str):
        raise validate.ArgumentTypeError(f"parse_kernel: spec must be a string, got {validate._safe_repr(spec)}")
    rows = [r for r in spec.strip().strip("[]").split(";")]
    matrix = [[_number(v, spec) for v in re.split(r"[,\s]+", r.strip().strip("[]")) if v] for r in rows]
    if not matrix or any(len(r) == 0 for r in matrix):
        raise ConvlabError(f"kernel spec {spec!r}: empty row")
    if len({len(r) for r in matrix}) != 1:
        raise ConvlabError(f"kernel spec {spec!r}: rows have different lengths {[len(r) for r in matrix]}")
    return np.array(matrix, dtype=np.float64)


def get_kernel(name) -> np.ndarray:
    """A kernel by name, with optional arguments after a colon, or from custom text.

    Names ignore case and treat ``-`` like ``_`` (``"sobel-y"``). Arguments are positional or
    ``key=value``: ``"box:5"``, ``"gaussian:2"``, ``"gaussian:sigma=1.5,size=7"``,
    ``"laplace:4"``. Anything starting with a digit, sign, dot or bracket is parsed by
    :func:`parse_kernel`. An array is returned as a float64 copy.

    >>> get_kernel("sobel-y").tolist()[0]
    [1.0, 2.0, 1.0]
    >>> get_kernel("box:5").shape
    (5, 5)
    """
    if not isinstance(name, str):
        try:
            k = np.array(name, dtype=np.float64)
        except (TypeError, ValueError):
            raise validate.ArgumentTypeError(f"kernel must be a 2-D array of numbers, a name or a spec, "
                                             f"got {validate._safe_repr(name)}") from None
        if k.ndim != 2 or k.size == 0:
            raise ConvlabError(f"kernel must be a non-empty 2-D array, got shape {k.shape}")
        validate.finite_array(k, "filter", "the kernel")
        return k
    spec = name.strip()
    if spec and spec[:1] in "0123456789+-.[":
        return parse_kernel(spec)
    key, _, argtext = spec.partition(":")
    key = key.strip().lower().replace("-", "_")
    if key not in KERNELS:
        raise ConvlabError(f"unknown kernel {name!r}; the name must be one of: {', '.join(kernel_names())} "
                         "(or numbers like '1,0,-1;2,0,-2;1,0,-1')")
    args, kwargs = [], {}
    for part in filter(None, (p.strip() for p in argtext.split(","))):
        if "=" in part:
            k_, v = part.split("=", 1)
            kwargs[k_.strip()] = _number(v, spec)
        else:
            args.append(_number(part, spec))
    args = [int(a) if float(a).is_integer() else a for a in args]
    kwargs = {k_: int(v) if k_ in ("size", "neighbours") and float(v).is_integer() else v for k_, v in kwargs.items()}
    try:
        return np.array(KERNELS[key](*args, **kwargs), dtype=np.float64)
    except TypeError as exc:
        raise ConvlabError(f"kernel {name!r}: bad arguments ({exc})") from None


# ------------------------------------------------------------------ filtering
_BOUNDARY = {"zero": "constant", "reflect": "reflect", "replicate": "edge"}


def _convolve_valid(planes: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Each (H, W) plane of ``planes`` truly convolved with ``kernel``, 'valid' positions only."""
    from .signal import convolve

    return np.stack([convolve(p, kernel, mode="valid") for p in planes])


def filter_image(image, kernel, mode: str = "same", boundary: str = "zero", clip=True,
                 tile_bytes: int | None = None) -> np.ndarray:
    """Convolve a grayscale ``(H, W)`` or colour ``(H, W, C)`` image with a 2-D kernel.

    True convolution (the kernel is flipped, see the module docstring), computed by
    ``convlab.signal.convolve`` -- ``functional.conv2d`` on the flipped kernel -- on the padded
    image, each colour channel separately.

    Args:
        image: array ``(H, W)`` or ``(H, W, C)``, integer (e.g. uint8) or float.
        kernel: an array, a name or a spec accepted by :func:`get_kernel`.
        mode: ``'same'`` (output ``H x W``, kernel centred at ``(kh // 2, kw // 2)``) or
            ``'valid'`` (only positions where the kernel fits: ``(H-kh+1) x (W-kw+1)``). The
            centre of a ``kh x kw`` kernel is ``((kh - 1) // 2, (kw - 1) // 2)``, as in
            ``numpy.convolve`` and ``scipy.signal.convolve2d`` (only even sizes notice).
        boundary: how ``'same'`` sees outside the image -- ``'zero'`` (zeros), ``'reflect'``
            (mirrored about the edge pixel, not repeating it: ``c b | a b c``; numpy's
            ``reflect``, OpenCV's default) or ``'replicate'`` (the edge pixel repeated).
        clip: ``True``: an integer image comes back in its dtype, rounded and clipped to
            ``[0, 255]``; a float image comes back float, clipped to ``[0, 1]``.
            ``False``: the raw float64 response (negative edges kept). A pair ``(lo, hi)``:
            float64 clipped to that range.
        tile_bytes: working-memory budget for the unfolded patches (default: the convolution
            engine's, ``convlab.ops.conv.get_memory_budget()``); larger images are filtered in
            horizontal strips (with a halo of ``kh - 1`` rows) whose results equal one pass.

    Shape:
        ``(H, W)`` or ``(H, W, C)`` in; the same rank out, spatial size set by ``mode``.

    >>> filter_image(np.full((3, 4), 10, np.uint8), "box", boundary="replicate").tolist()[0]
    [10, 10, 10, 10]
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.size == 0:
        raise ConvlabError(f"filter_image: expected an (H, W) or (H, W, C) image, got shape {img.shape}")
    if img.dtype.kind not in "uifb":
        raise TypeError(f"filter_image: unsupported image dtype {img.dtype}")
    k = get_kernel(kernel)
    kh, kw = k.shape
    if mode not in ("same", "valid"):
        raise ConvlabError(f"filter_image: mode must be 'same' or 'valid', got {mode!r}")
    if boundary not in _BOUNDARY:
        raise ConvlabError(f"filter_image: boundary must be one of {sorted(_BOUNDARY)}, got {boundary!r}")
    planes = (img[None] if img.ndim == 2 else np.moveaxis(img, -1, 0)).astype(np.float64)
    if mode == "same":
        # out[i] = sum_m K[m] X[i + c - m] with c = (kh - 1) // 2: pad kh - 1 - c before, c after
        ph, pw = (kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2)
        planes = np.pad(planes, ((0, 0), ph, pw), mode=_BOUNDARY[boundary])
    elif planes.shape[1] < kh or planes.shape[2] < kw:
        raise ConvlabError(f"filter_image: kernel {k.shape} is larger than the image {img.shape[:2]} in 'valid' mode")
    out = _filter_tiled(planes, k, tile_bytes)
    out = out[0] if img.ndim == 2 else np.moveaxis(out, 0, -1)
    return _finish(out, img.dtype, clip)


def _filter_tiled(planes: np.ndarray, kernel: np.ndarray, tile_bytes: int | None) -> np.ndarray:
    """'valid' convolution of padded planes in horizontal strips under ``tile_bytes``.

    One output row of one plane costs about ``out_w * kh * kw`` float64s of unfolded patches
    (planes are convolved one after another); a strip of ``rows`` output rows reads
    ``rows + kh - 1`` input rows, so every output pixel sees exactly the pixels it sees in a
    single pass.
    """
    if tile_bytes is None:
        from .ops.conv import get_memory_budget

        tile_bytes = get_memory_budget()
    kh, kw = kernel.shape
    n, hp, wp = planes.shape
    oh, ow = hp - kh + 1, wp - kw + 1
    row_bytes = 8 * ow * (kh * kw + 2)
    rows = max(1, int(tile_bytes) // max(row_bytes, 1))
    if rows >= oh:
        return _convolve_valid(planes, kernel)
    out = np.empty((n, oh, ow))
    for r0 in range(0, oh, rows):
        r1 = min(oh, r0 + rows)
        out[:, r0:r1] = _convolve_valid(planes[:, r0:r1 + kh - 1], kernel)
    return out


def _finish(out: np.ndarray, dtype: np.dtype, clip) -> np.ndarray:
    if isinstance(clip, (int, np.integer, np.bool_)) and clip in (0, 1):
        clip = bool(clip)
    elif not (clip is None or isinstance(clip, bool)) and not (isinstance(clip, (tuple, list)) and len(clip) == 2):
        raise validate.ArgumentTypeError(f"filter_image: clip must be True, False, None or a pair (lo, hi), "
                                         f"got {validate._safe_repr(clip)}")
    if clip is False or clip is None:
        return out
    if clip is True:
        if dtype.kind in "uib":
            info = np.iinfo(np.uint8 if dtype.kind == "b" else dtype)
            lo, hi = max(info.min, 0), min(info.max, 255)
            return np.clip(np.rint(out), lo, hi).astype(np.uint8 if dtype.kind == "b" else dtype)
        return np.clip(out, 0.0, 1.0).astype(dtype)
    lo, hi = clip
    return np.clip(out, lo, hi)


def gradient_magnitude(image, kind: str = "sobel", boundary: str = "replicate") -> np.ndarray:
    """``sqrt(gx**2 + gy**2)`` from a Sobel (or ``'prewitt'``/``'scharr'``) pair, as float64.

    >>> float(gradient_magnitude(np.ones((5, 5))).max())
    0.0
    """
    if kind not in ("sobel", "prewitt", "scharr"):
        raise ConvlabError(f"gradient_magnitude: kind must be sobel, prewitt or scharr, got {kind!r}")
    gx = filter_image(image, f"{kind}_x", boundary=boundary, clip=False)
    gy = filter_image(image, f"{kind}_y", boundary=boundary, clip=False)
    return np.sqrt(gx * gx + gy * gy)


def smooth(signal, kernel=(1 / 3, 1 / 3, 1 / 3), mode: str = "same") -> np.ndarray:
    """Convolve a 1-D signal with a 1-D kernel (default: the 3-point moving average).

    Modes: ``'full'`` (length ``N + K - 1``), ``'same'`` (length ``N``, centred),
    ``'valid'`` (length ``N - K + 1``) and ``'causal'`` (length ``N``: ``y[x] = sum_i f[i]
    g[x - i]`` for ``x < N``, the first ``N`` values of ``'full'`` -- seed 004's loop, where
    each output averages the current and the previous samples).

    >>> smooth([3, 6, 9, 12], mode="causal").round(3).tolist()
    [1.0, 3.0, 6.0, 9.0]
    """
    f = validate.real_array(signal, "smooth", "signal")
    g = validate.real_array(kernel, "smooth", "kernel")
    if f.ndim != 1 or g.ndim != 1 or f.size == 0 or g.size == 0:
        raise ConvlabError(f"smooth: expected non-empty 1-D signal and kernel, got shapes {f.shape} and {g.shape}")
    if mode not in ("full", "same", "valid", "causal"):
        raise ConvlabError(f"smooth: mode must be full, same, valid or causal, got {mode!r}")
    from .signal import convolve

    if mode == "causal":
        return convolve(f, g, mode="full")[: f.size]
    return convolve(f, g, mode=mode)

from . import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
