"""``mpirun -n 2 convlab train --distributed``: the same weights as one process, writes and prints
from rank 0 only, a dead or hung rank ends the job, and a resume finishes it exactly.

The runs use the default model (CompactCNN: batch norm and dropout) on the built-in lines data
with augmentation and a last batch that does not split evenly (113 items, batch 32), so the
data sharding, the synchronised batch norm, the dropout masks and the augmentation draws must
all match one process for the weights to agree.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import convlab
from convlab import distributed as dist
from convlab.cli import main
from convlab.data import DataLoader, TensorDataset
from helpers import child_env, mpirun_command, timeless

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")
RUN = ["--dataset", "lines", "--epochs", "2", "--batch-size", "32", "--limit-train", "113", "--limit-test", "64",
       "--val-split", "40", "--augment", "--seed", "3"]
FILES = ["best.safetensors", "config.json", "confusion.png", "curves.png", "last.safetensors", "metrics.csv",
         "metrics.jsonl", "test.json"]


def _convlab():
    return [sys.executable, "-c", "import sys; from convlab.cli import main; sys.exit(main())"]


def _run(cmd, cwd, timeout=120, **env):
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=child_env(**env), capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - start


def _weights(path):
    return {k: np.asarray(v, np.float64) for k, v in convlab.load(str(path))["model"].items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One plain process and one uninterrupted 2-rank run with the same arguments."""
    mpirun = mpirun_command()
    base = tmp_path_factory.mktemp("ddp")
    single, _ = _run(_convlab() + ["train", *RUN, "--out", "single"], base)
    assert single.returncode == 0, single.stderr
    ranks, _ = _run(mpirun + _convlab() + ["train", "--distributed", "--sync-bn", *RUN, "--out", "ranks"], base)
    assert ranks.returncode == 0, ranks.stdout + ranks.stderr
    return {"base": base, "mpirun": mpirun, "single": single, "ranks": ranks}


def test_two_ranks_give_the_weights_and_metrics_of_one_process(runs):
    base = runs["base"]
    a, b = _weights(base / "single" / "last.safetensors"), _weights(base / "ranks" / "last.safetensors")
    assert sorted(a) == sorted(b) and "bn1.running_var" in a and "fc1.weight" in a
    for k in a:  # float32 over 8 steps of AdamW: relative error of each tensor <= 1e-5
        err = np.linalg.norm(b[k] - a[k]) / max(np.linalg.norm(a[k]), 1e-30)
        assert err <= 1e-5, (k, err)
    assert np.abs(a["fc1.weight"]).max() > 0
    ta, tb = (json.loads((base / d / "test.json").read_text()) for d in ("single", "ranks"))
    assert tb["n"] == ta["n"] == 64 and tb["confusion"] == ta["confusion"] and tb["accuracy"] == ta["accuracy"]
    assert tb["loss"] == pytest.approx(ta["loss"], rel=1e-5)
    ca, cb = (json.loads((base / d / "config.json").read_text()) for d in ("single", "ranks"))
    assert cb["sync_bn"] is True and ca["sync_bn"] is False and cb["batch_size"] == ca["batch_size"] == 32


