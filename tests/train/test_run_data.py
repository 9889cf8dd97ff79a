"""The datasets of a ``convlab train`` / ``evaluate`` run, in process (the CLI tests run whole
trainings; these check the loading alone): a folder's splits, class table, inferred
preprocessing, unreadable files and size limit, and a named dataset's statistics under the
conversion flags. Folders are tiny flat PNGs whose grey level is known, so every pixel is known."""

import os

import numpy as np
import pytest
from PIL import Image

from convlab.data import ArrayDataset, Subset, catalog
from convlab.data.preprocess import Preprocessing
from convlab.train import run_data
from convlab.validate import ConvlabError


def _pictures(root, cls, levels, shape=(6, 6), mode="L"):
    d = os.path.join(root, cls)
    os.makedirs(d, exist_ok=True)
    for i, v in enumerate(levels):
        a = np.full(shape + ((3,) if mode == "RGB" else ()), v, np.uint8)
        Image.fromarray(a, mode).save(os.path.join(d, f"{i:02d}.png"))


@pytest.fixture
def splits(tmp_path):
    """train/ (ant 5, bee 3), val/ (ant 1 only), test/ (ant 2, bee 1), and a text file to ignore."""
    root = tmp_path / "pics"
    _pictures(root / "train", "ant", [0, 20, 40, 60, 80])
    _pictures(root / "train", "bee", [100, 120, 140])
    _pictures(root / "val", "ant", [160])
    _pictures(root / "test", "ant", [200, 220])
    _pictures(root / "test", "bee", [240])
    (root / "train" / "ant" / "notes.txt").write_text("not a picture")
    return root


def _load(cfg, dataset):
    said = []
    out = run_data.load_datasets({"dataset": str(dataset), "seed": 0, **cfg}, said.append)
    return out, said


def _levels(ds):
    return np.asarray(ds.images)[:, 0, 0, 0].tolist(), np.asarray(ds.labels).tolist()


def test_a_split_folder_gives_its_splits_class_table_and_inferred_spec(splits):
    (train, val, test, info, spec), said = _load({}, splits)
    assert train.classes == val.classes == test.classes == ["ant", "bee"]
    assert _levels(train) == ([0, 20, 40, 60, 80, 100, 120, 140], [0, 0, 0, 0, 0, 1, 1, 1])
    assert _levels(val) == ([160], [0]) and _levels(test) == ([200, 220, 240], [0, 0, 1])
    assert train.images.dtype == np.uint8 and train.images.shape == (8, 1, 6, 6)
    assert spec == Preprocessing(channels=1, size=(6, 6))
    assert info == {"name": "pics", "classes": ["ant", "bee"], "shape": (1, 6, 6), "source": str(splits),
                    "mean": None, "std": None, "flip": False, "skipped": 0, "measure_stats": True}
    assert said == [
        f"  pictures: 8 files in 2 classes under {splits / 'train'} (PNG 8); 1 other file ignored",
        "  inferred 1 channel (all pictures are grayscale)",
        "  inferred size 6x6 (every picture's size; --image-size H,W to choose: this is 6,6)",
        "  class       train  validation        test",
        "  ant             5           1           2",
        "  bee             3           0           1",
        "  note: no validation pictures of bee",
    ]


def test_the_flags_choose_channels_size_inversion_and_padding(splits):
    cfg = {"channels": 3, "image_size": (3, 3), "invert": True, "pad": 2, "resize": "crop"}
    (train, _, test, info, spec), said = _load(cfg, splits)
    assert spec == Preprocessing(channels=3, size=(3, 3), resize="crop", invert=True, pad=2)
    assert info["shape"] == (3, 7, 7) and train.images.shape == (8, 3, 3, 3)  # padded later, by the transform
    assert (train.images[:, :, 1, 1] == 255 - np.array([0, 20, 40, 60, 80, 100, 120, 140])[:, None]).all()
    assert "  inferred 1 channel (all pictures are grayscale)" not in said


