"""Evaluation at scale: every Hamming-ranking metric for 10,000 x 50,000 codes.

Times :func:`hashlearn.evaluation.evaluate_hamming_ranking` (mAP@all, tie-aware mAP,
mAP@1000, P@10/100/1000, P@r for r = 0..3, the PR curve by radius and the P@K curve, all
from one counting pass) on random codes with random class labels, and reports its peak
memory: the process's resident high-water mark (``VmHWM``, reset just before the run where
the kernel allows it) and the peak of Python-tracked allocations (``tracemalloc``, which
sees numpy's arrays but not numba's scratch). For a speed ratio it also times the numpy
reference of mAP@all (:func:`hashlearn.testing.mean_average_precision_reference`: blocks of
queries, a stable argsort per row) on a subset of the queries, beside the counting kernel on
the same subset, and extrapolates it linearly to all queries.

Usage::

    python benchmarks/bench_evaluation.py
    python benchmarks/bench_evaluation.py --n-queries 2000 --n-database 20000 --n-bits 32
    python benchmarks/bench_evaluation.py --json results/benchmarks/evaluation.json
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, now, write_json
from hashlearn.evaluation import evaluate_hamming_ranking, mean_average_precision
from hashlearn.testing import mean_average_precision_reference


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` field in KiB (Linux), else None."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _measure(function: Any) -> dict[str, Any]:
    """Seconds, RSS before and peak during, and the tracemalloc peak of one call."""
    reset = _reset_peak_rss()
    rss_before = _status_kib("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status_kib("VmHWM")
    return {
        "result": result,
        "seconds": seconds,
        "rss_before_mib": None if rss_before is None else rss_before / 1024,
        "rss_peak_mib": None if peak is None else peak / 1024,
        "rss_peak_reset": reset,
        "tracemalloc_peak_mib": traced_peak / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-queries", type=int, default=10_000)
    parser.add_argument("--n-database", type=int, default=50_000)
    parser.add_argument("--n-bits", type=int, default=64)
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument(
        "--reference-queries",
        type=int,
        default=200,
        help="queries for the numpy reference (timed on this subset, then extrapolated)",
    )
    parser.add_argument("--n-threads", type=int, default=None, help="default: numba's pool")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    n_bytes = (args.n_bits + 7) // 8
    bits_mask = np.zeros(n_bytes, dtype=np.uint8) + 0xFF
    if args.n_bits % 8:
        bits_mask[-1] = (1 << (args.n_bits % 8)) - 1
    queries = rng.integers(0, 256, (args.n_queries, n_bytes), dtype=np.uint8) & bits_mask
    database = rng.integers(0, 256, (args.n_database, n_bytes), dtype=np.uint8) & bits_mask
    query_labels = rng.integers(0, args.n_classes, args.n_queries)
    database_labels = rng.integers(0, args.n_classes, args.n_database)
    precision_ks = [k for k in (10, 100, 1000) if k <= args.n_database]
    map_ks = [k for k in (1000,) if k <= args.n_database]

    def evaluate(n: int) -> Any:
        return evaluate_hamming_ranking(
            queries[:n],
            database,
            query_labels[:n],
            database_labels,
            n_bits=args.n_bits,
            map_ks=map_ks,
            precision_ks=precision_ks,
            n_threads=args.n_threads,
        )

    print(f"# evaluation at scale, {now()}")
    facts = machine()
    for key, value in facts.items():
        print(f"{key}: {value}")
    print(
        f"{args.n_queries} queries x {args.n_database} database codes, {args.n_bits} bits, "
        f"{args.n_classes} classes"
    )
    # compile (or load numba's cache) outside the timings
    start = time.perf_counter()
    evaluate(min(args.n_queries, 32))
    mean_average_precision(queries[:2], database, query_labels[:2], database_labels)
    warmup = time.perf_counter() - start

    kernel = _measure(lambda: evaluate(args.n_queries))
    summary = kernel.pop("result").to_dict()
    print(
        f"evaluate_hamming_ranking: {kernel['seconds']:.2f} s; peak RSS "
        f"{kernel['rss_peak_mib']:.0f} MiB (before: {kernel['rss_before_mib']:.0f} MiB, "
        f"reset: {kernel['rss_peak_reset']}); tracemalloc peak "
        f"{kernel['tracemalloc_peak_mib']:.1f} MiB"
    )
    print(
        f"  mAP@all {summary['map']:.4f}, tie-aware {summary['tie_aware_map']:.4f}, "
        f"P@r2 {summary['precision_within_radius']['2']['value']:.4f}"
    )

    n_ref = min(args.reference_queries, args.n_queries)
    subset = (queries[:n_ref], database, query_labels[:n_ref], database_labels)
    reference = _measure(lambda: mean_average_precision_reference(*subset))
    reference_value = reference.pop("result")
    counting = _measure(lambda: mean_average_precision(*subset))
    counting_value = counting.pop("result")
    assert np.array_equal(reference_value.per_query, counting_value.per_query, equal_nan=True)
    extrapolated = reference["seconds"] * args.n_queries / n_ref
    print(
        f"mAP@all on {n_ref} queries: numpy reference (stable argsort) "
        f"{reference['seconds']:.2f} s, peak RSS {reference['rss_peak_mib']:.0f} MiB; "
        f"counting kernel {counting['seconds']:.3f} s; ratio "
        f"{reference['seconds'] / counting['seconds']:.0f}x (identical per-query values)"
    )
    print(
        f"numpy reference extrapolated to {args.n_queries} queries: {extrapolated:.0f} s "
        f"(vs {kernel['seconds']:.2f} s for every metric)"
    )
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "evaluation",
                "date": now(),
                "machine": facts,
                "config": vars(args),
                "warmup_seconds": warmup,
                "evaluate_hamming_ranking": kernel,
                "metrics": summary,
                "reference_map_subset": {"n_queries": n_ref, **reference},
                "counting_map_subset": {"n_queries": n_ref, **counting},
                "reference_extrapolated_seconds": extrapolated,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
