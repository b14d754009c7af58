"""The ``hashlearn`` command line: a thin layer over experiments, reports and datasets."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    from hashlearn import __version__

    parser = argparse.ArgumentParser(
        prog="hashlearn",
        description="Learning to hash: binary codes, Hamming search and reproducible evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"hashlearn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    tutorial = commands.add_parser(
        "tutorial",
        help="LSH vs GRH with a hash table searched within a Hamming radius (the tutorial)",
        description=(
            "Reproduce the learning-to-hash tutorial: LSH and Graph Regularised Hashing on "
            "CIFAR-10 GIST-512, one hash table probed within Hamming radius 0..R, candidates "
            "re-ranked by cosine distance; precision@10 and query time per radius, beside an "
            "exhaustive cosine search. Writes results.json, precision_vs_radius.png and "
            "query_time_vs_radius.png."
        ),
    )
    tutorial.add_argument(
        "--dataset",
        default="auto",
        choices=["auto", "cifar10-gist", "cifar10-gist-mat", "digits"],
        help="auto: CIFAR-10 GIST when the data is found (or downloadable), else digits",
    )
    tutorial.add_argument("--bits", type=int, default=16, help="code length (default 16)")
    tutorial.add_argument(
        "--max-radius", type=int, default=None, help="largest radius (default min(10, bits))"
    )
    tutorial.add_argument("--k", type=int, default=10, help="precision@k (default 10)")
    tutorial.add_argument("--seed", type=int, default=0, help="seed of the hashers (default 0)")
    tutorial.add_argument("--grh-alpha", type=float, default=None, help="GRH alpha")
    tutorial.add_argument("--grh-iter", type=int, default=None, help="GRH iterations")
    tutorial.add_argument(
        "--out", type=Path, default=Path("results/tutorial"), help="output folder"
    )
    tutorial.add_argument("--data-dir", type=Path, default=None, help="data directory")
    tutorial.add_argument("--cache-dir", type=Path, default=None, help="cache directory")
    tutorial.add_argument(
        "--mat",
        type=Path,
        default=None,
        help="path of the tutorial's Gist512CIFAR10.mat (cifar10-gist-mat)",
    )
    tutorial.add_argument("--no-progress", action="store_true", help="hide progress bars")
    tutorial.set_defaults(handler=_tutorial)
    _add_bench(commands)
    _add_report(commands)
    methods = commands.add_parser(
        "methods",
        help="list the hashing methods (benchmark names, labels, papers)",
        description="Every registered method: its name in specs, whether it uses labels, "
        "the label of the published tables, and a one-line description with its paper.",
    )
    methods.set_defaults(handler=_methods)
    _add_bench_search(commands)
    _add_datasets(commands)
    return parser


def _add_bench(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="run a protocol over methods x bits x seeds: records, then the report",
        description=(
            "Run an evaluation protocol (hashlearn bench --list-protocols) for every method, "
            "code length and seed: each (method, bits, seed) becomes one JSON record in "
            "RUN_DIR/records.jsonl with mAP@all, mAP@K, P@K, P@r with empty fraction, "
            "precision-recall, times, memory and code statistics, the published number beside "
            "it. Finished records are skipped on a rerun (resume); a failing method is recorded "
            "and the run goes on. Then the report (report.md, report.html, figures/) is "
            "written, unless --no-report."
        ),
        epilog=(
            "examples:\n"
            "  hashlearn bench --protocol grh-cifar10 --methods lsh,grh --bits 16,32,48,64 "
            "--seeds 5 --out results/grh-cifar10\n"
            "  hashlearn bench --protocol grh-cifar10:n_train=2000 --methods lsh "
            '--methods "grh:kernel=rbf" --out results/t2000\n'
            "  hashlearn bench --config run.toml\n"
            "  hashlearn bench --protocol grh-cifar10 --dataset my_features.npz --methods lsh"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--config", type=Path, default=None, help="TOML file with the settings")
    bench.add_argument(
        "--protocol",
        default=None,
        help="protocol spec, e.g. grh-cifar10 or grh-cifar10:n_train=2000",
    )
    bench.add_argument(
        "--methods",
        action="append",
        default=None,
        help="comma-separated names, or one NAME:key=value,... per option (repeatable)",
    )
    bench.add_argument("--bits", default=None, help="comma-separated code lengths")
    bench.add_argument("--seeds", default=None, help="a count (5: seeds 0..4) or a list (0,3,7)")
    bench.add_argument(
        "--out", type=Path, default=None, help="run folder (default results/bench/<protocol>)"
    )
    bench.add_argument("--data-dir", type=Path, default=None, help="data directory")
    bench.add_argument(
        "--dataset",
        type=Path,
        default=None,
        help="your own data: .npz (X, y[, X_query, y_query]), .npy, .csv",
    )
    bench.add_argument("--download", action="store_true", help="allow downloading missing data")
    bench.add_argument("--no-save-models", action="store_true", help="do not save fitted hashers")
    bench.add_argument("--no-report", action="store_true", help="do not write the report")
    bench.add_argument("--no-progress", action="store_true", help="print nothing while running")
    bench.add_argument("--list-protocols", action="store_true", help="list protocols and exit")
    bench.add_argument("--list-methods", action="store_true", help="list methods and exit")
    bench.set_defaults(handler=_bench)


def _add_report(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="Markdown and self-contained HTML report of a hashlearn bench run folder",
        description=(
            "Read RUN_DIR/records.jsonl and write report.md, report.html (one self-contained "
            "page: every table and figure) and figures/*.png."
        ),
    )
    report.add_argument(
        "run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="hashlearn bench folder(s)"
    )
    report.add_argument(
        "--out", type=Path, default=None, help="output folder (default RUN_DIR; one RUN_DIR)"
    )
    report.add_argument("--title", default=None, help="title of the report")
    report.add_argument(
        "--reproduction",
        type=Path,
        default=None,
        metavar="FILE",
        help="instead, write one Markdown page of ours vs the published tables for every "
        "RUN_DIR (docs/reproduction.md)",
    )
    report.set_defaults(handler=_report)


def _bench(args: argparse.Namespace) -> int:
    from hashlearn.experiments.config import bench_config_from_options
    from hashlearn.experiments.protocols import format_protocols
    from hashlearn.experiments.runner import run_benchmark

    if args.list_protocols:
        print(format_protocols())
        return 0
    if args.list_methods:
        return _methods(args)
    config = bench_config_from_options(
        args.config,
        {
            "protocol": args.protocol,
            "methods": args.methods,
            "bits": args.bits,
            "seeds": args.seeds,
            "out": args.out,
            "data_dir": args.data_dir,
            "dataset": args.dataset,
            "save_models": False if args.no_save_models else None,
            "download": True if args.download else None,
        },
    )
    records = run_benchmark(config, progress=not args.no_progress)
    failed = [record for record in records if record["status"] != "ok"]
    print(f"{len(records) - len(failed)} record(s) written, {len(failed)} failed: {config.out}")
    if not args.no_report:
        from hashlearn.report.benchmark import write_benchmark_report

        report = write_benchmark_report(Path(str(config.out)))
        print(f"report: {report.html}")
    return 1 if failed else 0


def _methods(args: argparse.Namespace) -> int:
    from hashlearn.experiments.methods import format_methods

    del args
    print(format_methods())
    return 0


def _report(args: argparse.Namespace) -> int:
    from hashlearn.report.benchmark import write_benchmark_report

    for run_dir in args.run_dirs:
        if not run_dir.is_dir():
            raise FileNotFoundError(f"run folder not found: {run_dir}")
    if args.reproduction is not None:
        from hashlearn.report.reproduction import write_reproduction

        print(f"wrote {write_reproduction(args.run_dirs, args.reproduction)}")
        return 0
    if args.out is not None and len(args.run_dirs) > 1:
        raise ValueError("--out needs exactly one RUN_DIR")
    for run_dir in args.run_dirs:
        report = write_benchmark_report(run_dir, args.out, title=args.title)
        print(f"wrote {report.markdown} and {report.html}")
    return 0


def _add_datasets(commands: Any) -> None:
    from hashlearn.datasets.catalog import CATALOG

    group = commands.add_parser(
        "datasets",
        help="which datasets are present, what they hold, and preparing them",
        description=(
            "list: every dataset name, whether its files are present and where they come "
            "from. info NAME: load it and print shapes, sizes and labels. prepare NAME: load "
            "it once so derived data (GIST features, parsed documents, TF-IDF) is cached, "
            "downloading the official files with --download where that is possible."
        ),
    )
    group.add_argument("action", choices=["list", "info", "prepare"])
    group.add_argument("name", nargs="?", choices=list(CATALOG), help="a dataset name")
    group.add_argument("--data-dir", default=None, help="data directory (or $HASHLEARN_DATA)")
    group.add_argument("--cache-dir", default=None, help="cache directory (or $HASHLEARN_CACHE)")
    group.add_argument(
        "--download", action="store_true", help="prepare: allow downloading official files"
    )
    group.set_defaults(handler=_datasets)


def _datasets(args: argparse.Namespace) -> int:
    from hashlearn.datasets import load_dataset
    from hashlearn.datasets.catalog import CATALOG, availability, describe

    if args.action == "list":
        if args.name is not None:
            raise ValueError("datasets list takes no NAME; use: hashlearn datasets info NAME")
        width = max(len(name) for name in CATALOG)
        for name, entry in CATALOG.items():
            present, where = availability(name, args.data_dir, cache_dir=args.cache_dir)
            state = "present" if present else "missing"
            print(f"{name:<{width}}  {state:<7}  {entry.description}")
            print(f"{'':<{width}}  {'':<7}  {where}; from: {entry.origin}")
        return 0
    if args.name is None:
        raise ValueError(f"datasets {args.action} needs a NAME: one of {', '.join(CATALOG)}")
    download = args.download if args.action == "prepare" else False
    if download and not CATALOG[args.name].downloadable:
        raise ValueError(f"{args.name} cannot be downloaded: {CATALOG[args.name].origin}")
    dataset = load_dataset(
        args.name,
        args.data_dir,
        cache_dir=args.cache_dir,
        download=download,
        progress=args.action == "prepare",
    )
    for key, value in describe(dataset).items():
        print(f"{key:>16}: {value}")
    if args.action == "prepare":
        print(f"{args.name} is ready")
    return 0


def _int_list(low: int, high: int) -> Any:
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


def _name_list(choices: Sequence[str] | None = None) -> Any:
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


def _add_bench_search(commands: Any) -> None:
    bench = commands.add_parser(
        "bench-search",
        help="speed of every hashlearn index beside faiss's binary indexes (k-NN and range)",
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
    bench.add_argument(
        "--out", type=Path, default=Path("results/bench-search"), help="output folder"
    )
    bench.add_argument(
        "--sizes",
        type=_int_list(1, 10**8),
        default=None,
        help="database sizes N (default 10000,100000,1000000)",
    )
    bench.add_argument(
        "--bits", type=_int_list(1, 4096), default=None, help="code lengths (default 32,64,128,256)"
    )
    bench.add_argument(
        "--k",
        type=_int_list(1, 100_000),
        default=None,
        help="k of the k-NN tasks (default 1,10,100)",
    )
    bench.add_argument(
        "--radii", type=_int_list(0, 4096), default=None, help="Hamming radii (default 0,1,2,3)"
    )
    bench.add_argument(
        "--data",
        type=_name_list(("uniform", "clustered")),
        default=None,
        help="uniform random and/or clustered codes (default uniform,clustered)",
    )
    bench.add_argument(
        "--quick", action="store_true", help="tiny sizes: a smoke test of a few seconds"
    )
    bench.add_argument(
        "--threads", type=_positive_int, default=None, help="numba and faiss threads (default 2)"
    )
    bench.add_argument(
        "--queries", type=_positive_int, default=None, help="queries per batch (default 1000)"
    )
    bench.add_argument(
        "--repeats", type=_positive_int, default=None, help="timed calls, best kept (default 3)"
    )
    bench.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="skip (and record) calls projected to take longer (default 30)",
    )
    bench.add_argument(
        "--near-duplicates",
        type=float,
        default=None,
        help="fraction of clustered queries that are noisy copies of stored items (default 0.5)",
    )
    bench.add_argument(
        "--clustered-source",
        choices=["auto", "cifar10-gist", "synthetic"],
        default=None,
        help="features of the clustered codes (default auto: CIFAR-10 GIST when found)",
    )
    bench.add_argument(
        "--indexes", type=_name_list(), default=None, help="only these contenders (by name)"
    )
    bench.add_argument("--seed", type=int, default=None, help="seed of the codes (default 0)")
    bench.add_argument("--data-dir", type=Path, default=None, help="data directory")
    bench.add_argument("--no-progress", action="store_true", help="no progress lines")
    bench.set_defaults(handler=_bench_search)


def _tutorial(args: argparse.Namespace) -> int:
    from hashlearn._io import atomic_write_text, dumps_json
    from hashlearn.experiments.tutorial import (
        TutorialConfig,
        load_tutorial_dataset,
        run_tutorial,
    )
    from hashlearn.report import (
        format_tutorial_table,
        plot_precision_vs_radius,
        plot_query_time_vs_radius,
    )

    # Everything that can be checked is checked before minutes of loading and training.
    config = TutorialConfig.from_options(
        n_bits=args.bits,
        max_radius=args.max_radius,
        k=args.k,
        seed=args.seed,
        grh_alpha=args.grh_alpha,
        grh_n_iter=args.grh_iter,
    )
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    dataset = load_tutorial_dataset(
        args.dataset,
        args.data_dir,
        cache_dir=args.cache_dir,
        mat=args.mat,
        progress=not args.no_progress,
    )
    config = config.adapted_to(dataset.name)
    print(
        f"dataset: {dataset.name}, {dataset.X.shape[0]:,} x {dataset.X.shape[1]} ({dataset.source})"
    )
    results = run_tutorial(
        dataset.X,
        dataset.y,
        config,
        dataset_name=dataset.name,
        dataset_source=dataset.source,
        progress=not args.no_progress,
    )
    atomic_write_text(out / "results.json", dumps_json(results, strict=True))
    plot_precision_vs_radius(results, out / "precision_vs_radius.png")
    plot_query_time_vs_radius(results, out / "query_time_vs_radius.png")
    print(format_tutorial_table(results))
    print(
        f"\nwrote {out / 'results.json'}, {out / 'precision_vs_radius.png'}, "
        f"{out / 'query_time_vs_radius.png'}"
    )
    return 0


def _bench_search(args: argparse.Namespace) -> int:
    import os

    # Before anything loads an OpenMP runtime (scikit-learn, numba, faiss): idle OpenMP
    # threads then sleep instead of spinning, so interleaved numba and faiss calls do not
    # steal each other's cores (see hashlearn.experiments.search_benchmark.passive_openmp).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from hashlearn.experiments import search_benchmark as sb
    from hashlearn.report.search import format_search_pivot, write_search_report

    config = sb.config_from_options(args, quick=args.quick)
    if args.threads is None:
        import numba

        pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        config = dataclasses.replace(config, threads=min(config.threads, pool))
    # Everything that can be checked is checked before any work.
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    records = sb.run_search_benchmark(config, out, progress=not args.no_progress)
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
    print(f"\nwrote {out / sb.RECORDS_NAME}, {out / sb.RUN_NAME}, " + ", ".join(map(str, written)))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hashlearn`` command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was left behind", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, TypeError, OSError) as exc:
        print(f"hashlearn {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
