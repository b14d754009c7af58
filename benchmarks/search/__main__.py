"""The search benchmark's command line: ``python -m benchmarks search [options]``.

Also ``python -m benchmarks.search [options]``, both from the repository root. Writes
``records.jsonl``, ``run.json``, ``results.md``, ``queries_per_second_knn.png`` and
``queries_per_second_range.png`` into ``--out``, prints the queries/s grid at the largest
size, and exits with status 1 when any result differs from the exact scan (2 for bad
arguments, before any work).

Usage::

    python -m benchmarks search --out results/bench-search --data-dir ../shared/data
    python -m benchmarks search --quick --out /tmp/bs                  # seconds
    python -m benchmarks search --sizes 1000000 --bits 64,256 --k 10 --radii 0,1,2
"""

from __future__ import annotations

import os

# Before anything loads an OpenMP runtime (scikit-learn, numba, faiss): idle OpenMP
# threads then sleep instead of spinning, so interleaved numba and faiss calls do not
# steal each other's cores (see benchmarks.search.run.passive_openmp).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hashlearn.records import RECORDS_NAME, RUN_NAME

from .._common import machine, now, write_json
from .config import CLUSTERED_SOURCES, DATA_KINDS, MAX_SIZE, config_from_options
from .report import format_search_pivot, write_search_report
from .run import run_search_benchmark

PROG = "python -m benchmarks search"


def _int_list(low: int, high: int) -> Callable[[str], tuple[int, ...]]:
    """An argparse type: comma-separated ints in [low, high] (e.g. ``10000,100000``)."""

    def parse(text: str) -> tuple[int, ...]:
        values = []
        for part in text.split(","):
            part = part.strip().replace("_", "")
            try:
                value = int(float(part)) if "e" in part.lower() else int(part)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"expected comma-separated integers, got {text!r}"
                ) from None
            if not low <= value <= high:
                raise argparse.ArgumentTypeError(
                    f"values must be in [{low:,}, {high:,}], got {value:,}"
                )
            values.append(value)
        return tuple(values)

    return parse


def _name_list(choices: Sequence[str] | None = None) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: comma-separated names (from ``choices`` when given)."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        if not names:
            raise argparse.ArgumentTypeError("expected one or more comma-separated names")
        unknown = [name for name in names if choices is not None and name not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown)}; choose from {', '.join(choices or ())}"
            )
        return names

    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The options of the search benchmark (those of the former ``hashlearn bench-search``,
    plus ``--json``)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Time k-NN and Hamming-range search of every hashlearn index (LinearScanIndex, "
            "HashTableIndex, MultiTableIndex, MultiIndexHashing, the faiss wrappers) beside "
            "faiss's IndexBinaryFlat, IndexBinaryHash and IndexBinaryMultiHash on the same "
            "codes in one run, and check every result against the exact scan. Writes "
            "records.jsonl, run.json, results.md, queries_per_second_knn.png and "
            "queries_per_second_range.png into --out. The full grid takes about 20 minutes "
            "on 2 cores; --quick takes seconds."
        ),
    )
    add = parser.add_argument
    add("--out", type=Path, default=None, help="output folder (default results/bench-search)")
    add(
        "--sizes",
        type=_int_list(1, MAX_SIZE),
        help="database sizes N (default 10000,100000,1000000)",
    )
    add("--bits", type=_int_list(1, 4096), help="code lengths (default 32,64,128,256)")
    add("--k", type=_int_list(1, 100_000), help="k of the k-NN tasks (default 1,10,100)")
    add("--radii", type=_int_list(0, 4096), help="Hamming radii (default 0,1,2,3)")
    add(
        "--data",
        type=_name_list(DATA_KINDS),
        help="uniform random and/or clustered codes (default uniform,clustered)",
    )
    add("--quick", action="store_true", help="tiny sizes: a smoke test of a few seconds")
    add("--threads", type=_positive_int, help="numba and faiss threads (default 2)")
    add("--queries", type=_positive_int, help="queries per batch (default 1000)")
    add("--repeats", type=_positive_int, help="timed calls, best kept (default 3)")
    add(
        "--max-seconds",
        type=float,
        help="skip (and record) calls projected to take longer (default 30)",
    )
    add(
        "--near-duplicates",
        type=float,
        help="fraction of clustered queries that are noisy copies of stored items (default 0.5)",
    )
    add(
        "--clustered-source",
        choices=CLUSTERED_SOURCES,
        help="features of the clustered codes (default auto: CIFAR-10 GIST when found)",
    )
    add("--indexes", type=_name_list(), help="only these contenders (by name)")
    add("--seed", type=int, help="seed of the codes (default 0)")
    add("--data-dir", type=Path, help="data directory ($HASHLEARN_DATA when not given)")
    add("--json", metavar="PATH", help="also write a JSON summary (records included)")
    add("--no-progress", action="store_true", help="no progress lines")
    return parser


def _output_folder(args: argparse.Namespace) -> Path:
    """``--out``; else beside ``--json`` (as ``python -m benchmarks`` calls it); else default."""
    if args.out is not None:
        return Path(args.out)
    if args.json:
        return Path(args.json).with_suffix("")
    return Path("results/bench-search")


def _run(args: argparse.Namespace) -> int:
    config = config_from_options(args, quick=args.quick)
    if args.threads is None:
        import numba

        pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        config = dataclasses.replace(config, threads=min(config.threads, pool))
    # Everything that can be checked is checked before any work.
    out = _output_folder(args)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    started = now()
    records = run_search_benchmark(config, out, progress=not args.no_progress)
    written = write_search_report(out)
    print()
    print(format_search_pivot(records))
    failed = [r for r in records if r.get("identical") is False]
    if failed:
        print(
            f"\n{len(failed)} measurement(s) returned results that differ from the exact scan; "
            f"see {out / 'results.md'}",
            file=sys.stderr,
        )
    print(f"\nwrote {out / RECORDS_NAME}, {out / RUN_NAME}, " + ", ".join(map(str, written)))
    if args.json:
        summary: dict[str, Any] = {
            "benchmark": "search",
            "date": started,
            "finished": now(),
            "machine": machine(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "config": config.as_dict(),
            "folder": str(out),
            "files": [str(path) for path in written],
            "n_records": len(records),
            "n_not_identical": len(failed),
            "records": records,
            "ok": not failed,
        }
        write_json(args.json, summary)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the search benchmark with command-line arguments; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was left behind", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, TypeError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
