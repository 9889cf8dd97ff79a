"""convlab.vision: datasets (from disk and with download=), transforms and utils."""

import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest
from PIL import Image

import convlab
from convlab.data.idx import write_idx
from convlab.vision import datasets, utils
from convlab.vision import transforms as T

FASHION = "/usr/share/datasets/fashion-mnist"


# ---------------------------------------------------------------- datasets from disk
@pytest.mark.skipif(not os.path.isdir(FASHION), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package_needs_no_network(monkeypatch):
    monkeypatch.setenv("CONVLAB_DOWNLOAD_MIRROR", "http://127.0.0.1:9/")  # a closed port: any fetch would fail
    ds = datasets.FashionMNIST(root="/nonexistent", train=False, download=True, transform=T.ToTensor())
    assert len(ds) == 10000 and ds.data.shape == (10000, 28, 28) and ds.classes[9] == "Ankle boot"
    x, y = ds[0]
    reference = convlab.data.FashionMNIST(train=False)  # convlab's own reader of the same files
    np.testing.assert_array_equal(x.numpy(), reference[0][0])
    assert y == reference[0][1] == 9
    raw = datasets.FashionMNIST(root="/nonexistent", train=False)
    img, _ = raw[0]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)


# ---------------------------------------------------------------- download=True against a local server
def _idx_gz(array) -> bytes:
    path = f"/tmp/convlab-idx-{os.getpid()}-{threading.get_ident()}"
    write_idx(path, array, compress=False)
    with open(path, "rb") as f:
        raw = f.read()
    os.remove(path)
    return gzip.compress(raw, mtime=0)


class _Server:
    """Serves ``files`` on 127.0.0.1 with HTTP Range support; ``cut`` names files whose first
    response stops halfway (a dropped connection); ``ranges`` records the Range headers seen."""

    def __init__(self, files, cut=()):
        self.files, self.cut, self.ranges, self.hits = files, set(cut), [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                outer.hits.append(name)
                body = outer.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                rng = self.headers.get("Range")
                outer.ranges.append((name, rng))
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if name in outer.cut:
                    outer.cut.discard(name)
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_fashion(monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": np.arange(6, dtype=np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": np.arange(3, dtype=np.uint8)}
    files = {name: _idx_gz(a) for name, a in arrays.items()}
    md5 = [(name, hashlib.md5(body).hexdigest()) for name, body in files.items()]
    monkeypatch.setattr(datasets.FashionMNIST, "resources", md5)  # the published sums are for the real files
    monkeypatch.delenv("CONVLAB_DATA", raising=False)
    monkeypatch.setattr(datasets._mnist, "SYSTEM_DATA", "/nonexistent")  # do not find the Debian copy
    return files, arrays


def test_download_fetches_checks_and_then_stays_offline(tmp_path, fake_fashion, monkeypatch):
    files, arrays = fake_fashion
    server = _Server(files)
    try:
        monkeypatch.setenv("CONVLAB_DOWNLOAD_MIRROR", server.url)
        ds = datasets.FashionMNIST(tmp_path, train=True, download=True, progress=False)
        raw = tmp_path / "FashionMNIST" / "raw"
        assert sorted(os.listdir(raw)) == sorted(files)  # complete files only, no .part left
        np.testing.assert_array_equal(ds.data.numpy(), arrays["train-images-idx3-ubyte.gz"])
        assert ds.targets.tolist() == list(range(6))
        server.hits.clear()
        again = datasets.FashionMNIST(tmp_path, train=False, download=True)
        assert len(again) == 3 and server.hits == []  # present: no request at all
    finally:
        server.close()
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True"):
        datasets.FashionMNIST(tmp_path / "elsewhere", train=True)


def test_an_interrupted_download_resumes_with_a_range_request(tmp_path, fake_fashion):
    files, _ = fake_fashion
    name = "train-images-idx3-ubyte.gz"
    server = _Server(files, cut={name})
    try:
        with pytest.raises(RuntimeError, match="call again to resume"):
            datasets.FashionMNIST(tmp_path, download=True, mirrors=server.url, progress=False)
        part = tmp_path / "FashionMNIST" / "raw" / (name + ".part")
        assert 0 < part.stat().st_size < len(files[name]) and not part.with_suffix("").exists()
        datasets.FashionMNIST(tmp_path, download=True, mirrors=server.url, progress=False)
        assert (name, f"bytes={len(files[name]) // 2}-") in server.ranges  # asked for the rest only
        assert (tmp_path / "FashionMNIST" / "raw" / name).read_bytes() == files[name]
    finally:
        server.close()


def test_a_checksum_mismatch_leaves_nothing_behind(tmp_path, fake_fashion, monkeypatch):
    files, _ = fake_fashion
    good = files["train-labels-idx1-ubyte.gz"]
    bad = dict(files, **{"train-labels-idx1-ubyte.gz": good[:12] + bytes([good[12] ^ 0xFF]) + good[13:]})
    server = _Server(bad)
    try:
        with pytest.raises(RuntimeError, match="does not match the published"):
            datasets.FashionMNIST(tmp_path, download=True, mirrors=server.url, progress=False)
    finally:
        server.close()
    raw = tmp_path / "FashionMNIST" / "raw"
    assert "train-labels-idx1-ubyte.gz" not in os.listdir(raw) and not any(n.endswith(".part") for n in os.listdir(raw))


def test_cifar10_download_extracts_the_binary_archive(tmp_path, monkeypatch):
    import io
    import tarfile

    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]:
            records = np.concatenate([rng.integers(0, 10, (2, 1)), rng.integers(0, 256, (2, 3072))], axis=1)
            body = records.astype(np.uint8).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    archive = buf.getvalue()
    monkeypatch.setattr(datasets.CIFAR10, "md5", hashlib.md5(archive).hexdigest())
    monkeypatch.delenv("CONVLAB_DATA", raising=False)
    server = _Server({"cifar-10-binary.tar.gz": archive})
    try:
        ds = datasets.CIFAR10(tmp_path, train=True, download=True, mirrors=server.url, progress=False,
                              transform=T.ToTensor())
    finally:
        server.close()
    assert len(ds) == 10 and ds.data.shape == (10, 32, 32, 3)
    x, y = ds[0]
    assert x.shape == (3, 32, 32) and 0 <= y < 10 and float(x.max()) <= 1.0


