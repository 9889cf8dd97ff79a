"""``print(x)`` reads as in torch (the tutorials print tensors): the same text once torch's module
name is replaced by convlab's, for floats in fixed, scientific and whole-number modes, ints,
bools, nan/inf, empty and summarized tensors, and the grad suffixes."""

import numpy as np
import pytest

import convlab
from helpers import require_torch

torch = require_torch()

rng = np.random.default_rng(0)
ARRAYS = [
    np.array([1.0, 2000.0]), np.array([0.0, 1.5]), np.array([0.0, 100.0, 0.001]), np.array([np.nan, 1.0]),
    np.array([0.0, 0.0]), np.array([1e9, 1.0]), np.array([-1.0, 2.0]), np.array([1.0, np.inf, -np.inf]),
    np.array(3.25), np.array(7.0), np.array([1, -20, 300]), np.array([[True, False]]), np.array(5),
    rng.standard_normal((3, 40)), rng.standard_normal((2, 3, 4)), np.arange(2000.0), rng.standard_normal((40, 40)),
    np.zeros((0, 3)), np.zeros(0), rng.integers(-5, 5, (1200,)),
]


CASES = [a.astype(dt) for a in ARRAYS if a.dtype.kind == "f" for dt in ("float32", "float64")]
CASES += [a for a in ARRAYS if a.dtype.kind != "f"]


@pytest.mark.parametrize("a", CASES, ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_tensor_prints_as_torch(a):
    ours, theirs = repr(convlab.tensor(a)), repr(torch.tensor(a)).replace("torch.", "convlab.")
    if "dtype=" in theirs:  # "convlab." is 2 characters longer than "torch.": the suffix may wrap elsewhere
        ours, theirs = " ".join(ours.split()), " ".join(theirs.split())
    assert ours == theirs


def test_grad_suffixes_as_torch():
    x, tx = convlab.tensor([2.5], requires_grad=True), torch.tensor([2.5], requires_grad=True)
    assert repr(x) == repr(tx)
    assert repr((x * 2).sum()) == repr((tx * 2).sum())  # tensor(5., grad_fn=<SumBackward0>)
    assert str(convlab.nn.Parameter(convlab.tensor([1.0, 2.0]))) == str(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
