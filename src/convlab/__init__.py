"""convlab: a convolutional-neural-network library written from scratch on NumPy.

>>> import convlab
>>> x = convlab.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]
"""

from . import backend
from . import methods as _methods  # noqa: F401  (binds t(), view_as, fill_, += ... onto Tensor)
from . import shared as _shared  # noqa: F401  (binds share_memory_ / is_shared and shared pickling)
from .autograd import GradcheckError, gradcheck
from .devices import device
from .legacy_types import *  # noqa: F401,F403  (FloatTensor, LongTensor, ...)
from .legacy_types import __all__ as _legacy_types_all
from .math import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    cat,
    chunk,
    clamp,
    clip,
    concatenate,
    div,
    exp,
    expand,
    flatten,
    leaky_relu,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    pad,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .methods import topk
from .more_math import allclose, argsort, bmm, equal, gather, isfinite, isinf, isnan, masked_fill, mm, sort
from .more_ops import cumprod, cumsum, einsum, index_select, masked_select, nonzero, prod, repeat_interleave
from .random import Generator, initial_seed, seed
from .tensor import (
    Function,
    Size,
    Tensor,
    arange,
    as_tensor,
    bool_,
    default_generator,
    empty,
    empty_like,
    enable_grad,
    eye,
    float16,
    float32,
    float64,
    from_numpy,
    full,
    full_like,
    get_default_dtype,
    get_rng_state,
    inference_mode,
    int8,
    int16,
    int32,
    int64,
    is_grad_enabled,
    is_tensor,
    linspace,
    manual_seed,
    no_grad,
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
    set_grad_enabled,
    set_rng_state,
    tensor,
    uint8,
    zeros,
    zeros_like,
)
from .tensor_math import *  # noqa: F401,F403  (floor, round, norm, flip, scatter, eq, logical_and, ...)
from .tensor_math import __all__ as _tensor_math_all
from .threads import get_num_threads, set_num_threads  # one thread count for convlab and its BLAS
from .torch_misc import *  # noqa: F401,F403  (compile, finfo, std_mean, diag, unique, ...)
from .torch_misc import __all__ as _torch_misc_all

__version__ = "0.1.0"

# Submodules and names that live in them, loaded on first use (PEP 562) so that
# ``import convlab`` stays light and the subpackages can import ``convlab`` freely.
_LAZY_MODULES = {
    "utils", "vision", "backends", "accelerator", "nn", "optim", "functional", "models", "data", "train", "filters", "signal",
    "shapes",
    "reference", "viz", "cuda", "distributed", "serialization", "inspect", "demos", "ops", "layerstats",
    "amp", "hub", "multiprocessing", "autograd", "random", "onnx", "testing",
}
_LAZY_NAMES = {"save": "serialization", "load": "serialization", "summary": "inspect", "autocast": "amp"}


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'convlab' has no attribute {name!r}")

# torch's dtype aliases (``torch.float`` is float32, ``torch.long`` int64...). They shadow the
# builtins only inside this file, which uses none of them below.
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
bool = bool_  # noqa: A001


def set_default_dtype(d) -> None:
    """Make Python floats (and ``tensor([1.0])``, ``zeros(...)``) use ``d`` (a floating dtype)."""
    from .dtypes import _set_default_dtype

    _set_default_dtype(d)


__all__ = [
    "Function", "GradcheckError", "Tensor", "abs", "add", "amax", "amin", "arange", "argmax",
    "argmin", "as_tensor", "backend", "bool_", "cat", "chunk", "clamp", "clip", "concatenate",
    "default_generator", "div", "enable_grad", "exp", "expand", "flatten", "float16", "float32",
    "float64", "from_numpy", "full", "get_default_dtype", "get_rng_state", "gradcheck", "int8",
    "int16", "int32", "int64", "is_grad_enabled", "leaky_relu", "log", "log_softmax", "manual_seed",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg", "no_grad", "ones",
    "ones_like", "pad", "permute", "pow", "rand", "randint", "randn", "relu", "reshape",
    "set_rng_state", "sigmoid", "softmax", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum",
    "tanh", "tensor", "transpose", "uint8", "unsqueeze", "var", "where", "zeros", "zeros_like",
    "Size", "device", "empty", "empty_like", "eye", "full_like", "inference_mode", "is_tensor", "linspace",
    "normal", "numel", "rand_like", "randn_like", "randperm", "set_grad_enabled", "set_default_dtype",
    "float", "double", "half", "long", "int", "short", "bool", "topk", "Generator", "allclose", "argsort",
    "bmm", "equal", "gather", "isfinite", "isinf", "isnan", "masked_fill", "mm", "sort", "initial_seed", "seed",
]
__all__ += ["get_num_threads", "set_num_threads"]
__all__ += _tensor_math_all + _legacy_types_all + _torch_misc_all
__all__ += ["cumprod", "cumsum", "einsum", "index_select", "masked_select", "nonzero", "prod", "repeat_interleave"]

from . import argcheck as _argcheck  # noqa: E402

_argcheck.check_namespace(globals(), __all__)  # arguments checked against the signatures (convlab.argcheck.checked)
_argcheck.check_methods(Tensor)  # Tensor methods refuse wrong types by name, as the functions do
