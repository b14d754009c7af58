"""The HTTP API in process (TestClient): every route's happy path and the shape of its answer.

The engine's answers are checked against brute force in test_engine.py; here each route
must hand the request to the engine unchanged and its answer back as the documented JSON.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from hashlearn._version import __version__
from hashlearn.serve.bundle import load_bundle
from hashlearn.serve.engine import BundleService, Limits

NAME = "digits-itq-16"
API = f"/api/v1/bundles/{NAME}"


@pytest.fixture(scope="module")
def engine(digits_bundle: Path) -> BundleService:
    """The same bundle served directly: what each route must answer."""
    return BundleService(load_bundle(digits_bundle))


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_health_and_limits(client) -> None:
    health = client.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "version": __version__, "bundles": {NAME: 1797}}
    limits = client.get("/api/v1/limits")
    assert limits.status_code == 200 and limits.json() == Limits().as_dict()


def test_bundles(client, engine) -> None:
    listed = client.get("/api/v1/bundles").json()
    assert [entry["name"] for entry in listed] == [NAME]
    one = client.get(API)
    assert one.status_code == 200 and one.json() == listed[0] == engine.summary()
    assert one.json()["n_bits"] == 16 and one.json()["writable"] is False


def test_two_bundles_side_by_side(digits_bundle, digits_lsh_bundle) -> None:
    from fastapi.testclient import TestClient

    from hashlearn.serve.app import create_app
    from hashlearn.serve.server import load_services

    with TestClient(create_app(load_services([digits_bundle, digits_lsh_bundle]))) as client:
        names = [entry["name"] for entry in client.get("/api/v1/bundles").json()]
        assert names == [NAME, "digits-lsh-16"]
        assert client.get("/api/v1/bundles/digits-lsh-16").json()["method"] == "lsh"
        body = {"ids": [5], "k": 4}
        itq = client.post(f"{API}/search", json=body).json()["results"][0]
        lsh = client.post("/api/v1/bundles/digits-lsh-16/search", json=body).json()["results"][0]
        assert len(itq["ids"]) == len(lsh["ids"]) == 4
    with pytest.raises(ValueError, match="bundle names must differ"):
        load_services([digits_bundle, digits_bundle])


def test_stats(client, engine) -> None:
    answer = client.get(f"{API}/stats")
    assert answer.status_code == 200 and answer.json() == engine.stats()


def test_items_page_item_and_image(client, engine) -> None:
    page = client.get(f"{API}/items", params={"offset": 20, "limit": 3}).json()
    assert page == engine.items(20, 3)
    assert [item["id"] for item in page["items"]] == [20, 21, 22]
    assert len(client.get(f"{API}/items").json()["items"]) == 48  # the default page
    item = client.get(f"{API}/items/21")
    assert item.status_code == 200 and item.json() == engine.item(21)
    image = client.get(f"{API}/items/21/image.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert "max-age" in image.headers["cache-control"]
    from PIL import Image

    decoded = np.asarray(Image.open(io.BytesIO(image.content)))
    np.testing.assert_array_equal(decoded, engine.bundle.images[21])


def _results(results) -> list[dict]:
    out = []
    for result in results:
        row = {"ids": result.ids, "distances": result.distances}
        if result.scores is not None:
            row["scores"] = result.scores
        out.append(row)
    return out


def _search(client, body: dict) -> dict:
    answer = client.post(f"{API}/search", json=body)
    assert answer.status_code == 200, answer.text
    payload = answer.json()
    assert set(payload) == {"n_queries", "results", "took_ms"} and payload["took_ms"] >= 0
    assert payload["n_queries"] == len(payload["results"])
    return payload


def test_search_by_ids(client, engine) -> None:
    codes, _, ids = engine.queries(ids=[3, 9])
    payload = _search(client, {"ids": [3, 9], "k": 7})
    assert payload["results"] == _results(engine.search(codes, k=7, self_ids=ids))
    assert 3 not in payload["results"][0]["ids"]
    default = _search(client, {"ids": [3]})
    assert len(default["results"][0]["ids"]) == 10  # k defaults to 10
    with_self = _search(client, {"ids": [3], "k": 30, "include_self": True})
    assert with_self["results"] == _results(engine.search(codes[:1], k=30))


def test_search_by_vectors_and_codes(client, engine) -> None:
    vectors = np.asarray(engine.bundle.vectors[[100, 200]], dtype=np.float64) + 0.25
    codes = engine.bundle.hasher.encode(vectors)
    expected = _results(engine.search(codes, k=5))
    assert _search(client, {"vectors": vectors.tolist(), "k": 5})["results"] == expected
    hex_codes = [bytes(code).hex() for code in codes]
    assert _search(client, {"codes": hex_codes, "k": 5})["results"] == expected


def test_radius_search(client, engine) -> None:
    codes, _, ids = engine.queries(ids=[11])
    payload = _search(client, {"ids": [11], "radius": 2})
    assert payload["results"] == _results(engine.range_search(codes, radius=2, self_ids=ids))
    assert max(payload["results"][0]["distances"]) <= 2


def test_rerank(client, engine) -> None:
    codes, vectors, ids = engine.queries(ids=[12])
    payload = _search(client, {"ids": [12], "k": 4, "rerank": True, "candidates": 30})
    expected = engine.search(
        codes, k=4, self_ids=ids, query_vectors=vectors, rerank=True, candidates=30
    )
    assert payload["results"] == _results(expected)
    scores = payload["results"][0]["scores"]
    assert len(scores) == 4 and scores == sorted(scores)


def test_profile(client, engine) -> None:
    codes = np.asarray(engine.bundle.index.codes)
    answer = client.post(f"{API}/profile", json={"ids": [30], "max_radius": 5})
    assert answer.status_code == 200
    assert answer.json() == engine.radius_profile(codes[30], max_radius=5, self_id=30)
    assert set(answer.json()) == {"radius", "candidates", "precision", "recall"}
    by_code = client.post(
        f"{API}/profile", json={"codes": [bytes(codes[30]).hex()], "label": 4}
    ).json()
    expected = engine.radius_profile(codes[30], max_radius=8, self_id=None, query_label=4)
    assert by_code == expected and len(by_code["radius"]) == 9  # max_radius defaults to 8


def test_encode(client, engine) -> None:
    vectors = np.asarray(engine.bundle.vectors[:2], dtype=np.float64).tolist()
    answer = client.post(f"{API}/encode", json={"vectors": vectors})
    assert answer.status_code == 200
    assert answer.json() == {"codes": engine.encode(vectors)}
    expected = engine.bundle.hasher.encode(np.asarray(vectors))
    assert [row["code"] for row in answer.json()["codes"]] == [bytes(c).hex() for c in expected]


def test_search_by_image(client, engine) -> None:
    image = np.asarray(engine.bundle.images[40])
    answer = client.post(
        f"{API}/search/image", params={"k": 6, "max_radius": 4}, content=_png(image)
    )
    assert answer.status_code == 200, answer.text
    payload = answer.json()
    assert set(payload) == {"code", "results", "profile"}
    scale = engine.bundle.featurizer["scale"]
    vector = image.reshape(1, -1).astype(np.float32) * np.float32(scale)
    code = engine.bundle.hasher.encode(vector)
    assert payload["code"] == bytes(code[0]).hex()
    assert payload["results"] == _results(engine.search(code, k=6))
    assert payload["profile"]["radius"] == [0, 1, 2, 3, 4]
    # a larger RGB upload is converted to the stored 8 x 8 gray
    big = np.repeat(np.repeat(image, 4, axis=0), 4, axis=1)
    rgb = np.stack([big] * 3, axis=-1)
    answer = client.post(f"{API}/search/image", content=_png(rgb))
    assert answer.status_code == 200 and len(answer.json()["results"][0]["ids"]) == 12


def test_openapi_lists_every_route(client) -> None:
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    expected = {
        "/api/v1/health": {"get"},
        "/api/v1/limits": {"get"},
        "/api/v1/bundles": {"get"},
        "/api/v1/bundles/{name}": {"get"},
        "/api/v1/bundles/{name}/stats": {"get"},
        "/api/v1/bundles/{name}/items": {"get", "post"},
        "/api/v1/bundles/{name}/items/{item_id}": {"get"},
        "/api/v1/bundles/{name}/items/{item_id}/image.png": {"get"},
        "/api/v1/bundles/{name}/search": {"post"},
        "/api/v1/bundles/{name}/search/image": {"post"},
        "/api/v1/bundles/{name}/profile": {"post"},
        "/api/v1/bundles/{name}/encode": {"post"},
    }
    assert {path: set(methods) for path, methods in paths.items()} == expected
    docs = client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


def test_the_page(client) -> None:
    from hashlearn.serve.app import STATIC_DIR

    if not (STATIC_DIR / "index.html").is_file():
        pytest.skip("static/index.html is not on this branch")
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<html" in page.text.lower()


def test_items_by_id_in_the_order_asked(client) -> None:
    answer = client.get("/api/v1/bundles/digits-itq-16/items?ids=5&ids=0&ids=5")
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [item["id"] for item in items] == [5, 0, 5]
    assert items[1] == client.get("/api/v1/bundles/digits-itq-16/items/0").json()
    answer = client.get("/api/v1/bundles/digits-itq-16/items?ids=99999")
    assert answer.status_code == 404 and answer.json()["field"] == "ids"
    many = "&".join(f"ids={i}" for i in range(501))
    answer = client.get(f"/api/v1/bundles/digits-itq-16/items?{many}")
    assert answer.status_code == 422 and "500" in answer.json()["detail"]
