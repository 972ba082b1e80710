"""Helpers of the playground tests: a server on a free port in a thread, a JSON client over urllib, and the
models the servers share within one test process."""
import atexit
import functools
import json
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

from ember.playground.server import make_server


class Client:
    """requests against one server: ``call(method, path, body)`` → (status, parsed JSON or raw bytes);
    ``headers`` holds the last answer's headers."""

    def __init__(self, url):
        self.url, self.headers = url.rstrip("/"), None

    def call(self, method, path, body=None, raw=None, headers=None, timeout=60):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, payload, self.headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, payload, self.headers = error.code, error.read(), error.headers
        kind = self.headers.get("Content-Type", "")
        return status, (json.loads(payload) if payload and kind.startswith("application/json") else payload)


def start_server(**options):
    """A server on a free port, serving in a daemon thread; ``options`` go to ``make_server``."""
    return serve(make_server(port=0, **options))


def serve(server):
    """Start answering on a server made (and already listening) but not yet serving."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop_server(server):
    server.shutdown()
    server.server_close()


@functools.cache
def shared_cache_dir() -> Path:
    """One cache folder for the test process: LeNet-5 trains once at first use, later servers load it."""
    path = Path(tempfile.mkdtemp(prefix="playground-cache-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def tiny_dates_model() -> Path:
    """A tiny date translator saved as 'ember translate-dates --out DIR' saves one (one short epoch)."""
    from ember.apps.date_translator import run

    out = shared_cache_dir() / "tiny-dates-model"
    run(out=out, train_size=600, test_size=20, epochs=1, hidden_size=16, embed_dim=8, log=None)
    return out
