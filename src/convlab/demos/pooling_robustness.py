"""Seed 004, "Pooling for robustness": a feature moved by a pixel leaves the max-pooled map as it was.

A small cross-shaped feature sits on a dark 24x24 field. A detector -- ``conv2d`` with the
zero-mean matched kernel, minus a threshold, ``relu`` -- fires at exactly one pixel, where the
feature is. Moving the feature moves that pixel, so the detector map always changes; after
``max_pool2d(k, stride=k)`` the map stays the same whenever the moved peak stays inside the same
k x k window. Counting over every position of the feature and every shift gives the fraction of
unchanged pooled maps: ``(k - d) / k`` per axis for a shift of ``d < k`` pixels (1/2 for a
1-pixel shift under 2x2 pooling, 3/4 under 4x4), 0 without pooling and 1 for a global max pool.

The seed's own picture is a digit: an MNIST-style "7" seen through the horizontal-edge Sobel
kernel and max pooling, whose "red horizontal bar" (the top stroke's edge) survives an edit that
makes the top stroke more horizontal. :func:`digit_experiment` draws that 28x28 "7" (its top
stroke rising 3 pixels over 15; edited, 1 pixel), takes ``relu(conv2d(x, sobel))`` and
``max_pool2d``, and compares the original's and the edited digit's maps with and without
pooling: the intersection-over-union of their half-maximum masks, their correlation, the share
of the original's bar cells still on, and whether the strongest bar row is the same. Which row
a stroke lands in relative to the pooling grid matters, so :func:`digit_table` repeats the
comparison for the glyph moved down by 0-3 rows (every phase of a 2x2 and 4x4 grid).
"""

from __future__ import annotations

import numpy as np

from ..filters import correlation_form, sobel_y
from ..validate import ConvlabError

NAME = "pooling-robustness"
SEED_SOURCE = "004 (From Convolution to Neural Network: pooling for robustness)"
SUMMARY = "max pooling keeps the pooled map unchanged under small shifts, and the bar of seed 004's edited 7"

SIZE = 24
FEATURE = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.float64)
POOLS = (1, 2, 4, "global")
SHIFTS = ((0, 1), (0, 2), (0, 3), (1, 0), (1, 1))


def scene(row: int, col: int) -> np.ndarray:
    """The feature with its centre at (row, col) on a SIZE x SIZE dark field."""
    img = np.zeros((SIZE, SIZE))
    img[row - 1:row + 2, col - 1:col + 2] = FEATURE
    return img


def detect(images: np.ndarray) -> np.ndarray:
    """relu(conv2d(x, matched kernel, padding=1) - threshold): one pixel per feature."""
    import convlab
    from convlab import functional as F

    kernel = FEATURE - FEATURE.mean()
    peak = float((FEATURE * kernel).sum())
    x = convlab.tensor(np.asarray(images, dtype=np.float64)[:, None])
    with convlab.no_grad():
        y = F.relu(F.conv2d(x, convlab.tensor(kernel[None, None]), padding=1) - 0.75 * peak)
    return y.numpy()


def pool(maps: np.ndarray, k) -> np.ndarray:
    import convlab
    from convlab import functional as F

    if k == 1:
        return maps
    size = maps.shape[-1] if k == "global" else k
    with convlab.no_grad():
        return F.max_pool2d(convlab.tensor(maps), kernel_size=size, stride=size).numpy()


def unchanged_fraction(shift, pools=POOLS, margin: int = 4) -> dict:
    """Fraction of feature positions whose pooled map is identical after moving by ``shift``.

    Positions: every centre from ``margin`` to ``SIZE - margin - 1`` (a 16x16 grid, so every
    residue modulo 2 and 4 occurs equally often and the fractions are exactly ``(k - d) / k``)."""
    dy, dx = shift
    centres = [(r, c) for r in range(margin, SIZE - margin) for c in range(margin, SIZE - margin)]
    base = detect(np.stack([scene(r, c) for r, c in centres]))
    moved = detect(np.stack([scene(r + dy, c + dx) for r, c in centres]))
    out = {}
    for k in pools:
        a, b = pool(base, k), pool(moved, k)
        out[k] = float(np.mean([np.array_equal(a[i], b[i]) for i in range(len(centres))]))
    return out


# ------------------------------------------------------------------ seed 004's digit
DIGIT = 28
SOBEL_H = correlation_form(sobel_y())  # [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]: dark above, bright below gives > 0
TOP_LEFT_ROW = {"original": 9, "edited": 7}  # row of the top stroke's left end (its right end is at row 6)
DIGIT_POOLS = (1, 2, 4)
EXAMPLE_SHIFT = 1  # the glyph moved down one row in the figure and the example numbers


