"""How ``convlab train`` sets a run up, in process and without training: the hold-out and limits of
``load_run_data``, the normalisation ``finish_spec`` chooses or measures, the augmentation
``train_transform`` builds, the loaders of one and several ranks, and the optimizers and schedules
by name. Expected values are worked out by hand from the flags."""

import numpy as np
import pytest

from convlab import nn, optim
from convlab.data import ArrayDataset, Subset, catalog
from convlab.data import transforms as T
from convlab.data.preprocess import Preprocessing
from convlab.optim import lr_scheduler as sch
from convlab.train import recipes
from convlab.train.run import finish_spec, load_run_data, loaders, train_transform
from convlab.validate import ConvlabError


@pytest.fixture
def toy(monkeypatch):
    """A named dataset: 50 training pictures 1x8x8 whose pixels are all the picture's index, 12 test ones."""
    images = np.arange(50, dtype=np.uint8)[:, None, None, None] * np.ones((1, 1, 8, 8), np.uint8)
    test = np.full((12, 1, 8, 8), 7, np.uint8)
    stats = {}

    def load(name, root=None, seed=0):
        info = {"name": name, "classes": ["a", "b"], "shape": (1, 8, 8), "mean": stats.get("mean"),
                "std": stats.get("std"), "flip": stats.get("flip", False), "source": "here",
                "measure_stats": stats.get("measure", False)}
        return (ArrayDataset(images, np.arange(50) % 2, classes=["a", "b"]),
                ArrayDataset(test, np.zeros(12, np.int64), classes=["a", "b"]), info)

    monkeypatch.setattr(catalog, "load", load)
    return stats


def _run(cfg):
    said = []
    out = load_run_data({"dataset": "toy", "seed": 3, **cfg}, said.append)
    return out, said


def _first_pixels(ds):
    """The raw picture indices a Subset-of-Subset dataset serves (pixels are the index / 255)."""
    idx = np.arange(len(ds))
    while isinstance(ds, Subset):
        idx, ds = np.asarray(ds.indices)[idx], ds.dataset
    return ds.images[idx, 0, 0, 0].tolist()


def test_the_default_hold_out_is_a_tenth_and_a_small_one_is_noted(toy):
    (train, val, test, info, spec), said = _run({})
    assert len(train) == 45 and len(val) == 5 and len(test) == 12
    assert sorted(_first_pixels(train) + _first_pixels(val)) == list(range(50))
    assert said == ["  5 of 50 training images held out for validation (the default: 10%, at most 5,000)",
                    "  note: only 5 validation images: the best checkpoint is chosen on them, and their accuracy says little"]
    (_, val, _, _, _), said = _run({"val_split": 1})
    assert len(val) == 1 and said[1].startswith("  note: only 1 validation image: the best")
    (_, val, _, _, _), said = _run({"val_split": 0.5})
    assert len(val) == 25 and said == ["  25 of 50 training images held out for validation (--val-split 0.5: a fraction)"]
    (train, val, _, _, _), said = _run({"val_split": 0})
    assert val is None and len(train) == 50 and said == ["  0 of 50 training images held out for validation "
                                                         "(--val-split 0: a count)"]


def test_the_limits(toy):
    (train, val, test, _, _), said = _run({"limit_train": 20})
    assert len(train) == 20 and len(val) == 2 and len(test) == 12  # validation: a tenth of --limit-train
    assert said[-1] == "  validating on the first 2 of them (a tenth of --limit-train; --limit-val to choose)"
    assert _first_pixels(train) == sorted(_first_pixels(train))  # kept in order
    (train2, _, _, _, _), _ = _run({"limit_train": 20})
    assert _first_pixels(train2) == _first_pixels(train)  # the same seeded choice
    (train, val, test, _, _), said = _run({"limit": 4})
    assert (len(train), len(val), len(test)) == (4, 4, 4) and said[-1] == "  validating on the first 4 of them"
    (train, val, test, _, _), said = _run({"limit_train": 30, "limit_val": 3, "limit_test": 5, "limit": 10})
    assert (len(train), len(val), len(test)) == (10, 3, 5)  # the smaller of each and --limit
    (train, val, _, _, _), _ = _run({"limit_train": 30, "val_split": 0.2})
    assert len(val) == 10  # an explicit hold-out is not cut to a tenth of the limit
    (_, val, test, _, _), _ = _run({"limit_val": 100, "limit_test": 100})
    assert len(val) == 5 and len(test) == 12


