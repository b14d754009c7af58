"""Writable servers: adds need the token, survive a restart, and survive SIGKILL once acked."""

from __future__ import annotations

import json
import shutil
import signal
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TOKEN = "test-token-3f1c"


def _post(url: str, body: Any, token: str | None = None, timeout: float = 10) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture()
def writable_bundle(digits_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the digits bundle (a writable server adds its log folder)."""
    copy = tmp_path / digits_bundle.name
    shutil.copytree(digits_bundle, copy)
    return copy


def _vectors(n: int, seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 16, (n, 64)).round(3).tolist()


def test_read_only_server_refuses_adds(live_server: str) -> None:
    status, answer = _post(
        f"{live_server}/api/v1/bundles/digits-itq-16/items",
        {"vectors": _vectors(1, 0), "labels": [0]},
        token="anything",
    )
    assert status in (401, 403) and answer["detail"]


def _stream_adds(
    api: str, acknowledged: list[tuple[int, list[float]]], stop: threading.Event
) -> None:
    """Add one item per request until stopped or refused; keep what was acknowledged."""
    rng = np.random.default_rng(7)
    while not stop.is_set():
        vector = rng.uniform(0, 16, 64).round(3).tolist()
        try:
            status, answer = _post(
                f"{api}/items", {"vectors": [vector], "labels": [5]}, token=TOKEN, timeout=5
            )
        except OSError:
            return  # the server is gone: what was not acknowledged does not count
        if status != 201:
            return
        acknowledged.append((answer["ids"][0], vector))


def test_acknowledged_adds_survive_sigkill(writable_bundle: Path, servers: Any) -> None:
    """Token checks, then a stream of adds from 3 clients killed with SIGKILL mid-stream:
    after a restart every acknowledged item is searchable with its label and text."""
    env = {"HASHLEARN_SERVE_TOKEN": TOKEN}
    process, url = servers.start([writable_bundle], "--writable", env=env)
    api = f"{url}/api/v1/bundles/{writable_bundle.name}"
    first = _vectors(3, seed=1)
    body = {"vectors": first, "labels": [1, 2, 3], "texts": ["a", "b", "c"]}
    assert _post(f"{api}/items", body)[0] == 401
    status, answer = _post(f"{api}/items", body, token="wrong")
    assert status == 403 and answer["field"] == "token"
    status, answer = _post(f"{api}/items", {"vectors": first[:1]}, token=TOKEN)
    assert status == 422 and answer["field"] == "labels"  # the bundle has labels
    status, answer = _post(f"{api}/items", body, token=TOKEN)
    assert status == 201 and answer["ids"] == [1797, 1798, 1799]

    acknowledged: list[tuple[int, list[float]]] = []
    stop = threading.Event()
    writers = [
        threading.Thread(target=_stream_adds, args=(api, acknowledged, stop)) for _ in range(3)
    ]
    try:
        for writer in writers:
            writer.start()
        waited = 0.0
        while len(acknowledged) < 30 and waited < 30.0:
            stop.wait(0.02)
            waited += 0.02
        process.send_signal(signal.SIGKILL)  # mid-stream: adds are in flight
        process.wait(timeout=10)
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=10)
    assert len(acknowledged) >= 30

    process, url = servers.start([writable_bundle], "--writable", env=env)
    api = f"{url}/api/v1/bundles/{writable_bundle.name}"
    n_total = _get(f"{url}/api/v1/health")["bundles"][writable_bundle.name]
    ids = [item_id for item_id, _ in acknowledged]
    assert len(set(ids)) == len(ids) and max(ids) < n_total
    assert n_total >= 1800 + len(ids)
    item = _get(f"{api}/items/1799")
    assert item["label"] == 3 and item["text"] == "c" and not item["has_image"]
    vectors = [vector for _, vector in acknowledged] + first
    status, answer = _post(f"{api}/search", {"vectors": vectors, "radius": 0})
    assert status == 200
    for item_id, result in zip([*ids, 1797, 1798, 1799], answer["results"], strict=True):
        assert item_id in result["ids"], f"acknowledged item {item_id} was lost"
    for item_id in ids[:5]:
        assert _get(f"{api}/items/{item_id}")["label"] == 5
