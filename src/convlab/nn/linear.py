"""``Linear``, ``Identity``, ``Flatten`` and ``Unflatten``."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..ops.matmul import Linear as LinearOp
from ..validate import ConvlabError
from . import _fastpath, init
from .module import Module
from .parameter import register_weight_and_bias


class Identity(Module):
    """Return the input unchanged (accepts and ignores any constructor arguments, as torch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """Fully connected layer ``y = x W^T + b``.

    Shape: input (*, in_features) -> output (*, out_features); weight (out_features,
    in_features); bias (out_features,).

    Initialisation (torch's): weight ~ ``kaiming_uniform_(a=sqrt(5))`` = U(-1/sqrt(in), 1/sqrt(in)),
    bias ~ U(-1/sqrt(in), 1/sqrt(in)).

    Example::

        fc = Linear(64 * 8 * 8, 128)     # (B, 4096) -> (B, 128)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ConvlabError(f"Linear: {name} must be a non-negative integer, got {v!r}")
        self.in_features, self.out_features = in_features, out_features
        register_weight_and_bias(self, (out_features, in_features), out_features if bias else None, dtype)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init._layer_default_(self.weight, self.bias)

    def forward(self, input):
        k = _fastpath.key(self, input)
        if _fastpath.recall(self, k):  # the same shapes passed every check before (nn/_fastpath.py)
            p = self._parameters
            b = p["bias"]
            return _fastpath.run(LinearOp, input._data, p["weight"]._data, None if b is None else b._data)
        y = F.linear(input, self.weight, self.bias)
        _fastpath.remember(self, k)
        return y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flatten axes ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand axis ``dim`` into ``unflattened_size``: (N, 784) -> (N, 1, 28, 28)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        d = self.dim % input.ndim
        return input.reshape(input.shape[:d] + self.unflattened_size + input.shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
