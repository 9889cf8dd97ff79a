"""The explorer's HTTP API, through Starlette's test client: every view's numbers against the
library (or a hand computation), and the security rules (no paths from requests, limits, headers)."""

import base64
import io
import json
import os
import threading

import numpy as np
import pytest
from PIL import Image

import convlab
from convlab.explore.server import build_app
from convlab.explore.source import Source
from convlab.explore.state import Explorer


@pytest.fixture
def client(run_dir):
    from starlette.testclient import TestClient

    return TestClient(build_app(Explorer(Source(run_dir))), base_url="http://127.0.0.1:5000")


def _model_and_input(run_dir, index):
    """The checkpoint's model and test item ``index`` preprocessed independently of the explorer."""
    from convlab.data import catalog
    from convlab.data.preprocess import from_checkpoint
    from convlab.train import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(os.path.join(run_dir, "last.safetensors"))
    _, test, _ = catalog.load("lines", seed=0)
    return model_from_checkpoint(ckpt), from_checkpoint(ckpt).apply_batch(test[index][0][None])


def test_model_view_is_the_library_summary(client):
    from convlab.inspect import summary
    from convlab.models import get

    m = client.get("/api/model").json()
    s = summary(get("compactcnn", in_channels=1, num_classes=2, image_size=(8, 8)), (1, 8, 8))
    assert [r["name"] for r in m["layers"]] == [L.name for L in s.layers]
    assert [r["macs"] for r in m["layers"]] == [L.macs for L in s.layers]
    assert m["total_params"] == s.total_params == 52066
    conv2 = next(r for r in m["layers"] if r["name"] == "conv2")
    assert conv2["rf"] == [8, 8] and conv2["jump"] == [2, 2]  # 3 + (2-1)*1 = 4 after the pool, 4 + 2*2 = 8


