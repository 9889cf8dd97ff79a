"""Seed 004, "Pooling for robustness": a feature moved by a pixel leaves the max-pooled map as it was.

A small cross-shaped feature sits on a dark 24x24 field. A detector -- ``conv2d`` with the
zero-mean matched kernel, minus a threshold, ``relu`` -- fires at exactly one pixel, where the
feature is. Moving the feature moves that pixel, so the detector map always changes; after
``max_pool2d(k, stride=k)`` the map stays the same whenever the moved peak stays inside the same
k x k window. Counting over every position of the feature and every shift gives the fraction of
unchanged pooled maps: ``(k - d) / k`` per axis for a shift of ``d < k`` pixels (1/2 for a
1-pixel shift under 2x2 pooling, 3/4 under 4x4), 0 without pooling and 1 for a global max pool.
"""

from __future__ import annotations

import numpy as np

NAME = "pooling-robustness"
SEED_SOURCE = "004 (From Convolution to Neural Network: pooling for robustness)"
SUMMARY = "max pooling keeps the pooled map unchanged under small shifts; quantified over all shifts"

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
        fig, ax = plt.subplots(figsize=(7, 4))
        for k in POOLS:
            xs = [1, 2, 3]
            ax.plot(xs, [table[(0, d)][k] for d in xs], "o-", label=names[k])
        ax.set(title="pooled map unchanged after a horizontal shift (all 256 positions)",
               xlabel="shift (pixels)", ylabel="fraction unchanged", xticks=[1, 2, 3], ylim=(-0.05, 1.05))
        ax.legend()
        ax.grid(alpha=0.3)
        result["figures"].append(viz.save_figure(fig, out_dir / "pooling_shift_table.png"))
    return result
