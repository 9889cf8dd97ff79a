import threading

import numpy as np
import pytest

import convlab
from convlab.data import (
    ArrayDataset,
    Compose,
    DataLoader,
    LinesDataset,
    RandomCrop,
    RandomHorizontalFlip,
    Subset,
    TensorDataset,
    random_split,
)


def numbered(n=23):
    """A dataset whose image encodes its index, so batches can be traced back to items."""
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1) * np.ones((1, 1, 2, 2), np.float32)
    return ArrayDataset(images, np.arange(n) % 3)


def indices_of(loader):
    return [x.numpy()[:, 0, 0, 0].astype(int).tolist() for x, _ in loader]


def test_order_batches_and_types():
    loader = DataLoader(numbered(), batch_size=5, prefetch=0)
    batches = indices_of(loader)
    assert len(loader) == 5 and [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert sum(batches, []) == list(range(23))
    x, y = next(iter(loader))
    assert isinstance(x, convlab.Tensor) and x.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == [0, 1, 2, 0, 1]
    dropped = DataLoader(numbered(), batch_size=5, drop_last=True)
    assert len(dropped) == 4 and all(len(b) == 5 for b in indices_of(dropped))


def test_shuffle_is_deterministic_and_new_each_epoch():
    a = DataLoader(numbered(), batch_size=4, shuffle=True, seed=7)
    b = DataLoader(numbered(), batch_size=4, shuffle=True, seed=7)
    e0, e1 = indices_of(a), indices_of(a)
    assert e0 == indices_of(b) and e1 == indices_of(b)
    assert e0 != e1 and sorted(sum(e0, [])) == list(range(23))
    assert indices_of(DataLoader(numbered(), batch_size=4, shuffle=True, seed=8)) != e0
    convlab.manual_seed(3)
    c = DataLoader(numbered(), batch_size=4, shuffle=True)
    convlab.manual_seed(3)
    assert indices_of(c) == indices_of(DataLoader(numbered(), batch_size=4, shuffle=True))


def test_prefetch_gives_the_same_batches_as_no_prefetch():
    aug = Compose([RandomCrop(8, padding=2), RandomHorizontalFlip()])
    ds = LinesDataset(n=100, seed=0, transform=aug)
    runs = []
    for prefetch in (0, 1, 3):
        loader = DataLoader(ds, batch_size=16, shuffle=True, seed=1, prefetch=prefetch)
        runs.append([(x.numpy(), y.numpy()) for _ in range(2) for x, y in loader])
    for other in runs[1:]:
        for (x0, y0), (x1, y1) in zip(runs[0], other):
            np.testing.assert_array_equal(x0, x1)
            np.testing.assert_array_equal(y0, y1)


def test_resume_mid_epoch_state():
    ds = LinesDataset(n=60, seed=0, transform=RandomHorizontalFlip())
    full = DataLoader(ds, batch_size=8, shuffle=True, seed=4)
    first_epoch = [x.numpy() for x, _ in full]
    second_epoch = [x.numpy() for x, _ in full]
    part = DataLoader(ds, batch_size=8, shuffle=True, seed=999)
    part.load_state_dict({"seed": 4, "epoch": 1, "start_batch": 3})
    rest = [x.numpy() for x, _ in part]
    assert len(rest) == len(second_epoch) - 3
    for a, b in zip(rest, second_epoch[3:]):
        np.testing.assert_array_equal(a, b)
    assert part.state_dict() == {"seed": 4, "epoch": 2, "start_batch": 0}
    assert not np.array_equal(first_epoch[0], second_epoch[0])


def test_early_break_stops_the_prefetch_thread():
    loader = DataLoader(LinesDataset(n=400, seed=0), batch_size=4, prefetch=2)
    for i, _ in enumerate(loader):
        if i == 2:
            break
    assert not any(t.name == "convlab-prefetch" and t.is_alive() for t in threading.enumerate())


def test_errors_in_the_prefetch_thread_reach_the_consumer():
    class Broken(ArrayDataset):
        def get_batch(self, indices, rng=None):
            raise RuntimeError("bad batch")

    with pytest.raises(RuntimeError, match="bad batch"):
        list(DataLoader(Broken(np.zeros((4, 1, 2, 2)), np.zeros(4, int)), batch_size=2, prefetch=2))


def test_plain_sequence_datasets_and_tensor_dataset():
    items = [(np.full((1, 2, 2), i, np.float32), i) for i in range(5)]
    x, y = next(iter(DataLoader(items, batch_size=5)))
    assert x.shape == (5, 1, 2, 2) and y.tolist() == [0, 1, 2, 3, 4]
    td = TensorDataset(convlab.tensor(np.arange(10.0).reshape(10, 1)), np.arange(10))
    assert td[3] == (td.arrays[0][3], 3)
    a, b = next(iter(DataLoader(td, batch_size=4, shuffle=True, seed=0)))
    np.testing.assert_array_equal(a.numpy()[:, 0], b.numpy().astype(np.float32))


def test_random_split_and_subset():
    ds = numbered(20)
    parts = random_split(ds, [0.7, 0.3], seed=0)
    assert [len(p) for p in parts] == [14, 6]
    seen = sorted(int(p[i][0][0, 0, 0]) for p in parts for i in range(len(p)))
    assert seen == list(range(20))
    x, y = parts[1].get_batch([0, 1])
    assert x.shape == (2, 1, 2, 2) and parts[1].classes == ds.classes
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [5, 5])
    sub = Subset(ds, [3, 4])
    assert sub[-1][1] == 4 % 3
    with pytest.raises(IndexError):
        sub[2]


def test_batch_fetch_equals_item_fetch():
    ds = LinesDataset(n=30, seed=0)
    x, y = ds.get_batch([4, 9, 2])
    for k, i in enumerate([4, 9, 2]):
        np.testing.assert_array_equal(x[k], ds[i][0])
        assert y[k] == ds[i][1]
