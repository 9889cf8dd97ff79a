"""The Tensor's operators, in-place forms, creation options and gradcheck, each against torch or a
value worked by hand (from the survivors of ``benchmarks/mutation.py tensor``, seed 1)."""

from __future__ import annotations

import numpy as np
import pytest

import convlab as cl
from convlab.autograd import GradcheckError, gradcheck
from helpers import require_torch

torch = require_torch()


# ---- arithmetic and comparison operands
def test_a_scalar_takes_the_tensors_float_dtype_on_either_side():
    # 0.1 read as float64 on both sides: exactly 0 (as torch); read as float32 0.1 it would be -1.49e-9
    x = cl.tensor([0.1], dtype=cl.float64)
    assert (0.1 - x).item() == 0.0 == (0.1 - torch.tensor([0.1], dtype=torch.float64)).item()
    assert (x - 0.1).item() == 0.0
    # comparisons read the scalar at the tensor's precision too: 0.1 >= 0.1 and 0.1 == 0.1
    assert (x >= 0.1).tolist() == [True] and (x == 0.1).tolist() == [True] and (x < 0.1).tolist() == [False]
    # a half tensor meeting a Python float stays half (torch's promotion)
    h = cl.tensor([1.0, 2.0], dtype=cl.float16) + 2.5
    assert h.dtype == np.float16 and h.tolist() == [3.5, 4.5]
    assert (torch.tensor([1.0, 2.0], dtype=torch.float16) + 2.5).dtype == torch.float16


def test_comparisons_compare_the_two_operands():
    x = cl.tensor([1, 2, 3])
    assert (x > 1.5).tolist() == [False, True, True] and (x <= 2).tolist() == [True, True, False]
    assert (x != cl.tensor([1, 0, 3])).tolist() == [False, True, False]
    assert (x.eq(2)).tolist() == [False, True, False]


def test_an_integer_tensor_meeting_a_float_tensor_takes_the_float_dtype():
    a, b = cl.tensor([1.5, 2.5]), cl.tensor([1, 2])
    assert (a + b).dtype == np.float32 and (a + b).tolist() == [2.5, 4.5]
    assert (b * a).dtype == np.float32 and (b * a).tolist() == [1.5, 5.0]
    assert (torch.tensor([1.5, 2.5]) + torch.tensor([1, 2])).dtype == torch.float32


def test_an_array_operand_of_an_unsupported_dtype_is_refused_by_name():
    with pytest.raises(TypeError, match=r"^operand: unsupported dtype <U1 \(expected a floating, integer or bool "
                                        r"dtype; complex, object and string data cannot be tensors\)$"):
        cl.zeros(2) + np.array(["a"])


def test_movement_takes_its_sizes_as_one_tuple_too():
    x = cl.arange(6).reshape((2, 3))
    assert x.shape == (2, 3) and x.permute((1, 0)).tolist() == [[0, 3], [1, 4], [2, 5]]
    assert x.view([3, 2]).tolist() == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize("call, message", [
    (lambda: cl.zeros(2, 3).permute(1, 1), r"^permute: dims \(1, 1\) are not a permutation of 2 axes$"),
    (lambda: cl.zeros(3).split([1, 1]), r"^split: sections \[1, 1\] do not add up to dim 0 of size 3$"),
    (lambda: cl.stack([]), r"^stack: expected a non-empty sequence of tensors$"),
    (lambda: cl.tensor([1.0], requires_grad=True).numpy(),
     r"^numpy\(\): tensor requires grad; call \.detach\(\)\.numpy\(\) instead$"),
    (lambda: cl.rand_like(cl.zeros(2), foo=1), r"^rand_like\(\) got an unexpected keyword argument 'foo'$"),
    (lambda: cl.arange(0, 5, "a"), r"^arange: step must be a real number, got 'a'$"),
    # 2**62 int64 values: refused before NumPy is asked for 2**65 bytes
    (lambda: cl.arange(-2**61, 2**61), r"^arange: the range in bytes is 36893488147419103232, past the limit"),
], ids=[f"case{i}" for i in range(7)])  # plain ids: mutmut hands them to pytest
def test_refusals_name_the_function_and_argument(call, message):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=message):
        call()


