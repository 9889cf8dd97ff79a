"""Convolutions with the names, arguments and defaults of ``torch.nn.functional``.

All of them accept batched ``(N, C, *spatial)`` input or unbatched ``(C, *spatial)`` input and
work in any float dtype (input, weight and bias must agree). Beyond torch:

- ``padding='same'`` also works with ``stride > 1``, by TensorFlow's rule: the output has
  ``ceil(size / stride)`` positions and an odd padding pixel goes at the end
  (:func:`convlab.shapes.same_padding` says what is applied).
- ``padding`` may also be explicit ``(before, after)`` pairs, one per spatial dimension.
- ``strict=True`` raises when the stride/dilation leaves input rows or columns unread
  (:func:`convlab.shapes.unvisited`); by default the output floors, like torch.
"""

from __future__ import annotations

from .. import math as M
from ..math import _operand
from ..ops.conv import ConvNd, ConvTransposeNd
from ..shapes import _check_layout, _check_strict, _conv_geometry, _ntuple  # unchecked: the public function checked the arguments
from ..validate import ConvlabError

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_pad"]


def _prepare(where, nd, input, weight, bias):
    x, w = _operand(input), _operand(weight)
    _check_layout(where, x.shape, nd, channels_expected=w.shape[1] if w.ndim == nd + 2 else None)
    b = None if bias is None else _operand(bias)
    for name, t in (("weight", w), ("bias", b)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{where}: input dtype {x.dtype} and {name} dtype {t.dtype} should be the same")
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")
    unbatched = x.ndim == nd + 1
    return (M.unsqueeze(x, 0) if unbatched else x), w, b, unbatched


def _check_bias(where, b, channels):
    if b is not None and tuple(b.shape) != (channels,):
        raise ConvlabError(f"{where}: bias must have shape ({channels},) to match the {channels} output channels, "
                         f"got {tuple(b.shape)}")


def _conv(where, nd, input, weight, bias, stride, padding, dilation, groups, strict):
    x, w, b, unbatched = _prepare(where, nd, input, weight, bias)
    geom = _conv_geometry(where, x.shape, w.shape, stride, padding, dilation, groups)
    _check_bias(where, b, w.shape[0])
    if strict:
        _check_strict(where, geom)
    y = ConvNd.apply(x, w, b, geom=geom)
    return M.squeeze(y, 0) if unbatched else y


def _conv_transpose(where, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    x, w, b, unbatched = _prepare(where, nd, input, weight, bias)
    geom = _conv_geometry(where, x.shape, w.shape, stride, padding, dilation, groups, transposed=True,
                         output_padding=output_padding)
    _check_bias(where, b, w.shape[1] * geom.groups)
    y = ConvTransposeNd.apply(x, w, b, geom=geom)
    return M.squeeze(y, 0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, strict=False):
    """1-D convolution (cross-correlation, as torch). See :func:`conv2d`.

    Shape: input ``(N, C_in, L)``, weight ``(C_out, C_in/groups, K)`` -> ``(N, C_out, L_out)``.
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups, strict)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, strict=False):
    """2-D convolution as deep learning means it (cross-correlation: the kernel is not flipped).

    ``y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * x_pad[n, g*C/groups + c, i*s + p*d, j*s + q*d]``

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: int or ``(sH, sW)``.
        padding: int, ``(pH, pW)``, ``'valid'``, ``'same'`` (any stride) or ``((top, bottom), (left, right))``.
        groups: split channels into independent groups (``groups == C_in`` is depthwise).
        strict: raise ``ValueError`` when border rows/columns would be left unvisited.

    Shape:
        ``H_out = floor((H + 2P - D(kH - 1) - 1) / S) + 1`` (likewise ``W_out``).

    >>> import convlab as cl
    >>> x = cl.arange(9.0).reshape(1, 1, 3, 3)
    >>> conv2d(x, cl.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])).tolist()
    [[[[19.0, 25.0], [37.0, 43.0]]]]
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups, strict)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, strict=False):
    """3-D convolution. Shape: ``(N, C_in, D, H, W)`` with ``(C_out, C_in/groups, kD, kH, kW)``."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups, strict)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution. See :func:`conv_transpose2d`."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution: the adjoint of :func:`conv2d` (seed 003's input gradient,
    "full convolution with the flipped kernel"), often used to upsample.

    Args:
        input: ``(N, C_in, H, W)``; weight: ``(C_in, C_out/groups, kH, kW)``; bias ``(C_out,)``.
        output_padding: extra rows/columns added at the end, to pick among the input sizes that a
            strided convolution maps to the same output size.

    Shape:
        ``H_out = (H - 1) S - 2P + D(kH - 1) + output_padding + 1``.

    >>> import convlab as cl
    >>> conv_transpose2d(cl.ones(1, 1, 2, 2), cl.ones(1, 1, 2, 2), stride=2).shape
    convlab.Size([1, 1, 4, 4])
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution. See :func:`conv_transpose2d`."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_pad(input, padding, padding_mode="zeros", kernel_size=None, stride=1, dilation=1):
    """Apply a layer's ``padding_mode`` before a convolution; returns ``(input, padding)``.

    For ``'zeros'`` nothing is done (the convolution pads). For ``'reflect'``,
    ``'replicate'`` and ``'circular'`` the input is padded here (with gradients) and the
    padding left for the convolution is 0. ``padding='same'`` needs ``kernel_size``.

    >>> import convlab as cl
    >>> x, p = conv_pad(cl.ones(1, 1, 4, 4), 1, "reflect")
    >>> x.shape, p
    (convlab.Size([1, 1, 6, 6]), 0)
    """
    if padding_mode == "zeros":
        return input, padding
    if padding_mode not in ("reflect", "replicate", "circular"):
        raise ConvlabError(f"padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got {padding_mode!r}")
    x = _operand(input)
    nd = x.ndim - 2
    if padding == "valid":
        return x, 0
    if padding == "same":
        if kernel_size is None:
            raise ConvlabError("conv_pad: padding='same' needs kernel_size")
        from ..shapes import same_padding

        pairs = same_padding(tuple(x.shape[2:]), _ntuple(kernel_size, nd, "kernel_size", "conv_pad"),
                             _ntuple(stride, nd, "stride", "conv_pad"), _ntuple(dilation, nd, "dilation", "conv_pad"))
    else:
        pairs = tuple((p, p) for p in _ntuple(padding, nd, "padding", "conv_pad", minimum=0))
    flat = tuple(v for lo_hi in reversed(pairs) for v in lo_hi)  # torch's pad order: last axis first
    return M.pad(x, flat, mode=padding_mode), 0
