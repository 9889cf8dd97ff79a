"""The Tensor protocol torch programs rely on, each compared with torch's answer."""

import numpy as np
import pytest

import convlab
from helpers import require_torch

torch = require_torch()


def test_a_one_element_integer_tensor_is_an_index():
    classes = ["a", "b", "c", "d"]
    for value in (0, 3, -1):
        assert classes[convlab.tensor(value)] == classes[torch.tensor(value)]
    assert list(range(convlab.tensor(3))) == [0, 1, 2]
    assert classes[convlab.argmax(convlab.tensor([0.1, 0.7, 0.2]))] == "b"  # argmax is int64, 0-d
    for bad in (convlab.tensor(1.0), convlab.tensor([1, 2])):
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            classes[bad]
        with pytest.raises(TypeError):
            classes[torch.tensor(bad.tolist())]


def test_format_spec_formats_a_zero_dim_tensor_like_its_value():
    for value in (0.123456, 2.0, -7.5):
        for spec in (".4f", "8.2f", ".3e", ""):
            assert f"{convlab.tensor(value):{spec}}" == f"{torch.tensor(value):{spec}}"
    assert f"{convlab.tensor(7):>4d}" == f"{torch.tensor(7):>4d}" == "   7"
    with pytest.raises(TypeError):
        f"{convlab.tensor([1.0, 2.0]):.2f}"
    with pytest.raises(TypeError):
        f"{torch.tensor([1.0, 2.0]):.2f}"


def test_size_is_a_tuple_subclass_with_numel_and_torch_repr():
    x, tx = convlab.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert isinstance(x.size(), tuple) and isinstance(x.shape, convlab.Size)
    assert x.size() == tuple(tx.size()) and x.size(1) == tx.size(1) and x.size(-1) == tx.size(-1)
    assert x.shape.numel() == tx.shape.numel() == 24
    assert repr(x.shape) == repr(tx.shape).replace("torch", "convlab")
    assert isinstance(x.shape[1:], convlab.Size) and x.shape[1:] == (3, 4)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(3)


def test_type_t_view_as_and_dtype_shorthands():
    a = np.array([[1.5, -2.0], [3.25, 4.0]], np.float32)
    x, tx = convlab.tensor(a), torch.tensor(a)
    assert x.type() == "convlab.FloatTensor" and tx.type() == "torch.FloatTensor"
    assert x.type(convlab.long).tolist() == tx.type(torch.long).tolist()
    assert x.type("torch.DoubleTensor").dtype == np.float64
    np.testing.assert_array_equal(x.t().numpy(), tx.t().numpy())
    assert x.view_as(convlab.zeros(4)).shape == tx.view_as(torch.zeros(4)).shape
    for name in ("float", "double", "half", "long", "int", "bool", "short", "byte"):
        ours, theirs = getattr(x, name)(), getattr(tx, name)()
        assert ours.dtype.itemsize == theirs.element_size(), name
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)
    assert x.is_cuda is False and x.device == "cpu" and x.device.type == "cpu"


def test_dtype_aliases_are_torchs():
    pairs = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
             "short": "int16", "bool": "bool"}
    for alias, name in pairs.items():
        assert np.dtype(getattr(convlab, alias)) == np.dtype(name)
        assert str(getattr(torch, alias)) == f"torch.{name}"
    assert convlab.zeros(2, dtype=convlab.long).dtype == np.int64
    assert convlab.tensor([1, 2]).dtype == convlab.long  # ints default to int64 as in torch


def test_data_is_a_tensor_sharing_storage():
    w = convlab.nn.Linear(3, 2).weight
    d = w.data
    assert isinstance(d, convlab.Tensor) and not d.requires_grad and d.grad_fn is None
    d.fill_(0.5)  # writes through into the parameter
    assert w.detach().numpy().tolist() == [[0.5] * 3] * 2
    w.data[0, 1] = 2.0
    assert float(w[0, 1]) == 2.0
    w.data = convlab.ones(2, 3)  # swaps the array, keeps the parameter
    assert w.requires_grad and w.detach().numpy().sum() == 6


def test_in_place_init_idioms_match_torch():
    convlab.manual_seed(0)
    x = convlab.zeros(1000)
    x.data.normal_(0.0, 0.02)
    assert abs(float(x.mean())) < 0.003 and abs(float(x.std()) - 0.02) < 0.002
    x.data.uniform_(-1, 1)
    assert float(x.min()) >= -1 and float(x.max()) < 1 and float(x.std()) > 0.5
    a, ta = convlab.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0])
    a.mul_(2).add_(1).sub_(convlab.tensor([1.0, 1.0, 1.0])).div_(4).clamp_(0.6, 1.4)
    ta.mul_(2).add_(1).sub_(torch.tensor([1.0, 1.0, 1.0])).div_(4).clamp_(0.6, 1.4)
    np.testing.assert_allclose(a.numpy(), ta.numpy(), rtol=1e-7)
    a.add_(convlab.tensor([1.0, 1.0, 1.0]), alpha=2)
    ta.add_(torch.tensor([1.0, 1.0, 1.0]), alpha=2)
    np.testing.assert_allclose(a.numpy(), ta.numpy(), rtol=1e-7)
    assert a.zero_().tolist() == [0.0, 0.0, 0.0]
    assert a.copy_(convlab.tensor([1, 2, 3])).tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="can't be cast"):
        convlab.tensor([1, 2]).add_(0.5)  # torch: result type Float can't be cast to Long


