"""The service's work, without the web: queries, limits, statistics and durable adds.

:class:`BundleService` answers everything the HTTP API offers for one bundle, with plain
Python values in and out, so that it is tested without a server and the FastAPI app
(:mod:`hashlearn.serve.app`) stays a thin layer of schemas and routes. Every limit is
checked *before* the work is done and raised as :class:`RequestError` with the HTTP
status the app answers and a message that names the field.

Concurrency: one lock per bundle serialises searches and adds on the index (the index
classes are not thread-safe while an add rebuilds their tables); requests of different
bundles run in parallel.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hashlearn.codes import bit_balance, bucket_keys, check_codes, hamming_distances, n_bytes
from hashlearn.serve.bundle import Bundle

__all__ = ["BundleService", "Limits", "RequestError", "SearchResult"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; a request past a limit gets a 4xx and a message.

    Attributes
    ----------
    max_k : int
        Neighbours per query.
    max_batch : int
        Queries (or added items) per request.
    max_body_bytes : int
        Request body size.
    max_results : int
        Results per request, summed over its queries (k-NN: queries x k; radius search:
        every item within the radius).
    max_probe_cost : int
        Work per request, in code comparisons or bucket lookups, as the index estimates it
        before searching: a hash-table radius search probes ``sum_{d <= r} C(n_bits, d)``
        keys per query (or compares every bucket key, when that is cheaper), a scan
        compares every stored code.
    max_page : int
        Items per page when browsing.
    max_radius_profile : int
        Largest radius of a per-radius profile.
    """

    max_k: int = 1000
    max_batch: int = 1000
    max_body_bytes: int = 16 * 1024 * 1024
    max_results: int = 200_000
    max_probe_cost: int = 2_000_000_000
    max_page: int = 500
    max_radius_profile: int = 64

    def as_dict(self) -> dict[str, int]:
        """The limits as JSON."""
        return asdict(self)


class RequestError(Exception):
    """A request the service refuses: ``status`` is the HTTP status, ``field`` what is wrong."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True)
class SearchResult:
    """One query's neighbours: ids, Hamming distances and (re-ranked) exact distances."""

    ids: list[int]
    distances: list[int]
    scores: list[float] | None = None


def _hex(code: np.ndarray) -> str:
    return bytes(code).hex()


def _bit_string(code: np.ndarray, n_bits: int) -> str:
    bits = np.unpackbits(code, bitorder="little")[:n_bits]
    return "".join("1" if bit else "0" for bit in bits)


def _ball(n_bits: int, radius: int) -> int:
    return sum(math.comb(n_bits, d) for d in range(min(radius, n_bits) + 1))


