import numpy as np
import pytest

from convlab.data import EdgesDataset, LinesDataset


def test_lines_match_the_lesson():
    ds = LinesDataset(n=200, size=8, seed=3)
    assert ds.classes == ["vertical", "horizontal"]
    for image, label in (ds[i] for i in range(len(ds))):
        img = image[0]
        assert image.shape == (1, 8, 8) and img.sum() == 8
        rows, cols = np.nonzero(img)
        if label == 1:  # horizontal: one full row, at 1..6
            assert len(set(rows)) == 1 and 1 <= rows[0] <= 6
        else:
            assert len(set(cols)) == 1 and 1 <= cols[0] <= 6
    assert 60 < ds.labels.sum() < 140


def test_lines_seeded_and_configurable():
    a, b, c = LinesDataset(n=50, size=12, seed=1), LinesDataset(n=50, size=12, seed=1), LinesDataset(n=50, size=12, seed=2)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert len(a) == 50 and a[0][0].shape == (1, 12, 12)
    with pytest.raises(ValueError, match="size"):
        LinesDataset(size=2)


def test_edges_lesson_example():
    x, y = EdgesDataset.lesson_example()
    assert x.tolist()[0] == [1, 1, 0, 0, 0, 0, 1, 1]
    expected_row = [0, 1, 0, 0, 0, -1, 0]  # the seed's printed output
    assert y.shape == (6, 7) and all(row == expected_row for row in y.tolist())


def test_edges_dataset_targets_are_the_kernel_response():
    ds = EdgesDataset(n=30, seed=0)
    image, target = ds[7]
    assert image.shape == (1, 6, 8) and target.shape == (1, 6, 7)
    np.testing.assert_array_equal(target, image[..., :-1] - image[..., 1:])
    assert (target == 1).any() and (target == -1).any()  # every band has both edges
    orient = EdgesDataset(n=40, height=8, width=8, seed=0, target="orientation")
    for image, label in (orient[i] for i in range(40)):
        axis = 0 if label == 0 else 1  # a vertical band is constant down each column
        assert (np.diff(image[0], axis=axis) == 0).all()
