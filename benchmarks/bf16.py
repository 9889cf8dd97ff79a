"""bfloat16 products (``set_float32_matmul_precision("medium")``) against float32, on CPUs with AVX512_BF16.

    python benchmarks/bf16.py [--threads N ...]

For each thread count (the default count first, then 1) it prints GFLOP/s of

- a 1024^3 product: convlab's float32 GEMM (``_sgemm``), its bfloat16 twin (``_sgemm_bf16``),
  and torch's float32 matmul and bfloat16 matmul (bf16 tensors, bf16 result) for scale;
- ResNet-20's three 3x3 layers at batch 128 as a training step meets them (``grid_gemm.py``'s
  forward ``sgemm_shifted`` and weight-gradient ``sgemm_dot_shifted``), on each module;
- one convolution layer's forward and backward through convlab (64 channels, 16 x 16, batch
  128), in milliseconds, under "highest" and "medium".

GFLOP/s count ``2 * m * n * k`` of the float32 product either way (a bfloat16 product does the
same multiply-adds on rounded inputs). The CPU and the load average are printed with the numbers.
"""

import argparse
import os
import time

import numpy as np
from grid_gemm import time_layer

import convlab
import convlab.functional as F
from convlab.bench.machine import machine_info
from convlab.ops import gemm, gemm_bf16


def _seconds(fn, repeats=7):
    """The median time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _rate(fn, flops, repeats=7):
    return flops / _seconds(fn, repeats) / 1e9


def square(threads, n=1024):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    c = np.empty((n, n), np.float32)
    flops = 2 * n**3
    rates = {"convlab float32": _rate(lambda: gemm._sgemm.sgemm(a, b, c, False, threads), flops),
             "convlab bf16": _rate(lambda: gemm_bf16._sgemm_bf16.sgemm(a, b, c, False, threads), flops)}
    try:
        import torch
    except ImportError:
        return rates
    torch.set_num_threads(threads)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    rates["torch float32"] = _rate(lambda: torch.matmul(ta, tb), flops)
    ha, hb = ta.bfloat16(), tb.bfloat16()
    rates["torch bf16 tensors"] = _rate(lambda: torch.matmul(ha, hb), flops)
    return rates


def conv_layer_ms(precision, ch=64, hw=16, batch=128, repeats=5):
    rng = np.random.default_rng(1)
    x = convlab.tensor(rng.standard_normal((batch, ch, hw, hw), dtype=np.float32), requires_grad=True)
    w = convlab.tensor(rng.standard_normal((ch, ch, 3, 3), dtype=np.float32) * 0.05, requires_grad=True)
    g = convlab.tensor(rng.standard_normal((batch, ch, hw, hw), dtype=np.float32))
    convlab.set_float32_matmul_precision(precision)

    def step():
        x.grad = w.grad = None
        F.conv2d(x, w, padding=1).backward(g)

    try:
        return 1e3 * _seconds(step, repeats)
    finally:
        convlab.set_float32_matmul_precision("highest")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default: convlab's, then 1)")
    args = parser.parse_args()
    if not (gemm.native_available() and gemm_bf16.bf16_available()):
        raise SystemExit("bf16.py: needs convlab's compiled GEMM and a CPU with AVX512_BF16 "
                         f"(float32 GEMM: {gemm.native_available()}, bfloat16 GEMM: {gemm_bf16.bf16_available()})")
    counts = args.threads or list(dict.fromkeys([convlab.get_num_threads(), 1]))
    info = machine_info(counts[0])
    family = next((line.split(":")[1].strip() for line in open("/proc/cpuinfo") if line.startswith("cpu family")), "?") \
        if os.path.exists("/proc/cpuinfo") else "?"
    print(f"{info.get('cpu', '?')} (family {family}), {os.cpu_count()} logical CPUs; "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    for threads in counts:
        convlab.set_num_threads(threads)
        print(f"\n{threads} thread(s)")
        rates = square(threads)
        print("  1024^3           " + "  ".join(f"{k} {v:5.0f}" for k, v in rates.items()) + "  GFLOP/s")
        for ch, hw in [(16, 32), (32, 16), (64, 8)]:
            f32 = time_layer(gemm._sgemm, ch, hw, threads)
            b16 = time_layer(gemm_bf16._sgemm_bf16, ch, hw, threads)
            for part in f32:
                print(f"  {ch:2d} ch {hw:2d} px {part:11s}  float32 {f32[part]:5.0f}  bf16 {b16[part]:5.0f} GFLOP/s "
                      f"({b16[part] / f32[part]:.2f}x)")
        hi, med = conv_layer_ms("highest"), conv_layer_ms("medium")
        print(f"  conv 64 ch 16 px batch 128, forward + backward: highest {hi:.1f} ms, medium {med:.1f} ms "
              f"({hi / med:.2f}x)")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
