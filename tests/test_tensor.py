"""Tensor construction, dtypes, the backward pass and grad mode."""

import numpy as np
import pytest

import convlab as cl


def test_default_dtypes_follow_torch():
    assert cl.tensor([1.0, 2.0]).dtype == np.float32
    assert cl.tensor([1, 2]).dtype == np.int64
    assert cl.tensor([True, False]).dtype == np.bool_
    assert cl.tensor(np.zeros(3)).dtype == np.float64  # an array keeps its dtype
    assert cl.zeros(2, 3).dtype == np.float32 and cl.zeros(2, 3).shape == (2, 3)
    assert cl.arange(5).dtype == np.int64 and cl.arange(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object), ["x", "y"]])
def test_unsupported_dtypes_raise_type_error(bad):
    with pytest.raises(TypeError, match="tensor"):
        cl.tensor(bad)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients, got dtype int64"):
        cl.tensor([1, 2], requires_grad=True)


def test_tensor_copies_and_never_narrows():
    a = np.arange(3.0)
    t = cl.tensor(a)
    a[0] = 99
    assert t.tolist() == [0.0, 1.0, 2.0]
    assert cl.tensor(np.array([2**40], dtype=np.int64)).item() == 2**40


def test_properties():
    t = cl.randn(2, 3, 4)
    assert (t.shape, t.ndim, t.numel(), t.size(1), t.T.shape) == ((2, 3, 4), 3, 24, 3, (4, 3, 2))
    assert cl.tensor(3.5).item() == 3.5
    with pytest.raises(ValueError, match="only one-element tensors"):
        t.item()


def test_backward_scalar_and_nonscalar():
    x = cl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    y = cl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (y * 2).backward()
    (y * 3).backward(cl.tensor([1.0, 10.0]))
    assert y.grad.tolist() == [3.0, 30.0]


def test_gradients_accumulate_for_reused_tensors():
    # y = x*x + x*x*x at x=2: dy/dx = 2x + 3x^2 = 16
    x = cl.tensor(2.0, requires_grad=True)
    y = x * x + x * x * x
    y.backward()
    assert x.grad.item() == 16.0
    (x * 5).backward()  # .grad accumulates across calls, like torch
    assert x.grad.item() == 21.0


def test_deep_chain_has_no_recursion_limit():
    x = cl.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(1500):  # a 1,500-layer chain: one add and one mul per layer
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert x.grad.tolist() == [1.0]


def test_graph_is_freed_unless_retained():
    x = cl.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_no_grad_context_and_decorator():
    x = cl.tensor([1.0], requires_grad=True)
    with cl.no_grad():
        assert not (x * 2).requires_grad

    @cl.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert (x * 2).requires_grad and cl.is_grad_enabled()


def test_detach_and_leaf_retain_grad():
    x = cl.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 2).retain_grad()
    d = h.detach()
    assert not d.requires_grad and d.is_leaf
    (h * h).sum().backward()
    assert h.grad.tolist() == [4.0, 8.0] and x.grad.tolist() == [8.0, 16.0]


def test_backward_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cl.ones(1).sum().backward()


def test_manual_seed_drives_randomness():
    cl.manual_seed(3)
    a = cl.randn(4).tolist()
    cl.manual_seed(3)
    assert cl.randn(4).tolist() == a
    assert cl.rand(2, 2).dtype == np.float32
    with pytest.raises(ValueError, match="non-negative integer"):
        cl.manual_seed(-1)


def test_using_generator_swaps_the_library_generator_for_a_block():
    from convlab.tensor import using_generator

    cl.manual_seed(5)
    expected_outside = cl.randn(3).tolist()
    cl.manual_seed(5)
    library = cl.default_generator()
    with using_generator(np.random.default_rng(11)) as gen:
        assert cl.default_generator() is gen
        inside = cl.randn(3).numpy()
    np.testing.assert_array_equal(inside, np.random.default_rng(11).standard_normal(3).astype(np.float32))
    assert cl.randn(3).tolist() == expected_outside  # the library generator was not advanced by the block
    with pytest.raises(KeyError), using_generator(np.random.default_rng(0)):
        raise KeyError("restored on error too")
    assert cl.default_generator() is library


def test_float64_flows_through_everything():
    x = cl.randn(3, 3, dtype=cl.float64, requires_grad=True)
    y = cl.log_softmax(cl.tanh(x @ x) * 2.0 + 1.0, 1).mean()
    y.backward()
    assert y.dtype == np.float64 and x.grad.dtype == np.float64


def test_gradcheck_reports_the_worst_element():
    class Wrong(cl.Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 a g

    x = cl.tensor(np.array([1.0, 3.0]), requires_grad=True)
    with pytest.raises(cl.GradcheckError, match=r"element \(1,\): analytic .* vs numeric"):
        cl.gradcheck(Wrong.apply, [x])
    with pytest.raises(TypeError, match="use float64"):
        cl.gradcheck(lambda t: t * 2, [cl.ones(2, requires_grad=True)])


def test_graph_does_not_keep_intermediate_arrays_alive():
    """Nodes hold the node that made a non-leaf input, not its array (torch's memory behaviour)."""
    import gc
    import weakref

    x = cl.tensor(np.ones((4, 5)), requires_grad=True)
    y = x * 2.0
    z = (y + 1.0).sum()
    ref = weakref.ref(y._data)
    del y
    gc.collect()
    assert ref() is None  # neither (y + 1) nor sum saved y, so only the graph could have kept it
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((4, 5), 2.0))


def test_retain_grad_on_an_intermediate_still_works():
    x = cl.tensor(np.arange(3.0), requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * 3.0 * np.arange(3.0))
    np.testing.assert_allclose(x.grad.numpy(), 18.0 * np.arange(3.0))
