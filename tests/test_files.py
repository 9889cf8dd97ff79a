"""convlab.files: the one atomic writer behind checkpoints, logs, JSON, figures and images."""

import json
import os

import numpy as np
import pytest

from convlab.files import save_figure_bytes, write_json
from helpers import is_png


def test_write_json_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "test.json"
    write_json(str(path), {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert json.loads(path.read_text()) == {"a": 1} and path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)  # dies after writing the temporary file, before the rename
    with pytest.raises(OSError, match="disk full"):
        write_json(str(path), {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1} and os.listdir(tmp_path) == ["test.json"]  # old file whole, no temp


def test_a_figure_that_fails_to_render_leaves_the_old_file(tmp_path):
    path = tmp_path / "plot.png"
    save_figure_bytes(lambda f: f.write(b"old image"), path)

    def broken(f):
        f.write(b"half a picture")
        raise ValueError("renderer failed")

    with pytest.raises(ValueError, match="renderer failed"):
        save_figure_bytes(broken, path)
    assert path.read_bytes() == b"old image" and os.listdir(tmp_path) == ["plot.png"]


def test_images_and_figures_go_through_it(tmp_path, monkeypatch):
    from convlab import files, viz
    from convlab.commands.filter import write_image_atomic

    written = {}  # path -> the bytes write_atomic was given
    real = files.write_atomic

    def recording(path, data):
        written[os.fspath(path)] = bytes(data)
        real(path, data)

    monkeypatch.setattr(files, "write_atomic", recording)
    write_image_atomic(np.full((4, 6), 200, np.uint8), tmp_path / "img.png")
    fig = viz._plt().figure()
    viz.save_figure(fig, tmp_path / "fig.png")
    assert sorted(os.listdir(tmp_path)) == ["fig.png", "img.png"]
    assert sorted(written) == [str(tmp_path / "fig.png"), str(tmp_path / "img.png")]  # both went through the writer
    for name in ("fig.png", "img.png"):
        assert is_png(tmp_path / name)
        assert (tmp_path / name).read_bytes() == written[str(tmp_path / name)]  # and nothing wrote them after it
