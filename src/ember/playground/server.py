"""The playground's web server: the standard library's threading HTTP server, JSON endpoints and SSE.

The page (``static/``: index.html, app.js, style.css — no build step, nothing from a CDN) talks to
these endpoints; every answer is JSON, every refusal a 4xx with {"error": "..."}:

    GET    /api/info                          options, limits, sample images, model status
    POST   /api/sessions                      create a 2-D training session (SessionConfig fields)
    GET    /api/sessions/ID/events            Server-Sent Events: 'session', then 'frame's, then 'end'
    POST   /api/sessions/ID/control           {"action": "start" | "pause" | "step" | "reset"}
    DELETE /api/sessions/ID                   stop it
    POST   /api/images                        {"data": data URL} → an upload id (≤ 2 MB, shrunk to ≤ 256 px)
    POST   /api/convolve                      {"image", "kernel": name or matrix ≤ 15×15}
    POST   /api/receptive-field               {"image", "kernel", "row", "col"}
    GET    /api/digit                         whether LeNet-5 is ready
    POST   /api/digit                         {"pixels": s×s ink in [0, 1], 8 ≤ s ≤ 128} → prediction, maps
    GET    /api/embeddings?count=300&dims=2   PCA of the most frequent words
    POST   /api/embeddings/neighbours         {"word", "topn"}
    POST   /api/embeddings/analogy            {"a", "b", "c", "topn"}: a − b + c
    GET    /api/dates                         whether a date translator is loaded, and how to get one
    POST   /api/dates/train                   {"train_size", "epochs"}: a bounded quick training
    POST   /api/dates/translate               {"text"} → output and attention weights
    GET    /api/gpt                           whether the character GPT is trained, its vocabulary and sizes
    POST   /api/gpt/train                     {"steps"}: train it in the background (10 to 3000 steps)
    POST   /api/gpt/attention                 {"text"} → tokens and weights [layers][heads][T][T]

HEAD answers any GET path with GET's headers and no body.

Robustness: bound to 127.0.0.1 by default and answering only to a loopback Host name there;
bodies must be JSON (``Content-Type: application/json``, which also keeps other web sites from
posting here) under a per-endpoint size limit (413 beyond it, never read); at most 20 query
parameters and 18-digit integers (400 beyond); uploads of more than ``explorers.MAX_PIXELS`` pixels
are refused from their header, before decoding (413); at most ``max_heavy`` heavy requests (image
decoding, convolution, the models) run at once, and one that finds no free slot within ``heavy_wait``
seconds gets 503 with Retry-After; a listen queue of 128 takes bursts of connections; sockets time
out (``request_timeout``), so a slow or silent client cannot hold a thread; at most ``max_sessions``
training sessions, each stopped when its event stream disconnects.

>>> server = make_server(port=0)                 # doctest: +SKIP
>>> threading.Thread(target=server.serve_forever, daemon=True).start(); print(server.url)  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from ember.playground import explorers
from ember.playground.datasets2d import DATASETS, FEATURES
from ember.playground.sessions import ACTIVATIONS, LIMITS, OPTIMIZERS, REGULARIZATION, SessionManager, parse_config
from ember.playground.validation import MAX_DIGITS, Fields, RequestError, parse_json, parse_query

__all__ = ["App", "PlaygroundServer", "add_arguments", "default_cache_dir", "make_server", "run"]

STATIC = Path(__file__).parent / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
JSON_LIMIT, UPLOAD_LIMIT = 64 * 1024, 3 * 1024 * 1024  # bytes of a request body (an upload is base64)
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def default_cache_dir() -> Path:
    """Where trained helper models are kept: $XDG_CACHE_HOME/ember/playground (default ~/.cache/...)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ember" / "playground"


# -- the application: state and endpoint functions ------------------------------------------------


