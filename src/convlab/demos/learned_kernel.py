"""Seed 000, "Learned Convolution": one 3x3 kernel learns to tell horizontal from vertical lines.

The model is seed 000's, built from convlab's parts: a 1->1 channel 3x3 ``nn.Conv2d`` (its bias
is the seed's bias: ``max(conv + b) = max(conv) + b``), a global max pool over the 6x6 feature
map (``F.max_pool2d`` with the whole map as window), then sigmoid + binary cross-entropy
(``nn.BCEWithLogitsLoss``, whose gradient at the logit is the seed's ``prediction - label``) and
``optim.SGD`` at learning rate 0.1, one image per step.

To land on the seed's printed kernels the random draws come in the seed's order from Python's
``random`` module: ``random.seed(7)``; nine ``gauss(0, 0.3)`` row by row for the kernel, bias 0;
then every step a coin ``random()`` (< 0.5: horizontal, label 1) and ``randint(1, 6)`` for the
line's row or column. Everything is float64 like Python's floats.

Two details of the seed matter in principle and are checked, not assumed: its max pool takes the
first maximum in row-major order (ties between different positions here only happen between
identical patches, whose kernel gradients are identical, so the choice cannot change the update),
and its sigmoid clamps at +-50 (the logits here stay far inside, ``max |logit|`` is reported).
"""

from __future__ import annotations

import random

import numpy as np

import convlab
from convlab import functional as F
from convlab import nn

NAME = "learned-kernel"
SEED_SOURCE = "000 (Learned Convolution)"
SUMMARY = "one 3x3 kernel + global max pool + sigmoid/BCE + SGD learns a horizontal-edge detector"

# seed 000's printed output: the initial kernel and the kernel after 100/200/400/600 steps
SEED_KERNELS = {
    0: [[-0.077, 0.153, -0.068], [-0.095, -0.279, -0.064], [0.334, 0.127, 0.311]],
    100: [[-0.447, -0.163, -0.440], [-0.514, -0.646, -0.486], [0.867, 0.714, 0.842]],
    200: [[-0.572, -0.310, -0.588], [-0.639, -0.792, -0.634], [1.224, 1.050, 1.176]],
    400: [[-0.762, -0.477, -0.758], [-0.830, -0.960, -0.804], [1.529, 1.377, 1.502]],
    600: [[-0.849, -0.565, -0.845], [-0.917, -1.047, -0.891], [1.737, 1.584, 1.709]],
}


def line_image(rng: random.Random, direction: str, position: int | None = None) -> np.ndarray:
    """Seed 000's ``generate_line_images(1, direction)[0]``: an 8x8 grid with one lit line
    at row (horizontal) or column (vertical) ``randint(1, 6)``, drawn from ``rng``."""
    grid = np.zeros((8, 8))
    pos = rng.randint(1, 6) if position is None else position
    if direction == "horizontal":
        grid[pos, :] = 1.0
    else:
        grid[:, pos] = 1.0
    return grid


class LineClassifier(nn.Module):
    """conv 3x3 -> global max pool -> logit (the sigmoid lives in the loss).

    Shape: input ``(N, 1, 8, 8)``, output ``(N,)`` logits.
    """

    def __init__(self, kernel):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size=3).double()
        self.conv.weight.data = np.array(kernel, dtype=np.float64).reshape(1, 1, 3, 3)
        self.conv.bias.data = np.zeros(1)

    def forward(self, x):
        fmap = self.conv(x)  # (N, 1, 6, 6)
        return F.max_pool2d(fmap, kernel_size=fmap.shape[-2:]).reshape(-1)  # global max pool

    @property
    def kernel(self) -> np.ndarray:
        return self.conv.weight.detach().numpy()[0, 0].copy()

    @property
    def bias(self) -> float:
        return float(self.conv.bias.detach().numpy()[0])


def _batch(images):
    return convlab.tensor(np.asarray(images, dtype=np.float64).reshape(-1, 1, 8, 8))