def test_test_image_prediction_and_feature_maps(client, run_dir):
    r = client.get("/api/test/7").json()
    model, x = _model_and_input(run_dir, 7)
    with convlab.no_grad():
        logits = model(convlab.tensor(x)).numpy()[0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    assert r["topk"][0]["probability"] == pytest.approx(p.max(), rel=1e-6)
    assert r["prediction"] == ["vertical", "horizontal"][int(np.argmax(p))]  # the classes of the lines data
    assert [L["name"] for L in r["layers"]][:5] == ["conv1", "bn1", "relu", "pool", "conv2"]
    assert r["layers"][0]["shape"] == [32, 8, 8] and r["layers"][3]["shape"] == [32, 4, 4]


@pytest.mark.parametrize("layer,c,i,j", [(0, 3, 0, 0), (0, 5, 4, 6), (4, 7, 1, 2), (4, 63, 0, 3)])
def test_cell_formula_equals_library_output_and_box_is_hand_computed(client, run_dir, layer, c, i, j):
    r = client.get(f"/api/cell?image=test-2&layer={layer}&c={c}&i={i}&j={j}").json()
    f = r["formula"]
    model, x = _model_and_input(run_dir, 2)
    with convlab.no_grad():  # the library's own conv output at that cell
        h = model.conv1(convlab.tensor(x))
        if layer == 4:
            h = model.conv2(model.pool(model.relu(model.bn1(h))))
    assert r["value"] == pytest.approx(float(h.numpy()[0, c, i, j]), abs=1e-6)
    # float64 sum of float32 products vs the float32 GEMM: float32 rounding
    assert f["result"] == pytest.approx(r["value"], rel=1e-5, abs=1e-6)
    assert len(f["channels"]) == (1 if layer == 0 else 32) and f["bias"] is None  # conv1/conv2 have no bias
    assert sum(ch["sum"] for ch in f["channels"]) == pytest.approx(f["sum"], rel=1e-12)
    products = np.array(f["channels"][0]["products"])
    assert np.allclose(products, np.array(f["channels"][0]["kernel"]) * np.array(f["channels"][0]["patch"]))
    # by hand: conv1 (k3 p1) sees rows i-1..i+1; after pool 2 and conv2 (k3 p1) rows 2i-3..2i+4
    top, left, size = (i - 1, j - 1, 3) if layer == 0 else (2 * i - 3, 2 * j - 3, 8)
    b = r["box"]
    assert (b["top"], b["left"], b["bottom"], b["right"]) == (top, left, top + size - 1, left + size - 1)
    assert b["clipped"] == {"top": max(top, 0), "left": max(left, 0), "bottom": min(top + size - 1, 7),
                            "right": min(left + size - 1, 7)}


def test_receptive_box_is_exactly_what_the_cell_sees(client, run_dir):
    """Changing every input pixel outside the box leaves the cell unchanged (conv2 after a max-pool)."""
    r = client.get("/api/cell?image=test-4&layer=4&c=9&i=1&j=2").json()
    b = r["box"]["clipped"]
    model, x = _model_and_input(run_dir, 4)
    y = x.copy()
    outside = np.ones(x.shape[2:], bool)
    outside[b["top"]:b["bottom"] + 1, b["left"]:b["right"] + 1] = False
    y[0, 0][outside] = np.random.default_rng(0).normal(size=outside.sum())

    def cell(inp):
        with convlab.no_grad():
            h = model.conv2(model.pool(model.relu(model.bn1(model.conv1(convlab.tensor(inp))))))
        return float(h.numpy()[0, 9, 1, 2])
    assert cell(y) == cell(x)


def _png(size=(20, 12), mode="RGB"):
    buf = io.BytesIO()
    Image.new(mode, size, (200, 10, 10) if mode == "RGB" else 128).save(buf, format="PNG")
    return buf.getvalue()


def test_upload_is_decoded_with_the_checkpoint_preprocessing(client):
    r = client.post("/api/upload", content=_png(), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["key"].startswith("upload-") and body["input"]["height"] == 8 and body["input"]["channels"] == 1
    assert body["note"] == "RGB -> grayscale, 20x12 -> 8x8 (stretch)"  # Preprocessing.convert's words
    cell = client.get(f"/api/cell?image={body['key']}&layer=0&c=0&i=3&j=3").json()
    assert cell["formula"]["result"] == pytest.approx(cell["value"], rel=1e-5, abs=1e-6)


def test_upload_limits(client, monkeypatch):
    from convlab.explore import preprocess

    assert client.post("/api/upload", content=b"not an image", headers={"content-type": "image/png"}).status_code == 415
    assert client.post("/api/upload", content=_png(), headers={"content-type": "text/html"}).status_code == 415
    assert client.post("/api/upload", content=b"", headers={"content-type": "image/png"}).status_code == 400
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 100)
    r = client.post("/api/upload", content=_png((11, 10)), headers={"content-type": "image/png"})
    assert r.status_code == 413 and "110 pixels" in r.json()["error"]
    big = b"\x89PNG" + b"\0" * (preprocess.MAX_UPLOAD_BYTES + 1)
    assert client.post("/api/upload", content=big, headers={"content-type": "image/png"}).status_code == 413


@pytest.mark.parametrize("url,status", [
    ("/static/../server.py", 404), ("/static/..%2Fserver.py", 404), ("/static/%2e%2e%2f%2e%2e%2fpyproject.toml", 404),
    ("/static/index.html%00.js", 404), ("/static/__init__.py", 404), ("/../../etc/passwd", 404),
    ("/api/cell?image=../../etc/passwd&layer=0&c=0&i=0&j=0", 400),
    ("/api/cell?image=/etc/passwd&layer=0&c=0&i=0&j=0", 400),
    ("/api/cell?image=test-1&layer=-1&c=0&i=0&j=0", 400),
    ("/api/cell?image=test-1&layer=0&c=0&i=99&j=0", 404),
    ("/api/cell?image=upload-0123456789abcdef&layer=0&c=0&i=0&j=0", 404),
    ("/api/test/100000", 404), ("/api/test/..%2F..%2Fetc", 404),
    ("/api/sandbox/filter?name=custom&values=__import__('os')", 400),
    ("/api/sandbox/filter?name=../../etc/passwd", 400),
])
def test_no_request_value_becomes_a_path(client, url, status):
    r = client.get(url)
    assert r.status_code == status, r.text
    assert "root:" not in r.text and "[project]" not in r.text


def test_headers_host_check_and_nothing_written(client, run_dir):
    before = {n: os.stat(os.path.join(run_dir, n)).st_mtime_ns for n in os.listdir(run_dir)}
    for url in ("/", "/static/core.js", "/api/model", "/api/kernels", "/api/test/1", "/api/run", "/api/sandbox/size"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/static/core.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/api/model").headers["content-type"] == "application/json"
    client.post("/api/upload", content=_png(), headers={"content-type": "image/png"})
    after = {n: os.stat(os.path.join(run_dir, n)).st_mtime_ns for n in os.listdir(run_dir)}
    assert after == before  # nothing written into the run folder, nothing added
    assert client.get("/api/info", headers={"host": "evil.example:5000"}).status_code == 421


@pytest.mark.parametrize("h,k,s,p,d", [(28, 3, 1, 1, 1), (28, 3, 2, 0, 1), (7, 3, 3, 0, 2), (224, 7, 2, 3, 1), (2, 5, 1, 0, 1),
                                       (5, 3, 1, 0, 3), (9, 4, 2, "same", 1)])
def test_sandbox_size_is_conv2d_s(client, h, k, s, p, d):
    from convlab.functional import conv2d

    r = client.get(f"/api/sandbox/size?height={h}&width={h}&kernel={k}&stride={s}&padding={p}&dilation={d}").json()
    try:
        out = conv2d(convlab.zeros(1, 1, h, h), convlab.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    except ValueError as exc:  # the library's own error, word for word
        assert r == {"ok": False, "error": str(exc)}
        return
    assert r["ok"] and r["output"] == list(out.shape[2:])
    assert r["steps"][0]["text"].endswith(f"= {out.shape[2]}")


def test_sandbox_filter_convolution_beside_correlation(client):
    from convlab.signal import convolve, correlate

    sobel = client.get("/api/sandbox/filter?name=sobel_x&padding=0").json()
    box = client.get("/api/sandbox/filter?name=box&padding=0").json()
    assert not sobel["same"] and box["same"]
    assert sobel["flipped"] == np.array(sobel["kernel"])[::-1, ::-1].tolist()
    # independent check of the size and of the sign flip on a ramp, through convlab.signal
    ramp = np.tile(np.arange(6.0), (5, 1))
    k = np.array(sobel["kernel"])
    assert np.allclose(convolve(ramp, k, mode="valid"), -correlate(ramp, k, mode="valid"))
    img = Image.open(io.BytesIO(base64.b64decode(sobel["picture"].split(",")[1])))
    assert sobel["output_size"] == [img.height - 2, img.width - 2]
    bad = client.get("/api/sandbox/filter?name=gaussian&dilation=64").json()  # 7x7 dilated to 385
    assert "conv2d: padded input" in bad["error"]


def test_run_events_stream_a_new_checkpoint(run_dir, write_run):
    """Server-sent events: a checkpoint and log written while the page listens arrive as a new 'run' event."""
    from starlette.testclient import TestClient

    stopping = threading.Event()
    client = TestClient(build_app(Explorer(Source(run_dir)), stopping=stopping), base_url="http://127.0.0.1:5000")
    events = []
    with client.stream("GET", "/api/run/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if len(events) == 1:
                    write_run(run_dir, step=20, scale=2.0, records=5)  # the trainer's next epoch
                else:
                    stopping.set()
                    break
    first, second = events
    assert (first["step"], second["step"]) == (10, 20)
    assert len(second["records"]) == len(first["records"]) + 2
    k1 = np.frombuffer(base64.b64decode(first["kernels"]["data"]), np.float32)
    k2 = np.frombuffer(base64.b64decode(second["kernels"]["data"]), np.float32)
    assert first["kernels"]["name"] == "conv1" and np.allclose(k2, 2 * k1, rtol=1e-6)


def test_live_source_reads_the_training_model_between_steps(run_dir):
    """``convlab train --live``: kernels come from the live weights; the views run on a snapshot copy."""
    from convlab.explore.source import LiveSource
    from convlab.train import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(os.path.join(run_dir, "last.safetensors"))
    model = model_from_checkpoint(ckpt).train()  # the trainer's model, in training mode
    step = [0]
    live = LiveSource(model, run_dir, ckpt["model_spec"], ckpt["meta"], lambda: step[0], snapshot_every=5)
    ex = Explorer(live)
    first = ex.run_view()
    w0 = np.frombuffer(base64.b64decode(first["kernels"]["data"]), np.float32).reshape(first["kernels"]["shown"])
    assert np.array_equal(w0, model.conv1.weight.data)
    start = first["kernels_start"]  # the kernels before training, kept for the page's history
    assert start["step"] == 0 and start["data"] == first["kernels"]["data"]
    snapshot = live.model()
    assert snapshot is not model and not snapshot.training and model.training  # the trainer's flags untouched
    model.conv1.weight.data[...] *= -1  # an optimizer step
    step[0] = 1
    assert live.refresh()
    w1 = np.frombuffer(base64.b64decode(ex.run_view()["kernels"]["data"]), np.float32).reshape(w0.shape)
    assert np.array_equal(w1, -w0)
    assert ex.run_view()["kernels_start"]["data"] == first["kernels"]["data"]  # the start stays the start
    assert live.model() is snapshot  # fewer than snapshot_every steps: the views keep their copy
    step[0] = 5
    assert live.model() is not snapshot and np.array_equal(live.model().conv1.weight.data, -w0)
    assert ex.test_image(0)["key"] == "test-0"


def test_rgb_checkpoint_without_its_dataset_takes_uploads(tmp_path):
    """A colour model whose dataset is not installed: no test split, but uploads go through its spec
    (convert to RGB 8x8, then 1 px of zero padding, then (x - 0.5) / 0.25)."""
    from starlette.testclient import TestClient

    from convlab.data.preprocess import Preprocessing
    from convlab.train.checkpoint import save_checkpoint
    from convlab.train.recipes import build_model

    spec = Preprocessing(channels=3, size=(8, 8), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), pad=1)
    model, model_spec = build_model("compactcnn", 3, 10, (10, 10))
    meta = {"config": {"dataset": "cifar10", "data_root": str(tmp_path / "nothing"), "seed": 0},
            "classes": [f"c{i}" for i in range(10)], "preprocessing": spec.to_dict(), "title": "rgb"}
    save_checkpoint(str(tmp_path / "rgb.safetensors"), {"model_spec": model_spec, "model": model.state_dict(), "meta": meta})
    client = TestClient(build_app(Explorer(Source(str(tmp_path / "rgb.safetensors")))), base_url="http://127.0.0.1:1")
    info = client.get("/api/info").json()
    assert info["test_items"] == 0 and "cifar10" in info["test_error"]
    assert client.get("/api/test/0").status_code == 404
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (255, 0, 0)).save(buf, format="PNG")
    r = client.post("/api/upload", content=buf.getvalue(), headers={"content-type": "image/png"}).json()
    assert r["input"]["channels"] == 3 and r["input"]["height"] == 10  # 8 + 2 * 1 of padding
    shown = np.frombuffer(base64.b64decode(r["input"]["data"]), np.uint8).reshape(3, 10, 10)
    assert shown[:, 0].max() == 0 and (shown[0, 1:9, 1:9] == 255).all() and shown[1:, 1:9, 1:9].max() == 0
    cell = client.get(f"/api/cell?image={r['key']}&layer=0&c=0&i=0&j=0").json()
    f = cell["formula"]
    assert [ch["channel"] for ch in f["channels"]] == [0, 1, 2]
    # row -1 is conv1's own zero padding; row 0 the spec's zero pixels, normalised: (0 - 0.5) / 0.25 = -2;
    # row 1 the red picture: red (1 - 0.5) / 0.25 = 2, green and blue -2
    assert f["channels"][0]["patch"] == [[0, 0, 0], [0, -2, -2], [0, -2, 2]]
    assert f["channels"][1]["patch"] == [[0, 0, 0], [0, -2, -2], [0, -2, -2]]
    assert f["result"] == pytest.approx(cell["value"], rel=1e-5, abs=1e-6)
    assert client.get("/api/kernels").json()["layers"][0]["shape"] == [32, 3, 3, 3]


def test_large_maps_are_drawn_from_every_kth_cell():
    from convlab.explore import views

    a = np.arange(2 * 130 * 100, dtype=np.float32).reshape(2, 130, 100)
    m = views._maps(a)
    assert (m["height"], m["width"], m["drawn"]) == (130, 100, [44, 34])  # step ceil(130 / 64) = 3
    q = np.frombuffer(base64.b64decode(m["data"]), np.uint8).reshape(2, 44, 34)
    lo, hi = a[0].min(), a[0].max()
    assert np.array_equal(q[0], np.rint((a[0, ::3, ::3] - lo) * (255 / (hi - lo))).astype(np.uint8))


def test_the_page_is_only_packaged_local_files():
    """Every file the page loads is in the server's fixed table and in the package, and it names no other host."""
    import re
    from importlib import resources

    from convlab.explore.server import STATIC

    root = resources.files("convlab.explore") / "static"
    html = (root / "index.html").read_text()
    linked = set(re.findall(r'(?:src|href)="/static/([^"]+)"', html))
    assert linked | {"index.html"} == set(STATIC) == {p.name for p in root.iterdir() if p.is_file()}
    for name in STATIC:
        text = (root / name).read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name  # no URL of another host
        assert "eval(" not in text and "innerHTML" not in text and "new Function" not in text, name
