"""Data-parallel throughput: images/s with 1 and 2 MPI ranks, all-reduce time per step,
and a scaling estimate for N hosts from the measured bytes per step.

    python benchmarks/distributed.py            # launches both runs itself through mpirun
    python benchmarks/distributed.py --bandwidth-gbit 10

Each rank computes its shard of a fixed global batch of a LeNet-5-sized CNN on 28x28
inputs. The estimate for N hosts assumes one rank per host, a ring all-reduce that moves
2 (N-1)/N of the gradient bytes per rank per step, the given link bandwidth, no overlap
with compute, and compute time per image equal to the measured 1-rank time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np


def worker(args) -> None:
    import convlab as cl
    from convlab import distributed as dist
    from convlab import nn

    if dist.launched_by_mpi():
        dist.init()
    world = dist.world_size()
    cl.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    dist.broadcast_parameters(model)
    reducer = dist.GradientReducer(model)
    opt = cl.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    local = args.global_batch // world
    rng = np.random.default_rng(dist.rank())
    x = cl.tensor(rng.standard_normal((local, 1, 28, 28)).astype(np.float32))
    y = cl.tensor(rng.integers(0, 10, local))
    comm_times, step_times = [], []
    for step in range(args.warmup + args.steps):
        dist.barrier()
        t0 = time.perf_counter()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        reducer.reduce()
        opt.step()
        if step >= args.warmup:
            step_times.append(time.perf_counter() - t0)
            comm_times.append(reducer.last_seconds)
    if dist.is_main_process():
        print(json.dumps({
            "ranks": world, "global_batch": args.global_batch,
            "images_per_s": args.global_batch / float(np.median(step_times)),
            "step_ms": 1e3 * float(np.median(step_times)), "allreduce_ms": 1e3 * float(np.median(comm_times)),
            "bytes_per_step": reducer.last_bytes,
        }))


def launch(args) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    base = [sys.executable, __file__, "--worker", "--global-batch", str(args.global_batch), "--steps", str(args.steps)]
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        sys.exit("mpirun not found: apt-get install openmpi-bin; pip install 'convlab[distributed]'")
    results = []
    for n in (1, 2):
        cmd = [mpirun, "--oversubscribe", "--allow-run-as-root", "-n", str(n)] + base
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    one = results[0]
    print(f"LeNet-5 on 28x28, global batch {args.global_batch}, float32, 1 BLAS thread per rank\n")
    print("| ranks | images/s | step ms | all-reduce ms | gradient bytes/step |")
    print("|---|---|---|---|---|")
    for r in results:
        cells = [r["ranks"], f"{r['images_per_s']:.0f}", f"{r['step_ms']:.1f}", f"{r['allreduce_ms']:.2f}",
                 f"{r['bytes_per_step']:,}"]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    per_image = one["step_ms"] / 1e3 / args.global_batch
    nbytes = results[1]["bytes_per_step"]
    bw = args.bandwidth_gbit * 1e9 / 8
    print(f"\nEstimate for N hosts at {args.bandwidth_gbit:g} Gbit/s (ring all-reduce, {nbytes:,} bytes/step, "
          f"per-host batch {args.global_batch}):\n")
    print("| hosts | compute ms | all-reduce ms | images/s | speed-up |")
    print("|---|---|---|---|---|")
    for n in (1, 2, 4, 8, 16, 32):
        compute = per_image * args.global_batch
        comm = 0.0 if n == 1 else 2 * (n - 1) / n * nbytes / bw
        ips = n * args.global_batch / (compute + comm)
        print(f"| {n} | {compute * 1e3:.1f} | {comm * 1e3:.2f} | {ips:.0f} | {ips / (args.global_batch / compute):.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--global-batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--bandwidth-gbit", type=float, default=10.0)
    args = ap.parse_args()
    worker(args) if args.worker else launch(args)


if __name__ == "__main__":
    main()
