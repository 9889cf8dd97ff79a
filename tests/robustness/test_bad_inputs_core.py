"""Hostile inputs for tensors and the primitive ops (convlab.tensor, convlab.math, ops/*).

Several cases are regression tests for bugs this catalogue found: ``arange(step=0)`` divided by
zero, ``randint(5, 2)`` gave NumPy's bare "low >= high", complex/object/string ndarrays slipped
into arithmetic (complex silently lost its imaginary part), ``astype(complex64)`` made a complex
tensor, ``reshape(-2, 3)`` was accepted, ``cat``/``unsqueeze``/``squeeze`` accepted any dim,
``transpose`` raised a bare "list index out of range", ``chunk(0)`` divided by zero, a negative
pad larger than the axis returned an empty tensor, and unary ops refused Python lists.
"""

import numpy as np
import pytest
from hostile import Case, check, params

import convlab as cl

A = cl.randn(2, 3)


def _oob(where, lo, hi, got):
    """torch's message for a dim out of range, after the function's name."""
    return rf"{where}: Dimension out of range \(expected to be in range of \[{lo}, {hi}\], but got {got}\)"

_BAD_ARRAYS = {
    "complex": np.ones((2, 3), np.complex128),
    "object": np.ones((2, 3), object),
    "string": np.full((2, 3), "a"),
}
_BAD_DTYPE_RE = {"complex": "complex128", "object": "object", "string": "<U1"}

CREATE = [
    Case("tensor-complex", lambda: cl.tensor(np.ones(3, complex)), TypeError, r"unsupported dtype complex128"),
    Case("tensor-object", lambda: cl.tensor(np.array([1, "a"], dtype=object)), TypeError, r"unsupported dtype object"),
    Case("tensor-string", lambda: cl.tensor("abc"), TypeError, r"unsupported dtype <U3"),
    Case("tensor-None", lambda: cl.tensor(None), TypeError, r"unsupported dtype object"),
    Case("tensor-dict", lambda: cl.tensor({"a": 1}), TypeError, r"unsupported dtype object"),
    Case("tensor-pycomplex", lambda: cl.tensor(1 + 2j), TypeError, r"unsupported dtype complex128"),
    Case("tensor-ragged", lambda: cl.tensor([[1, 2], [3]]), TypeError, r"cannot make a tensor from list"),
    Case("tensor-dtype-complex", lambda: cl.tensor([1.0], dtype="complex64"), TypeError, r"unsupported dtype complex64"),
    Case("tensor-dtype-bogus", lambda: cl.tensor([1.0], dtype="foo"), TypeError, r"tensor: dtype 'foo' is not a data type"),
    Case("requires-grad-int", lambda: cl.tensor([1, 2], requires_grad=True), RuntimeError, r"floating-point.*int64"),
    Case("requires-grad-bool", lambda: cl.tensor([True], requires_grad=True), RuntimeError, r"floating-point.*bool"),
    Case("arange-step0", lambda: cl.arange(0, 10, 0), ValueError, r"arange: step must be non-zero, got 0"),
    Case("arange-step0.0", lambda: cl.arange(0.0, 1.0, 0.0), ValueError, r"arange: step must be non-zero, got 0.0"),
    Case("randint-empty-range", lambda: cl.randint(5, 2, (3,)), ValueError, r"randint: .*low=5, high=2"),
    Case("randint-equal", lambda: cl.randint(3, 3, (3,)), ValueError, r"randint: .*low=3, high=3"),
    Case("manual-seed-neg", lambda: cl.manual_seed(-1), ValueError, r"seed must be a non-negative integer, got -1"),
    Case("manual-seed-float", lambda: cl.manual_seed(1.5), ValueError, r"seed .* got 1.5"),
    Case("manual-seed-str", lambda: cl.manual_seed("7"), ValueError, r"seed .* got '7'"),
    Case("astype-complex", lambda: A.astype(np.complex64), TypeError, r"astype: unsupported dtype complex64"),
    Case("astype-object", lambda: A.astype(object), TypeError, r"astype: unsupported dtype object"),
    Case("astype-bogus", lambda: A.astype("foo"), TypeError, r"astype: dtype 'foo' is not a data type"),
    Case("item-not-scalar", lambda: A.item(), ValueError, r"only one-element tensors.*\(2, 3\)"),
    Case("bool-ambiguous", lambda: bool(A), RuntimeError, r"shape \(2, 3\) is ambiguous"),
    Case("len-0d", lambda: len(cl.tensor(1.0)), TypeError, r"0-d"),
    Case("numpy-requires-grad", lambda: cl.randn(2, requires_grad=True).numpy(), RuntimeError, r"requires grad"),
]
for _fn in ("zeros", "ones", "randn", "rand"):
    for _size, _re in (((-1, 2), r"\(-1, 2\)"), ((2.5,), r"\(2.5,\)"), (("a",), r"\('a',\)"), ((2, -3), r"\(2, -3\)")):
        CREATE.append(Case(f"{_fn}-size-{_size}", lambda f=_fn, s=_size: getattr(cl, f)(*s), ValueError,
                           rf"size must be a sequence of non-negative integers, got {_re}"))
