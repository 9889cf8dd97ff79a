"""`convlab demo`: the list, a run that writes titled PNG figures, and one-line usage errors."""

import numpy as np

from convlab import demos
from convlab.cli import main


def test_list_names_every_demo(capsys):
    assert main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == len(demos.DEMOS) == 8
    for name in demos.DEMOS:
        assert out.count(name) >= 1
        assert demos.get(name).NAME == name


def test_demo_writes_figures_and_prints_numbers(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "figs"
    assert main(["demo", "edge-kernel", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "epoch 2, loss 6.645" in text and "epoch 10, loss 0.066" in text
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == ["edge_kernel_data.png", "edge_kernel_loss.png"]
    for p in pngs:
        with Image.open(p) as im:
            pixels = np.asarray(im.convert("L"))
        assert pixels.shape[0] > 200 and pixels.std() > 10  # a drawn figure, not a blank canvas
    assert main(["demo", "smoothing", "--out", str(out), "--no-figures"]) == 0
    assert "3.333, 6.333, 9.667, 9.333, 9.667, 6.667, 7.000, 6.667, 9.667, 9.000" in capsys.readouterr().out


def test_demo_default_out_dir_is_new(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "filters"]) == 0
    assert main(["demo", "filters"]) == 0
    dirs = sorted((tmp_path / "runs").iterdir())
    assert [d.name for d in dirs] == ["demo-001", "demo-002"]
    assert len(dirs) == 2 and all((d / "conv_filters.png").exists() for d in dirs)
    assert "Output shape (same spatial size with padding=1): (1, 16, 16)" in capsys.readouterr().out


def test_demo_usage_errors(capsys):
    assert main(["demo", "no-such-demo"]) == 2
    assert "unknown demo" in capsys.readouterr().err
    assert main(["demo", "smoothing", "--steps", "3", "--no-figures"]) == 2
    assert "takes no --steps" in capsys.readouterr().err
    assert main(["demo"]) == 2
