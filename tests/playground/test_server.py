"""Every endpoint of the playground server, through real HTTP on a free port: good requests,
malformed and oversized ones (each a 4xx with a JSON message, the server still serving), the SSE
stream of a training session, and the session stopping when its stream disconnects.
"""
import base64
import http.client
import io
import json
import socket
import struct
import time
import zlib

import numpy as np
import pytest
from playground_helpers import Client, serve, shared_cache_dir, start_server, stop_server, tiny_dates_model

from ember.playground.encoding import decode_map
from ember.playground.explorers import generated_corpus, prepare_digit
from ember.playground.server import make_server
from ember.playground.validation import Fields, RequestError
from ember.text.word2vec import KeyedVectors
from ember.vision import filters


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory):
    """Word vectors with known geometry: each word's neighbours are its own group's words."""
    rng = np.random.default_rng(0)
    groups = {"king": ["queen", "prince", "crown"], "dog": ["cat", "horse", "cow"], "red": ["blue", "green", "pink"]}
    centres = rng.normal(size=(3, 8)) * 5
    kv = KeyedVectors(8)
    for centre, (head, rest) in zip(centres, groups.items(), strict=True):
        words = [head, *rest]
        kv.add_vectors(words, centre + rng.normal(size=(len(words), 8)) * 0.1)
    path = tmp_path_factory.mktemp("vectors") / "vectors.txt"
    kv.save_word2vec_format(path)
    return path


@pytest.fixture(scope="module")
def cache_dir():
    return shared_cache_dir()


@pytest.fixture(scope="module")
def dates_model():
    return tiny_dates_model()


@pytest.fixture(scope="module")
def server(cache_dir, vectors_file):
    server = start_server(cache_dir=cache_dir, vectors=vectors_file, keepalive=0.2, idle_timeout=5.0, max_sessions=3)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url)


