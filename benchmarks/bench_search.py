"""Hamming search speed: every hashlearn index beside faiss's binary indexes, in one run.

Runs :func:`hashlearn.experiments.search_benchmark.run_search_benchmark` (what
``hashlearn bench-search`` runs): uniform random and clustered codes (CIFAR-10 GIST-512
hashed by LSH and replicated with noise bits, or a labelled synthetic mixture when
CIFAR-10 is not found), N = 10^4 .. 10^6, 32 to 256 bits, 1,000 queries, k-NN for
k = 1, 10, 100 and range search for r = 0..3; LinearScanIndex, HashTableIndex,
MultiIndexHashing, MultiTableIndex and the hashlearn faiss wrappers beside raw faiss
IndexBinaryFlat, IndexBinaryHash and IndexBinaryMultiHash; 2 threads for all; best of
3 interleaved calls; every result checked against the exact scan.

Writes the run's folder (``records.jsonl``, ``run.json``, ``results.md`` and two PNG
plots) beside the JSON summary (``--json PATH`` -> folder ``PATH`` without ``.json``),
prints the queries/s grid at the largest size, and exits with status 1 when any result
differs from the exact scan.

Usage::

    python benchmarks/bench_search.py --data-dir ../shared/data       # the full grid (~20 min)
    python benchmarks/bench_search.py --quick --json /tmp/search.json  # seconds
    python benchmarks/bench_search.py --sizes 1000000 --bits 64,256 --k 10 --radii 0,1,2
"""

from __future__ import annotations

import os

# Before anything loads an OpenMP runtime: idle OpenMP threads sleep instead of spinning,
# so interleaved numba and faiss calls do not steal each other's cores (see
# hashlearn.experiments.search_benchmark.passive_openmp).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import sys
from pathlib import Path

from _common import machine, now, write_json
from hashlearn.experiments import search_benchmark as sb
from hashlearn.report.search import format_search_pivot, write_search_report


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--sizes", type=_ints, help="database sizes (default 10^4,10^5,10^6)")
    parser.add_argument("--bits", type=_ints, help="code lengths (default 32,64,128,256)")
    parser.add_argument("--k", type=_ints, help="k of the k-NN tasks (default 1,10,100)")
    parser.add_argument("--radii", type=_ints, help="Hamming radii (default 0,1,2,3)")
    parser.add_argument("--data", type=_names, help="uniform,clustered (default both)")
    parser.add_argument("--threads", type=int, help="numba and faiss threads (default 2)")
    parser.add_argument("--queries", type=int, help="queries per batch (default 1000)")
    parser.add_argument("--repeats", type=int, help="timed calls, best kept (default 3)")
    parser.add_argument("--max-seconds", type=float, help="skip calls projected longer")
    parser.add_argument("--clustered-source", choices=sb.CLUSTERED_SOURCES, help="default auto")
    parser.add_argument(
        "--near-duplicates", type=float, help="near-duplicate share of clustered queries"
    )
    parser.add_argument("--indexes", type=_names, help="only these contenders")
    parser.add_argument("--data-dir", default=None, help="data directory ($HASHLEARN_DATA)")
    parser.add_argument("--out", type=Path, help="folder of the run (default: beside --json)")
    parser.add_argument("--json", metavar="PATH", help="also write a JSON summary")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        config = sb.config_from_options(args, quick=args.quick)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        out = args.out
    elif args.json:
        out = Path(args.json).with_suffix("")
    else:
        out = Path("results/benchmarks/search")
    print(f"machine: {machine()}", flush=True)
    started = now()
    records = sb.run_search_benchmark(config, out, progress=not args.no_progress)
    written = write_search_report(out)
    pivot = format_search_pivot(records)
    print()
    print(pivot)
    differ = [r for r in records if r.get("identical") is False]
    summary = {
        "benchmark": "search",
        "date": started,
        "finished": now(),
        "machine": machine(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "config": config.as_dict(),
        "folder": str(out),
        "files": [str(path) for path in written],
        "n_records": len(records),
        "n_not_identical": len(differ),
        "records": records,
        "ok": not differ,
    }
    print(f"\nwrote {out} ({', '.join(path.name for path in written)})")
    if differ:
        print(f"FAILED: {len(differ)} measurement(s) differ from the exact scan", file=sys.stderr)
    if args.json:
        write_json(args.json, summary)
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
