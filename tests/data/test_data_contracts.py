"""Outcomes of the data module that no other test pinned (found by mutation testing, issue 24):
refusal messages that name the argument, collation of tensors and of unequal shapes, splits with a
remainder, the inferred class names and sizes of folders, IDX writing, the Pillow modes with alpha,
EXIF notes, the synthetic lessons' geometry, and the transforms' edge cases. Every expected value is
written out by hand."""

import gzip

import numpy as np
import pytest
from fixtures import make_idx_set
from PIL import Image

import convlab
from convlab.data import ArrayDataset, DataLoader, IterableDataset, RandomSampler, Subset, random_split, read_idx, write_idx
from convlab.data import transforms as T
from convlab.data.collate import default_collate
from convlab.data.datasets import collate
from convlab.data.folder import ImageFolder, load_image, scan_classes
from convlab.data.images import _to_float, decode_image
from convlab.data.mnist import MNIST
from convlab.data.preprocess import Preprocessing
from convlab.data.survey import infer, survey
from convlab.data.synthetic import EdgesDataset
from convlab.validate import ConvlabError


def _gray(path, value, shape=(4, 4)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8), "L").save(path)


# ---- collation

def test_default_collate_names_unequal_shapes():
    with pytest.raises(RuntimeError) as e:
        default_collate([np.zeros(2, np.float32), np.zeros(3, np.float32)])
    assert str(e.value) == ("default_collate: stack expects each array to be equal size, but got shapes [(2,), (3,)] "
                            "(resize the samples to one size, or pass a collate_fn)")
    with pytest.raises(RuntimeError, match=r"each tensor to be equal size, but got shapes \[\(1,\), \(2,\)\]"):
        default_collate([convlab.zeros(1), convlab.zeros(2)])


def test_collate_stacks_tensors_and_refuses_what_is_not_a_list():
    images, labels = collate([(convlab.tensor([1.0, 2.0]), 0), (convlab.tensor([3.0, 4.0]), 1)])
    assert type(images) is np.ndarray and images.tolist() == [[1.0, 2.0], [3.0, 4.0]] and labels.tolist() == [0, 1]
    for bad in ("ab", [], None):
        with pytest.raises(ConvlabError, match="collate: items must be a non-empty list of samples"):
            collate(bad)
    with pytest.raises(ConvlabError) as e:
        collate([(np.zeros(2), 0), (np.zeros(3), 1)])
    assert "of different shapes [(2,), (3,)]: resize them to one size (ImageFolder(size=...)) or use batch_size=1" \
        in str(e.value)


# ---- datasets and splits

def test_random_split_by_counts_and_by_fractions_with_a_remainder():
    ds = ArrayDataset(np.zeros((7, 1, 1, 1), np.uint8), np.arange(7))
    assert [len(s) for s in random_split(ds, [3, 4], seed=0)] == [3, 4]
    # 7 * 0.5 = 3.5: floors 3 and 3, the one left over goes to the first
    parts = random_split(ds, [0.5, 0.5], seed=0)
    assert [len(s) for s in parts] == [4, 3] and sorted([*parts[0].indices, *parts[1].indices]) == list(range(7))
    assert [len(s) for s in random_split(ds, [0.2, 0.2, 0.6], seed=0)] == [2, 1, 4]  # floors 1, 1, 4; +1 to the first


def test_integer_labels_name_their_classes_and_subsets_index_with_integers():
    ds = ArrayDataset(np.zeros((3, 1, 1, 1), np.uint8), np.array([0, 2, 1], np.uint8))
    assert ds.classes == ["0", "1", "2"]
    assert ArrayDataset(np.zeros((2, 1, 1, 1)), np.array([0.5, 1.5])).classes == []  # regression targets: none
    empty = Subset(ds, [])
    assert empty.indices.dtype == np.int64 and len(empty) == 0
    assert Subset(ds, [2, 0]).indices.dtype == np.int64


def test_an_iterable_loader_counts_its_epochs():
    class Three(IterableDataset):
        def __iter__(self):
            return iter(np.arange(3, dtype=np.float32).reshape(3, 1))

    loader = DataLoader(Three(), batch_size=2, seed=0, prefetch=0)
    for expect in (1, 2, 3):
        assert [b.numpy().ravel().tolist() for b in loader] == [[0.0, 1.0], [2.0]]
        assert loader.epoch == expect


def test_an_empty_random_sampler_yields_nothing():
    assert list(RandomSampler([])) == [] and len(RandomSampler([])) == 0


def test_dataloader_rank_outside_the_replicas_is_named():
    with pytest.raises(ConvlabError) as e:
        DataLoader(ArrayDataset(np.zeros((2, 1, 1, 1)), np.arange(2)), num_replicas=2, rank=2)
    assert str(e.value) == "DataLoader: rank 2 is outside [0, 2)"


