import numpy as np
import pytest

import convlab
from convlab.data import Compose, Lambda, Normalize, RandomCrop, RandomErasing, RandomHorizontalFlip, ToTensor


def batch(n=16, c=2, h=6, w=7):
    return np.random.default_rng(0).random((n, c, h, w)).astype(np.float32)


def test_normalize_per_channel_and_tensor_in_tensor_out():
    x = batch()
    out = Normalize((0.5, 0.25), (0.5, 2.0))(x)
    np.testing.assert_allclose(out[:, 1], (x[:, 1] - 0.25) / 2.0, rtol=1e-6)
    t = Normalize(0.5, 0.5)(convlab.tensor(x[0]))
    assert isinstance(t, convlab.Tensor) and t.shape == (2, 6, 7)
    with pytest.raises(ValueError, match="channels"):
        Normalize((0, 0, 0), (1, 1, 1))(x)


def test_random_crop_is_a_window_of_the_padded_image():
    x = batch()
    rng = np.random.default_rng(1)
    out = RandomCrop((6, 7), padding=2)(x, rng=rng)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for k in range(len(x)):
        found = [(i, j) for i in range(5) for j in range(5) if np.array_equal(padded[k, :, i:i + 6, j:j + 7], out[k])]
        assert found, f"image {k} is not a crop"
        offsets.add(found[0])
    assert len(offsets) > 3  # offsets drawn per image, not once per batch
    single = RandomCrop(4, seed=0)(x[0])
    assert single.shape == (2, 4, 4)


def test_flip_per_image():
    x = batch(n=64)
    out = RandomHorizontalFlip(p=0.5)(x, rng=np.random.default_rng(0))
    flipped = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x)])
    same = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert (flipped | same).all() and 10 < flipped.sum() < 54


def test_random_erasing():
    x = np.ones((200, 1, 20, 20), np.float32)
    out = RandomErasing(p=0.5, value=0.0)(x, rng=np.random.default_rng(0))
    erased = (out == 0).reshape(200, -1).sum(1)
    assert 60 < (erased > 0).sum() < 140
    frac = erased[erased > 0] / 400
    assert frac.min() >= 0.015 and frac.max() <= 0.4
    # the erased region is one rectangle
    k = int(np.argmax(erased > 0))
    rows, cols = np.nonzero(out[k, 0] == 0)
    assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    noisy = RandomErasing(p=1.0, value="random", seed=0)(x)
    assert (noisy != 1).any()


def test_seeded_reproducible():
    x = batch()

    def aug(seed):
        return Compose([RandomCrop(6, padding=1, seed=seed), RandomHorizontalFlip(seed=seed), RandomErasing(seed=seed)])

    np.testing.assert_array_equal(aug(3)(x), aug(3)(x))
    assert not np.array_equal(aug(3)(x), aug(4)(x))
    np.testing.assert_array_equal(aug(0)(x, rng=np.random.default_rng(5)), aug(1)(x, rng=np.random.default_rng(5)))
    convlab.manual_seed(11)
    a = RandomHorizontalFlip()(x)
    convlab.manual_seed(11)
    np.testing.assert_array_equal(a, RandomHorizontalFlip()(x))


def test_to_tensor():
    from PIL import Image

    img = Image.fromarray(np.array([[0, 255], [51, 102]], np.uint8))
    t = ToTensor()(img)
    assert isinstance(t, convlab.Tensor) and t.shape == (1, 2, 2) and t.dtype == np.float32
    np.testing.assert_allclose(t.numpy()[0], [[0, 1], [0.2, 0.4]], rtol=1e-6)
    rgb = ToTensor()(np.zeros((3, 4, 3), np.uint8))
    assert rgb.shape == (3, 3, 4)
    assert ToTensor()(np.zeros((1, 3, 3))).dtype == np.float32


def test_compose_batched_flag():
    assert Compose([Normalize(0, 1), RandomHorizontalFlip(seed=0)]).batched
    assert not Compose([Normalize(0, 1), Lambda(lambda x: x)]).batched


def test_pad_adds_the_same_border_on_every_side():
    """Pad(2): 2 pixels of ``fill`` on the top, bottom, left and right of every image (a 28x28 image
    becomes 32x32 with the original in the middle), batch or single image, tensor in -> tensor out."""
    from convlab.data.transforms import Pad

    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) + 1
    out = Pad(2, fill=-1.5)(x)
    assert out.shape == (2, 3, 8, 9)
    np.testing.assert_array_equal(out[:, :, 2:6, 2:7], x)
    border = np.ones(out.shape, bool)
    border[:, :, 2:6, 2:7] = False
    assert (out[border] == -1.5).all() and border.sum() == 2 * 3 * (8 * 9 - 4 * 5)
    for side in (out[:, :, :2], out[:, :, -2:], out[:, :, :, :2], out[:, :, :, -2:]):
        assert (side == -1.5).all()
    single = Pad(1)(convlab.tensor(x[0]))
    assert isinstance(single, convlab.Tensor) and single.shape == (3, 6, 7)
    np.testing.assert_array_equal(single.numpy(), np.pad(x[0], ((0, 0), (1, 1), (1, 1))))
    np.testing.assert_array_equal(Pad((1, 3))(x), np.pad(x, ((0, 0), (0, 0), (1, 1), (3, 3))))
    assert repr(Pad(2, fill=0.5)) == "Pad(padding=(2, 2), fill=0.5)"
    with pytest.raises(ValueError, match=r"Pad padding: expected an int or a pair, got \(1, 2, 3\)"):
        Pad((1, 2, 3))


def test_random_crop_pads_both_sides_and_reaches_every_offset():
    """RandomCrop(4, padding=1) on a 4x4 image: over many draws the window starts at every offset
    0..2 in both axes (the padding is on both sides), and each output is that window of the
    padded image."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) + 1
    batch = np.repeat(x, 200, axis=0)
    out = RandomCrop(4, padding=1, fill=-1)(batch, rng=np.random.default_rng(0))
    padded = np.pad(x[0, 0], 1, constant_values=-1)
    offsets = set()
    for img in out[:, 0]:
        hits = [(i, j) for i in range(3) for j in range(3) if np.array_equal(padded[i:i + 4, j:j + 4], img)]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert offsets == {(i, j) for i in range(3) for j in range(3)}
