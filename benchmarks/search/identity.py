"""Identity checks: every contender must return the exact scan's results.

The exact answer is :class:`~hashlearn.index.LinearScanIndex`'s, itself checked on
``check_queries`` queries (spread over the batch) against an independent numpy
computation (:func:`hashlearn.codes.hamming_distances`, then the ``(distance, id)``
order by a stable sort).

* hashlearn indexes follow one contract (results sorted by ``(distance, id)``, ties
  broken by the smaller id, also at the ``k``-th place), so their arrays must be *equal*
  to the exact scan's: k-NN distances and ids, range ``lims``, distances and ids.
* faiss orders ties arbitrarily and returns range results unsorted. k-NN: distances must
  be equal, the ids below the ``k``-th distance must be the exact ones and the ids at the
  ``k``-th distance must be distinct items truly at that distance (any choice among equal
  distances is right). Range: each query's set of ``(id, distance)`` pairs must be equal.
  (faiss's range radius is strict, ``d < radius``: hashlearn's radius ``r`` is asked of
  faiss as ``r + 1``.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hashlearn.codes import hamming_distances

if TYPE_CHECKING:
    from .contenders import Contender

__all__ = [
    "compare_knn",
    "compare_range",
    "fill_identity",
    "recall_knn",
    "recall_range",
    "reference_check",
]


def _true_distances(
    queries: np.ndarray, database: np.ndarray, rows: np.ndarray, ids: np.ndarray
) -> np.ndarray:
    """``popcount(queries[rows] XOR database[ids])`` pair by pair."""
    if rows.size == 0:
        return np.empty(0, dtype=np.int64)
    xor = np.bitwise_xor(queries[rows], database[ids])
    return np.unpackbits(xor, axis=1).sum(axis=1, dtype=np.int64)


def compare_knn(
    distances: np.ndarray,
    ids: np.ndarray,
    exact_distances: np.ndarray,
    exact_ids: np.ndarray,
    queries: np.ndarray,
    database: np.ndarray,
    *,
    tie_rule: bool = True,
) -> dict[str, Any]:
    """Whether k-NN results equal the exact ones.

    With ``tie_rule`` (hashlearn's contract) both arrays must be equal. Without it (faiss),
    each row is first put in ``(distance, id)`` order; distances must then be equal, ids
    below the row's ``k``-th distance equal, and ids at the ``k``-th distance distinct items
    truly at that distance.

    Returns
    -------
    dict
        ``identical`` (bool), ``rows_differ`` (rows that fail), ``rows_tie_choice`` (rows
        equal only up to the choice among ties at the ``k``-th distance, faiss only).
    """
    d = np.asarray(distances).astype(np.int64)
    i = np.asarray(ids).astype(np.int64)
    d0 = np.asarray(exact_distances).astype(np.int64)
    i0 = np.asarray(exact_ids).astype(np.int64)
    if d.shape != d0.shape or i.shape != i0.shape:
        return {
            "identical": False,
            "rows_differ": int(d0.shape[0]),
            "rows_tie_choice": 0,
            "why": f"shape {d.shape} instead of {d0.shape}",
        }
    if tie_rule:
        bad = ~((d == d0).all(axis=1) & (i == i0).all(axis=1))
        return {"identical": not bad.any(), "rows_differ": int(bad.sum()), "rows_tie_choice": 0}
    # Missing entries (id -1; faiss puts INT32_MAX in their distance) go last, as -1.
    missing = i < 0
    key = np.where(missing, np.iinfo(np.int64).max, d)
    order = np.lexsort((np.where(missing, np.iinfo(np.int64).max, i), key), axis=1)
    d = np.take_along_axis(np.where(missing, -1, d), order, axis=1)
    i = np.take_along_axis(i, order, axis=1)
    same_d = (d == d0).all(axis=1)
    same_i = (i == i0).all(axis=1)
    kth = d0[:, -1:] if d0.shape[1] else np.zeros((d0.shape[0], 1), dtype=np.int64)
    below = d0 < kth
    ok_below = ((i == i0) | ~below).all(axis=1)
    rows, cols = np.nonzero((i >= 0) & (i < database.shape[0]))
    true = np.full(d.shape, -2, dtype=np.int64)
    true[rows, cols] = _true_distances(queries, database, rows, i[rows, cols])
    padded = i < 0
    ok_true = ((true == d) | (padded & (d0 < 0))).all(axis=1)
    distinct = np.array([np.unique(row[row >= 0]).size == (row >= 0).sum() for row in i])
    good = same_d & ok_below & ok_true & distinct
    return {
        "identical": bool(good.all()),
        "rows_differ": int((~good).sum()),
        "rows_tie_choice": int((good & ~same_i).sum()),
    }


def compare_range(
    lims: np.ndarray,
    distances: np.ndarray,
    ids: np.ndarray,
    exact: tuple[np.ndarray, ...],
    *,
    tie_rule: bool = True,
) -> dict[str, Any]:
    """Whether range results equal the exact ones.

    With ``tie_rule`` the three CSR arrays must be equal (hashlearn's order). Without it
    each query's ``(distance, id)`` pairs are sorted first: the result *sets* (and each
    item's distance) must be equal.

    Returns
    -------
    dict
        ``identical``, ``queries_differ``, ``missing`` and ``extra`` (pairs).
    """
    lims0, d0, i0 = (np.asarray(a).astype(np.int64) for a in exact)
    lims = np.asarray(lims).astype(np.int64)
    d = np.asarray(distances).astype(np.int64)
    i = np.asarray(ids).astype(np.int64)
    n_queries = lims0.shape[0] - 1
    if lims.shape != lims0.shape:
        return {
            "identical": False,
            "queries_differ": n_queries,
            "missing": None,
            "extra": None,
            "why": f"lims of shape {lims.shape} instead of {lims0.shape}",
        }
    if not tie_rule and d.size:
        query = np.repeat(np.arange(n_queries), np.diff(lims))
        order = np.lexsort((i, d, query))
        d, i = d[order], i[order]
    if np.array_equal(lims, lims0) and np.array_equal(d, d0) and np.array_equal(i, i0):
        return {"identical": True, "queries_differ": 0, "missing": 0, "extra": 0}
    n0 = max(1, int(i0.max(initial=0)) + 1, int(i.max(initial=0)) + 1)
    query0 = np.repeat(np.arange(n_queries), np.diff(lims0))
    query = np.repeat(np.arange(n_queries), np.diff(lims))
    pairs0 = (query0 * n0 + i0) * 4097 + d0
    pairs = (query * n0 + i) * 4097 + d
    missing = np.setdiff1d(pairs0, pairs)
    extra = np.setdiff1d(pairs, pairs0)
    bad_queries = np.union1d(missing // 4097 // n0, extra // 4097 // n0)
    if not tie_rule or (missing.size or extra.size):
        differ = int(bad_queries.size)
    else:  # same sets, wrong order
        per_query = [
            not (
                np.array_equal(d[lims[q] : lims[q + 1]], d0[lims0[q] : lims0[q + 1]])
                and np.array_equal(i[lims[q] : lims[q + 1]], i0[lims0[q] : lims0[q + 1]])
            )
            for q in range(n_queries)
        ]
        differ = int(sum(per_query))
    return {
        "identical": False,
        "queries_differ": differ,
        "missing": int(missing.size),
        "extra": int(extra.size),
    }


def recall_knn(ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Fraction of the exact k-NN ids (padding excluded) that ``ids`` holds, over all rows."""
    hits = total = 0
    for row, row0 in zip(ids, exact_ids, strict=True):
        want = row0[row0 >= 0]
        hits += np.intersect1d(row[row >= 0], want).size
        total += want.size
    return hits / total if total else 1.0


def recall_range(lims: np.ndarray, ids: np.ndarray, exact: tuple[np.ndarray, ...]) -> float:
    """Fraction of the exact range results (all queries together) found in ``lims``/``ids``."""
    lims0, _, i0 = exact
    total = int(lims0[-1])
    if not total:
        return 1.0
    hits = 0
    for q in range(lims0.shape[0] - 1):
        hits += np.intersect1d(ids[lims[q] : lims[q + 1]], i0[lims0[q] : lims0[q + 1]]).size
    return hits / total


def reference_check(
    task: str,
    value: int,
    result: tuple[np.ndarray, ...],
    queries: np.ndarray,
    database: np.ndarray,
    n_check: int,
) -> dict[str, Any]:
    """Check the exact scan on ``n_check`` queries (spread evenly) against numpy.

    The reference: :func:`hashlearn.codes.hamming_distances` to every code, then the
    ``(distance, id)`` order by a stable sort of the codes within reach (ids ascend).
    """
    n_queries = queries.shape[0]
    n_check = min(n_check, n_queries)
    if n_check == 0:
        return {"identical": None, "checked_queries": 0}
    rows = np.unique(np.linspace(0, n_queries - 1, n_check).round().astype(np.int64))
    block = max(1, 2**24 // max(1, database.shape[0]))
    problems = 0
    for start in range(0, rows.shape[0], block):
        chosen = rows[start : start + block]
        D = hamming_distances(queries[chosen], database)
        for row, q in enumerate(chosen):
            d = D[row]
            if task == "knn":
                kk = min(value, d.shape[0])
                kth = np.partition(d, kk - 1)[kk - 1]
                near = np.flatnonzero(d <= kth)  # ascending ids
                top = near[np.argsort(d[near], kind="stable")][:kk]
                want_d = np.full(value, -1, dtype=np.int64)
                want_i = np.full(value, -1, dtype=np.int64)
                want_d[:kk], want_i[:kk] = d[top], top
                ok = np.array_equal(result[0][q], want_d) and np.array_equal(result[1][q], want_i)
            else:
                lims, dist, ids = result
                near = np.flatnonzero(d <= value)
                inside = near[np.argsort(d[near], kind="stable")]
                ok = np.array_equal(ids[lims[q] : lims[q + 1]], inside) and np.array_equal(
                    dist[lims[q] : lims[q + 1]], d[inside]
                )
            problems += not ok
    return {
        "identical": problems == 0,
        "checked_queries": int(rows.shape[0]),
        "queries_differ": problems,
    }


def fill_identity(
    row: dict[str, Any],
    contender: Contender,
    task: str,
    value: int,
    result: Any,
    exact: tuple[np.ndarray, ...] | None,
    queries: np.ndarray,
    database: np.ndarray,
    check_queries: int,
) -> tuple[np.ndarray, ...] | None:
    """Fill the identity fields of one record; returns the exact result.

    The exact scan (the contender named ``LinearScanIndex``) sets the exact result
    (``exact`` is None until it ran) and is itself checked against numpy on
    ``check_queries`` queries; every other contender is compared with that result.
    Sets ``identical``, ``identity`` (what it was compared against and how it differs),
    ``recall`` and, for range search, ``results_per_query``.
    """
    if contender.name == "LinearScanIndex":
        exact = tuple(np.asarray(a) for a in result)
        check = reference_check(task, value, exact, queries, database, check_queries)
        row["identical"] = check["identical"]
        row["identity"] = {"against": "numpy reference", **check}
        row["recall"] = 1.0 if check["identical"] is not False else None
        if task == "range":
            row["results_per_query"] = float(exact[0][-1]) / max(1, queries.shape[0])
        return exact
    if exact is None:
        row["identical"] = None
        row["identity"] = {"against": None, "why": "the exact scan did not run"}
        return exact
    if task == "knn":
        check = compare_knn(
            result[0],
            result[1],
            exact[0],
            exact[1],
            queries,
            database,
            tie_rule=contender.tie_rule,
        )
        row["recall"] = recall_knn(np.asarray(result[1]), exact[1])
    else:
        check = compare_range(result[0], result[1], result[2], exact, tie_rule=contender.tie_rule)
        row["recall"] = recall_range(np.asarray(result[0]), np.asarray(result[2]), exact)
        row["results_per_query"] = float(exact[0][-1]) / max(1, queries.shape[0])
    row["identical"] = check["identical"]
    row["identity"] = {
        "against": "LinearScanIndex",
        "rule": "(distance, id) order" if contender.tie_rule else "faiss: ties in any order",
        **check,
    }
    return exact
