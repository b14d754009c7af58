"""Malformed and hostile requests: each is refused with a 4xx and a readable reason.

The acceptance criterion of the service: every request below gets a 4xx status, a JSON
body whose ``detail`` is a sentence naming the field at fault (where there is one), and
the server still answers ``/health`` afterwards. The bulk runs in process (TestClient);
what only a real socket shows (a body limit enforced before the body is read, a chunked
body, a slow client, paths the HTTP client would normalise) runs against ``live_server``.
"""

from __future__ import annotations

import http.client
import io
import json
import select
import shutil
import socket
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from hashlearn.serve.engine import Limits

NAME = "digits-itq-16"
API = f"/api/v1/bundles/{NAME}"
ZERO = [0.0] * 64
SMALL_BODY = 4096


def _refused(response, status: int | None, field: str | None, names: str | None = None) -> None:
    """A 4xx (``status`` exactly when given) whose JSON ``detail`` is a sentence naming
    ``names`` (the first part of ``field`` by default) and whose ``field`` is ``field``."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    detail = body["detail"]
    assert isinstance(detail, str) and 8 <= len(detail) <= 1000, detail
    assert "Traceback" not in detail and "object at 0x" not in detail, detail
    if field is not None:
        assert body.get("field") == field, body
        named = names or field.split(".")[0]
        assert named in detail, detail


def _answers_health(client) -> None:
    health = client.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _one_colour_png(width: int, height: int) -> bytes:
    """A valid one-colour PNG (1-bit gray), compressed a block of rows at a time: a
    20000 x 20000 one is about 50 kB (Pillow would need the 400 MB raster to write it)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * min(1000, height - i)) for i in range(0, height, 1000)]
    data = b"".join(parts) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb_png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from PIL import Image

    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(_one_colour_png(20_000, 20_000))
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only to read its header here
    try:
        with Image.open(path) as image:
            assert image.size == (20_000, 20_000) and image.format == "PNG"
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    data = path.read_bytes()
    assert len(data) < 200_000
    return data


@pytest.fixture(scope="module")
def small_png() -> bytes:
    """32 x 32 gray noise: about 1 kB of pixel data, so a cut can fall inside it."""
    return _png(np.random.default_rng(0).integers(0, 256, size=(32, 32), dtype=np.uint8))


def _raw(body: str) -> dict:
    """Send ``body`` as it is (JSON that json.dumps would not write)."""
    return {"content": body, "headers": {"content-type": "application/json"}}


def _deep(n: int) -> str:
    return '{"ids": ' + "[" * n + "]" * n + "}"


