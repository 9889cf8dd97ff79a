"""Data-parallel training over MPI: the sampler's sharding, and 2 ranks == 1 process."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from convlab import distributed as dist
from helpers import child_env, mpirun_command

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")


def test_sampler_shards_reassemble_the_global_batches():
    # rank r takes positions r, r+W, ...: batch b of each rank together is global batch b
    n, world, global_batch = 23, 2, 6
    single = dist.DistributedSampler(n, num_replicas=1, rank=0, seed=3)
    shards = [dist.DistributedSampler(n, num_replicas=world, rank=r, seed=3) for r in range(world)]
    order = single.indices()
    local = global_batch // world
    for b in range(n // global_batch):
        together = np.concatenate([s.indices()[b * local : (b + 1) * local] for s in shards])
        assert sorted(together) == sorted(order[b * global_batch : (b + 1) * global_batch])
    assert [len(s) for s in shards] == [12, 12]  # padded to divide evenly, as torch


def test_sampler_reshuffles_per_epoch_and_validates_rank():
    s = dist.DistributedSampler(10, num_replicas=2, rank=1, seed=0)
    first = s.indices().tolist()
    s.set_epoch(1)
    assert s.indices().tolist() != first and len(set(first)) == 5
    with pytest.raises(ValueError, match=r"rank 2 is outside \[0, 2\)"):
        dist.DistributedSampler(10, num_replicas=2, rank=2)


def test_reducer_in_one_process_keeps_gradients_and_returns_extra_numbers():
    import convlab as cl
    from convlab import nn

    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    x = cl.tensor(np.ones((4, 3), np.float32))
    model[0](x).sum().backward()  # the second layer is unused: its gradients stay None
    before = [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]
    reducer = dist.GradientReducer(model, bucket_bytes=16)
    assert len(reducer.buckets) > 1
    assert reducer.reduce(extra=[1.5, -2.0]).tolist() == [1.5, -2.0] and reducer.reduce() is None
    after = [None if p.grad is None else p.grad.numpy() for p in model.parameters()]
    assert [a is None for a in after] == [False, False, True, True]
    for a, b in zip(after[:2], before[:2]):
        np.testing.assert_array_equal(a, b)
    assert reducer.last_bytes == 4 * (3 * 2 + 2 + 2 * 2 + 2)


def test_collectives_in_one_process_and_bad_op():
    assert dist.broadcast_bytes(b"runs/train-001") == b"runs/train-001"
    a = np.array([3.0, 4.0])
    assert dist.allreduce_(a, op="max") is a and a.tolist() == [3.0, 4.0]
    with pytest.raises(ValueError, match="allreduce_: op must be 'sum' or 'max', got 'min'"):
        dist.allreduce_(a, op="min")


@pytest.mark.parametrize("dtype,rtol,extra", [("float64", 1e-10, []), ("float32", 1e-5, []), ("float64", 1e-10, ["--sync-bn"])])
def test_two_ranks_match_one_process(tmp_path, dtype, rtol, extra):
    mpirun = mpirun_command()
    single, ranks = tmp_path / "single.npz", tmp_path / "ranks.npz"
    cmd = [WORKER, "--dtype", dtype] + extra
    subprocess.run([sys.executable] + cmd + ["--out", str(single)], check=True, env=child_env(), timeout=120)
    subprocess.run(mpirun + [sys.executable] + cmd + ["--out", str(ranks)], check=True, env=child_env(), timeout=180,
                   capture_output=True)
    a, b = np.load(single), np.load(ranks)
    keys = ["0.bias", "0.weight", "3.bias", "3.weight"]
    if extra:  # the batch-norm layer's parameters and its running statistics match too
        keys = ["0.bias", "0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean", "1.running_var", "1.weight",
                "4.bias", "4.weight"]
    assert sorted(a.files) == sorted(b.files) == keys
    for k in a.files:
        np.testing.assert_allclose(b[k], a[k], rtol=rtol, atol=rtol * 1e-2, err_msg=k)
        assert np.abs(a[k]).max() > 0


def test_a_dead_rank_stops_the_job_instead_of_hanging(tmp_path):
    mpirun = mpirun_command()
    start = time.monotonic()
    proc = subprocess.run(mpirun + [sys.executable, WORKER, "--out", str(tmp_path / "x.npz"), "--die-rank", "1",
                                    "--timeout", "10"], env=child_env(), timeout=120, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert elapsed < 60
    assert not (tmp_path / "x.npz").exists()
