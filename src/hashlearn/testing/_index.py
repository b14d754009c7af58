"""Contract checks for binary indexes, and the brute-force references they compare with.

:func:`check_index` runs the search contract of :mod:`hashlearn.index._base` on an index
class or factory of your own (like scikit-learn's ``check_estimator`` for estimators) and
raises ``AssertionError`` naming the rule that fails. :func:`knn_reference` and
:func:`range_reference` are the oracles: a full ``(distance, id)`` sort of the Hamming
distances, computed with :func:`numpy.unpackbits` and nothing else of hashlearn, so they
are slow (``O(n_queries * n_database * n_bits)``) and obviously right.

The rules (the names used in the messages)
------------------------------------------
``result types``
    ``search`` returns ``int32`` distances and ``int64`` ids of shape ``(n_queries, k)``;
    ``range_search`` returns ``int64`` lims of shape ``(n_queries + 1,)`` and ``int32`` /
    ``int64`` arrays of length ``lims[-1]``.
``csr layout``
    ``lims[0] == 0``, ``lims`` never decreases and ``lims[-1]`` is the number of results.
``true distances``
    Every returned id is in ``[0, ntotal)`` and its distance is its true Hamming distance
    to the query.
``no duplicates``
    No id appears twice in one query's results.
``sorted by (distance, id)``
    Every result list is sorted by distance, then by database id.
``k capped``
    ``search`` returns ``min(k, ntotal)`` columns, also for a ``k`` far beyond ``ntotal``
    (``10**12``): no column of padding only.
``padding``
    Missing ``search`` entries are ``-1`` in both arrays, after every real entry; an exact
    index never pads.
``tie rule``
    Equal distances break by the smaller id, also at the ``k``-th position (exact indexes;
    the ids differ from the reference while the distances agree).
``exact k-NN`` / ``exact range search``
    An exact index returns what :func:`knn_reference` / :func:`range_reference` return.
``subset of exact range``
    An approximate index returns, within ``radius``, only codes the exact search returns.
``result budget``
    A ``range_search`` whose results exceed ``max_results`` raises
    :class:`~hashlearn.index.RangeResultLimitError`; within the budget, answering the
    queries in blocks gives the same arrays as one call.
``empty index``, ``no queries``, ``successive adds``, ``reset``, ``len and ntotal``
    An empty index gives ``(n_queries, 0)`` arrays and empty lists; zero queries give
    empty results; adding in pieces equals adding at once; ``reset`` empties the index;
    ``len(index) == ntotal``.
``argument checks``
    Bad ``k`` or ``radius``, codes of the wrong width, dtype or dimension, and set padding
    bits raise ``ValueError`` / ``TypeError`` (and a refused ``add`` stores nothing).
``save/load round trip``
    ``hashlearn.load(index.save(path))`` answers every query identically.
"""

from __future__ import annotations

import numbers
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn._validation import check_k, check_radius
from hashlearn.persistence import load
from hashlearn.testing._metrics import hamming_distances_reference

__all__ = [
    "check_index",
    "clustered_codes",
    "knn_reference",
    "random_codes",
    "range_reference",
]


