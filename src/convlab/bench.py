"""Throughput and memory of convlab measured side by side with torch, in one process and one run.

    python benchmarks/run.py [--quick] [--json OUT]
    convlab bench [--quick] [--json OUT] [--models lenet5,smallcnn] [--threads N]

What is measured (float32, the same shapes and the same thread count for both libraries):

- the NumPy float32 GEMM rate (GFLOP/s), the ceiling every convlab convolution is built on;
- full training steps (zero_grad, forward, cross-entropy, backward, SGD-momentum step) in
  images/s; the two libraries' steps are *interleaved* (convlab, torch, convlab, torch, ...),
  warm-up steps are excluded and the median of the repeats is reported, so a noisy machine
  slows both alike;
- inference (eval mode, no autograd) in images/s at batch 1 and batch 128;
- the peak resident memory of a training step, each library and model in its own fresh
  subprocess (``resource.getrusage`` maxrss), with the resident size before the step;
- the seed loop implementation of a convolution against the fast path (how many times faster);
- the per-layer conv suite of ``benchmarks/conv.py``, when that file exposes one.

torch is only a yardstick: it is imported lazily inside the functions that time it (never when
``convlab`` or this module is imported), and when it is absent the torch columns are left empty
with a note. The torch twins below are plain torch with the same layer names and shapes as the
convlab models, and start from convlab's weights.

Ratios are convlab time / torch time (lower is better): ``ratio = torch_ips / convlab_ips``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time

import numpy as np

from . import threads as thread_policy
from .ops import gemm

# model -> (input shape without batch, training batch, training-step target ratio)
MODELS = {
    "lenet5": ((1, 28, 28), 128, 1.0),
    "smallcnn": ((3, 32, 32), 128, 1.0),
    "resnet20": ((3, 32, 32), 128, 1.25),
    "resnet18": ((3, 224, 224), 16, 1.25),
}
QUICK_MODELS = ("lenet5", "smallcnn", "resnet20")
MEMORY_TARGET = 1.5
NUM_CLASSES = 10


# --------------------------------------------------------------------------- threads
def blas_threads() -> int | None:
    """The number of threads NumPy's BLAS uses (None when threadpoolctl cannot find it)."""
    return thread_policy.blas_num_threads()


def set_threads(n: int) -> None:
    """Use ``n`` threads in convlab (its pools and NumPy's BLAS: ``convlab.set_num_threads``) and
    in torch if loaded."""
    thread_policy.set_num_threads(int(n))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(n))


# --------------------------------------------------------------------------- small helpers
def _median(xs):
    return float(np.median(xs)) if xs else float("nan")


