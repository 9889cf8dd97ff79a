"""One model's training step and inference, convlab and its torch twin side by side, timed
interleaved (convlab, torch, convlab, torch, ...) so that a noisy machine slows both alike."""

from __future__ import annotations

import time

import numpy as np

from .machine import _median
from .report import _format_row
from .twins import MODELS, NUM_CLASSES, _copy_weights, torch_twin


class _Runner:
    """One model, its optimizer and a fixed batch; subclasses name the library.

    ``lib`` is the module (convlab or torch) whose ``no_grad`` the inference uses and
    ``wrap`` turns a NumPy array into that library's tensor.
    """

    lib = None

    def _setup(self, model, opt, loss, shape, batch, seed):
        self.model, self.opt, self.loss = model, opt, loss
        rng = np.random.default_rng(seed)
        self.x = self.wrap(rng.standard_normal((batch,) + tuple(shape), dtype=np.float32))
        self.y = self.wrap(rng.integers(0, NUM_CLASSES, batch))

    def train_step(self):
        self.model.train()
        self.opt.zero_grad()
        loss = self.loss(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def infer(self, x):
        self.model.eval()
        with self.lib.no_grad():
            return self.model(x)

    def input(self, batch, shape, seed=1):
        rng = np.random.default_rng(seed)
        return self.wrap(rng.standard_normal((batch,) + tuple(shape), dtype=np.float32))


class _ConvlabRunner(_Runner):
    """The convlab side: a zoo model from ``seed``."""

    def __init__(self, name, shape, batch, seed=0):
        import convlab
        from convlab import models, nn, optim

        convlab.manual_seed(seed)
        self.lib, self.wrap = convlab, convlab.tensor
        model = models.get(name, in_channels=shape[0], num_classes=NUM_CLASSES)
        self._setup(model, optim.SGD(model.parameters(), lr=0.01, momentum=0.9), nn.CrossEntropyLoss(),
                    shape, batch, seed)


class _TorchRunner(_Runner):
    """The torch twin of a :class:`_ConvlabRunner`, from the same weights and batch."""

    def __init__(self, name, shape, batch, ours=None, seed=0):
        import torch

        self.lib, self.wrap = torch, torch.from_numpy
        model = torch_twin(name, in_channels=shape[0])
        if ours is not None:
            _copy_weights(ours.model, model)
        self._setup(model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), torch.nn.CrossEntropyLoss(),
                    shape, batch, seed)


# Each library's idle worker threads spin before they sleep: torch's OpenMP workers for
# GOMP_SPINCOUNT pause loops (7-9 ms of CPU after a 2-thread matmul, measured on the 2-vCPU Zen 5
# VM), convlab's pool for 200 us. Timed straight after the other library, a call shared its
# cores with those spinners (a whole LeNet-5 step fits in torch's spin; ResNet-18's 20 ms
# batch-1 inference lost its second core to them), which a user, running one library, never
# meets. So every row, training steps and inference at every batch, is timed with each library
# alone and warm: a pause of _SETTLE seconds (the other side's threads go to sleep), one untimed
# call (this side's threads wake; a cold start cost both libraries 0.3-0.5 ms on a 3 ms LeNet-5
# inference), then the timed call.
_SETTLE = 0.02


def _interleaved(fns: dict, repeats: int, warmup: int, settle: float = 0.0) -> dict:
    """Seconds per call of each function, interleaved round by round; medians of ``repeats``.
    With ``settle``, each timed call follows a pause of that many seconds and an untimed call."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            if settle:
                time.sleep(settle)
                fn()
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: _median(v) for k, v in times.items()}


def _infer_target(batch: int) -> float:
    """Issue 17's inference target, convlab/torch time: 1.2x for one picture (a call's fixed cost
    in Python counts there), 1.0x for a batch."""
    return 1.2 if batch == 1 else 1.0


def _row(kind, name, shape, batch, secs, target=None):
    ours, theirs = secs.get("convlab"), secs.get("torch")
    row = {"kind": kind, "model": name, "input": list(shape), "batch": batch,
           "convlab_ms": ours * 1e3, "convlab_ips": batch / ours,
           "torch_ms": None if theirs is None else theirs * 1e3,
           "torch_ips": None if theirs is None else batch / theirs,
           "ratio": None if theirs is None else ours / theirs}
    if target is not None:
        row["target"] = target
        row["meets_target"] = None if theirs is None else bool(ours / theirs <= target)
    return row


def bench_model(name, shape=None, batch=None, *, repeats=5, warmup=2, inference_batches=(1, 128),
                inference_repeats=None, use_torch=True, log=None):
    """Training step and inference rows for one model (see the module docstring)."""
    default_shape, default_batch, target = MODELS.get(name, (None, None, None))
    shape, batch = tuple(shape or default_shape), int(batch or default_batch)
    ours = _ConvlabRunner(name, shape, batch)
    theirs = _TorchRunner(name, shape, batch, ours) if use_torch else None
    fns = {"convlab": ours.train_step}
    if theirs is not None:
        fns["torch"] = theirs.train_step
    rows = [_row("train", name, shape, batch, _interleaved(fns, repeats, warmup, _SETTLE), target)]
    if log:
        log(_format_row(rows[-1]))
    for b in inference_batches:
        xo = ours.input(b, shape)
        fns = {"convlab": lambda xo=xo: ours.infer(xo)}
        if theirs is not None:
            xt = theirs.input(b, shape)
            fns["torch"] = lambda xt=xt: theirs.infer(xt)
        reps = inference_repeats or (max(repeats, 10) if b == 1 else repeats)
        rows.append(_row("infer", name, shape, b, _interleaved(fns, reps, warmup, _SETTLE), _infer_target(b)))
        if log:
            log(_format_row(rows[-1]))
    return rows