def test_without_a_test_folder_a_fifth_of_the_training_pictures_is_held_out(tmp_path):
    root = tmp_path / "flat"
    _pictures(root, "ant", [0, 10, 20, 30, 40, 50])
    _pictures(root, "bee", [100, 110, 120, 130])
    (train, val, test, info, _), said = _load({"seed": 5}, f"folder:{root}")
    assert val is None and isinstance(train, Subset) and isinstance(test, Subset)
    assert len(train) == 8 and len(test) == 2
    levels = sorted(int(train[i][0][0, 0, 0] * 255 + 0.5) for i in range(8)) + \
        sorted(int(test[i][0][0, 0, 0] * 255 + 0.5) for i in range(2))
    assert sorted(levels) == [0, 10, 20, 30, 40, 50, 100, 110, 120, 130]
    assert "  no test/ folder or --test-data: 20% of the training pictures held out for testing" in said
    n_test = np.bincount(np.asarray(test.dataset.labels)[test.indices], minlength=2)
    rows = [s for s in said if s.startswith("  ant") or s.startswith("  bee")]
    assert rows == [f"  ant    {6 - n_test[0]:>10}  {n_test[0]:>10}", f"  bee    {4 - n_test[1]:>10}  {n_test[1]:>10}"]
    assert info["name"] == "flat" and info["source"] == str(root)


def test_val_and_test_data_flags_point_at_other_folders(splits, tmp_path):
    other = tmp_path / "other"
    _pictures(other, "bee", [30, 50])
    cfg = {"val_data": str(other), "test_data": str(splits / "val")}
    (train, val, test, _, _), said = _load(cfg, splits / "train")
    assert _levels(val) == ([30, 50], [1, 1]) and _levels(test) == ([160], [0])
    assert said[-2:] == ["  note: no validation pictures of ant", "  note: no test pictures of bee"]


def test_one_class_folder_is_refused(tmp_path):
    _pictures(tmp_path / "one", "ant", [0, 1])
    with pytest.raises(ConvlabError) as e:
        _load({}, tmp_path / "one")
    assert str(e.value) == f"{tmp_path / 'one'} has one class folder (ant); a classifier needs at least two"


def test_named_datasets_refuse_folder_flags():
    with pytest.raises(ConvlabError, match="--val-data and --test-data take folders of pictures"):
        _load({"test_data": "x"}, "lines")


def _broken(root):
    _pictures(root / "train", "ant", [0, 20, 40])
    _pictures(root / "train", "bee", [100, 120])
    for name in ("bad1.png", "bad2.png"):
        (root / "train" / "bee" / name).write_bytes(b"\x89PNG\r\n\x1a\nnot really")


def test_unreadable_files_are_named_or_skipped(tmp_path):
    root = tmp_path / "broken"
    _broken(root)
    bad1 = root / "train" / "bee" / "bad1.png"
    with pytest.raises(OSError) as e:
        _load({}, root)
    assert str(e.value).startswith(f"{bad1}: not a readable picture (")
    assert str(e.value).endswith("; 1 more unreadable files; fix or remove it, or pass --skip-bad-files to leave such files out")
    (train, _, test, info, _), said = _load({"skip_bad_files": True}, root)
    assert len(train) + len(test) == 5 and info["skipped"] == 2
    warnings = [s for s in said if "warning" in s]
    assert len(warnings) == 3 and warnings[0].startswith(f"  warning: skipped {bad1}: ")
    assert warnings[1].startswith(f"  warning: skipped {root / 'train' / 'bee' / 'bad2.png'}: ")
    assert warnings[2] == "  warning: 2 unreadable files skipped (--skip-bad-files)"
    assert said[0] == f"  pictures: 7 files in 2 classes under {root / 'train'} (PNG 5)"


def test_a_picture_that_fails_after_the_survey_is_skipped_when_asked(tmp_path, monkeypatch):
    root = tmp_path / "gone"
    _pictures(root, "ant", [0, 20])
    _pictures(root, "bee", [100, 120, 140])
    victim = root / "bee" / "02.png"
    real = run_data.survey

    def survey_then_lose_one(paths):  # the file changes between the survey of headers and the read
        found = real(paths)
        victim.write_bytes(b"\x89PNG\r\n\x1a\ngone")
        return found

    monkeypatch.setattr(run_data, "survey", survey_then_lose_one)
    with pytest.raises(ValueError, match="02.png"):
        _load({}, root)
    _pictures(root, "bee", [100, 120, 140])
    (train, _, test, info, _), said = _load({"skip_bad_files": True}, root)
    assert len(train) + len(test) == 4 and info["skipped"] == 1
    warnings = [s for s in said if "warning" in s]
    assert len(warnings) == 2 and warnings[0].startswith(f"  warning: skipped {victim}: ")
    assert warnings[1] == "  warning: 1 unreadable file skipped (--skip-bad-files)"


