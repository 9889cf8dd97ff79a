"""The structured initialisers of ``torch.nn.init``: ``orthogonal_`` (Saxe et al., 2014; the
super-resolution example's choice), ``eye_``, ``dirac_`` and ``sparse_``.

``orthogonal_``: flatten the weight to (rows, cols) = (shape[0], prod(shape[1:])), draw a
Gaussian matrix of the taller orientation, take its QR decomposition and fix the signs with
``sign(diag(R))`` so the result is uniformly (Haar) distributed; scale by ``gain``.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import default_generator
from ..validate import ConvlabError
from .init import _fill

__all__ = ["orthogonal_", "eye_", "dirac_", "sparse_"]


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """Fill ``tensor`` (at least 2-D) with a (semi-)orthogonal matrix times ``gain``."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows, cols = tensor.shape[0], tensor.numel() // tensor.shape[0]
    gen = generator if generator is not None else default_generator()
    flat = gen.normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


def eye_(tensor):
    """The identity matrix in a 2-D ``tensor`` (ones on the diagonal of a non-square one too)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups: int = 1):
    """The identity convolution: each of the first min(out/groups, in) output channels of each
    group copies its input channel (a 1 at the kernel's centre). 3-, 4- or 5-D weights."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    out = tensor.shape[0]
    if out % groups:
        raise ValueError("dim 0 must be divisible by groups")
    per = out // groups
    w = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per, tensor.shape[1])):
            w[(g * per + d, d) + centre] = 1.0
    return _fill(tensor, w)


def sparse_(tensor, sparsity: float, std: float = 0.01, generator=None):
    """A 2-D ``tensor`` of N(0, std) values with ``ceil(sparsity * rows)`` zeros in each column."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if not 0.0 <= sparsity <= 1.0:
        raise ConvlabError(f"sparse_: sparsity must be in [0, 1], got {sparsity}")
    rows, cols = tensor.shape
    gen = generator if generator is not None else default_generator()
    w = gen.normal(0.0, std, (rows, cols))
    zeros = int(math.ceil(sparsity * rows))
    for c in range(cols):
        w[gen.permutation(rows)[:zeros], c] = 0.0
    return _fill(tensor, w)