def test_flips_follow_augment_and_the_dataset_unless_asked(toy):
    def steps(cfg):
        (train, _, _, _, _), _ = _run(cfg)
        t = train.dataset.transform
        return [type(s).__name__ for s in (t.transforms if t is not None else [])]

    assert steps({}) == []
    assert steps({"augment": True}) == ["RandomCrop"]  # the toy's labels do not survive mirroring
    toy["flip"] = True
    assert steps({"augment": True}) == ["RandomCrop", "RandomHorizontalFlip"]
    assert steps({"augment": True, "flip": False}) == ["RandomCrop"]
    assert steps({"flip": True}) == ["RandomHorizontalFlip"]
    toy["mean"], toy["std"] = (0.5,), (0.25,)
    (train, val, test, _, spec), _ = _run({"erase": 0.3})
    assert [type(s).__name__ for s in train.dataset.transform.transforms] == ["Compose", "RandomErasing"]
    assert val.dataset.transform.transforms[0].mean.tolist() == [0.5]
    assert test.transform.transforms[0].std.tolist() == [0.25]
    assert float(np.asarray(test[0][0])[0, 0, 0]) == pytest.approx((7 / 255 - 0.5) / 0.25, rel=1e-6)


def test_a_validation_folder_refuses_val_split(toy, monkeypatch):
    from convlab.train import run_data

    monkeypatch.setattr(run_data, "load_datasets", lambda cfg, say: (
        ArrayDataset(np.zeros((4, 1, 2, 2), np.uint8), np.arange(4) % 2), ArrayDataset(np.zeros((2, 1, 2, 2), np.uint8),
                                                                                        np.arange(2)),
        ArrayDataset(np.zeros((2, 1, 2, 2), np.uint8), np.arange(2)), {"flip": False}, Preprocessing(channels=1, size=2)))
    with pytest.raises(ConvlabError) as e:
        _run({"val_split": 0.1})
    assert str(e.value) == ("--val-split holds out training pictures for validation, but this run validates on its own "
                            "folder (val/ or --val-data); leave --val-split out")
    (train, val, _, _, _), said = _run({})
    assert len(train) == 4 and len(val) == 2 and said == []


# ---- normalisation

def _spec(**kw):
    return Preprocessing(channels=kw.pop("channels", 1), size=(2, 2), **kw)