def _raw(server, data: bytes, timeout=10) -> tuple[int, dict]:
    """Send raw bytes on a socket; returns the status and JSON body of the answer."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _png(array) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# -- static files, routing, malformed HTTP ----------------------------------------------------------


def test_page_and_static_files(client):
    status, page = client.call("GET", "/")
    assert status == 200 and b"<canvas id=\"pg-boundary\"" in page and b"http" not in page.split(b"<body>")[1]
    for name in ("app.js", "style.css"):
        status, body = client.call("GET", f"/static/{name}")
        assert status == 200 and len(body) > 1000
    assert client.call("GET", "/static/missing.js") == (404, {"error": "no static file 'missing.js'"})
    assert client.call("GET", "/static/..%2Fserver.py")[0] == 404


def test_info_lists_the_options(client):
    status, info = client.call("GET", "/api/info")
    assert status == 200
    assert info["datasets"] == ["circle", "gauss", "spiral", "xor"]
    assert set(info["activations"]) == {"sigmoid", "tanh", "relu", "leaky_relu", "linear"}
    assert {"sobel_x", "scharr_y", "vertical_edge", "gaussian_blur", "sharpen"} <= set(info["kernels"])
    assert {"shapes", "checkerboard"} <= set(info["samples"])
    assert client.call("GET", "/api/info?x=1") == (400, {"error": "info: unknown field(s) ['x']"})


def test_unknown_path_and_wrong_method(client, server):
    assert client.call("GET", "/api/nothing")[0] == 404
    status, body = client.call("PUT", "/api/info", {"a": 1})
    assert status == 405 and "use GET" in body["error"]
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("DELETE", "/api/info")
    response = connection.getresponse()
    assert response.status == 405 and response.getheader("Allow") == "GET, HEAD"
    connection.close()


def test_malformed_requests_get_json_errors(client, server):
    assert client.call("POST", "/api/convolve", raw=b"{not json")[0] == 400
    assert client.call("POST", "/api/convolve", raw=b"\xff\xfe")[0] == 400
    status, body = client.call("POST", "/api/convolve", raw=b"[1, 2]")
    assert status == 400 and "expected a JSON object" in body["error"]
    status, body = client.call("POST", "/api/convolve", raw=b'{"image": "shapes"}',
                               headers={"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in body["error"]
    status, body = _raw(server, b"POST /api/convolve HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                b"Content-Type: application/json\r\n\r\n")
    assert status == 411 and "Content-Length" in body["error"]
    status, body = _raw(server, b"GET /api/info HTTP/x.y\r\n\r\n")
    assert status == 400 and "version" in body["error"]
    status, body = _raw(server, b"BREW /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status == 501 and body["error"]
    status, body = _raw(server, b"GET /api/info HTTP/1.1\r\nHost: evil.example:80\r\n\r\n")
    assert status == 403 and "loopback" in body["error"]
    assert client.call("GET", "/api/info")[0] == 200  # still serving


def test_oversized_body_is_refused_unread(server):
    head = (b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n{")
    status, body = _raw(server, head)
    assert status == 413 and "limit" in body["error"]


@pytest.fixture(scope="module")
def strict_server(cache_dir):
    """A server with short limits: a 0.5 s socket timeout and one heavy request at a time, waited for 0.05 s."""
    server = start_server(cache_dir=cache_dir, request_timeout=0.5, max_heavy=1, heavy_wait=0.05)
    yield server
    stop_server(server)


def test_slow_client_times_out_instead_of_hanging(strict_server):
    host, port = strict_server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"POST /api/convolve HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")  # promises 100 bytes, sends 1
        started = time.monotonic()
        assert sock.recv(100) == b""  # the server hangs up after its socket timeout
        assert time.monotonic() - started < 5
    assert Client(strict_server.url).call("GET", "/api/info")[0] == 200


def test_idle_connection_is_closed_after_the_timeout(strict_server):
    host, port = strict_server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:  # connects and never sends a byte
        started = time.monotonic()
        assert sock.recv(100) == b""
        assert 0.3 < time.monotonic() - started < 3


# -- under load ------------------------------------------------------------------------------------------


def test_heavy_requests_beyond_the_bound_get_503(strict_server):
    client = Client(strict_server.url)
    body = {"image": "checkerboard", "kernel": "sobel_x"}
    assert strict_server.app.heavy.acquire(timeout=5)  # the one slot is busy
    try:
        status, answer = client.call("POST", "/api/convolve", body)
        assert status == 503 and "busy" in answer["error"], answer
        assert int(client.headers["Retry-After"]) >= 1
        assert client.call("GET", "/api/info")[0] == 200  # light requests do not wait for a slot
    finally:
        strict_server.app.heavy.release()
    assert client.call("POST", "/api/convolve", body)[0] == 200


def test_a_burst_of_30_connections_waits_in_the_listen_queue(cache_dir):
    server = make_server(port=0, cache_dir=cache_dir)  # listening, not yet accepting: the queue alone holds them
    socks = []
    try:
        try:
            for _ in range(30):
                sock = socket.create_connection(server.server_address[:2], timeout=0.5)
                socks.append(sock)
                sock.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        finally:
            serve(server)  # also after a failed connect, so that stop_server can shut it down
        for sock in socks:
            sock.settimeout(10)
            assert sock.makefile("rb").readline().split()[1] == b"200"
    finally:
        for sock in socks:
            sock.close()
        stop_server(server)


def _huge_png() -> bytes:
    """A 6000 × 6000 (36-megapixel) single-colour PNG: a small file that would decode to a large bitmap."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (6000, 6000), 1).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that is only a signature and a header claiming width × height grey pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_huge_pixel_uploads_are_refused_before_decoding(client, monkeypatch):
    from PIL import ImageFile

    decoded, original_load = [], ImageFile.ImageFile.load

    def load(image):  # records the size of every image whose pixels are actually decoded
        if image.tile:
            decoded.append(image.size)
        return original_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    for data, size in ((_huge_png(), "6000×6000"), (_png_header(50_000, 50_000), "2500000000 pixels")):
        started = time.monotonic()
        status, answer = client.call("POST", "/api/images", {"data": base64.b64encode(data).decode()})
        assert status == 413 and size in answer["error"] and "16777216" in answer["error"], answer
        assert time.monotonic() - started < 2
    assert decoded == []
    picture = np.zeros((1500, 3000, 3), dtype=np.uint8)  # a large photo within the cap is shrunk
    picture[:, 1500:] = 200
    status, uploaded = client.call("POST", "/api/images", {"data": _png(picture)})
    assert status == 200 and uploaded["shape"] == [128, 256] and decoded == [(3000, 1500)]