class App:
    """The playground's state (sessions, images, models) and its routes.

    Args:
        lenet, vectors, dates_model: paths given on the command line (or None).
        cache_dir: where models trained here are cached.
        max_sessions: live training sessions at most; keepalive: seconds between SSE comments on a
            quiet stream (how soon a vanished page is noticed); idle_timeout: a session with no stream
            stops after this many seconds; frame_interval: seconds between frames while training.
        max_heavy: heavy requests (image decoding, convolution, the models) running at once; heavy_wait:
            seconds a heavy request waits for a free slot before it is answered 503.
    """

    def __init__(self, lenet=None, vectors=None, dates_model=None, cache_dir=None, max_sessions: int = 4,
                 keepalive: float = 5.0, idle_timeout: float = 60.0, frame_interval: float = 0.1,
                 max_heavy: int = 4, heavy_wait: float = 1.0):
        if max_heavy < 1 or not heavy_wait >= 0:
            raise ValueError(f"max_heavy must be at least 1 and heavy_wait at least 0, got {max_heavy}, {heavy_wait}")
        # NOTE: each heavy request holds a full NumPy working set; bounding them bounds the memory a burst
        # of uploads can take, where a thread per connection alone would decode them all at once.
        self.heavy, self.max_heavy, self.heavy_wait = threading.BoundedSemaphore(max_heavy), max_heavy, heavy_wait
        self.sessions = SessionManager(max_sessions, idle_timeout=idle_timeout, frame_interval=frame_interval)
        self.images = explorers.ImageStore()
        self.digit = explorers.DigitModel(lenet, cache_dir)
        self.words = explorers.WordVectors(vectors)
        self.dates = explorers.DateModel(dates_model, cache_dir)
        self.gpt = explorers.GPTModel(cache_dir)
        self.keepalive = keepalive
        # (method, path pattern, function, body limit); a function gets (app, match, query, body)
        self.routes = [
            ("GET", r"/", _index, 0), ("GET", r"/static/([A-Za-z0-9_.-]{1,64})", _static, 0),
            ("GET", r"/api/info", _info, 0),
            ("POST", r"/api/sessions", _create_session, JSON_LIMIT),
            ("GET", r"/api/sessions/([0-9a-f]{1,64})/events", _events, 0),
            ("POST", r"/api/sessions/([0-9a-f]{1,64})/control", _control, JSON_LIMIT),
            ("DELETE", r"/api/sessions/([0-9a-f]{1,64})", _delete_session, 0),
            ("POST", r"/api/images", _upload, UPLOAD_LIMIT), ("POST", r"/api/convolve", _convolve, JSON_LIMIT),
            ("POST", r"/api/receptive-field", _receptive_field, JSON_LIMIT),
            ("GET", r"/api/digit", _digit_status, 0), ("POST", r"/api/digit", _digit, JSON_LIMIT * 4),
            ("GET", r"/api/embeddings", _projection, 0),
            ("POST", r"/api/embeddings/neighbours", _neighbours, JSON_LIMIT),
            ("POST", r"/api/embeddings/analogy", _analogy, JSON_LIMIT),
            ("GET", r"/api/dates", _dates_status, 0), ("POST", r"/api/dates/train", _dates_train, JSON_LIMIT),
            ("POST", r"/api/dates/translate", _translate, JSON_LIMIT),
            ("GET", r"/api/gpt", _gpt_status, 0), ("POST", r"/api/gpt/train", _gpt_train, JSON_LIMIT),
            ("POST", r"/api/gpt/attention", _gpt_attention, JSON_LIMIT),
        ]
        self.routes = [(m, re.compile(p), f, limit) for m, p, f, limit in self.routes]
        self.heavy_endpoints = {_upload, _convolve, _receptive_field, _digit, _projection, _neighbours, _analogy,
                                _translate, _dates_train, _gpt_train, _gpt_attention}

    @contextlib.contextmanager
    def heavy_slot(self, function):
        """Hold one of the ``max_heavy`` slots while a heavy endpoint runs (others pass straight through);
        ``RequestError`` 503 with Retry-After when none frees within ``heavy_wait`` seconds."""
        if function not in self.heavy_endpoints:
            yield
            return
        if not self.heavy.acquire(timeout=self.heavy_wait):
            raise RequestError(f"the server is busy with {self.max_heavy} heavy requests; try again in a moment",
                               503, {"Retry-After": str(max(1, math.ceil(self.heavy_wait)))})
        try:
            yield
        finally:
            self.heavy.release()

    def close(self) -> None:
        """Stop every training session (wakes their event streams)."""
        self.sessions.stop_all()


def _index(app, match, query, body, handler):
    _send_static(handler, "index.html")


def _static(app, match, query, body, handler):
    _send_static(handler, match[1])


def _send_static(handler, name: str) -> None:
    path = STATIC / name
    if name.startswith(".") or not path.is_file():
        raise RequestError(f"no static file {name!r}", 404)
    handler.send_bytes(200, path.read_bytes(), _TYPES.get(path.suffix, "application/octet-stream"))