class BundleService:
    """Searches, statistics and adds for one loaded bundle.

    Parameters
    ----------
    bundle : Bundle
    limits : Limits, optional
    log : AppendLog, optional
        Makes the service writable: every add is appended (and fsynced) to it before it is
        acknowledged. Records already in it are replayed into the index first.
    """

    def __init__(self, bundle: Bundle, limits: Limits | None = None, log: Any = None) -> None:
        self.bundle = bundle
        self.limits = limits or Limits()
        self.log = log
        self._lock = threading.RLock()
        self._stats: dict[str, Any] | None = None
        self._added_labels: list[Any] = []
        self._added_texts: list[str | None] = []
        self._reranker: Any = None
        if log is not None:
            self._replay()
        self._warm_up()

    def _warm_up(self) -> None:
        """Run one search of each kind, so the first request does not pay for compiling."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = np.asarray(self.bundle.index.codes[:1])
            for k in (1, 10):
                self.bundle.index.search(code, min(k, self.ntotal))
            for radius in (0, 1):
                self.bundle.index.range_search(code, min(radius, self.n_bits))

    # -- facts -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def n_bits(self) -> int:
        return self.bundle.n_bits

    @property
    def ntotal(self) -> int:
        """Items searchable now (built plus added)."""
        return int(self.bundle.index.ntotal)

    @property
    def writable(self) -> bool:
        return self.log is not None

    def summary(self) -> dict[str, Any]:
        """What the page and ``GET /bundles`` show about the bundle."""
        manifest = self.bundle.manifest
        description = manifest.get("description") or {}
        hasher = self.bundle.hasher
        return {
            "name": self.name,
            "method": description.get("method"),
            "label": description.get("label") or manifest.get("hasher"),
            "dataset": description.get("dataset"),
            "n_bits": self.n_bits,
            "n_items": self.ntotal,
            "n_items_built": self.bundle.n_items,
            "n_features": getattr(hasher, "n_features_in_", None),
            "index": manifest.get("index"),
            "hasher": manifest.get("hasher"),
            "has_labels": self.bundle.labels is not None,
            "multilabel": self.bundle.multilabel,
            "class_names": list(self.bundle.class_names),
            "display": "image"
            if self.bundle.images is not None
            else ("text" if self.bundle.texts is not None else "none"),
            "accepts_images": self.bundle.featurizer is not None,
            "can_rerank": self.bundle.vectors is not None,
            "writable": self.writable,
            "description": description,
        }

    # -- queries ---------------------------------------------------------------------------

    def _check_batch(self, n: int, field: str) -> None:
        if n == 0:
            raise RequestError(422, f"{field} must hold at least one entry", field)
        if n > self.limits.max_batch:
            raise RequestError(
                422,
                f"{field} holds {n} entries; at most {self.limits.max_batch} per request "
                "(split the batch)",
                field,
            )

    def check_ids(self, ids: Sequence[int], field: str = "ids") -> np.ndarray:
        """Item ids as int64, each in ``[0, ntotal)``; else 404 naming the first unknown one."""
        try:
            array = np.asarray(ids, dtype=np.int64).reshape(-1)
        except OverflowError:  # an id past int64 is as unknown as any other
            first = next(i for i in ids if not 0 <= i < self.ntotal)
            raise RequestError(
                404, f"{field}: unknown item id {first}; ids are 0 .. {self.ntotal - 1}", field
            ) from None
        bad = (array < 0) | (array >= self.ntotal)
        if bad.any():
            raise RequestError(
                404,
                f"{field}: unknown item id {int(array[bad][0])}; ids are 0 .. {self.ntotal - 1}",
                field,
            )
        return array

    def _matrix(self, vectors: Any, field: str) -> np.ndarray:
        """``vectors`` as float64; rows of different lengths are a 422, not a crash."""
        try:
            return np.asarray(vectors, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RequestError(
                422, f"{field} must be rows of numbers, all of the same length", field
            ) from exc

    def encode_vectors(self, vectors: np.ndarray, field: str) -> np.ndarray:
        """Codes of ``vectors``, validated (2-D, the right width, finite); 422 names ``field``."""
        hasher = self.bundle.hasher
        expected = getattr(hasher, "n_features_in_", None)
        if vectors.ndim != 2 or (expected is not None and vectors.shape[1] != expected):
            raise RequestError(
                422,
                f"{field} must be rows of {expected} numbers, got shape {list(vectors.shape)}",
                field,
            )
        if not np.isfinite(vectors).all():
            raise RequestError(422, f"{field} must be finite numbers (no NaN or infinity)", field)
        try:
            return np.asarray(hasher.encode(vectors))
        except (TypeError, ValueError) as exc:
            raise RequestError(422, f"{field}: {exc}", field) from exc

    def _decode_codes(self, codes: Sequence[str]) -> np.ndarray:
        width = n_bytes(self.n_bits)
        rows = np.empty((len(codes), width), dtype=np.uint8)
        for i, text in enumerate(codes):
            try:
                raw = bytes.fromhex(text)
            except (TypeError, ValueError) as exc:
                raise RequestError(
                    422, f"codes[{i}] is not a hexadecimal string ({exc})", "codes"
                ) from exc
            if len(raw) != width:
                raise RequestError(
                    422,
                    f"codes[{i}] has {len(raw)} bytes; {self.n_bits}-bit codes take {width} "
                    f"bytes ({2 * width} hexadecimal digits)",
                    "codes",
                )
            rows[i] = np.frombuffer(raw, dtype=np.uint8)
        try:
            return check_codes(rows, self.n_bits, name="codes")
        except ValueError as exc:
            raise RequestError(422, str(exc), "codes") from exc

    def queries(
        self,
        *,
        ids: Sequence[int] | None = None,
        vectors: Any = None,
        codes: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Resolve exactly one kind of query into ``(codes, vectors or None, ids or None)``."""
        given = [
            name
            for name, value in (("ids", ids), ("vectors", vectors), ("codes", codes))
            if value is not None
        ]
        if len(given) != 1:
            raise RequestError(
                422,
                "give exactly one of ids, vectors or codes"
                + (f" (got {', '.join(given)})" if given else ""),
                "queries",
            )
        if ids is not None:
            self._check_batch(len(ids), "ids")
            id_array = self.check_ids(ids)
            with self._lock:
                query_codes = self.bundle.index.codes[id_array]
            query_vectors = None
            if self.bundle.vectors is not None and id_array.max() < self.bundle.n_items:
                query_vectors = np.asarray(self.bundle.vectors[id_array])
            return query_codes, query_vectors, id_array
        if vectors is not None:
            array = self._matrix(vectors, "vectors")
            self._check_batch(array.shape[0] if array.ndim else 0, "vectors")
            return self.encode_vectors(array, "vectors"), array.astype(np.float32), None
        assert codes is not None
        self._check_batch(len(codes), "codes")
        return self._decode_codes(codes), None, None

    def _probe_cost(self, n_queries: int, radius: int | None) -> int:
        index = self.bundle.index
        scan = self.ntotal
        if radius is None or not hasattr(index, "n_buckets"):
            return n_queries * scan
        return n_queries * min(_ball(self.n_bits, radius), max(int(index.n_buckets), 1))

    def _check_cost(self, n_queries: int, radius: int | None, field: str) -> None:
        cost = self._probe_cost(n_queries, radius)
        if cost > self.limits.max_probe_cost:
            raise RequestError(
                422,
                f"{field}: this request would cost about {cost:,} code comparisons or bucket "
                f"probes, over the budget of {self.limits.max_probe_cost:,}; ask for fewer "
                "queries or a smaller radius",
                field,
            )

    def search(
        self,
        query_codes: np.ndarray,
        *,
        k: int,
        self_ids: np.ndarray | None = None,
        query_vectors: np.ndarray | None = None,
        rerank: bool = False,
        candidates: int | None = None,
    ) -> list[SearchResult]:
        """k nearest neighbours by Hamming distance, optionally re-ranked on the vectors.

        ``self_ids`` (queries by stored id) are left out of their own results. With
        ``rerank``, the ``candidates`` nearest codes (default ``10 k``) are re-ordered by
        exact cosine distance on the stored vectors, and ``scores`` holds that distance.
        """
        limits = self.limits
        if not 1 <= k <= limits.max_k:
            raise RequestError(422, f"k must be in [1, {limits.max_k}], got {k}", "k")
        n_queries = query_codes.shape[0]
        if n_queries * k > limits.max_results:
            raise RequestError(
                422,
                f"k: {n_queries} queries x k={k} is over the limit of {limits.max_results:,} "
                "results per request",
                "k",
            )
        if rerank and self.bundle.vectors is None:
            raise RequestError(
                422, "rerank: this bundle keeps no vectors (built with --no-vectors)", "rerank"
            )
        if rerank and query_vectors is None:
            raise RequestError(
                422, "rerank needs the query vectors: query by ids or vectors, not codes", "rerank"
            )
        pool = k if not rerank else (candidates or 10 * k)
        if not k <= pool <= limits.max_k * 10:
            raise RequestError(
                422, f"candidates must be in [k, {limits.max_k * 10}], got {pool}", "candidates"
            )
        self._check_cost(n_queries, None, "k")
        extra = 0 if self_ids is None else 1
        with self._lock:
            distances, ids = self.bundle.index.search(query_codes, pool + extra)
            if rerank:
                reranker = self._get_reranker()
        results = []
        for row in range(n_queries):
            keep = ids[row] >= 0
            if self_ids is not None:
                keep &= ids[row] != self_ids[row]
            row_ids, row_distances = ids[row][keep][:pool], distances[row][keep][:pool]
            if not rerank:
                results.append(SearchResult(row_ids.tolist(), row_distances.tolist()))
                continue
            in_vectors = row_ids < reranker.database_vectors.shape[0]
            row_ids, row_distances = row_ids[in_vectors], row_distances[in_vectors]
            assert query_vectors is not None  # checked above: rerank needs them
            order_d, order_ids = reranker.rerank_one(query_vectors[row], row_ids, k)
            found = order_ids >= 0
            order_d, order_ids = order_d[found], order_ids[found]
            lookup = dict(zip(row_ids.tolist(), row_distances.tolist(), strict=True))
            results.append(
                SearchResult(
                    order_ids.tolist(),
                    [lookup[i] for i in order_ids.tolist()],
                    [round(float(d), 6) for d in order_d],
                )
            )
        return results  # pool is k without re-ranking, and rerank_one returns k at most

    def _get_reranker(self) -> Any:
        if self._reranker is None:
            from hashlearn.index import CosineReranker

            self._reranker = CosineReranker(np.asarray(self.bundle.vectors))
        return self._reranker

    def range_search(
        self, query_codes: np.ndarray, *, radius: int, self_ids: np.ndarray | None = None
    ) -> list[SearchResult]:
        """Every item within Hamming distance ``radius``, nearest first (ties by id)."""
        from hashlearn.index import ProbeCostWarning, RangeResultLimitError

        if not 0 <= radius <= self.n_bits:
            raise RequestError(
                422,
                f"radius must be in [0, {self.n_bits}] for {self.n_bits}-bit codes, got {radius}",
                "radius",
            )
        n_queries = query_codes.shape[0]
        self._check_cost(n_queries, radius, "radius")
        budget = self.limits.max_results + (0 if self_ids is None else n_queries)
        try:
            with self._lock, warnings.catch_warnings():
                # A ball larger than the table makes the index scan instead: the same
                # results, and the request was already costed; no warning per request.
                warnings.simplefilter("ignore", ProbeCostWarning)
                lims, distances, ids = self.bundle.index.range_search(
                    query_codes, radius, max_results=budget
                )
        except RangeResultLimitError as exc:
            raise RequestError(
                422,
                f"radius: radius {radius} finds more than {self.limits.max_results:,} results "
                "for this request; use a smaller radius, fewer queries, or k-NN search",
                "radius",
            ) from exc
        results = []
        for row in range(n_queries):
            part = slice(lims[row], lims[row + 1])
            row_ids, row_distances = ids[part], distances[part]
            if self_ids is not None:
                keep = row_ids != self_ids[row]
                row_ids, row_distances = row_ids[keep], row_distances[keep]
            results.append(SearchResult(row_ids.tolist(), row_distances.tolist()))
        return results

    # -- what the page shows -----------------------------------------------------------------

    def label_of(self, item: int) -> Any:
        """The label (an int, a list of label indices, or None) of one item."""
        labels = self.bundle.labels
        if item >= self.bundle.n_items:
            return self._added_labels[item - self.bundle.n_items]
        if labels is None:
            return None
        if labels.ndim == 2:
            return np.flatnonzero(labels[item]).tolist()
        return int(labels[item])

    def _relevance_all(self, query_label: Any) -> np.ndarray:
        stored = np.asarray(self.bundle.labels)
        if stored.ndim == 2:
            built = stored[:, query_label].any(axis=1)
            added = [bool(set(query_label) & set(lab or [])) for lab in self._added_labels]
        else:
            built = stored == query_label
            added = [lab == query_label for lab in self._added_labels]
        return np.concatenate([built, np.asarray(added, dtype=bool)])

    def item(self, item: int) -> dict[str, Any]:
        """One item: id, label, class names, code (hex and bits), snippet, has_image."""
        (item,) = self.check_ids([item], "id").tolist()
        with self._lock:
            code = self.bundle.index.codes[item]
        label = self.label_of(item)
        names = self.bundle.class_names
        if label is None or not names:
            label_names = None
        elif isinstance(label, list):
            label_names = [names[i] for i in label if i < len(names)]
        else:
            label_names = names[label] if label < len(names) else None
        text = None
        if item < self.bundle.n_items and self.bundle.texts is not None:
            text = self.bundle.texts[item]
        elif item >= self.bundle.n_items:
            text = self._added_texts[item - self.bundle.n_items]
        return {
            "id": item,
            "label": label,
            "label_name": label_names,
            "code": _hex(code),
            "bits": _bit_string(code, self.n_bits),
            "text": text,
            "has_image": self.bundle.images is not None and item < self.bundle.n_items,
        }

    def items(self, offset: int, limit: int) -> dict[str, Any]:
        """A page of items, in id order."""
        if not 1 <= limit <= self.limits.max_page:
            raise RequestError(
                422, f"limit must be in [1, {self.limits.max_page}], got {limit}", "limit"
            )
        if offset < 0:
            raise RequestError(422, f"offset must be >= 0, got {offset}", "offset")
        stop = min(offset + limit, self.ntotal)
        return {
            "offset": offset,
            "total": self.ntotal,
            "items": [self.item(i) for i in range(offset, stop)],
        }

    def items_by_id(self, ids: Sequence[int]) -> dict[str, Any]:
        """The items ``ids``, in that order (at most ``max_page``)."""
        if not 1 <= len(ids) <= self.limits.max_page:
            raise RequestError(
                422, f"ids must hold 1 to {self.limits.max_page} ids, got {len(ids)}", "ids"
            )
        checked = self.check_ids(ids)
        return {"total": self.ntotal, "items": [self.item(int(i)) for i in checked]}

    def image(self, item: int) -> np.ndarray:
        """The stored image of one item (404 when the bundle or the item has none)."""
        (item,) = self.check_ids([item], "id").tolist()
        if self.bundle.images is None or item >= self.bundle.n_items:
            raise RequestError(404, f"item {item} has no image in bundle {self.name!r}", "id")
        return np.asarray(self.bundle.images[item])

    def radius_profile(
        self,
        query_code: np.ndarray,
        *,
        max_radius: int,
        self_id: int | None,
        query_label: Any = None,
    ) -> dict[str, Any]:
        """Per radius ``0 .. max_radius``: items within it and, with labels, their precision.

        Computed from the query's Hamming distance to every stored code (one scan), leaving
        out the query itself when it is a stored item. ``precision`` is the fraction of the
        items within the radius that share the query's label (None where no item is
        within it), ``recall`` the fraction of all relevant items found.
        """
        if not 0 <= max_radius <= min(self.n_bits, self.limits.max_radius_profile):
            raise RequestError(
                422,
                f"max_radius must be in [0, {min(self.n_bits, self.limits.max_radius_profile)}]"
                f", got {max_radius}",
                "max_radius",
            )
        self._check_cost(1, None, "max_radius")
        query_label = self._check_query_label(query_label)
        with self._lock:
            codes = self.bundle.index.codes
            distances = hamming_distances(query_code.reshape(1, -1), codes)[0]
        keep = np.ones(distances.shape[0], dtype=bool)
        if self_id is not None:
            keep[self_id] = False
            query_label = self.label_of(self_id)
        distances = distances[keep]
        counts = np.bincount(np.minimum(distances, max_radius + 1), minlength=max_radius + 2)
        within = np.cumsum(counts[: max_radius + 1])
        profile: dict[str, Any] = {
            "radius": list(range(max_radius + 1)),
            "candidates": within.tolist(),
            "precision": None,
            "recall": None,
        }
        if query_label is not None and self.bundle.labels is not None:
            relevant = self._relevance_all(query_label)[keep]
            hits = np.bincount(
                np.minimum(distances[relevant], max_radius + 1), minlength=max_radius + 2
            )
            found = np.cumsum(hits[: max_radius + 1])
            total = int(relevant.sum())
            profile["precision"] = [
                None if n == 0 else round(float(f) / float(n), 6)
                for f, n in zip(found, within, strict=True)
            ]
            profile["recall"] = [None if total == 0 else round(float(f) / total, 6) for f in found]
        return profile

    def _check_query_label(self, label: Any) -> Any:
        """A query's label as the stored labels hold it: a class index, or (multi-label) a
        list of label indices; 422 naming ``label`` otherwise."""
        stored = self.bundle.labels
        if label is None or stored is None:
            return None
        if stored.ndim == 2:
            n_classes = stored.shape[1]
        else:
            n_classes = len(self.bundle.class_names) or int(stored.max(initial=-1)) + 1
        if stored.ndim == 1 and isinstance(label, list):
            raise RequestError(
                422, "label: this bundle has one class per item; give one class index", "label"
            )
        values = label if isinstance(label, list) else [label]
        for value in values:
            if not isinstance(value, int) or not 0 <= value < n_classes:
                raise RequestError(
                    422, f"label: {value!r} is not a class index 0 .. {n_classes - 1}", "label"
                )
        return values if stored.ndim == 2 else label

    def stats(self) -> dict[str, Any]:
        """Bucket occupancy (items per distinct code) and per-bit balance; cached until an add."""
        with self._lock:
            if self._stats is not None:
                return self._stats
            codes = np.asarray(self.bundle.index.codes)
        if self.n_bits <= 64:
            _, sizes = np.unique(bucket_keys(codes, self.n_bits), return_counts=True)
        else:
            _, sizes = np.unique(codes, axis=0, return_counts=True)
        edges = [1, 2, 3, 5, 9, 17, 33, 65, 129, 257, 513, 1025]
        top = int(sizes.max())
        while edges[-1] <= top:
            edges.append(2 * edges[-1] - 1)
        histogram, _ = np.histogram(sizes, bins=[*edges, edges[-1] * 2])
        stats = {
            "n_items": int(codes.shape[0]),
            "n_buckets": int(sizes.size),
            "largest_bucket": top,
            "mean_bucket": round(float(sizes.mean()), 4),
            "singleton_buckets": int((sizes == 1).sum()),
            "bucket_histogram": {
                "low": edges,
                "high": [*(e - 1 for e in edges[1:]), edges[-1] * 2 - 1],
                "buckets": histogram.tolist(),
            },
            "bit_balance": [round(float(b), 6) for b in bit_balance(codes, self.n_bits)],
        }
        with self._lock:
            self._stats = stats
        return stats

    def encode(self, vectors: Any) -> list[dict[str, str]]:
        """Codes of vectors, as hex (packed bytes, least-significant bit first) and bit strings."""
        array = self._matrix(vectors, "vectors")
        self._check_batch(array.shape[0] if array.ndim else 0, "vectors")
        codes = self.encode_vectors(array, "vectors")
        return [{"code": _hex(row), "bits": _bit_string(row, self.n_bits)} for row in codes]

    # -- writes ----------------------------------------------------------------------------

    def add(
        self,
        vectors: Any,
        *,
        labels: Sequence[Any] | None = None,
        texts: Sequence[str] | None = None,
    ) -> list[int]:
        """Encode and add items; returns their ids once the log holds them durably."""
        if self.log is None:
            raise RequestError(403, "this server is read-only (start it with --writable)", None)
        from hashlearn.serve._log import AddRecord

        array = self._matrix(vectors, "vectors")
        n = array.shape[0] if array.ndim else 0
        self._check_batch(n, "vectors")
        codes = self.encode_vectors(array, "vectors")
        label_array = self._check_added_labels(labels, n)
        if texts is not None and len(texts) != n:
            raise RequestError(422, f"texts must have {n} entries, got {len(texts)}", "texts")
        with self._lock:
            first = self.ntotal
            record = AddRecord(
                first_id=first,
                codes=codes,
                labels=label_array,
                texts=None if texts is None else [str(t) for t in texts],
            )
            self.log.append([record.to_bytes()])
            self._apply(record)
        return list(range(first, first + n))

    def _check_added_labels(self, labels: Sequence[Any] | None, n: int) -> np.ndarray | None:
        stored = self.bundle.labels
        if labels is None:
            if stored is not None:
                raise RequestError(
                    422, "labels: this bundle has labels; give one per item", "labels"
                )
            return None
        if stored is None:
            raise RequestError(422, "labels: this bundle has no labels", "labels")
        if len(labels) != n:
            raise RequestError(422, f"labels must have {n} entries, got {len(labels)}", "labels")
        n_classes = stored.shape[1] if stored.ndim == 2 else len(self.bundle.class_names)
        if stored.ndim == 2:
            matrix = np.zeros((n, n_classes), dtype=np.uint8)
            for row, label in enumerate(labels):
                values = label if isinstance(label, list) else [label]
                for value in values:
                    if not isinstance(value, int) or not 0 <= value < n_classes:
                        raise RequestError(
                            422, f"labels[{row}]: label indices are 0 .. {n_classes - 1}", "labels"
                        )
                    matrix[row, value] = 1
            return matrix
        bad = [
            row
            for row, label in enumerate(labels)
            if not isinstance(label, int) or (n_classes and not 0 <= label < n_classes)
        ]
        if bad:
            raise RequestError(
                422, f"labels[{bad[0]}] must be a class index 0 .. {n_classes - 1}", "labels"
            )
        return np.asarray(labels, dtype=np.int64)

    def _apply(self, record: Any) -> None:
        if record.first_id != self.ntotal:
            raise RuntimeError(
                f"the add log of bundle {self.name!r} is out of step: a record starts at id "
                f"{record.first_id}, the index holds {self.ntotal} items"
            )
        self.bundle.index.add(record.codes)
        n = record.codes.shape[0]
        if record.labels is None:
            self._added_labels.extend([None] * n)
        elif record.labels.ndim == 2:
            self._added_labels.extend(np.flatnonzero(row).tolist() for row in record.labels)
        else:
            self._added_labels.extend(int(v) for v in record.labels)
        self._added_texts.extend(record.texts if record.texts is not None else [None] * n)
        self._stats = None

    def _replay(self) -> None:
        from hashlearn.serve._log import AddRecord

        for payload in self.log.records():
            self._apply(AddRecord.from_bytes(payload))