def _have_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def gemm_rate(n: int = 1024, repeats: int = 5, matmul=None) -> float:
    """float32 ``n x n`` GEMM rate in GFLOP/s (median of ``repeats``, one warm-up) of ``matmul``:
    NumPy's by default, or e.g. ``convlab.ops.gemm.matmul`` (the compiled GEMM where built)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    matmul = matmul or np.matmul
    matmul(a, b)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        matmul(a, b)
        times.append(time.perf_counter() - t)
    return 2.0 * n ** 3 / _median(times) / 1e9


# --------------------------------------------------------------------------- torch twins
def torch_twin(name: str, num_classes: int = NUM_CLASSES, in_channels: int | None = None, image_size=(28, 28),
               seed: int = 0):
    """A plain-torch network with the layer names and shapes of ``convlab.models.get(name)``.

    ``image_size`` sizes the compactcnn twins' first linear layer (as it does the convlab model's);
    torch's generator is seeded with ``seed`` before the twin is built and is left where building
    it took it (``benchmarks/accuracy.py`` draws the twin's dropout masks from there)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def compact(double):  # convlab.models.CompactCNN with its default width 32, hidden 128, dropout 0.25
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        c, width = in_channels or 1, 32

        class CompactCNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(c, width, 3, padding=1, bias=False)
                self.bn1 = nn.BatchNorm2d(width)
                if double:
                    self.conv1b = nn.Conv2d(width, width, 3, padding=1, bias=False)
                    self.bn1b = nn.BatchNorm2d(width)
                self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=False)
                self.bn2 = nn.BatchNorm2d(2 * width)
                if double:
                    self.conv2b = nn.Conv2d(2 * width, 2 * width, 3, padding=1, bias=False)
                    self.bn2b = nn.BatchNorm2d(2 * width)
                self.relu, self.pool, self.flatten = nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()
                self.fc1 = nn.Linear(2 * width * (h // 4) * (w // 4), 128)
                self.drop = nn.Dropout(0.25)
                self.fc2 = nn.Linear(128, num_classes)

            def forward(self, x):
                x = self.relu(self.bn1(self.conv1(x)))
                if double:
                    x = self.relu(self.bn1b(self.conv1b(x)))
                x = self.relu(self.bn2(self.conv2(self.pool(x))))
                if double:
                    x = self.relu(self.bn2b(self.conv2b(x)))
                return self.fc2(self.drop(self.relu(self.fc1(self.flatten(self.pool(x))))))

        return CompactCNN

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels or 1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x))).flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels or 3, 32, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
            self.pool = nn.MaxPool2d(2, 2)
            self.bn1, self.bn2 = nn.BatchNorm2d(32), nn.BatchNorm2d(64)
            self.fc1 = nn.Linear(64 * 8 * 8, 128)
            self.drop = nn.Dropout(0.5)
            self.fc2 = nn.Linear(128, num_classes)

        def forward(self, x):
            x = self.pool(F.relu(self.bn1(self.conv1(x))))
            x = self.pool(F.relu(self.bn2(self.conv2(x)))).flatten(1)
            return self.fc2(self.drop(F.relu(self.fc1(x))))

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            return F.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ShortcutA(nn.Module):  # He et al. option A: subsample, zero-pad the channels
        def __init__(self, cin, cout):
            super().__init__()
            self.extra = cout - cin

        def forward(self, x):
            return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))

    def stage(inplanes, planes, blocks, stride, option_a):
        down = None
        if stride != 1 or inplanes != planes:
            down = ShortcutA(inplanes, planes) if option_a else nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        return nn.Sequential(BasicBlock(inplanes, planes, stride, down),
                             *[BasicBlock(planes, planes) for _ in range(blocks - 1)])

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels or 3, 16, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.layer1, self.layer2 = stage(16, 16, 3, 1, True), stage(16, 32, 3, 2, True)
            self.layer3 = stage(32, 64, 3, 2, True)
            self.fc = nn.Linear(64, num_classes)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels or 3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1, self.layer2 = stage(64, 64, 2, 1, False), stage(64, 128, 2, 2, False)
            self.layer3, self.layer4 = stage(128, 256, 2, 2, False), stage(256, 512, 2, 2, False)
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    classes = {"lenet5": LeNet5, "smallcnn": SmallCNN, "resnet20": ResNet20, "resnet18": ResNet18,
               "compactcnn": lambda: compact(False)(), "compactcnn_deep": lambda: compact(True)()}
    if name not in classes:
        raise KeyError(f"no torch twin for model {name!r}; twins: {', '.join(classes)}")
    torch.manual_seed(seed)
    return classes[name]()


def _copy_weights(ours, twin) -> None:
    """Start the twin from convlab's weights (same names; shapes checked by torch)."""
    import torch

    state = {k: torch.from_numpy(np.array(v.numpy(), copy=True)) for k, v in ours.state_dict().items()}
    twin.load_state_dict(state, strict=True)


