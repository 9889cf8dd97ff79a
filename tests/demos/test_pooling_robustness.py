"""Seed 004's digit: the "7" whose top stroke is made more horizontal keeps its bar after max pooling, by the numbers."""

import numpy as np
import pytest

from convlab import demos
from convlab.demos import pooling_robustness as pr
from helpers import is_png

EXACT = dict(abs=1e-12)


def correlate_same(img, k):
    """Cross-correlation with zero padding 1, by hand: out[r, c] = sum(k * img[r-1:r+2, c-1:c+2])."""
    p = np.pad(img, 1)
    return np.array([[np.sum(k * p[r:r + 3, c:c + 3]) for c in range(img.shape[1])] for r in range(img.shape[0])])


def test_the_seven_is_drawn_as_described():
    orig, edit = pr.seven(pr.TOP_LEFT_ROW["original"]), pr.seven(pr.TOP_LEFT_ROW["edited"])
    for img in (orig, edit):
        assert img.shape == (28, 28) and img.min() == 0.0 and img.max() == 1.0
        assert img[6, 21] == 1.0 and img[23, 12] == 1.0  # the corner and the foot of the diagonal are fully inked
        assert img[:3].sum() == 0 and img[26:].sum() == 0  # a dark border, like MNIST's
    assert int(np.argmax(orig[:, 6])) == 9 and int(np.argmax(edit[:, 6])) == 7  # the top-left end: 3 -> 1 px above row 6
    np.testing.assert_array_equal(orig[12:], edit[12:])  # the diagonal is untouched
    np.testing.assert_allclose(pr.seven(9, shift=2)[2:], orig[:-2], rtol=0, atol=1e-12)  # shift moves the glyph down
    with pytest.raises(ValueError, match="shift must be an integer from 0 to 4, got 5"):
        pr.seven(9, shift=5)
    with pytest.raises(ValueError, match="top_left_row must be between 4 and 12, got 20"):
        pr.seven(20)


def test_sobel_response_is_relu_of_the_hand_correlation():
    img = pr.seven(pr.TOP_LEFT_ROW["original"], shift=1)
    np.testing.assert_allclose(pr.sobel_response(img), np.maximum(correlate_same(img, pr.SOBEL_H), 0), rtol=0, atol=1e-12)
    step = np.zeros((6, 6))
    step[3:] = 1.0  # dark above, bright below: a horizontal edge between rows 2 and 3
    np.testing.assert_array_equal(pr.sobel_response(step)[:, 2:4], [[0, 0], [0, 0], [4, 4], [4, 4], [0, 0], [0, 0]])


def test_pooling_keeps_the_bar_of_the_edited_seven():
    ex = pr.digit_experiment()  # the figure's example: the glyph one row down
    a = ex["agreement"]
    # without pooling the bar moves up a row and only 8 of the 25 half-maximum pixels are shared
    assert a[1]["rows"] == (7, 6) and not a[1]["same_row"]
    assert a[1]["iou"] == pytest.approx(8 / 25, **EXACT) and a[1]["bar_kept"] == pytest.approx(0.7, **EXACT)
    # after 2x2 (and 4x4) max pooling the bar is in the same pooled row and every bar cell is still on
    assert a[2]["rows"] == (3, 3) and a[2]["same_row"] and a[2]["bar_kept"] == 1.0
    assert a[2]["iou"] == pytest.approx(9 / 19, **EXACT) and a[4]["iou"] == pytest.approx(3 / 5, **EXACT)
    assert a[4]["rows"] == (1, 1) and a[4]["bar_kept"] == 1.0
    assert (a[1]["corr"], a[2]["corr"], a[4]["corr"]) == pytest.approx((0.5744, 0.6762, 0.6262), abs=1e-4)
    assert ex["pooled"][2]["original"].shape == (14, 14) and ex["pooled"][4]["edited"].shape == (7, 7)


def test_over_every_grid_phase_pooling_agrees_more():
    t = pr.digit_table()  # the glyph moved down 0, 1, 2, 3 rows
    assert [t[k]["same_row"] for k in (1, 2, 4)] == [0, 2, 3] and t[1]["n"] == 4
    assert [t[k]["bar_kept"] for k in (1, 2, 4)] == pytest.approx([0.7, 0.875, 0.95], **EXACT)
    assert [t[k]["iou"] for k in (1, 2, 4)] == pytest.approx([0.3200, 0.4977, 0.7299], abs=1e-4)
    assert [t[k]["corr"] for k in (1, 2, 4)] == pytest.approx([0.5744, 0.7190, 0.8277], abs=1e-4)


def test_the_demo_reports_the_digit_and_draws_it(tmp_path):
    lines = []
    r = demos.run("pooling-robustness", None, log=lines.append, figures=False)
    assert r["digit"]["phases"] == pr.digit_table()
    assert r["digit"]["example"][2]["rows"] == (3, 3)
    text = "\n".join(lines)
    assert "no pooling        7 -> 6   0.320   0.574     0.700" in text
    assert "max pool 2x2      2 of 4   0.498   0.719     0.875" in text
    path = pr._digit_figure(pr.digit_experiment(), tmp_path / "digit.png")
    assert is_png(path)
