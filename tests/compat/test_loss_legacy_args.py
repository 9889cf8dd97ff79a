"""torch's deprecated ``size_average``/``reduce`` loss arguments, still common in public programs
(yunjey's VAE: ``F.binary_cross_entropy(x_reconst, x, size_average=False)``): same reduction and
same values as torch, in float64 at rtol 1e-12, for the functions and the loss modules, with
torch's positional order (``weight, size_average, ignore_index, reduce, reduction``)."""

import warnings

import numpy as np
import pytest

import convlab
from helpers import require_torch

torch = require_torch()

LEGACY = [dict(size_average=False), dict(reduce=False), dict(size_average=True, reduce=True), dict()]
rng = np.random.default_rng(0)
P, Y = rng.uniform(0.05, 0.95, (4, 3)), (rng.uniform(size=(4, 3)) > 0.5) * 1.0
LOGITS, LABELS = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])

CASES = [
    ("binary_cross_entropy", lambda L: (L.tensor(P), L.tensor(Y))),
    ("binary_cross_entropy_with_logits", lambda L: (L.tensor(LOGITS), L.tensor(Y))),
    ("mse_loss", lambda L: (L.tensor(P), L.tensor(Y))),
    ("l1_loss", lambda L: (L.tensor(P), L.tensor(Y))),
    ("cross_entropy", lambda L: (L.tensor(LOGITS), L.tensor(LABELS))),
    ("nll_loss", lambda L: (L.tensor(LOGITS), L.tensor(LABELS))),
]
MODULES = {"binary_cross_entropy": "BCELoss", "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
           "mse_loss": "MSELoss", "l1_loss": "L1Loss", "cross_entropy": "CrossEntropyLoss", "nll_loss": "NLLLoss"}


@pytest.mark.parametrize("kw", LEGACY, ids=str)
@pytest.mark.parametrize("name,args", CASES, ids=[c[0] for c in CASES])
def test_legacy_reduction_arguments_match_torch(name, args, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = getattr(convlab.nn.functional, name)(*args(convlab), **kw)
        theirs = getattr(torch.nn.functional, name)(*args(torch), **kw)
        ours_m = getattr(convlab.nn, MODULES[name])(**kw)(*args(convlab))
        theirs_m = getattr(torch.nn, MODULES[name])(**kw)(*args(torch))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours_m.numpy(), theirs_m.numpy(), rtol=1e-12)


def test_cross_entropy_takes_torchs_positional_order():
    w = np.array([1.0, 2.0, 0.5])
    ours = convlab.nn.functional.cross_entropy(convlab.tensor(LOGITS), convlab.tensor(LABELS), convlab.tensor(w),
                                               None, 2, None, "sum")
    theirs = torch.nn.functional.cross_entropy(torch.tensor(LOGITS), torch.tensor(LABELS), torch.tensor(w),
                                               None, 2, None, "sum")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        convlab.nn.MSELoss(size_average=False)
