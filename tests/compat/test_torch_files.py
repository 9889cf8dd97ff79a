"""convlab.load reads torch.save files (torch is the oracle that writes them) and refuses every
pickle that would run code, before running any of it."""

import collections
import os
import pickle
import zipfile

import numpy as np
import pytest

import convlab
from convlab.torchfile import UnsafeTorchFile
from helpers import require_torch

torch = require_torch()


def test_a_model_state_dict_round_trips_from_torch(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 3))
    net(torch.randn(2, 1, 8, 8))  # running stats move away from their defaults
    path = tmp_path / "model.pt"
    torch.save(net.state_dict(), path)
    ours = convlab.load(path, map_location="cpu", weights_only=True)
    theirs = net.state_dict()
    assert list(ours) == list(theirs)
    for k, v in theirs.items():
        assert ours[k].dtype == v.numpy().dtype, k
        np.testing.assert_array_equal(ours[k].numpy(), v.numpy(), err_msg=k)
    model = convlab.nn.Sequential(convlab.nn.Conv2d(1, 4, 3), convlab.nn.BatchNorm2d(4), convlab.nn.ReLU(),
                                  convlab.nn.Flatten(), convlab.nn.Linear(4 * 6 * 6, 3))
    model.load_state_dict(ours)
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    net.eval()
    model.eval()
    np.testing.assert_allclose(model(convlab.tensor(x)).detach().numpy(), net(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_views_dtypes_and_nesting(tmp_path):
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    obj = {
        "t": base.t(),  # a view with strides (1, 6) into a shared storage
        "row": base[2, 1:5],  # an offset into the same storage
        "half": torch.tensor([1.5, -2.25], dtype=torch.float16),
        "bf16": torch.tensor([1.0, 3.140625], dtype=torch.bfloat16),
        "long": torch.tensor([[1, -2]], dtype=torch.int64), "mask": torch.tensor([True, False]),
        "empty": torch.zeros(0, 3), "scalar": torch.tensor(7.0),
        "meta": {"epoch": 3, "lr": 0.01, "name": "run", "sizes": [1, (2, 3)], "flag": None},
        "ordered": collections.OrderedDict(a=torch.ones(2)),
    }
    path = tmp_path / "mixed.pt"
    torch.save(obj, path)
    got = convlab.load(path)
    np.testing.assert_array_equal(got["t"].numpy(), base.t().numpy())
    np.testing.assert_array_equal(got["row"].numpy(), [13.0, 14.0, 15.0, 16.0])
    np.testing.assert_array_equal(got["half"].numpy(), obj["half"].numpy())
    np.testing.assert_array_equal(got["bf16"].numpy(), obj["bf16"].float().numpy())
    assert got["long"].tolist() == [[1, -2]] and got["mask"].tolist() == [True, False]
    assert got["empty"].shape == (0, 3) and got["scalar"].shape == () and float(got["scalar"]) == 7.0
    assert got["meta"] == {"epoch": 3, "lr": 0.01, "name": "run", "sizes": [1, (2, 3)], "flag": None}
    assert got["ordered"]["a"].tolist() == [1.0, 1.0]


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evaluates:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


class _Custom:  # a plain object: NEWOBJ/BUILD of an arbitrary class
    def __init__(self):
        self.x = 1


@pytest.mark.parametrize("payload", ["system", "eval", "custom", "nested"])
def test_hostile_pickles_are_refused_before_anything_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    obj = {"system": lambda: {"w": torch.ones(2), "x": _RunsCode(marker)},
           "eval": lambda: [_Evaluates()],
           "custom": lambda: {"state": _Custom()},
           "nested": lambda: {"model": {"layer": [torch.zeros(1), {"deep": _RunsCode(marker)}]}}}[payload]()
    path = tmp_path / "hostile.pt"
    torch.save(obj, path)
    with pytest.raises(UnsafeTorchFile, match="refusing to load the global|unsupported pickle instruction"):
        convlab.load(path)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):  # torch's weights_only loader refuses the same files
        torch.load(path, weights_only=True)
    assert not marker.exists()


def test_a_handcrafted_pickle_with_a_global_in_the_archive_is_refused(tmp_path):
    torch.save({"w": torch.ones(1)}, tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as z:
        members = {n: z.read(n) for n in z.namelist()}
    pkl = next(n for n in members if n.endswith("data.pkl"))
    members[pkl] = b"\x80\x02cposix\nsystem\nX\x05\x00\x00\x00touchq\x00\x85R."  # os.system("touch")
    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as z:
        for n, body in members.items():
            z.writestr(n, body)
    with pytest.raises(UnsafeTorchFile, match="posix.system"):
        convlab.load(tmp_path / "evil.pt")


def test_truncated_and_foreign_files_say_what_they_are(tmp_path):
    torch.save({"w": torch.ones(3)}, tmp_path / "w.pt")
    data = (tmp_path / "w.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.pt"):
        convlab.load(tmp_path / "cut.pt")
    (tmp_path / "old.pt").write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.")  # the legacy magic number
    with pytest.raises(ValueError, match="before PyTorch 1.6"):
        convlab.load(tmp_path / "old.pt")
