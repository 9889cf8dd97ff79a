"""Seed 004: smoothing a 1-D signal by convolving it with a moving-average kernel.

The seed convolves ``f = [10, 9, 10, 9, 10, 1, 10, 9, 10, 8]`` with ``g = [1/3, 1/3, 1/3]`` by
its own loop, ``y[x] = sum_i f[i] g[x - i]`` for ``x = 0..N-1``: the first N values of the full
convolution (:func:`convlab.filters.smooth` with ``mode="causal"``). ``y[0] = 10/3`` smooths a
single sample; from ``x = 2`` on each output is the mean of three samples, and the dip ``f[5] = 1``
takes three steps to leave ``y``. Then the same kernel (and a wider one) on a noisy sine.
"""

from __future__ import annotations

import numpy as np

NAME = "smoothing"
SEED_SOURCE = "004 (From Convolution to Neural Network: 1-D convolution)"
SUMMARY = "moving average of the seed's list and of a noisy sine (1-D convolution)"

SIGNAL = [10, 9, 10, 9, 10, 1, 10, 9, 10, 8]
KERNEL = [1.0 / 3, 1.0 / 3, 1.0 / 3]


def noisy_sine(n: int = 200, noise: float = 0.3, seed: int = 0):
    t = np.linspace(0.0, 4.0 * np.pi, n)
    clean = np.sin(t)
    return t, clean, clean + np.random.default_rng(seed).normal(0.0, noise, n)


def run(out_dir, log=print, figures: bool = True, seed: int = 0, width: int = 9) -> dict:
    from ..filters import smooth

    y = smooth(SIGNAL, KERNEL, mode="causal")
    log(f"f = {SIGNAL}")
    log("g = [1/3, 1/3, 1/3]")
    log("y = f * g (first N values of the full convolution, the seed's loop):")
    log("    " + ", ".join(f"{v:.3f}" for v in y))
    t, clean, noisy = noisy_sine(seed=seed)
    smooth3 = smooth(noisy, KERNEL, mode="same")
    smoothw = smooth(noisy, np.full(width, 1.0 / width), mode="same")
    inner = slice(width, -width)  # away from the zero-padded ends
    rmse = {name: float(np.sqrt(np.mean((s[inner] - clean[inner]) ** 2)))
            for name, s in (("noisy", noisy), ("avg3", smooth3), (f"avg{width}", smoothw))}
    log(f"noisy sine (200 samples, noise sd 0.3, seed {seed}): RMSE to the clean sine "
        + ", ".join(f"{k} {v:.3f}" for k, v in rmse.items()))
    result = {"y": y.tolist(), "rmse": rmse, "figures": []}
    if figures:
        import matplotlib.pyplot as plt

        from .. import viz

        fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
        ax = axes[0]
        ax.plot(range(len(SIGNAL)), SIGNAL, "o-", color="gray", label="f (signal)")
        ax.plot(range(len(y)), y, "o-", color="red", label="y = f * g")
        ax.set(title="moving average of the seed's signal", xlabel="x (time step)", ylabel="value")
        ax.legend(loc="lower right")
        ax = axes[1]
        ax.plot(t, noisy, color="lightgray", label="noisy sine")
        ax.plot(t, smooth3, color="tab:orange", label="3-point average")
        ax.plot(t, smoothw, color="red", label=f"{width}-point average")
        ax.plot(t, clean, "k--", lw=1, label="clean sine")
        ax.set(title="smoothing a noisy sine by convolution", xlabel="t", ylabel="value")
        ax.legend(loc="lower left", fontsize=8)
        fig.suptitle("smoothing (seed 004): convolution with a moving-average kernel")
        result["figures"].append(viz.save_figure(fig, out_dir / "smoothing.png"))
    return result