def _info(app, match, query, body, handler):
    Fields(query, "info").done()
    return {"datasets": sorted(DATASETS), "features": list(FEATURES), "activations": list(ACTIVATIONS),
            "optimizers": list(OPTIMIZERS), "regularization": list(REGULARIZATION), "limits": LIMITS,
            "kernels": explorers.KERNELS, "samples": app.images.samples(), "digit_ready": app.digit.ready,
            "max_kernel": explorers.MAX_KERNEL, "max_upload_bytes": explorers.MAX_UPLOAD_BYTES}


def _create_session(app, match, query, body, handler):
    return app.sessions.create(parse_config(body)).describe()


def _control(app, match, query, body, handler):
    f = Fields(body, "control")
    action = f.choice("action", ("start", "pause", "step", "reset"))
    f.done()
    session = app.sessions.get(match[1])
    session.control(action)
    return {"id": session.id, "state": session.state}


def _delete_session(app, match, query, body, handler):
    session = app.sessions.get(match[1])
    session.stop()
    return {"id": session.id, "state": "stopped"}


def _events(app, match, query, body, handler):
    Fields(query, "events").done()
    handler.stream(app.sessions.get(match[1]), app.keepalive)


def _upload(app, match, query, body, handler):
    f = Fields(body, "upload")
    key, image = app.images.upload(f.raw("data"))
    f.done()
    return {"id": key, "shape": list(image.shape)}


def _image_and_kernel(app, f):
    image = app.images.get(f.raw("image"))
    if "kernel" not in f.body:
        raise RequestError("convolution: missing field 'kernel'")
    return image, explorers.get_kernel(f.raw("kernel"))


def _convolve(app, match, query, body, handler):
    f = Fields(body, "convolve")
    image, kernel = _image_and_kernel(app, f)
    f.done()
    return explorers.convolve(image, kernel)


def _receptive_field(app, match, query, body, handler):
    f = Fields(body, "receptive-field")
    image, kernel = _image_and_kernel(app, f)
    row, col = f.integer("row", 0, explorers.MAX_SIDE - 1), f.integer("col", 0, explorers.MAX_SIDE - 1)
    f.done()
    return explorers.kernel_receptive_field(image, kernel, row, col)


def _digit_status(app, match, query, body, handler):
    Fields(query, "digit").done()
    return {"ready": app.digit.ready}


def _digit(app, match, query, body, handler):
    f = Fields(body, "digit")
    pixels = f.matrix("pixels", 128, 0.0, 1.0, square=True)
    f.done()
    if len(pixels) < 8:
        raise RequestError(f"digit: 'pixels' must be at least 8×8, got {len(pixels)}×{len(pixels)}")
    return app.digit.predict(pixels)


def _projection(app, match, query, body, handler):
    f = Fields(query, "embeddings")
    count, dims = f.integer("count", 3, 1000, 300), f.integer("dims", 2, 3, 2)
    f.done()
    return app.words.projection(count, dims)


def _neighbours(app, match, query, body, handler):
    f = Fields(body, "neighbours")
    word, topn = f.text("word", 100), f.integer("topn", 1, 50, 10)
    f.done()
    return app.words.neighbours(word, topn)


def _analogy(app, match, query, body, handler):
    f = Fields(body, "analogy")
    a, b, c = (f.text(k, 100) for k in ("a", "b", "c"))
    topn = f.integer("topn", 1, 50, 5)
    f.done()
    return app.words.analogy(a, b, c, topn)


def _dates_status(app, match, query, body, handler):
    Fields(query, "dates").done()
    return app.dates.status()


def _dates_train(app, match, query, body, handler):
    f = Fields(body, "dates/train")
    train_size, epochs = f.integer("train_size", 500, 20000, 6000), f.integer("epochs", 1, 5, 3)
    f.done()
    app.dates.quick_train(train_size, epochs)
    return app.dates.status()


def _translate(app, match, query, body, handler):
    f = Fields(body, "dates/translate")
    text = f.text("text", 200)
    f.done()
    if not text.strip():
        raise RequestError("dates/translate: 'text' is blank; type a date such as '3rd of March 2021'")
    return app.dates.translate(text)


def _gpt_status(app, match, query, body, handler):
    Fields(query, "gpt").done()
    return app.gpt.status()


def _gpt_train(app, match, query, body, handler):
    f = Fields(body, "gpt/train")
    steps = f.integer("steps", 10, 3000, 300)
    f.done()
    app.gpt.train(steps)
    return app.gpt.status()


