"""More data outcomes the fresh (seed-3) mutation sample found unpinned (issue 24): refusal messages
naming the argument, the words the survey and the conversion notes use, the resampling filter
(bilinear, against Pillow's own), EXIF-rotated sizes, transparency in palette pictures, named-tuple
collation and CIFAR-10's transform. Expected values are written out or computed by Pillow directly."""

from collections import namedtuple

import numpy as np
import pytest
from fixtures import make_cifar_dir
from PIL import Image

from convlab.data import BatchSampler, WeightedRandomSampler
from convlab.data import transforms as T
from convlab.data.cifar import CIFAR10
from convlab.data.collate import default_collate
from convlab.data.folder import load_image, scan_classes
from convlab.data.images import _to_float
from convlab.data.preprocess import Preprocessing, from_checkpoint
from convlab.data.survey import infer, survey
from convlab.validate import ConvlabError


def test_preprocessing_refusals_and_notes():
    with pytest.raises(ConvlabError) as e:
        Preprocessing(channels=1, size=4, mean=(0.5,))
    assert str(e.value) == "Preprocessing: give both mean and std, or neither"
    with pytest.raises(TypeError) as e:
        Preprocessing.from_dict([1, 2])
    assert str(e.value) == "Preprocessing.from_dict: expected a dict, got list"
    notes = []
    Preprocessing(channels=3, size=(2, 2), invert=True).convert(np.zeros((2, 2), np.uint8), notes)
    assert notes == ["grayscale -> RGB", "inverted"]


def test_from_checkpoint_reads_the_record_or_the_fallback_or_names_the_flags():
    spec = Preprocessing(channels=1, size=(4, 4))
    assert from_checkpoint({"meta": {"preprocessing": spec.to_dict()}}) == spec
    assert from_checkpoint({"meta": {}}, fallback=spec) is spec and from_checkpoint([], fallback=spec) is spec
    with pytest.raises(ConvlabError) as e:
        from_checkpoint({"meta": None}, "m.safetensors")
    assert str(e.value) == (
        "m.safetensors does not record how its pictures were preprocessed; give it with --image-size H,W and "
        "--channels 1|3 (and --mean/--std if the model was trained on normalised input), or save the checkpoint "
        "with convlab.save(model, path, preprocessing=...) or Trainer(..., preprocessing=...)")


def test_resizing_is_bilinear_as_pillow_computes_it():
    rng = np.random.default_rng(0)
    plane = rng.random((7, 9)).astype(np.float32)
    out = Preprocessing(channels=1, size=(4, 5)).convert(plane)
    ref = np.asarray(Image.fromarray(plane, mode="F").resize((5, 4), Image.BILINEAR), np.float32)
    np.testing.assert_allclose(out[0], ref, rtol=0, atol=1e-6)
    bicubic = np.asarray(Image.fromarray(plane, mode="F").resize((5, 4), Image.BICUBIC), np.float32)
    assert np.abs(ref - bicubic).max() > 1e-3  # the two filters differ on this picture


def test_load_image_resizes_bilinearly(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (9, 7), dtype=np.uint8)
    Image.fromarray(a, "L").save(tmp_path / "p.png")
    out, note = load_image(str(tmp_path / "p.png"), size=(4, 3))
    ref = np.asarray(Image.fromarray(a, "L").resize((3, 4), Image.BILINEAR), np.float32) / 255
    np.testing.assert_allclose(out[0], ref, rtol=0, atol=1 / 255 + 1e-6)
    assert "size 7x9 -> 3x4" in note


def test_a_palette_picture_with_a_transparent_index_is_composited_on_black():
    p = Image.new("P", (2, 1))
    p.putpalette([255, 255, 255, 0, 0, 255] + [0] * 762)
    p.putdata([0, 1])
    p.info["transparency"] = 0  # index 0 (white) is transparent
    np.testing.assert_allclose(_to_float(p, "x"), [[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]], rtol=0, atol=1e-6)


def test_scan_classes_skips_hidden_folders_and_names_unknown_classes(tmp_path):
    for d in ("a", "b", ".cache"):
        (tmp_path / "t" / d).mkdir(parents=True)
        Image.fromarray(np.zeros((2, 2), np.uint8), "L").save(tmp_path / "t" / d / "1.png")
    assert scan_classes(tmp_path / "t")[0] == ["a", "b"]
    with pytest.raises(ConvlabError) as e:
        scan_classes(tmp_path / "t", ["a", "c"])
    assert str(e.value) == f"{tmp_path / 't'} has class folders the training data does not have: b (training classes: a, c)"