def test_one_unreadable_file_is_named_alone(tmp_path):
    root = tmp_path / "broken"
    _broken(root)
    os.remove(root / "train" / "bee" / "bad2.png")
    with pytest.raises(OSError) as e:
        _load({}, root)
    assert "more unreadable" not in str(e.value) and "(" in str(e.value)


def test_a_run_too_big_for_memory_is_refused_before_reading(splits, monkeypatch):
    monkeypatch.setattr(run_data, "MAX_BYTES", 12 * 36 - 1)  # 12 pictures of 1x6x6 bytes, one byte short
    with pytest.raises(ConvlabError) as e:
        _load({}, splits)
    assert str(e.value) == ("12 pictures of 1x6x6 take 0.0 GiB in memory (at most 0 GiB); choose a smaller --image-size")
    monkeypatch.setattr(run_data, "MAX_BYTES", 12 * 36)
    assert len(_load({}, splits)[0][0]) == 8


def test_plural_words():
    assert [run_data._plural(n, w) for n, w in [(1, "file"), (2, "file"), (0, "file"), (1, "class"), (3, "class"),
                                                  (1234, "picture")]] == \
        ["1 file", "2 files", "0 files", "1 class", "3 classes", "1,234 pictures"]


@pytest.fixture
def named(monkeypatch):
    """A named dataset of four 1x5x5 pictures with known statistics, in place of the catalogue's."""
    images = (np.arange(4, dtype=np.uint8) * 60)[:, None, None, None] * np.ones((1, 1, 5, 5), np.uint8)

    def load(name, root=None, seed=0):
        load.seeds.append(seed)
        train = ArrayDataset(images, np.array([0, 1, 0, 1]), classes=["x", "y"])
        test = Subset(ArrayDataset(images[::-1].copy(), np.array([1, 0, 1, 0]), classes=["x", "y"]), [0, 2])
        return train, test, {"name": name, "classes": ["x", "y"], "shape": (1, 5, 5), "mean": (0.25,), "std": (0.5,),
                             "flip": False, "source": "here"}

    load.seeds = []
    monkeypatch.setattr(catalog, "load", load)
    return images, load.seeds


def test_a_named_dataset_keeps_its_pictures_and_statistics(named):
    (train, val, test, info, spec), said = _load({"seed": 11}, "toy")
    assert said == [] and val is None and train.images is named[0]  # nothing to convert: the same array
    assert named[1] == [11]  # the run's seed splits a built-in dataset
    assert spec == Preprocessing(channels=1, size=(5, 5), mean=(0.25,), std=(0.5,)) and info["shape"] == (1, 5, 5)


