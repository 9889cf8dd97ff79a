"""View 5, the convolution sandbox: output sizes worked out, and the seeds' kernels on a picture.

The size is the library's: :func:`convlab.shapes.conv_geometry` is the check every
``conv2d`` call makes, so an impossible configuration shows exactly the error ``conv2d`` would
raise. The picture is filtered by ``convlab.functional.conv2d`` twice: once with the kernel as
written (cross-correlation, what a Conv2d layer computes) and once with the kernel turned by
180 degrees (true convolution, :func:`convlab.filters.correlation_form`), with the stride,
padding and dilation chosen above; for the antisymmetric Sobel kernel the two differ in sign.
"""

from __future__ import annotations

import base64
import io
import os

import numpy as np

MAX_SIZE = 4096  # input height/width the size calculator accepts
MAX_KERNEL = 15  # kernel height/width of a custom kernel
MAX_PICTURE = 160  # the picture is resized to fit in this many pixels per side
SEED_KERNELS = ("sobel_x", "sobel_y", "box", "laplace", "gaussian", "sharpen", "identity")


class SandboxError(ValueError):
    """A request the sandbox cannot answer (bad numbers): HTTP 400."""


def _int(params, name, lo, hi, default=None):
    text = params.get(name)
    if text is None or text == "":
        if default is None:
            raise SandboxError(f"{name} is required")
        return default
    try:
        v = int(text)
    except ValueError:
        raise SandboxError(f"{name} must be an integer, got {text!r}") from None
    if not lo <= v <= hi:
        raise SandboxError(f"{name} must be in {lo}..{hi}, got {v}")
    return v


def parse(params) -> dict:
    """The sandbox's numbers from query parameters, range-checked (the library checks the rest)."""
    cfg = {"height": _int(params, "height", 1, MAX_SIZE, 28), "width": _int(params, "width", 1, MAX_SIZE, 28),
           "kernel": _int(params, "kernel", 1, 64, 3), "stride": _int(params, "stride", 1, 64, 1),
           "dilation": _int(params, "dilation", 1, 64, 1)}
    pad = params.get("padding", "0")
    if pad in ("same", "valid"):
        cfg["padding"] = pad
    else:
        cfg["padding"] = _int({"padding": pad}, "padding", 0, 64)
    return cfg


def size_view(cfg: dict) -> dict:
    """The output size with ``floor((W + 2P - D(K-1) - 1) / S) + 1`` worked out per axis, or the library's error."""
    from ..shapes import conv_geometry

    k, s, p, d = cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"]
    try:
        geom = conv_geometry("conv2d", (1, 1, cfg["height"], cfg["width"]), (1, 1, k, k), s, p, d)
    except ValueError as exc:
        return {"ok": False, "error": str(exc)}
    steps = []
    for axis, w, (lo, hi), o in zip(("height", "width"), geom.in_size, geom.pads, geom.out_size):
        span = d * (k - 1) + 1
        pad_txt = f"2*{lo}" if lo == hi else f"{lo} + {hi}"
        steps.append({"axis": axis, "input": w, "output": o,
                      "text": f"floor(({w} + {pad_txt} - {d}*({k}-1) - 1) / {s}) + 1 = "
                              f"floor({w + lo + hi - span} / {s}) + 1 = {o}"})
    from ..shapes import unvisited

    missed = [unvisited(w, k, s, pad, d) for w, pad in zip(geom.in_size, geom.pads)]
    return {"ok": True, "output": list(geom.out_size), "padding": [list(p_) for p_ in geom.pads], "steps": steps,
            "unvisited": missed}


def picture() -> np.ndarray:
    """The sandbox's picture: matplotlib's sample photograph, grayscale, at most MAX_PICTURE pixels a side."""
    import matplotlib
    from PIL import Image

    path = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
    with Image.open(path) as im:
        im = im.convert("L")
        im.thumbnail((MAX_PICTURE, MAX_PICTURE))
        return np.asarray(im, dtype=np.float64) / 255.0


def kernel_from(params) -> tuple[str, np.ndarray]:
    """A named seed kernel or a custom one typed as numbers ('1,0,-1; 2,0,-2; 1,0,-1'), never evaluated."""
    from ..filters import get_kernel, parse_kernel

    name = params.get("name", "sobel_x")
    if name == "custom":
        text = params.get("values", "")
        if len(text) > 2000:
            raise SandboxError("the custom kernel text is longer than 2000 characters")
        try:
            k = parse_kernel(text)
        except ValueError as exc:
            raise SandboxError(str(exc)) from None
        if max(k.shape) > MAX_KERNEL:
            raise SandboxError(f"a custom kernel may be at most {MAX_KERNEL}x{MAX_KERNEL}, got {k.shape[0]}x{k.shape[1]}")
        return "custom", k
    if name not in SEED_KERNELS:
        raise SandboxError(f"unknown kernel {name!r}; choose one of {', '.join(SEED_KERNELS)} or custom")
    return name, get_kernel(name)


def _png(a: np.ndarray, signed: bool) -> str:
    """A float map as a PNG data URL: signed maps blue (negative) - white - red, others gray min..max."""
    from PIL import Image

    if signed:
        m = float(np.abs(a).max()) or 1.0
        t = np.clip(a / m, -1, 1)
        pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
        rgb = np.stack([1 - neg, 1 - pos - neg * 0.4, 1 - pos], axis=-1) * 255
        im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    else:
        lo, hi = float(a.min()), float(a.max())
        g = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        im = Image.fromarray(np.rint(g * 255).astype(np.uint8), "L")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def filter_view(cfg: dict, name: str, kernel: np.ndarray, image: np.ndarray) -> dict:
    """The picture filtered by ``kernel`` both ways, with the sandbox's stride, padding and dilation."""
    from ..filters import correlation_form
    from ..functional import conv2d
    from ..tensor import tensor

    x = tensor(image[None, None])
    opts = {"stride": cfg["stride"], "padding": cfg["padding"], "dilation": cfg["dilation"]}
    out = {"kernel": kernel.tolist(), "flipped": correlation_form(kernel).tolist(), "name": name,
           "picture": _png(image, signed=False), "picture_size": list(image.shape)}
    try:
        corr = conv2d(x, tensor(kernel[None, None]), **opts).numpy()[0, 0]
        conv = conv2d(x, tensor(correlation_form(kernel)[None, None]), **opts).numpy()[0, 0]
    except ValueError as exc:
        out["error"] = str(exc)
        return out
    signed = bool((kernel < 0).any())
    out.update(correlation=_png(corr, signed), convolution=_png(conv, signed), output_size=list(corr.shape),
               same=bool(np.allclose(corr, conv)), max_difference=float(np.abs(corr - conv).max()))
    return out
