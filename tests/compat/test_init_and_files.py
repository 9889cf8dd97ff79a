"""``nn.init``'s structured initialisers and torch.save/torch.load's file-object and whole-model
forms, as the super-resolution and fast-neural-style examples use them."""

import io
import warnings

import numpy as np
import pytest

import convlab
from helpers import require_torch

torch = require_torch()


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 3, 3, 3), (3, 8, 2, 2)])
def test_orthogonal_gives_orthonormal_rows_or_columns_times_gain(shape):
    convlab.manual_seed(0)
    w = convlab.nn.init.orthogonal_(convlab.empty(*shape, dtype=convlab.float64), gain=2.0).numpy()
    flat = w.reshape(shape[0], -1)
    small = min(flat.shape)
    gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)  # gain**2 times the identity
    assert not np.allclose(w, convlab.nn.init.orthogonal_(convlab.empty(*shape, dtype=convlab.float64)).numpy())


@pytest.mark.parametrize("fn,shape,kw", [("eye_", (3, 5), {}), ("dirac_", (4, 2, 3, 3), {}),
                                         ("dirac_", (6, 2, 3), {"groups": 2}), ("dirac_", (2, 3, 1, 3, 3), {})])
def test_eye_and_dirac_match_torch(fn, shape, kw):
    ours = getattr(convlab.nn.init, fn)(convlab.empty(*shape), **kw)
    theirs = getattr(torch.nn.init, fn)(torch.empty(*shape), **kw)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_dirac_weight_makes_the_identity_convolution():
    conv = convlab.nn.Conv2d(3, 3, 3, padding=1, bias=False)
    convlab.nn.init.dirac_(conv.weight)
    x = convlab.randn(2, 3, 5, 5)
    np.testing.assert_allclose(conv(x).detach().numpy(), x.numpy(), atol=1e-7)


def test_sparse_zeroes_the_asked_fraction_of_each_column():
    convlab.manual_seed(1)
    w = convlab.nn.init.sparse_(convlab.empty(10, 4), sparsity=0.3).numpy()
    assert ((w == 0).sum(axis=0) == 3).all()


def test_old_init_names_warn_and_initialise_in_place():
    w = convlab.empty(3, 4)
    with pytest.warns(FutureWarning, match="xavier_uniform_"):
        out = convlab.nn.init.xavier_uniform(w)
    bound = np.sqrt(6 / 7)
    assert out is w and 0 < np.abs(w.numpy()).max() <= bound


def test_save_and_load_through_file_objects():
    net = convlab.nn.Linear(3, 2)
    buf = io.BytesIO()
    convlab.save(net.state_dict(), buf)
    buf.seek(0)
    sd = convlab.load(buf)
    np.testing.assert_array_equal(sd["weight"].numpy(), net.weight.detach().numpy())
    tbuf = io.BytesIO()  # and a torch.save file read from an open file object
    torch.save(torch.nn.Linear(3, 2).state_dict(), tbuf)
    tbuf.seek(0)
    assert convlab.load(tbuf)["weight"].shape == (2, 3)


def test_a_whole_model_loaded_back_says_how_to_restore_it(tmp_path):
    net = convlab.nn.Sequential(convlab.nn.Linear(3, 2))
    convlab.save(net, tmp_path / "m.pth")
    with convlab.serialization.safe_globals([convlab.nn.Sequential]):
        ckpt = convlab.load(tmp_path / "m.pth")
    with pytest.raises(TypeError, match=r"load_state_dict\(checkpoint\['model'\]\)"):
        ckpt(convlab.ones(1, 3))
    with pytest.raises(AttributeError, match="not a model"):
        ckpt.eval()
    fresh = convlab.nn.Sequential(convlab.nn.Linear(3, 2))
    fresh.load_state_dict(ckpt["model"])  # the route the message names works
    np.testing.assert_array_equal(fresh[0].weight.detach().numpy(), net[0].weight.detach().numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert convlab.serialization.get_safe_globals() == []
