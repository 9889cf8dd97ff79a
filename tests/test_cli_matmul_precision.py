"""``convlab train --matmul-precision``: recorded in the run's configuration, applied to the
training's products (bfloat16 ones under "medium" where the CPU has AVX512_BF16), and put back
afterwards."""

import json

import pytest

import convlab
from convlab.cli import main
from convlab.ops import gemm_bf16

QUICK = ["--dataset", "lines", "--epochs", "1", "--batch-size", "64", "--limit-train", "256", "--limit-test", "64", "-q"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _train_loss(run):
    return float((run / "metrics.csv").read_text().splitlines()[1].split(",")[3])


def test_medium_is_recorded_applied_and_restored(in_tmp, capsys):
    before = gemm_bf16.products_run()
    assert main(["train", *QUICK, "--out", "medium", "--matmul-precision", "medium"]) == 0
    ran = gemm_bf16.products_run() - before
    assert json.loads((in_tmp / "medium" / "config.json").read_text())["matmul_precision"] == "medium"
    assert convlab.get_float32_matmul_precision() == "highest"  # the process's setting is put back
    assert main(["train", *QUICK, "--out", "plain"]) == 0
    assert json.loads((in_tmp / "plain" / "config.json").read_text())["matmul_precision"] == "highest"
    assert gemm_bf16.products_run() - before == ran  # the default run used none
    if gemm_bf16.bf16_available() and gemm_bf16.bf16_enabled():
        # 4 steps of 64 images, each with a convolution's forward, input- and weight-gradient products
        assert ran >= 4 * 3, f"the medium run's products did not reach the bfloat16 GEMM ({ran})"
        assert _train_loss(in_tmp / "medium") != _train_loss(in_tmp / "plain")
    else:  # float32 either way: the same bits
        assert ran == 0 and _train_loss(in_tmp / "medium") == _train_loss(in_tmp / "plain")


def test_medium_is_said_and_bad_values_are_usage_errors(in_tmp, capsys):
    assert main(["train", *QUICK[:-1], "--out", "said", "--matmul-precision", "medium"]) == 0
    assert "matmul precision: medium (" in capsys.readouterr().out
    assert main(["train", *QUICK, "--matmul-precision", "low"]) == 2
    assert "--matmul-precision: invalid choice: 'low'" in capsys.readouterr().err


def test_resume_may_change_the_precision(in_tmp, capsys):
    """How the products round is not what is trained: --resume keeps the run's precision when no
    --matmul-precision is given and takes a new one when it is (then the run's from there on),
    where a changed --lr is refused."""
    base = ["train", "--dataset", "lines", "--batch-size", "64", "--limit-train", "128", "--limit-test", "64", "-q",
            "--schedule", "step", "--out", "r"]
    assert main([*base, "--epochs", "1", "--matmul-precision", "medium"]) == 0
    before = gemm_bf16.products_run()
    assert main(["train", "--resume", "r/last.safetensors", "--epochs", "2", "-q"]) == 0  # the run's own: medium
    medium = gemm_bf16.products_run()
    if gemm_bf16.bf16_available() and gemm_bf16.bf16_enabled():
        assert medium > before
    assert main(["train", "--resume", "r/last.safetensors", "--epochs", "3", "--matmul-precision", "highest", "-q"]) == 0
    assert gemm_bf16.products_run() == medium  # the third epoch ran in float32
    rows = (in_tmp / "r" / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    assert main(["train", "--resume", "r/last.safetensors", "--epochs", "4", "--lr", "0.5", "-q"]) == 2
    assert convlab.get_float32_matmul_precision() == "highest"
