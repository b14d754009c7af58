"""Multi-index hashing against the scan: where probing stops paying, and what MIH chooses.

Data: CIFAR-10 GIST-512 (from the data directory or the cache, never downloaded; a
synthetic Gaussian mixture, recorded as such, when absent). 1,000 images are held out as
queries (seeded permutation); the other 59,000 are the database. Each hasher (ITQ and LSH,
``--bits`` bits, fitted on 20,000 database images) encodes both; a database of ``N``
(``--sizes``) codes is the images' codes followed by noisy copies of them (every bit flipped
with probability 0.02) up to ``N``. Queries: the held-out images' codes (new content: their
nearest codes are many bits away), and near-duplicates (fresh noisy copies of stored images,
the case where codes are clustered enough). Beside them, uniform random codes (database and
queries).

For each, k-NN (``--k``) and range search (``--radii``, for 64 bits; scaled with the code
length): :class:`~hashlearn.index.LinearScanIndex`, :class:`~hashlearn.index.MultiIndexHashing`
as it is (it falls back to the scan per query and per batch, see its module docstring), and
MIH made to probe every query (its fallback budget set out of reach, by patching the
module's ``_FALLBACK_MIN_WORK``): the last shows where probing itself stops paying, the second
what the fallback makes of it. ``--threads`` threads, interleaved, best of ``--repeat`` calls
after a warm-up; every result is checked against the scan's.

Reported per row: ``m`` (substrings) and their lengths, the radius a query needs (median
distance of its ``k``-th neighbour; for range search, the radius), the median codes MIH
verified per query when probing everything, the share of queries MIH answered with the
scan, and the ratios of queries per second to the scan's.

Usage::

    python -m benchmarks mih_crossover                 # a few minutes on 2 cores
    python benchmarks/mih_crossover.py --bits 32,64,128 --sizes 59000,1000000
    python benchmarks/mih_crossover.py --quick         # seconds, synthetic data
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/floor.py

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, now, write_json
from hashlearn import datasets
from hashlearn.hashers import IterativeQuantization, SignRandomProjection
from hashlearn.index import LinearScanIndex, MultiIndexHashing, multi_index

FLIP = 0.02


def load_features(
    data_dir: str | None, quick: bool, rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """CIFAR-10 GIST-512 when present without a download, else a synthetic mixture."""
    if not quick and datasets.find_cifar10_source(data_dir) is not None:
        dataset = datasets.load_cifar10_gist(data_dir, download=False)
        return np.asarray(dataset.X, dtype=np.float32), f"cifar10-gist ({dataset.source})"
    centres = rng.standard_normal((100, 128)).astype(np.float32)
    n = 6000 if quick else 60_000
    X = centres[rng.integers(0, 100, n)] + 0.6 * rng.standard_normal((n, 128)).astype(np.float32)
    return X, "SYNTHETIC: a mixture of 100 Gaussians in 128-d (CIFAR-10 GIST not used)"


def flip_bits(codes: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    flips = rng.random((codes.shape[0], codes.shape[1] * 8), dtype=np.float32) < probability
    return codes ^ np.packbits(flips, axis=1, bitorder="little")


def replicate(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``base``, then noisy copies of it (FLIP), ``n`` codes in all."""
    if n <= base.shape[0]:
        return base[:n]
    parts = [base]
    done = base.shape[0]
    while done < n:  # in pieces: the flip matrix of 10^6 codes would be large
        rows = np.arange(done, min(n, done + 200_000)) % base.shape[0]
        parts.append(flip_bits(base[rows], FLIP, rng))
        done += rows.shape[0]
    return np.concatenate(parts)


def datasets_for(
    args: argparse.Namespace, n_bits: int, X: np.ndarray
) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    """``(codes, queries, database, query codes)`` for each data set at each size."""
    rng = np.random.default_rng([args.seed, n_bits])
    order = rng.permutation(X.shape[0])
    held_out, held_in = order[: args.queries], order[args.queries :]
    hashers = {
        "ITQ": IterativeQuantization(n_bits=n_bits, random_state=args.seed),
        "LSH": SignRandomProjection(n_bits=n_bits, random_state=args.seed),
    }
    for name, hasher in hashers.items():
        hasher.fit(X[held_in[:20_000]])
        base = hasher.encode(X[held_in])
        unseen = hasher.encode(X[held_out])
        near = flip_bits(base[rng.integers(0, base.shape[0], args.queries)], FLIP, rng)
        for n in args.sizes:
            database = replicate(base, n, rng)
            yield name, "held-out", database, unseen
            yield name, "near-duplicates", database, near
    for n in args.sizes:
        width = n_bits // 8
        database = rng.integers(0, 256, (n, width), dtype=np.uint8)
        yield (
            "uniform",
            "uniform",
            database,
            rng.integers(0, 256, (args.queries, width), dtype=np.uint8),
        )


@contextmanager
def probe_everything() -> Iterator[None]:
    """MIH with its fallback budget out of reach: every query is probed to the end."""
    saved = multi_index._FALLBACK_MIN_WORK
    multi_index._FALLBACK_MIN_WORK = 2**62
    try:
        yield
    finally:
        multi_index._FALLBACK_MIN_WORK = saved


