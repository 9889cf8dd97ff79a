"""Tensor, Function and the backward pass: the names, gathered from the modules that define them.

- :mod:`convlab.grad_mode`: ``no_grad``, ``enable_grad``, ``is_grad_enabled``;
- :mod:`convlab.random`: the library generator (``manual_seed``, ``get_rng_state``...);
- :mod:`convlab.dtypes`: the dtypes and the default float type;
- :mod:`convlab.tensor_class`: the :class:`Tensor` class;
- :mod:`convlab.graph`: :class:`Function`, gradient hooks and the backward pass;
- :mod:`convlab.convert`: casts, moves and copies (``astype``, ``to``, ``clone``);
- :mod:`convlab.creation`: ``tensor``, ``zeros``, ``randn``, ``arange``...

Imports run one way: dtypes/grad_mode/random <- tensor_class <- graph <- ops <- convert/creation
<- this module, so ``from convlab.tensor import Tensor, no_grad, Function`` keeps working and
nothing below imports back up.
"""

from __future__ import annotations

from ._allocator import tune_malloc
from .convert import astype, clone  # noqa: F401  (binds the conversion methods onto Tensor)
from .creation import (  # noqa: F401
    _host_random,
    _new,
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    normal,
    numel,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .dtypes import (  # noqa: F401
    _check_dtype,
    _parse_dtype,
    _set_default_dtype,
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from .grad_mode import _GradMode, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .graph import (  # noqa: F401
    Context,
    Function,
    RemovableHandle,
    _accumulate,
    _check_one_device,
    _edge,
    _hooked_ref,
    _HookedRef,
    _LeafHooks,
    _Node,
    _run_backward,
    _run_hooks,
    _topological_order,
    _wrap,
    unbroadcast,
)
from .random import default_generator, get_rng_state, manual_seed, set_rng_state, using_generator  # noqa: F401
from .tensor_class import Size, Tensor, _as_array, _leaf  # noqa: F401

tune_malloc()  # recycle freed arrays between steps instead of page-faulting them in again
