"""Every figure convlab draws is legible: no two texts overlap once drawn (matplotlib's renderer gives
each text's box), and whatever is left out is stated with counts.

The sizes are those of the zoo at its default inputs: ResNet-18's 59 layers with 4-D outputs,
DenseNet-121's 365 hooked layers, AlexNet's 11x11 and ResNet's 7x7 first kernels, 512-channel
weights. ``convlab inspect`` itself runs on a zoo model and every figure it writes is checked, and
so are the figures of three demos that between them use every figure builder of the demos
(panels of images, of kernels, line plots and the hand-made layouts).
"""

import re

import numpy as np
import pytest

import convlab
from convlab import demos, models, viz
from convlab.cli import main
from convlab.viz.figures import drawn_texts, overlapping_texts, spread


def _titles(fig) -> str:
    return "\n".join(t.get_text() for t, _ in drawn_texts(fig))


def test_overlap_check_sees_an_overlap():
    """The checker itself: a figure title pushed down onto the panel titles is found."""
    fig, axes = viz.figures.subplots(1, 2, figsize=(8, 3))
    for ax in axes.flat:
        ax.set_title("a panel title")
    fig.set_layout_engine("none")
    fig.suptitle("the figure title", y=0.9)
    assert any("the figure title" in pair for pair in overlapping_texts(fig))
    fig.suptitle("the figure title", y=0.99)
    assert overlapping_texts(fig) == []


def test_spread_keeps_the_first_and_the_last():
    assert spread(5, 12) == [0, 1, 2, 3, 4]
    assert spread(365, 60)[0] == 0 and spread(365, 60)[-1] == 364 and len(spread(365, 60)) == 60
    assert spread(10, 1) == [0]


def _stats(n):
    rng = np.random.default_rng(0)
    return [{"layer": f"features.denseblock{i // 100}.denselayer{i % 100}.norm{i % 3}", "type": "BatchNorm2d",
             "mean": float(rng.normal()), "std": 1.0, "grad_std": float(rng.uniform(1e-5, 1e-2)),
             "dead_fraction": float("nan") if i % 3 else 0.3} for i in range(n)]


@pytest.mark.parametrize("n", [3, 365])
def test_statistics_figure(n):
    fig = viz.statistics_figure(_stats(n), title="densenet121: per-layer statistics on the input")
    shown = min(n, 60)
    assert len(fig.axes[0].get_yticklabels()) == shown
    text = _titles(fig)
    if n > 60:
        assert f"showing 60 of {n} layers, evenly spaced from the first to the last" in text
        assert "features.denseblock3.denselayer64.norm1" in text  # the last layer is among those shown
    else:
        assert "showing" not in text
    assert overlapping_texts(fig) == []


def test_feature_map_grid_states_layers_and_channels():
    maps = {"conv1": np.zeros((1, 64, 112, 112)), "pool": np.zeros((1, 3, 56, 56))}
    maps.update({f"layer{i}.conv": np.random.default_rng(i).random((1, 512, 7, 7)) for i in range(40)})
    maps["avgpool"] = np.zeros((1, 512, 1, 1))
    maps["fc"] = np.zeros((1, 1000))
    fig = viz.feature_map_grid(maps, title="resnet: feature maps")
    text = _titles(fig)
    # 43 layers with 4-D outputs: the 1x1 one left out, 12 of the 42 others drawn
    assert "showing 12 of 43 layers: 1 with 1x1 outputs left out, the rest evenly spaced from the first to the last" in text
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert len(labels) == 12 and labels[0] == "conv1\n64x112x112\n8 of 64 channels"
    assert labels[-1] == "layer39.conv\n512x7x7\n8 of 512 channels"
    assert overlapping_texts(fig) == []
    few = {k: maps[k] for k in ("conv1", "pool", "layer0.conv", "avgpool")}
    fig = viz.feature_map_grid(few, max_layers=None, max_channels=4)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["conv1\n64x112x112\n4 of 64 channels", "pool\n3x56x56\nall 3 channels",
                      "layer0.conv\n512x7x7\n4 of 512 channels"]
    assert "(showing 3 of 4 layers: 1 with 1x1 outputs left out)" in fig.get_suptitle()


