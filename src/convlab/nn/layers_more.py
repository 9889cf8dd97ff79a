"""More layers met in public CNN programs: ``InstanceNorm1d/2d/3d``, ``LocalResponseNorm``,
``LazyBatchNorm1d/2d/3d``, ``SyncBatchNorm``, ``Dropout1d/3d``, ``ChannelShuffle``, ``Softmax2d``,
``Softmin``, ``Threshold``, ``Hardshrink``, ``Softshrink``, ``CosineSimilarity``, ``PairwiseDistance``.

Thin wrappers over :mod:`convlab.functional` with torch's constructor arguments, defaults and
state-dict names.
"""

from __future__ import annotations

from .. import functional as F
from ..tensor import ones, zeros
from .dropout import _DropoutNd
from .module import Module
from .normalization import _BatchNorm


class _InstanceNorm(_BatchNorm):
    """Instance normalisation (Ulyanov et al., 2016): each sample's channel is normalised by its
    own spatial mean and variance. Defaults differ from batch norm's: ``affine=False`` and
    ``track_running_stats=False``; with tracking, eval mode uses the running statistics."""

    _dims: tuple = (4,)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input):
        unbatched = input.ndim == self._dims[0] - 1
        if unbatched:
            input = input.unsqueeze(0)
        self._check_input_dim(input)
        use_input_stats = self.training or not self.track_running_stats
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                              use_input_stats, self.momentum if self.momentum is not None else 0.1, self.eps)
        return out.squeeze(0) if unbatched else out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance norm over (N, C, L) (or unbatched (C, L))."""

    _dims = (3,)


class InstanceNorm2d(_InstanceNorm):
    """Instance norm over (N, C, H, W) (or unbatched (C, H, W)), statistics per sample and channel."""

    _dims = (4,)


class InstanceNorm3d(_InstanceNorm):
    """Instance norm over (N, C, D, H, W) (or unbatched (C, D, H, W))."""

    _dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose statistics span all processes of a distributed run. In one process it is
    :class:`BatchNorm2d` on any (N, C, *) input; ``convert_sync_batchnorm`` keeps a model's batch
    norms as they are there (for MPI ranks see :func:`convlab.distributed.convert_sync_batchnorm`)."""

    _dims = (2, 3, 4, 5)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        from .. import distributed

        if distributed.is_initialized() and distributed.world_size() > 1:
            return distributed.convert_sync_batchnorm(module)
        return module


class _LazyBatchNorm(_BatchNorm):
    """Batch norm whose ``num_features`` is ``input.shape[1]`` of the first batch (0 until then)."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__(1, eps, momentum, affine, track_running_stats, device, dtype)
        self.num_features, self._materialized = 0, False
        for name in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(self, name)
            if t is not None:
                t.data = zeros(0, dtype=t.dtype)

    def has_uninitialized_params(self) -> bool:
        return not self._materialized

    def forward(self, input):
        if not self._materialized:
            c = self.num_features = input.shape[1]
            for name, make in (("weight", ones), ("bias", zeros), ("running_mean", zeros), ("running_var", ones)):
                t = getattr(self, name)
                if t is not None:
                    t.data = make(c, dtype=t.dtype, device=t.device)
            self._materialized = True
        return super().forward(input)


class LazyBatchNorm1d(_LazyBatchNorm):
    _dims = (2, 3)


class LazyBatchNorm2d(_LazyBatchNorm):
    _dims = (4,)


class LazyBatchNorm3d(_LazyBatchNorm):
    _dims = (5,)


class LocalResponseNorm(Module):
    """Normalise each value by the energy of its ``size`` neighbouring channels (AlexNet):
    ``b_c = a_c / (k + alpha/size * sum a_{c'}^2) ** beta``. Shape: (N, C, *) -> same."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) input. See :class:`Dropout2d`."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) input. See :class:`Dropout2d`."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training)


class ChannelShuffle(Module):
    """ShuffleNet's channel shuffle (see :func:`convlab.functional.channel_shuffle`)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) input, at each position."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input of 3 or 4 dimensions, got {input.ndim}D")
        return F.softmax(input, -3)


class Softmin(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Threshold(Module):
    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


class Hardshrink(Module):
    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)


class Softshrink(Hardshrink):
    def forward(self, input):
        return F.softshrink(input, self.lambd)


class CosineSimilarity(Module):
    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