def _gpt_attention(app, match, query, body, handler):
    f = Fields(body, "gpt/attention")
    text = f.text("text", 1000)  # the model's block size is checked against the model's own
    f.done()
    return app.gpt.attention(text)


# -- HTTP ----------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    """Routes a request to its endpoint; turns every refusal into JSON {"error": ...}."""

    server_version = "ember-playground/1"
    timeout = 10  # seconds a socket read or write may block (the server's request_timeout overrides it)

    def setup(self):
        # NOTE: set before the base class applies it to the socket, so that a client that connects and
        # sends nothing (or stalls mid-request) lets go of its thread after request_timeout seconds.
        self.timeout = self.server.request_timeout
        super().setup()

    def do_GET(self):  # noqa: N802 - http.server's names
        self.dispatch("GET")

    def do_POST(self):  # noqa: N802
        self.dispatch("POST")

    def do_DELETE(self):  # noqa: N802
        self.dispatch("DELETE")

    def do_PUT(self):  # noqa: N802
        self.dispatch("PUT")

    def do_PATCH(self):  # noqa: N802
        self.dispatch("PATCH")

    def do_HEAD(self):  # noqa: N802
        self.dispatch("HEAD")

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def send_error(self, code, message=None, explain=None):
        """Malformed requests the base class refuses (bad request line, 501 method) answer in JSON too."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # the base class's guess for an unparsable line: answer with headers
            self.request_version = "HTTP/1.0"
        self.send_json(code, {"error": message or HTTPStatus(code).phrase})

    # -- responses -----------------------------------------------------------------------------------
    def send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status: int, obj) -> None:
        self.send_bytes(status, json.dumps(obj, allow_nan=False).encode(), "application/json")

    # -- dispatch ------------------------------------------------------------------------------------
    def dispatch(self, method: str) -> None:
        app = self.server.app
        try:
            url = urlsplit(self.path)
            self._check_host()
            function, match, limit = self._route(method, url.path)
            query = parse_query(url.query)
            body = self._body(limit) if method == "POST" else None
            with app.heavy_slot(function):  # after the body is read: a slow upload holds no slot
                result = function(app, match, query, body, self)
            if result is not None:
                self.send_json(200, result)
        except RequestError as error:
            self._refuse(error.status, error.message, error.headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as error:  # noqa: BLE001 - the server answers 500 and keeps serving
            traceback.print_exc()
            self._refuse(500, f"internal error: {type(error).__name__}: {error}")

    def _route(self, method: str, path: str):
        """(endpoint function, path match, body limit) of a request; 404, or 405 with Allow."""
        routes = self.server.app.routes
        wanted = "GET" if method == "HEAD" else method  # HEAD: GET's answer without its body
        for m, pattern, function, limit in routes:
            if m == wanted and (match := pattern.fullmatch(path)):
                return function, match, limit
        allowed = [m for m, pattern, _, _ in routes if pattern.fullmatch(path)]
        if not allowed:
            raise RequestError(f"no endpoint {path[:80]!r}", 404)
        allow = ", ".join(allowed + ["HEAD"] * ("GET" in allowed))
        raise RequestError(f"{method} is not allowed on {path}; use {' or '.join(allowed)}", 405, {"Allow": allow})

    def _refuse(self, status: int, message: str, headers: dict | None = None) -> None:
        try:
            self.close_connection = True
            self.send_response(status)
            data = json.dumps({"error": message}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            pass

    def _check_host(self) -> None:
        """On a loopback address, answer only to loopback Host names (no DNS-rebinding tricks)."""
        if self.server.server_address[0] not in ("127.0.0.1", "::1"):
            return
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if name.lower() not in _LOOPBACK:
            raise RequestError(f"Host {host[:60]!r} is not this loopback server", 403)

    def _body(self, limit: int):
        """Read and parse the JSON body (at most ``limit`` bytes)."""
        if self.headers.get("Transfer-Encoding"):
            raise RequestError("chunked request bodies are not accepted; send Content-Length", 411)
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError("a POST needs a Content-Length header and a JSON body", 411)
        length = length.strip()
        if not re.fullmatch(r"[0-9]+", length):
            raise RequestError(f"Content-Length {length[:30]!r} is not a number")
        if len(length) > MAX_DIGITS or int(length) > limit:  # the length check keeps int() off huge digit strings
            size = int(length) if len(length) <= MAX_DIGITS else f"a {len(length)}-digit number of"
            raise RequestError(f"request body of {size} bytes is over this endpoint's limit of {limit}", 413)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RequestError(f"Content-Type must be application/json, got {content_type or 'none'!r}", 415)
        raw = self.rfile.read(int(length))
        if len(raw) < int(length):
            raise RequestError("the request body ended early")
        return parse_json(raw)

    # -- Server-Sent Events --------------------------------------------------------------------------
    def _event(self, name: str, data) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(data, allow_nan=False)}\n\n".encode())
        self.wfile.flush()

    def _stream_headers(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def stream(self, session, keepalive: float) -> None:
        """Send a session's frames until it stops or the client goes away (which stops the session)."""
        self.close_connection = True
        if self.command == "HEAD":  # the headers only: no watcher attaches to the session
            self._stream_headers()
            return
        session.attach()
        try:
            self._stream_headers()
            self._event("session", session.describe())
            seen, sent, run = -1, 0, None
            while True:
                frame, number, history = session.wait_frame(seen, keepalive)
                if session.state == "stopped":
                    self._event("end", {"reason": getattr(session, "error", None) or "the session stopped"})
                    return
                if number == seen:
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
                    continue
                if frame["run"] != run:
                    run, sent = frame["run"], 0
                self._event("frame", {**frame, "state": session.state, "history": history[sent:]})
                seen, sent = number, len(history)
        except OSError:  # the page went away: detach() below stops the training thread
            pass
        finally:
            session.detach()


class PlaygroundServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` carrying the ``App``; ``url`` is where the page is.

    ``request_timeout``: seconds a socket read or write of a request may block before the server hangs up.
    """

    daemon_threads = True
    allow_reuse_address = True
    # NOTE: the listen backlog; socketserver's default of 5 drops a few per cent of the connections when
    # some 30 clients connect at once (a page loading its scripts while several uploads run).
    request_queue_size = 128

    def __init__(self, address, app: App, verbose: bool = False, request_timeout: float = Handler.timeout):
        if not request_timeout > 0:
            raise ValueError(f"request_timeout must be positive, got {request_timeout}")
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app, self.verbose, self.request_timeout = app, verbose, request_timeout
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def server_close(self) -> None:
        self.app.close()
        super().server_close()


def make_server(host: str = "127.0.0.1", port: int = 8000, verbose: bool = False,
                request_timeout: float = Handler.timeout, **app_options) -> PlaygroundServer:
    """A playground server bound to (host, port) — port 0 picks a free one — whose sockets time out after
    ``request_timeout`` seconds; ``app_options`` (max_sessions, max_heavy, heavy_wait, ...) go to ``App``."""
    return PlaygroundServer((host, port), App(**app_options), verbose, request_timeout)


# -- command line ------------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    """The options of ``ember playground`` on an argparse parser."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    parser.add_argument("--no-browser", action="store_true", help="do not open the page in a web browser")
    parser.add_argument("--lenet", metavar="PATH", default=None,
                        help="LeNet-5 checkpoint (ember.save of its state dict) for the digit page; "
                             "default: train one on the bundled digits at first use and cache it")
    parser.add_argument("--vectors", metavar="PATH", default=None,
                        help="word2vec vectors (text or binary format) for the projector; default: a tiny set "
                             "trained at first use")
    parser.add_argument("--dates-model", metavar="DIR", default=None,
                        help="a date translator saved by 'ember translate-dates --out DIR' for the attention page")
    parser.add_argument("--cache-dir", default=None,
                        help=f"where models trained here are kept (default {default_cache_dir()})")
    parser.add_argument("--max-sessions", type=int, default=4, help="training sessions at once (default 4)")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def run(args) -> int:
    """``ember playground``: serve the page until Ctrl-C."""
    if not 0 <= args.port <= 65535 or args.max_sessions < 1:
        print("ember playground: --port must lie in 0..65535 and --max-sessions be at least 1", file=sys.stderr)
        return 2
    try:
        server = make_server(args.host, args.port, args.verbose, lenet=args.lenet, vectors=args.vectors,
                             dates_model=args.dates_model, max_sessions=args.max_sessions,
                             cache_dir=args.cache_dir or default_cache_dir())
    except OSError as error:
        print(f"ember playground: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    print(f"ember playground: serving on {server.url} (Ctrl-C to stop)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("ember playground: warning: listening beyond this machine; anyone who can reach it can use it",
              file=sys.stderr)
    if not args.no_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, (server.url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nember playground: stopped")
    finally:
        server.server_close()
    return 0
