"""Response time of each view of ``convlab explore``, over real HTTP on the loopback interface.

    python benchmarks/explore.py runs/train-001          # a compactcnn run on Fashion-MNIST
    python benchmarks/explore.py runs/train-001 --repeat 20

Starts the explorer's server in this process (uvicorn in a thread), warms every view once (the
first look at the test split reads the dataset), then times each request ``--repeat`` times and
prints the median and the slowest. The image views ask for a different test item each time, so
no cached forward pass is reused; the cell view asks for a conv2 cell of the last image drawn,
as the page does after a click. The issue's goal: each view under 200 ms for compactcnn.
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import time
import urllib.request


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a checkpoint or run folder of convlab train (compactcnn on Fashion-MNIST for the goal)")
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()

    from PIL import Image

    from convlab.explore import make_server

    server = make_server(args.run).start()
    base = server.url.rstrip("/")
    png = io.BytesIO()
    Image.new("RGB", (300, 200), (180, 90, 20)).save(png, format="PNG")

    def get(path, data=None, content_type=None):
        req = urllib.request.Request(base + path, data=data, headers={"content-type": content_type} if content_type else {})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read()

    counter = iter(range(10**6))
    views = {
        "page (/)": lambda: get("/"),
        "1 model": lambda: get("/api/model"),
        "2 test image": lambda: get(f"/api/test/{next(counter)}"),
        "2 upload (300x200 PNG)": lambda: get("/api/upload", png.getvalue(), "image/png"),
        "3 cell (conv2, 288 products)": lambda: get("/api/cell?image=test-0&layer=4&c=5&i=6&j=7"),
        "4 kernels": lambda: get("/api/kernels"),
        "5 sandbox size": lambda: get("/api/sandbox/size?height=28&width=28&kernel=3&stride=2&padding=1&dilation=1"),
        "5 sandbox filter (Sobel)": lambda: get("/api/sandbox/filter?name=sobel_x&stride=1&padding=1&dilation=1"),
        "6 run": lambda: get("/api/run"),
    }
    for fn in views.values():  # warm up: dataset, model, picture
        fn()
    get("/api/test/0")
    print(f"convlab explore {args.run}: {cpu_name()}, {args.repeat} requests per view (milliseconds)")
    print(f"{'view':32s} {'median':>8s} {'max':>8s} {'bytes':>9s}")
    for name, fn in views.items():
        times, size = [], 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            size = len(fn())
            times.append(1000 * (time.perf_counter() - t))
            if name.startswith("2 test"):
                get("/api/test/0")  # keep test-0 the image the cell view reads
        print(f"{name:32s} {statistics.median(times):8.1f} {max(times):8.1f} {size:9,d}")
    server.stop()


if __name__ == "__main__":
    main()
