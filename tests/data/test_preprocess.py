"""data/preprocess.py and data/survey.py: the one conversion every command uses, checked against
Pillow and hand-computed values, and the inference from a whole folder's headers."""

import numpy as np
import pytest
from PIL import Image

from convlab.data.preprocess import Preprocessing, from_checkpoint
from convlab.data.survey import Survey, infer, survey


def test_grayscale_matches_pillow_luma():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    got = Preprocessing(channels=1, size=(6, 5)).convert(rgb)
    # Pillow's convert("L") rounds ITU-R 601-2 luma to integers: agree within half a level
    want = np.asarray(Image.fromarray(rgb).convert("L"), np.float32) / 255
    assert got.shape == (1, 6, 5) and np.abs(got[0] - want).max() <= 0.5 / 255 + 1e-6


def test_pil_and_array_inputs_agree_and_alpha_goes_on_black():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :2, 3] = 255  # left half opaque red, right half transparent
    spec = Preprocessing(channels=3, size=4)
    a = spec.convert(rgba)
    b = spec.convert(Image.fromarray(rgba, "RGBA"))
    np.testing.assert_allclose(a, b, atol=0)
    assert np.allclose(a[0, :, :2], 200 / 255) and np.all(a[0, :, 2:] == 0) and np.all(a[1:] == 0)


def test_sixteen_bit_scaled_by_65535():
    a = np.full((3, 3), 65535 // 5, np.uint16)
    im = Image.fromarray(a)
    assert im.mode.startswith("I;16")
    got = Preprocessing(channels=1, size=3).convert(im)
    np.testing.assert_allclose(got, 13107 / 65535, rtol=1e-6)


def test_pad_policy_letterboxes_in_black():
    white = np.full((4, 8), 255, np.uint8)  # twice as wide as high
    got = Preprocessing(channels=1, size=8, resize="pad").convert(white)[0]
    # scaled to 4x8 (already), centred in 8x8: rows 0-1 and 6-7 black
    assert np.all(got[:2] == 0) and np.all(got[6:] == 0) and np.allclose(got[2:6], 1)


def test_crop_policy_keeps_the_centre():
    a = np.zeros((4, 8), np.uint8)
    a[:, 2:6] = 255  # the middle half is white
    got = Preprocessing(channels=1, size=4, resize="crop").convert(a)[0]
    np.testing.assert_allclose(got, 1.0)  # the 4x4 centre is all white


def test_stretch_changes_the_aspect_ratio():
    a = np.zeros((4, 8), np.uint8)
    a[:, 4:] = 255
    got = Preprocessing(channels=1, size=(4, 4)).convert(a)[0]
    assert got[:, 0].max() < 0.01 and got[:, -1].min() > 0.99  # left stays black, right white


def test_finish_pads_then_normalises_by_hand():
    spec = Preprocessing(channels=1, size=2, mean=(0.5,), std=(0.25,), pad=1, invert=True)
    pixels = spec.convert(np.array([[0, 255], [255, 255]], np.uint8))
    np.testing.assert_allclose(pixels[0], [[1, 0], [0, 0]])  # inverted
    x = spec.finish(pixels[None])[0, 0]
    assert x.shape == (4, 4)
    np.testing.assert_allclose(x[0], -2.0)  # the zero border: (0 - 0.5) / 0.25
    np.testing.assert_allclose(x[1:3, 1:3], [[2.0, -2.0], [-2.0, -2.0]])


def test_dict_round_trip_and_old_form():
    spec = Preprocessing(channels=3, size=(24, 32), resize="pad", mean=(0.1, 0.2, 0.3), std=(1, 2, 3), invert=True, pad=2)
    assert Preprocessing.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["input_shape"] == [3, 28, 36]
    old = Preprocessing.from_dict({"mean": [0.286], "std": [0.353], "pad": 2, "mode": "L", "image_size": [28, 28],
                                   "input_shape": [1, 32, 32]})
    assert old.input_shape == (1, 32, 32) and old.resize == "stretch"


@pytest.mark.parametrize("kwargs,match", [
    ({"channels": 2, "size": 4}, "channels must be 1 or 3"),
    ({"channels": 1, "size": 4, "resize": "squash"}, "resize must be one of"),
    ({"channels": 3, "size": 4, "mean": (0.5, 0.5), "std": (1, 1)}, "3 values each"),
    ({"channels": 1, "size": 4, "mean": (0.5,), "std": (0,)}, "std finite and > 0"),
])
def test_bad_specs_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Preprocessing(**kwargs)


def test_checkpoint_without_spec_names_the_flags():
    with pytest.raises(ValueError, match="--image-size H,W and --channels 1|3"):
        from_checkpoint({"meta": {}}, "m.safetensors")


def test_infer_majority_mode_and_size():
    s = Survey(n=5, gray=3, colour=2, sizes={(28, 28): 3, (56, 56): 2})
    found = infer(s)
    assert (found.channels, found.size, found.resize) == (1, (28, 28), "stretch")
    mixed = infer(Survey(n=4, gray=1, colour=3, sizes={(100, 200): 1, (300, 200): 1, (120, 90): 1, (50, 50): 1}))
    assert mixed.channels == 3 and mixed.resize == "pad" and max(mixed.size) <= 64
    assert infer(s, channels=3, size=(10, 12), resize="crop").size == (10, 12)


def test_survey_reads_every_header(tmp_path):
    Image.new("L", (5, 4)).save(tmp_path / "a.png")
    Image.new("RGB", (5, 4)).save(tmp_path / "b.jpg")
    Image.new("RGB", (8, 6)).save(tmp_path / "c.bmp")
    (tmp_path / "d.png").write_bytes(b"not a picture")
    s = survey(sorted(str(p) for p in tmp_path.iterdir()))
    assert (s.n, s.gray, s.colour) == (3, 1, 2) and s.sizes == {(4, 5): 2, (6, 8): 1}
    assert len(s.bad) == 1 and s.bad[0][0].endswith("d.png")