@pytest.mark.parametrize(("method", "path", "raw", "message"), [
    ("GET", "/api/embeddings?count=" + "9" * 5000, None, "5000 digits"),
    ("POST", "/api/embeddings/neighbours", b'{"word": "king", "topn": ' + b"9" * 5000 + b"}", "5000 digits"),
    ("POST", "/api/sessions", b'{"lr": 1' + b"0" * 400 + b"}", "401 digits"),
    ("GET", "/api/info?" + "&".join(f"p{i}=1" for i in range(21)), None, "at most 20 query parameters"),
])
def test_overlong_numbers_and_too_many_parameters_get_400(client, method, path, raw, message):
    status, answer = client.call(method, path, raw=raw)
    assert status == 400 and message in answer["error"], answer


def test_overlong_numbers_in_fields_and_headers(server):
    with pytest.raises(RequestError, match="'lr' must be a number"):
        Fields({"lr": 10 ** 400}).number("lr", 0.0, 10.0)
    with pytest.raises(RequestError, match="'pixels' must be a matrix"):
        Fields({"pixels": [[10 ** 400]]}).matrix("pixels", 4)
    status, body = _raw(server, b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n{}")
    assert status == 413 and "limit" in body["error"]


def _head(server, path: str) -> tuple[int, dict, bytes]:
    """HEAD a path on a plain socket: the status, the headers and whatever came after them (nothing, rightly)."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    return int(lines[0].split()[1]), dict(line.split(": ", 1) for line in lines[1:]), rest


def test_head_gets_the_headers_of_get_without_a_body(client, server):
    status, headers, rest = _head(server, "/api/info")
    assert status == 200 and headers["Content-Type"] == "application/json" and rest == b""
    assert int(headers["Content-Length"]) == len(json.dumps(client.call("GET", "/api/info")[1]).encode())
    status, headers, rest = _head(server, "/api/nothing")
    assert status == 404 and rest == b""
    session_id = client.call("POST", "/api/sessions", {})[1]["id"]
    try:
        status, headers, rest = _head(server, f"/api/sessions/{session_id}/events")
        assert status == 200 and headers["Content-Type"] == "text/event-stream" and rest == b""
    finally:
        client.call("DELETE", f"/api/sessions/{session_id}")
    status, headers, rest = _head(server, "/api/sessions")
    assert status == 405 and headers["Allow"] == "POST" and rest == b""


# -- training sessions ----------------------------------------------------------------------------------

BAD_CONFIGS = [
    ({"hidden": [4] * 7}, "'hidden' must be a list of 0 to 6 integers in [1, 16]"),
    ({"hidden": [17]}, "in [1, 16]"),
    ({"hidden": "4,2"}, "'hidden' must be a list"),
    ({"batch_size": 513}, "'batch_size' must be an integer in [1, 512]"),
    ({"batch_size": True}, "got a boolean"),
    ({"lr": 0}, "'lr' must be a number in (0.0, 10.0]"),
    ({"lr": 10.5}, "'lr'"),
    ({"activation": "softmax"}, "'activation' must be one of"),
    ({"dataset": "moons"}, "'dataset' must be one of"),
    ({"noise": -0.1}, "'noise'"),
    ({"dropout": 0.95}, "'dropout'"),
    ({"points": 5000}, "'points'"),
    ({"features": []}, "'features'"),
    ({"features": ["x1", "x1"]}, "distinct"),
    ({"optimizer": "lbfgs"}, "'optimizer'"),
    ({"regularization": "l3"}, "'regularization'"),
    ({"unknown": 1}, "unknown field(s) ['unknown']"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_session_rejects_bad_settings(client, config, message):
    status, body = client.call("POST", "/api/sessions", config)
    assert status == 400 and message in body["error"], body


class _Stream:
    """An SSE reader on a plain socket: ``next()`` → (event name, data dict); ``close()`` hangs up like a closed tab."""

    def __init__(self, server, session_id):
        self.sock = socket.create_connection(server.server_address[:2], timeout=10)
        self.sock.sendall(f"GET /api/sessions/{session_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        head = []
        while (line := self.file.readline().decode().strip()) != "":
            head.append(line)
        assert head[0].split()[1] == "200" and "Content-Type: text/event-stream" in head, head

    def next(self):
        name = data = None
        while True:
            line = self.file.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and name:
                return name, data

    def close(self):
        self.file.close()
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def _wait(condition, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_session_streams_frames_learns_and_stops_on_disconnect(client, server):
    status, described = client.call("POST", "/api/sessions", {"dataset": "gauss", "hidden": [3], "seed": 1})
    assert status == 200 and described["state"] == "paused"
    assert len(described["train"]) == 200 and len(described["train"][0]) == 3
    stream = _Stream(server, described["id"])
    assert stream.next()[0] == "session"
    name, first = stream.next()
    assert name == "frame" and first["epoch"] == 0 and first["history"][0][0] == 0
    assert [len(layer) for layer in first["neurons"]] == [2, 3]
    assert first["boundary"]["shape"] == [48, 48] and len(first["weights"]) == 2
    assert client.call("POST", f"/api/sessions/{described['id']}/control", {"action": "start"})[1]["state"] == "running"
    frame, history = first, list(first["history"])
    while frame["epoch"] < 15:
        name, frame = stream.next()
        history += frame["history"]
    assert frame["test_loss"] < 0.8 * first["test_loss"]
    assert [h[0] for h in history] == list(range(len(history)))  # every epoch's losses, once
    assert not np.allclose(decode_map(frame["boundary"]), decode_map(first["boundary"]))
    assert server.app.sessions.live() == 1
    stream.close()
    assert _wait(lambda: server.app.sessions.live() == 0), "the session kept training after its page went away"


def test_session_controls(client, server):
    session_id = client.call("POST", "/api/sessions", {"dataset": "xor"})[1]["id"]
    stream = _Stream(server, session_id)
    stream.next(), stream.next()
    control = f"/api/sessions/{session_id}/control"
    assert client.call("POST", control, {"action": "step"})[1]["state"] == "paused"
    assert stream.next()[1]["epoch"] == 1
    client.call("POST", control, {"action": "reset"})
    name, frame = stream.next()
    assert frame["epoch"] == 0 and frame["run"] == 2 and frame["history"] == [[0, *frame["history"][0][1:]]]
    assert client.call("POST", control, {"action": "jump"})[0] == 400
    assert client.call("POST", control, {})[1] == {"error": "control: missing field 'action'"}
    assert client.call("DELETE", f"/api/sessions/{session_id}")[1]["state"] == "stopped"
    assert stream.next()[0] == "end"
    assert client.call("POST", control, {"action": "start"})[0] == 404
    assert client.call("GET", f"/api/sessions/{session_id}/events")[0] == 404
    assert client.call("GET", "/api/sessions/zz/events")[0] == 404


def test_session_count_is_bounded_and_idle_sessions_stop(cache_dir):
    server = start_server(cache_dir=cache_dir, max_sessions=2, idle_timeout=0.3)
    try:
        client = Client(server.url)
        assert client.call("POST", "/api/sessions", {})[0] == 200
        assert client.call("POST", "/api/sessions", {})[0] == 200
        status, body = client.call("POST", "/api/sessions", {})
        assert status == 429 and "already running" in body["error"]
        assert _wait(lambda: server.app.sessions.live() == 0, 5), "sessions nobody watched did not stop"
        assert client.call("POST", "/api/sessions", {})[0] == 200
    finally:
        stop_server(server)


# -- convolution ------------------------------------------------------------------------------------


def test_convolve_matches_ember_filters(client, server):
    status, result = client.call("POST", "/api/convolve", {"image": "shapes", "kernel": "sobel_x"})
    assert status == 200 and result["signed"]
    image = server.app.images.get("shapes")
    expected = filters.apply(image.astype(np.float32), "sobel_x")
    np.testing.assert_allclose(decode_map(result["output"]), expected, atol=result["output"]["scale"] / 200)
    status, result = client.call("POST", "/api/convolve", {"image": "checkerboard", "kernel": [[0, 0, 0], [0, 1, 0],
                                                                                               [0, 0, 0]]})
    assert not result["signed"] and result["min"] == pytest.approx(0.1) and result["max"] == pytest.approx(0.9)


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"image": "shapes", "kernel": "emboss"}, 400, "unknown kernel 'emboss'"),
    ({"image": "shapes", "kernel": [[1] * 16] * 16}, 400, "at most 15×15"),
    ({"image": "shapes", "kernel": [[1, 2], [3]]}, 400, "rectangular"),
    ({"image": "shapes", "kernel": [["a"]]}, 400, "rectangular"),
    ({"image": "shapes", "kernel": []}, 400, "rectangular"),
    ({"image": "shapes", "kernel": [[1e300 * 10]]}, 400, "rectangular"),
    ({"image": "nope", "kernel": "sobel_x"}, 404, "no image 'nope'"),
    ({"image": 5, "kernel": "sobel_x"}, 400, "sample name or an upload id"),
    ({"image": "shapes"}, 400, "missing field 'kernel'"),
    ({"image": "shapes", "kernel": "sobel_x", "stride": 2}, 400, "unknown field(s) ['stride']"),
])
def test_convolve_rejects_bad_input(client, body, status, message):
    got, answer = client.call("POST", "/api/convolve", body)
    assert got == status and message in answer["error"], answer


def test_receptive_field_of_a_pixel(client):
    body = {"image": "checkerboard", "kernel": "gaussian_blur"}
    status, rf = client.call("POST", "/api/receptive-field", {**body, "row": 40, "col": 50})
    assert status == 200 and rf["box"] == {"top": 38, "left": 48, "bottom": 42, "right": 52}
    assert rf["support"] == 25 and rf["window"] == [5, 5]
    corner = client.call("POST", "/api/receptive-field", {**body, "row": 0, "col": 127})[1]
    assert corner["box"] == {"top": 0, "left": 125, "bottom": 2, "right": 127} and corner["support"] == 9
    status, answer = client.call("POST", "/api/receptive-field", {**body, "row": 200, "col": 0})
    assert status == 400 and "outside the 128×128 output" in answer["error"]
    assert client.call("POST", "/api/receptive-field", {**body, "row": -1, "col": 0})[0] == 400
    assert client.call("POST", "/api/receptive-field", {**body, "row": "1", "col": 0})[0] == 400


def test_upload_then_convolve(client):
    picture = np.zeros((300, 600), dtype=np.uint8)
    picture[:, 300:] = 200
    status, uploaded = client.call("POST", "/api/images", {"data": _png(picture)})
    assert status == 200 and uploaded["shape"] == [128, 256]  # shrunk to at most 256 px a side
    result = client.call("POST", "/api/convolve", {"image": uploaded["id"], "kernel": "vertical_edge"})[1]
    edge = decode_map(result["output"])
    scale = result["output"]["scale"]
    assert np.abs(edge[64, 120:136]).max() > 0.5 * scale and abs(edge[64, 60]) < scale / 100


@pytest.mark.parametrize(("data", "status", "message"), [
    ("data:image/png;base64,!!!", 400, "not valid base64"),
    (base64.b64encode(b"plain text, not a picture").decode(), 400, "not a readable image"),
    (12, 400, "must be a string"),
    ("A" * (3 * 1024 * 1024 - 100), 413, "limit"),
])
def test_upload_rejects_bad_images(client, data, status, message):
    got, answer = client.call("POST", "/api/images", {"data": data})
    assert got == status and message in answer["error"], answer


# -- LeNet-5 -----------------------------------------------------------------------------------------


def _one(side=40):
    pixels = np.zeros((side, side))
    pixels[6:side - 6, side // 2 - 2:side // 2 + 2] = 1.0
    return pixels


def test_digit_trains_once_then_predicts_with_feature_maps(client, server, cache_dir):
    status, result = client.call("POST", "/api/digit", {"pixels": _one().tolist()})
    assert status == 200 and (cache_dir / "lenet5-digits.safetensors").is_file()
    assert client.call("GET", "/api/digit")[1] == {"ready": True}
    assert result["prediction"] == 1 and sum(result["probabilities"]) == pytest.approx(1, abs=1e-3)
    assert [layer["shape"] for layer in result["layers"]] == [[6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5],
                                                               [120], [84]]
    assert result["input"]["shape"] == [32, 32]


def test_prepare_digit_centres_and_scales_the_ink():
    x = prepare_digit(_one(64))
    assert x.shape == (1, 1, 32, 32) and x.max() == pytest.approx(1.0, abs=0.05)
    shifted = np.roll(_one(64), 10, axis=1)
    np.testing.assert_allclose(prepare_digit(shifted), x, atol=1e-6)  # cropped to the ink: position does not matter


@pytest.mark.parametrize(("pixels", "status", "message"), [
    (np.zeros((20, 20)).tolist(), 400, "the drawing is empty"),
    (np.zeros((7, 7)).tolist(), 400, "at least 8×8"),
    (np.zeros((20, 21)).tolist(), 400, "square matrix"),
    (np.full((20, 20), 2.0).tolist(), 400, "numbers in [0, 1]"),
    ([[0.5, "x"], [0, 0]], 400, "square matrix"),
    (np.zeros((129, 129)).tolist(), 400, "at most 128×128"),
    (np.zeros((300, 300)).tolist(), 413, "limit"),
])
def test_digit_rejects_bad_drawings(client, pixels, status, message):
    got, answer = client.call("POST", "/api/digit", {"pixels": pixels})
    assert got == status and message in answer["error"], answer


def test_missing_lenet_checkpoint_is_a_clear_error(tmp_path):
    server = start_server(lenet=tmp_path / "none.safetensors", cache_dir=tmp_path)
    try:
        status, answer = Client(server.url).call("POST", "/api/digit", {"pixels": _one().tolist()})
        assert status == 404 and "no LeNet-5 checkpoint" in answer["error"]
    finally:
        stop_server(server)


# -- embeddings ---------------------------------------------------------------------------------------


def test_projection_neighbours_and_analogy(client):
    status, projection = client.call("GET", "/api/embeddings?count=12&dims=3")
    assert status == 200 and len(projection["words"]) == 12 and np.shape(projection["points"]) == (12, 3)
    assert projection["vocab_size"] == 12 and "vectors.txt" in projection["source"]
    assert np.shape(client.call("GET", "/api/embeddings?count=5")[1]["points"]) == (5, 2)
    status, result = client.call("POST", "/api/embeddings/neighbours", {"word": "King", "topn": 3})
    assert status == 200 and result["word"] == "king"
    assert {w for w, _ in result["neighbours"]} == {"queen", "prince", "crown"}
    status, result = client.call("POST", "/api/embeddings/analogy", {"a": "cat", "b": "dog", "c": "queen", "topn": 3})
    assert status == 200 and {w for w, _ in result["results"]} <= {"king", "prince", "crown", "horse", "cow"}


@pytest.mark.parametrize(("method", "path", "body", "message"), [
    ("GET", "/api/embeddings?dims=4", None, "'dims' must be an integer in [2, 3]"),
    ("GET", "/api/embeddings?count=abc", None, "'count' must be an integer"),
    ("GET", "/api/embeddings?count=100000", None, "'count'"),
    ("POST", "/api/embeddings/neighbours", {"word": "zebra"}, "'zebra' is not in the vocabulary of 12 words"),
    ("POST", "/api/embeddings/neighbours", {"word": "x" * 101}, "'word' must be a string of 1 to 100"),
    ("POST", "/api/embeddings/neighbours", {"word": "king", "topn": 51}, "'topn'"),
    ("POST", "/api/embeddings/neighbours", {"word": ["king"]}, "'word' must be a string"),
    ("POST", "/api/embeddings/analogy", {"a": "king", "b": "dog"}, "missing field 'c'"),
])
def test_embeddings_reject_bad_input(client, method, path, body, message):
    status, answer = client.call(method, path, body)
    assert status == 400 and message in answer["error"], answer


def test_binary_vectors_and_missing_file(tmp_path, vectors_file):
    binary = tmp_path / "vectors.bin"
    KeyedVectors.load_word2vec_format(vectors_file).save_word2vec_format(binary, binary=True)
    for path, status in ((binary, 200), (tmp_path / "absent.txt", 404)):
        server = start_server(vectors=path, cache_dir=tmp_path)
        try:
            got, answer = Client(server.url).call("POST", "/api/embeddings/neighbours", {"word": "dog", "topn": 3})
            assert got == status, answer
            if status == 200:
                assert {w for w, _ in answer["neighbours"]} == {"cat", "horse", "cow"}
        finally:
            stop_server(server)


def test_generated_corpus_has_gendered_pairs():
    corpus = generated_corpus(200, seed=1)
    words = {w for sentence in corpus for w in sentence}
    assert {"king", "queen", "man", "woman", "he", "she"} <= words and len(corpus) == 400


# -- the date translator --------------------------------------------------------------------------------


def test_dates_without_a_model_say_how_to_get_one(client):
    status, answer = client.call("GET", "/api/dates")
    assert status == 200 and not answer["ready"] and "ember translate-dates --out DIR" in answer["message"]
    status, answer = client.call("POST", "/api/dates/translate", {"text": "3rd of March 2021"})
    assert status == 409 and "--dates-model DIR" in answer["error"]


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/api/dates/translate", {"text": "x" * 201}, "'text' must be a string of 1 to 200"),
    ("/api/dates/translate", {"text": "   "}, "blank"),
    ("/api/dates/translate", {}, "missing field 'text'"),
    ("/api/dates/train", {"train_size": 10 ** 6}, "'train_size' must be an integer in [500, 20000]"),
    ("/api/dates/train", {"epochs": 50}, "'epochs'"),
])
def test_dates_reject_bad_input(client, path, body, message):
    status, answer = client.call("POST", path, body)
    assert status == 400 and message in answer["error"], answer


def test_translation_with_attention(dates_model, tmp_path):
    server = start_server(dates_model=dates_model, cache_dir=tmp_path)
    try:
        client = Client(server.url)
        assert client.call("GET", "/api/dates")[1]["ready"]
        status, result = client.call("POST", "/api/dates/translate", {"text": "3rd of March 2021"})
        assert status == 200 and result["input_chars"] == list("3rd of March 2021")
        weights = np.array(result["attention"])
        assert weights.shape == (len(result["output_chars"]), 17)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-3)
    finally:
        stop_server(server)


def test_quick_training_runs_in_the_background(tmp_path):
    server = start_server(cache_dir=tmp_path)
    try:
        client = Client(server.url)
        status, answer = client.call("POST", "/api/dates/train", {"train_size": 500, "epochs": 1})
        assert status == 200 and answer["training"]
        assert client.call("POST", "/api/dates/train", {"train_size": 500, "epochs": 1})[0] == 409
        assert _wait(lambda: client.call("GET", "/api/dates")[1]["ready"], 120), client.call("GET", "/api/dates")
        assert (tmp_path / "dates-quick" / "model.safetensors").is_file()
        assert client.call("POST", "/api/dates/translate", {"text": "1 May 1999"})[0] == 200
    finally:
        stop_server(server)


# -- the session's model and training, without HTTP ----------------------------------------------------


@pytest.mark.parametrize("options", [
    {"optimizer": "sgd", "activation": "tanh"}, {"optimizer": "momentum", "activation": "relu", "lr": 0.01},
    {"optimizer": "rmsprop", "activation": "leaky_relu", "lr": 0.01}, {"optimizer": "adam", "activation": "sigmoid",
                                                                       "lr": 0.03},
    {"regularization": "l1", "reg_rate": 0.001}, {"regularization": "l2", "reg_rate": 0.01},
    {"dropout": 0.2, "hidden": [8]}, {"features": ["x1sq", "x2sq"], "hidden": []},
])
def test_every_option_learns_the_blobs(options):
    from ember.playground.sessions import TrainingSession, parse_config

    session = TrainingSession(parse_config({"dataset": "gauss", "points": 200, "batch_size": 20, **options}))
    try:
        first = session.history[0][2]
        for _ in range(20):
            session.control("step")
        assert _wait(lambda: session.epoch == 20, 20)
        assert session.history[-1][2] < 0.85 * first, session.history[-1]
    finally:
        session.stop()
        assert session.join(5)


def test_build_model_layout_and_seeded_init():
    from ember import nn
    from ember.playground.sessions import SessionConfig, build_model

    model = build_model(SessionConfig(features=("x1", "x2", "x1x2"), hidden=(5, 3), activation="relu", dropout=0.5))
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert model[0].weight.shape == (5, 3) and model[-1].weight.shape == (1, 3)
    assert np.abs(model[0].weight.array).max() <= 1 / np.sqrt(3)
    again = build_model(SessionConfig(features=("x1", "x2", "x1x2"), hidden=(5, 3), activation="relu", dropout=0.5))
    np.testing.assert_array_equal(model[3].weight.array, again[3].weight.array)
    assert isinstance(build_model(SessionConfig(hidden=(), activation="linear"))[0], nn.Linear)


def test_command_line_options_default_to_this_machine_only():
    import argparse

    from ember.playground import add_arguments, run

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.no_browser, args.lenet, args.vectors, args.dates_model) == \
        ("127.0.0.1", 8000, False, None, None, None)
    assert run(parser.parse_args(["--port", "70000", "--no-browser"])) == 2  # refused before listening
