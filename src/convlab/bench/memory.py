"""Peak resident memory of a training step, each library and model in its own fresh subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import resource
import subprocess
import sys

from .machine import set_threads
from .runners import _ConvlabRunner, _TorchRunner
from .twins import MEMORY_TARGET, MODELS


def _rss_bytes() -> int:
    try:
        return int(pathlib.Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _peak_rss_bytes() -> int:
    """This process's peak resident size: ``VmHWM`` where Linux has it, else getrusage maxrss.

    ``ru_maxrss`` alone misleads in a subprocess: Linux carries the parent's high-water mark
    across fork + exec into the child's figure, so a child of a large parent reports the
    parent's size; ``VmHWM`` belongs to the child's own address space.
    """
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kilobytes on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _memory_child(lib, name, shape, batch, steps, threads):
    """In a fresh process: build the model and batch, run ``steps`` training steps, report."""
    if lib == "torch":
        import torch

        torch.set_num_threads(threads)
    set_threads(threads)
    runner = _ConvlabRunner(name, shape, batch) if lib == "convlab" else _TorchRunner(name, shape, batch)
    before = _rss_bytes()
    peak_before = _peak_rss_bytes()
    for _ in range(steps):
        runner.train_step()
    peak = _peak_rss_bytes()
    return {"rss_before_mb": before / 2 ** 20, "peak_mb": peak / 2 ** 20,
            "step_mb": (peak - before) / 2 ** 20, "peak_before_step_mb": peak_before / 2 ** 20}


def measure_memory(lib, name, shape=None, batch=None, steps=2, threads=1, timeout=600):
    """Peak resident memory of ``steps`` training steps of ``name`` in a fresh subprocess."""
    default_shape, default_batch, _ = MODELS.get(name, (None, None, None))
    shape, batch = tuple(shape or default_shape), int(batch or default_batch)
    spec = json.dumps({"lib": lib, "name": name, "shape": list(shape), "batch": batch, "steps": steps, "threads": threads})
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    src = str(pathlib.Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else src
    proc = subprocess.run([sys.executable, "-m", "convlab.bench", "--memory-child", spec],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"memory subprocess for {lib} {name} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory_rows(names, *, batch=None, shape=None, use_torch=True, threads=1, log=None):
    rows = []
    for name in names:
        ours = measure_memory("convlab", name, shape, batch, threads=threads)
        theirs = measure_memory("torch", name, shape, batch, threads=threads) if use_torch else None
        default_shape, default_batch, _ = MODELS.get(name, (None, None, None))
        row = {"model": name, "batch": int(batch or default_batch), "convlab": ours, "torch": theirs,
               "convlab_peak_mb": ours["peak_mb"], "torch_peak_mb": None if theirs is None else theirs["peak_mb"],
               "ratio": None if theirs is None else ours["peak_mb"] / theirs["peak_mb"],
               "step_ratio": None if theirs is None else ours["step_mb"] / max(theirs["step_mb"], 1e-9),
               "target": MEMORY_TARGET}
        row["meets_target"] = None if theirs is None else bool(row["ratio"] <= MEMORY_TARGET)
        rows.append(row)
        if log:
            log(f"memory {name}: convlab peak {ours['peak_mb']:.0f} MB (step +{ours['step_mb']:.0f})"
                + ("" if theirs is None else f", torch peak {theirs['peak_mb']:.0f} MB (step +{theirs['step_mb']:.0f})"))
    return rows