# (method, path, request arguments, status, field[, what the detail names])
CASES = {
    "string k": ("POST", "/search", {"json": {"ids": [0], "k": "5"}}, 422, "k"),
    "float id": ("POST", "/search", {"json": {"ids": [0.5]}}, 422, "ids.0"),
    "bool as id": ("POST", "/search", {"json": {"ids": [True]}}, 422, "ids.0"),
    "bool as k": ("POST", "/search", {"json": {"ids": [0], "k": True}}, 422, "k"),
    "int as bool": ("POST", "/search", {"json": {"ids": [0], "rerank": 1}}, 422, "rerank"),
    "object for ids": ("POST", "/search", {"json": {"ids": {"0": 1}}}, 422, "ids"),
    "string for vectors": ("POST", "/search", {"json": {"vectors": "1,2"}}, 422, "vectors"),
    "no query": ("POST", "/search", {"json": {"k": 5}}, 422, "queries", "ids"),
    "two queries": (
        "POST",
        "/search",
        {"json": {"ids": [0], "codes": ["0000"]}},
        422,
        "queries",
        "ids",
    ),
    "no body": ("POST", "/search", {}, 422, None),
    "extra field": ("POST", "/search", {"json": {"ids": [0], "limit": 5}}, 422, "limit"),
    "huge k": ("POST", "/search", {"json": {"ids": [0], "k": 10**9}}, 422, "k"),
    "k past int64": ("POST", "/search", {"json": {"ids": [0], "k": 2**70}}, 422, "k"),
    "zero k": ("POST", "/search", {"json": {"ids": [0], "k": 0}}, 422, "k"),
    "huge batch": ("POST", "/search", {"json": {"ids": list(range(1001))}}, 422, "ids"),
    "huge radius": ("POST", "/search", {"json": {"ids": [0], "radius": 10**9}}, 422, "radius"),
    "radius over n_bits": ("POST", "/search", {"json": {"ids": [0], "radius": 17}}, 422, "radius"),
    "negative radius": ("POST", "/search", {"json": {"ids": [0], "radius": -1}}, 422, "radius"),
    "too many results": (
        "POST",
        "/search",
        {"json": {"ids": list(range(1000)), "radius": 16}},
        422,
        "radius",
    ),
    "huge candidates": (
        "POST",
        "/search",
        {"json": {"ids": [0], "rerank": True, "candidates": 10**12}},
        422,
        "candidates",
    ),
    "unknown ids": ("POST", "/search", {"json": {"ids": [0, 1797]}}, 404, "ids"),
    "negative ids": ("POST", "/search", {"json": {"ids": [-1]}}, 404, "ids"),
    "id past int64": pytest.param(("POST", "/search", {"json": {"ids": [2**70]}}, 404, "ids")),
    "path-like id": ("POST", "/search", {"json": {"ids": ["../../etc/passwd"]}}, 422, "ids.0"),
    "wrong code width": ("POST", "/search", {"json": {"codes": ["00"]}}, 422, "codes"),
    "non-hex code": ("POST", "/search", {"json": {"codes": ["zz;x"]}}, 422, "codes"),
    "huge code": ("POST", "/search", {"json": {"codes": ["0" * 5000]}}, 422, "codes.0"),
    "NaN": ("POST", "/search", _raw('{"vectors": [[NaN' + ", 0" * 63 + "]]}"), 422, "vectors.0.0"),
    "Infinity": (
        "POST",
        "/search",
        _raw('{"vectors": [[Infinity' + ", 0" * 63 + "]]}"),
        422,
        "vectors.0.0",
    ),
    "1e999": (
        "POST",
        "/search",
        _raw('{"vectors": [[1e999' + ", 0" * 63 + "]]}"),
        422,
        "vectors.0.0",
    ),
    "overflowing vector": (
        "POST",
        "/search",
        {"json": {"vectors": [[1e308] * 64]}},
        422,
        "vectors",
    ),
    "wrong vector width": ("POST", "/search", {"json": {"vectors": [[0.0] * 3]}}, 422, "vectors"),
    "ragged vectors": pytest.param(
        ("POST", "/search", {"json": {"vectors": [ZERO, [0.0] * 3]}}, 422, "vectors"),
    ),
    "empty ids": ("POST", "/search", {"json": {"ids": []}}, 422, "ids"),
    "empty vectors": ("POST", "/search", {"json": {"vectors": []}}, 422, "vectors"),
    "empty row": ("POST", "/search", {"json": {"vectors": [[]]}}, 422, "vectors"),
    "k and radius": ("POST", "/search", {"json": {"ids": [0], "k": 3, "radius": 2}}, 422, "radius"),
    "rerank with codes": (
        "POST",
        "/search",
        {"json": {"codes": ["0000"], "rerank": True}},
        422,
        "rerank",
    ),
    "rerank on radius": (
        "POST",
        "/search",
        {"json": {"ids": [0], "radius": 1, "rerank": True}},
        422,
        "rerank",
    ),
    "invalid JSON": pytest.param(
        ("POST", "/search", _raw('{"ids": [0'), 422, "body"),
    ),
    "JSON 10,000 deep": ("POST", "/search", _raw("[" * 10_000 + "]" * 10_000), 400, None),
    "ids 10,000 deep": ("POST", "/search", _raw(_deep(10_000)), 400, None),
    "text/plain": (
        "POST",
        "/search",
        {"content": '{"ids": [0]}', "headers": {"content-type": "text/plain"}},
        422,
        None,
    ),
    "form": ("POST", "/search", {"data": {"ids": "0"}}, 422, None),
    "GET a POST route": ("GET", "/search", {}, 405, None),
    "DELETE a bundle": ("DELETE", "", {}, 405, None),
    "PUT items": ("PUT", "/items", {"json": {}}, 405, None),
    "profile of two": ("POST", "/profile", {"json": {"ids": [0, 1]}}, 422, "queries", "one"),
    "profile radius": (
        "POST",
        "/profile",
        {"json": {"ids": [0], "max_radius": 99}},
        422,
        "max_radius",
    ),
    "profile label list": pytest.param(
        ("POST", "/profile", {"json": {"vectors": [ZERO], "label": [1, 2]}}, 422, "label"),
    ),
    "huge page": ("GET", "/items", {"params": {"limit": 100_000}}, 422, "limit"),
    "negative offset": ("GET", "/items", {"params": {"offset": -1}}, 422, "query.offset"),
    "item not an int": ("GET", "/items/0;rm -rf", {}, 422, "path.item_id"),
    "unknown item": ("GET", "/items/1797", {}, 404, "id"),
    "item past int64": pytest.param(("GET", f"/items/{2**70}", {}, 404, "id")),
    "unknown image": ("GET", "/items/-5/image.png", {}, 404, "id"),
    "encode nothing": ("POST", "/encode", {"json": {"vectors": []}}, 422, "vectors"),
    "encode a huge batch": (
        "POST",
        "/encode",
        {"json": {"vectors": [ZERO] * 1001}},
        422,
        "vectors",
    ),
    "not an image": pytest.param(
        ("POST", "/search/image", {"content": b"GIF89a not really"}, 422, "body", "image"),
    ),
    "empty image": ("POST", "/search/image", {"content": b""}, 422, "body", "image"),
    "image k not an int": ("POST", "/search/image?k=abc", {"content": b"x"}, 422, "query.k"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_refused_in_process(client, case) -> None:
    method, path, arguments, status, field, *names = case
    response = client.request(method, API + path, **arguments)
    _refused(response, status, field, *names)
    _answers_health(client)


@pytest.mark.parametrize("name", ["nope", "0;rm -rf", "digits-itq-16 ", "DIGITS-ITQ-16"])
def test_unknown_bundle(client, name) -> None:
    response = client.post(f"/api/v1/bundles/{name}/search", json={"ids": [0]})
    _refused(response, 404, "name")
    assert NAME in response.json()["detail"]  # says which bundles there are
    _answers_health(client)


@pytest.mark.parametrize("where", ["in the header", "in the pixels"])
def test_truncated_png(client, small_png, where) -> None:
    cut = 20 if where == "in the header" else len(small_png) // 2  # header: 33 bytes
    response = client.post(f"{API}/search/image", content=small_png[:cut])
    _refused(response, 422, "body", "image")
    assert "not a readable image" in response.json()["detail"]
    _answers_health(client)


def test_decompression_bomb(client, bomb_png) -> None:
    response = client.post(f"{API}/search/image", content=bomb_png)
    _refused(response, 422, "body", "image")
    assert "too large" in response.json()["detail"]
    _answers_health(client)


def test_image_over_the_upload_pixel_limit(client) -> None:
    """5000 x 5000: under Pillow's own bomb limit, over the service's 4096 x 4096."""
    response = client.post(f"{API}/search/image", content=_one_colour_png(5000, 5000))
    _refused(response, 422, "body", "image")
    assert "5000 x 5000" in response.json()["detail"]
    _answers_health(client)


def test_image_with_a_k_over_the_limit(client, small_png) -> None:
    response = client.post(f"{API}/search/image", params={"k": 5000}, content=small_png)
    _refused(response, 422, "k")
    _answers_health(client)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer guess"}])
def test_write_to_a_read_only_server(client, headers) -> None:
    body = {"vectors": [ZERO], "labels": [1]}
    response = client.post(f"{API}/items", json=body, headers=headers)
    assert response.status_code in (403, 405)
    assert "read-only" in response.json()["detail"]
    _answers_health(client)


def test_write_to_a_read_only_server_is_refused(client) -> None:
    """What holds already: a 4xx with a reason, and nothing added."""
    for headers in ({}, {"Authorization": "Bearer guess"}):
        response = client.post(f"{API}/items", json={"vectors": [ZERO]}, headers=headers)
        _refused(response, None, None)
        assert response.status_code in (401, 403)
    assert client.get("/api/v1/health").json()["bundles"] == {NAME: 1797}


def test_token_of_a_writable_server(digits_bundle: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from hashlearn.serve.app import create_app
    from hashlearn.serve.server import load_services

    copy = shutil.copytree(digits_bundle, tmp_path / NAME)  # its log/ is written there
    app = create_app(load_services([copy], writable=True), token="secret-token")
    with TestClient(app) as writable_client:
        _check_tokens(writable_client)


BAD_TOKENS = [
    ({}, 401),
    ({"Authorization": "secret-token"}, 401),
    ({"Authorization": "Basic secret-token"}, 401),
    ({"Authorization": "bearer secret-token"}, 401),
    ({"Authorization": "Bearer wrong"}, 403),
    ({"Authorization": "Bearer secret-token-and-more"}, 403),
    ({"Authorization": "Bearer secret-toke"}, 403),
    ({"Authorization": "Bearer "}, 403),
]


def _refuses_bad_tokens(test_client) -> None:
    body = {"vectors": [ZERO], "labels": [3]}
    for headers, status in BAD_TOKENS:
        response = test_client.post(f"{API}/items", json=body, headers=headers)
        _refused(response, status, "token")
    assert test_client.get("/api/v1/health").json()["bundles"] == {NAME: 1797}


def test_token_is_checked_before_the_write(digits_bundle: Path) -> None:
    """The token check alone (the app given a token, its service read-only): every wrong or
    missing token is refused before the body reaches the service."""
    from fastapi.testclient import TestClient

    from hashlearn.serve.app import create_app
    from hashlearn.serve.server import load_services

    app = create_app(load_services([digits_bundle]), token="secret-token")
    with TestClient(app) as test_client:
        _refuses_bad_tokens(test_client)


def _check_tokens(writable_client) -> None:
    _refuses_bad_tokens(writable_client)
    body = {"vectors": [ZERO], "labels": [3]}
    added = writable_client.post(
        f"{API}/items", json=body, headers={"Authorization": "Bearer secret-token"}
    )
    assert added.status_code == 201 and added.json() == {"ids": [1797]}


# -- the body limit ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_body_client(digits_bundle: Path):
    """An app whose body limit is 4 kB."""
    from fastapi.testclient import TestClient

    from hashlearn.serve.app import create_app
    from hashlearn.serve.server import load_services

    app = create_app(load_services([digits_bundle]), limits=Limits(max_body_bytes=SMALL_BODY))
    with TestClient(app) as test_client:
        yield test_client


def _big_body() -> bytes:
    body = json.dumps({"ids": list(range(1000))}).encode()
    assert len(body) > SMALL_BODY
    return body


def _chunks(data: bytes, size: int = 1000):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_body_over_the_limit_with_content_length(small_body_client) -> None:
    headers = {"content-type": "application/json"}
    response = small_body_client.post(f"{API}/search", content=_big_body(), headers=headers)
    _refused(response, 413, "body")
    assert f"{SMALL_BODY:,}" in response.json()["detail"]
    _answers_health(small_body_client)


def test_image_over_the_limit_chunked(small_body_client) -> None:
    response = small_body_client.post(f"{API}/search/image", content=_chunks(b"x" * 10_000))
    _refused(response, 413, "body")
    _answers_health(small_body_client)


def test_json_over_the_limit_chunked(small_body_client) -> None:
    headers = {"content-type": "application/json"}
    response = small_body_client.post(
        f"{API}/search", content=_chunks(_big_body()), headers=headers
    )
    _refused(response, 413, "body")


def test_json_over_the_limit_chunked_is_refused(small_body_client) -> None:
    """What holds already: a 4xx with a reason, and the server goes on."""
    headers = {"content-type": "application/json"}
    response = small_body_client.post(
        f"{API}/search", content=_chunks(_big_body()), headers=headers
    )
    _refused(response, None, None)
    _answers_health(small_body_client)


# -- against a live server -------------------------------------------------------------------


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _get(url: str, path: str) -> tuple[int, dict, bytes]:
    """GET ``path`` exactly as written (http.client does not normalise it)."""
    connection = http.client.HTTPConnection(*_address(url), timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def _live_health(url: str) -> None:
    status, _, body = _get(url, "/api/v1/health")
    assert status == 200 and json.loads(body)["status"] == "ok"


class _Answer:
    """Just enough of a response for :func:`_refused`."""

    def __init__(self, raw: bytes) -> None:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_code = int(lines[0].split()[1])
        self.headers = {
            key.strip().lower(): value.strip()
            for key, value in (line.split(":", 1) for line in lines[1:])
        }
        if self.headers.get("transfer-encoding") == "chunked":
            body = _dechunk(body)
        self.text = body.decode()

    def json(self):
        return json.loads(self.text)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def _exchange(url: str, head: bytes, parts=(), delay: float = 0.0) -> tuple[bytes, int]:
    """Send ``head`` then ``parts`` (stopping once the server has answered), and read the
    answer until the server closes; returns it and the bytes of body sent."""
    sent = 0
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(head)
        try:
            for part in parts:
                if select.select([sock], [], [], 0)[0]:
                    break  # answered (and refused) before the body was sent
                sock.sendall(part)
                sent += len(part)
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received, sent


def _post_head(path: str, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    lines += [f"{key.replace('_', '-')}: {value}" for key, value in headers.items()]
    return ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode()


def test_live_body_over_the_limit_is_refused_before_it_is_read(live_server) -> None:
    declared = Limits().max_body_bytes + 1
    started = time.monotonic()
    raw, _ = _exchange(live_server, _post_head(f"{API}/search", Content_Length=str(declared)))
    assert time.monotonic() - started < 5  # answered without waiting for the body
    _refused(_Answer(raw), 413, "body")
    _live_health(live_server)


def test_live_chunked_body_over_the_limit(live_server) -> None:
    limit = Limits().max_body_bytes
    block = b"[" * 65536
    n_blocks = limit // len(block) + 16
    parts = [b"%x\r\n%s\r\n" % (len(block), block)] * n_blocks + [b"0\r\n\r\n"]
    head = _post_head(f"{API}/search", Transfer_Encoding="chunked")
    raw, _ = _exchange(live_server, head, parts)
    answer = _Answer(raw)
    _refused(answer, None, None)
    assert answer.status_code in (400, 413)
    _live_health(live_server)


def test_live_slow_client_does_not_hold_up_others(live_server) -> None:
    """A body sent a byte at a time: other requests are answered meanwhile, and the slow
    one is refused at the end like any other."""
    body = b'{"ids": [0], "k": "many"}'
    head = _post_head(f"{API}/search", Content_Length=str(len(body)))
    answers: list = []
    sender = threading.Thread(
        target=lambda: answers.append(
            _exchange(live_server, head, [bytes([b]) for b in body], delay=0.06)
        )
    )
    sender.start()
    try:
        time.sleep(0.2)
        _live_health(live_server)
        assert sender.is_alive()  # answered while the slow body is still being sent
    finally:
        sender.join(timeout=30)
    ((raw, sent),) = answers
    assert sent == len(body)
    _refused(_Answer(raw), 422, "k")
    _live_health(live_server)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/bundles/../../etc/passwd",
        "/api/v1/bundles/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/bundles/%2e%2e%2f",
        f"{API}/items/..%2F..%2Fetc%2Fpasswd",
        f"{API}/items/%2e%2e%2f%2e%2e%2fetc%2fpasswd/image.png",
        "/../../../../etc/passwd",
        "/static/../../../etc/passwd",
        "/api/v1/bundles/0%3Brm%20-rf",
    ],
)
def test_live_path_like_names(live_server, path) -> None:
    status, headers, body = _get(live_server, path)
    if status == 307:  # the trailing-slash redirect: it must stay on this server's API
        location = headers.get("location", "")
        assert location.startswith(f"{live_server}/api/v1/bundles/")
        status, headers, body = _get(live_server, location.removeprefix(live_server))
    assert status == 404, body
    assert b"root:" not in body
    answer = json.loads(body)
    assert isinstance(answer["detail"], str) and answer["detail"]
    _live_health(live_server)


def test_live_unknown_bundle_and_huge_batch(live_server) -> None:
    for path, body, status, field in [
        ("/api/v1/bundles/nope/search", {"ids": [0]}, 404, "name"),
        (f"{API}/search", {"ids": list(range(1001))}, 422, "ids"),
        ("/api/v1/bundles/digits-lsh-16/search", {"ids": [0], "radius": 99}, 422, "radius"),
    ]:
        data = json.dumps(body).encode()
        raw, _ = _exchange(live_server, _post_head(path, Content_Length=str(len(data))) + data)
        _refused(_Answer(raw), status, field)
    _live_health(live_server)