@pytest.mark.parametrize("k", [3, 5, 7, 11])
def test_im2col_figure_numbers_fit_their_cells(k):
    rng = np.random.default_rng(k)
    x, w = rng.random((1, 1, k + 2, k + 2)), rng.normal(size=(1, 1, k, k))
    fig, err = viz.im2col_figure(x, w)
    assert err < 1e-12
    assert overlapping_texts(fig) == []
    cells = [t for t, _ in drawn_texts(fig) if re.fullmatch(r"-?\d+\.\d\d", t.get_text())]
    written = {ax.get_title() for ax in fig.axes[:4]}
    # input (k+2)^2 and output 3x3 always have their numbers; the 9 x k^2 matrix and the k^2 weights when they fit
    assert len(cells) >= (k + 2) ** 2 + 9
    if k >= 7:
        assert f"im2col: 9 patches x {k * k} weights\n(values not written:\n9x{k * k} cells too small)" in written
    if k == 3:
        assert len(cells) == 25 + 81 + 9 + 9 and not any("not written" in t for t in written)


def test_kernel_grid_states_truncation():
    w = np.random.default_rng(0).normal(size=(512, 256, 3, 3))
    fig = viz.kernel_grid(w, title="resnet18: kernels of layer4.0.conv2")
    assert "(showing the first 16 of 512 output channels and the first 8 of 256 input channels)" in _titles(fig)
    assert overlapping_texts(fig) == []
    # one input channel: a grid of the first 64 (ResNet-18's 64 RGB 7x7 kernels are drawn in the inspect test below)
    fig = viz.kernel_grid(np.random.default_rng(2).normal(size=(96, 1, 5, 5)))
    assert "(showing the first 64 of 96 output channels)" in fig.get_suptitle()


def _checked_saves(monkeypatch):
    """Record every figure written through viz.save_figure with the overlaps and texts it had."""
    seen = {}
    real = viz.save_figure

    def check(fig, path, *args, **kwargs):
        seen[str(path).rsplit("/", 1)[-1]] = (overlapping_texts(fig), _titles(fig))
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(viz, "save_figure", check)
    return seen


def test_inspect_figures_of_a_zoo_model_are_legible(tmp_path, monkeypatch, capsys):
    """``convlab inspect`` on ResNet-18 at 224x224: 59 layers with maps, 64 7x7 first kernels."""
    seen = _checked_saves(monkeypatch)
    convlab.manual_seed(0)
    convlab.save(models.get("resnet18", num_classes=10).state_dict(), tmp_path / "w.safetensors")
    assert main(["inspect", str(tmp_path / "w.safetensors"), "--model", "resnet18", "--out", str(tmp_path / "figs")]) == 0
    assert sorted(seen) == ["feature_maps.png", "im2col.png", "kernels_conv1.png", "layer_stats.png", "receptive_field.png"]
    for name, (overlaps, _) in seen.items():
        assert overlaps == [], name
    assert "showing 12 of 59 layers: 1 with 1x1 outputs left out, the rest evenly spaced" in seen["feature_maps.png"][1]
    assert "8 of 64 channels" in seen["feature_maps.png"][1] and "8 of 512 channels" in seen["feature_maps.png"][1]
    assert "9x49 cells too small" in seen["im2col.png"][1]


def test_demo_figures_are_legible(tmp_path, monkeypatch):
    seen = _checked_saves(monkeypatch)
    for name in ("smoothing", "edge-kernel", "pooling-robustness"):
        demos.run(name, tmp_path / name, log=lambda *a, **k: None, figures=True)
    assert sorted(seen) == ["edge_kernel_data.png", "edge_kernel_loss.png", "pooling_digit.png", "pooling_example.png",
                            "pooling_shift_table.png", "smoothing.png"]
    for name, (overlaps, _) in seen.items():
        assert overlaps == [], name
