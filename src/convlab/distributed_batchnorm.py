"""Synchronised batch norm for data-parallel training: each rank normalises with the statistics
of the global batch (all ranks' shards), one all-reduce per forward and one per backward.
:func:`convlab.distributed.convert_sync_batchnorm` switches a model's batch-norm layers to it."""

from __future__ import annotations

import numpy as np

from .distributed import allreduce_, world_size


def _sync_batch_norm_function():
    from .tensor import Function

    class SyncBatchNorm(Function):
        """Batch norm whose statistics cover the global batch (all ranks' shards).

        Forward: each rank sums x and x^2 per channel, one all-reduce gives the global
        mean and (biased) variance over M = sum of the ranks' N*L. Backward: with
        xc = x - mean, k = weight * invstd, the input gradient is

            dx = k * (g - sum(g)/M - xc * invstd^2 * sum(g * xc)/M)

        where both sums run over the global batch, so they are all-reduced too. Weight and
        bias gradients stay local; the gradient reducer averages them like any other.
        """

        @staticmethod
        def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps, timeout):
            n, c = x.shape[:2]
            x3 = x.reshape(n, c, -1)
            stats = np.concatenate([x3.sum(axis=(0, 2)), (x3 * x3).sum(axis=(0, 2)), [n * x3.shape[2]]]).astype(np.float64)
            allreduce_(stats, timeout=timeout)
            m = stats[-1]
            mean = stats[:c] / m
            var = np.maximum(stats[c : 2 * c] / m - mean * mean, 0.0)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype)
                running_var *= 1 - momentum
                running_var += (momentum * var * (m / max(m - 1, 1))).astype(running_var.dtype)
            invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
            xc = x3 - mean.astype(x.dtype)[:, None]
            scale = invstd if weight is None else weight * invstd
            y = xc * scale[:, None]
            if bias is not None:
                y += bias[:, None]
            ctx.save_for_backward(xc, invstd)
            ctx.info = (x.shape, weight, m, timeout)
            return y.reshape(x.shape)

        @staticmethod
        def backward(ctx, g):
            xc, invstd = ctx.saved
            shape, weight, m, timeout = ctx.info
            c = shape[1]
            g3 = g.reshape(shape[0], c, -1)
            local_g, local_gxc = g3.sum(axis=(0, 2)), (g3 * xc).sum(axis=(0, 2))
            sums = allreduce_(np.concatenate([local_g, local_gxc]).astype(np.float64), timeout=timeout)
            sum_g, sum_gxc = sums[:c].astype(g.dtype), sums[c:].astype(g.dtype)
            k = invstd if weight is None else weight * invstd
            dx = k[:, None] * (g3 - sum_g[:, None] / m - xc * (invstd * invstd * sum_gxc / m)[:, None])
            return (dx.reshape(shape), local_gxc * invstd, local_g) + (None,) * 5

    return SyncBatchNorm


def _sync_forward(self, input):
    if not self.training or world_size() == 1:
        return type(self).__mro__[1].forward(self, input)
    self._check_input_dim(input)
    momentum = 0.1 if self.momentum is None else self.momentum
    if self.num_batches_tracked is not None:
        self.num_batches_tracked._data += 1
    fn = _sync_batch_norm_function()
    rm = self.running_mean._data if self.running_mean is not None else None
    rv = self.running_var._data if self.running_var is not None else None
    return fn.apply(input, self.weight, self.bias, rm, rv, momentum, self.eps, self.timeout)
