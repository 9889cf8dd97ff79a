"""``Parameter``: a leaf tensor that a :class:`~convlab.nn.Module` registers as learnable."""

from __future__ import annotations

from ..tensor import Tensor, _as_array, zeros


class Parameter(Tensor):
    """A tensor that is a module's learnable parameter (``requires_grad=True`` by default).

    Assigning a ``Parameter`` to a module attribute registers it, so it appears in
    ``parameters()`` and ``state_dict()``. Like ``torch.nn.Parameter``, wrapping an existing
    tensor shares its array rather than copying it.

    >>> import convlab
    >>> p = Parameter(convlab.zeros(2, 3))
    >>> p.shape, p.requires_grad
    (convlab.Size([2, 3]), True)
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = _as_array([], None, "Parameter")
        elif isinstance(data, Tensor):
            data = data._data  # share, do not copy (torch semantics)
        elif not (hasattr(data, "shape") and hasattr(data, "dtype")):
            data = _as_array(data, None, "Parameter")
        self._data = data
        self.grad = None
        self._node = None
        self._retain = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()



def register_weight_and_bias(module, weight_shape: tuple, bias_size: int | None, dtype=None) -> None:
    """Give ``module`` a ``weight`` of ``weight_shape`` and a ``bias`` of ``(bias_size,)`` (a
    ``None`` bias when ``bias_size`` is None), zero-filled until ``reset_parameters`` runs."""
    module.weight = Parameter(zeros(*weight_shape, dtype=dtype))
    if bias_size is not None:
        module.bias = Parameter(zeros(bias_size, dtype=dtype))
    else:
        module.register_parameter("bias", None)
