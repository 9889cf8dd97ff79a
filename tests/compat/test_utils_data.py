"""torch.utils.data patterns: Dataset subclasses, samplers, collation, splits and worker processes."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import convlab
from convlab.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)
from convlab.vision import transforms as T
from helpers import require_torch

torch = require_torch()


class Noisy(Dataset):
    """A torch-style dataset: __getitem__ only, randomness from the library generator and a transform."""

    def __init__(self, n=23, transform=None):
        self.n, self.transform = n, transform

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = convlab.full((1, 4, 4), float(i)) + convlab.rand(1, 4, 4)
        if self.transform is not None:
            x = self.transform(x)
        return x, i


def _epoch(num_workers, **kw):
    loader = DataLoader(Noisy(transform=T.RandomHorizontalFlip()), batch_size=5, shuffle=True, num_workers=num_workers,
                        generator=convlab.Generator().manual_seed(7), **kw)
    return [(x.numpy(), y.numpy()) for x, y in loader]


def test_batches_are_identical_for_any_number_of_workers():
    reference = _epoch(0)
    assert len(reference) == 5 and sorted(np.concatenate([y for _, y in reference]).tolist()) == list(range(23))
    for n in (1, 2):
        got = _epoch(n, persistent_workers=(n == 2), prefetch_factor=3, pin_memory=True)
        assert len(got) == len(reference)
        for (x0, y0), (x1, y1) in zip(reference, got):
            np.testing.assert_array_equal(y0, y1)
            np.testing.assert_array_equal(x0, x1)  # the same noise and the same flips


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"item {i} is broken")
        return np.float32(i)


def test_a_workers_error_comes_back_with_its_traceback():
    with pytest.raises(ValueError) as info:
        list(DataLoader(Failing(), batch_size=2, num_workers=2))
    text = str(info.value)
    assert "Caught ValueError in DataLoader worker process" in text
    assert "item 5 is broken" in text and "__getitem__" in text  # the worker's traceback summary


def _info_item(i):
    info = get_worker_info()
    return (i, -1 if info is None else info.id, os.getpid())


class Who(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return _info_item(i)


def test_worker_info_init_fn_and_persistent_workers():
    assert get_worker_info() is None
    started = []
    loader = DataLoader(Who(), batch_size=2, num_workers=2, persistent_workers=True,
                        worker_init_fn=lambda wid: started.append(wid))  # runs in the worker, not here
    first = [b for b in loader]
    second = [b for b in loader]
    assert started == []
    ids = [b[1].tolist() for b in first]
    assert ids == [[0, 0], [1, 1], [0, 0]]  # batch k goes to worker k % 2
    pids = {p for b in first for p in b[2].tolist()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {p for b in second for p in b[2].tolist()} == pids  # the same processes served epoch 2
    loader._pool.shutdown()


class Stream(IterableDataset):
    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, 10, step))


def test_iterable_dataset_sharded_with_get_worker_info():
    for n in (0, 2):
        seen = [v for b in DataLoader(Stream(), batch_size=3, num_workers=n) for v in b.tolist()]
        assert sorted(seen) == list(range(10)), n


def test_default_collate_matches_torch():
    from torch.utils.data import default_collate as torch_collate

    samples = [{"x": np.full(3, k, np.float32), "y": k, "w": 0.5 * k, "name": f"s{k}", "pair": (k, [k, k + 1])}
               for k in range(4)]
    ours, theirs = default_collate(samples), torch_collate(samples)
    assert ours.keys() == theirs.keys() and ours["name"] == theirs["name"]
    for key in ("x", "y", "w"):
        assert ours[key].tolist() == theirs[key].tolist()
        assert str(theirs[key].dtype).endswith(ours[key].dtype.name)  # int64, float64, float32 as torch
    assert [t.tolist() for t in ours["pair"][1]] == [t.tolist() for t in theirs["pair"][1]]


def test_samplers_match_torchs_definitions():
    assert list(BatchSampler(SequentialSampler(range(7)), 3, drop_last=True)) == \
        list(torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(7)), 3, drop_last=True))
    g = convlab.Generator().manual_seed(0)
    perm = list(RandomSampler(range(9), generator=g))
    assert sorted(perm) == list(range(9)) and perm != list(range(9))
    assert len(list(RandomSampler(range(4), replacement=True, num_samples=11))) == 11
    assert sorted(SubsetRandomSampler([3, 5, 8])) == [3, 5, 8]
    draws = list(WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000, generator=g))
    share = np.bincount(draws, minlength=3) / 4000
    assert share[0] == 0 and abs(share[2] - 0.75) < 0.03
    ds = TensorDataset(np.arange(10))
    batches = [b[0].tolist() for b in DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 4, False))]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=5, sampler=SubsetRandomSampler([1, 2], generator=g))] \
        in ([[1, 2]], [[2, 1]])


def test_random_split_and_concat():
    ds = TensorDataset(np.arange(10))
    a, b = random_split(ds, [0.7, 0.3], generator=convlab.Generator().manual_seed(42))
    assert len(a) == 7 and len(b) == 3
    assert sorted([a[i][0] for i in range(7)] + [b[i][0] for i in range(3)]) == list(range(10))
    c = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 14))])
    tc = torch.utils.data.ConcatDataset([torch.utils.data.TensorDataset(torch.arange(3)),
                                         torch.utils.data.TensorDataset(torch.arange(10, 14))])
    assert len(c) == len(tc) and [int(c[i][0]) for i in range(7)] == [int(tc[i][0]) for i in range(7)]


def test_loader_arguments_are_checked_like_torchs():
    ds = TensorDataset(np.arange(4))
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    assert len(DataLoader(ds, batch_size=3, pin_memory=True, timeout=5, drop_last=True)) == 1


_INTERRUPTED = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from convlab.utils.data import DataLoader, Dataset

    class Slow(Dataset):
        def __len__(self):
            return 1000

        def __getitem__(self, i):
            time.sleep(0.05)
            return np.float32(i)

    batches = iter(DataLoader(Slow(), batch_size=2, num_workers=2))
    next(batches)
    pool = batches.gi_frame.f_locals["pool"]  # the running epoch's worker processes
    print(" ".join(str(p.pid) for p in pool.procs), flush=True)
    for batch in batches:
        pass
""")


def test_ctrl_c_leaves_no_orphan_processes(tmp_path):
    script = tmp_path / "interrupted.py"
    script.write_text(_INTERRUPTED)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    # Ctrl-C's default action in the child even where this test runs in the background (which
    # starts it with SIGINT ignored, and Python then installs no KeyboardInterrupt handler).
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a worker outlived the interrupted program"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead, just not yet reaped
        return f.read().split(") ")[1][0] != "Z"
