"""TensorBoard event files for a training run (``convlab train --tensorboard``, ``Trainer(tensorboard=...)``).

Written through tensorboardX (the optional extra ``convlab[tensorboard]``), which writes the
event-file format without TensorFlow. What goes in, all on the optimizer-step axis:

* scalars: ``loss/train_step`` and ``lr/step`` every ``log_every`` steps (the same records as
  ``metrics.jsonl``); per epoch ``loss/train``, ``loss/val``, ``accuracy/train``, ``accuracy/val``,
  ``accuracy/val_top5`` and ``lr``;
* ``kernels/<layer>``: the first convolution's kernels, one tile per (output channel, input channel)
  pair for a single-channel layer or one RGB tile per output channel for a 3-channel one,
  each tile scaled to its own [min, max] (the same picture as ``convlab inspect``'s kernel figure);
* ``weights/<parameter>``: a histogram of every parameter at the end of each epoch.

Resuming a run writes a purge marker, so TensorBoard drops the events a killed run had written
after the checkpoint it resumes from, as the JSONL log does.

Start TensorBoard with ``tensorboard --logdir runs/train-001/tensorboard``.
"""

from __future__ import annotations

import os
import time

import numpy as np


def _require():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("TensorBoard logging needs the tensorboardX package: pip install 'convlab[tensorboard]'") from None
    return SummaryWriter


def first_conv(model):
    """``(name, weight array)`` of the first convolution with a 2-D kernel in ``model``, or None."""
    for name, module in model.named_modules():
        w = getattr(module, "weight", None)
        if w is not None and type(module).__name__.startswith("Conv") and w.ndim == 4:
            return name, np.asarray(w.data, dtype=np.float32)
    return None


def kernel_grid(weight: np.ndarray, pad: int = 1, min_side: int = 128) -> np.ndarray:
    """Tile ``(O, C, kH, kW)`` kernels into one ``(3, H, W)`` float image in [0, 1].

    Three-channel kernels become one RGB tile per output channel and single-channel ones one gray
    tile each, in a near-square grid; other channel counts one gray tile per (output, input) pair,
    a row per output channel. Each tile is min-max scaled on its own, so the sign pattern of small
    kernels stays visible; the padding between tiles is 0. The grid is enlarged by a whole factor
    (nearest neighbour) until its longer side reaches ``min_side`` pixels.
    """
    o, c, kh, kw = weight.shape
    rgb = c == 3
    tiles = weight if rgb else weight.reshape(o * c, 1, kh, kw)
    lo = tiles.min(axis=(1, 2, 3), keepdims=True)
    span = tiles.max(axis=(1, 2, 3), keepdims=True) - lo
    tiles = (tiles - lo) / np.where(span > 0, span, 1.0)
    cols = c if 1 < c != 3 else int(np.ceil(np.sqrt(len(tiles))))
    rows = -(-len(tiles) // cols)
    grid = np.zeros((3, rows * (kh + pad) + pad, cols * (kw + pad) + pad), dtype=np.float32)
    for i, tile in enumerate(tiles):
        r, q = divmod(i, cols)
        y, x = pad + r * (kh + pad), pad + q * (kw + pad)
        grid[:, y:y + kh, x:x + kw] = tile  # a gray tile broadcasts over the three colour planes
    scale = max(1, -(-min_side // max(grid.shape[1:])))
    return grid.repeat(scale, axis=1).repeat(scale, axis=2)


class TensorBoardLog:
    """Writes one run's scalars, kernel images and weight histograms into ``logdir``.

    Args:
        logdir: the event files' directory (created).
        model: the model trained (its parameters are read at each epoch's end).
        purge_step: when resuming, the first step that is written again; events at or after it
            left by an interrupted run are hidden by TensorBoard.
    """

    def __init__(self, logdir: str, model, purge_step: int | None = None):
        SummaryWriter = _require()
        os.makedirs(logdir, exist_ok=True)
        self.logdir, self.model = logdir, model
        # event files are named by the second they were opened and the host: a resumed run started
        # within the same second as the run it resumes would reopen (and empty) that run's file, so
        # each writer's name also carries the process and a nanosecond clock
        self.writer = SummaryWriter(logdir=logdir, purge_step=purge_step, flush_secs=30,
                                    filename_suffix=f".{os.getpid()}.{time.time_ns()}")

    def step(self, record: dict) -> None:
        """A step record of the JSONL log: ``{"step", "loss", "lr"}``."""
        self.writer.add_scalar("loss/train_step", record["loss"], record["step"])
        if record.get("lr") is not None:
            self.writer.add_scalar("lr/step", record["lr"], record["step"])

    def epoch(self, record: dict) -> None:
        """An epoch record: its losses, accuracies and learning rate, the kernels and the histograms."""
        step = record["step"]
        for tag, key in (("loss/train", "train_loss"), ("loss/val", "val_loss"), ("accuracy/train", "train_accuracy"),
                         ("accuracy/val", "val_accuracy"), ("accuracy/val_top5", "val_top5"), ("lr", "lr")):
            if record.get(key) is not None:
                self.writer.add_scalar(tag, record[key], step)
        conv = first_conv(self.model)
        if conv is not None:
            self.writer.add_image(f"kernels/{conv[0]}", kernel_grid(conv[1]), step, dataformats="CHW")
        for name, p in self.model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", np.asarray(p.data, dtype=np.float64).ravel(), step, bins="auto")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