# ---------------------------------------------------------------- transforms
def _picture(h=20, w=30, mode="RGB"):
    rng = np.random.default_rng(5)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)


def test_to_tensor_and_normalize_by_hand():
    img = _picture()
    x = T.ToTensor()(img)
    assert x.shape == (3, 20, 30) and x.dtype == np.float32
    np.testing.assert_allclose(x.numpy(), np.asarray(img).transpose(2, 0, 1) / 255.0, rtol=1e-6)
    y = T.Normalize((0.5, 0.25, 0.0), (0.5, 0.5, 2.0))(x)
    np.testing.assert_allclose(y.numpy()[1], (x.numpy()[1] - 0.25) / 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize(0.5, 0.0)


def test_resize_keeps_the_aspect_ratio_and_matches_pillow():
    img = _picture(20, 30)
    out = T.Resize(10)(img)
    assert out.size == (15, 10)  # the shorter side becomes 10
    assert np.array_equal(np.asarray(out), np.asarray(img.resize((15, 10), Image.BILINEAR)))
    t = T.Resize((8, 12))(T.ToTensor()(img))
    assert t.shape == (3, 8, 12)
    ref = np.asarray(Image.fromarray(np.asarray(img)[:, :, 0].astype(np.float32) / 255, mode="F").resize((12, 8), Image.BILINEAR))
    np.testing.assert_allclose(t.numpy()[0], ref, rtol=1e-6)


def test_center_crop_positions_like_torchvision():
    a = np.arange(7 * 9, dtype=np.uint8).reshape(7, 9)
    out = np.asarray(T.CenterCrop((3, 4))(Image.fromarray(a)))
    top, left = int(round((7 - 3) / 2)), int(round((9 - 4) / 2))  # torchvision's rounding
    np.testing.assert_array_equal(out, a[top:top + 3, left:left + 4])
    t = T.CenterCrop(4)(convlab.tensor(a[None].astype(np.float32)))
    np.testing.assert_array_equal(t.numpy()[0], a[2:6, 2:6])
    padded = T.CenterCrop(11)(convlab.ones(1, 7, 9))  # larger than the image: zeros around it
    assert padded.shape == (1, 11, 11) and float(padded.sum()) == 63


def test_random_transforms_follow_the_library_seed():
    img = _picture()
    pipeline = T.Compose([T.RandomResizedCrop(16, scale=(0.3, 1.0)), T.RandomHorizontalFlip(), T.ToTensor()])
    convlab.manual_seed(4)
    a = [pipeline(img).numpy() for _ in range(5)]
    convlab.manual_seed(4)
    b = [pipeline(img).numpy() for _ in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and all(x.shape == (3, 16, 16) for x in a)
    assert not all(np.array_equal(a[0], x) for x in a[1:])
    flips = [np.array_equal(T.RandomHorizontalFlip(p=1.0)(img), img.transpose(Image.FLIP_LEFT_RIGHT))]
    assert flips == [True] and T.RandomHorizontalFlip(p=0.0)(img) is img
    crop = T.RandomCrop(28, padding=4)(T.ToTensor()(_picture(28, 28)))
    assert crop.shape == (3, 28, 28)


def test_lambda_grayscale_pad():
    gray = T.Grayscale()(_picture())
    assert gray.mode == "L"
    assert T.Lambda(lambda x: x * 2)(convlab.ones(1)).tolist() == [2.0]
    padded = T.Pad(2)(_picture(4, 5, "L"))
    assert padded.size == (9, 8)


# ---------------------------------------------------------------- utils
def test_make_grid_layout_by_hand():
    batch = convlab.tensor(np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) + 1).expand(5, 1, 2, 3)
    grid = utils.make_grid(batch, nrow=2, padding=1, pad_value=-1)
    assert grid.shape == (3, 3 * 3 + 1, 2 * 4 + 1)
    g = grid.numpy()[0]
    assert g[1, 1] == 1 and g[1, 5] == 2 and g[4, 1] == 3 and g[7, 1] == 5 and g[7, 5] == -1 and g[0, 0] == -1
    norm = utils.make_grid(batch, normalize=True)
    assert float(norm.max()) == 1.0


def test_save_image_writes_the_expected_pixels(tmp_path):
    x = convlab.tensor(np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 3, 4))
    utils.save_image(x, tmp_path / "one.png")
    back = np.asarray(Image.open(tmp_path / "one.png"))
    np.testing.assert_array_equal(back[:, :, 0], np.clip(x.numpy()[0] * 255 + 0.5, 0, 255).astype(np.uint8))
    utils.save_image(convlab.rand(4, 3, 8, 8), tmp_path / "grid.png", nrow=2)
    assert Image.open(tmp_path / "grid.png").size == (2 * 10 + 2, 2 * 10 + 2)
