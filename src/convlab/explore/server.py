"""The explorer's web server: a Starlette app served by uvicorn on the loopback interface.

Routes (every answer has its content type set; errors are ``{"error": message}`` JSON)::

    GET  /                        the page (static/index.html)
    GET  /static/NAME             one of the page's files (a fixed list read from the package)
    GET  /api/info                title, classes, test-split size, live or not
    GET  /api/model               view 1: layers, shapes, parameters, MACs, receptive field, jump
    GET  /api/test/N              view 2: the forward pass of test item N
    POST /api/upload              view 2: the forward pass of an uploaded image (the raw bytes are the body)
    GET  /api/cell?image=&layer=&c=&i=&j=   view 3: one output cell's receptive field and formula
    GET  /api/kernels             view 4: every convolution's kernels
    GET  /api/sandbox/size?...    view 5: the output size worked out, or the library's error
    GET  /api/sandbox/filter?...  view 5: a kernel on the picture, convolution beside cross-correlation
    GET  /api/run                 view 6: the run's log records and first-layer kernels
    GET  /api/run/events          view 6: server-sent events when the run changes

Security: binds 127.0.0.1 unless told otherwise; answers only requests whose Host is the address it
serves (a page on another site cannot reach it through DNS rebinding); no request value is ever
used as a path (static files are a fixed table, images are named by server-made keys); uploads
are size- and pixel-limited and decoded in memory; nothing is evaluated; nothing is written.
A Content-Security-Policy keeps the page to its own origin.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
from importlib import resources

from ..validate import ConvlabError
from .preprocess import MAX_UPLOAD_BYTES, UploadError
from .sandbox import SandboxError

STATIC = {"index.html": "text/html; charset=utf-8", "style.css": "text/css; charset=utf-8",
          "core.js": "text/javascript; charset=utf-8", "model.js": "text/javascript; charset=utf-8",
          "image.js": "text/javascript; charset=utf-8", "kernels.js": "text/javascript; charset=utf-8",
          "sandbox.js": "text/javascript; charset=utf-8", "training.js": "text/javascript; charset=utf-8"}
HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                                 b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
EVENT_INTERVAL = 0.5  # seconds between looks at the run for server-sent events
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _static_files() -> dict:
    root = resources.files(__package__) / "static"
    return {name: (root / name).read_bytes() for name in STATIC}


class _Guard:
    """ASGI middleware: refuse foreign Host headers, add the security headers to every answer."""

    def __init__(self, app, hosts):
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if self.hosts is not None and name.strip("[]") not in self.hosts:
            body = json.dumps({"error": f"host {host!r} is not served here"}).encode()
            await send({"type": "http.response.start", "status": 421,
                        "headers": [(b"content-type", b"application/json"), *HEADERS]})
            return await send({"type": "http.response.body", "body": body})

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)
        return await self.app(scope, receive, with_headers)


def _clean(obj):
    """JSON has no NaN/Inf: send them as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def build_app(explorer, hosts=LOOPBACK, stopping=None):
    """The Starlette application over an :class:`~convlab.explore.state.Explorer`.

    ``hosts``: the Host names answered (None: any). ``stopping``: anything with ``is_set()`` (a
    ``threading.Event``) that turns true when the server shuts down, which ends the event streams.
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    files = _static_files()
    stopping = stopping or threading.Event()

    def answer(fn, *args):
        """Run a view; its exceptions become JSON errors with the right status."""
        try:
            return JSONResponse(_clean(fn(*args)))
        except UploadError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except (LookupError, FileNotFoundError) as exc:
            return JSONResponse({"error": str(exc).strip("'\"")}, status_code=404)
        except (ValueError, SandboxError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def integer(request, name, lo=0, hi=10**9):
        text = request.query_params.get(name, "")
        if not text.isdigit() or not lo <= int(text) <= hi:
            raise ConvlabError(f"{name} must be an integer in {lo}..{hi}, got {text[:20]!r}")
        return int(text)

    async def page(request: Request):
        return Response(files["index.html"], media_type=STATIC["index.html"])

    async def static(request: Request):
        name = request.path_params["name"]
        if name not in files:  # a fixed table: a request's text never becomes a path
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(files[name], media_type=STATIC[name])

    def info(request):
        return answer(explorer.info)

    def model(request):
        return answer(explorer.model_view)

    def kernels(request):
        return answer(explorer.kernels_view)

    def test(request):
        return answer(explorer.test_image, request.path_params["index"])

    async def upload(request: Request):
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            return JSONResponse({"error": f"the upload has {int(declared):,} bytes; the limit is {MAX_UPLOAD_BYTES:,}"},
                                status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD_BYTES:
                return JSONResponse({"error": f"the upload is larger than the limit of {MAX_UPLOAD_BYTES:,} bytes"},
                                    status_code=413)
        return await run_in_threadpool(answer, explorer.upload, bytes(body), request.headers.get("content-type"))

    def cell(request):
        def run():
            return explorer.cell(request.query_params.get("image", ""), integer(request, "layer"),
                                 integer(request, "c"), integer(request, "i"), integer(request, "j"))
        return answer(run)

    def sandbox_size(request):
        from . import sandbox

        return answer(lambda: sandbox.size_view(sandbox.parse(request.query_params)))

    def sandbox_filter(request):
        from . import sandbox

        def run():
            cfg = sandbox.parse(request.query_params)
            name, k = sandbox.kernel_from(request.query_params)
            return sandbox.filter_view(cfg, name, k, explorer.picture())
        return answer(run)

    def run_view(request):
        explorer.source.refresh()
        return answer(explorer.run_view)

    async def events(request: Request):
        async def stream():
            seen = None
            yield "retry: 2000\n\n"
            while not stopping.is_set():
                await run_in_threadpool(explorer.source.refresh)
                version = explorer.source.version
                if version != seen:
                    seen = version
                    data = await run_in_threadpool(explorer.run_view)
                    yield f"event: run\ndata: {json.dumps(_clean(data))}\n\n"
                else:
                    yield ": tick\n\n"
                for _ in range(int(EVENT_INTERVAL / 0.05)):
                    if stopping.is_set() or await request.is_disconnected():
                        return
                    await asyncio.sleep(0.05)
        return StreamingResponse(stream(), media_type="text/event-stream")

    routes = [
        Route("/", page), Route("/static/{name}", static), Route("/api/info", info), Route("/api/model", model),
        Route("/api/kernels", kernels), Route("/api/test/{index:int}", test), Route("/api/upload", upload, methods=["POST"]),
        Route("/api/cell", cell), Route("/api/sandbox/size", sandbox_size), Route("/api/sandbox/filter", sandbox_filter),
        Route("/api/run", run_view), Route("/api/run/events", events),
    ]
    app = Starlette(routes=routes)
    return _Guard(app, None if hosts is None else set(hosts))


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port the system picks)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(64)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class Server:
    """uvicorn serving the explorer on a bound socket; ``run()`` blocks (Ctrl-C stops it),
    ``start()`` serves from a daemon thread (``convlab train --live``) and ``stop()`` ends it."""

    def __init__(self, explorer, sock: socket.socket, hosts=LOOPBACK):
        import uvicorn

        self.sock, self.stopping = sock, threading.Event()
        self.url = url_of(sock)
        server = self

        class _Stopping:  # ends the event streams as soon as uvicorn starts to shut down (Ctrl-C)
            def is_set(self):
                return server.stopping.is_set() or bool(server.server.should_exit)

        app = build_app(explorer, hosts, _Stopping())
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = None

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.stopping.set()
            self.sock.close()

    def start(self) -> Server:
        self.thread = threading.Thread(target=self.run, name="convlab-explore", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
