"""torch's legacy constructors, common in older programs and custom layers:
``nn.Parameter(torch.Tensor(out, in))``, ``torch.Tensor([1, 2])`` (float), ``torch.FloatTensor(x)``,
``torch.LongTensor(labels)``, ``isinstance(x, torch.FloatTensor)`` and ``x.type(torch.LongTensor)``;
shapes and dtypes as torch's, values as torch's where torch defines them."""

import numpy as np
import pytest

import convlab
from helpers import require_torch

torch = require_torch()

ARGS = [(2, 3), (5,), ([1, 2],), ((2, 3),), ([[1.5, 2.0]],), (np.array([1, 2]),), (np.arange(3.0),), ()]


@pytest.mark.parametrize("args", ARGS, ids=str)
def test_tensor_class_called_as_torch(args):
    ours, theirs = convlab.Tensor(*args), torch.Tensor(*args)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    if args and not all(isinstance(a, int) for a in args):  # torch leaves sized tensors uninitialised
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_size_argument_and_parameter_of_a_legacy_tensor():
    assert convlab.Tensor(convlab.Size([2, 4])).shape == (2, 4)
    p = convlab.nn.Parameter(convlab.Tensor(3, 4))
    assert p.shape == (3, 4) and p.requires_grad and p.dtype == np.float32


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ByteTensor", "BoolTensor"])
def test_typed_classes_build_check_and_cast_as_torch(name):
    data = [[1, 0], [3, 2]]
    ours, theirs = getattr(convlab, name)(data), getattr(torch, name)(data)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    assert getattr(convlab, name)(2, 3).shape == (2, 3) and getattr(convlab, name)().shape == (0,)
    assert isinstance(ours, getattr(convlab, name)) and isinstance(theirs, getattr(torch, name))
    other = "LongTensor" if name != "LongTensor" else "FloatTensor"
    assert not isinstance(ours, getattr(convlab, other)) and not isinstance(theirs, getattr(torch, other))
    assert ours.type() == theirs.type().replace("torch.", "convlab.")
    cast = convlab.tensor([1.7, -2.2]).type(getattr(convlab, name))
    np.testing.assert_array_equal(cast.numpy(), torch.tensor([1.7, -2.2]).type(getattr(torch, name)).numpy())


def test_cuda_typed_classes_say_by_name_there_is_no_gpu():
    if convlab.cuda.is_available():
        pytest.skip("a GPU is usable here")
    with pytest.raises(RuntimeError, match="convlab.cuda.FloatTensor: no CUDA device"):
        convlab.cuda.FloatTensor(2, 3)
    assert not isinstance(convlab.zeros(2), convlab.cuda.FloatTensor)