# -- references ----------------------------------------------------------------------------
def knn_reference(queries: Any, database: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-NN by a full sort of each row by ``(distance, id)``, ``k`` capped at the
    database size.

    Parameters
    ----------
    queries : ndarray of uint8, shape (n_queries, n_bytes)
    database : ndarray of uint8, shape (n_database, n_bytes)
    k : int
        Neighbours per query, ``>= 1``.

    Returns
    -------
    distances : ndarray of int32, shape (n_queries, min(k, n_database))
    indices : ndarray of int64, shape (n_queries, min(k, n_database))
        The ``min(k, n_database)`` smallest ``(distance, id)`` pairs of each query.

    Examples
    --------
    >>> import numpy as np
    >>> database = np.array([[0b0000], [0b0011], [0b0001]], dtype=np.uint8)
    >>> knn_reference(np.array([[0b0001]], dtype=np.uint8), database, 4)
    (array([[0, 1, 1]], dtype=int32), array([[2, 0, 1]]))
    """
    k = check_k(k)
    distances = hamming_distances_reference(queries, database)
    n = distances.shape[1]
    kept = min(k, n)
    ids = np.broadcast_to(np.arange(n, dtype=np.int64), distances.shape)
    order = np.lexsort((ids, distances), axis=1)[:, :kept]
    out_d = np.take_along_axis(distances, order, axis=1).astype(np.int32)
    return out_d, order.astype(np.int64)


def range_reference(
    queries: Any, database: Any, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every code within Hamming distance ``radius``, sorted by ``(distance, id)``, as CSR.

    Parameters
    ----------
    queries : ndarray of uint8, shape (n_queries, n_bytes)
    database : ndarray of uint8, shape (n_database, n_bytes)
    radius : int
        Largest distance returned, ``>= 0``.

    Returns
    -------
    lims : ndarray of int64, shape (n_queries + 1,)
    distances : ndarray of int32, shape (lims[-1],)
    indices : ndarray of int64, shape (lims[-1],)
        Query ``i``'s results are ``[lims[i]:lims[i + 1]]``.

    Examples
    --------
    >>> import numpy as np
    >>> database = np.array([[0b0000], [0b0011], [0b0001]], dtype=np.uint8)
    >>> range_reference(np.array([[0b0001]], dtype=np.uint8), database, 0)
    (array([0, 1]), array([0], dtype=int32), array([2]))
    """
    radius = check_radius(radius)
    distances = hamming_distances_reference(queries, database)
    lims = np.zeros(distances.shape[0] + 1, dtype=np.int64)
    rows_d, rows_i = [], []
    for i, row in enumerate(distances):
        hits = np.flatnonzero(row <= radius)  # ascending ids: a stable sort keeps them so
        order = hits[np.argsort(row[hits], kind="stable")]
        rows_d.append(row[order])
        rows_i.append(order.astype(np.int64))
        lims[i + 1] = lims[i] + order.shape[0]
    empty_d, empty_i = np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64)
    return (
        lims,
        np.concatenate([empty_d, *rows_d]).astype(np.int32),
        np.concatenate([empty_i, *rows_i]),
    )