def stroke(img: np.ndarray, p, q, half_width: float = 1.1) -> np.ndarray:
    """``img`` with an anti-aliased straight stroke from pixel ``p`` to ``q`` (row, col) added by max:
    a pixel's ink is ``clip(half_width + 0.5 - distance to the segment, 0, 1)``."""
    rows, cols = np.mgrid[0:img.shape[0], 0:img.shape[1]].astype(np.float64)
    p, d = np.asarray(p, dtype=np.float64), np.subtract(q, p, dtype=np.float64)
    t = np.clip(((rows - p[0]) * d[0] + (cols - p[1]) * d[1]) / float(d @ d), 0.0, 1.0)
    dist = np.hypot(rows - (p[0] + t * d[0]), cols - (p[1] + t * d[1]))
    return np.maximum(img, np.clip(half_width + 0.5 - dist, 0.0, 1.0))


def seven(top_left_row: float, shift: int = 0) -> np.ndarray:
    """A 28x28 "7": a top stroke from (top_left_row, 6) to (6, 21) and a diagonal down to (23, 12),
    the whole glyph moved down by ``shift`` rows (0-4, so that it stays inside the canvas)."""
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or not 0 <= shift <= 4:
        raise ConvlabError(f"seven: shift must be an integer from 0 to 4, got {shift!r}")
    if not 4 <= top_left_row <= 12:
        raise ConvlabError(f"seven: top_left_row must be between 4 and 12, got {top_left_row!r}")
    img = stroke(np.zeros((DIGIT, DIGIT)), (top_left_row + shift, 6), (6 + shift, 21))
    return stroke(img, (6 + shift, 21), (23 + shift, 12))


def sobel_response(img: np.ndarray) -> np.ndarray:
    """``relu(conv2d(img, SOBEL_H, padding=1))``: where the ink has a top (horizontal) edge."""
    import convlab
    from convlab import functional as F

    with convlab.no_grad():
        x = convlab.tensor(np.asarray(img, dtype=np.float64)[None, None])
        return F.relu(F.conv2d(x, convlab.tensor(SOBEL_H[None, None]), padding=1)).numpy()[0, 0]


def bar_row(m: np.ndarray) -> int:
    """The row with the largest total response: where the horizontal bar is."""
    return int(np.argmax(m.sum(axis=1)))


def agreement(a: np.ndarray, b: np.ndarray, frac: float = 0.5) -> dict:
    """How alike two response maps are: IoU of the masks ``>= frac * max``, Pearson correlation, the
    share of ``a``'s bar cells (its bar row, masked) still on in ``b``, and whether the bar rows agree."""
    ma, mb = a >= frac * a.max(), b >= frac * b.max()
    row = bar_row(a)
    return {"iou": float((ma & mb).sum() / (ma | mb).sum()), "corr": float(np.corrcoef(a.ravel(), b.ravel())[0, 1]),
            "bar_kept": float((ma[row] & mb[row]).sum() / ma[row].sum()), "rows": (row, bar_row(b)),
            "same_row": row == bar_row(b)}


def digit_experiment(shift: int = EXAMPLE_SHIFT, pools=DIGIT_POOLS) -> dict:
    """Original and edited "7" (moved down ``shift`` rows): images, Sobel maps, pooled maps, agreement."""
    imgs = {k: seven(v, shift) for k, v in TOP_LEFT_ROW.items()}
    maps = {k: sobel_response(v) for k, v in imgs.items()}
    pooled = {k: {name: pool(m[None, None], k)[0, 0] for name, m in maps.items()} for k in pools}
    return {"images": imgs, "maps": maps, "pooled": pooled,
            "agreement": {k: agreement(pooled[k]["original"], pooled[k]["edited"]) for k in pools}}


def digit_table(shifts=range(4), pools=DIGIT_POOLS) -> dict:
    """Per pooling size: the mean IoU, correlation and bar share over the glyph moved down by each of
    ``shifts`` rows, and in how many of them the bar row is the same."""
    runs = [digit_experiment(s, pools)["agreement"] for s in shifts]
    return {k: {"iou": float(np.mean([r[k]["iou"] for r in runs])), "corr": float(np.mean([r[k]["corr"] for r in runs])),
                "bar_kept": float(np.mean([r[k]["bar_kept"] for r in runs])),
                "same_row": sum(r[k]["same_row"] for r in runs), "n": len(runs)} for k in pools}


def _digit_figure(ex: dict, path) -> str:
    from .. import viz

    plt = viz._plt()
    fig, axes = plt.subplots(2, 3, figsize=(11, 7.4), layout="constrained")
    for r, name in enumerate(("original", "edited")):
        rise = TOP_LEFT_ROW[name] - 6
        panels = ((ex["images"][name], "gray", f"{name} 7: top stroke rises {rise} px over 15"),
                  (ex["maps"][name], "magma", "relu(horizontal Sobel)"),
                  (ex["pooled"][2][name], "magma", "2x2 max-pooled"))
        for c, (img, cmap, title) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(img, cmap=cmap)
            ax.set_title(title, fontsize=9)
            ax.tick_params(labelsize=7)
            if c:  # the red bar: the strongest row, over the cells at least half as strong as the map's maximum
                row = bar_row(img)
                on = np.flatnonzero(img[row] >= 0.5 * img.max())
                ax.add_patch(plt.Rectangle((on[0] - 0.5, row - 0.5), on[-1] - on[0] + 1, 1, fill=False, ec="red", lw=2))
    a1, a2 = ex["agreement"][1], ex["agreement"][2]
    fig.suptitle(f"pooling-robustness: the edited 7 keeps the red bar after 2x2 max pooling\n"
                 f"unpooled: bar row {a1['rows'][0]} -> {a1['rows'][1]}, IoU {a1['iou']:.2f}; "
                 f"pooled: bar row {a2['rows'][0]} -> {a2['rows'][1]}, IoU {a2['iou']:.2f}", fontsize=10)
    return viz.save_figure(fig, path)