# ---- folders

def test_scan_classes_counts_other_files_and_names_an_empty_folder(tmp_path):
    _gray(tmp_path / "a" / "x" / "1.png", 0)
    _gray(tmp_path / "a" / "y" / "1.png", 0)
    (tmp_path / "a" / "x" / "readme.txt").write_text("")
    (tmp_path / "a" / "y" / ".hidden").write_text("")
    classes, samples, other = scan_classes(tmp_path / "a")
    assert classes == ["x", "y"] and len(samples) == 2 and other == 1
    (tmp_path / "a" / "z").mkdir()
    with pytest.raises(ConvlabError) as e:
        scan_classes(tmp_path / "a")
    assert str(e.value).endswith("); remove it or add pictures") and "empty class folder z (no pictures" in str(e.value)


def test_image_folder_infers_the_size_for_a_given_mode_and_names_a_bad_mode(tmp_path):
    for i, shape in enumerate([(4, 6), (4, 6), (8, 8)]):
        _gray(tmp_path / "f" / ("a" if i < 2 else "b") / f"{i}.png", 100, shape)
    folder = ImageFolder(tmp_path / "f", mode="L", size="infer")
    assert folder.size == (4, 6) and folder.mode == "L"
    assert folder[2][0].shape == (1, 4, 6)
    with pytest.raises(ConvlabError) as e:
        ImageFolder(tmp_path / "f", mode="CMYK")
    assert str(e.value) == "ImageFolder: mode must be 'L' or 'RGB', got 'CMYK'"
    as_is = ImageFolder(tmp_path / "f", mode="L")  # no size: each picture keeps its own
    assert as_is[0][0].shape == (1, 4, 6) and as_is[2][0].shape == (1, 8, 8)
    assert ImageFolder(tmp_path / "f", mode="RGB")[2][0].shape == (3, 8, 8)


def test_the_survey_words_for_one_channel_and_one_aspect_ratio(tmp_path):
    paths = []
    for k, shape in enumerate([(4, 8), (8, 16), (6, 12)]):
        paths.append(tmp_path / f"{k}.png")
        _gray(paths[-1], 0, shape)
    words = infer(survey(paths)).words
    assert words[0] == "1 channel (all pictures are grayscale)"
    assert words[2] == "resize: stretch (all pictures have this aspect ratio; --resize stretch|pad|crop to choose)"


# ---- IDX

def test_write_idx_compresses_by_the_name_and_refuses_a_scalar(tmp_path):
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    write_idx(str(tmp_path / "a.idx.gz"), a)
    raw = (tmp_path / "a.idx.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and gzip.decompress(raw) == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + a.tobytes()
    write_idx(str(tmp_path / "a.idx"), a)
    assert (tmp_path / "a.idx").read_bytes()[:4] == bytes([0, 0, 8, 2])
    with pytest.raises(ConvlabError, match="write_idx: an IDX array needs 1 to 255 dimensions, got 0"):
        write_idx(str(tmp_path / "s.idx"), np.array(5, np.uint8))


def test_a_gzipped_idx_declaring_more_than_memory_allows_is_refused(tmp_path, monkeypatch):
    write_idx(str(tmp_path / "big.idx.gz"), np.zeros((20, 10), np.uint8))
    monkeypatch.setenv("CONVLAB_MAX_BYTES", "100")
    with pytest.raises(ConvlabError) as e:
        read_idx(str(tmp_path / "big.idx.gz"))
    assert "the header declares shape (20, 10) of uint8: the declared data of shape (20, 10) needs 200 B, " \
           "more than the 100 B allowed" in str(e.value)


def test_mnist_find_needs_both_splits(tmp_path):
    make_idx_set(tmp_path / "m", n_train=2, n_test=1, size=4)
    assert MNIST.find(tmp_path / "m") == str(tmp_path / "m")
    (tmp_path / "m" / "t10k-images-idx3-ubyte.gz").unlink()
    assert MNIST.find(tmp_path / "m") is None


# ---- pictures

def test_palette_and_premultiplied_alpha_modes():
    pa = Image.new("PA", (2, 1))
    pa.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pa.putdata([(0, 255), (1, 128)])
    np.testing.assert_allclose(_to_float(pa, "x"), [[[1.0, 0.0, 0.0], [0.0, 128 / 255, 0.0]]], rtol=0, atol=1e-6)
    assert _to_float(Image.new("La", (2, 1)), "x").shape == (1, 2, 1)
    assert _to_float(Image.new("RGBa", (2, 1)), "x").shape == (1, 2, 3)


def test_notes_say_exif_rotation_and_the_channel_change(tmp_path):
    im = Image.fromarray((np.arange(6, dtype=np.uint8) * 40).reshape(2, 3), "L")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "rot.png", exif=exif)
    im.save(tmp_path / "plain.png")
    notes = []
    out = Preprocessing(channels=1, size=(3, 2)).convert(decode_image(str(tmp_path / "rot.png")), notes)
    assert notes == ["EXIF orientation applied"] and out.shape == (1, 3, 2)
    notes = []
    Preprocessing(channels=3, size=(2, 3)).convert(decode_image(str(tmp_path / "plain.png")), notes)
    assert notes == ["L -> RGB"]
    rgb = Image.fromarray(np.zeros((2, 3, 3), np.uint8), "RGB")
    notes = []
    Preprocessing(channels=1, size=(2, 3)).convert(rgb, notes)
    assert notes == ["RGB -> grayscale"]
    assert load_image(str(tmp_path / "plain.png"))[0].dtype == np.float32


