"""Per-query cost of Hamming-radius search + cosine re-ranking: hashlearn vs the tutorial.

The tutorial protocol (:mod:`hashlearn.experiments.tutorial`) answers a query by probing
every bucket within Hamming radius ``r`` of its code, then re-ranking the candidates by
cosine distance and keeping the top ``k = 10``. This script times that query, one query at
a time, two ways in the same run (the machines are noisy; the ratio is what matters):

* **hashlearn**: :class:`~hashlearn.index.HashTableIndex` ``range_search`` (CSR buckets,
  vectorised probing) followed by :class:`~hashlearn.index.CosineReranker` ``search``,
  exactly the timed path of :func:`hashlearn.experiments.run_tutorial`;
* **tutorial**: a re-implementation of the tutorial's approach written from its
  description: a Python ``dict`` from the integer bucket key to a list of database ids;
  per query and radius ``r``, for every ``r' <= r`` and every
  ``itertools.combinations(range(n_bits), r')``, flip those bits in a boolean copy of the
  query's code, turn it into the integer key by a dot product with the powers of two, look
  it up and union the ids into a Python ``set``; then
  ``sklearn.metrics.pairwise_distances(candidates, query, metric="cosine")`` and a sort of
  the ``(distance, id)`` pairs, top 10. The original sorted a pandas DataFrame; pandas is
  not a dependency, so the candidate ids are put in ascending order and the distances
  sorted with ``np.argsort(kind="stable")``, which orders the pairs by (distance, id)
  just as hashlearn does (same tie rule, so the top-10 lists can be compared exactly).

The two queries are timed alternately, query by query, after one untimed warm-up query.
An exhaustive cosine search over the whole database (CosineReranker with every item as a
candidate, and the tutorial-style ``pairwise_distances`` + sort over every item) is timed
in the same run for reference.

Correctness first: for every method, radius and query, both approaches must find the same
candidate set and the same top-10 ids; a differing top-10 is tolerated only when the
disagreeing items are a floating-point near-tie (cosine distances computed in float64
within ``1e-6``); anything else fails the run (exit status 1).

Data: CIFAR-10 GIST-512 (``--data-dir`` or ``$HASHLEARN_DATA``; computed once and cached),
else scikit-learn's 8x8 digits with a notice; the tutorial split and preprocessing
(:func:`~hashlearn.experiments.tutorial_split`, :func:`~hashlearn.experiments.
preprocess_tutorial`); 16-bit LSH and GRH with their defaults (``random_state=0``) fitted
on the training split; the 120 tutorial queries; radii ``0..3``.

Usage::

    python benchmarks/bench_tutorial_search.py --data-dir /work/shared/data
    python benchmarks/bench_tutorial_search.py --max-radius 2 --n-queries 40 --json out.json
    python benchmarks/bench_tutorial_search.py --dataset digits          # offline, tiny
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from typing import Any

import numpy as np
from sklearn.metrics import pairwise_distances

from _common import machine, now, write_json
from hashlearn.datasets import find_cifar10_source, load_cifar10_gist, load_digits_dataset
from hashlearn.experiments import preprocess_tutorial, tutorial_split
from hashlearn.hashers import GRH, LSH
from hashlearn.index import CosineReranker, HashTableIndex

K = 10
NEAR_TIE = 1e-6


def tutorial_build(database_bits: np.ndarray) -> tuple[dict[int, list[int]], np.ndarray]:
    """A ``dict`` from integer bucket key to the list of database ids in that bucket.

    The key of a code is ``bits . [1, 2, 4, ...]``; returns the table and the powers.
    """
    powers = 2 ** np.arange(database_bits.shape[1], dtype=np.int64)
    table: dict[int, list[int]] = {}
    for item, key in enumerate(database_bits.astype(np.int64).dot(powers).tolist()):
        table.setdefault(key, []).append(item)
    return table, powers


def tutorial_query(
    table: dict[int, list[int]],
    powers: np.ndarray,
    query_bits: np.ndarray,
    radius: int,
    database: np.ndarray,
    query: np.ndarray,
    k: int = K,
) -> tuple[np.ndarray, np.ndarray]:
    """Probe every bucket within ``radius`` bit flips, re-rank by cosine; top ``k`` ids.

    ``query_bits`` is the query's code as booleans. Returns the ids (ascending distance,
    ties by id) and the number of distinct candidates.
    """
    n_bits = query_bits.shape[0]
    candidates: set[int] = set()
    for flips in range(radius + 1):
        for positions in itertools.combinations(range(n_bits), flips):
            probe = query_bits.copy()
            probe[list(positions)] = ~probe[list(positions)]
            members = table.get(int(probe.dot(powers)))
            if members is not None:
                candidates.update(members)
    if not candidates:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    ids = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
    ids.sort()
    distances = pairwise_distances(database[ids], query.reshape(1, -1), metric="cosine")
    order = np.argsort(distances.ravel(), kind="stable")[:k]
    return ids[order], ids


def tutorial_exhaustive(database: np.ndarray, query: np.ndarray, k: int = K) -> np.ndarray:
    """The tutorial-style brute force: cosine distance to every item, sort, top ``k``."""
    distances = pairwise_distances(database, query.reshape(1, -1), metric="cosine")
    return np.argsort(distances.ravel(), kind="stable")[:k]


# -- hashlearn -------------------------------------------------------------------------------
def hashlearn_query(
    table: HashTableIndex,
    reranker: CosineReranker,
    query_code: np.ndarray,
    radius: int,
    query: np.ndarray,
    k: int = K,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One query: ``range_search`` then ``CosineReranker.search``; ids without padding."""
    lims, _, found = table.range_search(query_code.reshape(1, -1), radius)
    _, top = reranker.search(query.reshape(1, -1), lims, found, k)
    return top[0][top[0] >= 0], lims, found