def test_std_passes_unbiased_on():
    x = [1.0, 2.0, 4.0]  # mean 7/3; squares of deviations sum to 14/3: /3 -> 14/9, /2 -> 7/3
    assert cl.std(cl.tensor(x), unbiased=False).item() == pytest.approx((14 / 9) ** 0.5, rel=1e-6)
    assert cl.std(cl.tensor(x), unbiased=True).item() == pytest.approx((7 / 3) ** 0.5, rel=1e-6)
    assert torch.std(torch.tensor(x), unbiased=False).item() == pytest.approx((14 / 9) ** 0.5, rel=1e-6)


# ---- creation options
def test_likes_keep_the_dtype_and_their_names():
    x = cl.zeros(2, dtype=cl.float64)
    for like in (cl.zeros_like, cl.ones_like, cl.empty_like, cl.rand_like, cl.randn_like):
        assert like(x).dtype == np.float64 and like(x).shape == (2,)
        assert like.__name__ == getattr(torch, like.__name__).__name__
    assert cl.zeros_like(x, dtype=cl.float32).dtype == np.float32


def test_creation_keeps_requires_grad_and_dtype():
    assert cl.arange(0.0, 3.0, requires_grad=True).requires_grad
    assert cl.linspace(0, 1, 5, requires_grad=True).requires_grad
    assert cl.tensor(np.zeros(2, np.float32), dtype=cl.float64).dtype == np.float64


def test_new_tensors_take_the_source_dtype_and_a_tuple_size():
    x = cl.zeros(3, dtype=cl.float64)
    assert x.new_zeros((2, 3)).shape == (2, 3) and x.new_ones([2]).tolist() == [1.0, 1.0]
    assert x.new_zeros(2).dtype == np.float64 == x.new_ones(2).dtype
    assert torch.zeros(3, dtype=torch.float64).new_zeros(2).dtype == torch.float64


def test_uniform_draws_from_the_generator_given():
    a = cl.zeros(5).uniform_(-1, 1, generator=cl.Generator().manual_seed(7))
    b = cl.zeros(5).uniform_(-1, 1, generator=cl.Generator().manual_seed(7))
    cl.manual_seed(0)
    c = cl.zeros(5).uniform_(-1, 1)
    assert a.tolist() == b.tolist() != c.tolist()
    assert all(-1 <= v < 1 for v in a.tolist())


# ---- in-place forms
def test_augmented_assignment_writes_in_place_without_a_graph():
    x = cl.tensor([1.0, 2.0])
    alias = x
    x += cl.tensor([1.0, 1.0])
    x *= 2
    assert x is alias and alias.tolist() == [4.0, 6.0]
    with pytest.raises(RuntimeError, match=r"^\+=: result type float32 can't be cast to the desired output type int64$"):
        i = cl.tensor([1, 2])
        i += cl.tensor([0.5, 0.5])


def test_augmented_assignment_on_a_graph_tensor_rebinds_and_keeps_the_gradient():
    # torch: y = 2x; y += 1; d(sum y)/dx = 2
    x = cl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y += 1
    y.sum().backward()
    assert y.tolist() == [3.0, 5.0] and x.grad.tolist() == [2.0, 2.0]
    w = cl.tensor([3.0], requires_grad=True)
    z = cl.tensor([1.0])  # no grad of its own: z += w is z = z + w, recorded
    z += w
    z.sum().backward()
    assert z.tolist() == [4.0] and w.grad.tolist() == [1.0]


