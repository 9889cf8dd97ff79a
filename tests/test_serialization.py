"""convlab.save / convlab.load: safetensors files, nested training state, atomic writes, clear errors."""

import json
import math
import os
import struct

import numpy as np
import pytest

import convlab
from convlab import files, serialization
from helpers import require_torch


def _raw(header: dict, body: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def _write(tmp_path, data: bytes, name="f.safetensors"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


# --------------------------------------------------------------------------- round trips
def test_flat_state_dict_keeps_names_dtypes_and_values(tmp_path):
    sd = {
        "conv1.weight": convlab.randn(4, 3, 3, 3),
        "bn1.running_mean": convlab.tensor(np.arange(4, dtype=np.float64)),
        "bn1.num_batches_tracked": convlab.tensor(np.array(7, dtype=np.int64)),
        "mask": convlab.tensor(np.array([True, False])),
        "half": convlab.tensor(np.ones((2, 2), np.float16)),
        "bytes": convlab.tensor(np.arange(5, dtype=np.uint8)),
        "empty": convlab.zeros(0, 3),
    }
    path = tmp_path / "sd.safetensors"
    convlab.save(sd, path)
    out = convlab.load(path)
    assert list(out) == list(sd)
    for k, v in sd.items():
        assert isinstance(out[k], convlab.Tensor)
        assert out[k].dtype == v.dtype and out[k].shape == v.shape
        np.testing.assert_array_equal(out[k].numpy(), v.numpy())
    # the tensors are stored under the state dict's own names, nothing else
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        assert set(f.keys()) == set(sd)
        assert f.metadata()["convlab.format"] == serialization.FORMAT_VERSION


def test_loaded_tensors_are_writable_and_detached(tmp_path):
    w = convlab.randn(3, requires_grad=True)
    convlab.save({"w": w}, tmp_path / "a")
    out = convlab.load(tmp_path / "a")["w"]
    assert not out.requires_grad
    out.data += 1  # load_state_dict and optimizers write in place
    np.testing.assert_allclose(out.numpy(), w.detach().numpy() + 1)


def test_nested_training_state_round_trip(tmp_path):
    convlab.manual_seed(123)
    state = {
        "model": {"fc.weight": convlab.randn(2, 3), "fc.bias": convlab.zeros(2)},
        "optimizer": {
            "state": {0: {"momentum_buffer": convlab.ones(2, 3), "step": 5}, 1: {"momentum_buffer": None}},
            "param_groups": [{"lr": 0.1, "momentum": 0.9, "nesterov": False, "params": [0, 1], "betas": (0.9, 0.999)}],
        },
        "scheduler": {"last_epoch": 4, "base_lrs": [0.1], "best": float("inf"), "worst": float("-inf"), "nan": math.nan},
        "epoch": 7,
        "rng": convlab.get_rng_state(),  # 128-bit integers
        "numpy_rng": np.random.default_rng(5).bit_generator.state,
        "history": [1.5, 2, "text", None, True, np.arange(3)],
        "np_scalar": np.float32(0.25),
        "tricky": {"__tensor__": "not a reference"},
        (1, "a"): "tuple key",
        None: "none key",
    }
    path = tmp_path / "ckpt.safetensors"
    convlab.save(state, path)
    out = convlab.load(path)
    assert out["epoch"] == 7 and out["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(out["optimizer"]["state"]) == {0, 1}
    assert out["optimizer"]["state"][0]["step"] == 5 and out["optimizer"]["state"][1]["momentum_buffer"] is None
    np.testing.assert_array_equal(out["optimizer"]["state"][0]["momentum_buffer"].numpy(), np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(out["model"]["fc.weight"].numpy(), state["model"]["fc.weight"].numpy())
    sch = out["scheduler"]
    assert sch["best"] == math.inf and sch["worst"] == -math.inf and math.isnan(sch["nan"])
    assert out["rng"] == state["rng"] and out["numpy_rng"] == state["numpy_rng"]
    assert out["history"][:5] == [1.5, 2, "text", None, True]
    assert isinstance(out["history"][0], float) and isinstance(out["history"][1], int)
    assert isinstance(out["history"][5], np.ndarray) and out["history"][5].tolist() == [0, 1, 2]
    assert isinstance(out["np_scalar"], np.float32) and out["np_scalar"] == np.float32(0.25)
    assert out["tricky"] == {"__tensor__": "not a reference"}
    assert out[(1, "a")] == "tuple key" and out[None] == "none key"
    # restoring the RNG state continues the same stream
    convlab.set_rng_state(out["rng"])
    a = convlab.randn(3).numpy()
    convlab.set_rng_state(state["rng"])
    np.testing.assert_array_equal(a, convlab.randn(3).numpy())


def test_colliding_dotted_paths_get_distinct_tensor_names(tmp_path):
    obj = {"a.b": convlab.ones(1), "a": {"b": convlab.zeros(1)}}
    convlab.save(obj, tmp_path / "c")
    out = convlab.load(tmp_path / "c")
    assert out["a.b"].tolist() == [1.0] and out["a"]["b"].tolist() == [0.0]


def test_bare_tensor_and_scalars(tmp_path):
    convlab.save(convlab.arange(3), tmp_path / "t")
    assert convlab.load(tmp_path / "t").tolist() == [0, 1, 2]
    convlab.save(42, tmp_path / "i")
    assert convlab.load(tmp_path / "i") == 42


def test_unsupported_leaf_names_its_path(tmp_path):
    with pytest.raises(TypeError, match=r"set at obj\['opt'\]\['x'\]"):
        convlab.save({"opt": {"x": {1, 2}}}, tmp_path / "x")
    with pytest.raises(TypeError, match="dtype"):
        convlab.save({"s": np.array(["a"])}, tmp_path / "x")
    assert not os.path.exists(tmp_path / "x")


# --------------------------------------------------------------------------- torch interop
def test_torch_reads_our_state_dict(tmp_path):
    torch = require_torch()
    import safetensors.torch

    sd = {"layer.weight": convlab.randn(3, 2), "layer.bias": convlab.randn(3), "steps": convlab.tensor(np.array(3))}
    convlab.save(sd, tmp_path / "sd.safetensors")
    t = safetensors.torch.load_file(str(tmp_path / "sd.safetensors"))
    assert set(t) == set(sd)
    for k, v in sd.items():
        assert isinstance(t[k], torch.Tensor)
        np.testing.assert_array_equal(t[k].numpy(), v.numpy())


def test_we_read_torch_state_dict(tmp_path):
    torch = require_torch()
    import safetensors.torch

    lin = torch.nn.Linear(4, 2)
    bn = torch.nn.BatchNorm2d(3)
    sd = {**{f"fc.{k}": v for k, v in lin.state_dict().items()}, **{f"bn.{k}": v for k, v in bn.state_dict().items()}}
    safetensors.torch.save_file(sd, str(tmp_path / "torch.safetensors"))
    out = convlab.load(tmp_path / "torch.safetensors")
    assert set(out) == set(sd)
    for k, v in sd.items():
        assert isinstance(out[k], convlab.Tensor)
        assert out[k].dtype == v.numpy().dtype
        np.testing.assert_array_equal(out[k].numpy(), v.numpy())


def test_torch_bfloat16_is_a_clear_error(tmp_path):
    torch = require_torch()
    import safetensors.torch

    safetensors.torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(tmp_path / "bf16"))
    with pytest.raises(ValueError, match="BF16.*float32"):
        convlab.load(tmp_path / "bf16")


def test_a_torch_save_file_loads_without_unpickling(tmp_path):
    """torch.save's zip is read by convlab.torchfile's allowlisting reader (tests/compat/test_torch_files.py)."""
    torch = require_torch()
    torch.save({"w": torch.ones(2)}, str(tmp_path / "model.pt"))
    assert convlab.load(tmp_path / "model.pt")["w"].tolist() == [1.0, 1.0]


# --------------------------------------------------------------------------- corrupted files
GOOD_ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "too short"),
        (b"\x01\x02\x03", "too short"),
        (struct.pack("<Q", 1 << 40) + b"{}", "header length"),
        (struct.pack("<Q", 500) + b'{"a":', "truncated: the header needs 500 bytes"),
        (struct.pack("<Q", 5) + b"{nope", "not valid JSON"),
        (_raw([1, 2]), "expected an object"),
        (_raw({"w": GOOD_ENTRY}, b"\x00" * 5), "truncated: tensor 'w' ends at byte 8"),
        (_raw({"w": GOOD_ENTRY}, b"\x00" * 12), "trailing garbage"),
        (_raw({"w": {**GOOD_ENTRY, "dtype": "F33"}}, b"\x00" * 8), "unknown dtype 'F33'"),
        (_raw({"w": {**GOOD_ENTRY, "shape": [3]}}, b"\x00" * 8), "needs 12 bytes but data_offsets span 8"),
        (_raw({"w": {**GOOD_ENTRY, "shape": ["2"]}}, b"\x00" * 8), "shape must be a list"),
        (_raw({"w": {**GOOD_ENTRY, "data_offsets": [8, 0]}}, b"\x00" * 8), "data_offsets must be"),
        (_raw({"w": {"dtype": "F32"}}, b""), "expected an entry with dtype, shape and data_offsets"),
        (_raw({"__metadata__": {"a": 1}, "w": GOOD_ENTRY}, b"\x00" * 8), "__metadata__ must map strings"),
        (_raw({"__metadata__": {"convlab.tree": "{bad"}, "w": GOOD_ENTRY}, b"\x00" * 8), "structure.*not valid JSON"),
        (_raw({"__metadata__": {"convlab.tree": '{"x": {"__tensor__": "v"}}'}, "w": GOOD_ENTRY}, b"\x00" * 8),
         r"obj\['x'\].*'v', which is not a tensor"),
        (_raw({"__metadata__": {"convlab.tree": '{"x": {"__tensor__": 3}}'}}), "refers to 3"),
        (_raw({"__metadata__": {"convlab.tree": '{"x": {"__float__": "1e9"}}'}}), "__float__ must be"),
        (_raw({"__metadata__": {"convlab.tree": '{"__dict__": [[1]]}'}}), r"\[key, value\] pairs"),
        (_raw({"__metadata__": {"convlab.tree": '{"__dict__": [[[1], 2]]}'}}), "not hashable"),
        (_raw({"__metadata__": {"convlab.tree": '{"__tuple__": 5}'}}), "must hold a list"),
    ],
)
def test_corrupted_files_raise_value_error_naming_path(tmp_path, data, message):
    p = _write(tmp_path, data, "broken.ckpt")
    with pytest.raises(ValueError, match=message) as info:
        convlab.load(p)
    assert str(p) in str(info.value)