CREATE.append(Case("full-size-neg", lambda: cl.full((-1,), 1.0), ValueError, r"non-negative integers, got \(-1,\)"))

# every binary op x every bad operand: a dtype that cannot be a tensor is refused by name
BINARY = []
for _op in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"):
    for _kind, _arr in _BAD_ARRAYS.items():
        BINARY.append(Case(f"{_op}-{_kind}-ndarray", lambda o=_op, a=_arr: getattr(cl, o)(A, a), TypeError,
                           rf"unsupported dtype {_BAD_DTYPE_RE[_kind]}"))
    for _name, _val in (("str", "x"), ("None", None), ("pycomplex", 1 + 2j), ("dict", {})):
        BINARY.append(Case(f"{_op}-{_name}", lambda o=_op, v=_val: getattr(cl, o)(A, v), TypeError,
                           rf"expected a Tensor, array or number, got {type(_val).__name__}"))
    BINARY.append(Case(f"{_op}-broadcast", lambda o=_op: getattr(cl, o)(A, cl.randn(4, 5)), ValueError,
                       r"shapes \(2, 3\) and \(4, 5\) cannot be broadcast"))
BINARY += [
    Case("matmul-inner", lambda: A @ cl.randn(4, 5), ValueError, r"matmul: \(2, 3\) @ \(4, 5\): inner dimensions 3 and 4"),
    Case("matmul-0d", lambda: cl.tensor(1.0) @ A, ValueError, r"at least 1 dimension, got \(\) @ \(2, 3\)"),
    Case("matmul-complex", lambda: cl.matmul(A, np.ones((3, 2), complex)), TypeError, r"unsupported dtype complex128"),
]

UNARY = []
for _op in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "neg", "leaky_relu"):
    for _kind, _arr in _BAD_ARRAYS.items():
        UNARY.append(Case(f"{_op}-{_kind}-ndarray", lambda o=_op, a=_arr: getattr(cl, o)(a), TypeError,
                          rf"unsupported dtype {_BAD_DTYPE_RE[_kind]}"))
    UNARY.append(Case(f"{_op}-None", lambda o=_op: getattr(cl, o)(None), TypeError, r"got NoneType"))
    UNARY.append(Case(f"{_op}-str", lambda o=_op: getattr(cl, o)("x"), TypeError, r"got str"))

SHAPES = [
    Case("reshape-size", lambda: A.reshape(4, 4), ValueError, r"shape \(2, 3\) \(6 elements\) into shape \(4, 4\)"),
    Case("reshape-two-minus-one", lambda: A.reshape(-1, -1), ValueError, r"invalid shape \(-1, -1\)"),
    Case("reshape-minus-two", lambda: A.reshape(-2, 3), ValueError, r"invalid shape \(-2, 3\)"),
    Case("reshape-float", lambda: A.reshape(1.5, 4), TypeError, r"reshape: shape must be a sequence of ints, got \(1.5, 4\)"),
    Case("reshape-str", lambda: A.reshape("a"), TypeError, r"reshape: shape .* got \('a',\)"),
    Case("permute-repeat", lambda: A.permute(0, 0), ValueError, r"dims \(0, 0\) are not a permutation of 2 axes"),
    Case("permute-short", lambda: A.permute(0), ValueError, r"dims \(0,\) are not a permutation"),
    Case("transpose-oob", lambda: A.transpose(0, 5), IndexError, _oob("transpose", -2, 1, 5)),
    Case("transpose-neg-oob", lambda: A.transpose(-3, 0), IndexError, _oob("transpose", -2, 1, -3)),
    Case("squeeze-oob", lambda: A.squeeze(5), IndexError, _oob("squeeze", -2, 1, 5)),
    Case("unsqueeze-oob", lambda: A.unsqueeze(5), IndexError, _oob("unsqueeze", -3, 2, 5)),
    Case("unsqueeze-neg-oob", lambda: A.unsqueeze(-4), IndexError, _oob("unsqueeze", -3, 2, -4)),
    Case("expand", lambda: A.expand(3, 3), ValueError, r"cannot expand shape \(2, 3\) to \(3, 3\)"),
    Case("flatten-order", lambda: A.flatten(1, 0), ValueError, r"start_dim 1 comes after end_dim 0"),
    Case("cat-shapes", lambda: cl.cat([A, cl.randn(2, 4)], 0), ValueError, r"tensor 1 has shape \(2, 4\)"),
    Case("cat-empty", lambda: cl.cat([], 0), ValueError, r"cat: expected a non-empty sequence"),
    Case("cat-dim-oob", lambda: cl.cat([A, A], 5), IndexError, _oob("cat", -2, 1, 5)),
    Case("stack-empty", lambda: cl.stack([]), ValueError, r"stack: expected a non-empty"),
    Case("stack-shapes", lambda: cl.stack([A, cl.randn(3, 2)]), ValueError, r"tensor 1 has shape \(3, 2\)"),
    Case("split-zero", lambda: cl.split(A, 0), ValueError, r"split_size must be positive, got 0"),
    Case("split-sections", lambda: cl.split(A, [1, 2]), ValueError, r"sections \[1, 2\] do not add up to .* size 2"),
    Case("chunk-zero", lambda: cl.chunk(A, 0), ValueError, r"chunk: chunks must be positive, got 0"),
    Case("chunk-neg", lambda: cl.chunk(A, -2), ValueError, r"chunk: chunks must be positive, got -2"),
    Case("pad-odd", lambda: cl.pad(A, (1,)), ValueError, r"pad \(1,\) must have an even length"),
    Case("pad-too-long", lambda: cl.pad(A, (1,) * 6), ValueError, r"at most 2 \* ndim = 4"),
    Case("pad-crop-too-much", lambda: cl.pad(A, (-5, -5)), ValueError, r"negative padding \(-5, -5\) crops more than the size 3"),
    Case("pad-mode", lambda: cl.pad(A, (1, 1), mode="foo"), ValueError, r"mode must be .* got 'foo'"),
    Case("getitem-oob", lambda: A[5], IndexError, r"index 5 is invalid for a tensor of shape \(2, 3\)"),
    Case("getitem-str", lambda: A["x"], IndexError, r"index 'x' is invalid"),
    Case("getitem-float", lambda: A[1.5], IndexError, r"index 1.5 is invalid"),
    Case("sum-dim-oob", lambda: A.sum(dim=5), IndexError, _oob("sum", -2, 1, 5)),
    Case("softmax-dim-oob", lambda: cl.softmax(A, 3), IndexError, _oob("softmax", -2, 1, 3)),
    Case("mean-int", lambda: cl.tensor([1, 2]).mean(), TypeError, r"mean: expected a floating-point tensor, got dtype int64"),
    Case("max-empty", lambda: cl.zeros(0).max(), ValueError, r"cannot reduce an empty tensor of shape \(0,\)"),
]