def test_in_place_methods_write_in_place_and_keep_torchs_names():
    x = cl.tensor([1.0, 2.0])
    assert x.add_(cl.tensor([1.0, 1.0]), alpha=2) is x and x.tolist() == [3.0, 4.0]
    assert x.mul_(2).tolist() == [6.0, 8.0] and x.sub_(1).tolist() == [5.0, 7.0]
    # a float64 operand writes into a float32 tensor (same kind), as torch
    assert x.add_(cl.tensor([0.5, 0.5], dtype=cl.float64)).dtype == np.float32 and x.tolist() == [5.5, 7.5]
    for name in ("add_", "sub_", "mul_", "div_"):
        assert getattr(x, name).__name__ == name == getattr(torch.zeros(1), name).__name__


def test_in_place_on_a_recorded_tensor_is_refused_with_the_reason():
    y = cl.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"^add_: in-place operations on a tensor inside a recorded graph are not "
                                           r"supported \(convlab records no in-place ops\); use the out-of-place "
                                           r"form, e.g\. x = x \+ y$"):
        y.add_(1)


def test_requires_grad_true_is_allowed_on_a_non_leaf():
    y = cl.tensor([1.0], requires_grad=True) * 2
    assert y.requires_grad_(True) is y and y.requires_grad
    with pytest.raises(RuntimeError, match=r"^requires_grad_\(False\) is only allowed on leaf tensors$"):
        y.requires_grad_(False)
    ty = torch.tensor([1.0], requires_grad=True) * 2
    assert ty.requires_grad_(True).requires_grad


def test_set_grad_enabled_true_enables_inside_no_grad():
    x = cl.tensor([1.0], requires_grad=True)
    with cl.no_grad(), cl.set_grad_enabled(True):
        assert cl.is_grad_enabled() and (x * 2).requires_grad
    with cl.set_grad_enabled(False):
        assert not (x * 2).requires_grad


def test_format_of_a_tensor_with_elements_is_its_str():
    x = cl.tensor([1.0, 2.0])
    assert f"{x}" == str(x) == "tensor([1., 2.])" == f"{torch.tensor([1.0, 2.0])}"


# ---- gradcheck
def test_gradcheck_skips_inputs_without_grad():
    a = cl.tensor([1.0, 2.0], dtype=cl.float64, requires_grad=True)
    b = cl.tensor([3.0, 4.0], dtype=cl.float64)
    assert gradcheck(lambda a, b: a * b, (a, b))


def test_gradcheck_catches_a_wrong_gradient_on_small_values():
    # x * x.detach() has gradient x where d(x^2)/dx is 2x: at x ~ 1e-3 the error 1e-3 is far past
    # atol 1e-5 + rtol 1e-4 * |2x| (~1.02e-5), however small the values
    x = cl.tensor([1e-3, 2e-3], dtype=cl.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: x * x.detach(), x)
    assert gradcheck(lambda x: x * x, x)


@pytest.mark.parametrize("data, kwargs", [
    ([1, 2], dict(min=0.5, max=1.5)), ([1, 5], dict(max=2.5)), ([1, 2], dict(min=0, max=1)),
    ([True, False], dict(min=0, max=1)), ([1.0, 2.0], dict(min=0, max=1)),
])
def test_clamp_promotes_as_torch(data, kwargs):
    # an integer tensor clamped by a float bound is float (never truncated back to integers)
    ours, theirs = cl.tensor(data).clamp(**kwargs), torch.tensor(data).clamp(**kwargs)
    assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    bound = torch.tensor([0.5, 0.5], dtype=torch.float64)
    if isinstance(data[0], int) and not isinstance(data[0], bool):
        o = cl.tensor(data).clamp(cl.tensor([0.5, 0.5], dtype=cl.float64))
        assert o.dtype == np.float64 and o.tolist() == torch.tensor(data).clamp(bound).tolist()


def test_clamp_in_place_refuses_a_float_result_in_an_integer_tensor():
    # torch: "result type Float can't be cast to the desired output type Long"
    with pytest.raises(RuntimeError, match=r"^clamp_: result type float32 can't be cast to the desired output type "
                                           r"int64$"):
        cl.tensor([1, 2]).clamp_(0.5, 1.5)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).clamp_(0.5, 1.5)
    assert cl.tensor([1, 5]).clamp_(0, 2).tolist() == [1, 2]
