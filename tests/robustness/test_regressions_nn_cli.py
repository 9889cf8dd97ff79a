"""Regression tests for bugs the hostile-input catalogue found in nn, optim, losses and the CLI."""

import numpy as np
import pytest

import convlab as cl
import convlab.functional as F
from convlab import nn
from convlab.cli import main


def test_losses_accept_python_list_targets():
    logits = cl.tensor(np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])))
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    assert abs(F.cross_entropy(logits, [0, 1]).item() - expected) < 1e-6
    assert abs(F.nll_loss(cl.log_softmax(logits, 1), [0, 1]).item() - expected) < 1e-6


def test_mse_and_linear_shape_errors_name_the_function():
    with pytest.raises(ValueError, match=r"mse_loss: target of shape \(3,\) cannot be broadcast to input of shape \(2, 4\)"):
        F.mse_loss(cl.ones(2, 4), cl.ones(3))
    with pytest.raises(ValueError, match=r"linear: bias has shape \(5,\) .* needs a bias of shape \(3,\)"):
        F.linear(cl.ones(2, 4), cl.ones(3, 4), cl.ones(5))


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_linear_features_are_validated(bad):
    with pytest.raises(ValueError, match=f"Linear: in_features must be a non-negative integer, got {bad!r}"):
        nn.Linear(bad, 3)


def test_load_state_dict_refuses_complex_arrays():
    layer = nn.Linear(2, 1)
    sd = {"weight": np.ones((1, 2), complex), "bias": np.zeros(1)}
    with pytest.raises(RuntimeError, match="unsupported dtype complex128 for weight"):
        layer.load_state_dict(sd)


@pytest.mark.parametrize("opt", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_non_numeric_learning_rate_is_refused(opt):
    with pytest.raises(ValueError, match="(Invalid learning rate: 'a'|argument 'lr' must be a real number, got 'a')"):
        getattr(cl.optim, opt)([nn.Parameter(cl.ones(2))], lr="a")


def test_argparse_errors_are_one_line(capsys):
    assert main(["demo", "--no-such-flag"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments: --no-such-flag" in err[0]