def test_only_rank_zero_writes_and_prints(runs):
    base, out = runs["base"], runs["ranks"].stdout
    assert sorted(os.listdir(base)) == ["ranks", "single"]  # no runs/ directory from another rank
    assert sorted(os.listdir(base / "ranks")) == sorted(os.listdir(base / "single")) == FILES
    epochs = [json.loads(line) for line in (base / "ranks" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in epochs if r.get("kind") == "epoch"] == [1, 2]  # one writer, not two
    assert out.count("convlab train: compactcnn") == 1 and out.count("epoch 2/2") == 1 and out.count("test accuracy:") == 1
    assert "data-parallel over 2 MPI ranks: 16 images per rank per step, batch-norm statistics synchronised" in out


def test_killed_rank_ends_the_job_and_resume_finishes_it_exactly(runs):
    # per-rank batch norm here (no --sync-bn): rank 1's own statistics must not leak into the result
    base, mpirun = runs["base"], runs["mpirun"]
    plain, _ = _run(mpirun + _convlab() + ["train", "--distributed", *RUN, "--out", "per-rank"], base)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "batch-norm statistics per rank" in plain.stdout
    reference, single = _weights(base / "per-rank" / "last.safetensors"), _weights(base / "single" / "last.safetensors")
    assert max(np.linalg.norm(reference[k] - single[k]) / np.linalg.norm(single[k]) for k in single) > 1e-3

    faulty = mpirun + [sys.executable, WORKER, "train", "--distributed", *RUN, "--out", "killed"]
    proc, seconds = _run(faulty, base, CONVLAB_TEST_FAULT="1:6:KILL")  # rank 1 dies at step 6 of 8 (epoch 2)
    assert proc.returncode != 0 and seconds < 60
    assert "rank 1" in proc.stderr and "signal 9" in proc.stderr, proc.stderr
    assert "epoch 1/2" in proc.stdout and "epoch 2/2" not in proc.stdout
    assert not (base / "killed" / "test.json").exists()
    assert convlab.load(str(base / "killed" / "last.safetensors"))["step"] == 4  # the end of epoch 1

    resume = mpirun + _convlab() + ["train", "--distributed", "--resume", "killed/last.safetensors"]
    proc, _ = _run(resume, base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("epoch 2/2") == 1 and "epoch 1/2" not in proc.stdout
    resumed = _weights(base / "killed" / "last.safetensors")
    for k in reference:
        np.testing.assert_array_equal(resumed[k], reference[k], err_msg=k)
    assert (base / "killed" / "test.json").read_text() == (base / "per-rank" / "test.json").read_text()

    def epochs(run):  # the epoch records, without their timings
        records = [json.loads(line) for line in (base / run / "metrics.jsonl").read_text().splitlines()]
        return timeless(r for r in records if r.get("kind") == "epoch")

    assert epochs("killed") == epochs("per-rank") and [r["epoch"] for r in epochs("killed")] == [1, 2]


def test_hung_rank_times_out_with_a_clear_error(runs):
    base, mpirun = runs["base"], runs["mpirun"]
    cmd = mpirun + [sys.executable, WORKER, "train", "--distributed", *RUN, "--out", "hung", "--timeout", "3"]
    proc, seconds = _run(cmd, base, CONVLAB_TEST_FAULT="1:2:STOP")  # rank 1 stops answering at step 2
    assert proc.returncode != 0 and seconds < 60
    assert ("convlab.distributed: rank 0 of 2: gradient all-reduce did not complete within 3 s; a peer rank has "
            "probably died or hung. Aborting the job; resume from the last checkpoint.") in proc.stderr
    assert not (base / "hung" / "last.safetensors").exists()


def test_global_batch_must_split_evenly_over_the_ranks(runs):
    cmd = runs["mpirun"] + _convlab() + ["train", "--distributed", *RUN, "--batch-size", "33", "--out", "odd"]
    proc, _ = _run(cmd, runs["base"])
    assert proc.returncode == 2
    msg = "convlab train: --batch-size 33 (the global batch) must be divisible by the 2 ranks\n"
    assert proc.stderr.count(msg) == 1, proc.stderr  # said once, by rank 0
    assert not (runs["base"] / "odd").exists()


# --------------------------------------------------------------------------- without mpirun
def test_sharded_loader_serves_each_rank_its_rows_of_the_global_batches():
    ds = TensorDataset(np.arange(10, dtype=np.float32).reshape(10, 1), np.arange(10))
    one = DataLoader(ds, 4, shuffle=True, seed=5, prefetch=0)
    shards = [DataLoader(ds, 4, shuffle=True, seed=5, prefetch=0, num_replicas=3, rank=r) for r in range(3)]
    assert [len(s) for s in shards] == [len(one)] * 3 == [3] * 3
    for b, (whole, *parts) in enumerate(zip(one, *shards)):
        labels = whole[1].numpy()
        got = np.full_like(labels, -1)
        weights = []
        for s, (_, y) in zip(shards, parts):
            rows, n, weight = s.shard(b)
            assert n == len(labels)
            weights.append(weight)
            if weight:
                got[rows] = y.numpy()
        np.testing.assert_array_equal(got, labels)  # together the ranks serve the global batch, row for row
        assert sum(weights) == pytest.approx(3)  # sum of weight_r / W * mean_r is the global batch's mean
    rows, n, weight = shards[2].shard(2)  # the last batch has 2 items: rank 2 gets row 0 again, with weight 0
    assert rows.tolist() == [0] and n == 2 and weight == 0.0
    assert [s.shard(0)[2] for s in shards] == [1.5, 0.75, 0.75]
    with pytest.raises(ValueError, match=r"DataLoader: rank 3 is outside \[0, 3\)"):
        DataLoader(ds, 4, num_replicas=3, rank=3)


def test_sharded_loader_with_fetch_global_augments_like_one_process():
    from convlab.data import ArrayDataset, RandomCrop

    images = np.random.default_rng(0).random((10, 1, 6, 6)).astype(np.float32)
    ds = ArrayDataset(images, np.arange(10), transform=RandomCrop(6, padding=2))
    one = list(DataLoader(ds, 4, shuffle=True, seed=1, prefetch=0))
    for r in range(2):
        part = list(DataLoader(ds, 4, shuffle=True, seed=1, prefetch=0, num_replicas=2, rank=r, fetch_global=True))
        for (x, y), (xr, yr) in zip(one, part):
            np.testing.assert_array_equal(xr.numpy(), x.numpy()[r::2])
            np.testing.assert_array_equal(yr.numpy(), y.numpy()[r::2])


def test_sharded_draws_give_each_rank_its_rows_of_the_global_draw():
    rows = np.array([1, 3])
    proxy = dist._ShardDraws(np.random.default_rng(9), rows, 4)
    ref = np.random.default_rng(9)
    np.testing.assert_array_equal(proxy.random((2, 5), dtype=np.float32), ref.random((4, 5), dtype=np.float32)[rows])
    np.testing.assert_array_equal(proxy.integers(0, 7, size=2), ref.integers(0, 7, size=4)[rows])
    np.testing.assert_array_equal(proxy.random((3, 2)), ref.random((3, 2)))  # not this rank's row count: as is
    assert proxy.bit_generator.state == ref.bit_generator.state  # the generators advanced alike


def test_distributed_flags_without_mpirun(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    quick = ["train", "--dataset", "lines", "--epochs", "1", "--batch-size", "64", "--limit-train", "64",
             "--limit-test", "32", "--val-split", "16"]
    assert main([*quick, "--sync-bn"]) == 2
    assert capsys.readouterr().err == "convlab train: --sync-bn needs --distributed (one process has only one batch)\n"
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert main(quick) == 2
    assert "started by mpirun as 2 processes without --distributed" in capsys.readouterr().err
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE")
    for k in ("PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if not installed
    assert main([*quick, "--distributed"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("convlab train: error: --distributed: distributed training needs mpi4py") and "openmpi-bin" in err
    monkeypatch.delitem(sys.modules, "mpi4py")
    pytest.importorskip("mpi4py")
    assert main([*quick, "--distributed", "--out", "one", "-q"]) == 0  # outside mpirun: one process, after a note
    captured = capsys.readouterr()
    assert "--distributed outside mpirun: training as one process" in captured.err
    assert captured.out.startswith("test accuracy ") and (tmp_path / "one" / "last.safetensors").exists()
