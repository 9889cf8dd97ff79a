"""The flat-grid GEMMs of ResNet-20's 3x3 layers at batch 128, as a training step meets them.

    python benchmarks/grid_gemm.py [--threads N] [--isa avx512|avx2]

For the 16/32/64-channel layers (32/16/8 px, padding 1) it times the forward product
(``sgemm_shifted``: the column matrix read in place from the padded grid) and the weight
gradient's (``sgemm_dot_shifted``), chunked over the batch as ``ops/conv_shift.py`` chunks them,
each call on a different one of four layer-sized buffers so that the data comes from memory or
the L3 cache, not from the cache a previous repeat left warm (what a step sees: the grid was
written by the op before). Prints GFLOP/s (median of 8), ``2 * MACs`` of the grid positions
computed. This is where the rows' prefetch in ``src/convlab/_sgemm.h`` (``ROW_PREFETCH``) was
measured (benchmarks/README.md, "Choosing kernels by CPU").
"""

import argparse
import time

import numpy as np


def time_layer(sgemm, ch, hw, threads, n=128, copies=4):
    """GFLOP/s of the forward and weight-gradient products of one ``ch``-channel 3x3 layer."""
    rng = np.random.default_rng(ch)
    g = hw + 2
    plane, span = g * g, hw * g
    bufs = [rng.random((ch, 2 * g + 2 + n * plane), dtype=np.float32) for _ in range(copies)]
    gys = [rng.random((ch, n * plane), dtype=np.float32) for _ in range(copies)]
    shifts = np.array([ky * g + kx for ky in range(3) for kx in range(3)])
    rowoff = (np.arange(ch)[:, None] * bufs[0].shape[1] + shifts[None]).ravel().astype(np.int64)
    w = rng.random((ch, ch * 9), dtype=np.float32)
    per = max(1, (1 << 20) // (ch * span * 4))  # conv_shift's 1 MiB chunks of output
    out = np.empty((ch, per * span), np.float32)
    per_dot = max(1, (1 << 20) // (2 * ch * plane * 4))
    gw = np.empty((ch, ch * 9), np.float32)

    def forward(i):
        for s0 in range(0, n, per):
            s1 = min(n, s0 + per)
            sgemm.sgemm_shifted(w, bufs[i % copies], rowoff + s0 * plane, span, plane, out[:, :(s1 - s0) * span],
                                False, threads)

    def weight_grad(i):
        for s0 in range(0, n, per_dot):
            s1 = min(n, s0 + per_dot)
            gy = np.ascontiguousarray(gys[i % copies][:, s0 * plane:s1 * plane])
            sgemm.sgemm_dot_shifted(gy, bufs[i % copies], rowoff + s0 * plane, gw, s0 > 0, threads)

    rates = {}
    for name, fn, flops in [("forward", forward, 2 * ch * ch * 9 * n * span),
                            ("weight grad", weight_grad, 2 * ch * ch * 9 * n * plane)]:
        fn(0)
        times = []
        for i in range(1, 9):
            t = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t)
        rates[name] = flops / np.median(times) / 1e9
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--isa", choices=("avx512", "avx2"), default=None, help="force a micro-kernel set")
    args = parser.parse_args()
    from convlab.ops import gemm

    if not gemm.native_available():
        raise SystemExit("grid_gemm.py: convlab's compiled GEMM is not available here")
    if args.isa:
        gemm.set_isa(args.isa)
    print(f"kernels {gemm.isa()}, {args.threads} thread(s)")
    for ch, hw in [(16, 32), (32, 16), (64, 8)]:
        for name, rate in time_layer(gemm._sgemm, ch, hw, args.threads).items():
            print(f"{ch:3d} channels {hw:2d} px  {name:11s} {rate:6.0f} GFLOP/s")


if __name__ == "__main__":
    main()
