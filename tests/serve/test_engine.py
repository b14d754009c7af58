"""The engine (:class:`BundleService`) against brute force, and every limit it enforces.

Every answer is checked against a numpy brute force over the bundle's own codes (or the
exact :class:`LinearScanIndex`, or :class:`CosineReranker` on the same candidates), and
every limit must refuse with its HTTP status and the name of the field at fault.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashlearn.codes import bit_balance
from hashlearn.hashers import LSH
from hashlearn.index import CosineReranker, LinearScanIndex, make_index
from hashlearn.serve.build import BuildConfig, build_bundle
from hashlearn.serve.bundle import load_bundle, write_bundle
from hashlearn.serve.engine import BundleService, Limits, RequestError


def _quiet(message: str) -> None:
    del message


def _hamming(query: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Hamming distance of one packed code to every row, by unpacking the XOR."""
    return np.unpackbits(np.bitwise_xor(codes, query[None, :]), axis=1).sum(axis=1)


def _brute_knn(codes, query, k, exclude=None):
    distances, ids = _hamming(query, codes), np.arange(codes.shape[0])
    if exclude is not None:
        keep = ids != exclude
        distances, ids = distances[keep], ids[keep]
    order = np.lexsort((ids, distances))[:k]
    return ids[order].tolist(), distances[order].tolist()


def _brute_range(codes, query, radius, exclude=None):
    ids, distances = _brute_knn(codes, query, codes.shape[0], exclude)
    n = sum(d <= radius for d in distances)
    return ids[:n], distances[:n]


@pytest.fixture(scope="module")
def service(digits_bundle: Path) -> BundleService:
    return BundleService(load_bundle(digits_bundle))


@pytest.fixture(scope="module")
def codes(service: BundleService) -> np.ndarray:
    return np.asarray(service.bundle.index.codes)


@pytest.fixture(scope="module")
def twelve(tmp_path_factory: pytest.TempPathFactory) -> BundleService:
    """12 bits (two bytes, four padding bits), no vectors, 300 digits."""
    out = tmp_path_factory.mktemp("twelve") / "digits-lsh-12"
    config = BuildConfig(
        dataset="digits", method="lsh", n_bits=12, out=out, limit=300, vectors=False
    )
    return BundleService(load_bundle(build_bundle(config, say=_quiet)))