def _cosine64(database: np.ndarray, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
    rows = database[ids].astype(np.float64)
    q = query.astype(np.float64)
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(q)
    return 1 - (rows @ q) / np.where(norms > 0, norms, 1)


def _compare(database: np.ndarray, query: np.ndarray, ours: np.ndarray, theirs: np.ndarray) -> str:
    """``"same"``, ``"near-tie"`` (float rounding between equal-looking items) or ``"differ"``."""
    if ours.shape == theirs.shape and np.array_equal(ours, theirs):
        return "same"
    if ours.shape != theirs.shape:
        return "differ"
    a = _cosine64(database, ours, query)
    b = _cosine64(database, theirs, query)
    # Rank by rank the distances agree: the lists differ only in how equal (to float
    # rounding) distances were ordered.
    if not np.allclose(a, b, rtol=0, atol=NEAR_TIE):
        return "differ"
    return "near-tie"


# -- the benchmark ------------------------------------------------------------------------------
def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="data directory ($HASHLEARN_DATA)")
    parser.add_argument(
        "--dataset",
        choices=("auto", "cifar10-gist", "digits"),
        default="auto",
        help="auto: CIFAR-10 GIST-512 when found without a download, else digits",
    )
    parser.add_argument("--n-bits", type=int, default=16, help="code length (default 16)")
    parser.add_argument("--max-radius", type=int, default=3, help="radii 0..R (default 3)")
    parser.add_argument(
        "--n-queries", type=int, default=None, help="time only the first N tutorial queries"
    )
    parser.add_argument("--methods", nargs="+", choices=("lsh", "grh"), default=["lsh", "grh"])
    parser.add_argument("--seed", type=int, default=0, help="random_state of the hashers")
    parser.add_argument(
        "--no-exhaustive", action="store_true", help="skip the exhaustive reference"
    )
    parser.add_argument("--progress", action="store_true", help="progress bar when computing GIST")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.n_bits <= 64:
        parser.error(f"--n-bits must be in [1, 64], got {args.n_bits}")
    if not 0 <= args.max_radius <= args.n_bits:
        parser.error(f"--max-radius must be in [0, --n-bits], got {args.max_radius}")
    if args.n_queries is not None and args.n_queries < 1:
        parser.error("--n-queries must be >= 1")
    return args