def test_truncating_a_real_checkpoint_anywhere_is_a_value_error(tmp_path):
    convlab.save({"model": {"w": convlab.randn(4, 4)}, "epoch": 1}, tmp_path / "full")
    data = (tmp_path / "full").read_bytes()
    for cut in (0, 7, 8, 20, len(data) // 2, len(data) - 1):
        p = _write(tmp_path, data[:cut], f"cut{cut}")
        with pytest.raises(ValueError, match=f"cut{cut}"):
            convlab.load(p)


def test_flipped_header_byte_is_a_value_error(tmp_path):
    convlab.save({"w": convlab.ones(3)}, tmp_path / "ok")
    data = bytearray((tmp_path / "ok").read_bytes())
    data[9] = ord("}")  # breaks the JSON header
    with pytest.raises(ValueError, match="not valid JSON"):
        convlab.load(_write(tmp_path, bytes(data)))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        convlab.load(tmp_path / "nope")


# --------------------------------------------------------------------------- atomic writes
def _previous(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    convlab.save({"w": convlab.ones(1000), "epoch": 1}, path)
    return path, path.read_bytes()


def _assert_intact(tmp_path, path, before):
    assert path.read_bytes() == before
    assert convlab.load(path)["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"], "temporary file left behind"


def test_failure_mid_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path, before = _previous(tmp_path)

    def half_then_fail(f, data):
        f.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_write_chunks", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        convlab.save({"w": convlab.zeros(5000), "epoch": 2}, path)
    _assert_intact(tmp_path, path, before)


def test_interrupt_before_rename_leaves_previous_file_intact(tmp_path, monkeypatch):
    path, before = _previous(tmp_path)

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convlab.save({"w": convlab.zeros(5000), "epoch": 2}, path)
    monkeypatch.undo()
    _assert_intact(tmp_path, path, before)


def test_failed_rename_leaves_previous_file_intact(tmp_path, monkeypatch):
    path, before = _previous(tmp_path)

    def no_replace(src, dst):
        raise PermissionError("rename refused")

    monkeypatch.setattr(serialization.os, "replace", no_replace)
    with pytest.raises(PermissionError):
        convlab.save({"w": convlab.zeros(5000), "epoch": 2}, path)
    monkeypatch.undo()
    _assert_intact(tmp_path, path, before)


def test_successful_save_replaces_and_uses_normal_permissions(tmp_path):
    path, _ = _previous(tmp_path)
    convlab.save({"epoch": 2}, path)
    assert convlab.load(path) == {"epoch": 2}
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]
    umask = os.umask(0)
    os.umask(umask)
    new = tmp_path / "new"
    convlab.save({}, new)
    assert os.stat(new).st_mode & 0o777 == 0o666 & ~umask
    assert convlab.load(new) == {}