def test_finish_spec_takes_the_flags_or_the_known_statistics():
    spec = _spec(mean=(0.3,), std=(0.2,))
    assert finish_spec(spec, {"normalize": False}, None, None, {}, print).mean is None
    out = finish_spec(spec, {"mean": [0.1], "std": [0.4]}, None, None, {"measure_stats": True}, print)
    assert out.mean == (0.1,) and out.std == (0.4,)
    rgb = finish_spec(_spec(channels=3), {"mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6]}, None, None, {}, print)
    assert rgb.mean == (0.1, 0.2, 0.3) and rgb.std == (0.4, 0.5, 0.6)
    assert finish_spec(spec, {}, None, None, {"measure_stats": True}, print) is spec  # known: kept
    plain = _spec()
    assert finish_spec(plain, {}, None, None, {}, print) is plain  # a named dataset without statistics


@pytest.mark.parametrize("channels, mean, std, text", [
    (1, [0.1, 0.2], [0.3, 0.4], "--mean and --std take 1 value for these 1-channel pictures, got 2 and 2"),
    (3, [0.1, 0.2], [0.3, 0.4], "--mean and --std take 1 value or 3 (one per channel) for these 3-channel pictures, "
                                "got 2 and 2"),
    (3, [0.1, 0.2, 0.3], [0.3], "--mean and --std take 1 value or 3 (one per channel) for these 3-channel pictures, "
                                "got 3 and 1"),
])
def test_finish_spec_refuses_statistics_of_the_wrong_length(channels, mean, std, text):
    with pytest.raises(ConvlabError) as e:
        finish_spec(_spec(channels=channels), {"mean": mean, "std": std}, None, None, {}, print)
    assert str(e.value) == text


def test_finish_spec_measures_the_training_pixels_it_will_train_on():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 3, 4, 4)).astype(np.uint8)
    ds = Subset(Subset(ArrayDataset(images, np.zeros(30, np.int64)), np.arange(5, 30)), np.arange(0, 25, 2))
    said = []
    out = finish_spec(_spec(channels=3), {}, ds, np.array([0, 3, 4, 7]), {"measure_stats": True}, said.append)
    pixels = images[[5, 11, 13, 19]].astype(np.float64) / 255  # through both subsets: pictures 5, 11, 13, 19
    np.testing.assert_allclose(out.mean, pixels.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(out.std, pixels.std(axis=(0, 2, 3)), rtol=1e-5)
    assert said == ["  normalisation measured on the training images: mean " + ",".join(f"{m:.3f}" for m in out.mean)
                    + " std " + ",".join(f"{s:.3f}" for s in out.std) + " (--mean/--std or --no-normalize to choose)"]
    flat = ArrayDataset(np.full((3, 1, 2, 2), 0.25, np.float32), np.zeros(3, np.int64))
    out = finish_spec(_spec(), {}, flat, np.arange(3), {"measure_stats": True}, said.append)
    assert out.mean == pytest.approx((0.25,), rel=1e-6)  # float pixels are taken as they are
    assert out.std == pytest.approx((1e-3,), rel=1e-6)  # a flat picture: the std floor, not 0


# ---- augmentation

@pytest.mark.parametrize("size, pad, crop_pad", [(32, 0, 4), (28, 0, 2), (8, 0, 1), (40, 0, 5), (27, 0, 1),
                                                 (28, 2, 4), (26, 1, 2)])
def test_train_transform_crops_with_padding_by_size(size, pad, crop_pad):
    spec = Preprocessing(channels=1, size=size, pad=pad)
    t = train_transform(spec, augment=True, flip=False)
    steps = t.transforms
    crop = steps[1] if pad else steps[0]
    assert isinstance(crop, T.RandomCrop) and crop.size == (size + 2 * pad,) * 2
    assert crop.padding == (crop_pad, crop_pad)  # an eighth of 32 and more, a fourteenth below, at least 1


def test_train_transform_flips_erases_and_normalises_in_order():
    spec = Preprocessing(channels=1, size=8, mean=(0.5,), std=(0.5,), pad=1)
    t = train_transform(spec.to_dict(), augment=False, flip=True, erase=0.25)
    outer = [type(s).__name__ for s in t.transforms]
    assert outer == ["Compose", "RandomErasing"] and t.transforms[1].p == 0.25
    assert [type(s).__name__ for s in t.transforms[0].transforms] == ["Pad", "RandomHorizontalFlip", "Normalize"]
    assert train_transform(Preprocessing(channels=1, size=8), augment=False, flip=False) is None
    only_erase = train_transform(Preprocessing(channels=1, size=8), augment=False, flip=False, erase=0.5)
    assert [type(s).__name__ for s in only_erase.transforms] == ["RandomErasing"]


def test_train_transform_is_seeded():
    spec = Preprocessing(channels=1, size=8)
    x = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    a = train_transform(spec, augment=True, flip=True, seed=4)
    b = train_transform(spec, augment=True, flip=True, seed=4)
    c = train_transform(spec, augment=True, flip=True, seed=5)
    assert np.array_equal(np.asarray(a(x)), np.asarray(b(x))) and not np.array_equal(np.asarray(a(x)), np.asarray(c(x)))


# ---- loaders

def test_loaders_of_one_process():
    ds = ArrayDataset(np.zeros((10, 1, 2, 2), np.uint8), np.arange(10))
    train, val, test = loaders(ds, ds, ds, batch_size=4, seed=7)
    assert (train.batch_size, train.shuffle, train.seed) == (4, True, 7)
    assert (val.batch_size, val.shuffle, test.batch_size) == (256, False, 256)
    assert loaders(ds, None, ds, batch_size=300, seed=7)[1] is None
    assert loaders(ds, None, ds, batch_size=300, seed=7)[2].batch_size == 300


def test_loaders_of_rank_1_of_3():
    ds = ArrayDataset(np.zeros((10, 1, 2, 2), np.uint8), np.arange(10))
    train, val, test = loaders(ds, ds, ds, batch_size=6, seed=7, rank=1, world_size=3, random_transform=True)
    assert (train.num_replicas, train.rank, train.fetch_global, train.batch_size) == (3, 1, True, 6)
    assert list(val.dataset.indices) == [1, 4, 7] and list(test.dataset.indices) == [1, 4, 7]
    assert val.batch_size == 86  # ceil(256 / 3)
    assert loaders(ds, None, ds, batch_size=6, seed=7, rank=2, world_size=3)[0].fetch_global is False


# ---- optimizers and schedules by name

def _params():
    return nn.Linear(2, 2).parameters()


def test_optimizers_by_name_with_their_settings():
    sgd = recipes.build_optimizer("SGD", _params(), lr=0.1, weight_decay=0.01, momentum=0.8)
    assert type(sgd) is optim.SGD
    g = sgd.param_groups[0]
    assert (g["lr"], g["momentum"], g["weight_decay"], g["nesterov"]) == (0.1, 0.8, 0.01, True)
    plain = recipes.build_optimizer("sgd", _params(), lr=0.1, momentum=0.0).param_groups[0]
    assert plain["nesterov"] is False and plain["weight_decay"] == 0.0
    assert recipes.build_optimizer("sgd", _params(), lr=0.1).param_groups[0]["momentum"] == 0.9  # the default
    adam = recipes.build_optimizer("adam", _params(), lr=0.01, weight_decay=0.02)
    assert type(adam) is optim.Adam and adam.param_groups[0]["lr"] == 0.01 and adam.param_groups[0]["weight_decay"] == 0.02
    adamw = recipes.build_optimizer("AdamW", _params(), lr=0.03, weight_decay=0.04)
    assert type(adamw) is optim.AdamW and (adamw.param_groups[0]["lr"], adamw.param_groups[0]["weight_decay"]) == (0.03, 0.04)
    with pytest.raises(ConvlabError) as e:
        recipes.build_optimizer("lbfgs", _params(), lr=0.1)
    assert str(e.value) == "unknown optimizer 'lbfgs'; choose sgd, adam or adamw"


def _lrs(name, epochs, steps, n):
    opt = optim.SGD(_params(), lr=1.0)
    s = recipes.build_scheduler(name, opt, lr=1.0, epochs=epochs, steps_per_epoch=steps)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return s, out


def test_schedules_by_name():
    assert recipes.build_scheduler(None, optim.SGD(_params(), lr=1.0), 1.0, 3, 4) is None
    assert recipes.build_scheduler("None", optim.SGD(_params(), lr=1.0), 1.0, 3, 4) is None
    s, lrs = _lrs("cosine", 4, 10, 5)
    assert type(s) is sch.CosineAnnealingLR and s.T_max == 4
    np.testing.assert_allclose(lrs, [0.5 * (1 + np.cos(np.pi * k / 4)) for k in range(5)], rtol=0, atol=1e-12)
    s, _ = _lrs("cosine", 0, 10, 1)
    assert s.T_max == 1
    s, lrs = _lrs("OneCycle", 2, 5, 10)
    assert type(s) is sch.OneCycleLR and s.total_steps == 10 and s.anneal_strategy == "cos"
    assert max(lrs) == pytest.approx(1.0, rel=1e-12) and lrs[0] == pytest.approx(1.0 / 25, rel=1e-12)
    s, lrs = _lrs("linear", 2, 5, 10)
    assert type(s) is sch.OneCycleLR and s.total_steps == 10 and s.anneal_strategy == "linear"
    assert lrs[1] == pytest.approx(0.04 + (1 - 0.04) / 2, rel=1e-12)  # linear warm-up: the peak at step 3 - 1 = 2
    s, _ = _lrs("onecycle", 0, 5, 1)
    assert s.total_steps == 1
    s, lrs = _lrs("step", 9, 1, 7)
    assert type(s) is sch.StepLR and s.step_size == 3 and s.gamma == 0.1
    np.testing.assert_allclose(lrs, [1, 1, 1, 0.1, 0.1, 0.1, 0.01], rtol=1e-12)
    assert _lrs("step", 2, 1, 1)[0].step_size == 1  # fewer than 3 epochs: every epoch
    with pytest.raises(ConvlabError) as e:
        recipes.build_scheduler("poly", optim.SGD(_params(), lr=1.0), 1.0, 3, 4)
    assert str(e.value) == "unknown schedule 'poly'; choose cosine, onecycle, linear, step or none"


def test_describe_lists_what_a_recipe_changes(monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "mine", ("for a test", {**recipes.BASE, "epochs": 9, "lr": 0.0125,
                                                                 "augment": True, "tta": False, "flip": False,
                                                                 "label_smoothing": 0.1, "dataset": "mnist",
                                                                 "batch_size": 64, "schedule": "cosine"}))
    assert recipes.describe("mine") == ("--model compactcnn --epochs 9 --batch-size 64 --lr 0.0125 --label-smoothing 0.1 "
                                        "--schedule cosine --augment --no-flip")
    with pytest.raises(ConvlabError) as e:
        recipes.recipe("nope")
    assert str(e.value).startswith("unknown recipe 'nope'; choose one of default, ")
