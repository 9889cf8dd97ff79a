"""Weight initialisation, with the names, arguments and formulas of ``torch.nn.init``.

Every function fills ``tensor.data`` in place (no graph is recorded) and returns the tensor.
Random draws come from convlab's library generator (``convlab.manual_seed`` makes them
repeatable) unless a NumPy ``generator`` is passed.

Fans: for a weight of shape ``(out, in, *kernel)``, ``fan_in = in * prod(kernel)`` and
``fan_out = out * prod(kernel)``; for a linear weight ``(out, in)`` the kernel is empty.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend, validate
from ..tensor import default_generator
from ..validate import ConvlabError

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for ``nonlinearity`` (``torch.nn.init.calculate_gain``).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    (slope ``param``, default 0.01); selu: 3/4.

    >>> round(calculate_gain("relu"), 6)
    1.414214
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ConvlabError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ConvlabError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ConvlabError("Fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, "
                           f"got {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ConvlabError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write host ``values`` into ``tensor.data`` in place, on its device and in its dtype."""
    xp = backend.array_module(tensor._data)
    tensor._data[...] = values if xp is np else xp.asarray(values)
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with U(a, b)."""
    a, b = validate.real(a, "uniform_", "a"), validate.real(b, "uniform_", "b")
    if a > b or not math.isfinite(b - a):
        raise ConvlabError(f"uniform_: expects to return a [from, to) range, but found a={a} > b={b}" if a > b
                           else f"uniform_: the range [a={a}, b={b}) is wider than a float can hold")
    gen = generator or default_generator()
    return _fill(tensor, gen.uniform(a, b, tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with N(mean, std^2)."""
    mean, std = validate.real(mean, "normal_", "mean", finite=False), validate.nonneg(std, "normal_", "std")
    gen = generator or default_generator()
    return _fill(tensor, gen.normal(mean, std, tensor.shape))


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None):
    """Fill with N(mean, std^2) conditioned on [a, b] (redraws values outside the interval)."""
    from .. import validate

    mean, std = validate.real(mean, "trunc_normal_", "mean"), validate.nonneg(std, "trunc_normal_", "std")
    a, b = validate.real(a, "trunc_normal_", "a"), validate.real(b, "trunc_normal_", "b")
    # redrawing terminates only when [a, b] holds a fair share of N(mean, std^2): at least 1e-4
    mass = 0.5 * (math.erf((b - mean) / (std * math.sqrt(2))) - math.erf((a - mean) / (std * math.sqrt(2)))) \
        if std > 0 else float(a <= mean <= b)
    if not a < b or mass < 1e-4:
        raise validate.ConvlabError(f"trunc_normal_: [a, b] = [{a}, {b}] must be an interval holding at least 1e-4 of "
                                    f"N({mean}, {std}^2) (it holds {mass:.3g}); redrawing would not end")
    gen = generator or default_generator()
    values = gen.normal(mean, std, tensor.shape)
    bad = (values < a) | (values > b)
    while bad.any():
        values[bad] = gen.normal(mean, std, int(bad.sum()))
        bad = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor, val: float):
    tensor._data[...] = val
    return tensor


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot & Bengio (2010): U(-bound, bound), ``bound = gain * sqrt(6 / (fan_in + fan_out))``."""
    gain = validate.nonneg(gain, "xavier_uniform_", "gain")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    if not math.isfinite(2 * bound):
        raise ConvlabError(f"xavier_uniform_: gain {gain} makes the bound {bound:g} wider than a float can hold")
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot & Bengio (2010): N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    gain = validate.nonneg(gain, "xavier_normal_", "gain")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He et al. (2015): U(-bound, bound), ``bound = gain * sqrt(3 / fan)``, gain from
    :func:`calculate_gain` (``a`` is the leaky-ReLU slope).

    Conv and linear layers use ``a = sqrt(5)``, which gives ``bound = 1 / sqrt(fan_in)``.
    """
    if 0 in tensor.shape:
        return tensor
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He et al. (2015): N(0, std^2), ``std = gain / sqrt(fan)``."""
    if 0 in tensor.shape:
        return tensor
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)), generator)


def _layer_default_(weight, bias=None) -> None:
    """Torch's default for conv and linear layers: ``weight ~ kaiming_uniform_(a=sqrt(5))``,
    which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and ``bias`` ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)

from .init_more import dirac_, eye_, orthogonal_, sparse_  # noqa: E402


def _deprecated(new):
    """torch's old names without the trailing underscore: warn, then do the in-place version."""

    def old(*args, **kwargs):
        import warnings

        warnings.warn(f"`nn.init.{new.__name__[:-1]}` is now deprecated in favor of `nn.init.{new.__name__}`.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)

    old.__name__ = new.__name__[:-1]
    return old


uniform, normal, constant = _deprecated(uniform_), _deprecated(normal_), _deprecated(constant_)
xavier_uniform, xavier_normal = _deprecated(xavier_uniform_), _deprecated(xavier_normal_)
kaiming_uniform, kaiming_normal = _deprecated(kaiming_uniform_), _deprecated(kaiming_normal_)
orthogonal, eye, dirac, sparse = _deprecated(orthogonal_), _deprecated(eye_), _deprecated(dirac_), _deprecated(sparse_)
__all__ += ["orthogonal_", "eye_", "dirac_", "sparse_", "uniform", "normal", "constant", "xavier_uniform",
            "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "eye", "dirac", "sparse"]

from .. import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals())  # arguments checked against the signatures (convlab.argcheck.checked)
