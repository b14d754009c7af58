"""The ``hashlearn`` command line: a thin layer over experiments, reports and datasets."""

from __future__ import annotations

import argparse
import difflib
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    from hashlearn._version import __version__

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
    _add_n_jobs(tutorial)
    tutorial.set_defaults(handler=_tutorial)
    _add_bench(commands)
    _add_report(commands)
    _add_encode(commands)
    methods = commands.add_parser(
        "methods",
        help="list the hashing methods (benchmark names, labels, papers)",
        description="Every registered method: its name in specs, whether it uses labels, "
        "the label of the published tables, and a one-line description with its paper.",
    )
    methods.set_defaults(handler=_methods)
    _add_datasets(commands)
    _add_features(commands)
    _add_service(commands)
    _add_toy2d(commands)
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
            "  hashlearn bench --protocol grh-cifar10 --dataset my_features.npz --methods lsh\n"
            "  hashlearn bench --protocol 20ng-text --dataset my_corpus/ --methods lsh,itq "
            "--max-features 5000"
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
        help="your own data: .npz (X, y[, X_query, y_query]), .npy, .csv of numbers; or a text "
        "corpus: a folder of class folders, .jsonl or .csv with text and label",
    )
    bench.add_argument(
        "--text-features",
        choices=["tfidf", "counts"],
        default=None,
        help="text corpus: TF-IDF (default) or word counts, learned on each seed's training rows",
    )
    bench.add_argument(
        "--max-features", type=int, default=None, help="text corpus: vocabulary size (10000)"
    )
    bench.add_argument(
        "--text-encoding", default=None, help="text corpus: encoding of its files (utf-8)"
    )
    bench.add_argument("--download", action="store_true", help="allow downloading missing data")
    bench.add_argument("--no-save-models", action="store_true", help="do not save fitted hashers")
    bench.add_argument(
        "--force-resume",
        action="store_true",
        help="resume --out even if its records were computed on other data, protocol or method",
    )
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
            "text_features": args.text_features,
            "max_features": args.max_features,
            "text_encoding": args.text_encoding,
            "save_models": False if args.no_save_models else None,
            "download": True if args.download else None,
            "force_resume": True if args.force_resume else None,
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


def _add_encode(commands: Any) -> None:
    encode = commands.add_parser(
        "encode",
        help="encode a .npy of features with a saved hasher into a .npy of packed codes",
        description=(
            "Stream FEATURES (a 2-D .npy, memory-mapped) through the hasher saved in MODEL, "
            "CHUNK_SIZE rows at a time, into CODES (uint8, one packed code per row): memory "
            "holds one chunk, whatever the size of the input. CODES appears complete or not "
            "at all."
        ),
        epilog="example:\n  hashlearn encode --model itq-64.hlz --input gist.npy --out codes.npy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    encode.add_argument("--model", required=True, help="a hasher saved with hasher.save()")
    encode.add_argument("--input", required=True, help="features, a 2-D .npy (n, n_features)")
    encode.add_argument("--out", required=True, help="the .npy of codes to write")
    encode.add_argument(
        "--chunk-size", type=int, default=65536, help="rows encoded at a time (default 65536)"
    )
    encode.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    encode.set_defaults(handler=_encode)


def _encode(args: argparse.Namespace) -> int:
    import os
    import tempfile

    import numpy as np
    from numpy.lib.format import open_memmap

    from hashlearn._progress import progress_bar, resolve_progress
    from hashlearn.codes import n_bytes
    from hashlearn.persistence import load

    hasher = load(args.model)
    if getattr(hasher, "_persistence_kind", None) != "hasher":
        raise TypeError(
            f"--model {args.model} holds a {type(hasher).__name__}, not a hasher; save a "
            "fitted hasher with hasher.save(path)"
        )
    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    features = np.load(args.input, mmap_mode="r", allow_pickle=False)
    width = getattr(hasher, "n_features_in_", None)
    if features.ndim != 2 or (width is not None and features.shape[1] != width):
        raise ValueError(
            f"--input {args.input} holds features of shape {features.shape}, but the hasher "
            f"was fitted on {width} features: it needs a 2-D array (n, {width})"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    n = features.shape[0]
    starts = range(0, n, args.chunk_size)
    tick, close = progress_bar(
        resolve_progress(False if args.no_progress else "auto"),
        len(starts),
        desc="encode",
        unit="chunk",
    )
    try:
        codes = open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, n_bytes(hasher.n_bits)))
        for start in starts:
            codes[start : start + args.chunk_size] = hasher.encode(
                np.asarray(features[start : start + args.chunk_size])
            )
            tick(f"{min(start + args.chunk_size, n)} / {n} rows")
        codes.flush()
        del codes
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        close()
    print(f"{n} codes of {hasher.n_bits} bits written to {out}")
    return 0


