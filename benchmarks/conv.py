"""Convolution and pooling speed: convlab against torch, same thread count, same run.

    python benchmarks/conv.py            # the full suite (batch 64, float32)
    python benchmarks/conv.py --quick    # fewer repetitions
    python benchmarks/conv.py --threads 1

For every layer shape it prints convlab and torch milliseconds for the forward pass and for
forward + backward (input, weight and bias gradients), their ratio, convlab's GFLOP/s and that
rate as a fraction of NumPy's float32 GEMM rate measured at the start of the same run; then
the geometric-mean ratios, pooling timings, and how much faster the fast tier is than the
seeds' loops (convlab.reference). Each timing is the minimum over repetitions, with convlab and
torch interleaved so that both see the same machine load.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time


def _args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for convlab (and its BLAS) and torch (default: the cores this process may use)")
    p.add_argument("--repeat", type=int, default=None, help="timed repetitions per measurement")
    p.add_argument("--only", default="", help="comma-separated shape names to run")
    return p.parse_args()


ARGS = _args() if __name__ == "__main__" else None
THREADS = (ARGS.threads if ARGS and ARGS.threads else None) or len(os.sched_getaffinity(0))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)  # before NumPy loads its BLAS

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import convlab as cl  # noqa: E402
import convlab.functional as F  # noqa: E402
from convlab import reference as R  # noqa: E402
from convlab.ops import gemm as gemm_ops  # noqa: E402

BATCH = 64
# name: (input shape, weight shape, conv2d keyword arguments)
SUITE = {
    "lenet5.conv1 28px": ((BATCH, 1, 28, 28), (6, 1, 5, 5), {"padding": 2}),
    "lenet5.conv2 14px": ((BATCH, 6, 14, 14), (16, 6, 5, 5), {}),
    "smallcnn.conv1 32px": ((BATCH, 3, 32, 32), (32, 3, 3, 3), {"padding": 1}),
    "smallcnn.conv2 16px": ((BATCH, 32, 16, 16), (64, 32, 3, 3), {"padding": 1}),
    "resnet20 16ch 32px": ((BATCH, 16, 32, 32), (16, 16, 3, 3), {"padding": 1}),
    "resnet20 32ch 16px": ((BATCH, 32, 16, 16), (32, 32, 3, 3), {"padding": 1}),
    "resnet20 64ch 8px": ((BATCH, 64, 8, 8), (64, 64, 3, 3), {"padding": 1}),
    "resnet20 16>32 s2": ((BATCH, 16, 32, 32), (32, 16, 3, 3), {"padding": 1, "stride": 2}),
    "stem 7x7/2 224px b8": ((8, 3, 224, 224), (64, 3, 7, 7), {"padding": 3, "stride": 2}),
    "depthwise 3x3 32ch": ((BATCH, 32, 32, 32), (32, 1, 3, 3), {"padding": 1, "groups": 32}),
}
POOLS = {
    "max_pool2d 2x2 (64,32,32,32)": ((BATCH, 32, 32, 32), "max_pool2d", {"kernel_size": 2}),
    "max_pool2d 3x3/2 (8,64,112,112)": ((8, 64, 112, 112), "max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1}),
    "avg_pool2d 2x2 (64,64,16,16)": ((BATCH, 64, 16, 16), "avg_pool2d", {"kernel_size": 2}),
    "adaptive_avg_pool2d 1 (64,64,8,8)": ((BATCH, 64, 8, 8), "adaptive_avg_pool2d", {"output_size": 1}),
}


# Idle worker threads spin a while before they sleep (torch's OpenMP workers 7-9 ms after a
# 2-thread call on the 2-vCPU Zen 5 VM): a call timed straight after the other library's shares its
# cores with those spinners. As convlab bench's training steps (bench/runners.py), a layer timed
# with several threads follows a pause and one untimed call of its own, so each library runs alone.
SETTLE = 0.02


def best_of(fns, repeat, settle=0.0):
    """Minimum seconds of each function over ``repeat`` interleaved rounds (after one warm-up).
    With ``settle``, each timed call follows a pause of that many seconds and an untimed call."""
    for f in fns:
        f()
    best = [math.inf] * len(fns)
    for _ in range(repeat):
        for i, f in enumerate(fns):
            if settle:
                time.sleep(settle)
                f()
            t = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def gemm_rate(repeat, matmul=np.matmul):
    """float32 GEMM GFLOP/s on 1024x1024 matrices: NumPy's, or ``matmul``'s."""
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    (t,) = best_of([lambda: matmul(a, a)], repeat)
    return 2 * 1024**3 / t / 1e9


def conv_flops(xs, ws, out_shape):
    """Multiply-adds * 2 of one forward pass."""
    return 2 * out_shape[0] * math.prod(out_shape[1:]) * math.prod(ws[1:])


def time_conv(torch, rng, xs, ws, kw, repeat):
    """(convlab fwd, torch fwd, convlab fwd+bwd, torch fwd+bwd) seconds, and the output shape."""
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / math.sqrt(math.prod(ws[1:]))).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    cx, cw, cb = (cl.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(cx, cw, cb, **kw)
    g = rng.standard_normal(out.shape).astype(np.float32)
    tg = torch.tensor(g)
    ref = torch.nn.functional.conv2d(tx, tw, tb, **kw).detach().numpy()
    err = np.abs(out.detach().numpy() - ref).max() / np.abs(ref).max()
    assert err < 1e-4, f"convlab and torch disagree (rel err {err:.1e})"

    def c_fwd():
        with cl.no_grad():
            F.conv2d(cx, cw, cb, **kw)

    def t_fwd():
        with torch.no_grad():
            torch.nn.functional.conv2d(tx, tw, tb, **kw)

    def c_fb():
        F.conv2d(cx, cw, cb, **kw).backward(g)

    def t_fb():
        torch.nn.functional.conv2d(tx, tw, tb, **kw).backward(tg)

    settle = SETTLE if cl.get_num_threads() > 1 else 0.0
    return best_of([c_fwd, t_fwd, c_fb, t_fb], repeat, settle), out.shape


def bench_convs(torch, repeat, gemm, only):
    rng = np.random.default_rng(0)
    rows = []
    for name, (xs, ws, kw) in SUITE.items():
        if only and name not in only:
            continue
        (cf, tf, cfb, tfb), out_shape = time_conv(torch, rng, xs, ws, kw, repeat)
        flops = conv_flops(xs, ws, out_shape)
        rows.append((name, cf, tf, cfb, tfb, flops))
        gf = 3 * flops / cfb / 1e9
        print(f"{name:22s} {cf * 1e3:8.2f} {tf * 1e3:8.2f} {cf / tf:6.2f} | {cfb * 1e3:8.2f} {tfb * 1e3:8.2f} {cfb / tfb:6.2f}"
              f" | {flops / cf / 1e9:7.1f} {gf:7.1f} {gf / gemm:6.2f}", flush=True)
    return rows


def time_pool(torch, rng, xs, fn, kw, repeat):
    x = rng.standard_normal(xs).astype(np.float32)
    cx, tx = cl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = getattr(F, fn), getattr(torch.nn.functional, fn)
    g = rng.standard_normal(ours(cx, **kw).shape).astype(np.float32)
    tg = torch.tensor(g)
    settle = SETTLE if cl.get_num_threads() > 1 else 0.0
    return best_of([lambda: ours(cx, **kw).backward(g), lambda: theirs(tx, **kw).backward(tg)], repeat, settle)


def bench_pools(torch, repeat):
    rng = np.random.default_rng(1)
    ratios = []
    for name, (xs, fn, kw) in POOLS.items():
        cfb, tfb = time_pool(torch, rng, xs, fn, kw, repeat)
        ratios.append(cfb / tfb)
        print(f"{name:36s} {cfb * 1e3:8.2f} {tfb * 1e3:8.2f} {cfb / tfb:6.2f}", flush=True)
    return ratios


def bench_tiers(repeat):
    """Fast tier vs the seeds' loops on the same work."""
    rng = np.random.default_rng(2)
    image, kernel = rng.standard_normal((28, 28)), rng.standard_normal((5, 5))
    lists = image.tolist(), kernel.tolist()
    x1, k1 = cl.tensor(image[None, None]), cl.tensor(kernel[None, None])
    slow, fast = best_of([lambda: R.convolve_2d(*lists), lambda: F.conv2d(x1, k1)], max(1, repeat // 3))
    print(f"{'seed 000 lists, 28x28 * 5x5':36s} {slow * 1e3:9.2f} {fast * 1e3:8.3f} {slow / fast:8.0f}x")
    X, W, b = rng.standard_normal((3, 32, 32)), rng.standard_normal((32, 3, 3, 3)), rng.standard_normal(32)
    xt, wt, bt = cl.tensor(X[None]), cl.tensor(W), cl.tensor(b)
    slow, fast = best_of([lambda: R.conv2d_naive(X, W, b, padding=1), lambda: F.conv2d(xt, wt, bt, padding=1)],
                         max(1, repeat // 3))
    print(f"{'seed 001 naive, smallcnn.conv1 b1':36s} {slow * 1e3:9.2f} {fast * 1e3:8.3f} {slow / fast:8.0f}x")
    Xb = rng.standard_normal((BATCH, 3, 32, 32))
    xb = cl.tensor(Xb)
    slow, fast = best_of([lambda: R.conv2d_batch(Xb, W, b, padding=1), lambda: F.conv2d(xb, wt, bt, padding=1)], repeat)
    print(f"{'seed 001 im2col, smallcnn.conv1 b64':36s} {slow * 1e3:9.2f} {fast * 1e3:8.3f} {slow / fast:8.1f}x")


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main():
    import torch

    torch.set_num_threads(THREADS)
    cl.set_num_threads(THREADS)  # convlab's pools and NumPy's BLAS
    repeat = ARGS.repeat or (3 if ARGS.quick else 10)
    only = {s.strip() for s in ARGS.only.split(",") if s.strip()}
    gemm = gemm_rate(repeat)
    print(f"convlab {cl.__version__}, numpy {np.__version__}, torch {torch.__version__}; threads {THREADS} "
          f"(torch {torch.get_num_threads()}); float32; min of {repeat} runs")
    ours = "compiled AVX-512" if gemm_ops.native_enabled() else "numpy.matmul"
    print(f"NumPy float32 GEMM (1024^3): {gemm:.1f} GFLOP/s; convlab's ({ours}): "
          f"{gemm_rate(repeat, gemm_ops.matmul):.1f} GFLOP/s; /GEMM below is against NumPy's\n")
    print(f"{'conv2d':22s} {'fwd ms':>8s} {'torch':>8s} {'ratio':>6s} | {'f+b ms':>8s} {'torch':>8s} {'ratio':>6s}"
          f" | {'GF/s f':>7s} {'GF/s fb':>7s} {'/GEMM':>6s}")
    rows = bench_convs(torch, repeat, gemm, only)
    if rows:
        fwd = geomean([r[1] / r[2] for r in rows])
        fb = geomean([r[3] / r[4] for r in rows])
        print(f"\ngeometric-mean ratio convlab/torch: forward {fwd:.2f}, forward+backward {fb:.2f} (target <= 1.5)\n")
    if not only:
        print(f"{'pooling (forward+backward)':36s} {'ms':>8s} {'torch':>8s} {'ratio':>6s}")
        print(f"geometric-mean pooling ratio: {geomean(bench_pools(torch, repeat)):.2f}\n")
        print(f"{'fast tier vs seed loops':36s} {'loop ms':>9s} {'fast ms':>8s} {'speedup':>9s}")
        bench_tiers(repeat)


if __name__ == "__main__":
    main()
