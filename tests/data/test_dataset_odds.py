"""The small corners of the dataset classes and transforms: joining datasets with ``+``, a copy with
another transform, reprs, ``Lambda``, and ``CIFAR10.find``; each against the items it must give."""

import numpy as np
from fixtures import make_cifar_dir

from convlab.data import ArrayDataset, ConcatDataset, IterableDataset, TensorDataset
from convlab.data import transforms as T
from convlab.data.cifar import CIFAR10


def _ds(levels, labels):
    return ArrayDataset(np.asarray(levels, np.uint8)[:, None, None, None] * np.ones((1, 1, 2, 2), np.uint8),
                        np.asarray(labels), classes=["a", "b"])


def test_adding_map_datasets_concatenates_them():
    both = _ds([0, 51], [0, 1]) + _ds([102], [1])
    assert isinstance(both, ConcatDataset) and len(both) == 3 and both.cumulative_sizes == [2, 3]
    assert [float(both[i][0][0, 0, 0]) for i in range(3)] == [0.0, np.float32(0.2), np.float32(0.4)]  # uint8 / 255
    assert both[2][1] == 1
    assert repr(both) == "ConcatDataset(n=3, classes=2)" and repr(_ds([0], [0])) == "ArrayDataset(n=1, classes=2)"


def test_concat_get_batch_collates_the_items_in_the_order_asked():
    c = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 12))])
    (batch,) = c.get_batch(np.array([4, 0, 3]))
    assert batch.numpy().tolist() == [11, 0, 10]


def test_adding_iterable_datasets_chains_them():
    class Count(IterableDataset):
        def __init__(self, a, b):
            self.a, self.b = a, b

        def __iter__(self):
            return iter(range(self.a, self.b))

    chained = Count(0, 3) + Count(10, 12)
    assert isinstance(chained, IterableDataset) and list(chained) == [0, 1, 2, 10, 11]
    assert list(chained) == [0, 1, 2, 10, 11]  # a new pass each time


def test_with_transform_shares_the_arrays_and_changes_only_the_transform():
    ds = _ds([0, 255], [0, 1])
    flipped = ds.with_transform(T.Lambda(lambda x: 1 - x))
    assert type(flipped) is ArrayDataset and flipped.images is ds.images and ds.transform is None
    assert float(flipped[0][0][0, 0, 0]) == 1.0 and float(ds[0][0][0, 0, 0]) == 0.0 and flipped[1][1] == 1


def test_transform_reprs_and_lambda():
    double = T.Lambda(lambda x: 2 * x)
    assert double(np.array([1.5]), rng=None).tolist() == [3.0]
    assert repr(T.Compose([T.Normalize((0.5,), (0.25,)), T.Pad(1), double])) == \
        "Compose([Normalize(mean=[0.5], std=[0.25]), Pad(padding=(1, 1), fill=0.0), Lambda()])"
    assert repr(T.Compose([])) == "Compose([])"


def test_cifar10_find_says_where_or_none(tmp_path):
    make_cifar_dir(tmp_path / "c" / "cifar-10-batches-bin", per_batch=1, train_batches=1)
    assert CIFAR10.find(tmp_path / "c") == str(tmp_path / "c" / "cifar-10-batches-bin")
    assert CIFAR10.find(tmp_path / "nothing") is None
