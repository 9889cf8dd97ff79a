"""DataLoader throughput with 0, 1 and 2 worker processes on an augmented Fashion-MNIST epoch,
torch-style: a vision.datasets.FashionMNIST (PIL images) with per-image transforms
(RandomCrop(28, padding=4), RandomHorizontalFlip, RandomRotation(10), ToTensor, Normalize), batch
128, shuffled. Prints images/s per worker count and the speed-up over 0 workers; torch's
DataLoader over the same convlab dataset, when torch is installed, for comparison (its workers run
the same Python transforms).

    python benchmarks/dataloader.py [--limit N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import convlab
from convlab.utils.data import DataLoader, Subset
from convlab.vision import datasets
from convlab.vision import transforms as T


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def epoch_rate(loader) -> float:
    start, n = time.perf_counter(), 0
    for images, _ in loader:
        n += len(images)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20000, help="images per epoch (default 20000 of the 60000)")
    parser.add_argument("--repeats", type=int, default=2, help="epochs timed per worker count; the best is kept")
    parser.add_argument("--workers", default="0,1,2")
    args = parser.parse_args()
    augment = T.Compose([T.RandomCrop(28, padding=4), T.RandomHorizontalFlip(), T.RandomRotation(10), T.ToTensor(),
                         T.Normalize((0.2860,), (0.3530,))])
    full = datasets.FashionMNIST(root=None, train=True, transform=augment)
    data = Subset(full, np.arange(min(args.limit, len(full))))
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs; convlab threads {convlab.get_num_threads()}")
    print(f"{len(data)} Fashion-MNIST training images per epoch, batch 128, shuffled, {args.repeats} epochs each\n")
    print("| workers | convlab images/s | vs 0 workers |" + (" torch DataLoader images/s |" if _torch() else ""))
    print("|---|---|---|" + ("---|" if _torch() else ""))
    base = None
    for n in (int(w) for w in args.workers.split(",")):
        loader = DataLoader(data, batch_size=128, shuffle=True, num_workers=n, persistent_workers=n > 0,
                            generator=convlab.Generator().manual_seed(0))
        rate = max(epoch_rate(loader) for _ in range(args.repeats))
        if loader._pool is not None:
            loader._pool.shutdown()
        base = base or rate
        row = f"| {n} | {rate:,.0f} | {rate / base:.2f}x |"
        torch = _torch()
        if torch is not None:
            tloader = torch.utils.data.DataLoader(data, batch_size=128, shuffle=True, num_workers=n,
                                                  persistent_workers=n > 0, collate_fn=_stack)
            row += f" {max(epoch_rate(tloader) for _ in range(args.repeats)):,.0f} |"
        print(row, flush=True)


def _stack(items):
    return np.stack([x.numpy() for x, _ in items]), np.array([y for _, y in items])


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


if __name__ == "__main__":
    main()
