"""The ``hashlearn`` command line: a thin layer over experiments, reports and datasets."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

_DIGITS_NOTICE = (
    "notice: CIFAR-10 not found, running on scikit-learn's digits instead; to use CIFAR-10, "
    "point --data-dir or HASHLEARN_DATA at a folder holding cifar10/cifar10-jpeg.tar.gz and "
    "cifar10/cifar10_order.csv (or cifar10/cifar-10-python.tar.gz), or run once with network "
    "access"
)

# The digits fallback has 1,797 rows: the tutorial's fractions would leave 4 queries.
_DIGITS_SPLIT: dict[str, Any] = {"query_size": 120, "train_size": 300}


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
    return parser


def _load(args: argparse.Namespace) -> Any:
    from hashlearn import datasets

    progress = not args.no_progress
    name = args.dataset
    if name == "auto":
        found = datasets.find_cifar10_source(args.data_dir, cache_dir=args.cache_dir)
        if found is None and datasets.is_offline():
            print(_DIGITS_NOTICE, file=sys.stderr)
            return datasets.load_digits_dataset()
        try:
            return datasets.load_cifar10_gist(
                args.data_dir, cache_dir=args.cache_dir, download=found is None, progress=progress
            )
        except (OSError, ValueError) as exc:
            if found is not None:
                raise
            print(f"{_DIGITS_NOTICE} ({exc})", file=sys.stderr)
            return datasets.load_digits_dataset()
    if name == "cifar10-gist":
        return datasets.load_cifar10_gist(
            args.data_dir, cache_dir=args.cache_dir, progress=progress
        )
    if name == "cifar10-gist-mat":
        return datasets.load_gist_mat(args.mat, data_dir=args.data_dir, download=True)
    return datasets.load_digits_dataset()


def _tutorial(args: argparse.Namespace) -> int:
    from hashlearn.experiments import TutorialConfig, run_tutorial
    from hashlearn.persistence import atomic_write
    from hashlearn.report import (
        format_tutorial_table,
        plot_precision_vs_radius,
        plot_query_time_vs_radius,
    )

    overrides: dict[str, Any] = {}
    if args.grh_alpha is not None:
        overrides["grh_alpha"] = args.grh_alpha
    if args.grh_iter is not None:
        overrides["grh_n_iter"] = args.grh_iter
    max_radius = min(10, args.bits) if args.max_radius is None else args.max_radius
    # Everything that can be checked is checked before minutes of loading and training.
    config = TutorialConfig(
        n_bits=args.bits, max_radius=max_radius, k=args.k, seed=args.seed, **overrides
    )
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder, but {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    dataset = _load(args)
    if dataset.name == "digits":
        config = dataclasses.replace(config, **_DIGITS_SPLIT)
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
    text = json.dumps(_finite(results), indent=2, allow_nan=False, default=_json_default)
    atomic_write(out / "results.json", lambda handle: handle.write(text.encode()))
    plot_precision_vs_radius(results, out / "precision_vs_radius.png")
    plot_query_time_vs_radius(results, out / "query_time_vs_radius.png")
    print(format_tutorial_table(results))
    print(
        f"\nwrote {out / 'results.json'}, {out / 'precision_vs_radius.png'}, "
        f"{out / 'query_time_vs_radius.png'}"
    )
    return 0


def _finite(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


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
