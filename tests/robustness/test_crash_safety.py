"""Crash safety of ``convlab train``: SIGKILL in the middle of an epoch and in the middle of a
checkpoint write, then ``--resume``.

The killed runs are child processes (``crash_driver.py``) that SIGKILL themselves at an exact
point, so every case is deterministic; one more child is killed from outside, for real, as soon
as its first checkpoint appears. After each kill the checkpoint on disk must load and be the
complete checkpoint of the last finished epoch, and the resumed run must end with exactly the
weights, optimizer, scheduler, counters, random state, best checkpoint, test metrics and logs of
an uninterrupted run with the same seed and arguments.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import convlab
import convlab.train
from convlab.cli import main
from convlab.train import load_checkpoint
from convlab.train.logs import WALL_CLOCK_FIELDS, RunLog, read_jsonl
from helpers import flatten_tree, no_plots, timeless

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crash_driver.py")
EPOCHS, STEPS_PER_EPOCH = 3, 8  # 64 training images in batches of 8; a step record every 20 steps
ARGS = ["--dataset", "lines", "--epochs", str(EPOCHS), "--batch-size", "8", "--limit-train", "64", "--limit-test", "32",
        "--val-split", "16", "--augment", "--seed", "5", "-q"]
TEMP = re.compile(r"\.tmp$")


# ------------------------------------------------------------------------------------------ helpers
def child(out, kill=None, fast=True, extra=(), wait=True):
    """``convlab train ARGS --out OUT`` in a child process, optionally set to SIGKILL itself."""
    cmd = [sys.executable, DRIVER, *(["--fast"] if fast else []), *(["--kill", kill] if kill else []),
           "--", *ARGS, "--out", str(out), *extra]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def resume(out, mp) -> None:
    no_plots(mp)
    assert main(["train", "--resume", str(out / "last.safetensors"), "-q"]) == 0


def assert_same_checkpoint(path, ref_path):
    """Every tensor bit-identical (dtype, shape, values) and every other entry equal, wall-clock times aside."""
    got, want = dict(flatten_tree(convlab.load(path))), dict(flatten_tree(convlab.load(ref_path)))
    assert got.keys() == want.keys()
    for key, value in want.items():
        if key[-1] in WALL_CLOCK_FIELDS:
            continue
        if isinstance(value, (np.ndarray, np.generic)):
            assert isinstance(got[key], (np.ndarray, np.generic)) and got[key].dtype == value.dtype, key
            assert np.array_equal(got[key], value), ".".join(key)
        else:
            assert got[key] == value, ".".join(key)


def log_records(out):
    return timeless(read_jsonl(out / "metrics.jsonl"))


def csv_rows(out):
    with open(out / "metrics.csv", newline="") as f:
        return timeless(csv.DictReader(f))


def temp_files(out):
    return sorted(n for n in os.listdir(out) if TEMP.search(n))


def assert_same_run(out, ref, logs=True):
    """The resumed run in ``out`` ended exactly as the uninterrupted ``ref``."""
    assert_same_checkpoint(out / "last.safetensors", ref / "last.safetensors")
    assert_same_checkpoint(out / "best.safetensors", ref / "best.safetensors")
    assert json.loads((out / "test.json").read_text()) == json.loads((ref / "test.json").read_text())
    assert temp_files(out) == []  # the resumed run removed what the killed writer left
    if logs:
        assert log_records(out) == log_records(ref)
        assert csv_rows(out) == csv_rows(ref)


def assert_previous_checkpoint(out, ref, epoch):
    """``last.safetensors`` loads and is the complete checkpoint of ``epoch`` (the last finished one)."""
    ck = load_checkpoint(out / "last.safetensors")
    assert (ck["epoch"], ck["step"], ck["batch_in_epoch"]) == (epoch, epoch * STEPS_PER_EPOCH, 0)
    ref_history = load_checkpoint(ref / "last.safetensors")["history"]
    assert timeless(ck["history"]) == timeless(ref_history[:epoch])
    return ck


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("crash") / "reference"
    with pytest.MonkeyPatch.context() as mp:
        no_plots(mp)
        assert main(["train", *ARGS, "--out", str(out)]) == 0
    ck = load_checkpoint(out / "last.safetensors")
    assert (ck["epoch"], ck["step"]) == (EPOCHS, EPOCHS * STEPS_PER_EPOCH)
    return out


# ------------------------------------------------------------------------------------------ SIGKILL
def test_sigkill_mid_epoch_then_resume(tmp_path, reference, monkeypatch):
    out = tmp_path / "run"
    proc = child(out, kill="step:22")  # the 22nd optimizer step: epoch 3, batch 6
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ck = assert_previous_checkpoint(out, reference, epoch=2)
    assert 21 - ck["step"] < STEPS_PER_EPOCH  # at most the interrupted epoch's work is redone
    # the log ran ahead of the checkpoint: the step-20 record of the lost part of epoch 3
    assert [r["step"] for r in log_records(out)] == [8, 16, 20]
    assert temp_files(out) == []

    resume(out, monkeypatch)
    assert_same_run(out, reference)  # the step-20 record is written once, not twice


@pytest.mark.parametrize("fraction", [0.5, 0.0])
def test_sigkill_mid_checkpoint_write_then_resume(tmp_path, reference, monkeypatch, fraction):
    out = tmp_path / "run"
    proc = child(out, kill=f"write:last.safetensors:2:{fraction}")  # epoch 2's checkpoint, part written
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # the half-written temporary file is there, and is not a loadable checkpoint ...
    (temp,) = temp_files(out)
    assert temp.startswith(".last.safetensors.pid") and os.path.getsize(out / temp) < os.path.getsize(out / "last.safetensors")
    with pytest.raises(ValueError, match="truncated|too short"):
        convlab.load(out / temp)
    # ... while last.safetensors is still epoch 1's complete checkpoint
    assert_previous_checkpoint(out, reference, epoch=1)
    assert [r["epoch"] for r in log_records(out)] == [1]

    resume(out, monkeypatch)
    assert_same_run(out, reference)


def test_sigkill_between_checkpoint_and_log_then_resume(tmp_path, reference, monkeypatch):
    out = tmp_path / "run"
    proc = child(out, kill="after-write:last.safetensors:2")  # epoch 2's checkpoint is in place, its log line is not
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert_previous_checkpoint(out, reference, epoch=2)
    assert [r["epoch"] for r in log_records(out)] == [1]

    resume(out, monkeypatch)
    assert_same_run(out, reference)  # epoch 2's log record and CSV row restored from the checkpoint's history


def test_sigkill_then_fresh_run_with_force(tmp_path, reference, monkeypatch):
    """Instead of resuming, start over in the same directory: the result is the uninterrupted run."""
    out = tmp_path / "run"
    assert child(out, kill="step:22").returncode == -signal.SIGKILL
    no_plots(monkeypatch)
    assert main(["train", *ARGS, "--out", str(out), "--force"]) == 0
    assert_same_run(out, reference)  # the killed run's log lines are gone, not followed by the new run's


def test_real_sigkill_after_first_checkpoint_then_resume(tmp_path, reference, monkeypatch):
    """Not injected: the child trains (with its plots) and is killed from here as soon as a checkpoint exists."""
    out = tmp_path / "run"
    proc = child(out, fast=False, wait=False)
    try:
        deadline = time.monotonic() + 240
        while not (out / "last.safetensors").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished: two epochs (with plots) were still to come
    ck = load_checkpoint(out / "last.safetensors")
    assert 1 <= ck["epoch"] < EPOCHS
    assert_previous_checkpoint(out, reference, epoch=ck["epoch"])

    resume(out, monkeypatch)
    assert_same_run(out, reference, logs=False)
    # wherever the kill landed, no record is duplicated or changed; one may be missing (killed before it was logged)
    got, want = log_records(out), log_records(reference)
    assert got == [r for r in want if r in got] and len(want) - len(got) <= 1


# ------------------------------------------------------------------------------------------ the pieces
def test_truncate_after_drops_later_and_torn_lines(tmp_path):
    log = RunLog(str(tmp_path))
    for step in (20, 40):
        log.write({"kind": "step", "step": step, "loss": 0.5})
    log.write({"kind": "epoch", "epoch": 1, "step": 50, "train_loss": 0.4, "epoch_seconds": 1.0})
    log.epoch({"epoch": 1, "step": 50, "train_loss": 0.4})
    log.write({"kind": "step", "step": 60, "loss": 0.3})
    log.epoch({"epoch": 2, "step": 100, "train_loss": 0.2})
    with open(log.jsonl, "a") as f:
        f.write('{"kind": "step", "st')  # a kill in the middle of a write
    with open(log.csv, "a") as f:
        f.write("3,150,0.0")

    log.truncate_after(50)
    assert [(r["kind"], r["step"]) for r in read_jsonl(log.jsonl)] == [("step", 20), ("step", 40), ("epoch", 50)]
    with open(log.csv, newline="") as f:
        assert [(r["epoch"], r["step"], r["train_loss"]) for r in csv.DictReader(f)] == [("1", "50", "0.4")]
    assert temp_files(tmp_path) == []
    log.write({"kind": "step", "step": 60, "loss": 0.25})  # the resumed run goes on appending
    assert [r["step"] for r in read_jsonl(log.jsonl)] == [20, 40, 50, 60]


def test_truncate_after_restores_epochs_missing_from_the_log(tmp_path):
    """Killed after the checkpoint was written but before its epoch was logged: the history puts it back."""
    log = RunLog(str(tmp_path))
    history = [{"epoch": e, "step": 10 * e, "lr": 0.1, "train_loss": 1.0 / e, "epoch_seconds": 2.0,
                "val_loss": None, "val_per_class": [0.5, 0.5]} for e in (1, 2)]
    log.write({"kind": "step", "step": 5, "loss": 2.0})
    log.write({"kind": "epoch", **{k: v for k, v in history[0].items() if k != "val_per_class"}})
    log.epoch(history[0])
    log.write({"kind": "step", "step": 15, "loss": 0.7})

    log.truncate_after(20, history)
    assert read_jsonl(log.jsonl) == [
        {"kind": "step", "step": 5, "loss": 2.0},
        {"kind": "epoch", "epoch": 1, "step": 10, "lr": 0.1, "train_loss": 1.0, "epoch_seconds": 2.0, "val_loss": None},
        {"kind": "step", "step": 15, "loss": 0.7},
        {"kind": "epoch", "epoch": 2, "step": 20, "lr": 0.1, "train_loss": 0.5, "epoch_seconds": 2.0, "val_loss": None},
    ]
    with open(log.csv, newline="") as f:
        assert [(r["epoch"], r["train_loss"], r["val_loss"]) for r in csv.DictReader(f)] == [("1", "1.0", ""), ("2", "0.5", "")]
    log.truncate_after(20, history)  # idempotent
    assert len(read_jsonl(log.jsonl)) == 4


def test_read_jsonl_skips_only_a_torn_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]
    path.write_text('{"step": 1}\n{"st\n{"step": 2}\n')
    with pytest.raises(json.JSONDecodeError):
        read_jsonl(path)


def test_save_removes_temp_files_of_dead_writers_only(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(done.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".last.safetensors.pid{dead}.abc123.tmp",
            "mine": f".best.safetensors.pid{os.getpid()}.xyz_9.tmp",  # this pid, not being written: a previous life's
            "alive": f".last.safetensors.pid{alive.pid}.def456.tmp",
            "other": ".notes.tmp",
            "plain": "last.safetensors.pid1.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"partial")
        convlab.save({"w": convlab.ones(2)}, tmp_path / "last.safetensors")
        left = set(os.listdir(tmp_path))
    finally:
        alive.kill()
        alive.wait()
    assert left == {"last.safetensors", names["alive"], names["other"], names["plain"]}
    assert convlab.load(tmp_path / "last.safetensors")["w"].tolist() == [1.0, 1.0]


def test_sigkill_keeps_layer_stats_up_to_the_checkpoint(tmp_path, monkeypatch):
    """``--layer-stats`` records are written beside each epoch's checkpoint: a killed run keeps them up to
    its checkpoint, and the resumed run's file equals an uninterrupted run's, record for record."""
    stats = ["--layer-stats", "4"]
    ref = tmp_path / "ref"
    with pytest.MonkeyPatch.context() as mp:
        no_plots(mp)
        assert main(["train", *ARGS, "--out", str(ref), *stats]) == 0
    want = read_jsonl(ref / "layer_stats.jsonl")
    assert sorted({r["step"] for r in want}) == [4, 8, 12, 16, 20, 24]

    out = tmp_path / "run"
    proc = child(out, kill="step:22", extra=stats)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    kept = read_jsonl(out / "layer_stats.jsonl")
    assert sorted({r["step"] for r in kept}) == [4, 8, 12, 16]  # step 20's records died with the process
    assert kept == [r for r in want if r["step"] <= 16]

    no_plots(monkeypatch)
    assert main(["train", "--resume", str(out / "last.safetensors"), "-q", *stats]) == 0
    assert read_jsonl(out / "layer_stats.jsonl") == want