def _log_digit(log, ex: dict, table: dict) -> None:
    names = {1: "no pooling", 2: "max pool 2x2", 4: "max pool 4x4"}
    rise = {k: v - 6 for k, v in TOP_LEFT_ROW.items()}
    log(f"seed 004's digit: a 28x28 7 whose top stroke rises {rise['original']} px over 15 px, edited to rise "
        f"{rise['edited']} px (more horizontal); relu(horizontal Sobel), then max pooling")
    log(f"the example (glyph moved down {EXAMPLE_SHIFT} row), original vs edited map:")
    log(f"{'':14s}{'bar row':>10s}{'IoU':>8s}{'corr':>8s}{'bar kept':>10s}")
    for k, a in ex["agreement"].items():
        rows = "{} -> {}".format(*a["rows"])
        log(f"{names[k]:14s}{rows:>10s}{a['iou']:8.3f}{a['corr']:8.3f}{a['bar_kept']:10.3f}")
    n = table[DIGIT_POOLS[0]]["n"]
    log(f"means over the glyph moved down 0-{n - 1} rows (every phase of the pooling grid):")
    log(f"{'':14s}{'same row':>10s}{'IoU':>8s}{'corr':>8s}{'bar kept':>10s}")
    for k, t in table.items():
        same = f"{t['same_row']} of {t['n']}"
        log(f"{names[k]:14s}{same:>10s}{t['iou']:8.3f}{t['corr']:8.3f}{t['bar_kept']:10.3f}")


def run(out_dir, log=print, figures: bool = True) -> dict:
    one = detect(scene(9, 8)[None])
    fired = int(np.count_nonzero(one))
    example = {}
    for k in (1, 2):
        example[k] = bool(np.array_equal(pool(detect(scene(9, 8)[None]), k), pool(detect(scene(9, 9)[None]), k)))
    log(f"the detector fires at {fired} pixel(s) per feature")
    log(f"feature moved one pixel right, (9, 8) -> (9, 9): detector map unchanged: {example[1]}; "
        f"2x2 max-pooled map unchanged: {example[2]}")
    table = {shift: unchanged_fraction(shift) for shift in SHIFTS}
    names = {1: "no pooling", 2: "max pool 2x2", 4: "max pool 4x4", "global": "global max pool"}
    log("fraction of the 256 feature positions whose map is unchanged after the shift (dy, dx):")
    log(f"{'':16s}" + "".join(f"{str(s):>9s}" for s in SHIFTS))
    for k in POOLS:
        log(f"{names[k]:16s}" + "".join(f"{table[s][k]:9.3f}" for s in SHIFTS))
    result = {"fired_pixels": fired, "example": example,
              "unchanged": {str(s): {str(k): v for k, v in row.items()} for s, row in table.items()}, "figures": []}
    ex, digit = digit_experiment(), digit_table()
    _log_digit(log, ex, digit)
    result["digit"] = {"example": {k: dict(a) for k, a in ex["agreement"].items()}, "phases": digit}
    if figures:
        import matplotlib.pyplot as plt

        from .. import viz

        a, b = scene(9, 8), scene(9, 9)
        da, db = detect(a[None])[0, 0], detect(b[None])[0, 0]
        pa, pb = pool(da[None, None], 2)[0, 0], pool(db[None, None], 2)[0, 0]
        fig = viz.image_panels([a, b, da, db, pa, pb],
                               ["feature at (9, 8)", "moved right to (9, 9)", "detector map", "detector map (moved)",
                                "2x2 max-pooled", "2x2 max-pooled (moved): same"],
                               suptitle="pooling-robustness: the detector map moves, the pooled map does not",
                               ncols=2, cmap="magma")
        result["figures"].append(viz.save_figure(fig, out_dir / "pooling_example.png"))
        fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
        for k in POOLS:
            xs = [1, 2, 3]
            ax.plot(xs, [table[(0, d)][k] for d in xs], "o-", label=names[k])
        ax.set(title="pooled map unchanged after a horizontal shift (all 256 positions)",
               xlabel="shift (pixels)", ylabel="fraction unchanged", xticks=[1, 2, 3], ylim=(-0.05, 1.05))
        ax.legend()
        ax.grid(alpha=0.3)
        result["figures"].append(viz.save_figure(fig, out_dir / "pooling_shift_table.png"))
        result["figures"].append(_digit_figure(ex, out_dir / "pooling_digit.png"))
    return result
