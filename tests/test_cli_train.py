"""The train / evaluate / predict / datasets commands, end to end on small data."""

import json
import os
import sys

import numpy as np
import pytest

from convlab.cli import main

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
from fixtures import make_idx_set  # noqa: E402

from helpers import is_png  # noqa: E402

QUICK = ["--dataset", "lines", "--epochs", "1", "--batch-size", "64", "--limit-train", "256", "--limit-test", "200"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One quick run shared by the evaluate/predict tests."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *QUICK, "--epochs", "2", "--out", str(out)]) == 0
    return out


def test_train_lines_writes_everything_and_prints_accuracy(trained, capsys):
    for name in ("last.safetensors", "best.safetensors", "metrics.jsonl", "metrics.csv", "curves.png", "confusion.png",
                 "config.json", "test.json"):
        assert (trained / name).exists(), name
    test = json.loads((trained / "test.json").read_text())
    assert test["n"] == 200 and test["accuracy"] > 0.9
    config = json.loads((trained / "config.json").read_text())
    assert config["model_spec"]["name"] == "compactcnn" and config["classes"] == ["vertical", "horizontal"]


def test_train_output(in_tmp, capsys):
    assert main(["train", *QUICK]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "time:" in out and "checkpoint: runs/train-001/last.safetensors" in out
    assert "plots: runs/train-001/curves.png" in out
    assert main(["train", *QUICK, "--quiet"]) == 0  # never the same directory twice
    assert capsys.readouterr().out.startswith("test accuracy ")
    assert sorted(os.listdir(in_tmp / "runs")) == ["train-001", "train-002"]


def test_out_dir_not_overwritten_without_force(in_tmp, capsys):
    (in_tmp / "mine").mkdir()
    (in_tmp / "mine" / "notes.txt").write_text("keep")
    assert main(["train", *QUICK, "--out", "mine"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["train", *QUICK, "--out", "mine", "--force", "-q"]) == 0
    assert (in_tmp / "mine" / "notes.txt").read_text() == "keep" and (in_tmp / "mine" / "last.safetensors").exists()


def test_layer_stats_flag_records_every_n_steps(in_tmp, capsys):
    # 256 items at batch 64: 4 steps; every 2 steps gives records at steps 2 and 4 for each watched layer
    assert main(["train", *QUICK, "--layer-stats", "2", "--out", "r"]) == 0
    assert "layer statistics every 2 steps: " in capsys.readouterr().out
    records = [json.loads(line) for line in (in_tmp / "r" / "layer_stats.jsonl").read_text().splitlines()]
    assert sorted({r["step"] for r in records}) == [2, 4]
    layers = [r["layer"] for r in records if r["step"] == 2]
    assert layers[:2] == ["conv1", "relu"] and layers[-1] == "fc2"
    relu = next(r for r in records if r["layer"] == "relu")
    assert 0.0 <= relu["dead_fraction"] <= relu["zero_fraction"] <= 1.0 and relu["grad_std"] > 0
    assert is_png(in_tmp / "r" / "layer_stats.png")


@pytest.mark.parametrize("argv", [
    ["train", "--epochs", "0"],
    ["train", "--model", "nosuchnet"],
    ["train", "--dataset", "imagenet"],
    ["train", "--lr", "-1"],
    ["train", "--erase", "2"],
    ["train", "--layer-stats", "0"],
    ["predict", "nope.safetensors", "x.png", "--topk", "0"],
])
def test_usage_errors_exit_2(in_tmp, argv, capsys):
    assert main(argv) == 2  # some refused at parse time by the flag's type (convlab.validate.cli_int/cli_float)
    err = capsys.readouterr().err
    assert err.startswith(f"convlab {argv[0]}:") and err.count("\n") == 1
    assert not (in_tmp / "runs").exists()


def test_argparse_errors_exit_2(capsys):
    assert main(["train", "--optimizer", "lbfgs"]) == 2
    assert "argument --optimizer: invalid choice: 'lbfgs'" in capsys.readouterr().err


def test_missing_dataset_is_a_runtime_error(in_tmp, monkeypatch, capsys):
    monkeypatch.setenv("CONVLAB_DATA", str(in_tmp / "empty"))
    assert main(["train", "--dataset", "mnist", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "MNIST not found" in err and str(in_tmp / "empty" / "mnist") in err and "Traceback" not in err
    assert not (in_tmp / "runs").exists()  # nothing half-made left behind: no empty runs/train-001
    (in_tmp / "mine").mkdir()
    assert main(["train", "--dataset", "mnist", "--out", "mine"]) == 1
    assert (in_tmp / "mine").is_dir() and not list((in_tmp / "mine").iterdir())  # the user's own directory stays
    assert main(["train", "--dataset", "mnist", "--out", "new"]) == 1
    assert not (in_tmp / "new").exists()


def test_model_that_does_not_fit_the_images(in_tmp, capsys):
    assert main(["train", *QUICK, "--model", "lenet5"]) == 1
    assert "cannot take 1x8x8 images" in capsys.readouterr().err


def test_fashion_mnist_files_and_resume(in_tmp, capsys):
    make_idx_set(in_tmp / "fm", n_train=96, n_test=20)
    base = ["train", "--data-root", str(in_tmp / "fm"), "--model", "lenet5", "--batch-size", "32", "--val-split", "32",
            "--out", "r"]
    assert main([*base, "--epochs", "1", "--augment", "--erase", "0.5", "--schedule", "step"]) == 0
    assert "on fashion-mnist (64 train / 32 validation / 20 test images of 1x28x28" in capsys.readouterr().out
    assert main(["train", "--resume", "r/last.safetensors", "--epochs", "2"]) == 0
    assert "resuming r/last.safetensors" in capsys.readouterr().out
    rows = (in_tmp / "r" / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    assert main(["train", *QUICK, "--out", "oc"]) == 0  # a one-cycle schedule cannot be stretched
    assert main(["train", "--resume", "oc/last.safetensors", "--epochs", "3"]) == 2
    assert "cannot be extended" in capsys.readouterr().err


def test_evaluate_round_trip(trained, in_tmp, capsys):
    ckpt = str(trained / "last.safetensors")
    assert main(["evaluate", ckpt, "--limit", "200"]) == 0
    out = capsys.readouterr().out
    expected = json.loads((trained / "test.json").read_text())["accuracy"]
    assert f"accuracy {100 * expected:.2f}%" in out and "precision" in out and "horizontal" in out
    assert (in_tmp / "runs" / "evaluate-001" / "confusion.png").exists()
    metrics = json.loads((in_tmp / "runs" / "evaluate-001" / "metrics.json").read_text())
    assert metrics["accuracy"] == expected and len(metrics["confusion"]) == 2


def test_predict_converts_and_classifies(trained, in_tmp, capsys):
    from PIL import Image

    horizontal = np.zeros((16, 16, 3), np.uint8)
    horizontal[6:10, :] = 255
    Image.fromarray(horizontal).save(in_tmp / "h.png")
    vertical = np.zeros((8, 8), np.uint8)
    vertical[:, 4] = 255
    Image.fromarray(vertical).save(in_tmp / "v.png")
    assert main(["predict", str(trained / "last.safetensors"), "h.png", "v.png", "--topk", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("h.png: horizontal") and "converted: RGB -> grayscale, 16x16 -> 8x8 (stretch)" in out[1]
    assert out[2].startswith("v.png: vertical") and "no conversion needed" in out[3]
    assert main(["predict", str(trained / "last.safetensors"), "missing.png"]) == 1


def test_evaluate_rejects_non_checkpoints(in_tmp, capsys):
    import convlab

    convlab.save({"w": convlab.ones(2)}, str(in_tmp / "plain.safetensors"))
    assert main(["evaluate", "plain.safetensors"]) == 1
    assert "not a convlab training checkpoint" in capsys.readouterr().err


def test_datasets_command(monkeypatch, tmp_path, capsys):
    make_idx_set(tmp_path / "kmnist")
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path))
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert f"kmnist         installed: {tmp_path / 'kmnist'}" in out and "lines" in out
    assert "mnist          not found" in out


def test_label_smoothing_flag_reaches_the_training_loss(in_tmp, capsys):
    # Two classes, smoothing e = 0.4: each target is (0.8, 0.2), so by Gibbs' inequality no prediction has a
    # cross-entropy below its entropy, -(0.8 ln 0.8 + 0.2 ln 0.2) = 0.5004. The plain run learns the lines
    # (val accuracy > 0.9) and its training loss falls well below that floor; the smoothed one cannot.
    floor = -(0.8 * np.log(0.8) + 0.2 * np.log(0.2))
    runs = {}
    for name, extra in (("plain", []), ("smooth", ["--label-smoothing", "0.4"])):
        assert main(["train", *QUICK, "--epochs", "2", "--out", name, "-q", *extra]) == 0
        lines = (in_tmp / name / "metrics.csv").read_text().splitlines()
        runs[name] = [float(row.split(",")[3]) for row in lines[1:]]  # train_loss per epoch
    assert json.loads((in_tmp / "smooth" / "config.json").read_text())["label_smoothing"] == 0.4
    assert min(runs["smooth"]) >= floor - 1e-6
    assert runs["plain"][-1] < floor - 0.1
