"""Seed 001: what hand-made kernels detect, on a noisy white square.

The seed's image: a 16x16 black field with a white square in rows/columns 4..11 plus Gaussian
noise of sd 0.05 (``np.random.default_rng(0)``), shaped ``(1, 16, 16)``. Three 3x3 kernels,
applied as the seed applies them -- cross-correlation with padding 1, which is what
``convlab.functional.conv2d`` computes -- keep the 16x16 size: horizontal edges
``[[1,1,1],[0,0,0],[-1,-1,-1]]``, vertical edges ``[[1,0,-1],[1,0,-1],[1,0,-1]]`` and the box blur.

``filter_image`` (true convolution, kernel flipped) returns the negated edge maps for the two
antisymmetric edge kernels and the same blur: printed below as a check of the convention.
"""

from __future__ import annotations

import numpy as np

NAME = "filters"
SEED_SOURCE = "001 (ch314: visualise what convolutions detect)"
SUMMARY = "the noisy white square through horizontal-edge, vertical-edge and blur kernels"


def noisy_square(seed: int = 0) -> np.ndarray:
    """Seed 001's ``img``: shape (1, 16, 16)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((1, 16, 16))
    img[0, 4:12, 4:12] = 1.0
    return img + rng.normal(0, 0.05, img.shape)


def seed_kernels() -> dict:
    from .. import filters

    return {"Horizontal edges": filters.edge_h(), "Vertical edges": filters.edge_v(), "Blurred": filters.box(3)}


def apply(img: np.ndarray, kernels: dict) -> dict:
    """Each kernel through ``conv2d(padding=1)``, as seed 001's ``conv2d_naive(..., padding=1)``."""
    import convlab
    from convlab import functional as F

    x = convlab.tensor(img[None])  # (1, 1, 16, 16)
    w = convlab.tensor(np.stack(list(kernels.values()))[:, None])  # (3, 1, 3, 3)
    with convlab.no_grad():
        out = F.conv2d(x, w, convlab.zeros(len(kernels), dtype=np.float64), padding=1).numpy()[0]
    return {name: out[i:i + 1] for i, name in enumerate(kernels)}  # each (1, 16, 16) like the seed


def run(out_dir, log=print, figures: bool = True, seed: int = 0) -> dict:
    from .. import filters

    img = noisy_square(seed)
    kernels = seed_kernels()
    outs = apply(img, kernels)
    shapes = {name: o.shape for name, o in outs.items()}
    log(f"Output shape (same spatial size with padding=1): {outs['Horizontal edges'].shape}")
    stats = {}
    for name, o in outs.items():
        stats[name] = {"min": float(o.min()), "max": float(o.max()), "centre": float(o[0, 8, 8])}
        log(f"{name:17s} min {o.min():+.3f}  max {o.max():+.3f}  at (8, 8) {o[0, 8, 8]:+.3f}  "
            f"at (4, 8) {o[0, 4, 8]:+.3f}  at (8, 4) {o[0, 8, 4]:+.3f}")
    flips = {name: float(np.abs(filters.filter_image(img[0], k, clip=False) - (-1 if name != "Blurred" else 1) * o[0]).max())
             for (name, k), o in zip(kernels.items(), outs.values())}
    log("filter_image (true convolution) vs conv2d (correlation): edge maps negated, blur equal; max deviation "
        + ", ".join(f"{v:.1e}" for v in flips.values()))
    result = {"shapes": shapes, "outputs": outs, "stats": stats, "convolution_vs_correlation": flips, "figures": []}
    if figures:
        from .. import viz

        fig = viz.image_panels([img[0]] + [o[0] for o in outs.values()], ["Input image"] + list(outs),
                               suptitle="seed 001: what hand-crafted 3x3 kernels detect (padding 1)")
        result["figures"].append(viz.save_figure(fig, out_dir / "conv_filters.png"))
    return result