def train(seed: int = 7, steps: int = 600, lr: float = 0.1, report_every: int = 100):
    """Train as seed 000 does; returns (model, {step: kernel}, losses, max |logit|)."""
    from convlab import optim

    rng = random.Random(seed)
    kernel = [[rng.gauss(0.0, 0.3) for _ in range(3)] for _ in range(3)]
    model = LineClassifier(kernel)
    opt = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    snapshots, losses, max_logit = {0: model.kernel}, [], 0.0
    for step in range(1, steps + 1):
        if rng.random() < 0.5:
            label, image = 1.0, line_image(rng, "horizontal")
        else:
            label, image = 0.0, line_image(rng, "vertical")
        logit = model(_batch(image))
        loss = loss_fn(logit, convlab.tensor([label], dtype=np.float64))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        max_logit = max(max_logit, abs(float(logit.item())))
        if step % report_every == 0:
            snapshots[step] = model.kernel
    return model, snapshots, losses, max_logit


def accuracy(model: LineClassifier, images, labels) -> float:
    with convlab.no_grad():
        preds = model(_batch(images)).numpy() > 0.0  # sigmoid(logit) > 0.5
    return float(np.mean(preds == np.asarray(labels, dtype=bool)))


def held_out(seed: int, n: int = 1000):
    """``n`` fresh lines from ``convlab.data.LinesDataset`` (its own generator, seeded ``seed + 1000``)."""
    from ..data import LinesDataset

    ds = LinesDataset(n=n, size=8, seed=seed + 1000)
    return [ds[i][0][0] for i in range(n)], [float(ds[i][1]) for i in range(n)]


def _fmt(kernel) -> list[str]:
    return ["  " + " ".join(f"{v:+.3f}" for v in row) for row in np.asarray(kernel)]


def run(out_dir, log=print, figures: bool = True, seed: int = 7, steps: int = 600) -> dict:
    from .. import filters

    model, snapshots, losses, max_logit = train(seed=seed, steps=steps)
    for step, k in snapshots.items():
        log("initial kernel (random):" if step == 0 else f"step {step}:")
        for line in _fmt(k):
            log(line)
    log(f"bias after {steps} steps: {model.bias:+.3f}   max |logit| seen: {max_logit:.2f} (seed clamps at 50)")

    images, labels = held_out(seed)
    acc = accuracy(model, images, labels)
    unseen = [line_image(None, d, p) for d in ("horizontal", "vertical") for p in (0, 7)]
    acc_unseen = accuracy(model, unseen, [1, 1, 0, 0])
    every = [line_image(None, d, p) for d in ("horizontal", "vertical") for p in range(8)]
    acc_all = accuracy(model, every, [1] * 8 + [0] * 8)
    log(f"held-out accuracy on {len(images)} fresh lines: {acc:.3f}")
    log(f"accuracy on the 16 possible lines (rows/cols 0..7): {acc_all:.3f}; on the 4 never-seen "
        f"border lines (0 and 7): {acc_unseen:.3f}")
    sobel = filters.correlation_form(filters.sobel_y())
    log("Sobel horizontal-edge kernel in correlation form (what a Conv2d weight holds):")
    for line in _fmt(sobel):
        log(line)
    result = {
        "kernels": {s: np.round(k, 6).tolist() for s, k in snapshots.items()},
        "bias": model.bias, "max_abs_logit": max_logit, "final_loss_mean_last_100": float(np.mean(losses[-100:])),
        "heldout_accuracy": acc, "all_lines_accuracy": acc_all, "unseen_border_accuracy": acc_unseen,
        "figures": [],
    }
    if figures:
        from .. import viz

        last = max(snapshots)
        fig = viz.kernel_panels(
            [snapshots[0], snapshots[last], sobel],
            ["random kernel (day one)", f"learned kernel (step {last})", "Sobel horizontal edge"],
            suptitle=f"seed 000: a 3x3 kernel learned from lines (seed {seed})")
        result["figures"].append(viz.save_figure(fig, out_dir / "learned_kernel.png"))
        window = min(100, len(losses))
        running = np.convolve(losses, np.ones(window) / window, "valid")
        fig = viz.line_plot({f"BCE loss (mean of the last {window} steps)": running},
                            x=np.arange(window, len(losses) + 1), title="learned-kernel: training loss",
                            xlabel="step", ylabel="loss")
        result["figures"].append(viz.save_figure(fig, out_dir / "learned_kernel_loss.png"))
    return result