def test_manual_sgd_with_augmented_assignment_under_no_grad():
    """d2l's from-scratch SGD: ``param -= lr * param.grad`` inside no_grad() updates the parameter."""
    w, tw = convlab.tensor([1.0, -2.0], requires_grad=True), torch.tensor([1.0, -2.0], requires_grad=True)
    for p, lib in ((w, convlab), (tw, torch)):
        for _ in range(3):
            (p * p).sum().backward()
            with lib.no_grad():
                p -= 0.1 * p.grad
                p.grad.zero_()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-6)
    assert w.is_leaf and w.requires_grad
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1  # outside no_grad, as in torch


def test_grad_fn_and_next_functions_walk_the_graph():
    x = convlab.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    assert x.grad_fn is None and y.grad_fn.name().endswith("Backward0")
    ((mul, _),) = y.grad_fn.next_functions
    assert mul.name() == "MulBackward0"
    kinds = [None if f is None else f.name() for f, _ in mul.next_functions]
    assert kinds == ["AccumulateGrad", None]  # x, then the constant 3
    assert mul.next_functions[0][0].variable is x


def test_device_objects():
    d = convlab.device("cuda" if convlab.cuda.is_available() else "cpu")
    assert str(d) == str(torch.device(str(d))) and d.index is None
    c = convlab.device("cuda", 1)
    assert repr(c) == repr(torch.device("cuda", 1)) and c.type == "cuda" and c.index == 1
    assert repr(convlab.device("cpu")) == repr(torch.device("cpu"))
    x = convlab.ones(2).to(convlab.device("cpu"))
    assert x.device == convlab.device("cpu") and x.to("cpu", convlab.float64).dtype == np.float64
    assert x.to(convlab.zeros(1, dtype=convlab.float64)).dtype == np.float64
    assert x.to(device="cpu", non_blocking=True) is x
    with pytest.raises(RuntimeError, match="Expected one of cpu"):
        convlab.device("gpu")


def test_the_cpu_answers_truthfully():
    assert convlab.cuda.is_available() is False or convlab.cuda.device_count() > 0
    assert convlab.backends.cudnn.is_available() is False and convlab.backends.mps.is_available() is False
    assert convlab.accelerator.is_available() == convlab.cuda.is_available()
    convlab.backends.cudnn.benchmark = True  # accepted, changes nothing
    convlab.backends.cudnn.deterministic = True
    convlab.cuda.manual_seed(0)
    convlab.cuda.manual_seed_all(0)


def test_creation_functions_take_torchs_arguments():
    convlab.manual_seed(3)
    a = convlab.rand(size=(2, 3))
    assert a.shape == (2, 3) and float(a.min()) >= 0 and float(a.max()) < 1
    assert convlab.zeros(size=(2,)).shape == (2,) and convlab.randn((4, 5)).shape == (4, 5)
    n = convlab.normal(2.0, 3.0, size=(20000,))
    assert abs(float(n.mean()) - 2.0) < 0.1 and abs(float(n.std()) - 3.0) < 0.1
    m = convlab.normal(convlab.tensor([0.0, 100.0]), convlab.tensor([1e-6, 1e-6]))
    np.testing.assert_allclose(m.numpy(), [0.0, 100.0], atol=1e-3)
    assert sorted(convlab.randperm(6).tolist()) == list(range(6))
    np.testing.assert_allclose(convlab.linspace(0, 1, 5).numpy(), torch.linspace(0, 1, 5).numpy())
    np.testing.assert_array_equal(convlab.eye(2, 3).numpy(), torch.eye(2, 3).numpy())
    assert convlab.empty(2, 2).shape == (2, 2) and convlab.randint(5, (3,)).shape == (3,)
    assert convlab.zeros(3, pin_memory=True).shape == (3,)
    assert convlab.is_tensor(a) and convlab.numel(a) == 6
    with pytest.raises(TypeError, match="unexpected keyword"):
        convlab.zeros(2, colour="red")


def test_argmax_takes_axis_as_torch_does():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], np.float32)
    for axis in (0, 1):
        assert convlab.argmax(convlab.tensor(a), axis=axis).tolist() == torch.argmax(torch.tensor(a), axis=axis).tolist()
        assert convlab.tensor(a).argmax(axis=axis).tolist() == torch.tensor(a).argmax(axis=axis).tolist()
        assert convlab.tensor(a).sum(axis=axis).tolist() == torch.tensor(a).sum(axis=axis).tolist()


def test_grad_mode_switches():
    x = convlab.ones(2, requires_grad=True)
    with convlab.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    with convlab.inference_mode():
        assert not (x * 2).requires_grad
    convlab.set_grad_enabled(False)
    try:
        assert not convlab.is_grad_enabled()
    finally:
        convlab.set_grad_enabled(True)