AUTOGRAD = [
    Case("backward-no-graph", lambda: A.sum().backward(), RuntimeError, r"does not require grad"),
    Case("backward-nonscalar", lambda: (cl.randn(3, requires_grad=True) * 2).backward(), RuntimeError,
         r"only for scalar outputs, got shape \(3,\)"),
    Case("backward-grad-shape", lambda: (cl.randn(3, requires_grad=True) * 2).backward(np.ones(4)), ValueError,
         r"gradient has shape \(4,\) but the tensor has shape \(3,\)"),
    Case("gradcheck-no-grad", lambda: cl.gradcheck(lambda t: t * 2, [cl.tensor([1, 2])]), ValueError,
         r"no input has requires_grad=True"),
]

CORE_FAMILIES = {"create": CREATE, "binary": BINARY, "unary": UNARY, "shapes": SHAPES, "autograd": AUTOGRAD}


@params(CREATE)
def test_creation(case):
    check(case)


@params(BINARY)
def test_binary_ops(case):
    check(case)


@params(UNARY)
def test_unary_ops(case):
    check(case)


@params(SHAPES)
def test_movement_and_reduction(case):
    check(case)


@params(AUTOGRAD)
def test_autograd(case):
    check(case)


# ---------------------------------------------------------------- inputs that must simply work
_UNARY_OK = ["exp", "tanh", "sigmoid", "relu", "abs", "neg"]


@pytest.mark.parametrize("op", _UNARY_OK)
def test_unary_accepts_lists_scalars_readonly_and_strided(op):
    fn = getattr(cl, op)
    base = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    ref = fn(cl.tensor(base)).numpy()
    np.testing.assert_allclose(fn(base.tolist()).numpy(), ref, rtol=1e-6)
    ro = base.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(fn(cl.tensor(ro)).numpy(), ref, rtol=1e-6)
    big = np.zeros((8, 12), np.float32)
    big[::2, ::2] = base
    strided = big[::2, ::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_allclose(fn(cl.tensor(strided)).numpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(fn(cl.tensor(base.T.copy().T)).numpy(), ref, rtol=1e-6)
    assert fn(2.0).shape == ()


def test_tensor_copies_readonly_input_and_stays_writable():
    ro = np.arange(6.0).reshape(2, 3)
    ro.flags.writeable = False
    t = cl.tensor(ro, requires_grad=True)
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), 2 * ro)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("op", ["add", "mul", "maximum", "exp", "tanh", "relu", "leaky_relu", "sigmoid", "sum", "mean", "matmul"])
def test_nonfinite_values_propagate_like_torch(op, value):
    """NaN and Inf are data, not errors: they flow through like IEEE arithmetic (and torch).

    Regression: ``relu(-inf)`` was ``-inf * 0 = nan``; torch (and max(x, 0)) give 0.
    """
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, value], [0.5, -2.0]], np.float32)
    fn = getattr(cl, op)
    tfn = torch.nn.functional.leaky_relu if op == "leaky_relu" else getattr(torch, op)
    if op in ("add", "mul", "maximum", "matmul"):
        got, want = fn(cl.tensor(a), cl.tensor(a)).numpy(), tfn(torch.tensor(a), torch.tensor(a)).numpy()
    else:
        got, want = fn(cl.tensor(a)).numpy(), tfn(torch.tensor(a)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(want), rtol=1e-6)
