"""Inference short path of a ResNet's ``conv -> batch norm (-> + shortcut) (-> ReLU)`` chains.

Without a graph, an eval-mode batch norm is a per-channel affine map ``(x - mean) * scale +
shift`` and a ReLU needs no mask. Each layer's own short path (nn/_fastpath.py) still writes a
fresh array per layer (and the ReLU a mask nothing reads): on ResNet-20 at batch 128 that is
four or five streams of 8 MB per block, each read back cold by the next pass. Here the
convolution's output, a temporary that no one else holds, is overwritten: the batch norm by the
very compiled pass the layer runs (``_kernels.normalize``, ``y`` the same buffer as ``x``), the
shortcut added in place (NumPy's ``add``, the same rounding as ``out + identity``), the ReLU by
the compiled pass on the same buffer (its mask written to a scratch array that is dropped). The
values are the same bits as the layer-by-layer path: the same loops on the same inputs.

The path runs only when it cannot be told apart from the layers' own calls:

* no graph to record (grad mode off, or nothing involved requires grad), a plain
  :class:`~convlab.tensor.Tensor` input, no device backend, no trace wrapping ``Function.apply``
  (all as :func:`convlab.nn._fastpath.key` decides);
* the layers are exactly :class:`~convlab.nn.Conv2d`, :class:`~convlab.nn.BatchNorm2d` (in eval
  mode, with running statistics) and :class:`~convlab.nn.ReLU`, with no hooks (a hook could keep
  the intermediate tensor, which must then not change);
* the batch norm already passed its full checks on this shape (its short-path key is
  remembered), so every error message still comes from the full path on the first call;
* the convolution's output is a C-contiguous, writable float32 NumPy array sharing no memory
  with the block's input, the shortcut or a parameter, and the compiled passes are on.

Anything else returns None and the caller runs the layers one by one.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import _fastpath
from ..ops import fused
from ..ops.norm import _FUSED_MIN_PIXELS
from ..tensor import Tensor


def _plain(module, cls) -> bool:
    return module.__class__ is cls and not module._forward_hooks and not module._forward_pre_hooks


def usable(x, conv, bn, relu=None) -> bool:
    """Whether ``relu(bn(conv(x)))`` (``relu`` None: ``bn(conv(x))``) may take the in-place path."""
    if not (fused.enabled() and _plain(conv, nn.Conv2d) and _plain(bn, nn.BatchNorm2d)):
        return False
    if relu is not None and not _plain(relu, nn.ReLU):
        return False
    if bn.training or _fastpath.key(conv, x) is None or _fastpath.key(bn, x) is None:
        return False
    b = bn._buffers
    rm, rv = b.get("running_mean"), b.get("running_var")
    return rm.__class__ is Tensor and rv.__class__ is Tensor


def _owned(y, x, conv, bn, shortcut=None):
    """The raw array of ``conv``'s output ``y`` when it may be overwritten, else None."""
    if y.__class__ is not Tensor or y.requires_grad or y is x:
        return None
    d = y._data
    if not (fused.suits(d) and d.ndim == 4 and d.flags.writeable):
        return None
    others = [x._data] + [t._data for t in (*conv._parameters.values(), *bn._parameters.values(), *bn._buffers.values())
                          if t is not None]
    if shortcut is not None:
        others.append(shortcut)
    if any(np.may_share_memory(d, o) for o in others):
        return None
    return d


def _normalize_inplace(bn, y, d) -> bool:
    """``BatchNorm`` eval's compiled pass (ops/norm.py) on ``y``'s array ``d``, written over it; False (``d``
    untouched) where the layer would not take that pass or has not passed its checks on this shape."""
    n, c = d.shape[:2]
    if d.shape[2] * d.shape[3] < _FUSED_MIN_PIXELS or not _fastpath.recall(bn, bn._eval_key(y)):
        return False
    p, b = bn._parameters, bn._buffers
    w, bias = p["weight"], p["bias"]
    running_mean, running_var = b["running_mean"]._data, b["running_var"]._data
    # the same expressions as ops/norm.py's BatchNorm.forward in eval mode: the same bits
    invstd = (1 / np.sqrt(running_var + bn.eps)).astype(d.dtype, copy=False)
    mean = running_mean.astype(d.dtype, copy=False)
    scale = invstd if w is None else w._data * invstd
    shift = np.zeros(c, np.float32) if bias is None else bias._data
    x3 = d.reshape(n, c, -1)
    fused._kernels.normalize(x3, n, c, fused._vec(mean), fused._vec(scale), fused._vec(shift), x3)
    return True


def _relu_inplace(d) -> None:
    # ReLU's compiled pass with y = x (each value read, then written, at its own index only)
    fused._kernels.relu(d, d, np.empty(d.shape, dtype=bool))


def conv_bn(x, conv, bn, relu=None, shortcut=None):
    """``relu(bn(conv(x)) [+ shortcut])`` computed in place on the convolution's output, or the
    layers one by one where :func:`usable` (or the output's ownership) says no. ``shortcut``: a
    tensor of the output's shape added before the ReLU (read only)."""
    if not usable(x, conv, bn, relu) or (
            shortcut is not None and (shortcut.__class__ is not Tensor or shortcut.requires_grad)
    ):
        return _layers(x, conv, bn, relu, shortcut)
    y = conv(x)
    s = None if shortcut is None else shortcut._data
    d = _owned(y, x, conv, bn, s)
    if d is None or (s is not None and (s.shape != d.shape or s.dtype != d.dtype)) or not _normalize_inplace(bn, y, d):
        return _layers(y, None, bn, relu, shortcut)
    if s is not None:
        np.add(d, s, out=d)
    if relu is not None:
        _relu_inplace(d)
    return y


def _layers(x, conv, bn, relu, shortcut):
    y = bn(x if conv is None else conv(x))
    if shortcut is not None:
        y = y + shortcut
    return y if relu is None else relu(y)
