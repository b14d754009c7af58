"""The load benchmark's command line: ``python -m benchmarks service [options]``.

Also ``python -m benchmarks.service [options]``, both from the repository root. Writes
``result.json`` (every row, the in-process timings, the machine, the load average, the
verdict) and ``results.md`` (the table) into ``--out``, prints the table and the verdict,
and exits with status 1 when any request failed or answered differently from the
in-process service (2 for bad arguments or a server that does not start). The
throughput target is reported, not turned into an exit status: it depends on the
machine's load.

Usage::

    python -m benchmarks service --out results/bench-service
    python -m benchmarks service --quick --out /tmp/bsv           # digits, seconds
    python -m benchmarks service --bundle path/to/bundle --seconds 5 --clients 1,4,16
    python -m benchmarks service --http h11 --loop asyncio        # uvicorn's options
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hashlearn.serve.server import BackgroundServer

from .._common import machine, now, write_json
from .client import run_row
from .report import acceptance, format_table, format_verdict
from .server import default_bundle, start_server, stop_server
from .workload import InProcess, Workload, make_workload, query_ids

PROG = "python -m benchmarks service"
DEFAULT_OUT = Path("results/bench-service")


def _int_list(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated ints >= 1, e.g. ``1,8,32``."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return tuple(sorted(set(values)))


def _assignment(text: str) -> tuple[str, str]:
    """An argparse type: ``NAME=VALUE``."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def _number(kind: Callable[[str], Any], low: float) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` that is at least ``low``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number >= {low:g}, got {text!r}"
            ) from None
        if not value >= low:  # NaN fails too
            raise argparse.ArgumentTypeError(f"expected a number >= {low:g}, got {text!r}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The options of the load benchmark."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Load a `hashlearn serve` of one bundle with 1, 8 and 32 concurrent clients "
            "(k-NN by stored id, one query and 100 queries per request; one row by vector) "
            "and time the same queries in process, through the engine and the bare index."
        ),
    )
    add = parser.add_argument
    add("--bundle", type=Path, help="serve this bundle (default: build or reuse one, --dataset)")
    add(
        "--dataset",
        choices=("auto", "cifar10-gist", "digits"),
        default="auto",
        help="the default bundle's data, ITQ 32 bits (auto: CIFAR-10 GIST when found, else digits)",
    )
    add("--data-dir", help="data directory ($HASHLEARN_DATA when not given)")
    add("--cache-dir", type=Path, help="where default bundles are kept (default <cache>/bundles)")
    add("--rebuild", action="store_true", help="build the default bundle again")
    add("--seconds", type=_number(float, 0.05), default=10.0, help="seconds per row (10)")
    add("--clients", type=_int_list, default=(1, 8, 32), help="concurrent clients (1,8,32)")
    add("--batch", type=_number(int, 2), default=100, help="queries per batch request (100)")
    add("--k", type=_number(int, 1), default=10, help="neighbours per query (10)")
    add("--queries", type=_number(int, 1), default=1000, help="distinct query ids (1000)")
    add(
        "--vector-clients",
        type=_number(int, 0),
        default=8,
        help="clients of the row of batch queries by vector (8; 0: no such row)",
    )
    add(
        "--slice-seconds",
        type=_number(float, 0.05),
        default=1.0,
        help="a row's load runs in slices of about this long, with in-process timings "
        "between them (1)",
    )
    add(
        "--in-process-seconds",
        type=_number(float, 0.01),
        default=0.5,
        help="seconds of each in-process timing (engine, bare index) after each slice (0.5)",
    )
    add("--seed", type=int, default=0, help="seed of the query ids (0)")
    add(
        "--server-env",
        type=_assignment,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server only (repeatable), e.g. "
        "OMP_WAIT_POLICY=PASSIVE",
    )
    add("--http", choices=("auto", "h11", "httptools"), default="auto", help="uvicorn parser")
    add("--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="uvicorn loop")
    add(
        "--quick",
        action="store_true",
        help="a smoke test: digits, 1 s a row, 1 and 2 clients, 200 queries",
    )
    add("--out", type=Path, help=f"output folder (default {DEFAULT_OUT})")
    add("--json", metavar="PATH", help="also write the result JSON here")
    add("--no-progress", action="store_true", help="no progress lines")
    return parser


def _apply_quick(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """``--quick`` sets small sizes, except those given on the command line."""
    given = {part.split("=", 1)[0] for part in argv if part.startswith("--")}
    quick = {
        "dataset": "digits",
        "seconds": 1.0,
        "clients": (1, 2),
        "queries": 200,
        "vector_clients": 2,
        "in_process_seconds": 0.1,
    }
    for name, value in quick.items():
        if f"--{name.replace('_', '-')}" not in given:
            setattr(args, name, value)


def _output_folder(args: argparse.Namespace) -> Path:
    """``--out``; else beside ``--json`` (as ``python -m benchmarks`` calls it); else default."""
    if args.out is not None:
        return Path(args.out)
    if args.json:
        return Path(args.json).with_suffix("")
    return DEFAULT_OUT


def _versions() -> dict[str, Any]:
    import fastapi
    import pydantic
    import uvicorn

    return {
        "fastapi": fastapi.__version__,
        "pydantic": pydantic.VERSION,
        "uvicorn": uvicorn.__version__,
        "httptools_installed": importlib.util.find_spec("httptools") is not None,
        "uvloop_installed": importlib.util.find_spec("uvloop") is not None,
        "environment": {
            name: os.environ.get(name)
            for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "NUMBA_NUM_THREADS")
        },
    }


def _say(args: argparse.Namespace, message: str) -> None:
    if not args.no_progress:
        print(f"service benchmark: {message}", file=sys.stderr, flush=True)


def _workloads(args: argparse.Namespace, service: Any) -> list[tuple[Workload, tuple[int, ...]]]:
    """Each workload and the client counts of its rows."""
    ids = query_ids(service.ntotal, args.queries, args.seed)
    plan = [("ids", 1, args.clients), ("ids", args.batch, args.clients)]
    if args.vector_clients and service.bundle.vectors is not None:
        plan.append(("vectors", args.batch, (args.vector_clients,)))
    return [
        (make_workload(service, ids, kind=kind, per_request=n, k=args.k), clients)
        for kind, n, clients in plan
    ]


def _load_rows(
    args: argparse.Namespace,
    server: BackgroundServer,
    service: Any,
    workloads: list[tuple[Workload, tuple[int, ...]]],
) -> tuple[list[dict[str, Any]], int]:
    """Every row of the run against ``server``, each with its in-process timing taken in
    slices between its load slices; returns the rows and the warm-up errors."""
    rows: list[dict[str, Any]] = []
    warm_up_errors = 0
    slices = max(1, round(args.seconds / args.slice_seconds))
    for workload, client_counts in workloads:
        # Unmeasured: the first requests of a kind pay for imports and caches.
        warm = run_row(
            server.url, service.name, workload, clients=1, seconds=min(0.5, args.seconds / 4)
        )
        warm_up_errors += warm["errors"] + warm["mismatches"]
        for clients in client_counts:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            in_process = InProcess(service, workload)
            row = run_row(
                server.url,
                service.name,
                workload,
                clients=clients,
                seconds=args.seconds,
                slices=slices,
                between=functools.partial(in_process.run, args.in_process_seconds),
                server_pid=server.process.pid,
            )
            timing = in_process.summary()
            row.update(workload=workload.name, load_average_before=load, in_process=timing)
            for name in ("service", "index"):
                qps = timing[name]["queries_per_second"]
                row[f"in_process_{name}_qps"] = qps
                row[f"ratio_{name}"] = round(row["queries_per_second"] / qps, 4) if qps else None
            rows.append(row)
            _say(
                args,
                f"{workload.name}, {clients} clients: {row['queries_per_second']:,.0f} "
                f"queries/s ({row['ratio_service']:.2f} of in-process), p50 "
                f"{row['latency_ms']['p50']} ms, p99 {row['latency_ms']['p99']} ms, "
                f"{row['errors']} errors",
            )
    return rows, warm_up_errors


def _run(args: argparse.Namespace) -> int:
    from hashlearn.serve.bundle import load_bundle
    from hashlearn.serve.engine import BundleService

    out = _output_folder(args)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    started = now()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    bundle_path = args.bundle or default_bundle(
        args.dataset,
        cache_dir=args.cache_dir,
        data_dir=args.data_dir,
        rebuild=args.rebuild,
        say=not args.no_progress,
    )
    service = BundleService(load_bundle(bundle_path, verify=False))
    workloads = _workloads(args, service)
    server = start_server(bundle_path, http=args.http, loop=args.loop, env=dict(args.server_env))
    try:
        rows, warm_up_errors = _load_rows(args, server, service, workloads)
    finally:
        server_log = stop_server(server)
    verdict = acceptance(rows, args.batch)
    table = format_table(rows)
    result: dict[str, Any] = {
        "benchmark": "service",
        "date": started,
        "finished": now(),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "software": _versions(),
        "config": {
            key: value if not isinstance(value, Path) else str(value)
            for key, value in vars(args).items()
        },
        "bundle": {"path": str(bundle_path), **service.summary()},
        "server_command": [Path(server.command[0]).name, *server.command[1:]],
        "rows": rows,
        "warm_up_errors": warm_up_errors,
        "acceptance": verdict,
        "server_log_tail": server_log[-1000:],
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "result.json", result)
    if args.json:
        write_json(args.json, result)
    summary = service.summary()
    heading = (
        f"{summary['label']}, {summary['n_bits']} bits, {summary['n_items']:,} items, "
        f"k = {args.k}, {args.seconds:g} s a row, load average before "
        + ("unknown" if load_before is None else " ".join(f"{x:.2f}" for x in load_before))
    )
    (out / "results.md").write_text(f"{heading}\n\n{table}\n\n{format_verdict(verdict)}\n")
    print(f"\n{heading}\n\n{table}\n\n{format_verdict(verdict)}")
    failed = verdict["errors"] + verdict["mismatches"] + warm_up_errors
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load benchmark with command-line arguments; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    if args.quick:
        _apply_quick(args, arguments)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
