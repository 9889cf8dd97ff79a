"""Convolution layers: ``Conv1d``, ``Conv2d``, ``Conv3d``, ``ConvTranspose1d``, ``ConvTranspose2d``.

They hold the weight and bias and call ``convlab.functional``; the arithmetic lives in
``convlab.ops.conv``.
"""

from __future__ import annotations

from .. import functional as F
from ..ops import conv as _conv_ops
from ..shapes import _conv_geometry, ntuple
from ..tensor import _leaf
from ..validate import ConvlabError
from . import _fastpath, init
from .module import Module
from .parameter import register_weight_and_bias

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared constructor, initialisation and ``repr`` of the convolution layers.

    Initialisation (torch's): ``weight ~ kaiming_uniform_(a=sqrt(5))``, i.e.
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and ``bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``,
    with ``fan_in = weight.shape[1] * prod(kernel_size)`` (for transposed layers this is
    ``out_channels/groups * prod(kernel_size)``, as torch computes it).
    """

    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", output_padding=0, device=None, dtype=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        for arg, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConvlabError(f"{name}: {arg} must be a positive integer, got {v!r}")
        if in_channels % groups:
            raise ConvlabError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ConvlabError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ConvlabError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ConvlabError(f"{name}: padding must be 'same', 'valid', an int or a tuple, got {padding!r}")
        else:
            padding = ntuple(padding, nd, "padding", name, minimum=0)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = ntuple(stride, nd, "stride", name)
        self.dilation = ntuple(dilation, nd, "dilation", name)
        self.padding, self.padding_mode = padding, padding_mode
        self.output_padding = ntuple(output_padding, nd, "output_padding", name, minimum=0)
        self.transposed = self._transposed
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        register_weight_and_bias(self, shape, out_channels if bias else None, dtype)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init._layer_default_(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _fn = "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        conv = getattr(F, self._fn)
        if self.padding_mode == "zeros":
            options = (self.stride, self.padding, self.dilation, self.groups)
            k = _fastpath.key(self, input, *options)
            geom = _fastpath.recall(self, k)
            if geom is not None:  # the same shapes passed every check before (nn/_fastpath.py)
                p = self._parameters
                b = p["bias"]
                return _leaf(_conv_ops.conv_forward(input._data, p["weight"]._data, geom,
                                                    bias=None if b is None else b._data))
            y = conv(input, self.weight, self.bias, *options)
            if k is not None and input.ndim == self._nd + 2:
                _fastpath.remember(self, k, _conv_geometry(self._fn, input.shape, self.weight.shape, *options))
            return y
        # other padding modes pad here (with gradients), then convolve with padding 0, as torch;
        # conv_pad wants a batch axis, so an unbatched input borrows one
        unbatched = input.ndim == self._nd + 1
        x = input.unsqueeze(0) if unbatched else input
        x, padding = F.conv_pad(x, self.padding, self.padding_mode, self.kernel_size, self.stride, self.dilation)
        y = conv(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)
        return y.squeeze(0) if unbatched else y


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L). See :class:`Conv2d`.

    Shape: input (N, C_in, L) -> output (N, C_out, floor((L + 2P - D(K-1) - 1) / S) + 1);
    weight (C_out, C_in/groups, K).
    """

    _nd, _fn = 1, "conv1d"


class Conv2d(_Conv):
    """2-D convolution (cross-correlation, as every deep-learning library) over (N, C_in, H, W).

    Args:
        in_channels, out_channels: channel counts; both divisible by ``groups``.
        kernel_size, stride, dilation: int or (h, w).
        padding: int, (h, w), ``'valid'`` or ``'same'``.
        padding_mode: ``'zeros'`` (default), ``'reflect'``, ``'replicate'`` or ``'circular'``.
        bias: add a learnable per-channel bias.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out) with
        ``H_out = floor((H + 2P - D(K-1) - 1) / S) + 1`` (likewise W).
        weight (C_out, C_in/groups, kH, kW); bias (C_out,).

    Initialisation: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in/groups*kH*kW
    (torch's ``kaiming_uniform_(a=sqrt(5))``).

    Example::

        conv = Conv2d(3, 32, kernel_size=3, padding=1)   # (B, 3, 32, 32) -> (B, 32, 32, 32)
    """

    _nd, _fn = 2, "conv2d"


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W). See :class:`Conv2d`."""

    _nd, _fn = 3, "conv3d"


class _ConvTranspose(_ConvNd):
    _transposed = True
    _fn = "conv_transpose2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ConvlabError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise ConvlabError(f"{type(self).__name__}: padding must be an int or a tuple, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)

    def _output_padding(self, input, output_size):
        """The output padding that makes the output ``output_size`` (torch's rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = tuple(output_size)[-nd:]
        out = []
        for i in range(nd):
            size_in = input.shape[input.ndim - nd + i]
            k, s, p, d = self.kernel_size[i], self.stride[i], self.padding[i], self.dilation[i]
            smallest = (size_in - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= output_size[i] < smallest + s:
                raise ConvlabError(
                    f"{type(self).__name__}: requested output size {output_size} is not reachable: dimension {i} "
                    f"must be in [{smallest}, {smallest + s - 1}] for input size {size_in}"
                )
            out.append(output_size[i] - smallest)
        return tuple(out)

    def forward(self, input, output_size=None):
        return getattr(F, self._fn)(input, self.weight, self.bias, self.stride, self.padding,
                                    self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution. See :class:`ConvTranspose2d`."""

    _nd, _fn = 1, "conv_transpose1d"


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution (the adjoint of :class:`Conv2d`, "deconvolution").

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out) with
        ``H_out = (H - 1) S - 2P + D(K - 1) + output_padding + 1``.
        weight (C_in, C_out/groups, kH, kW); bias (C_out,).

    ``forward(input, output_size=None)``: ``output_size`` picks the output padding, as torch.

    Initialisation: as :class:`Conv2d`, with fan_in computed from the weight's second axis
    (C_out/groups * kH * kW), as torch does.
    """

    _nd, _fn = 2, "conv_transpose2d"