# --------------------------------------------------------------------------- runners
class _Runner:
    """One model, its optimizer and a fixed batch; subclasses name the library.

    ``lib`` is the module (convlab or torch) whose ``no_grad`` the inference uses and
    ``wrap`` turns a NumPy array into that library's tensor.
    """

    lib = None

    def _setup(self, model, opt, loss, shape, batch, seed):
        self.model, self.opt, self.loss = model, opt, loss
        rng = np.random.default_rng(seed)
        self.x = self.wrap(rng.standard_normal((batch,) + tuple(shape), dtype=np.float32))
        self.y = self.wrap(rng.integers(0, NUM_CLASSES, batch))

    def train_step(self):
        self.model.train()
        self.opt.zero_grad()
        loss = self.loss(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def infer(self, x):
        self.model.eval()
        with self.lib.no_grad():
            return self.model(x)

    def input(self, batch, shape, seed=1):
        rng = np.random.default_rng(seed)
        return self.wrap(rng.standard_normal((batch,) + tuple(shape), dtype=np.float32))


class _ConvlabRunner(_Runner):
    """The convlab side: a zoo model from ``seed``."""

    def __init__(self, name, shape, batch, seed=0):
        import convlab
        from convlab import models, nn, optim

        convlab.manual_seed(seed)
        self.lib, self.wrap = convlab, convlab.tensor
        model = models.get(name, in_channels=shape[0], num_classes=NUM_CLASSES)
        self._setup(model, optim.SGD(model.parameters(), lr=0.01, momentum=0.9), nn.CrossEntropyLoss(),
                    shape, batch, seed)


class _TorchRunner(_Runner):
    """The torch twin of a :class:`_ConvlabRunner`, from the same weights and batch."""

    def __init__(self, name, shape, batch, ours=None, seed=0):
        import torch

        self.lib, self.wrap = torch, torch.from_numpy
        model = torch_twin(name, in_channels=shape[0])
        if ours is not None:
            _copy_weights(ours.model, model)
        self._setup(model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), torch.nn.CrossEntropyLoss(),
                    shape, batch, seed)


def _interleaved(fns: dict, repeats: int, warmup: int) -> dict:
    """Seconds per call of each function, interleaved round by round; medians of ``repeats``."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: _median(v) for k, v in times.items()}


def _row(kind, name, shape, batch, secs, target=None):
    ours, theirs = secs.get("convlab"), secs.get("torch")
    row = {"kind": kind, "model": name, "input": list(shape), "batch": batch,
           "convlab_ms": ours * 1e3, "convlab_ips": batch / ours,
           "torch_ms": None if theirs is None else theirs * 1e3,
           "torch_ips": None if theirs is None else batch / theirs,
           "ratio": None if theirs is None else ours / theirs}
    if target is not None:
        row["target"] = target
        row["meets_target"] = None if theirs is None else bool(ours / theirs <= target)
    return row


def bench_model(name, shape=None, batch=None, *, repeats=5, warmup=2, inference_batches=(1, 128),
                inference_repeats=None, use_torch=True, log=None):
    """Training step and inference rows for one model (see the module docstring)."""
    default_shape, default_batch, target = MODELS.get(name, (None, None, None))
    shape, batch = tuple(shape or default_shape), int(batch or default_batch)
    ours = _ConvlabRunner(name, shape, batch)
    theirs = _TorchRunner(name, shape, batch, ours) if use_torch else None
    fns = {"convlab": ours.train_step}
    if theirs is not None:
        fns["torch"] = theirs.train_step
    rows = [_row("train", name, shape, batch, _interleaved(fns, repeats, warmup), target)]
    if log:
        log(_format_row(rows[-1]))
    for b in inference_batches:
        xo = ours.input(b, shape)
        fns = {"convlab": lambda xo=xo: ours.infer(xo)}
        if theirs is not None:
            xt = theirs.input(b, shape)
            fns["torch"] = lambda xt=xt: theirs.infer(xt)
        reps = inference_repeats or (max(repeats, 10) if b == 1 else repeats)
        rows.append(_row("infer", name, shape, b, _interleaved(fns, reps, warmup)))
        if log:
            log(_format_row(rows[-1]))
    return rows


# --------------------------------------------------------------------------- peak memory
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
    src = str(pathlib.Path(__file__).resolve().parents[1])
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


# --------------------------------------------------------------------------- seed loops, conv suite
def seed_loop_speedup(repeats=3):
    """Seed 001's loop convolution (``reference.conv2d_naive``) against the fast path."""
    import convlab
    import convlab.functional as F
    from convlab import reference

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 32, 32), dtype=np.float32)
    w = rng.standard_normal((16, 3, 3, 3), dtype=np.float32)
    b = np.zeros(16, np.float32)
    xt, wt, bt = convlab.tensor(x[None]), convlab.tensor(w), convlab.tensor(b)
    secs = _interleaved({"loop": lambda: reference.conv2d_naive(x, w, b, stride=1, padding=1),
                         "fast": lambda: F.conv2d(xt, wt, bt, padding=1)}, repeats, 1)
    return {"op": "conv2d", "input": [1, 3, 32, 32], "weight": [16, 3, 3, 3], "padding": 1,
            "loop_ms": secs["loop"] * 1e3, "fast_ms": secs["fast"] * 1e3, "speedup": secs["loop"] / secs["fast"]}


