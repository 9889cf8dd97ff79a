"""Test-time augmentation (TTA): classify a picture and its mirror image, and average the logits.

A model trained with random horizontal flips has learnt both orientations; asking it about
both and averaging its two answers cancels part of its orientation-dependent error::

    logits(x) = (model(x) + model(flip_W(x))) / 2          flip_W: reverse the width axis

It costs a second forward pass at evaluation. Only for pictures whose mirror image keeps the
label (clothes, not digits or letters).

>>> import numpy as np, convlab
>>> from convlab import nn
>>> first_column = nn.Sequential(nn.Flatten(), nn.Linear(3, 1, bias=False))
>>> first_column[1].weight.data[...] = [[1.0, 0.0, 0.0]]
>>> x = convlab.tensor(np.array([[[[1.0, 2.0, 3.0]]]], np.float32))
>>> FlipTTA(first_column)(x).tolist()          # (1 + 3) / 2: the first column of x and of its mirror
[[2.0]]
"""

from __future__ import annotations

import numpy as np

from ..nn import Module
from ..tensor import Tensor

__all__ = ["FlipTTA"]


class FlipTTA(Module):
    """``(model(x) + model(x mirrored left-right)) / 2``.

    Args:
        model: a classifier of ``(N, C, H, W)`` pictures.

    Shape:
        input ``(N, C, H, W)``, output ``model``'s output shape. The mirror image is made from the
        input's values, so no gradient flows back to the input through it (the model's parameters
        get gradients from both passes).
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        mirrored = Tensor(np.ascontiguousarray(x._data[..., ::-1]))
        return (self.model(x) + self.model(mirrored)) * 0.5
