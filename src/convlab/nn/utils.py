"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (``torch.nn.utils``)."""

from __future__ import annotations

import math

from .. import backend, validate
from ..tensor import Tensor, tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _with_grads(parameters) -> list:
    """The tensors of ``parameters`` (a Tensor or an iterable of Tensors, as torch) that have a gradient."""
    try:
        params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    except TypeError:
        params = None
    if params is None or isinstance(parameters, (str, bytes, dict)) or not all(isinstance(p, Tensor) for p in params):
        raise validate.ArgumentTypeError(f"parameters must be a Tensor or an iterable of Tensors, got "
                                         f"{validate._safe_repr(parameters)}")
    return [p for p in params if p.grad is not None]


def zero_grads(parameters, set_to_none: bool = True) -> None:
    """Reset the gradients of ``parameters``: to ``None`` (default) or to zeros in place.

    Shared by :meth:`Module.zero_grad` and :meth:`Optimizer.zero_grad`.
    """
    for p in parameters:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad._data = backend.array_module(p.grad._data).zeros_like(p.grad._data)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector; if it exceeds
    ``max_norm`` every gradient is multiplied by ``max_norm / (norm + 1e-6)``. Returns the
    total norm before clipping (a 0-d tensor). ``norm_type`` may be ``inf``.
    """
    max_norm = validate.real(max_norm, "clip_grad_norm_", "max_norm", 0.0, finite=False)  # inf: no clipping
    norm_type = validate.real(norm_type, "clip_grad_norm_", "norm_type", 0.0, min_open=True, finite=False)
    grads = [p.grad._data for p in _with_grads(parameters)]
    if not grads:
        return tensor(0.0)
    xp = backend.array_module(grads[0])
    if norm_type == math.inf:
        total = max(float(xp.abs(g).max()) for g in grads)
    else:
        total = float(sum(float((xp.abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients is non-finite, so it cannot be clipped")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
    return tensor(total, dtype=grads[0].dtype)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place."""
    clip_value = validate.nonneg(clip_value, "clip_grad_value_", "clip_value")
    for p in _with_grads(parameters):
        xp = backend.array_module(p.grad._data)
        xp.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)


def parameters_to_vector(parameters) -> Tensor:
    """All ``parameters`` flattened and concatenated into one 1-D tensor (in the graph)."""
    from ..math import cat

    where = "parameters_to_vector"
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    if isinstance(parameters, (str, bytes, dict)) or not hasattr(parameters, "__iter__"):
        raise validate.ArgumentTypeError(f"{where}: argument 'parameters' must be an iterable of Tensors, got "
                                         f"{type(parameters).__name__}")
    parameters = list(parameters)
    for p in parameters:
        if not isinstance(p, Tensor):
            raise validate.ArgumentTypeError(f"{where}: argument 'parameters' must hold Tensors, got a "
                                             f"{type(p).__name__}")
    if not parameters:
        raise validate.ConvlabError(f"{where}: argument 'parameters' is empty (no Tensor to concatenate)")
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters``' data, in order."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"expected a 1-D Tensor, got {type(vec).__name__}")
    offset = 0
    for p in parameters:
        n = p.numel()
        p._data[...] = vec._data[offset:offset + n].reshape(p.shape).astype(p.dtype, copy=False)
        offset += n


from .. import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals(), __all__)  # arguments checked against the signatures (convlab.argcheck.checked)