@pytest.mark.parametrize("cfg, mean, std, shape, first, line", [
    ({"invert": True}, (0.75,), (0.5,), (1, 5, 5), [255, 195, 135, 75],
     "toy converted from 1x5x5 to 1x5x5 grayscale (resize: stretch), inverted, normalised with mean 0.75 std 0.5"),
    ({"channels": 3}, (0.25,) * 3, (0.5,) * 3, (3, 5, 5), [0, 60, 120, 180],
     "toy converted from 1x5x5 to 3x5x5 RGB (resize: stretch), normalised with mean 0.25,0.25,0.25 std 0.5,0.5,0.5"),
    ({"image_size": (3, 3), "pad": 1}, (0.25,), (0.5,), (1, 5, 5), [0, 60, 120, 180],
     "toy converted from 1x5x5 to 1x5x5 grayscale (resize: stretch, then 1 px of zero padding), "
     "normalised with mean 0.25 std 0.5"),
])
def test_a_named_dataset_converted_by_the_flags(named, cfg, mean, std, shape, first, line):
    (train, _, test, info, spec), said = _load(cfg, "toy")
    assert said == ["  " + line]
    assert spec.mean == mean and spec.std == std and info["shape"] == shape == spec.input_shape
    assert train.images[:, :, spec.size[0] // 2, spec.size[1] // 2].tolist() == [[v] * spec.channels for v in first]
    assert isinstance(test, Subset) and list(test.indices) == [0, 2]
    assert test.dataset.images[:, 0, 0, 0].tolist() == first[::-1]  # the test split converted alike


def test_colour_statistics_are_averaged_for_a_grayscale_model(monkeypatch):
    images = np.zeros((2, 3, 5, 5), np.uint8)

    def load(name, root=None, seed=0):
        ds = ArrayDataset(images, np.array([0, 1]), classes=["x", "y"])
        return ds, ds, {"name": name, "classes": ["x", "y"], "shape": (3, 5, 5), "mean": (0.1, 0.2, 0.6),
                        "std": (0.2, 0.3, 0.4), "flip": True, "source": "here"}

    monkeypatch.setattr(catalog, "load", load)
    (_, _, _, _, spec), _ = _load({"channels": 1}, "toy")
    assert spec.mean == pytest.approx((0.3,), rel=1e-12) and spec.std == pytest.approx((0.3,), rel=1e-12)


# ---- evaluate / predict: one split, labelled like the checkpoint

def test_eval_dataset_from_a_split_folder_uses_the_checkpoints_classes(splits):
    spec = Preprocessing(channels=1, size=(6, 6))
    said = []
    ds, info = run_data.load_eval_dataset(str(splits), None, "test", spec, ["ant", "bee", "cow"], say=said.append)
    assert _levels(ds) == ([200, 220, 240], [0, 0, 1]) and ds.classes == ["ant", "bee", "cow"]
    assert ds.paths == [str(splits / "test" / "ant" / "00.png"), str(splits / "test" / "ant" / "01.png"),
                        str(splits / "test" / "bee" / "00.png")]
    assert info == {"name": "test", "classes": ["ant", "bee", "cow"], "source": str(splits / "test"),
                    "shape": (1, 6, 6)} and said == []
    ds, _ = run_data.load_eval_dataset(str(splits), None, "train", spec, None)
    assert _levels(ds) == ([0, 20, 40, 60, 80, 100, 120, 140], [0, 0, 0, 0, 0, 1, 1, 1])
    with pytest.raises(FileNotFoundError) as e:
        run_data.load_eval_dataset(str(splits), None, "validation", spec, None)
    assert str(e.value) == f"{splits} has no validation/ folder (it has test, train, val)"


def test_eval_dataset_from_class_folders_skipping_bad_files(tmp_path):
    root = tmp_path / "broken"
    _broken(root)
    spec = Preprocessing(channels=3, size=(2, 2), invert=True)
    said = []
    ds, info = run_data.load_eval_dataset(f"folder:{root / 'train'}", None, "test", spec, None, skip_bad=True,
                                          say=said.append)
    assert ds.images.shape == (5, 3, 2, 2) and ds.images[:, 0, 0, 0].tolist() == [255, 235, 215, 155, 135]
    assert ds.classes == ["ant", "bee"] and np.asarray(ds.labels).tolist() == [0, 0, 0, 1, 1]
    assert len(ds.paths) == 5 and all("bad" not in p for p in ds.paths)
    assert said[0].startswith(f"  warning: skipped {root / 'train' / 'bee' / 'bad1.png'}: ")
    assert said[2] == "  warning: 2 unreadable files skipped (--skip-bad-files)" and len(said) == 3
    assert info["name"] == "train" and info["shape"] == (3, 2, 2)
    with pytest.raises(ValueError, match="bad1.png: cannot read as an image: "):  # a FileFormatError
        run_data.load_eval_dataset(str(root / "train"), None, "test", spec, None)


def test_eval_dataset_from_a_named_dataset(named):
    said = []
    ds, info = run_data.load_eval_dataset("toy", None, "train", Preprocessing(channels=1, size=(5, 5)), None,
                                          seed=9, say=said.append)
    assert ds.images is named[0] and said == [] and info["name"] == "toy" and named[1] == [9]
    ds, _ = run_data.load_eval_dataset("toy", None, "test", Preprocessing(channels=1, size=(5, 5), invert=True),
                                       None, say=said.append)
    assert said == ["  toy converted from 1x5x5 to 1x5x5, inverted"]
    assert isinstance(ds, Subset) and ds.dataset.images[:, 0, 0, 0].tolist() == [75, 135, 195, 255]
    said.clear()
    run_data.load_eval_dataset("toy", None, "test", Preprocessing(channels=3, size=(4, 4)), None, say=said.append)
    assert said == ["  toy converted from 1x5x5 to 3x4x4"]
