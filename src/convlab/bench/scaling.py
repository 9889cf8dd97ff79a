"""How convlab scales with threads: the same training steps and inference batches at 1, 2, ...
N threads, interleaved round by round (so a noisy machine slows every count alike), minimum of
the repeats (the median is kept in the JSON), with the
parallel efficiency ``t1 / (n * tn)``, the parallel fraction Amdahl's law gives from the
measured speed-up, and from it an *estimate* of the time on 16 cores. Its rows are also the
"never slower" check: at every count, every row at most ``1 + NOISE`` times its 1-thread time.
"""

from __future__ import annotations

import time

import numpy as np

from .machine import set_threads
from .runners import _ConvlabRunner
from .twins import MODELS

NOISE = 0.05  # a row may be this much slower with more threads before the check fails
ESTIMATE_CORES = 16


def thread_counts(n: int) -> list[int]:
    """1, 2, 4, ... up to and including ``n``."""
    counts, t = [], 1
    while t < n:
        counts.append(t)
        t *= 2
    return counts + [n]


def _timed(counts, fn, repeats, warmup):
    """(minimum, median) seconds of ``fn`` at each thread count, the counts interleaved round by
    round. The check and the table use the minimum, the conv suite's statistic too: a row whose
    work is the same at every count (a model the size rule keeps on one thread) differs only by
    what the neighbours took, and the minimum is the time with the least of that."""
    for t in counts:
        set_threads(t)
        for _ in range(warmup):
            fn()
    times = {t: [] for t in counts}
    for _ in range(repeats):
        for t in counts:
            set_threads(t)
            start = time.perf_counter()
            fn()
            times[t].append(time.perf_counter() - start)
    return {t: (float(np.min(v)), float(np.median(v))) for t, v in times.items()}


def amdahl(counts, secs):
    """(parallel fraction p, estimated seconds on ESTIMATE_CORES) from the 1-thread and the
    largest count's times: ``tn = t1 * ((1 - p) + p / n)``; p clipped to [0, 1]."""
    n = counts[-1]
    if n < 2:
        return None, None
    p = (1 - secs[n] / secs[1]) / (1 - 1 / n)
    p = min(max(p, 0.0), 1.0)
    return p, secs[1] * ((1 - p) + p / ESTIMATE_CORES)


def scaling_rows(names, max_threads, *, repeats=5, warmup=1, inference_batches=(1, 128), log=None):
    """For each model: its training step and inference at each batch, at every thread count."""
    counts = thread_counts(max_threads)
    rows = []
    for name in names:
        shape, batch, _ = MODELS[name]
        runner = _ConvlabRunner(name, shape, batch)
        cases = [("train", batch, runner.train_step)]
        for b in inference_batches:
            x = runner.input(b, shape)
            cases.append(("infer", b, lambda x=x, runner=runner: runner.infer(x)))
        for kind, b, fn in cases:
            both = _timed(counts, fn, repeats if not (kind == "infer" and b == 1) else max(repeats, 10), warmup)
            secs = {t: v[0] for t, v in both.items()}
            p, est = amdahl(counts, secs)
            row = {"model": name, "kind": kind, "batch": b, "threads": counts,
                   "ms": [secs[t] * 1e3 for t in counts], "median_ms": [both[t][1] * 1e3 for t in counts],
                   "efficiency": [secs[1] / (t * secs[t]) for t in counts],
                   "parallel_fraction": p, "estimate_ms_16": None if est is None else est * 1e3,
                   "worst_vs_one": max(secs[t] / secs[1] for t in counts)}
            rows.append(row)
            if log:
                log(f"scaling {kind} {name} batch {b}: " + ", ".join(f"{t}t {secs[t] * 1e3:.2f} ms" for t in counts))
    return {"threads": counts, "rows": rows, "noise": NOISE, "estimate_cores": ESTIMATE_CORES}


def conv_layer_rows(suite, max_threads, repeats=10):
    """convlab alone on each layer of ``suite`` (benchmarks/conv.py's ``SUITE``: name -> (input
    shape, weight shape, conv2d keywords)), forward and forward+backward at every thread count,
    the counts interleaved round by round; minimum of ``repeats`` (the suite's own statistic)."""
    import convlab
    import convlab.functional as F

    counts = thread_counts(max_threads)
    rng = np.random.default_rng(0)
    rows = []
    for name, (xs, ws, kw) in suite.items():
        x = convlab.tensor(rng.standard_normal(xs, dtype=np.float32), requires_grad=True)
        w = convlab.tensor((rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32), requires_grad=True)
        with convlab.no_grad():
            g = rng.standard_normal(F.conv2d(x, w, **kw).shape).astype(np.float32)

        def fwd(x=x, w=w, kw=kw):
            with convlab.no_grad():
                F.conv2d(x, w, **kw)

        def fwdbwd(x=x, w=w, kw=kw, g=g):
            F.conv2d(x, w, **kw).backward(g)

        best = {}
        for key, fn in (("fwd", fwd), ("fwdbwd", fwdbwd)):
            times = {t: [] for t in counts}
            for t in counts:
                set_threads(t)
                fn()
            for _ in range(repeats):
                for t in counts:
                    set_threads(t)
                    start = time.perf_counter()
                    fn()
                    times[t].append(time.perf_counter() - start)
            best[key] = [min(times[t]) * 1e3 for t in counts]
        rows.append({"layer": name, "threads": counts, "fwd_ms": best["fwd"], "fwdbwd_ms": best["fwdbwd"]})
    return rows


def never_slower(scaling, conv_layers=None, conv_layers_one=None, conv_scaling=None):
    """Every scaling row and conv layer at most ``1 + NOISE`` times its 1-thread time:
    ``{"ok": bool, "worst": {...}, "slower": [...], "checked": count}``. Conv layers come from
    :func:`conv_layer_rows` (convlab alone, counts interleaved) when given, else from the conv
    suite run at all threads and at one (``conv_layers``, ``conv_layers_one``)."""
    checks = [(f"{r['kind']} {r['model']} batch {r['batch']}", r["worst_vs_one"]) for r in scaling["rows"]]
    for r in conv_scaling or ():
        for key in ("fwd", "fwdbwd"):
            ms = r[f"{key}_ms"]
            checks.append((f"conv {r['layer']} {key}", max(m / ms[0] for m in ms)))
    if conv_layers and conv_layers_one and not conv_scaling:
        one = {r["layer"]: r for r in conv_layers_one}
        for r in conv_layers:
            if r["layer"] in one:
                for key in ("convlab_fwd_ms", "convlab_fwdbwd_ms"):
                    checks.append((f"conv {r['layer']} {key.split('_')[1]}", r[key] / one[r["layer"]][key]))
    bad = [{"what": w, "ratio": v} for w, v in checks if v > 1 + NOISE]
    return {"ok": not bad, "checked": len(checks), "slower": bad,
            "worst": max(({"what": w, "ratio": v} for w, v in checks), key=lambda d: d["ratio"], default=None)}
