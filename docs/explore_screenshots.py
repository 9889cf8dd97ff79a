"""Screenshots of each view of ``convlab explore`` into docs/ (the README shows them).

    python docs/explore_screenshots.py RUN_DIR [VIEW...]    (a run of convlab train, e.g. on Fashion-MNIST)

docs/explore-training.png in the README was taken during ``convlab train --live --epochs 6
--limit-train 10000`` (the page open on #training from the start), which this script does not do.

Needs the explore extra, Playwright and Debian's chromium (apt-get install chromium).
"""

import os
import sys

from playwright.sync_api import sync_playwright

from convlab.explore import make_server

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
HERE = os.path.dirname(os.path.abspath(__file__))


def main(run: str, views=("model", "image", "kernels", "sandbox", "training")) -> None:
    server = make_server(run).start()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def shot(view, ready, full=False, before=None):
            if view not in views:
                return
            page.goto(server.url + "#" + view)
            page.wait_for_selector(ready)
            if before:
                before()
            page.wait_for_timeout(300)
            page.screenshot(path=os.path.join(HERE, f"explore-{view}.png"), full_page=full)

        def click_cell():
            page.click('canvas[data-layer="4"][data-channel="5"]', position={"x": 30, "y": 22})
            page.wait_for_selector("#formula-result")

        shot("model", "#model-table tbody tr")
        shot("image", "#layers .maps canvas", before=click_cell)
        shot("kernels", "#kernel-layers canvas")

        def stride():
            page.fill("#sandbox-form input[name=stride]", "2")
            page.fill("#sandbox-form input[name=padding]", "1")
            page.wait_for_selector("#size-output:has-text('14 x 14')")
        shot("sandbox", "#filter-compare", before=stride)
        shot("training", "#run-kernels canvas")
        browser.close()
        if errors:
            raise SystemExit(f"console errors: {errors}")
    server.stop()


if __name__ == "__main__":
    main(sys.argv[1], *([sys.argv[2:]] if len(sys.argv) > 2 else []))
