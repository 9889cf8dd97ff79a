"""Seed 004: the Laplace kernel on a photograph of Grace Hopper, with the mean blur beside it.

The seed builds ``K`` = -1 everywhere and ``K.size - 1 = 8`` in the centre, slides it over the
grayscale image (only where it fits; the one-pixel border stays 0) and clamps every value to
``[0, 255]``: white edges on a black field. Its photo came from ``scipy.misc.lena``, which no
longer ships; the portrait of Grace Hopper it shows in its figures ships with matplotlib
(``matplotlib.cbook.get_sample_data('grace_hopper.jpg')``), so that is used here.
"""

from __future__ import annotations

import numpy as np

NAME = "laplace"
SEED_SOURCE = "004 (From Convolution to Neural Network: kernels)"
SUMMARY = "Laplace edge detection and mean blur on the Grace Hopper portrait (clamped to [0, 255])"


def grace_hopper(gray: bool = True) -> np.ndarray:
    """The Grace Hopper portrait from matplotlib's sample data, uint8 (H, W) or (H, W, 3)."""
    from matplotlib import cbook
    from PIL import Image

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as im:
        return np.asarray(im.convert("L" if gray else "RGB"))


def seed_laplace(image: np.ndarray, size: int = 3) -> np.ndarray:
    """The seed's filtering: 'valid' positions only, zero border, clamped to [0, 255], float."""
    from .. import filters

    offset = size // 2
    out = np.zeros(image.shape)
    k = -np.ones((size, size))
    k[offset, offset] = k.size - 1
    inner = filters.filter_image(image, k, mode="valid", clip=False)
    out[offset:image.shape[0] - offset, offset:image.shape[1] - offset] = np.clip(inner, 0, 255)
    return out


def run(out_dir, log=print, figures: bool = True, size: int = 3, blur: int = 5) -> dict:
    from .. import filters

    image = grace_hopper()
    edges = seed_laplace(image, size)
    blurred = filters.filter_image(image, filters.box(blur), boundary="replicate")
    log(f"Grace Hopper portrait (grayscale): {image.shape[0]}x{image.shape[1]}, mean {image.mean():.2f}")
    log(f"Laplace {size}x{size} (centre {size * size - 1}, -1 elsewhere), clamped to [0, 255]: "
        f"mean {edges.mean():.2f}, {np.mean(edges >= 255) * 100:.2f}% at 255, {np.mean(edges <= 0) * 100:.1f}% at 0")
    log(f"mean blur {blur}x{blur}: mean {blurred.mean():.2f}, std {blurred.std():.2f} (image std {image.std():.2f})")
    result = {"shape": image.shape, "image_mean": float(image.mean()), "edges_mean": float(edges.mean()),
              "frac_255": float(np.mean(edges >= 255)), "frac_0": float(np.mean(edges <= 0)),
              "blur_std": float(blurred.std()), "image_std": float(image.std()), "figures": []}
    if figures:
        from .. import viz

        fig = viz.image_panels([image, blurred, edges],
                               ["Grace Hopper (grayscale)", f"mean blur ({blur}x{blur} box)",
                                f"Laplace edges ({size}x{size}), clamped to [0, 255]"],
                               suptitle="seed 004: kernels as image filters", colorbar=True, vmin=0, vmax=255)
        result["figures"].append(viz.save_figure(fig, out_dir / "laplace_grace_hopper.png"))
    return result
