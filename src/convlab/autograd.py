"""Numerical gradient checking by central differences in float64."""

from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor
from .validate import ConvlabError


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when analytic and numeric gradients disagree."""


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Compare the analytic gradient of ``fn`` with central differences.

    Args:
        fn: maps the input tensors to one output tensor (any shape).
        inputs: a tensor or a sequence of tensors; those with ``requires_grad`` are checked.
            They must be float64 so that the differences are meaningful.
        eps, atol, rtol: step and tolerances: an element passes when
            ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns:
        True; otherwise raises :class:`GradcheckError` naming the worst element.

    The output is reduced with a fixed random weighting ``sum(w * fn(x))`` so that every
    output element contributes, then each input element is nudged by +-eps.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ConvlabError("gradcheck: no input has requires_grad=True")
    for i, t in enumerate(checked):
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {t.dtype}; use float64 for finite differences")
    out = fn(*inputs)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    xp = backend.array_module(out._data)
    w = xp.asarray(weights)

    def objective() -> float:
        return float((fn(*inputs)._data * w).sum())

    for t in checked:
        t.grad = None
    (fn(*inputs) * Tensor(w, dtype=np.float64)).sum().backward()
    for k, t in enumerate(checked):
        analytic = np.zeros(t.shape) if t.grad is None else backend.to_numpy(t.grad._data)
        numeric = np.zeros(t.shape)
        flat = t._data.reshape(-1)
        for i in range(flat.size):
            orig = float(flat[i])
            flat[i] = orig + eps
            plus = objective()
            flat[i] = orig - eps
            minus = objective()
            flat[i] = orig
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and err.max() > 0:
            j = np.unravel_index(int(np.argmax(err)), t.shape)
            raise GradcheckError(
                f"gradcheck: input {k} (shape {t.shape}) element {tuple(int(v) for v in j)}: "
                f"analytic {analytic[j]:.8g} vs numeric {numeric[j]:.8g} "
                f"(atol={atol}, rtol={rtol})"
            )
    return True


def Variable(data, requires_grad: bool = False, volatile: bool = False):  # noqa: N802 - torch's name
    """torch's old wrapper: since torch 0.4 a Variable is the tensor itself (``requires_grad`` set)."""
    t = data if isinstance(data, Tensor) else Tensor(data, dtype=np.asarray(data).dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False, only_inputs: bool = True,
         allow_unused=None, is_grads_batched: bool = False, materialize_grads: bool = False):
    """d(outputs)/d(inputs) as a tuple, without touching the inputs' ``.grad``.

    ``create_graph=True`` (a gradient that is itself differentiable, as WGAN-GP's gradient
    penalty needs) is refused by name: convlab's backward rules compute plain arrays.
    """
    if create_graph:
        raise NotImplementedError("autograd.grad(create_graph=True): convlab has no double backward (its backward "
                                  "rules compute arrays, not graphs), so gradient penalties cannot be differentiated")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    saved = [(t.grad, t._retain) for t in inputs]
    try:
        for t in inputs:
            t.grad = None
            if not t.is_leaf:
                t.retain_grad()
        for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
            keep = True if i < len(outputs) - 1 else bool(retain_graph)
            out.backward(g, retain_graph=keep)
        grads = tuple(t.grad for t in inputs)
    finally:
        for t, (g, retain) in zip(inputs, saved):
            t.grad, t._retain = g, retain
    if not allow_unused and builtins_any(g is None for g in grads):
        raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                           "Set allow_unused=True if this is the desired behavior.")
    if materialize_grads:
        from .tensor import zeros_like

        grads = tuple(zeros_like(t) if g is None else g for t, g in zip(inputs, grads))
    return grads


builtins_any = any
