"""convlab.viz: kernel grids, hooked feature maps, layer statistics, im2col and receptive fields."""

import numpy as np
import pytest

import convlab
from convlab import nn, viz
from convlab.reference import im2col


def _is_drawn(path):
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("L"))
    return a.shape[0] > 100 and a.std() > 5


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_im2col_matrix_is_seed_001s_layout(stride, padding):
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 6))
    np.testing.assert_array_equal(viz.im2col_matrix(x, 3, stride, padding), im2col(x, 3, 3, stride, padding)[0])


def test_im2col_figure_equals_conv2d(tmp_path):
    fig, err = viz.im2col_figure()
    assert err < 1e-12 and "matrix product" in fig._suptitle.get_text()
    assert _is_drawn(viz.save_figure(fig, tmp_path / "im2col.png"))


def test_kernel_grids_rgb_and_per_channel(tmp_path):
    rgb = nn.Conv2d(3, 6, 5)
    fig = viz.kernel_grid(rgb, title="first layer")
    assert fig._suptitle.get_text() == "first layer"
    assert _is_drawn(viz.save_figure(fig, tmp_path / "rgb.png"))
    fig = viz.kernel_grid(rgb, rgb=False, max_in=2)
    assert len(fig.axes) == 6 * 2 + 1  # one cell per (out, in) pair + the colour bar
    viz.save_figure(fig, tmp_path / "grid.png")
    with pytest.raises(ValueError, match="3 input channels"):
        viz.kernel_grid(nn.Conv2d(2, 4, 3), rgb=True)
    with pytest.raises(ValueError, match="conv weight"):
        viz.kernel_grid(np.zeros((3, 3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "rgb.png"]  # atomic: no leftovers


def test_feature_maps_through_hooks_name_repeated_calls():
    import convlab.models as models

    net = models.get("lenet5", num_classes=10)
    maps = viz.capture_feature_maps(net, np.random.default_rng(0).random((1, 1, 28, 28)))
    assert maps["conv1"].shape == (1, 6, 28, 28) and maps["conv2"].shape == (1, 16, 10, 10)
    assert "act[2]" in maps and "pool[2]" in maps  # LeNet reuses its ReLU and pool modules
    assert all(not m._forward_hooks for m in net.modules())  # hooks removed afterwards
    only = viz.capture_feature_maps(net, np.zeros((1, 1, 28, 28)), layers=["conv2"])
    assert list(only) == ["conv2"]
    with pytest.raises(ValueError, match="no layer named"):
        viz.capture_feature_maps(net, np.zeros((1, 1, 28, 28)), layers=["conv9"])
    assert viz.feature_map_grid(maps, max_channels=4)._suptitle.get_text() == "feature maps"


def test_layer_statistics_find_dead_relus_and_gradients(tmp_path):
    convlab.manual_seed(0)
    dead = nn.Conv2d(1, 4, 3)
    dead.bias.data[:2] = -100.0  # two channels can never fire
    model = nn.Sequential(dead, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    x = np.random.default_rng(1).random((5, 1, 8, 8)).astype(np.float32)
    stats = viz.layer_statistics(model, x, target=[0, 1, 2, 0, 1])
    by = {s["layer"]: s for s in stats}
    assert set(by) == {"0", "1", "3"}
    assert by["1"]["dead_fraction"] >= 0.5 and by["1"]["type"] == "ReLU"
    assert np.isnan(by["0"]["dead_fraction"]) and by["0"]["grad_std"] > 0
    assert by["1"]["mean"] >= 0 and by["3"]["shape"] == (3,)
    assert _is_drawn(viz.save_figure(viz.statistics_figure(stats), tmp_path / "stats.png"))


def test_receptive_field_of_stacked_convs():
    layers = [nn.Conv2d(1, 1, 3).double() for _ in range(3)]
    field = viz.receptive_field(layers, (1, 1, 15, 15))
    rows, cols = np.nonzero(field)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (7, 7)
    assert (rows.min(), cols.min()) == (4, 4)  # central output (4, 4) of the 9x9 map sees input rows 4..10
    # the same through a forward hook on a named layer of a whole model
    model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(81, 2).double())
    hooked = viz.receptive_field(model, np.random.default_rng(2).normal(size=(1, 1, 15, 15)), layer="1")
    rows, cols = np.nonzero(hooked)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 9, 5, 9)  # two layers: 5x5 around (7, 7)


# ---------------------------------------------------------------- `convlab inspect`
INSPECT_FIGURES = ["feature_maps.png", "im2col.png", "kernels_conv1.png", "layer_stats.png", "receptive_field.png"]


def test_inspect_a_state_dict_with_model_name(tmp_path, capsys):
    import convlab.models as models
    from convlab.cli import main

    convlab.manual_seed(0)
    ckpt = tmp_path / "lenet.safetensors"
    convlab.save(models.get("lenet5", num_classes=10).state_dict(), str(ckpt))
    img = tmp_path / "digit.png"
    from PIL import Image

    a = np.zeros((40, 40), np.uint8)
    a[8:32, 18:22] = 255
    Image.fromarray(a).save(img)
    out = tmp_path / "figs"
    assert main(["inspect", str(ckpt), "--model", "lenet5", "--image", str(img), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "model lenet5: 61,706 parameters, input (1, 1, 28, 28)" in text and "act[2]" in text
    assert sorted(p.name for p in out.iterdir()) == INSPECT_FIGURES
    assert all(_is_drawn(p) for p in out.iterdir())
    # without --model the bare state dict cannot be rebuilt: a one-line error, exit 1
    assert main(["inspect", str(ckpt), "--out", str(out)]) == 1
    assert "pass --model NAME" in capsys.readouterr().err


def test_inspect_reads_the_model_from_a_training_checkpoint(tmp_path, capsys):
    import convlab.models as models
    from convlab.cli import main
    from convlab.commands.inspect import load_model
    from convlab.train import save_checkpoint

    model = models.get("lenet5", num_classes=4)
    ckpt = tmp_path / "ckpt.safetensors"
    pre = {"mean": [0.5], "std": [0.25], "pad": 0, "mode": "L", "image_size": [28, 28], "input_shape": [1, 28, 28]}
    save_checkpoint(str(ckpt), {"model_spec": {"name": "lenet5", "kwargs": {"num_classes": 4}},
                                "model": model.state_dict(), "epoch": 3,
                                "meta": {"classes": ["a", "b", "c", "d"], "preprocessing": pre}})
    loaded, name, meta = load_model(ckpt)
    assert name == "lenet5" and loaded.fc3.out_features == 4 and meta["classes"] == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(loaded.conv1.weight.data, model.conv1.weight.data)
    out = tmp_path / "figs"
    assert main(["inspect", str(ckpt), "--out", str(out), "--layers", "conv1", "conv2"]) == 0
    text = capsys.readouterr().out
    assert "prediction: " in text and "512x600 -> 28x28 (stretch)" in text  # the default image, converted
    assert sorted(p.name for p in out.iterdir()) == INSPECT_FIGURES
