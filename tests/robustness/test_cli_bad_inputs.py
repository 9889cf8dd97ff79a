# ruff: noqa: E501  (one case per line: the table reads better unwrapped)
"""Hostile command lines: a bad argument exits 2, a runtime failure exits 1, each with one
line on stderr that names the command and the bad value, and never a traceback."""

import subprocess
import sys

import pytest

from convlab.cli import main

# (argv, exit code, regex the single stderr line must match); {tmp} is a scratch folder
ONE_LINE = [
    (["summary", "nosuchmodel"], 2, r"^convlab summary: unknown model 'nosuchmodel'"),
    (["summary", "lenet5", "--input", "abc"], 2, r"^convlab summary: --input takes C,H,W .* like 3,224,224, got 'abc'"),
    (["summary", "compactcnn", "--input", "28,28"], 2, r"^convlab summary: --input takes three numbers C,H,W .*got 2 in "
                                                       r"'28,28'; for a 28x28 grayscale picture: --input 1,28,28"),
    (["summary", "compactcnn", "--input", "28,28,1"], 2, r"channels come first \(C,H,W\); did you mean --input 1,28,28\?"),
    (["summary", "lenet5", "--batch-size", "-1"], 2, r"^convlab summary: (error: )?--batch-size must be positive, got -1"),
    (["summary", "lenet5", "--num-classes", "0"], 2, r"^convlab summary: (error: )?--num-classes must be positive, got 0"),
    (["demo", "nosuch"], 2, r"^convlab demo: unknown demo 'nosuch'"),
    (["filter"], 2, r"^convlab filter: give an input image"),
    (["filter", "--demo", "-k", "nosuchkernel"], 2, r"^convlab filter: unknown kernel 'nosuchkernel'"),
    (["filter", "{tmp}/notimage.png", "-k", "sobel-y"], 1, r"^convlab filter: error: .*notimage.png: cannot read as an image"),
    (["filter", "{tmp}/missing.png", "-k", "sobel-y"], 1, r"^convlab filter: error: no such image file: .*missing.png"),
    (["inspect", "{tmp}/missing.safetensors"], 1, r"^convlab inspect: error: .*missing.safetensors"),
    (["inspect", "{tmp}/notimage.png"], 1, r"^convlab inspect: error: load: .*notimage.png: header length field says"),
    (["train", "--epochs", "-1"], 2, r"^convlab train: (error: )?--epochs must be (>= 1|positive), got -1"),
    (["train", "--epochs", "0"], 2, r"^convlab train: (error: )?--epochs must be (>= 1|positive), got 0"),
    (["train", "--model", "nosuch"], 2, r"^convlab train: unknown model 'nosuch'"),
    (["train", "--dataset", "nosuch"], 2, r"^convlab train: unknown dataset 'nosuch'"),
    (["train", "--lr", "-1"], 2, r"^convlab train: (error: )?--lr must be (> 0|positive), got -1.0"),
    (["train", "--lr", "0"], 2, r"^convlab train: (error: )?--lr must be (> 0|positive), got 0.0"),
    (["train", "--batch-size", "0"], 2, r"^convlab train: (error: )?--batch-size must be (>= 1|positive), got 0"),
    (["train", "--val-split", "1.5"], 2, r"^convlab train: --val-split must be a fraction between 0 and 1 \(like 0.1\) "
                                         r"or a whole count of images \(like 500\), got 1.5"),
    (["train", "--val-split", "2.0"], 2, r"^convlab train: --val-split must be a fraction .*, got 2.0"),
    (["train", "--dataset", "folder:{tmp}/nowhere"], 1, r"^convlab train: error: .*nowhere is not a directory"),
    (["train", "--dataset", "folder:{tmp}/empty"], 1, r"^convlab train: error: .*empty has no class folders"),
    (["train", "--dataset", "mnist", "--data-root", "{tmp}/empty"], 1, r"^convlab train: error: MNIST not found: .*empty"),
    (["train", "--resume", "{tmp}/missing.safetensors"], 1, r"^convlab train: error: checkpoint .*missing.safetensors does not exist"),
    (["evaluate", "{tmp}/missing.safetensors"], 1, r"^convlab evaluate: error: checkpoint .*missing.safetensors does not exist"),
    (["evaluate", "{tmp}/notimage.png"], 1, r"^convlab evaluate: error: .*notimage.png"),
    (["predict", "{tmp}/missing.safetensors", "{tmp}/notimage.png"], 1, r"^convlab predict: error: checkpoint .*missing.safetensors"),
]

# argparse's own errors: exit 2 and the last line names the argument (argparse prints usage above it)
ARGPARSE = [
    (["nosuch"], r"invalid choice: 'nosuch'"),
    (["summary"], r"required: model"),
    (["train", "--epochs", "abc"], r"argument --epochs: invalid int value: 'abc'"),
    (["train", "--optimizer", "lbfgs"], r"argument --optimizer: invalid choice: 'lbfgs'"),
    (["evaluate"], r"required: CKPT"),
    (["predict"], r"required: CKPT, PICTURE"),
    (["datasets", "--bogus"], r"unrecognized arguments: --bogus"),
    (["models", "--bogus"], r"unrecognized arguments: --bogus"),
]
CLI_CASES = len(ONE_LINE) + len(ARGPARSE)


@pytest.fixture
def scratch(tmp_path):
    (tmp_path / "notimage.png").write_bytes(b"this is not an image")
    (tmp_path / "empty").mkdir()
    return tmp_path


def _run(argv, tmp, capsys):
    argv = [a.replace("{tmp}", str(tmp)) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err.strip().splitlines()


@pytest.mark.parametrize("argv,code,match", ONE_LINE, ids=[" ".join(a) for a, _, _ in ONE_LINE])
def test_cli_errors_are_one_line(argv, code, match, scratch, capsys):
    rc, lines = _run(argv, scratch, capsys)
    assert rc == code, lines
    assert len(lines) == 1, lines
    assert __import__("re").search(match, lines[0]), lines[0]


@pytest.mark.parametrize("argv,match", ARGPARSE, ids=[" ".join(a) for a, _ in ARGPARSE])
def test_cli_argument_errors_exit_2(argv, match, scratch, capsys):
    rc, lines = _run(argv, scratch, capsys)
    assert rc == 2
    assert __import__("re").search(match, lines[-1]), lines[-1]


def test_real_entry_point_prints_no_traceback(tmp_path):
    """The installed ``convlab`` process: exit 1, one line, no traceback."""
    r = subprocess.run([sys.executable, "-m", "convlab.cli", "inspect", str(tmp_path / "missing.safetensors")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "missing.safetensors" in r.stderr
