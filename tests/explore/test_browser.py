"""The explorer in a real browser: Debian's headless Chromium driven by Playwright.

Few and quick: one server and one browser for the module; every view loads with no console
error; a clicked feature-map cell draws the right receptive field and its formula equals the
library's output; an upload is answered; live training updates arrive.
"""

import os

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
TIMEOUT_MS = 30_000

if not os.path.exists(CHROMIUM):  # CI installs it (tasks.sh ensure_chromium): there a missing browser is a failure
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
try:
    from playwright import sync_api
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("Playwright is missing (pip install playwright; it is in the dev extra)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _serve(path):
    from convlab.explore import make_server

    return make_server(str(path)).start()


@pytest.fixture(scope="module")
def served(tmp_path_factory, browser, write_run):
    path = tmp_path_factory.mktemp("explore") / "run"
    write_run(path)
    server = _serve(path)
    yield server, str(path)
    server.stop()


def _page(browser, errors):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # an event stream closed by the page (leaving the view, closing it) ends as net::ERR_ABORTED: not an error
    page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "") else errors.append(f"failed: {r.url}"))
    return page


def test_every_view_loads_without_console_errors(browser, served):
    server, _ = served
    errors = []
    page = _page(browser, errors)
    hosts = set()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2] if r.url.startswith("http") else r.url.split(":")[0]))
    for view, ready in [("model", "#model-table tbody tr"), ("image", "#layers .maps canvas"),
                        ("kernels", "#kernel-layers canvas"), ("sandbox", "#filter-compare"),
                        ("training", "#run-kernels canvas")]:
        page.goto(server.url + "#" + view)
        page.wait_for_selector(ready)
        assert page.is_visible("#view-" + view)
    # compactcnn's leaf calls: conv1 bn1 relu pool conv2 bn2 relu pool flatten fc1 relu drop fc2
    assert page.locator("#model-table tbody tr").count() == 13
    page.goto(server.url + "#sandbox")
    page.wait_for_selector("#filter-compare")
    assert "differ" in page.text_content("#filter-compare")  # Sobel x: convolution = -correlation
    page.fill("#sandbox-form input[name=kernel]", "40")  # larger than the padded 28x28 input
    page.wait_for_selector("#size-error")
    assert "conv2d: padded input 28x28 is smaller than the dilated kernel 40x40" in page.text_content("#size-error")
    assert hosts <= {server.url.split("/")[2], "data"}  # the page reaches no other host
    assert errors == []
    page.close()


def test_clicked_cell_shows_receptive_field_and_the_library_number(browser, served):
    import convlab
    from convlab.data import catalog
    from convlab.train import load_checkpoint, model_from_checkpoint

    server, path = served
    errors = []
    page = _page(browser, errors)
    page.goto(server.url + "#image")
    # conv2 (the 5th call) channel 7, cell (1, 2) of its 4x4 map, drawn 56 CSS pixels wide: 14 per cell
    page.click('canvas[data-layer="4"][data-channel="7"]', position={"x": 2.5 * 14, "y": 1.5 * 14})
    page.wait_for_selector("#formula-result")
    shown = {k: float(page.get_attribute(f"#formula-{k}", "data-value")) for k in ("result", "library", "sum")}
    box = {k: int(page.get_attribute("#rf-canvas", f"data-{k}")) for k in ("top", "left", "bottom", "right")}

    model = model_from_checkpoint(load_checkpoint(os.path.join(path, "last.safetensors")))
    x = catalog.load("lines", seed=0)[1][0][0][None].astype(np.float32)
    with convlab.no_grad():
        y = model.conv2(model.pool(model.relu(model.bn1(model.conv1(convlab.tensor(x)))))).numpy()[0, 7, 1, 2]
    assert shown["library"] == pytest.approx(float(y), abs=1e-7)
    assert shown["result"] == pytest.approx(float(y), rel=1e-5, abs=1e-6)  # float64 sum vs the float32 GEMM
    # by hand: rows 2i-3 .. 2i+4 = -1..6 and columns 1..8, clipped to the 8x8 input
    assert box == {"top": 0, "left": 1, "bottom": 6, "right": 7}
    assert page.locator("#cell .formula").count() == 32  # one block per input channel of conv2
    assert errors == []
    page.close()


def test_upload(browser, served):
    import io

    from PIL import Image

    server, _ = served
    errors = []
    page = _page(browser, errors)
    page.goto(server.url + "#image")
    page.wait_for_selector("#layers .maps canvas")
    buf = io.BytesIO()
    Image.new("L", (16, 16), 0).save(buf, format="PNG")
    page.set_input_files("#upload", files=[{"name": "line.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    page.wait_for_selector("#image-note:has-text('uploaded')")  # (the page's CSP forbids wait_for_function's eval)
    assert "16x16 -> 8x8" in page.text_content("#image-note")
    assert page.text_content("#predicted").startswith("prediction: ")
    assert errors == []
    page.close()


def test_live_training_updates_arrive(browser, tmp_path, write_run):
    path = tmp_path / "run"
    write_run(path)
    server = _serve(path)
    errors = []
    page = _page(browser, errors)
    try:
        page.goto(server.url + "#training")
        page.wait_for_selector("#run-step[data-step='10']")
        first = page.eval_on_selector("#run-kernels canvas", "c => c.toDataURL()")
        write_run(path, step=20, scale=-1.0, records=6)  # the next epoch: kernels of the other sign
        page.wait_for_selector("#run-step[data-step='20']")
        assert int(page.get_attribute("#run-step", "data-updates")) >= 2  # both arrived as server-sent events
        assert page.eval_on_selector("#run-kernels canvas", "c => c.toDataURL()") != first
        assert errors == []
    finally:
        page.close()
        server.stop()