def _add_toy2d(commands: Any) -> None:
    toy = commands.add_parser(
        "toy2d",
        help="how each method's bits cut a 2-D uniform rectangle: figures and an index",
        description=(
            "Fit every registered method (or --methods) on 1,000 points uniform on "
            "[0, 1] x [0, 0.5] at each code length, and draw each bit's boundary and the "
            "cells of equal code: one PNG per method, overview.png (a row per method) and "
            "index.md, which lists every method, drawn or skipped with the reason. "
            "Supervised methods get the quadrant of the rectangle as label; network-trained "
            "methods a small MLP and few epochs on the CPU (docs/toy2d.md)."
        ),
        epilog=(
            "examples:\n"
            "  hashlearn toy2d --out docs/images/toy2d\n"
            "  hashlearn toy2d --out results/toy2d --methods lsh,sh,itq --bits 2,8"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    toy.add_argument("--out", type=Path, default=Path("results/toy2d"), help="output folder")
    toy.add_argument(
        "--methods",
        action="append",
        default=None,
        help="comma-separated names, or one NAME:key=value,... per option (repeatable); "
        "default: every registered method",
    )
    toy.add_argument("--bits", default="2,4,8", help="comma-separated code lengths (2,4,8)")
    toy.add_argument("--seed", type=int, default=0, help="seed of the points and methods (0)")
    toy.add_argument("--n-points", type=int, default=1000, help="training points (1000)")
    toy.add_argument(
        "--resolution", type=int, default=400, help="grid points along the long side (400)"
    )
    toy.add_argument("--no-progress", action="store_true", help="print one line per fit: off")
    toy.set_defaults(handler=_toy2d)


def _toy2d(args: argparse.Namespace) -> int:
    import shlex

    from hashlearn.experiments.toy2d import run_toy2d
    from hashlearn.report.toy2d import write_toy2d_gallery

    gallery = run_toy2d(
        args.methods,
        args.bits,
        n_points=args.n_points,
        resolution=args.resolution,
        seed=args.seed,
        progress=not args.no_progress,
    )
    # The command that regenerates this gallery, for its index: the options given.
    command = ["hashlearn", "toy2d", "--out", str(args.out)]
    for spec in args.methods or []:
        command += ["--methods", spec]
    for option, value, default in (
        ("--bits", args.bits, "2,4,8"),
        ("--seed", args.seed, 0),
        ("--n-points", args.n_points, 1000),
        ("--resolution", args.resolution, 400),
    ):
        if value != default:
            command += [option, str(value)]
    files = write_toy2d_gallery(gallery, args.out, command=shlex.join(command))
    for method in gallery.methods:
        if method.skipped is not None:
            print(f"skipped {method.spec}: {method.skipped}")
    if not files.figures:
        print(f"nothing could be drawn (see above); wrote {files.index}", file=sys.stderr)
        return 1
    print(f"wrote {len(files.figures)} method figure(s), {files.overview} and {files.index}")
    return 0


def _add_service(commands: Any) -> None:
    from hashlearn.serve.build import INDEX_KINDS
    from hashlearn.serve.engine import Limits

    build = commands.add_parser(
        "build",
        help="fit a hasher on a dataset and write a bundle (codes, index, items) to serve",
        description=(
            "Fit METHOD on the dataset's training rows, encode every database row, and "
            "write a bundle folder: the index with its hasher, the vectors (for "
            "re-ranking), the labels, and what shows each item (images, text snippets). "
            "The folder appears complete or not at all."
        ),
        epilog="example:\n  hashlearn build --dataset cifar10-gist --method itq --bits 32 "
        "--out bundles/cifar10-itq-32",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--dataset", required=True, help="a catalogue name or a .npz/.npy/.csv")
    build.add_argument("--method", required=True, help="a method spec (hashlearn methods)")
    build.add_argument("--bits", type=int, required=True, help="code length")
    build.add_argument("--out", type=Path, required=True, help="the bundle folder to write")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--n-train", type=int, default=None, help="fit on at most N rows")
    build.add_argument("--limit", type=int, default=None, help="keep at most N database rows")
    build.add_argument("--index", choices=INDEX_KINDS, default="auto")
    build.add_argument(
        "--no-vectors", action="store_true", help="do not keep the vectors (no re-ranking)"
    )
    build.add_argument("--data-dir", default=None, help="data directory (or $HASHLEARN_DATA)")
    build.add_argument("--download", action="store_true", help="allow downloading the data")
    build.add_argument("--force", action="store_true", help="replace an existing bundle")
    build.set_defaults(handler=_build)

    defaults = Limits()
    serve = commands.add_parser(
        "serve",
        help="serve bundles: a JSON API (OpenAPI at /docs) and the explorer page at /",
        description=(
            "Serve one or more bundles over HTTP with FastAPI and uvicorn (pip install "
            "'hashlearn[web]'). Bound to 127.0.0.1 unless --host says otherwise. Every "
            "limit below answers 4xx with a message when a request passes it."
        ),
    )
    serve.add_argument(
        "bundles", nargs="+", type=Path, metavar="BUNDLE", help="bundle folders (hashlearn build)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    serve.add_argument(
        "--writable",
        action="store_true",
        help="accept added items (durable log in BUNDLE/log/); writes need the token from "
        "$HASHLEARN_SERVE_TOKEN, or one printed at start",
    )
    serve.add_argument(
        "--max-k",
        type=int,
        default=defaults.max_k,
        help="neighbours per query (default %(default)s)",
    )
    serve.add_argument(
        "--max-batch",
        type=int,
        default=defaults.max_batch,
        help="queries or added items per request (default %(default)s)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=defaults.max_body_bytes,
        help="request body size (default %(default)s)",
    )
    serve.add_argument(
        "--max-results",
        type=int,
        default=defaults.max_results,
        help="results per request, over all its queries (default %(default)s)",
    )
    serve.add_argument(
        "--max-probe-cost",
        type=int,
        default=defaults.max_probe_cost,
        help="code comparisons or bucket probes per request, estimated before searching "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--no-verify", action="store_true", help="skip the checksums of the bundle files"
    )
    serve.set_defaults(handler=_serve)


def _build(args: argparse.Namespace) -> int:
    from hashlearn.serve.build import BuildConfig, build_bundle

    path = build_bundle(
        BuildConfig(
            dataset=args.dataset,
            method=args.method,
            n_bits=args.bits,
            out=args.out,
            seed=args.seed,
            n_train=args.n_train,
            limit=args.limit,
            vectors=not args.no_vectors,
            index=args.index,
            data_dir=args.data_dir,
            download=True if args.download else None,
            overwrite=args.force,
        )
    )
    print(f"bundle written: {path} (serve it with: hashlearn serve {path})")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from hashlearn.serve.engine import Limits
    from hashlearn.serve.server import run_server

    limits = Limits(
        max_k=args.max_k,
        max_batch=args.max_batch,
        max_body_bytes=args.max_body_bytes,
        max_results=args.max_results,
        max_probe_cost=args.max_probe_cost,
    )
    for name, value in limits.as_dict().items():
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    run_server(
        args.bundles,
        host=args.host,
        port=args.port,
        limits=limits,
        writable=args.writable,
        verify=not args.no_verify,
    )
    return 0


def _add_n_jobs(parser: argparse.ArgumentParser) -> None:
    """``--n-jobs`` of the commands that compute features (GIST, TF-IDF)."""
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="BLAS/OpenMP threads of feature computation, -1 for every CPU (default 1: "
        "faster on a busy machine, and two runs never oversubscribe the cores)",
    )


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
    _add_n_jobs(group)
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
        n_jobs=args.n_jobs,
    )
    for key, value in describe(dataset).items():
        print(f"{key:>16}: {value}")
    if args.action == "prepare":
        print(f"{args.name} is ready")
    return 0


def _add_features(commands: Any) -> None:
    from hashlearn.datasets.cnn_features import FEATURE_DATASETS
    from hashlearn.features.cnn import CNN_MODELS

    group = commands.add_parser(
        "features",
        help="CNN features of an image dataset (torchvision networks), cached for every hasher",
        description=(
            "extract: the penultimate layer of a torchvision network (AlexNet/VGG-16 fc7, "
            "ResNet global pool) for every image of a dataset, written as a .npz of X and y "
            "in the cache (or --out) and reported in images per second; the file is what "
            "hashlearn bench --dataset reads. Needs the deep extra (torch, torchvision). "
            "Weights come from a local file only; without --weights they are random and "
            "the features are not meaningful for retrieval."
        ),
        epilog=(
            "example:\n"
            "  hashlearn features extract --model resnet18 --dataset cifar10 "
            "--weights resnet18.pth --device cuda"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group.add_argument("action", choices=["extract"])
    group.add_argument("--model", default="resnet18", choices=list(CNN_MODELS))
    group.add_argument("--dataset", default="cifar10", choices=list(FEATURE_DATASETS))
    group.add_argument(
        "--weights", type=Path, default=None, help="local state_dict file (.pth/.pt, or .npz)"
    )
    group.add_argument("--seed", type=int, default=0, help="seed of random weights (default 0)")
    group.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    group.add_argument("--batch-size", type=int, default=64, help="images per batch (64)")
    group.add_argument("--no-amp", action="store_true", help="float32 on CUDA too")
    group.add_argument("--limit", type=int, default=None, help="only the first N images")
    group.add_argument(
        "--out", type=Path, default=None, help="write this .npz instead of the cache"
    )
    group.add_argument("--data-dir", default=None, help="data directory (or $HASHLEARN_DATA)")
    group.add_argument("--cache-dir", default=None, help="cache directory (or $HASHLEARN_CACHE)")
    group.add_argument("--download", action="store_true", help="allow downloading the dataset")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")
    group.set_defaults(handler=_features)


def _features(args: argparse.Namespace) -> int:
    from hashlearn.datasets.cnn_features import extract_dataset_features, usage_hint

    found = extract_dataset_features(
        args.dataset,
        args.model,
        weights=args.weights,
        seed=args.seed,
        device=args.device,
        batch_size=args.batch_size,
        amp=not args.no_amp,
        limit=args.limit,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        out=args.out,
        download=args.download,
        progress=not args.no_progress,
    )
    meta = found.meta
    speed = f"{meta['images_per_second']:.1f} images/s on {meta['device']}"
    if found.cached:
        print(f"cached: {found.path} (extracted at {speed})")
    else:
        print(f"{meta['model']} features of {found.shape[0]:,} {meta['dataset']} images: {speed}")
        print(f"wrote {found.path}: X float32 {found.shape}, y")
    print(usage_hint(found))
    return 0


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
        n_jobs=args.n_jobs,
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


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (None when it exists)."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def _remove_empty(path: Path, root: Path) -> None:
    """Remove ``path`` and its parents up to ``root`` while they are empty folders."""
    for folder in (path, *path.parents):
        if not folder.is_dir() or any(folder.iterdir()):
            return
        folder.rmdir()
        if folder == root:
            return


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; an unknown option is reported by its subcommand, with its usage and
    the closest valid option."""
    args, extras = parser.parse_known_args(argv)
    if not extras:
        return args
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = commands.choices[args.command]
    options = [o for action in sub._actions for o in action.option_strings]
    hints = []
    for extra in extras:
        close = difflib.get_close_matches(extra.split("=", 1)[0], options, n=1, cutoff=0.75)
        if extra.startswith("-") and close:
            hints.append(f"{extra}: did you mean {close[0]}?")
    message = f"unrecognized arguments: {' '.join(extras)}"
    sub.error(message + "".join(f"\n  {hint}" for hint in hints))
    raise AssertionError("unreachable: ArgumentParser.error exits")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hashlearn`` command; returns the exit status.

    Warnings are printed as one line naming the command (``hashlearn report: warning:
    ...``), not as a line of library code. A command that fails removes the output folder
    it created when that folder is still empty.
    """
    from hashlearn.experiments.lock import RunFolderLockedError

    parser = _build_parser()
    args = _parse(parser, argv)
    out = getattr(args, "out", None)
    created = _first_missing(out) if isinstance(out, Path) else None
    status = 2
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer(args.command)
        try:
            status = int(args.handler(args))
        except KeyboardInterrupt:
            print("interrupted: nothing half-written was left behind", file=sys.stderr)
            status = 130
        except (
            FileNotFoundError,
            ValueError,
            TypeError,
            OSError,
            ImportError,  # a missing extra: the message names the pip install to run
            RunFolderLockedError,
        ) as exc:
            print(f"hashlearn {args.command}: error: {exc}", file=sys.stderr)
        finally:
            if status != 0 and created is not None and isinstance(out, Path):
                _remove_empty(out, created)
    return status


def _warning_printer(command: str) -> Any:
    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        del args, kwargs
        print(f"hashlearn {command}: warning ({category.__name__}): {message}", file=sys.stderr)

    return show


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
