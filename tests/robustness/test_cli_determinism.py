"""Determinism of ``convlab train`` on CPU: the same command with the same seed, run twice in two
fresh processes (into two output directories), gives bit-identical checkpoints and the same logs,
apart from the fields that measure wall-clock time (``logs.WALL_CLOCK_FIELDS``).

The command switches on everything random a run has: shuffling, augmentation (random crops),
random erasing, dropout (in the default compact CNN) and a validation split.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import convlab
import convlab.train
from convlab.cli import main
from convlab.train.logs import EPOCH_COLUMNS, WALL_CLOCK_FIELDS, read_jsonl
from helpers import flatten_tree, no_plots, timeless

ARGS = ["train", "--dataset", "lines", "--epochs", "3", "--batch-size", "8", "--limit-train", "160", "--limit-test", "48",
        "--val-split", "24", "--augment", "--erase", "0.5", "-q"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("determinism")
    runs = [base / "a", base / "b"]
    procs = [subprocess.Popen([sys.executable, "-m", "convlab.cli", *ARGS, "--seed", "11", "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for out in runs]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, stderr) in zip(procs, outputs):
        assert p.returncode == 0, stderr
    assert outputs[0][0] == outputs[1][0] and outputs[0][0].startswith("test accuracy ")
    return runs


@pytest.mark.parametrize("name", ["last.safetensors", "best.safetensors"])
def test_checkpoints_are_bit_identical(two_runs, name):
    a, b = (dict(flatten_tree(convlab.load(run / name))) for run in two_runs)
    assert a.keys() == b.keys()
    tensors = [k for k, v in a.items() if isinstance(v, (np.ndarray, np.generic))]
    assert any(k[0] == "model" for k in tensors) and any(k[0] == "optimizer" for k in tensors)
    for key in tensors:  # weights, optimizer moments, random states: same dtype, shape and bits
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert a[key].tobytes() == b[key].tobytes(), ".".join(key)
    for key in a.keys() - set(tensors):
        if key[-1] not in WALL_CLOCK_FIELDS:  # counters, history, meta, config
            assert a[key] == b[key], ".".join(key)


def test_jsonl_logs_differ_only_in_wall_clock_fields(two_runs):
    a, b = (read_jsonl(run / "metrics.jsonl") for run in two_runs)
    # a step record every 20 steps, 20 steps an epoch
    assert [r["kind"] for r in a] == ["step", "epoch", "step", "epoch", "step", "epoch"]
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert list(ra) == list(rb)  # same fields in the same order
        for key in ra:
            if key in WALL_CLOCK_FIELDS:
                assert ra[key] > 0 and rb[key] > 0
            else:
                assert ra[key] == rb[key], (ra["step"], key)
    epochs = [r for r in a if r["kind"] == "epoch"]
    assert all(set(WALL_CLOCK_FIELDS) <= set(r) for r in epochs)


def test_csv_and_json_outputs_are_identical_apart_from_times(two_runs):
    def rows(run):
        with open(run / "metrics.csv", newline="") as f:
            return list(csv.DictReader(f))

    a, b = (rows(run) for run in two_runs)
    assert len(a) == 3 and list(a[0]) == EPOCH_COLUMNS
    assert timeless(a) == timeless(b)
    for name in ("test.json", "config.json"):
        assert json.loads((two_runs[0] / name).read_text()) == json.loads((two_runs[1] / name).read_text())


def test_another_seed_gives_other_weights(two_runs, tmp_path, monkeypatch):
    """The comparison above is not vacuous: the seed does reach the weights."""
    no_plots(monkeypatch)
    assert main([*ARGS, "--seed", "12", "--out", str(tmp_path / "c")]) == 0
    a = convlab.load(two_runs[0] / "last.safetensors")["model"]
    c = convlab.load(tmp_path / "c" / "last.safetensors")["model"]
    assert a.keys() == c.keys()
    assert not any(np.array_equal(a[k].numpy(), c[k].numpy()) for k in a if k.endswith("weight"))
