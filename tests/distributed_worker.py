"""Worker for tests/test_distributed.py: trains a tiny CNN for a few steps, either in one
process or as one rank of an ``mpirun`` job, and writes the final weights to ``--out``.

With ``--die-rank R`` rank R exits abruptly before the first all-reduce (fault test).

``python distributed_worker.py train ARGS...`` runs ``convlab train ARGS...`` instead, with
fault injection for tests/test_train_distributed.py: ``CONVLAB_TEST_FAULT=RANK:STEP:SIGNAL``
makes rank RANK send itself SIGNAL (KILL: it dies; STOP: it hangs) when it reaches the
gradient all-reduce of step STEP. The library knows nothing of this; it is test-only.
"""

import argparse
import os
import signal
import sys

import numpy as np

import convlab as cl
from convlab import distributed as dist
from convlab import nn


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--global-batch", type=int, default=8)
    ap.add_argument("--die-rank", type=int, default=-1)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--sync-bn", action="store_true", help="add a batch-norm layer synchronised across ranks")
    args = ap.parse_args()
    dtype = np.dtype(args.dtype)

    if dist.launched_by_mpi():
        dist.init()
    world, rank = dist.world_size(), dist.rank()
    cl.manual_seed(1234 + rank)  # different local seeds: the broadcast must make weights equal
    layers = [nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)]
    if args.sync_bn:
        layers.insert(1, nn.BatchNorm2d(4))
    model = nn.Sequential(*layers).to(dtype)
    if args.sync_bn:
        dist.convert_sync_batchnorm(model, timeout=args.timeout)
    dist.broadcast_parameters(model)
    reducer = dist.GradientReducer(model, bucket_bytes=512, timeout=args.timeout)  # small buckets: several
    opt = cl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    rng = np.random.default_rng(0)
    images = rng.standard_normal((64, 1, 8, 8)).astype(dtype)
    labels = rng.integers(0, 3, 64)
    sampler = dist.DistributedSampler(len(images), shuffle=True, seed=7)
    local_batch = args.global_batch // world
    order = sampler.indices()
    for step in range(args.steps):
        if step == 0 and rank == args.die_rank:
            os._exit(3)
        idx = order[step * local_batch : (step + 1) * local_batch]
        loss = loss_fn(model(cl.tensor(images[idx])), cl.tensor(labels[idx]))
        opt.zero_grad()
        loss.backward()
        summed = reducer.reduce(extra=[rank + 1.0, 2.0])  # numbers travel with the gradients, summed over the ranks
        assert summed.tolist() == [world * (world + 1) / 2, 2.0 * world], summed
        opt.step()
    if dist.is_main_process():
        np.savez(args.out, **{k: v.numpy() for k, v in model.state_dict().items()})
    dist.barrier(args.timeout)


def train_with_fault(argv) -> int:
    from convlab.cli import main as cli_main

    spec = os.environ.get("CONVLAB_TEST_FAULT")
    if spec:
        fault_rank, fault_step, name = spec.split(":")
        sig = getattr(signal, f"SIG{name}")
        reduce = dist.GradientReducer.reduce
        calls = [0]

        def reduce_with_fault(self, *args, **kwargs):
            calls[0] += 1
            if calls[0] == int(fault_step) and dist.rank() == int(fault_rank):
                os.kill(os.getpid(), sig)
            return reduce(self, *args, **kwargs)

        dist.GradientReducer.reduce = reduce_with_fault
    return cli_main(["train", *argv])


if __name__ == "__main__":
    if sys.argv[1:2] == ["train"]:
        sys.exit(train_with_fault(sys.argv[2:]))
    sys.exit(main())
