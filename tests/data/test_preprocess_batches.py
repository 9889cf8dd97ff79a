"""Preprocessing on stacks of pictures (what ``convlab train`` converts a named dataset with, and
what ``apply_batch`` feeds a model), its one-line description, and the uint8 rounding; every value
hand-computed."""

import numpy as np
import pytest

from convlab.data.preprocess import Preprocessing, to_uint8


def test_to_uint8_rounds_and_clips():
    x = np.array([-0.5, 0.0, 0.5 / 255, 1.49 / 255, 1.51 / 255, 0.5, 254.6 / 255, 1.0, 1.7], np.float64)
    out = to_uint8(x)
    assert out.dtype == np.uint8
    # rint: 0.5 -> 0 (half to even), 127.5 -> 128; outside [0, 1] clipped
    assert out.tolist() == [0, 0, 0, 1, 2, 128, 255, 255, 255]


def test_convert_batch_fast_paths():
    spec = Preprocessing(channels=1, size=(3, 3))
    x = np.arange(18, dtype=np.uint8).reshape(2, 1, 3, 3)
    assert spec.convert_batch(x) is x  # already the right shape: the same array
    flat = spec.convert_batch(x[:, 0])  # (N, H, W) is (N, 1, H, W)
    assert flat.shape == (2, 1, 3, 3) and np.array_equal(flat, x)
    inv = Preprocessing(channels=1, size=(3, 3), invert=True)
    out = inv.convert_batch(x)
    assert out.dtype == np.uint8 and np.array_equal(out, 255 - x)
    f = x.astype(np.float32) / 255
    np.testing.assert_allclose(inv.convert_batch(f), 1.0 - f, rtol=0, atol=0)


def test_convert_batch_changes_channels_and_size():
    # a gray ramp 1x2x6 -> RGB: the plane repeated; uint8 in, uint8 out
    x = (np.arange(12, dtype=np.uint8) * 20).reshape(1, 1, 2, 6)
    rgb = Preprocessing(channels=3, size=(2, 6)).convert_batch(x)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 3, 2, 6)
    assert all(np.array_equal(rgb[0, c], x[0, 0]) for c in range(3))
    # RGB -> gray: ITU-R 601-2 luma, 0.299 R + 0.587 G + 0.114 B, on float input (float out)
    c = np.zeros((1, 3, 5, 5), np.float32)
    c[0, 0], c[0, 1], c[0, 2] = 1.0, 0.5, 0.25
    gray = Preprocessing(channels=1, size=(5, 5)).convert_batch(c)
    assert gray.dtype == np.float32 and gray.shape == (1, 1, 5, 5)
    np.testing.assert_allclose(gray, 0.299 + 0.587 * 0.5 + 0.114 * 0.25, rtol=1e-6)
    # a flat picture stays flat through a resize; inversion before the resize
    flat = np.full((2, 1, 6, 6), 51, np.uint8)
    out = Preprocessing(channels=1, size=(3, 4), invert=True).convert_batch(flat)
    assert out.shape == (2, 1, 3, 4) and out.dtype == np.uint8 and (out == 204).all()


def test_convert_batch_reads_narrow_pictures_as_channels_first():
    # (C, H, W) pictures at most 4 wide used to be read as (H, W, C): a 1x2x2 stack became an
    # "LA" picture (alpha composited), a 3x4x4 one an RGBA one
    x = (np.arange(4, dtype=np.uint8) * 10).reshape(1, 1, 2, 2)
    out = Preprocessing(channels=3, size=(2, 2)).convert_batch(x)
    assert out.shape == (1, 3, 2, 2) and all(out[0, c].tolist() == [[0, 10], [20, 30]] for c in range(3))
    rgb = np.zeros((1, 3, 4, 4), np.uint8)
    rgb[0, 0], rgb[0, 1], rgb[0, 2] = 200, 100, 50
    gray = Preprocessing(channels=1, size=(4, 4)).convert_batch(rgb)
    assert (gray == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)).all()


def test_apply_batch_converts_pads_and_normalises():
    spec = Preprocessing(channels=1, size=(2, 2), mean=(0.5,), std=(0.25,), pad=1)
    x = np.full((3, 1, 2, 2), 255, np.uint8)
    out = spec.apply_batch(x)
    assert out.dtype == np.float32 and out.shape == (3, 1, 4, 4)
    # the border is the zero padding, normalised: (0 - 0.5) / 0.25 = -2; the picture (1 - 0.5) / 0.25 = 2
    expect = np.full((4, 4), -2.0, np.float32)
    expect[1:3, 1:3] = 2.0
    assert all(np.array_equal(o[0], expect) for o in out)
    # floats are taken as [0, 1] (not divided again)
    np.testing.assert_allclose(spec.apply_batch(np.full((1, 1, 2, 2), 0.75, np.float32))[0, 0, 1:3, 1:3], 1.0)
    # a list of pictures in any layout, each through apply
    listed = spec.apply_batch([np.full((2, 2), 255, np.uint8), np.zeros((2, 2, 3), np.uint8)])
    assert listed.shape == (2, 1, 4, 4) and np.array_equal(listed[0, 0], expect)
    assert (listed[1, 0] == -2.0).all()
    empty = spec.apply_batch([])
    assert empty.shape == (0, 1, 4, 4) and empty.dtype == np.float32
    # without mean/std or pad, nothing but the conversion to [0, 1]
    plain = Preprocessing(channels=1, size=(2, 2)).apply_batch(np.full((1, 1, 2, 2), 51, np.uint8))
    np.testing.assert_allclose(plain, 0.2, rtol=1e-6)


def test_apply_is_convert_then_finish_and_notes_what_changed():
    spec = Preprocessing(channels=1, size=(2, 2), mean=(0.5,), std=(0.5,))
    notes = []
    out = spec.apply(np.full((4, 6, 3), 255, np.uint8), notes)
    assert out.shape == (1, 2, 2) and np.allclose(out, 1.0, rtol=0, atol=1e-6)
    assert notes == ["RGB -> grayscale", "6x4 -> 2x2 (stretch)"]


@pytest.mark.parametrize("spec, text", [
    (Preprocessing(channels=1, size=28), "1x28x28 grayscale (resize: stretch), not normalised"),
    (Preprocessing(channels=3, size=(30, 20), resize="pad", pad=2, invert=True,
                   mean=(0.49139, 0.48216, 0.44653), std=(0.24703, 0.24349, 0.26159)),
     "3x34x24 RGB (resize: pad, then 2 px of zero padding), inverted, normalised with mean 0.491,0.482,0.447 "
     "std 0.247,0.243,0.262"),
    (Preprocessing(channels=1, size=(8, 8), resize="crop", mean=(0.1307,), std=(0.3081,)),
     "1x8x8 grayscale (resize: crop), normalised with mean 0.131 std 0.308"),
])
def test_describe_says_shape_mode_policy_padding_inversion_and_statistics(spec, text):
    assert spec.describe() == text


def test_replace_makes_a_checked_copy():
    spec = Preprocessing(channels=1, size=(4, 4), mean=(0.5,), std=(0.5,))
    other = spec.replace(channels=3, pad=1)
    assert other.channels == 3 and other.mean == (0.5, 0.5, 0.5) and other.input_shape == (3, 6, 6)
    assert spec.channels == 1 and spec.pad == 0  # the original is untouched