def time_interleaved(calls: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    best = dict.fromkeys(calls, float("inf"))
    for call in calls.values():
        call()
    for _ in range(repeat):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure_task(
    scan: LinearScanIndex,
    mih: MultiIndexHashing,
    queries: np.ndarray,
    task: str,
    value: int,
    repeat: int,
) -> dict[str, Any]:
    """One task on one data set: the three ways, timed, checked."""

    def run(index: Any) -> Any:
        if task == "k-NN":
            return index.search(queries, value)
        return index.range_search(queries, value)

    def forced() -> Any:
        with probe_everything():
            return run(mih)

    want = run(scan)
    got = run(mih)
    scanned = float(mih.last_stats_.scanned.mean())
    probed = forced()
    verified = float(np.median(mih.last_stats_.candidates))
    identical = all(
        np.array_equal(a, b) and np.array_equal(a, c)
        for a, b, c in zip(want, got, probed, strict=True)
    )
    best = time_interleaved(
        {"scan": lambda: run(scan), "mih": lambda: run(mih), "probe": forced}, repeat
    )
    return {
        "m": mih.n_tables_,
        "substring_bits": sorted(set(mih.bits_per_table_.tolist())),
        "task": task,
        "k_or_radius": value,
        "radius_needed": float(np.median(want[0][:, -1])) if task == "k-NN" else float(value),
        "results_per_query": None if task == "k-NN" else len(want[2]) / len(queries),
        "verified_per_query_probing": verified,
        "scanned_share": scanned,
        "scan_qps": len(queries) / best["scan"],
        "mih_over_scan": best["scan"] / best["mih"],
        "probe_everything_over_scan": best["scan"] / best["probe"],
        "identical": identical,
    }


def measure(args: argparse.Namespace, n_bits: int, X: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    radii = [max(1, round(r * n_bits / 64)) for r in args.radii]
    tasks = [("k-NN", k) for k in args.k] + [("range", r) for r in radii]
    for codes, queries_kind, database, queries in datasets_for(args, n_bits, X):
        scan = LinearScanIndex(n_bits, n_threads=args.threads).add(database)
        mih = MultiIndexHashing(n_bits, n_threads=args.threads).add(database)
        for task, value in tasks:
            row = {"bits": n_bits, "codes": codes, "queries": queries_kind, "n": len(database)}
            row.update(measure_task(scan, mih, queries, task, value, args.repeat))
            rows.append(row)
            print(_text(row), flush=True)
    return rows


def _text(row: dict[str, Any]) -> str:
    return (
        f"{row['bits']:3d} bits {row['codes']:>7} {row['queries']:<15} N={row['n']:>9,} "
        f"m={row['m']} {row['task']:<5} {row['k_or_radius']:>3}: "
        f"needs r={row['radius_needed']:.0f}, "
        f"verifies {row['verified_per_query_probing']:>9,.0f}; scanned {row['scanned_share']:.2f}; "
        f"scan {row['scan_qps']:>9,.0f} q/s; MIH {row['mih_over_scan']:.2f}x, probing "
        f"everything {row['probe_everything_over_scan']:.2f}x; identical={row['identical']}"
    )


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| bits | codes | queries | N | m (bits each) | task | radius needed | verified/query "
        "(probing all) | scanned | scan q/s | **MIH / scan** | probing all / scan |",
        "|---:|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        task = f"k={row['k_or_radius']}" if row["task"] == "k-NN" else f"r={row['k_or_radius']}"
        lines.append(
            f"| {row['bits']} | {row['codes']} | {row['queries']} | {row['n']:,} | {row['m']} "
            f"({'/'.join(map(str, row['substring_bits']))}) | {task} | {row['radius_needed']:.0f} "
            f"| {row['verified_per_query_probing']:,.0f} | {row['scanned_share']:.2f} | "
            f"{row['scan_qps']:,.0f} | **{row['mih_over_scan']:.2f}x** | "
            f"{row['probe_everything_over_scan']:.2f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", default="64")
    parser.add_argument("--sizes", default="59000,1000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", default="1,10,100")
    parser.add_argument("--radii", default="4,8,12", help="range radii at 64 bits (scaled)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny synthetic data")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.queries, args.repeat, args.k, args.radii = "5000", 80, 1, "10", "4"
    args.bits = [int(b) for b in str(args.bits).split(",")]
    args.sizes = [int(n) for n in str(args.sizes).split(",")]
    args.k = [int(k) for k in str(args.k).split(",")]
    args.radii = [int(r) for r in str(args.radii).split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    started = now()
    load = os.getloadavg()
    print(f"{started}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    X, source = load_features(args.data_dir, args.quick, np.random.default_rng(args.seed))
    print(f"features: {source}, {X.shape}", flush=True)
    rows = [row for n_bits in args.bits for row in measure(args, n_bits, X)]
    print("\n" + table(rows))
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        write_json(
            args.json,
            {
                "benchmark": "mih_crossover",
                "date": started,
                "finished": now(),
                "load_average": list(load),
                "machine": machine(),
                "features": source,
                "config": config,
                "rows": rows,
            },
        )
    return 0 if all(row["identical"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
