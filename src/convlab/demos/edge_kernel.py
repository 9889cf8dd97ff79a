"""Seed 002: learn the 1x2 edge kernel ``[1, -1]`` from the 6x8 edge image by gradient descent.

``X`` is 6x8, ones in columns 0-1 and 6-7, zeros between; ``Y`` is ``X`` cross-correlated with
``K = [[1, -1]]`` (+1 at white->black, -1 at black->white). A bias-free ``nn.Conv2d(1, 1, (1, 2))``
is trained on the summed squared error with plain gradient descent at ``lr = 3e-2``, printing the
loss every 2 epochs.

Reproducing the seed's numbers. The seed printed losses 6.645, 1.649, 0.496, 0.173, 0.066 from
torch's random initial kernel, which it did not print. The problem is linear, so that initial
kernel can be recovered: with ``A = sum_p p p^T = [[18, 12], [12, 18]]`` over the 42 input pairs
``p`` and the error ``e = w - [1, -1]``, one step maps ``e -> (I - 2 lr A) e`` and the loss is
``e^T A e``. In A's eigenbasis (``[1, 1]/sqrt2`` with eigenvalue 30, ``[1, -1]/sqrt2`` with 6)
a step multiplies the coordinates by ``-0.8`` and ``0.64``; the loss printed at epoch ``t + 1``
(measured after ``t`` updates) is ``30 * 0.64**t * a^2 + 6 * 0.4096**t * b^2``: linear in
``(a^2, b^2)``, solved by least squares from the five printed losses. Of the four sign choices,
two lie inside torch's default init range ``U(-1/sqrt2, 1/sqrt2)``: ``[0.290, 0.190]`` and
``[-0.190, -0.290]`` (the demo uses the first). ``init="random"`` uses convlab's own Conv2d
initialisation instead: the losses then differ but fall the same way.
"""

from __future__ import annotations

import numpy as np

NAME = "edge-kernel"
SEED_SOURCE = "002 (d2l: learning a kernel)"
SUMMARY = "gradient descent recovers the [1, -1] edge kernel from an image and its edge map"

SEED_LOSSES = {2: 6.645, 4: 1.649, 6: 0.496, 8: 0.173, 10: 0.066}
TRUE_KERNEL = np.array([[1.0, -1.0]])


def edge_image() -> np.ndarray:
    """The seed's 6x8 image: ones, with columns 2-5 zero (``EdgesDataset.lesson_example``)."""
    from ..data import EdgesDataset

    return EdgesDataset.lesson_example()[0].astype(np.float64)


def corr2d(x, k) -> np.ndarray:
    """Seed 002's ``corr2d``: ``Y[i, j] = sum_ab X[i+a, j+b] K[a, b]`` ('valid' cross-correlation)."""
    from ..signal import correlate

    return correlate(np.asarray(x, dtype=np.float64), np.asarray(k, dtype=np.float64), mode="valid")


def seed_init(lr: float = 3e-2) -> np.ndarray:
    """The initial kernel that reproduces the seed's printed losses (see the module docstring)."""
    x = edge_image()
    pairs = np.stack([x[:, :-1].ravel(), x[:, 1:].ravel()], axis=1)
    a = pairs.T @ pairs
    evals, evecs = np.linalg.eigh(a)
    factors = 1.0 - 2.0 * lr * evals
    epochs = sorted(SEED_LOSSES)
    design = np.array([[lam * f ** (2 * (t - 1)) for lam, f in zip(evals, factors)] for t in epochs])
    coef_sq, *_ = np.linalg.lstsq(design, np.array([SEED_LOSSES[t] for t in epochs]), rcond=None)
    coords = np.sqrt(np.maximum(coef_sq, 0.0))
    bound = 1.0 / np.sqrt(2.0)  # torch's kaiming-uniform(a=sqrt 5) bound for fan_in = 2
    for signs in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        w = TRUE_KERNEL.ravel() + evecs @ (np.array(signs) * coords)
        if np.all(np.abs(w) <= bound):
            return w.reshape(1, 2)
    raise RuntimeError("no initial kernel inside torch's init range reproduces the seed's losses")  # pragma: no cover


def train(init="seed", epochs: int = 10, lr: float = 3e-2, seed: int = 0):
    """Returns (kernel after training, [(epoch, loss)], initial kernel)."""
    import convlab
    from convlab import nn, optim

    x = edge_image()
    y = corr2d(x, TRUE_KERNEL)
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    if init == "seed":
        conv.weight.data = seed_init(lr).reshape(1, 1, 1, 2)
    elif init == "random":
        convlab.manual_seed(seed)
        conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    else:
        conv.weight.data = np.asarray(init, dtype=np.float64).reshape(1, 1, 1, 2)
    conv = conv.double()
    w0 = conv.weight.detach().numpy().reshape(-1).copy()
    opt = optim.SGD(conv.parameters(), lr=lr)
    xt, yt = convlab.tensor(x[None, None]), convlab.tensor(y[None, None])
    history = []
    for i in range(epochs):
        loss = ((conv(xt) - yt) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((i + 1, float(loss.item())))
    return conv.weight.detach().numpy()[0, 0].copy(), history, w0


def run(out_dir, log=print, figures: bool = True, init: str = "seed", epochs: int = 10, seed: int = 0) -> dict:
    x = edge_image()
    toy = corr2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[0, 1], [2, 3]])
    log(f"corr2d of the 3x3 example with the 2x2 kernel: {toy.tolist()}")
    y = corr2d(x, TRUE_KERNEL)
    log("edge map of the 6x8 image with K = [1, -1] (first row): " + str(y[0].tolist()))
    log(f"same kernel on the transposed image: all zero = {bool(np.all(corr2d(x.T, TRUE_KERNEL) == 0))}")
    kernel, history, w0 = train(init=init, epochs=epochs, seed=seed)
    log(f"initial kernel ({init}): [{w0[0]:+.4f}, {w0[1]:+.4f}]")
    for epoch, loss in history:
        if epoch % 2 == 0:
            log(f"epoch {epoch}, loss {loss:.3f}")
    log(f"learned kernel: [{kernel[0, 0]:+.4f}, {kernel[0, 1]:+.4f}]  (target [+1, -1])")
    result = {"toy": toy.tolist(), "edge_row": y[0].tolist(), "init": w0.tolist(), "losses": dict(history),
              "kernel": kernel.tolist(), "figures": []}
    if figures:
        from .. import viz

        fig = viz.line_plot({"squared error": [loss for _, loss in history]}, x=[e for e, _ in history],
                            title=f"edge-kernel: loss of the 1x2 kernel (init={init}, lr=3e-2)",
                            xlabel="epoch", ylabel="summed squared error", logy=True,
                            marks={e: SEED_LOSSES[e] for e in SEED_LOSSES if e <= epochs} if init == "seed" else None)
        result["figures"].append(viz.save_figure(fig, out_dir / "edge_kernel_loss.png"))
        fig = viz.image_panels([x, y, corr2d(x, kernel)], ["image X (6x8)", "target Y = X * [1, -1]",
                                                           "learned kernel's output"],
                               suptitle="edge-kernel: data and fit", cmap="RdBu_r", symmetric=True)
        result["figures"].append(viz.save_figure(fig, out_dir / "edge_kernel_data.png"))
    return result
