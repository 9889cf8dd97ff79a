"""``convlab export CKPT -o model.onnx``: the file, its metadata, and the CLI convention."""

import json
import os

import numpy as np
import pytest

import convlab
from convlab.cli import main
from helpers import require


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    assert main(["train", "--dataset", "lines", "--epochs", "1", "--batch-size", "64", "--limit-train", "128",
                 "--limit-test", "64", "--out", str(out), "-q"]) == 0
    return out


def test_export_runs_in_onnxruntime_with_the_preprocessing(trained, tmp_path, capsys):
    ort = require("onnxruntime")
    require("onnx")
    target = tmp_path / "model.onnx"
    assert main(["export", str(trained / "last.safetensors"), "-o", str(target)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {target}: compactcnn (" in printed and "opset 17" in printed and "preprocessing (in the metadata" in printed
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    ckpt = convlab.load(trained / "last.safetensors")
    assert json.loads(props["convlab.preprocessing"]) == ckpt["meta"]["preprocessing"]
    assert json.loads(props["convlab.classes"]) == ["vertical", "horizontal"]
    c, h, w = json.loads(props["convlab.input_shape"])
    from convlab.train import model_from_checkpoint

    model = model_from_checkpoint(ckpt)
    x = np.random.default_rng(0).random((7, c, h, w), dtype=np.float32)
    with convlab.no_grad():
        ref = model(convlab.tensor(x)).numpy()
    np.testing.assert_allclose(session.run(None, {"input": x})[0], ref, rtol=0, atol=1e-4)


def test_no_silent_overwrite_and_run_folders(trained, tmp_path, monkeypatch, capsys):
    require("onnx")
    target = tmp_path / "m.onnx"
    target.write_bytes(b"keep")
    assert main(["export", str(trained), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and target.read_bytes() == b"keep"
    assert main(["export", str(trained), "-o", str(target), "--force", "-q"]) == 0  # the run folder: its last checkpoint
    assert capsys.readouterr().out == f"{target}\n" and target.read_bytes()[:4] != b"keep"
    assert not [f for f in os.listdir(tmp_path) if f != "m.onnx"]  # no temporary file left beside it
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(trained / "last.safetensors"), "-q"]) == 0  # default: a new runs/export-NNN
    assert capsys.readouterr().out == os.path.join("runs", "export-001", "model.onnx") + "\n"


@pytest.mark.parametrize("argv, code, words", [
    (["-o", "{tmp}/missing/m.onnx"], 2, "does not exist"),
    (["-o", "{tmp}"], 2, "is a folder"),
    (["-o", "{tmp}/m.onnx", "--mean", "0.5"], 2, "--mean and --std go together"),
])
def test_usage_errors(trained, tmp_path, capsys, argv, code, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["export", str(trained / "last.safetensors"), *argv]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_a_checkpoint_without_preprocessing_needs_the_flags(trained, tmp_path, capsys):
    require("onnx")
    ckpt = convlab.load(trained / "last.safetensors")
    c, h, w = ckpt["meta"]["preprocessing"].pop("input_shape")
    del ckpt["meta"]["preprocessing"]
    convlab.save(ckpt, tmp_path / "bare.safetensors")
    assert main(["export", str(tmp_path / "bare.safetensors"), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--image-size H,W" in err and "--channels 1|3" in err
    assert not (tmp_path / "m.onnx").exists()
    assert main(["export", str(tmp_path / "bare.safetensors"), "-o", str(tmp_path / "m.onnx"), "--image-size", f"{h},{w}",
                 "--channels", str(c)]) == 0
    onnx = require("onnx")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert json.loads(props["convlab.input_shape"]) == [c, h, w]
    assert json.loads(props["convlab.preprocessing"])["channels"] == c and "not normalised" in props["convlab.preprocessing_text"]


def test_failures_exit_1(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.safetensors"), "-o", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and not (tmp_path / "m.onnx").exists()
