"""Run hashlearn's benchmarks, each in its own subprocess: ``python -m benchmarks``.

This is what ``make bench`` runs (from the repository root). Each benchmark script prints
its own report (machine facts, timings, a Markdown table where it has one) and writes its
results as JSON to ``results/benchmarks/<name>.json`` (``results/benchmarks/quick/`` with
``--quick``, so a smoke test never overwrites real results). A benchmark that fails does
not stop the others; the exit status is 1 when any failed.

Defaults: GIST-512 extraction of all 60,000 CIFAR-10-sized images once, beside 100
images through the naive reference; the tutorial's Hamming-radius search on CIFAR-10
GIST-512 (scikit-learn digits when CIFAR-10 is not found), radii 0..3, 120 queries; GRH
training time; the training cost of every registered method (32 bits, 2,000 GIST
vectors); evaluation of 10,000 x 50,000 codes. These take a few
minutes in all on a 2-core machine. The search benchmark
(``search``: every hashlearn index beside faiss's binary indexes, N = 10^4 .. 10^6,
32 .. 256 bits, k-NN and range search; the package :mod:`benchmarks.search`) runs its
full grid and takes about 20 minutes; its run folder (records, Markdown table, plots)
goes to ``<out>/search/``. ``scale`` builds index folders of 10^6 to 10^8 codes and
searches them cold and warm (about 10 minutes; ``python benchmarks/scale.py --sizes 1e9``
for a billion). ``floor`` measures the machine's floor (memory bandwidth, XOR +
popcount throughput) and every search path against it (about 3 minutes); ``mih_crossover``
multi-index hashing against the scan on CIFAR-10 GIST codes (about 2 minutes).

``python -m benchmarks search [options]`` runs the search benchmark alone, with its own
options (``python -m benchmarks search --help``; the same as ``python -m benchmarks.search``).
Likewise ``python -m benchmarks service [options]``: the search service under load
(:mod:`benchmarks.service`: ``hashlearn serve`` with 1, 8 and 32 concurrent clients beside
the same queries in process; about 3 minutes).

Usage::

    python -m benchmarks                     # every benchmark, default sizes
    python -m benchmarks --list              # names and what they measure
    python -m benchmarks tutorial_search     # a subset, by name
    python -m benchmarks search              # the search benchmark alone (~20 min)
    python -m benchmarks search --quick --out /tmp/bs   # ... with its own options
    python -m benchmarks service             # the search service under load (~3 min)
    python -m benchmarks --quick             # tiny sizes: a smoke test (well under a minute)
    python -m benchmarks --data-dir /path/to/data --out /tmp/bench
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = ROOT / "results" / "benchmarks"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark script (or ``-m`` module) and the arguments it gets by default and
    with ``--quick``."""

    script: str
    description: str
    args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] = ()
    takes_data_dir: bool = False
    module: bool = False  # run as ``python -m <script>`` from the repository root