def conv_suite(quick=False, gemm_gflops=None, use_torch=True):
    """The per-layer conv2d suite of ``benchmarks/conv.py`` (its ``bench_convs``), as rows.

    That file belongs to the convolution engine; it is loaded from the source checkout when
    present. Each row: forward and forward+backward milliseconds for both libraries, their
    ratios, convlab's GFLOP/s and its fraction of the GEMM rate measured in this run.
    """
    path = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "conv.py"
    if not path.exists():
        return None, "benchmarks/conv.py not found (run from a source checkout for the per-layer suite)"
    if not use_torch:
        return None, "per-layer conv suite skipped: it needs torch"
    spec = importlib.util.spec_from_file_location("_convlab_bench_conv", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # their file, their failure: report it, do not crash the run
        return None, f"benchmarks/conv.py failed to import: {exc}"
    fn = getattr(module, "bench_convs", None)
    if not callable(fn):
        return None, "benchmarks/conv.py exposes no bench_convs(torch, repeat, gemm, only); run it directly"
    import torch

    gemm = gemm_gflops or gemm_rate()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            raw = fn(torch, 3 if quick else 10, gemm, set())
    except Exception as exc:
        return None, f"benchmarks/conv.py bench_convs failed: {exc}"
    rows = []
    for name, cf, tf, cfb, tfb, flops in raw:
        rows.append({"layer": name, "convlab_fwd_ms": cf * 1e3, "torch_fwd_ms": tf * 1e3, "fwd_ratio": cf / tf,
                     "convlab_fwdbwd_ms": cfb * 1e3, "torch_fwdbwd_ms": tfb * 1e3, "fwdbwd_ratio": cfb / tfb,
                     "fwd_gflops": flops / cf / 1e9, "fwdbwd_gflops": 3 * flops / cfb / 1e9,
                     "fraction_of_gemm": 3 * flops / cfb / 1e9 / gemm})
    def geo(key):  # benchmarks/conv.py's own geometric mean, so both reports agree
        return module.geomean([r[key] for r in rows]) if rows else None

    return {"timing": "min of repeats (benchmarks/conv.py)", "layers": rows,
            "geomean_fwd_ratio": geo("fwd_ratio"), "geomean_fwdbwd_ratio": geo("fwdbwd_ratio"),
            "targets_fwdbwd": {"engine (issue 3)": 1.5, "parity (issue 7)": 1.25}}, None


# --------------------------------------------------------------------------- the whole run
def machine_info(threads):
    info = {"platform": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "threads": threads, "numpy": np.__version__, "blas_threads": blas_threads()}
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, AttributeError):
        info["load_average"] = list(os.getloadavg())
    return info


def run(*, threads=None, **options) -> dict:
    """The whole benchmark; returns the JSON-ready result (see :func:`format_markdown`).

    ``threads`` (default: convlab's default, the cores this process may use) is used by both
    libraries while it runs; convlab's count (NumPy's BLAS included) and torch's are restored
    afterwards, so a benchmark run inside a program (or a
    test) leaves that program's numerics as they were."""
    before_torch = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    before = thread_policy.get_num_threads()
    try:
        return _run(threads=threads, **options)
    finally:
        thread_policy.set_num_threads(before)  # convlab's pools and NumPy's BLAS
        if before_torch is not None and "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(before_torch)


