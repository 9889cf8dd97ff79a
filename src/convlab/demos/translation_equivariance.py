"""Seeds 003/004: convolution is translation-equivariant -- shift the input, the output shifts.

With stride 1, ``conv(shift(x)) == shift(conv(x))`` wherever neither side reads past the image
border: every output pixel is the same sum of the same products, computed from the same pixels.
Over every shift in [-3, 3]^2 of a random 32x32 image the two sides agree to the last bit (the
largest difference is printed). The same kernel therefore fires wherever the pattern is (seed
003): a pattern pasted at two places gives two identical peaks. A stride-2 convolution or a 2x2
max pool breaks the property for odd shifts -- equivariance is a property of stride 1.
"""

from __future__ import annotations

import numpy as np

from ..validate import ConvlabError

NAME = "translation-equivariance"
SEED_SOURCE = "003 (translation equivariance), 004 (location invariance)"
SUMMARY = "shifted input -> exactly shifted output for a stride-1 conv; stride 2 / pooling break it"

PATTERN = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 1]], dtype=np.float64)  # an "L"


def conv(x: np.ndarray, w: np.ndarray, stride: int = 1) -> np.ndarray:
    import convlab
    from convlab import functional as F

    with convlab.no_grad():
        return F.conv2d(convlab.tensor(x[None, None]), convlab.tensor(w[None, None]), stride=stride).numpy()[0, 0]


def shift_error(x: np.ndarray, w: np.ndarray, dy: int, dx: int, op=conv) -> float:
    """max |op(x shifted by (dy, dx)) - op(x) shifted| over the region both sides define."""
    h, wd = x.shape
    m = 3  # keep both crops inside the image for |shift| <= 3
    a = x[m:h - m, m:wd - m]
    b = x[m - dy:h - m - dy, m - dx:wd - m - dx]  # b[i, j] = a[i - dy, j - dx]: a moved by (dy, dx)
    ya, yb = op(a, w), op(b, w)
    if (ya.shape != yb.shape) or not (0 <= abs(dy) < ya.shape[0] and 0 <= abs(dx) < ya.shape[1]):
        raise ConvlabError("shift too large for the image")
    ys = slice(max(dy, 0), ya.shape[0] + min(dy, 0)), slice(max(dx, 0), ya.shape[1] + min(dx, 0))
    yt = slice(max(-dy, 0), ya.shape[0] + min(-dy, 0)), slice(max(-dx, 0), ya.shape[1] + min(-dx, 0))
    return float(np.abs(yb[ys] - ya[yt]).max())


def _stride2(a, w):
    return np.kron(conv(a, w, stride=2), np.ones((2, 2)))[: a.shape[0] - 2, : a.shape[1] - 2]


def _pooled(a, w):
    import convlab
    from convlab import functional as F

    y = conv(a, w)
    with convlab.no_grad():
        p = F.max_pool2d(convlab.tensor(y[None, None]), 2).numpy()[0, 0]
    return np.kron(p, np.ones((2, 2)))[: y.shape[0], : y.shape[1]]


def run(out_dir, log=print, figures: bool = True, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 32))
    w = rng.normal(size=(3, 3))
    shifts = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)]
    errors = {s: shift_error(x, w, *s) for s in shifts}
    worst = max(errors.values())
    exact = sum(e == 0.0 for e in errors.values())
    log(f"stride-1 conv, random 32x32 image and 3x3 kernel, all {len(shifts)} shifts in [-3, 3]^2: "
        f"max |conv(shift x) - shift(conv x)| = {worst:.1e} ({exact}/{len(shifts)} bit-identical)")
    odd = [(0, 1), (1, 0), (1, 1)]
    s2 = max(shift_error(x, w, *s, op=_stride2) for s in odd)
    mp = max(shift_error(x, w, *s, op=_pooled) for s in odd)
    even2 = shift_error(x, w, 2, 2, op=_stride2)
    log(f"stride-2 conv, 1-pixel shifts: max error {s2:.3f}; 2-pixel shift: {even2:.1e} "
        f"(equivariant only to shifts by the stride)")
    log(f"conv + 2x2 max pool, 1-pixel shifts: max error {mp:.3f}")
    img = np.zeros((20, 20))
    spots = [(3, 4), (12, 13)]
    for r, c in spots:
        img[r:r + 3, c:c + 3] = PATTERN
    kernel = PATTERN - PATTERN.mean()
    y = conv(img, kernel)
    peaks = [tuple(int(v) for v in np.unravel_index(i, y.shape)) for i in np.argsort(y, axis=None)[-2:][::-1]]
    log(f"an 'L' pasted at {spots}: the matched kernel peaks at {sorted(peaks)} with values "
        f"{sorted({round(float(y[p]), 6) for p in peaks})} (same response at both places)")
    result = {"max_error": worst, "bit_identical": exact, "n_shifts": len(shifts), "stride2_error": s2,
              "stride2_even_error": even2, "pool_error": mp, "peaks": sorted(peaks),
              "peak_values": [float(y[p]) for p in sorted(peaks)], "figures": []}
    if figures:
        from .. import viz

        xs = np.roll(x, (3, 5), axis=(0, 1))
        ya, yb = conv(x, w), conv(xs, w)
        diff = np.zeros_like(ya)
        diff[3:, 5:] = yb[3:, 5:] - ya[:-3, :-5]
        fig = viz.image_panels([x, xs, ya, yb, diff],
                               ["input x", "x shifted by (3, 5)", "conv(x)", "conv(shifted x)",
                                "conv(shifted x) - shifted conv(x)"],
                               suptitle="translation equivariance of a stride-1 convolution",
                               cmap="RdBu_r", symmetric=True)
        result["figures"].append(viz.save_figure(fig, out_dir / "translation_equivariance.png"))
        fig = viz.image_panels([img, y], ["an 'L' at two places", "matched kernel response (same peaks)"],
                               suptitle="the same kernel fires wherever the pattern is", cmap="viridis")
        result["figures"].append(viz.save_figure(fig, out_dir / "pattern_anywhere.png"))
    return result