BENCHMARKS: dict[str, Benchmark] = {
    "gist": Benchmark(
        script="bench_gist.py",
        description="GIST-512 extraction: batched fast path vs the naive per-image reference",
        args=("--n", "60000", "--repeat", "1", "--reference-n", "100"),
        quick_args=("--n", "100", "--repeat", "1", "--reference-n", "2"),
    ),
    "tutorial_search": Benchmark(
        script="bench_tutorial_search.py",
        description=(
            "Hamming-radius probe + cosine re-rank per query: HashTableIndex + "
            "CosineReranker vs the tutorial's dict/itertools/pairwise_distances approach"
        ),
        args=(),
        quick_args=("--dataset", "digits", "--max-radius", "2"),
        takes_data_dir=True,
    ),
    "grh_training": Benchmark(
        script="bench_grh_training.py",
        description="GRH fit time, 2,000 CIFAR-10 GIST vectors, 16-64 bits",
        args=(),
        quick_args=("--dataset", "digits", "--bits", "8", "--repeat", "1"),
        takes_data_dir=True,
    ),
    "training": Benchmark(
        script="bench_training.py",
        description=(
            "fit time and peak memory of every registered method, 32 bits, 2,000 CIFAR-10 "
            "GIST vectors (the GRH paper's Table 3 setting), beside the paper's times"
        ),
        args=(),
        quick_args=("--dataset", "digits", "--n-train", "300", "--bits", "8", "--repeat", "1"),
        takes_data_dir=True,
    ),
    "evaluation": Benchmark(
        script="bench_evaluation.py",
        description=(
            "every Hamming-ranking metric (mAP@all, mAP@K, P@K, P@r, PR) for 10,000 x 50,000 "
            "64-bit codes by counting, beside the sorting numpy reference"
        ),
        args=(),
        quick_args=("--n-queries", "200", "--n-database", "2000", "--reference-queries", "50"),
    ),
    "deep": Benchmark(
        script="bench_deep.py",
        description=(
            "deep hashers' training and encoding speed (inputs/s) per backbone: DSH on "
            "5,000 synthetic 32x32 images (dsh-cnn, fast-cnn) and 512-d vectors (mlp)"
        ),
        args=(),
        quick_args=("--n", "64", "--epochs", "2", "--batch-size", "16", "--backbones", "mlp"),
    ),
    "floor": Benchmark(
        script="floor.py",
        description=(
            "the hardware floor (memory bandwidth, XOR+popcount throughput, 1 and 2 threads) "
            "and every search path as a fraction of it, beside faiss IndexBinaryFlat (~3 min)"
        ),
        args=(),
        quick_args=("--quick",),
    ),
    "mih_crossover": Benchmark(
        script="mih_crossover.py",
        description=(
            "multi-index hashing against the scan on held-out CIFAR-10 GIST codes (ITQ, LSH) "
            "and uniform codes: where probing stops paying, and what the fallback chooses"
        ),
        args=(),
        quick_args=("--quick",),
        takes_data_dir=True,
    ),
    "scale": Benchmark(
        script="scale.py",
        description=(
            "index folders at 10^6-10^8 codes (CIFAR-10 ITQ codes replicated, uniform): build, "
            "open, cold and warm queries/s, peak memory of scan, hash table, MIH (~10 min)"
        ),
        args=("--sizes", "1e6,1e7,1e8", "--sources", "cifar10-itq,uniform"),
        quick_args=("--quick",),
        takes_data_dir=True,
    ),
    "search": Benchmark(
        script="benchmarks.search",
        module=True,
        description=(
            "k-NN and range search, every hashlearn index beside faiss IndexBinaryFlat/"
            "Hash/MultiHash, N = 10^4..10^6, 32-256 bits, results checked (~20 min)"
        ),
        args=(),
        quick_args=("--quick", "--no-progress"),
        takes_data_dir=True,
    ),
    "service": Benchmark(
        script="benchmarks.service",
        module=True,
        description=(
            "the search service under load: `hashlearn serve` with 1, 8 and 32 clients, "
            "single and batch k-NN requests, beside the same queries in process (~3 min)"
        ),
        args=(),
        quick_args=("--quick", "--no-progress"),
        takes_data_dir=True,
    ),
}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="benchmarks to run (default: all; see --list)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"folder for the JSON results (default {DEFAULT_OUT.relative_to(ROOT)}, "
        "or its quick/ subfolder with --quick)",
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory for benchmarks on real data"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return args


def command_for(name: str, *, quick: bool, out: Path, data_dir: str | None) -> list[str]:
    """The command line that runs benchmark ``name``, writing ``out / f"{name}.json"``."""
    bench = BENCHMARKS[name]
    if bench.module:
        command = [sys.executable, "-m", bench.script]
    else:
        command = [sys.executable, str(HERE / bench.script)]
    command += bench.quick_args if quick else bench.args
    if data_dir is not None and bench.takes_data_dir:
        command += ["--data-dir", data_dir]
    return [*command, "--json", str(out / f"{name}.json")]


def _relative(part: str) -> str:
    """A path under the repository root as a relative path (for display)."""
    path = Path(part)
    if path.is_absolute() and path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    return part


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["search"]:  # the search benchmark alone, with its own options
        from .search.__main__ import main as search

        return search(arguments[1:])
    if arguments[:1] == ["service"]:  # the load benchmark alone, with its own options
        from .service.__main__ import main as service

        return service(arguments[1:])
    args = _parse_args(arguments)
    if args.list:
        width = max(map(len, BENCHMARKS))
        for name, bench in BENCHMARKS.items():
            print(f"{name:<{width}}  {bench.description} ({bench.script})")
        return 0
    names = args.names or list(BENCHMARKS)
    out = args.out or (DEFAULT_OUT / "quick" if args.quick else DEFAULT_OUT)
    out.mkdir(parents=True, exist_ok=True)

    # The scripts import hashlearn; put src/ on the path in case it is not installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    outcomes: list[tuple[str, int, float]] = []
    for name in names:
        command = command_for(name, quick=args.quick, out=out, data_dir=args.data_dir)
        shown = " ".join(["python", *(_relative(part) for part in command[1:])])
        print(f"\n===== {name}: {shown}", flush=True)
        start = time.perf_counter()
        try:
            returncode = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        except OSError as exc:
            print(f"could not start {name}: {exc}", file=sys.stderr)
            returncode = 127
        seconds = time.perf_counter() - start
        outcomes.append((name, returncode, seconds))
        status = "ok" if returncode == 0 else f"FAILED (exit status {returncode})"
        print(f"===== {name}: {status} in {seconds:.1f} s", flush=True)

    print("\nsummary:")
    for name, returncode, seconds in outcomes:
        result = out / f"{name}.json"
        status = "ok" if returncode == 0 else f"FAILED ({returncode})"
        where = f" -> {result}" if returncode == 0 and result.exists() else ""
        print(f"  {name:<20} {status:<12} {seconds:7.1f} s{where}")
    failed = [name for name, returncode, _ in outcomes if returncode != 0]
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
