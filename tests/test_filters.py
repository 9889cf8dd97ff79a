"""convlab.filters: named kernels, true convolution of images (checked against SciPy), tiles, 1-D smoothing."""

import numpy as np
import pytest

from convlab import filters, reference

ndimage = pytest.importorskip("scipy.ndimage")
ssignal = pytest.importorskip("scipy.signal")

SCIPY_MODE = {"zero": "constant", "reflect": "mirror", "replicate": "nearest"}


def test_kernel_shapes_sums_and_seed_forms():
    assert filters.box(5).shape == (5, 5) and filters.box(5).sum() == pytest.approx(1.0)
    g = filters.gaussian(1.5)
    assert g.shape == (11, 11) and g.sum() == pytest.approx(1.0) and g[5, 5] == g.max()
    assert filters.gaussian(1.0, size=5).shape == (5, 5)
    for name in ("laplace", "laplace4", "laplace8", "sobel_x", "sobel_y", "prewitt_x", "prewitt_y",
                 "scharr_x", "scharr_y", "edge_h", "edge_v"):
        assert filters.get_kernel(name).sum() == 0, name
    assert filters.sharpen().sum() == 1 and filters.emboss().sum() == 1 and filters.identity().sum() == 1
    # seed 004: -1 everywhere, K.size - 1 in the centre
    np.testing.assert_array_equal(filters.laplace(), [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(filters.laplace(4), [[0, -1, 0], [-1, 4, -1], [0, -1, 0]])
    # seed 000's "sobel horizontal" is the correlation form (the Conv2d weight) of sobel_y
    np.testing.assert_array_equal(filters.correlation_form(filters.sobel_y()), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    # seed 001's kernels exactly as written there
    np.testing.assert_array_equal(filters.edge_h(), [[1, 1, 1], [0, 0, 0], [-1, -1, -1]])
    np.testing.assert_array_equal(filters.edge_v(), [[1, 0, -1], [1, 0, -1], [1, 0, -1]])


@pytest.mark.parametrize("kind", ["sobel", "prewitt", "scharr"])
def test_derivative_kernels_point_along_increasing_intensity(kind):
    ramp = np.add.outer(np.zeros(7), np.arange(9.0))  # brighter to the right
    gx = filters.filter_image(ramp, f"{kind}_x", boundary="replicate", clip=False)
    gy = filters.filter_image(ramp.T, f"{kind}_y", boundary="replicate", clip=False)
    assert np.all(gx[:, 1:-1] > 0) and np.all(gy[1:-1, :] > 0)
    # and they agree with scipy.ndimage's sobel/prewitt (which correlate with [-1, 0, 1])
    if kind in ("sobel", "prewitt"):
        ref = getattr(ndimage, kind)(ramp, axis=1, mode="nearest")
        np.testing.assert_allclose(gx, ref)


@pytest.mark.parametrize("boundary", ["zero", "reflect", "replicate"])
@pytest.mark.parametrize("kshape", [(3, 3), (5, 3), (1, 4), (4, 2)])
def test_filter_image_is_true_convolution(boundary, kshape):
    rng = np.random.default_rng(1)
    img = rng.normal(size=(13, 11))
    k = rng.normal(size=kshape)
    out = filters.filter_image(img, k, boundary=boundary, clip=False)
    if boundary == "zero":  # scipy.signal's 'same' centres like numpy.convolve: (k - 1) // 2
        ref = ssignal.convolve2d(img, k, mode="same")
    else:
        origin = [(s - 1) // 2 - s // 2 for s in kshape]  # ndimage centres at k // 2
        ref = ndimage.convolve(img, k, mode=SCIPY_MODE[boundary], origin=origin)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    valid = filters.filter_image(img, k, mode="valid", clip=False)
    np.testing.assert_allclose(valid, ssignal.convolve2d(img, k, mode="valid"), atol=1e-12)


def test_rgb_is_filtered_per_channel_and_uint8_is_clipped():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    out = filters.filter_image(rgb, "sharpen", boundary="replicate")
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    for c in range(3):
        raw = ndimage.convolve(rgb[..., c].astype(float), filters.sharpen(), mode="nearest")
        np.testing.assert_array_equal(out[..., c], np.clip(np.rint(raw), 0, 255))
    raw = filters.filter_image(rgb, "sobel_x", clip=False)
    assert raw.dtype == np.float64 and raw.min() < 0 and raw.max() > 255
    assert filters.filter_image(rgb, "sobel_x", clip=(-10, 10)).max() == 10
    f = filters.filter_image(rgb / 255.0, "sharpen")
    assert f.dtype == np.float64 and f.min() >= 0 and f.max() <= 1
    assert filters.filter_image(rgb, "box:3", mode="valid").shape == (8, 10, 3)


def test_tiles_under_a_small_budget_give_identical_results():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(57, 40, 3), dtype=np.uint8)
    for kernel in ("gaussian:1.5", "sobel_y", rng.normal(size=(4, 5))):
        one = filters.filter_image(img, kernel, clip=False, boundary="reflect")
        tiled = filters.filter_image(img, kernel, clip=False, boundary="reflect", tile_bytes=4000)
        np.testing.assert_array_equal(tiled, one)
        np.testing.assert_array_equal(filters.filter_image(img, kernel, tile_bytes=1),
                                      filters.filter_image(img, kernel))
    from convlab.ops.conv import set_memory_budget

    whole = filters.filter_image(img, "sharpen")
    old = set_memory_budget(5000)  # the default tile budget is the convolution engine's
    try:
        np.testing.assert_array_equal(filters.filter_image(img, "sharpen"), whole)
    finally:
        set_memory_budget(old)


def test_get_kernel_parsing_and_errors():
    np.testing.assert_array_equal(filters.get_kernel("Sobel-Y"), filters.sobel_y())
    np.testing.assert_array_equal(filters.get_kernel("1,0,-1;2,0,-2;1,0,-1"), filters.sobel_x())
    np.testing.assert_allclose(filters.get_kernel("1/9 1/9 1/9;1/9 1/9 1/9;1/9 1/9 1/9"), filters.box(3))
    np.testing.assert_allclose(filters.get_kernel("gaussian:sigma=1.5,size=7"), filters.gaussian(1.5, 7))
    np.testing.assert_allclose(filters.get_kernel("gaussian:2"), filters.gaussian(2))
    assert filters.get_kernel("box:5").shape == (5, 5)
    np.testing.assert_array_equal(filters.get_kernel("laplace:4"), filters.laplace(4))
    np.testing.assert_array_equal(filters.get_kernel([[1, 2]]), [[1.0, 2.0]])
    for bad, msg in [("sobel_q", "unknown kernel"), ("1,0;2", "different lengths"), ("1,x", "not a number"),
                     ("1/0", "division by zero"), ("gaussian:sigma=-1", "positive"), ("box:2,3", "bad arguments"),
                     ("identity:4", "odd")]:
        with pytest.raises(ValueError, match=msg):
            filters.get_kernel(bad)


def test_filter_image_argument_errors():
    with pytest.raises(ValueError, match="mode"):
        filters.filter_image(np.zeros((4, 4)), "box", mode="full")
    with pytest.raises(ValueError, match="boundary"):
        filters.filter_image(np.zeros((4, 4)), "box", boundary="wrap")
    with pytest.raises(ValueError, match="image"):
        filters.filter_image(np.zeros(4), "box")
    with pytest.raises(ValueError, match="larger"):
        filters.filter_image(np.zeros((2, 2)), "box", mode="valid")


def test_gradient_magnitude_of_a_step():
    step = np.zeros((6, 8))
    step[:, 4:] = 10.0
    mag = filters.gradient_magnitude(step)
    np.testing.assert_allclose(mag[:, 3:5], 40.0)  # 1 + 2 + 1 = 4 times the step
    assert np.all(mag[:, :3] == 0) and np.all(mag[:, 5:] == 0)


def test_smooth_modes_against_numpy_and_the_seed_loop():
    rng = np.random.default_rng(4)
    f = rng.normal(size=17)
    for k in ([1 / 3] * 3, rng.normal(size=4), [2.0]):
        for mode in ("full", "same", "valid"):
            np.testing.assert_allclose(filters.smooth(f, k, mode=mode), np.convolve(f, k, mode=mode), atol=1e-12)
    F, G = [10, 9, 10, 9, 10, 1, 10, 9, 10, 8], [1.0 / 3] * 3
    seed = reference.convolve_1d(F, G)[: len(F)]  # seed 004's loop keeps the first len(F) values
    np.testing.assert_allclose(filters.smooth(F, G, mode="causal"), seed, atol=1e-12)
    with pytest.raises(ValueError, match="mode"):
        filters.smooth(F, G, mode="circular")


# ---------------------------------------------------------------- the `convlab filter` command
def _png(path, array):
    from PIL import Image

    Image.fromarray(array).save(path)
    return str(path)


def test_cli_single_kernel_writes_the_filtered_image(tmp_path, capsys):
    from PIL import Image

    from convlab.cli import main

    img = np.zeros((20, 30), np.uint8)
    img[:, 15:] = 200
    src = _png(tmp_path / "step.png", img)
    out = tmp_path / "edges.png"
    assert main(["filter", src, "-k", "sobel-x", "-o", str(out)]) == 0
    got = np.asarray(Image.open(out))
    np.testing.assert_array_equal(got, filters.filter_image(img, "sobel_x", boundary="reflect"))
    assert got.shape == img.shape and got[:, 14:16].min() == 255 and got[:, :13].max() == 0
    assert main(["filter", src, "-k", "sobel-x", "-o", str(out)]) == 2  # never a silent overwrite
    assert "--force" in capsys.readouterr().err
    assert main(["filter", src, "-k", "sobel-x", "-o", str(tmp_path / "no" / "such" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "no").exists()
    assert main(["filter", src, "-k", "1,0,-1;2,0,-2;1,0,-1", "--abs", "-o", str(out), "--force"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), got)
    assert str(out) in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_cli_several_kernels_make_a_figure_and_rgb_works(tmp_path):
    from PIL import Image

    from convlab.cli import main

    rgb = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    src = _png(tmp_path / "rgb.png", rgb)
    out = tmp_path / "panel.png"
    assert main(["filter", src, "-k", "box:3", "-k", "sobel-y", "-k", "gaussian:1", "-o", str(out)]) == 0
    with Image.open(out) as fig:
        assert fig.size[0] > 600  # a matplotlib figure, not the 32x24 image
    single = tmp_path / "blur.png"
    assert main(["filter", src, "-k", "box:3", "-o", str(single)]) == 0
    assert np.asarray(Image.open(single)).shape == (24, 32, 3)


def test_cli_errors_are_one_line_with_exit_codes(tmp_path, capsys):
    from convlab.cli import main

    src = _png(tmp_path / "x.png", np.zeros((8, 8), np.uint8))
    assert main(["filter", str(tmp_path / "missing.png"), "-k", "sobel-y"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such image file" in err
    (tmp_path / "bad.png").write_text("not an image")
    assert main(["filter", str(tmp_path / "bad.png"), "-k", "box"]) == 1
    assert "cannot read" in capsys.readouterr().err
    for bad in ("1,0;2", "sobel-q", "1,a,3"):
        assert main(["filter", src, "-k", bad, "-o", str(tmp_path / "o.png")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("convlab filter: ")
    assert main(["filter", src]) == 2  # no kernel
    assert not (tmp_path / "o.png").exists()


def test_cli_demo_uses_the_grace_hopper_portrait(tmp_path, capsys):
    from PIL import Image

    from convlab.cli import main

    out = tmp_path / "gh.png"
    assert main(["filter", "--demo", "-k", "laplace", "-k", "box:5", "-o", str(out)]) == 0
    with Image.open(out) as fig:
        assert fig.size[0] > 800
    assert "laplace" in capsys.readouterr().out