@pytest.fixture(scope="module")
def multilabel(tmp_path_factory: pytest.TempPathFactory) -> BundleService:
    """60 random items of 10 bits with three overlapping labels."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    hasher = LSH(10, random_state=0).fit(X)
    index = make_index("hash", 10, hasher=hasher)
    index.add(hasher.encode(X))
    labels = (rng.random((60, 3)) < 0.3).astype(np.uint8)
    path = tmp_path_factory.mktemp("multi") / "multi"
    write_bundle(path, index, vectors=X, labels=labels, class_names=["a", "b", "c"])
    return BundleService(load_bundle(path))


# -- search --------------------------------------------------------------------------------


def test_knn_by_id_equals_brute_force_without_self(service, codes) -> None:
    ids = [0, 5, 100, 1796]
    query_codes, vectors, id_array = service.queries(ids=ids)
    np.testing.assert_array_equal(query_codes, codes[ids])
    np.testing.assert_array_equal(vectors, service.bundle.vectors[ids])
    results = service.search(query_codes, k=25, self_ids=id_array)
    for item, result in zip(ids, results, strict=True):
        assert (result.ids, result.distances) == _brute_knn(codes, codes[item], 25, item)
        assert item not in result.ids and result.scores is None


def test_knn_with_self_equals_the_linear_scan(service, codes) -> None:
    query_codes, _, _ = service.queries(ids=[3, 4, 5])
    results = service.search(query_codes, k=40)
    scan = LinearScanIndex(service.n_bits)
    scan.add(codes)
    distances, ids = scan.search(query_codes, 40)
    for row, result in enumerate(results):
        assert result.ids == ids[row].tolist() and result.distances == distances[row].tolist()


def test_knn_by_vectors_and_by_codes(service, codes) -> None:
    rng = np.random.default_rng(0)
    vectors = service.bundle.vectors[[10, 20]] + rng.normal(0, 0.5, size=(2, 64))
    query_codes, query_vectors, ids = service.queries(vectors=vectors.tolist())
    np.testing.assert_array_equal(query_codes, service.bundle.hasher.encode(vectors))
    assert ids is None and query_vectors.dtype == np.float32
    hex_codes = [bytes(code).hex() for code in query_codes]
    by_code, _, _ = service.queries(codes=hex_codes)
    np.testing.assert_array_equal(by_code, query_codes)
    for row, result in enumerate(service.search(by_code, k=15)):
        assert (result.ids, result.distances) == _brute_knn(codes, query_codes[row], 15)


@pytest.mark.parametrize("radius", [0, 1, 3])
def test_range_search_equals_brute_force(service, codes, radius) -> None:
    ids = [1, 500]
    query_codes, _, id_array = service.queries(ids=ids)
    without_self = service.range_search(query_codes, radius=radius, self_ids=id_array)
    with_self = service.range_search(query_codes, radius=radius)
    for row, item in enumerate(ids):
        expected = _brute_range(codes, codes[item], radius, item)
        assert (without_self[row].ids, without_self[row].distances) == expected
        expected = _brute_range(codes, codes[item], radius)
        assert (with_self[row].ids, with_self[row].distances) == expected


def test_rerank_equals_cosine_reranker_on_the_candidates(service, codes) -> None:
    ids = [7, 900]
    query_codes, query_vectors, id_array = service.queries(ids=ids)
    results = service.search(
        query_codes, k=6, self_ids=id_array, query_vectors=query_vectors, rerank=True,
        candidates=50,
    )  # fmt: skip
    reranker = CosineReranker(np.asarray(service.bundle.vectors))
    for row, item in enumerate(ids):
        candidates, _ = _brute_knn(codes, codes[item], 50, item)
        distances, expected = reranker.rerank_one(service.bundle.vectors[item], candidates, 6)
        result = results[row]
        assert result.ids == expected.tolist()
        np.testing.assert_allclose(result.scores, distances, atol=1e-6)
        assert result.distances == _hamming(codes[item], codes[expected]).tolist()


def test_rerank_needs_vectors(service, twelve) -> None:
    query_codes, _, _ = service.queries(ids=[0])
    with pytest.raises(RequestError, match="query by ids or vectors") as caught:
        service.search(query_codes, k=3, rerank=True)
    assert (caught.value.status, caught.value.field) == (422, "rerank")
    query_codes, vectors, _ = twelve.queries(ids=[0])
    assert vectors is None and twelve.summary()["can_rerank"] is False
    with pytest.raises(RequestError, match="keeps no vectors") as caught:
        twelve.search(query_codes, k=3, rerank=True, query_vectors=np.zeros((1, 64)))
    assert caught.value.field == "rerank"


# -- the page's views ----------------------------------------------------------------------


def _by_hand(distances, relevant, max_radius):
    within = [int((distances <= r).sum()) for r in range(max_radius + 1)]
    found = [int((distances[relevant] <= r).sum()) for r in range(max_radius + 1)]
    total = int(relevant.sum())
    precision = [None if n == 0 else round(f / n, 6) for f, n in zip(found, within, strict=True)]
    return within, precision, [round(f / total, 6) for f in found]


def test_radius_profile_by_id_equals_counts_by_hand(service, codes) -> None:
    item = 42
    profile = service.radius_profile(codes[item], max_radius=6, self_id=item)
    others = np.arange(codes.shape[0]) != item
    distances = _hamming(codes[item], codes)[others]
    labels = np.asarray(service.bundle.labels)
    relevant = labels[others] == labels[item]
    within, precision, recall = _by_hand(distances, relevant, 6)
    assert profile["radius"] == list(range(7))
    assert profile["candidates"] == within
    assert profile["precision"] == precision and profile["recall"] == recall


def test_radius_profile_of_a_code_with_and_without_label(service, codes) -> None:
    query = codes[42]
    plain = service.radius_profile(query, max_radius=4, self_id=None)
    assert plain["precision"] is None and plain["recall"] is None
    assert plain["candidates"] == [int((_hamming(query, codes) <= r).sum()) for r in range(5)]
    labelled = service.radius_profile(query, max_radius=4, self_id=None, query_label=3)
    relevant = np.asarray(service.bundle.labels) == 3
    _, precision, recall = _by_hand(_hamming(query, codes), relevant, 4)
    assert labelled["precision"] == precision and labelled["recall"] == recall


def test_radius_profile_multilabel_by_id(multilabel) -> None:
    codes = np.asarray(multilabel.bundle.index.codes)
    labels = np.asarray(multilabel.bundle.labels).astype(bool)
    item = int(np.flatnonzero(labels.sum(axis=1) == 2)[0])
    profile = multilabel.radius_profile(codes[item], max_radius=5, self_id=item)
    others = np.arange(codes.shape[0]) != item
    relevant = (labels[others] & labels[item]).any(axis=1)
    within, precision, recall = _by_hand(_hamming(codes[item], codes)[others], relevant, 5)
    assert profile["candidates"] == within
    assert profile["precision"] == precision and profile["recall"] == recall


def test_radius_profile_multilabel_with_an_int_label(multilabel) -> None:
    codes = np.asarray(multilabel.bundle.index.codes)
    profile = multilabel.radius_profile(codes[0], max_radius=3, self_id=None, query_label=1)
    relevant = np.asarray(multilabel.bundle.labels)[:, 1] == 1
    _, precision, _ = _by_hand(_hamming(codes[0], codes), relevant, 3)
    assert profile["precision"] == precision


@pytest.mark.parametrize("label", [[1, 2], -1, 10])
def test_radius_profile_refuses_a_label_that_is_no_class(service, codes, label) -> None:
    with pytest.raises(RequestError) as caught:
        service.radius_profile(codes[0], max_radius=3, self_id=None, query_label=label)
    assert (caught.value.status, caught.value.field) == (422, "label")


def test_stats_agree_with_the_codes(service, codes) -> None:
    stats = service.stats()
    _, sizes = np.unique(codes, axis=0, return_counts=True)
    assert stats["n_items"] == codes.shape[0] == sizes.sum()
    assert stats["n_buckets"] == sizes.size == sum(stats["bucket_histogram"]["buckets"])
    assert stats["largest_bucket"] == sizes.max()
    assert stats["singleton_buckets"] == (sizes == 1).sum()
    assert stats["mean_bucket"] == pytest.approx(codes.shape[0] / sizes.size, abs=1e-4)
    histogram = stats["bucket_histogram"]
    for low, high, count in zip(
        histogram["low"], histogram["high"], histogram["buckets"], strict=True
    ):
        assert count == ((sizes >= low) & (sizes <= high)).sum()
    expected = bit_balance(codes, service.n_bits)
    np.testing.assert_allclose(stats["bit_balance"], expected, atol=1e-6)
    assert service.stats() is stats  # cached


def test_stats_of_twelve_bits(twelve) -> None:
    codes = np.asarray(twelve.bundle.index.codes)
    stats = twelve.stats()
    assert len(stats["bit_balance"]) == 12
    assert stats["n_buckets"] == np.unique(codes, axis=0).shape[0]


def test_encode_equals_the_hasher(service) -> None:
    vectors = np.asarray(service.bundle.vectors[:3], dtype=np.float64)
    encoded = service.encode(vectors.tolist())
    expected = service.bundle.hasher.encode(vectors)
    for row, answer in zip(expected, encoded, strict=True):
        assert answer["code"] == bytes(row).hex()
        bits = np.unpackbits(row, bitorder="little")[:16]
        assert answer["bits"] == "".join(str(b) for b in bits)


def test_item_and_items_paging(service, codes) -> None:
    item = service.item(17)
    label = int(service.bundle.labels[17])
    assert item == {
        "id": 17,
        "label": label,
        "label_name": str(label),
        "code": bytes(codes[17]).hex(),
        "bits": "".join(str(b) for b in np.unpackbits(codes[17], bitorder="little")),
        "text": None,
        "has_image": True,
    }
    page = service.items(10, 5)
    assert page["offset"] == 10 and page["total"] == 1797
    assert [entry["id"] for entry in page["items"]] == [10, 11, 12, 13, 14]
    assert [entry["id"] for entry in service.items(1795, 5)["items"]] == [1795, 1796]
    assert service.items(5000, 5)["items"] == []
    np.testing.assert_array_equal(service.image(17), service.bundle.images[17])


def test_multilabel_item(multilabel) -> None:
    labels = np.asarray(multilabel.bundle.labels)
    item = int(np.flatnonzero(labels.sum(axis=1) >= 2)[0])
    answer = multilabel.item(item)
    expected = np.flatnonzero(labels[item]).tolist()
    assert answer["label"] == expected
    assert answer["label_name"] == [["a", "b", "c"][i] for i in expected]
    assert answer["has_image"] is False
    with pytest.raises(RequestError, match="has no image") as caught:
        multilabel.image(item)
    assert (caught.value.status, caught.value.field) == (404, "id")


def test_summary(service, multilabel) -> None:
    summary = service.summary()
    assert summary["n_bits"] == 16 and summary["n_items"] == 1797
    assert summary["n_features"] == 64 and summary["method"] == "itq"
    assert summary["display"] == "image" and summary["accepts_images"] is True
    assert summary["can_rerank"] is True and summary["writable"] is False
    multi = multilabel.summary()
    assert multi["multilabel"] is True and multi["display"] == "none"
    assert multi["class_names"] == ["a", "b", "c"] and multi["accepts_images"] is False


# -- limits and malformed queries ----------------------------------------------------------

TIGHT = Limits(
    max_k=5, max_batch=3, max_results=12, max_probe_cost=100, max_page=4, max_radius_profile=3
)


@pytest.fixture(scope="module")
def tight(service: BundleService) -> BundleService:
    return BundleService(service.bundle, TIGHT)


def _one(svc):
    return svc.queries(ids=[0])[0]


LIMIT_CASES = {
    "k over max_k": (lambda s: s.search(_one(s), k=6), 422, "k", "[1, 5]"),
    "k of zero": (lambda s: s.search(_one(s), k=0), 422, "k", "got 0"),
    "ids over max_batch": (lambda s: s.queries(ids=[0, 1, 2, 3]), 422, "ids", "at most 3"),
    "vectors over max_batch": (
        lambda s: s.queries(vectors=np.zeros((4, 64))),
        422,
        "vectors",
        "at most 3",
    ),
    "codes over max_batch": (lambda s: s.queries(codes=["0000"] * 4), 422, "codes", "at most 3"),
    "encode over max_batch": (lambda s: s.encode(np.zeros((4, 64))), 422, "vectors", "at most 3"),
    "empty ids": (lambda s: s.queries(ids=[]), 422, "ids", "at least one"),
    "no query": (lambda s: s.queries(), 422, "queries", "exactly one"),
    "two queries": (lambda s: s.queries(ids=[0], codes=["0000"]), 422, "queries", "ids, codes"),
    "k-NN results": (
        lambda s: s.search(s.queries(ids=[0, 1, 2])[0], k=5),
        422,
        "k",
        "limit of 12 results",
    ),
    "radius results": (
        lambda s: BundleService(s.bundle, Limits(max_results=12)).range_search(_one(s), radius=16),
        422,
        "radius",
        "more than 12 results",
    ),
    "k-NN probe cost": (lambda s: s.search(_one(s), k=1), 422, "k", "budget of 100"),
    "radius probe cost": (
        lambda s: s.range_search(_one(s), radius=3),
        422,
        "radius",
        "budget of 100",
    ),
    "radius over n_bits": (
        lambda s: s.range_search(_one(s), radius=17),
        422,
        "radius",
        "[0, 16]",
    ),
    "negative radius": (lambda s: s.range_search(_one(s), radius=-1), 422, "radius", "[0, 16]"),
    "profile probe cost": (
        lambda s: s.radius_profile(_one(s)[0], max_radius=1, self_id=None),
        422,
        "max_radius",
        "budget of 100",
    ),
    "page over max_page": (lambda s: s.items(0, 5), 422, "limit", "[1, 4]"),
    "negative offset": (lambda s: s.items(-1, 2), 422, "offset", "got -1"),
    "profile over max_radius_profile": (
        lambda s: s.radius_profile(_one(s)[0], max_radius=4, self_id=None),
        422,
        "max_radius",
        "[0, 3]",
    ),
    "candidates over 10 max_k": (
        lambda s: s.search(
            _one(s), k=2, rerank=True, candidates=51, query_vectors=np.ones((1, 64))
        ),
        422,
        "candidates",
        "[k, 50]",
    ),
    "candidates under k": (
        lambda s: s.search(_one(s), k=4, rerank=True, candidates=3, query_vectors=np.ones((1, 64))),
        422,
        "candidates",
        "got 3",
    ),
    "unknown id": (lambda s: s.queries(ids=[0, 1797]), 404, "ids", "unknown item id 1797"),
    "negative id": (lambda s: s.check_ids([-3]), 404, "ids", "unknown item id -3"),
    "unknown item": (lambda s: s.item(1797), 404, "id", "ids are 0 .. 1796"),
    "unknown image": (lambda s: s.image(-1), 404, "id", "unknown item id -1"),
    "vectors of the wrong width": (
        lambda s: s.queries(vectors=np.zeros((1, 63))),
        422,
        "vectors",
        "rows of 64 numbers",
    ),
    "NaN vector": (
        lambda s: s.queries(vectors=np.full((1, 64), np.nan)),
        422,
        "vectors",
        "finite",
    ),
    "infinite vector": (
        lambda s: s.encode(np.full((1, 64), np.inf)),
        422,
        "vectors",
        "finite",
    ),
    "code too short": (lambda s: s.queries(codes=["00"]), 422, "codes", "2 bytes"),
    "code too long": (lambda s: s.queries(codes=["000000"]), 422, "codes", "2 bytes"),
    "non-hex code": (lambda s: s.queries(codes=["00zz"]), 422, "codes", "hexadecimal"),
}


@pytest.mark.parametrize("case", list(LIMIT_CASES))
def test_limits_and_malformed_queries(tight, case) -> None:
    call, status, field, message = LIMIT_CASES[case]
    if case.startswith(("k-NN probe", "radius probe", "profile probe")):
        assert tight.stats()["n_buckets"] > 100  # the radius-3 ball (697 keys) is the cost
    with pytest.raises(RequestError) as caught:
        call(tight)
    error = caught.value
    assert (error.status, error.field) == (status, field)
    assert message in error.message and str(error) == error.message


def test_requests_within_the_limits_pass(tight) -> None:
    cheap = BundleService(tight.bundle, Limits(max_probe_cost=100))
    (result,) = cheap.range_search(_one(tight), radius=1)  # 17 probes, within the budget
    assert result.ids and max(result.distances) <= 1
    assert len(tight.items(0, 4)["items"]) == 4


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("000", "hexadecimal"),
        ("00", "2 bytes"),
        ("0010", "padding bits"),
        ("00f0", "padding bits"),
        ("ff0f", None),
    ],
)
def test_twelve_bit_codes(twelve, code, message) -> None:
    if message is None:
        (decoded,) = twelve.queries(codes=[code])[0]
        assert bytes(decoded).hex() == code
        return
    with pytest.raises(RequestError, match=message) as caught:
        twelve.queries(codes=[code])
    assert (caught.value.status, caught.value.field) == (422, "codes")


def test_twelve_bit_search_equals_brute_force(twelve) -> None:
    codes = np.asarray(twelve.bundle.index.codes)
    query_codes, _, ids = twelve.queries(ids=[0, 299])
    for row, result in enumerate(twelve.search(query_codes, k=30, self_ids=ids)):
        assert (result.ids, result.distances) == _brute_knn(codes, codes[ids[row]], 30, ids[row])
    ranges = twelve.range_search(query_codes, radius=2)
    assert (ranges[1].ids, ranges[1].distances) == _brute_range(codes, codes[299], 2)
    with pytest.raises(RequestError, match=r"\[0, 12\]") as caught:
        twelve.radius_profile(codes[0], max_radius=13, self_id=0)
    assert caught.value.field == "max_radius"


def test_add_to_a_read_only_service_is_refused(service) -> None:
    with pytest.raises(RequestError, match="read-only") as caught:
        service.add(np.zeros((1, 64)), labels=[0])
    assert caught.value.status == 403