def test_the_survey_words_for_mixed_channels_and_aspect_ratios(tmp_path):
    paths = []
    for k, (mode, shape) in enumerate([("L", (4, 4)), ("L", (4, 8)), ("RGB", (4, 4))]):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(np.zeros(shape + ((3,) if mode == "RGB" else ()), np.uint8), mode).save(paths[-1])
    words = infer(survey(paths)).words
    assert words[0] == "1 channel (grayscale: 1 colour and 2 grayscale pictures; --channels to choose)"
    assert words[-1] == ("resize: pad (aspect ratios differ: each picture is scaled to fit and padded with black; "
                         "--resize stretch|pad|crop to choose)")


@pytest.mark.parametrize("orientation, size", [(1, (2, 3)), (3, (2, 3)), (5, (3, 2)), (6, (3, 2)), (7, (3, 2)),
                                               (8, (3, 2))])
def test_the_survey_reads_sizes_as_displayed(tmp_path, orientation, size):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.zeros((2, 3), np.uint8), "L").save(tmp_path / "r.png", exif=exif)
    assert list(survey([tmp_path / "r.png"]).sizes) == [size]


def test_sampler_refusals_and_limits():
    for bad in (0, -1):
        with pytest.raises(ConvlabError) as e:
            BatchSampler(range(4), bad, False)
        assert str(e.value) == f"batch_size should be a positive integer value, but got batch_size={bad}"
    s = WeightedRandomSampler([1, 0, 2], num_samples=2, replacement=False)  # as many as the positive weights
    assert sorted(s) == [0, 2]
    ints = WeightedRandomSampler([1, 3], num_samples=4000, generator=None)  # integer weights: 1 : 3
    assert 0.7 < np.mean(list(ints)) < 0.8


def test_named_tuples_collate_field_by_field():
    Item = namedtuple("Item", "x y")
    batch = default_collate([Item(np.zeros(2, np.float32), 1), Item(np.ones(2, np.float32), 2)])
    assert type(batch) is Item and batch.y.numpy().tolist() == [1, 2] and batch.x.shape == (2, 2)


def test_random_erasing_keeps_the_batch_dtype():
    x = np.ones((4, 1, 16, 16), np.float32)
    out = np.asarray(T.RandomErasing(p=1.0, value=0.5)(x, np.random.default_rng(0)))
    assert out.dtype == np.float32 and (out == 0.5).any()


def test_cifar10_applies_its_transform(tmp_path):
    make_cifar_dir(tmp_path, per_batch=2, train_batches=1)
    ds = CIFAR10(tmp_path, train=False, transform=T.Lambda(lambda x: x * 0 + 3))
    assert ds.transform is not None and float(np.asarray(ds[0][0]).max()) == 3.0


def test_list_samples_collate_to_a_list_and_tuples_to_a_tuple():
    as_lists = default_collate([[np.zeros(2, np.float32), 1], [np.ones(2, np.float32), 2]])
    as_tuples = default_collate([(np.zeros(2, np.float32), 1), (np.ones(2, np.float32), 2)])
    assert type(as_lists) is list and type(as_tuples) is tuple  # as torch's default_collate
    assert as_lists[1].numpy().tolist() == [1, 2] and as_tuples[0].shape == (2, 2)


def test_from_checkpoint_calls_an_unnamed_file_a_checkpoint():
    with pytest.raises(ConvlabError, match=r"^checkpoint does not record how its pictures were preprocessed; "):
        from_checkpoint({})


def test_an_iterable_dataset_refuses_shuffle_and_an_unbatched_loader_serves_items():
    from convlab.data import ArrayDataset, DataLoader, IterableDataset

    class Stream(IterableDataset):
        def __iter__(self):
            return iter([1, 2])

    with pytest.raises(ConvlabError, match="^DataLoader with IterableDataset: expected unspecified shuffle, sampler and "
                                           "batch_sampler options$"):
        DataLoader(Stream(), shuffle=True)
    ds = ArrayDataset(np.arange(3, dtype=np.uint8).reshape(3, 1, 1, 1) * 51, np.array([0, 1, 2]))
    items = [(float(np.asarray(x).ravel()[0]), int(y)) for x, y in DataLoader(ds, batch_size=None, prefetch=0)]
    assert [y for _, y in items] == [0, 1, 2]  # one item at a time, in order
    assert [x for x, _ in items] == pytest.approx([0.0, 0.2, 0.4], rel=1e-6)  # uint8 / 255


def test_an_idx_header_of_zero_dimensions_is_named(tmp_path):
    from convlab.data import read_idx

    (tmp_path / "z.idx").write_bytes(bytes([0, 0, 8, 0]))
    with pytest.raises(ValueError, match="the header declares 0 dimensions"):
        read_idx(str(tmp_path / "z.idx"))