def _run(*, quick=False, models=None, threads=None, repeats=None, warmup=None, batch=None, shape=None,
         inference_batches=None, memory=True, conv=True, seed_loops=True, use_torch=None, log=None) -> dict:
    threads = int(threads or thread_policy.default_num_threads())
    notes = []
    if use_torch is None:
        use_torch = _have_torch()
    if not use_torch:
        notes.append("torch is not installed: torch columns are empty")
    torch_version = None
    if use_torch:
        import torch

        torch_version = torch.__version__
    set_threads(threads)
    names = list(models or (QUICK_MODELS if quick else MODELS))
    repeats = int(repeats or (3 if quick else 7))
    warmup = int(warmup if warmup is not None else (1 if quick else 2))
    if inference_batches is None:
        inference_batches = (1, 128)
    if quick and models is None:
        notes.append("--quick: resnet18 skipped, fewer repeats")
    result = {"machine": dict(machine_info(threads), torch=torch_version),
              "config": {"quick": quick, "repeats": repeats, "warmup": warmup, "dtype": "float32",
                         "optimizer": "SGD(lr=0.01, momentum=0.9)", "loss": "CrossEntropyLoss",
                         "inference_batches": list(inference_batches)},
              "gemm": {"n": 1024, "gflops": gemm_rate(1024, repeats=3 if quick else 7),
                       "convlab_gflops": gemm_rate(1024, repeats=3 if quick else 7, matmul=gemm.matmul),
                       "convlab_gemm": "compiled AVX-512" if gemm.native_enabled() else "numpy.matmul"},
              "training": [], "inference": [], "memory": [], "seed_loops": None, "conv_suite": None, "notes": notes}
    if log:
        log(f"float32 GEMM 1024 on {threads} thread(s): numpy {result['gemm']['gflops']:.1f} GFLOP/s, "
            f"convlab ({result['gemm']['convlab_gemm']}) {result['gemm']['convlab_gflops']:.1f} GFLOP/s")
    for name in names:
        started = time.perf_counter()
        rows = bench_model(name, shape, batch, repeats=repeats if name != "resnet18" else max(2, repeats // 2),
                           warmup=warmup if name != "resnet18" else 1,
                           inference_batches=tuple(b for b in inference_batches if not (name == "resnet18" and quick and b > 16)),
                           use_torch=use_torch, log=log)
        result["training"] += [r for r in rows if r["kind"] == "train"]
        result["inference"] += [r for r in rows if r["kind"] == "infer"]
        if log:
            log(f"  ({name}: {time.perf_counter() - started:.0f} s)")
    if memory:
        result["memory"] = memory_rows(names, batch=batch, shape=shape, use_torch=use_torch, threads=threads, log=log)
    if seed_loops:
        result["seed_loops"] = seed_loop_speedup()
    if conv and quick:
        notes.append("--quick: per-layer conv suite skipped (run without --quick, or benchmarks/conv.py)")
    elif conv:
        suite, why = conv_suite(quick, result["gemm"]["gflops"], use_torch)
        result["conv_suite"] = suite
        if why:
            notes.append(why)
    return result


def _fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def _format_row(r):
    return (f"{r['kind']:5s} {r['model']:9s} batch {r['batch']:4d}: convlab {_fmt(r['convlab_ips'])} img/s, "
            f"torch {_fmt(r['torch_ips'])} img/s, ratio {_fmt(r['ratio'], '.2f')}")


def format_markdown(result: dict) -> str:
    """The result as markdown tables (ratio = convlab time / torch time; lower is better)."""
    m, g = result["machine"], result["gemm"]
    lines = [f"Machine: {m.get('cpu', m['machine'])}, {m['cpu_count']} cores, {m['threads']} thread(s); "
             f"numpy {m['numpy']}, torch {m.get('torch') or 'absent'}; "
             f"float32 GEMM (1024^3) NumPy {g['gflops']:.1f} GFLOP/s, convlab's "
             f"({g.get('convlab_gemm', 'numpy.matmul')}) {g.get('convlab_gflops', float('nan')):.1f} GFLOP/s",
             "",
             "| training step | input | batch | convlab img/s | torch img/s | ratio | target |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["training"]:
        ok = "" if r.get("meets_target") is None else (" ok" if r["meets_target"] else " MISS")
        lines.append(f"| {r['model']} | {'x'.join(map(str, r['input']))} | {r['batch']} | {_fmt(r['convlab_ips'])} | "
                     f"{_fmt(r['torch_ips'])} | {_fmt(r['ratio'], '.2f')}x | <= {r.get('target', '-')}x{ok} |")
    lines += ["", "| inference | batch | convlab img/s | torch img/s | ratio |", "|---|---:|---:|---:|---:|"]
    for r in result["inference"]:
        lines.append(f"| {r['model']} | {r['batch']} | {_fmt(r['convlab_ips'])} | {_fmt(r['torch_ips'])} | "
                     f"{_fmt(r['ratio'], '.2f')}x |")
    if result["memory"]:
        lines += ["", "| peak memory (training step) | batch | convlab MB (step +MB) | torch MB (step +MB) | ratio |",
                  "|---|---:|---:|---:|---:|"]
        for r in result["memory"]:
            t = r["torch"]
            lines.append(f"| {r['model']} | {r['batch']} | {r['convlab']['peak_mb']:.0f} (+{r['convlab']['step_mb']:.0f}) | "
                         + ("-" if t is None else f"{t['peak_mb']:.0f} (+{t['step_mb']:.0f})")
                         + f" | {_fmt(r['ratio'], '.2f')}x |")
    suite = result.get("conv_suite")
    if suite and suite.get("layers"):
        lines += ["", "| conv2d layer | fwd ms convlab / torch | ratio | fwd+bwd ms convlab / torch | ratio "
                  "| GFLOP/s f+b | of GEMM |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in suite["layers"]:
            lines.append(f"| {r['layer']} | {r['convlab_fwd_ms']:.2f} / {r['torch_fwd_ms']:.2f} | {r['fwd_ratio']:.2f}x | "
                         f"{r['convlab_fwdbwd_ms']:.2f} / {r['torch_fwdbwd_ms']:.2f} | {r['fwdbwd_ratio']:.2f}x | "
                         f"{r['fwdbwd_gflops']:.1f} | {r['fraction_of_gemm']:.0%} |")
        lines.append(f"| geometric mean | | {suite['geomean_fwd_ratio']:.2f}x | | {suite['geomean_fwdbwd_ratio']:.2f}x | | |")
        geo = suite["geomean_fwdbwd_ratio"]
        lines.append("\nfwd+bwd geometric-mean targets: " + ", ".join(
            f"{name} <= {t}x {'ok' if geo <= t else 'MISS'}" for name, t in suite["targets_fwdbwd"].items()))
    s = result.get("seed_loops")
    if s:
        lines += ["", f"Seed loop conv2d {tuple(s['input'])} * {tuple(s['weight'])}: loop {s['loop_ms']:.1f} ms, "
                      f"fast path {s['fast_ms']:.2f} ms ({s['speedup']:.0f}x faster)"]
    for note in result["notes"]:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)


def _main(argv=None):  # ``python -m convlab.bench --memory-child SPEC`` (the memory subprocess)
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "--memory-child":
        spec = json.loads(argv[1])
        out = _memory_child(spec["lib"], spec["name"], tuple(spec["shape"]), spec["batch"], spec["steps"], spec["threads"])
        print(json.dumps(out))
        return 0
    from .commands.bench import standalone

    return standalone(argv)


if __name__ == "__main__":
    sys.exit(_main())