# -- the contract check --------------------------------------------------------------------
class _Checker:
    """Runs the rules on indexes built by one factory, naming the failing rule."""

    def __init__(self, make_index: Callable[[int], Any], exact: bool) -> None:
        self.make_index = make_index
        self.exact = exact
        self.name = getattr(make_index, "__qualname__", None) or repr(make_index)

    def fail(self, rule: str, detail: str) -> None:
        raise AssertionError(f"{self.name} breaks the index contract, rule '{rule}': {detail}")

    def require(self, condition: Any, rule: str, detail: str) -> None:
        if not condition:
            self.fail(rule, detail)

    def build(self, n_bits: int, database: np.ndarray) -> Any:
        index = self.make_index(n_bits)
        index.add(database)
        self.require(
            index.ntotal == len(index) == database.shape[0],
            "len and ntotal",
            f"after adding {database.shape[0]} codes, ntotal={index.ntotal} and "
            f"len(index)={len(index)}",
        )
        return index

    # -- one search ----------------------------------------------------------------------
    def check_search(
        self, index: Any, queries: np.ndarray, database: np.ndarray, k: int, where: str
    ) -> tuple[np.ndarray, np.ndarray]:
        distances, ids = index.search(queries, k)
        shape = (queries.shape[0], min(k, database.shape[0]))
        self.require(
            isinstance(distances, np.ndarray)
            and isinstance(ids, np.ndarray)
            and distances.dtype == np.int32
            and ids.dtype == np.int64
            and distances.shape == ids.shape == shape,
            "result types" if k <= database.shape[0] else "k capped",
            f"search({where}, k={k}) over {database.shape[0]} codes must return int32 and "
            f"int64 arrays of shape {shape}, "
            f"got {getattr(distances, 'dtype', type(distances))} "
            f"{getattr(distances, 'shape', '')} and {getattr(ids, 'dtype', type(ids))} "
            f"{getattr(ids, 'shape', '')}",
        )
        true = hamming_distances_reference(queries, database)
        for row in range(shape[0]):
            real = ids[row] >= 0
            self.require(
                np.array_equal(real, distances[row] >= 0) and real[: real.sum()].all(),
                "padding",
                f"search({where}, k={k}) query {row}: missing entries must be -1 in both "
                f"arrays and come after every result; got ids {ids[row].tolist()} and "
                f"distances {distances[row].tolist()}",
            )
            self.check_list(
                distances[row][real], ids[row][real], true[row], f"search({where}, k={k})", row
            )
            if self.exact:
                self.require(
                    real.sum() == min(k, database.shape[0]),
                    "padding",
                    f"search({where}, k={k}) query {row} has {int(real.sum())} results, but "
                    f"min(k, ntotal) = {min(k, database.shape[0])} exist",
                )
        if self.exact:
            self.compare_knn((distances, ids), knn_reference(queries, database, k), where, k)
        return distances, ids

    def check_list(
        self, distances: np.ndarray, ids: np.ndarray, true: np.ndarray, call: str, row: int
    ) -> None:
        """Rules every result list obeys, exact or approximate."""
        self.require(
            ((ids >= 0) & (ids < true.shape[0])).all(),
            "true distances",
            f"{call} query {row} returned ids outside [0, {true.shape[0]}): {ids.tolist()}",
        )
        self.require(
            np.array_equal(distances, true[ids]),
            "true distances",
            f"{call} query {row}: distances {distances.tolist()} for ids {ids.tolist()}, "
            f"but their Hamming distances are {true[ids].tolist()}",
        )
        self.require(
            np.unique(ids).shape[0] == ids.shape[0],
            "no duplicates",
            f"{call} query {row} returned an id twice: {ids.tolist()}",
        )
        ordered = (distances[1:] > distances[:-1]) | (
            (distances[1:] == distances[:-1]) & (ids[1:] > ids[:-1])
        )
        self.require(
            ordered.all(),
            "sorted by (distance, id)",
            f"{call} query {row}: (distance, id) pairs "
            f"{list(zip(distances.tolist(), ids.tolist(), strict=True))} are not in "
            "increasing order (ties must be broken by the smaller id)",
        )

    def compare_knn(
        self,
        got: tuple[np.ndarray, np.ndarray],
        want: tuple[np.ndarray, np.ndarray],
        where: str,
        k: int,
    ) -> None:
        if not np.array_equal(got[0], want[0]):
            row = int(np.flatnonzero((got[0] != want[0]).any(axis=1))[0])
            self.fail(
                "exact k-NN",
                f"search({where}, k={k}) query {row}: distances {got[0][row].tolist()}, "
                f"brute force {want[0][row].tolist()}",
            )
        if not np.array_equal(got[1], want[1]):
            row = int(np.flatnonzero((got[1] != want[1]).any(axis=1))[0])
            self.fail(
                "tie rule",
                f"search({where}, k={k}) query {row}: ids {got[1][row].tolist()}, but "
                f"equal distances break by the smaller id: {want[1][row].tolist()}",
            )

    def check_range(
        self, index: Any, queries: np.ndarray, database: np.ndarray, radius: int, where: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        result = index.range_search(queries, radius)
        lims, distances, ids = result
        call = f"range_search({where}, radius={radius})"
        self.require(
            all(isinstance(a, np.ndarray) for a in result)
            and (lims.dtype, distances.dtype, ids.dtype) == (np.int64, np.int32, np.int64)
            and lims.shape == (queries.shape[0] + 1,)
            and distances.ndim == ids.ndim == 1,
            "result types",
            f"{call} must return int64 lims of shape ({queries.shape[0] + 1},) and 1-D "
            "int32 distances and int64 ids",
        )
        self.require(
            lims[0] == 0 and (np.diff(lims) >= 0).all() and lims[-1] == ids.shape[0],
            "csr layout",
            f"{call}: lims {lims.tolist()} must start at 0, never decrease and end at the "
            f"number of results ({ids.shape[0]}, distances {distances.shape[0]})",
        )
        self.require(
            distances.shape == ids.shape,
            "csr layout",
            f"{call}: distances and ids differ in length",
        )
        true = hamming_distances_reference(queries, database)
        want = range_reference(queries, database, radius)
        for row in range(queries.shape[0]):
            part = slice(lims[row], lims[row + 1])
            self.check_list(distances[part], ids[part], true[row], call, row)
            exact_ids = want[2][want[0][row] : want[0][row + 1]]
            if self.exact:
                self.require(
                    np.array_equal(ids[part], exact_ids),
                    "exact range search",
                    f"{call} query {row}: ids {ids[part].tolist()}, brute force "
                    f"{exact_ids.tolist()}",
                )
            else:
                self.require(
                    np.isin(ids[part], exact_ids).all(),
                    "subset of exact range",
                    f"{call} query {row} returned codes beyond the radius: "
                    f"{np.setdiff1d(ids[part], exact_ids).tolist()}",
                )
        return lims, distances, ids

    # -- groups of rules -------------------------------------------------------------------
    def check_data(self, n_bits: int, name: str, database: np.ndarray, queries: np.ndarray) -> Any:
        index = self.build(n_bits, database)
        n = database.shape[0]
        for k in sorted({1, 5, max(1, n // 3), n, n + 7, 10**12}):
            self.check_search(index, queries, database, k, name)
        for radius in sorted({0, 1, n_bits // 4, n_bits // 2, n_bits, n_bits + 3}):
            self.check_range(index, queries, database, radius, name)
        self.check_budget(index, queries, max(1, n_bits // 2), name)
        return index

    def check_budget(self, index: Any, queries: np.ndarray, radius: int, where: str) -> None:
        """The ``max_results`` budget: an exact budget passes (in blocks), one less raises."""
        from hashlearn.index import RangeResultLimitError

        whole = index.range_search(queries, radius)
        total = int(whole[0][-1])
        if total == 0:
            return
        call = f"range_search({where}, radius={radius}, max_results=...)"
        within = index.range_search(queries, radius, max_results=total)
        self.require(
            all(np.array_equal(a, b) for a, b in zip(within, whole, strict=True)),
            "result budget",
            f"{call} with max_results={total} (exactly the result count) gives other "
            "arrays than without a budget",
        )
        try:
            index.range_search(queries, radius, max_results=total - 1 or None)
        except RangeResultLimitError:
            return
        if total > 1:
            self.fail(
                "result budget",
                f"{call}: {total} results exceed max_results={total - 1}, but no "
                "RangeResultLimitError was raised",
            )

    def check_empty(self, n_bits: int, queries: np.ndarray) -> None:
        index = self.make_index(n_bits)
        self.require(index.ntotal == len(index) == 0, "empty index", "a new index is not empty")
        distances, ids = index.search(queries, 4)
        self.require(
            distances.shape == ids.shape == (queries.shape[0], 0)
            and distances.dtype == np.int32
            and ids.dtype == np.int64,
            "empty index",
            f"search on an empty index must return (n_queries, 0) int32 and int64 arrays, "
            f"got {distances.dtype} {distances.shape} and {ids.dtype} {ids.shape}",
        )
        lims, distances, ids = index.range_search(queries, n_bits)
        self.require(
            np.array_equal(lims, np.zeros(queries.shape[0] + 1)) and ids.size == 0,
            "empty index",
            f"range_search on an empty index must return empty lists, got lims {lims.tolist()}",
        )
        index.add(queries[:3])
        none = np.zeros((0, queries.shape[1]), dtype=np.uint8)
        distances, ids = index.search(none, 3)
        lims, _, _ = index.range_search(none, 1)
        self.require(
            distances.shape == ids.shape == (0, 3) and np.array_equal(lims, [0]),
            "no queries",
            f"zero queries must give (0, k) arrays and lims [0], got {ids.shape} and "
            f"{lims.tolist()}",
        )

    def check_adds_and_reset(self, n_bits: int, database: np.ndarray, queries: np.ndarray) -> None:
        whole = self.build(n_bits, database)
        parts = self.make_index(n_bits)
        for piece in np.array_split(database, [1, 2, 40, 40]):
            parts.add(piece)
        k = 9
        self.require(
            parts.ntotal == database.shape[0]
            and np.array_equal(parts.search(queries, k)[1], whole.search(queries, k)[1])
            and np.array_equal(
                parts.range_search(queries, 2)[2], whole.range_search(queries, 2)[2]
            ),
            "successive adds",
            "adding the codes in pieces (1, 1, 38, 0 and the rest) gives other results than "
            "adding them at once",
        )
        parts.reset()
        self.require(
            parts.ntotal == 0 and parts.search(queries, 2)[1].shape == (queries.shape[0], 0),
            "reset",
            f"after reset() the index holds {parts.ntotal} codes",
        )
        parts.add(database[:5])
        self.require(
            parts.ntotal == 5
            and set(parts.search(queries, 5)[1].ravel().tolist()) <= set(range(-1, 5)),
            "reset",
            "after reset() and add, ids do not restart at 0",
        )

    def check_arguments(self, n_bits: int, database: np.ndarray) -> None:
        index = self.build(n_bits, database)
        width = database.shape[1]
        queries = database[:2]
        cases: list[tuple[str, Callable[[], Any], type[Exception]]] = [
            ("search(queries, k=0)", lambda: index.search(queries, 0), ValueError),
            ("search(queries, k=-3)", lambda: index.search(queries, -3), ValueError),
            ("search(queries, k=2.5)", lambda: index.search(queries, 2.5), TypeError),
            ("search(queries, k=None)", lambda: index.search(queries, None), TypeError),
            (
                "range_search(queries, radius=-1)",
                lambda: index.range_search(queries, -1),
                ValueError,
            ),
            (
                "range_search(queries, radius=1.5)",
                lambda: index.range_search(queries, 1.5),
                TypeError,
            ),
            (
                f"search on codes of {width + 1} bytes",
                lambda: index.search(np.zeros((2, width + 1), dtype=np.uint8), 1),
                ValueError,
            ),
            (
                "search on int64 codes",
                lambda: index.search(queries.astype(np.int64), 1),
                TypeError,
            ),
            ("search on 1-D codes", lambda: index.search(queries[0], 1), ValueError),
            (
                f"add of codes of {width + 1} bytes",
                lambda: index.add(np.zeros((2, width + 1), dtype=np.uint8)),
                ValueError,
            ),
            ("add of float codes", lambda: index.add(queries.astype(np.float64)), TypeError),
        ]
        if n_bits % 8:
            bad = np.zeros((1, width), dtype=np.uint8)
            bad[0, -1] = 0xFF
            cases.append(
                ("add of a code with set padding bits", lambda: index.add(bad), ValueError)
            )
        for call, run, error in cases:
            try:
                run()
            except error:
                continue
            except Exception as exc:
                self.fail(
                    "argument checks",
                    f"{call} must raise {error.__name__}, raised {type(exc).__name__}: {exc}",
                )
            self.fail("argument checks", f"{call} must raise {error.__name__}, raised nothing")
        self.require(
            index.ntotal == database.shape[0],
            "argument checks",
            f"refused adds changed ntotal from {database.shape[0]} to {index.ntotal}",
        )

    def check_round_trip(self, index: Any, queries: np.ndarray, n_bits: int) -> None:
        if not callable(getattr(index, "save", None)):
            self.fail("save/load round trip", "the index has no save(path) method")
        with tempfile.TemporaryDirectory() as folder:
            path = index.save(Path(folder) / "index.hlz")
            loaded = load(path)
        for k in (1, 10, index.ntotal + 2):
            for got, want in zip(loaded.search(queries, k), index.search(queries, k), strict=True):
                self.require(
                    np.array_equal(got, want),
                    "save/load round trip",
                    f"search(k={k}) after hashlearn.load differs from before save",
                )
        for radius in (0, n_bits // 2):
            got_r = loaded.range_search(queries, radius)
            want_r = index.range_search(queries, radius)
            self.require(
                all(np.array_equal(a, b) for a, b in zip(got_r, want_r, strict=True)),
                "save/load round trip",
                f"range_search(radius={radius}) after hashlearn.load differs from before save",
            )


def random_codes(rng: np.random.Generator, n: int, n_bits: int) -> np.ndarray:
    """``n`` uniformly random packed codes of ``n_bits`` bits (test data)."""
    bits = rng.integers(0, 2, size=(n, n_bits), dtype=np.uint8)
    return np.packbits(bits, axis=1, bitorder="little")


def clustered_codes(
    rng: np.random.Generator, n: int, n_bits: int, *, n_centres: int = 3, flip: float = 0.1
) -> np.ndarray:
    """``n`` packed codes near ``n_centres`` random centres, each bit flipped with
    probability ``flip`` (test data): crowded distances, many ties."""
    centres = rng.integers(0, 2, size=(n_centres, n_bits), dtype=np.uint8)
    bits = centres[rng.integers(0, n_centres, n)]
    bits ^= (rng.random(bits.shape) < flip).astype(np.uint8)
    return np.packbits(bits, axis=1, bitorder="little")


def _check_n_bits(n_bits: Any) -> tuple[int, ...]:
    values = (n_bits,) if isinstance(n_bits, numbers.Integral) else tuple(n_bits)
    if not values or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1 for v in values
    ):
        raise ValueError(f"n_bits must be an int >= 1 or a sequence of them, got {n_bits!r}")
    return tuple(int(v) for v in values)


def check_index(
    make_index: Callable[[int], Any],
    *,
    n_bits: int | Sequence[int] = (8, 13, 32),
    exact: bool = True,
    n_database: int = 150,
    n_queries: int = 8,
    persistence: bool = True,
    random_state: int = 0,
) -> None:
    """Check that an index follows hashlearn's search contract; raise on the first violation.

    Builds indexes with ``make_index(n_bits)`` and checks, on random codes, clustered
    codes (many ties), identical codes (all ties) and a database smaller than ``k``: the
    result types, the CSR layout, true distances, no duplicates, the ``(distance, id)``
    order, padding with ``-1``, the empty index, zero queries, successive adds, ``reset``,
    argument errors and the save/load round trip; and, for an exact index, equality with
    :func:`knn_reference` / :func:`range_reference` (which checks the tie rule); for an
    approximate one, that range results are a subset of the exact ones. The module
    docstring lists every rule by the name the messages use.

    Parameters
    ----------
    make_index : callable
        ``make_index(n_bits)`` returns a new empty index (an index class taking ``n_bits``
        works as it is; wrap others, e.g. ``lambda n_bits: MyIndex(n_bits, probes=4)``).
        The index needs ``add``, ``search``, ``range_search``, ``reset``, ``ntotal``,
        ``__len__`` and, unless ``persistence=False``, ``save``.
    n_bits : int or sequence of int, default (8, 13, 32)
        Code lengths to check (include one that is not a multiple of 8).
    exact : bool, default True
        Whether the index promises exact results. ``False`` checks only the rules an
        approximate index keeps (results are true, ordered, distinct; range results a
        subset of the exact ones).
    n_database, n_queries : int, default 150 and 8
        Sizes of the random databases and query sets; small enough for a unit test.
    persistence : bool, default True
        Check that :func:`hashlearn.load` of a saved index answers identically.
    random_state : int, default 0
        Seed of the generated codes.

    Warnings the index emits while checked (advice such as a probe-cost warning) are
    silenced: they are not part of the contract.

    Raises
    ------
    AssertionError
        On the first violated rule: the message names the rule, the call and the query.

    Examples
    --------
    >>> from hashlearn.index import LinearScanIndex
    >>> check_index(LinearScanIndex, n_bits=12)
    """
    sizes = _check_n_bits(n_bits)
    checker = _Checker(make_index, bool(exact))
    rng = np.random.default_rng(random_state)
    with warnings.catch_warnings():
        # Advice such as a hash table's probe-cost warning is not part of the contract.
        warnings.simplefilter("ignore")
        for bits in sizes:
            _check_one_length(checker, rng, bits, n_database, n_queries, persistence)


def _check_one_length(
    checker: _Checker,
    rng: np.random.Generator,
    bits: int,
    n_database: int,
    n_queries: int,
    persistence: bool,
) -> None:
    queries = random_codes(rng, n_queries, bits)
    random_db = random_codes(rng, n_database, bits)
    mixed = np.concatenate([queries, random_db[:3]])  # some queries at distance 0
    index = checker.check_data(bits, "random codes", random_db, mixed)
    clustered = clustered_codes(rng, n_database, bits)
    checker.check_data(bits, "clustered codes", clustered, clustered_codes(rng, n_queries, bits))
    same = np.repeat(random_codes(rng, 1, bits), 12, axis=0)  # every distance tied
    checker.check_data(bits, "identical codes", same, np.concatenate([same[:1], queries[:2]]))
    checker.check_data(bits, "5 codes", random_db[:5], queries)  # k > ntotal: capped
    checker.check_empty(bits, queries)
    checker.check_adds_and_reset(bits, clustered, queries)
    checker.check_arguments(bits, random_db[:20])
    if persistence:
        checker.check_round_trip(index, mixed, bits)