def test_uint16_arrays_are_scaled_by_65535_and_sizes_must_be_positive():
    out = Preprocessing(channels=1, size=(1, 2)).convert(np.array([[0, 65535]], np.uint16))
    assert out.dtype == np.float32 and out.tolist() == [[[0.0, 1.0]]]
    with pytest.raises(ConvlabError) as e:
        Preprocessing(channels=1, size=(0, 4))
    assert str(e.value) == "Preprocessing: size must be positive, got (0, 4)"


def test_from_dict_reads_the_size_key():
    spec = Preprocessing.from_dict({"channels": 1, "size": [5, 7]})
    assert spec.size == (5, 7) and spec.channels == 1


# ---- synthetic lessons

def test_edges_dataset_bands_sit_between_bright_borders():
    ds = EdgesDataset(n=300, height=2, width=6, seed=1)
    assert ds.images.dtype == np.float32
    cols = ds.images[:, 0, 0, :]
    assert (cols[:, 0] == 1).all() and (cols[:, -1] == 1).all()  # at least one bright column either side
    dark = cols == 0
    assert dark.any(axis=1).all()  # every picture has a band
    starts, stops = dark.argmax(axis=1), 6 - dark[:, ::-1].argmax(axis=1)
    assert all(dark[i, starts[i]:stops[i]].all() for i in range(300))  # one band, without gaps
    assert set(starts) == {1, 2, 3, 4} and set(stops - starts) == {1, 2, 3, 4}
    assert EdgesDataset(n=2, height=1, width=3).images.shape == (2, 1, 1, 3)  # the smallest allowed
    with pytest.raises(ConvlabError, match="need width >= 3 and height >= 1, got 1x2"):
        EdgesDataset(n=2, height=1, width=2)
    with pytest.raises(ConvlabError) as e:
        EdgesDataset(n=2, height=4, width=6, target="orientation")
    assert str(e.value) == "EdgesDataset: target='orientation' needs square images, got 4x6"


# ---- transforms

def test_transform_refusals_name_the_argument():
    with pytest.raises(TypeError) as e:
        T.Normalize("abc", (1.0,))
    assert str(e.value) == "Normalize: mean must be a real number, got 'abc' (str)"
    with pytest.raises(TypeError) as e:
        T.RandomErasing(p="x")
    assert str(e.value) == "RandomErasing: argument 'p' must be a real number, got 'x' (str)"
    with pytest.raises(ConvlabError, match=r"RandomErasing: p must be in \[0, 1\], got 2.0"):
        T.RandomErasing(p=2)


def test_a_crop_the_size_of_the_picture_is_the_picture():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    out = T.RandomCrop(4)(x, np.random.default_rng(0))
    assert np.array_equal(np.asarray(out), x)


def test_random_erasing_draws_shape_and_place_per_picture():
    n = 400
    x = np.ones((n, 1, 48, 48), np.float32)
    out = np.asarray(T.RandomErasing(p=1.0, scale=(0.05, 0.1))(x, np.random.default_rng(0)))
    erased = out[:, 0] == 0
    rows, cols = erased.any(axis=2), erased.any(axis=1)
    h, w = rows.sum(axis=1), cols.sum(axis=1)
    ok = h > 0
    assert ok.mean() > 0.9
    ratio = h[ok] / w[ok]
    # aspect ratios log-uniform in [0.3, 3.3]: both tails are reached, each picture draws its own
    assert ratio.max() > 2.8 and ratio.min() < 0.4 and len(np.unique(ratio)) > 50
    lefts = cols.argmax(axis=1)[ok]
    assert len(np.unique(lefts)) > 30 and len(np.unique(rows.argmax(axis=1)[ok])) > 30


def test_to_tensor_keeps_float32_tensors_and_makes_float32():
    t = convlab.zeros(2)
    assert T.ToTensor()(t) is t
    out = T.ToTensor()(np.full((2, 2), 0.5, np.float64))
    assert out.dtype == convlab.float32 and out.shape == (1, 2, 2)
