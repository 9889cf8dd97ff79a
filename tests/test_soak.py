"""benchmarks/soak.py (the 10,000-step memory soak run) on a few hundred steps, so the script cannot rot:
its samples, its JSON, and a growth check that passes a steady run and fails a leaking one."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "soak.py")
_spec = importlib.util.spec_from_file_location("convlab_bench_soak", _PATH)
soak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak)

# 15 steps an epoch: the first epoch end (first validation, first checkpoints) falls inside the warm-up
SMOKE = ["--steps", "45", "--every", "15", "--warmup", "30", "--batch-size", "2", "--epoch-steps", "15", "--val-size", "32",
         "-q"]


def _samples(steps, rss, tensors=24):
    return [{"step": s, "rss_mib": r, "tensors": tensors} for s, r in zip(steps, rss)]


def test_growth_verdict():
    steady = soak.growth_verdict(_samples([0, 500, 1000, 1500, 2000], [40, 70, 71, 71.5, 71.25]), 1000, 8)
    assert steady["ok"] is True and steady["warmup_step"] == 1000 and steady["growth_mib"] == pytest.approx(0.25)
    assert steady["max_after_warmup_mib"] == 71.5 and steady["slope_mib_per_1000_steps"] == pytest.approx(0.25)
    leaking = soak.growth_verdict(_samples([0, 500, 1000, 1500, 2000], [40, 70, 71, 76, 81]), 1000, 8)
    assert leaking["ok"] is False and leaking["growth_mib"] == 10
    assert "+10.00 MiB from step 1000 to step 2000" in leaking["reason"]
    # the warm-up sample is the first at or after --warmup; nothing after it: no verdict
    assert soak.growth_verdict(_samples([0, 300, 600, 900], [40, 50, 60, 61]), 500, 8)["warmup_step"] == 600
    short = soak.growth_verdict(_samples([0, 300, 600], [40, 50, 60]), 500, 8)
    assert short["ok"] is None and short["reason"] == "no samples after the warm-up of 500 steps to compare"


def test_smoke_run_writes_samples_and_passes(tmp_path, capsys):
    path = tmp_path / "soak.json"
    assert soak.main([*SMOKE, "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    samples = report["samples"]
    assert [s["step"] for s in samples] == [0, 15, 30, 45] and report["steps_done"] == 45
    assert all(s["rss_mib"] > 10 and s["objects"] > 0 for s in samples)
    assert all(s["steps_per_second"] > 0 for s in samples[1:])
    assert samples[2]["tensors"] == samples[3]["tensors"]  # no tensor outlives its step after warm-up
    v = report["verdict"]
    assert v["ok"] is True and v["warmup_step"] == 30
    assert v["growth_mib"] == pytest.approx(samples[3]["rss_mib"] - samples[2]["rss_mib"]) and v["growth_mib"] < 8
    assert report["epochs"] == 3 and report["steps_per_epoch"] == 15 and report["config"]["batch_size"] == 2
    assert report["final_val_accuracy"] is not None and report["final_train_loss"] > 0
    assert capsys.readouterr().out.startswith("soak ok: RSS grew ")


def test_leak_is_caught(tmp_path):
    """1.5 MiB kept per step: 22.5 MiB over the 15 steps after warm-up, against a limit of 8. In a fresh
    process: in this one, memory freed by earlier tests is still resident and would hide the leak."""
    path = tmp_path / "leak.json"
    proc = subprocess.run([sys.executable, _PATH, *SMOKE, "--json", str(path), "--leak-kib-per-step", "1536"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    v = json.loads(path.read_text())["verdict"]
    assert v["ok"] is False and v["growth_mib"] > 20
    assert proc.stdout.startswith("soak FAIL: RSS grew ")


def test_plot_is_written(tmp_path):
    report = {"samples": _samples([0, 100, 200], [40, 50, 51]), "config": {"model": "lenet5", "batch_size": 4},
              "verdict": soak.growth_verdict(_samples([0, 100, 200], [40, 50, 51]), 100, 8)}
    out = soak.plot(report, str(tmp_path / "soak.png"))
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