def _load(args: argparse.Namespace) -> tuple[Any, str | None]:
    if args.dataset == "digits":
        return load_digits_dataset(), None
    try:
        found = find_cifar10_source(args.data_dir)
    except FileNotFoundError as exc:  # an explicitly named data directory is missing
        raise SystemExit(f"error: {exc}") from None
    if found is None:
        if args.dataset == "cifar10-gist":
            raise SystemExit("CIFAR-10 not found: pass --data-dir or set HASHLEARN_DATA")
        notice = (
            "NOTICE: CIFAR-10 not found (set HASHLEARN_DATA or --data-dir); using "
            "scikit-learn's 8x8 digits instead: timings are NOT comparable to CIFAR-10"
        )
        return load_digits_dataset(), notice
    print(f"loading CIFAR-10 GIST-512 ({found}; computed once, then cached)", flush=True)
    return load_cifar10_gist(args.data_dir, download=False, progress=args.progress), None


def _make_hasher(name: str, n_bits: int, seed: int) -> Any:
    return (
        LSH(n_bits=n_bits, random_state=seed) if name == "lsh" else GRH(n_bits, random_state=seed)
    )


def _bench_method(
    name: str,
    args: argparse.Namespace,
    features: np.ndarray,
    labels: np.ndarray,
    split: Any,
    queries: np.ndarray,
    reranker: CosineReranker,
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    database = features[split.database]
    query_vectors = features[queries]
    hasher = _make_hasher(name, args.n_bits, args.seed)
    start = time.perf_counter()
    hasher.fit(features[split.train], labels[split.train])
    fit_seconds = time.perf_counter() - start

    database_codes = hasher.encode(database)
    query_codes = hasher.encode(query_vectors)
    database_bits = hasher.transform(database).astype(bool)
    query_bits = hasher.transform(query_vectors).astype(bool)

    start = time.perf_counter()
    index = HashTableIndex(args.n_bits).add(database_codes)
    ours_build = time.perf_counter() - start
    start = time.perf_counter()
    table, powers = tutorial_build(database_bits)
    theirs_build = time.perf_counter() - start
    assert index.n_buckets == len(table), (index.n_buckets, len(table))
    build = {
        "method": name,
        "fit_seconds": fit_seconds,
        "n_buckets": index.n_buckets,
        "hashlearn_build_ms": ours_build * 1e3,
        "tutorial_build_ms": theirs_build * 1e3,
    }

    rows, problems = [], []
    n = len(queries)
    for radius in range(args.max_radius + 1):
        # Untimed warm-up of both paths (caches, lazily built masks).
        hashlearn_query(index, reranker, query_codes[0], radius, query_vectors[0])
        tutorial_query(table, powers, query_bits[0], radius, database, query_vectors[0])
        ours_ms, theirs_ms, n_candidates = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
        verdicts = {"same": 0, "near-tie": 0, "differ": 0}
        scanned = 0
        for i in range(n):
            start = time.perf_counter()
            ours, lims, found = hashlearn_query(
                index, reranker, query_codes[i], radius, query_vectors[i]
            )
            ours_ms[i] = (time.perf_counter() - start) * 1e3
            scanned += bool(index.last_stats_.scanned[0]) if index.last_stats_ else 0
            start = time.perf_counter()
            theirs, candidates = tutorial_query(
                table, powers, query_bits[i], radius, database, query_vectors[i]
            )
            theirs_ms[i] = (time.perf_counter() - start) * 1e3

            n_candidates[i] = lims[-1]
            verdict = _compare(database, query_vectors[i], ours, theirs)
            if not np.array_equal(np.sort(found), candidates):
                verdict = "differ"
            verdicts[verdict] += 1
            if verdict != "same":
                problems.append(
                    {
                        "method": name,
                        "radius": radius,
                        "query": int(queries[i]),
                        "verdict": verdict,
                        "hashlearn_candidates": int(lims[-1]),
                        "tutorial_candidates": int(candidates.shape[0]),
                        "hashlearn_top": ours.tolist(),
                        "tutorial_top": theirs.tolist(),
                    }
                )
        rows.append(
            {
                "method": name,
                "radius": radius,
                "buckets_probed_tutorial": sum(
                    math.comb(args.n_bits, d) for d in range(radius + 1)
                ),
                "hashlearn_scanned_fraction": scanned / n,
                "mean_candidates": float(n_candidates.mean()),
                "empty_fraction": float(np.mean(n_candidates == 0)),
                "hashlearn_ms": float(ours_ms.mean()),
                "tutorial_ms": float(theirs_ms.mean()),
                "hashlearn_median_ms": float(np.median(ours_ms)),
                "tutorial_median_ms": float(np.median(theirs_ms)),
                "ratio": float(theirs_ms.mean() / ours_ms.mean()),
                "top10_same": verdicts["same"],
                "top10_near_tie": verdicts["near-tie"],
                "top10_differ": verdicts["differ"],
            }
        )
        print(
            f"  {name} r={radius}: {n_candidates.mean():9.1f} candidates, hashlearn "
            f"{ours_ms.mean():8.3f} ms, tutorial {theirs_ms.mean():8.3f} ms, "
            f"x{theirs_ms.mean() / ours_ms.mean():.1f}; top-10 {verdicts}",
            flush=True,
        )
    return rows, build, problems


def _exhaustive(
    database: np.ndarray, query_vectors: np.ndarray, reranker: CosineReranker
) -> dict[str, Any]:
    n_database, n = database.shape[0], query_vectors.shape[0]
    everything = np.arange(n_database, dtype=np.int64)
    whole = np.array([0, n_database], dtype=np.int64)
    ours_ms, theirs_ms = np.zeros(n), np.zeros(n)
    verdicts = {"same": 0, "near-tie": 0, "differ": 0}
    reranker.search(query_vectors[:1], whole, everything, K)  # warm-up
    for i in range(n):
        start = time.perf_counter()
        _, top = reranker.search(query_vectors[i : i + 1], whole, everything, K)
        ours_ms[i] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        theirs = tutorial_exhaustive(database, query_vectors[i])
        theirs_ms[i] = (time.perf_counter() - start) * 1e3
        verdicts[_compare(database, query_vectors[i], top[0], theirs)] += 1
    return {
        "candidates": n_database,
        "hashlearn_ms": float(ours_ms.mean()),
        "tutorial_ms": float(theirs_ms.mean()),
        "hashlearn_median_ms": float(np.median(ours_ms)),
        "tutorial_median_ms": float(np.median(theirs_ms)),
        "ratio": float(theirs_ms.mean() / ours_ms.mean()),
        "top10_same": verdicts["same"],
        "top10_near_tie": verdicts["near-tie"],
        "top10_differ": verdicts["differ"],
    }


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _agree(row: dict[str, Any], n: int) -> str:
    text = f"{row['top10_same']}/{n}"
    if row["top10_near_tie"]:
        text += f" (+{row['top10_near_tie']} near-tie)"
    if row["top10_differ"]:
        text += f" ({row['top10_differ']} DIFFER)"
    return text


def markdown_table(result: dict[str, Any]) -> str:
    """The results as a Markdown table with a caption (for docs/benchmarks.md)."""
    data, facts = result["dataset"], result["machine"]
    n = data["n_queries"]
    lines = [
        f"Hamming-radius search + cosine re-ranking, top {K}, one query at a time: "
        f"{data['name']}, {data['n_database']:,} database items, {n} queries, "
        f"{result['n_bits']} bits. {result['date'][:10]}, {facts['cpu']} "
        f"({facts['cpus']} CPUs), Python {facts['python']}, numpy {facts['numpy']}, "
        f"scikit-learn {facts['scikit_learn']}, BLAS {facts['blas']}.",
        f"Command: `{result['command']}`",
        "",
        "| method | radius | buckets probed | mean candidates | hashlearn ms/query "
        "| tutorial ms/query | tutorial / hashlearn | same top-10 |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['method'].upper()} | {row['radius']} | {row['buckets_probed_tutorial']:,} "
            f"| {row['mean_candidates']:,.1f} | {_ms(row['hashlearn_ms'])} "
            f"| {_ms(row['tutorial_ms'])} | {row['ratio']:.1f}x | {_agree(row, n)} |"
        )
    ex = result.get("exhaustive")
    if ex:
        lines.append(
            f"| exhaustive | - | - | {ex['candidates']:,} | {_ms(ex['hashlearn_ms'])} "
            f"| {_ms(ex['tutorial_ms'])} | {ex['ratio']:.1f}x | {_agree(ex, n)} |"
        )
    lines += [
        "",
        "hashlearn: `HashTableIndex.range_search` + `CosineReranker.search`; tutorial: dict of "
        "lists probed with `itertools.combinations` bit flips, a `set` of ids, sklearn "
        "`pairwise_distances(metric='cosine')` and a stable argsort. Buckets probed: the "
        "tutorial's dict look-ups, `sum_{d<=r} C(n_bits, d)`. Exhaustive: every database item "
        "as a candidate (hashlearn `CosineReranker`; tutorial-style `pairwise_distances` + sort).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parse_args(argv)
    command = " ".join(
        ["python", "benchmarks/bench_tutorial_search.py", *(sys.argv[1:] if argv is None else argv)]
    )
    date = now()
    facts = machine()
    print(f"date: {date}")
    print(f"machine: {facts['cpu']}, {facts['cpus']} CPUs, {facts['platform']}")
    print(
        f"python {facts['python']}, numpy {facts['numpy']}, scikit-learn "
        f"{facts['scikit_learn']}, BLAS: {facts['blas']}"
    )

    start = time.perf_counter()
    dataset, notice = _load(args)
    if notice:
        print(notice, file=sys.stderr)
        print(notice)
    split = tutorial_split(dataset.n_samples)
    features, _ = preprocess_tutorial(dataset.X, split.train)
    queries = split.queries if args.n_queries is None else split.queries[: args.n_queries]
    database = features[split.database]
    reranker = CosineReranker(database)
    print(
        f"dataset: {dataset.name} {dataset.X.shape} loaded in {time.perf_counter() - start:.1f} s"
        f" ({dataset.source}); tutorial split: {len(split.train):,} train, "
        f"{len(split.database):,} database, {len(queries)} of {len(split.queries)} queries; "
        f"{args.n_bits} bits, radii 0..{args.max_radius}, top {K}",
        flush=True,
    )

    rows, builds, problems = [], [], []
    for name in args.methods:
        method_rows, build, method_problems = _bench_method(
            name, args, features, dataset.y, split, queries, reranker
        )
        rows += method_rows
        builds.append(build)
        problems += method_problems
        print(
            f"  {name}: fit {build['fit_seconds']:.2f} s, {build['n_buckets']:,} buckets; build "
            f"hashlearn {build['hashlearn_build_ms']:.1f} ms, tutorial dict "
            f"{build['tutorial_build_ms']:.1f} ms",
            flush=True,
        )
    exhaustive = None
    if not args.no_exhaustive:
        exhaustive = _exhaustive(database, features[queries], reranker)
        print(
            f"  exhaustive: hashlearn {exhaustive['hashlearn_ms']:.2f} ms, tutorial-style "
            f"{exhaustive['tutorial_ms']:.2f} ms, x{exhaustive['ratio']:.1f}",
            flush=True,
        )

    differ = sum(row["top10_differ"] for row in rows) + (
        exhaustive["top10_differ"] if exhaustive else 0
    )
    result: dict[str, Any] = {
        "benchmark": "tutorial_search",
        "date": date,
        "command": command,
        "machine": facts,
        "dataset": {
            "name": dataset.name,
            "source": dataset.source,
            "notice": notice,
            "n_train": len(split.train),
            "n_database": len(split.database),
            "n_queries": len(queries),
        },
        "n_bits": args.n_bits,
        "max_radius": args.max_radius,
        "k": K,
        "seed": args.seed,
        "builds": builds,
        "rows": rows,
        "exhaustive": exhaustive,
        "mismatches": problems,
        "ok": differ == 0,
    }
    print()
    print(markdown_table(result))
    print()
    near_ties = [p for p in problems if p["verdict"] == "near-tie"]
    if near_ties:
        print(f"{len(near_ties)} top-10 lists differ only by float near-ties (|d| <= {NEAR_TIE})")
    if differ:
        print(f"FAILED: {differ} top-10 lists or candidate sets differ between the approaches:")
        for problem in problems:
            if problem["verdict"] == "differ":
                print(f"  {problem}")
    else:
        print("correctness: both approaches found the same candidates and top-10 everywhere")
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
