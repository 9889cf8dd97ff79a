"""An exponential moving average (EMA) of a model's weights, for evaluation.

After every optimizer step the average moves a little towards the current weights::

    d_t      = min(decay, (1 + t) / (10 + t))          t: updates so far (0, 1, 2, ...)
    avg_t    = d_t * avg_{t-1} + (1 - d_t) * w_t        (avg_0 = w_0: the first update copies)

The warm-up ``(1 + t) / (10 + t)`` (TensorFlow's ``ExponentialMovingAverage(num_updates=...)``,
timm's ``ModelEma``) keeps the early average from being dominated by the random initial
weights: with ``decay=0.999`` the effective horizon grows from a few steps to ~1,000. The
averaged weights sit near the centre of the region the last steps wandered over, which
generalises better than the last point, most visibly when the learning rate stays high.

Parameters and floating-point buffers (batch-norm running mean and variance) are averaged;
integer buffers (``num_batches_tracked``) are copied. The average is held as NumPy arrays
beside the model (no second model): :meth:`EMA.applied` swaps it into the model for an
evaluation and swaps the training weights back afterwards.

>>> import numpy as np
>>> from convlab import nn
>>> layer = nn.Linear(1, 1, bias=False)
>>> ema = EMA(layer, decay=0.5)
>>> layer.weight.data[...] = 1.0; ema.update(layer)            # first update copies: 1.0
>>> layer.weight.data[...] = 3.0; ema.update(layer)            # d = min(0.5, 2/11): 2/11*1 + 9/11*3
>>> round(float(ema.state_dict()["weight"][0, 0]), 4)
2.6364
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..validate import ConvlabError

__all__ = ["EMA"]


class EMA:
    """An exponential moving average of ``model``'s parameters and buffers.

    Args:
        model: the :class:`convlab.nn.Module` being trained.
        decay: the largest weight of the old average per update, in [0, 1) (0.999 is about the
            last 1,000 steps).
        warmup: use ``min(decay, (1 + t) / (10 + t))`` (default); False uses ``decay`` from the start.

    Methods: :meth:`update` after each ``optimizer.step()``; :meth:`applied` (a context manager)
    to evaluate with the averaged weights; :meth:`copy_to` to keep them; :meth:`state_dict` /
    :meth:`load_state_dict` (``{name: array}`` like the model's, plus ``updates``).
    """

    def __init__(self, model, decay: float = 0.999, warmup: bool = True):
        decay = float(decay)
        if not 0.0 <= decay < 1.0:
            raise ConvlabError(f"EMA: decay must be in [0, 1), got {decay}")
        self.decay, self.warmup, self.updates = decay, bool(warmup), 0
        self.shadow = {k: np.array(t._data, copy=True) for k, t in model.state_dict().items()}

    def current_decay(self) -> float:
        """The weight of the old average at the next update (0 for the first: it copies)."""
        if self.updates == 0:
            return 0.0
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    def update(self, model) -> None:
        """Move the average towards ``model``'s current weights (call after every optimizer step)."""
        d = self.current_decay()
        for key, t in model.state_dict().items():
            avg, w = self.shadow[key], t._data
            if avg.dtype.kind != "f" or d == 0.0:
                avg[...] = w
            else:  # avg = d * avg + (1 - d) * w, in place: avg += (1 - d) * (w - avg)
                avg += (1.0 - d) * (w - avg)
        self.updates += 1

    def copy_to(self, model) -> None:
        """Write the averaged weights into ``model`` (for good)."""
        model.load_state_dict(self.shadow)

    @contextlib.contextmanager
    def applied(self, model):
        """Inside the block ``model`` holds the averaged weights; afterwards its own again."""
        saved = {k: np.array(t._data, copy=True) for k, t in model.state_dict().items()}
        self.copy_to(model)
        try:
            yield model
        finally:
            model.load_state_dict(saved)

    def state_dict(self) -> dict:
        """The averaged weights ``{name: array}`` (the model's keys)."""
        return dict(self.shadow)

    def load_state_dict(self, state: dict, updates: int) -> None:
        """Restore the average (as written by :meth:`state_dict`) and the count of updates behind it."""
        missing = [k for k in self.shadow if k not in state]
        if missing:
            raise ConvlabError(f"EMA: the saved average lacks {', '.join(missing[:5])}")
        for k in self.shadow:
            v = state[k]
            self.shadow[k][...] = np.asarray(v._data if hasattr(v, "_data") else v)
        self.updates = int(updates)

    def __repr__(self) -> str:
        return f"EMA(decay={self.decay}, warmup={self.warmup}, updates={self.updates})"
