"""Benchmark of GIST-512 extraction (:func:`hashlearn.features.gist.gist_features`).

Times the batched fast path on N random uint8 32 x 32 x 3 images (CIFAR-10 sized) and
prints images per second, the projected time for the 60,000 CIFAR-10 images and the peak
resident memory. With ``--reference-n K`` it also times the naive per-image float64
implementation (:func:`~hashlearn.testing.gist_features_reference`, full-size FFTs,
one image at a time) on K images, reports the speedup in the same run, and checks that the
two agree.

Usage::

    python benchmarks/bench_gist.py                      # all 60,000 images
    python benchmarks/bench_gist.py --n 5000 --batch-size 256 --reference-n 200
    python benchmarks/bench_gist.py --n 60000 --reference-n 300 --json gist.json
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from typing import Any

import numpy as np

from _common import machine, now, write_json
from hashlearn.features.gist import gist_features
from hashlearn.testing import gist_features_reference

CIFAR10_IMAGES = 60_000


def _rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_rss_mib()


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB else


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=CIFAR10_IMAGES, help="images (default 60000)")
    parser.add_argument("--batch-size", type=int, default=500, help="gist_features batch size")
    parser.add_argument("--n-jobs", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of the fast path")
    parser.add_argument(
        "--reference-n",
        type=int,
        default=0,
        help="also time the naive per-image float64 implementation on this many images",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    for name in ("n", "batch_size", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.reference_n < 0:
        parser.error("--reference-n must be >= 0")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parse_args(argv)
    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, (args.n, 32, 32, 3), dtype=np.uint8)
    rss_before = _rss_mib()

    facts = machine()
    print(f"date: {now()}")
    print(f"machine: {facts['cpu']}, {facts['cpus']} CPUs")
    print(f"python {facts['python']}, numpy {facts['numpy']}, BLAS: {facts['blas']}")
    print(
        f"GIST-512 on {args.n} random uint8 32x32x3 images, batch_size={args.batch_size}, "
        f"n_jobs={args.n_jobs}"
    )

    timings = []
    features = None
    for _ in range(args.repeat):
        start = time.perf_counter()
        features = gist_features(
            images, batch_size=args.batch_size, n_jobs=args.n_jobs, progress=args.progress
        )
        timings.append(time.perf_counter() - start)
    assert features is not None and features.shape == (args.n, 512)
    best = min(timings)
    rate = args.n / best
    peak = _peak_rss_mib()
    print(
        f"fast path: {best:.2f} s best of {args.repeat} (median {statistics.median(timings):.2f} s)"
        f" -> {rate:,.0f} images/s; projected {CIFAR10_IMAGES / rate:.1f} s for "
        f"{CIFAR10_IMAGES:,} images"
    )
    print(
        f"memory: peak RSS {peak:.0f} MiB (RSS {rss_before:.0f} MiB before, input "
        f"{images.nbytes / 2**20:.0f} MiB, output {features.nbytes / 2**20:.0f} MiB)"
    )
    result: dict[str, Any] = {
        "benchmark": "gist_features",
        "date": now(),
        "command": " ".join(["python", "benchmarks/bench_gist.py", *(argv or sys.argv[1:])]),
        "machine": facts,
        "n_images": args.n,
        "batch_size": args.batch_size,
        "n_jobs": args.n_jobs,
        "seconds": timings,
        "images_per_second": rate,
        "projected_seconds_60000": CIFAR10_IMAGES / rate,
        "peak_rss_mib": peak,
        "rss_before_mib": rss_before,
    }

    if args.reference_n:
        subset = images[: args.reference_n]
        start = time.perf_counter()
        reference = np.stack([gist_features_reference(image) for image in subset])
        ref_seconds = time.perf_counter() - start
        ref_rate = len(subset) / ref_seconds
        relative = np.abs(features[: len(subset)] - reference) / np.abs(reference).clip(1e-12)
        print(
            f"naive per-image float64 reference: {ref_rate:,.1f} images/s on {len(subset)} "
            f"images; projected {CIFAR10_IMAGES / ref_rate / 60:.1f} min for "
            f"{CIFAR10_IMAGES:,}; speedup x{rate / ref_rate:.1f}"
        )
        print(
            f"agreement with the reference: max relative error {relative.max():.2e}, "
            f"median {np.median(relative):.2e}"
        )
        result.update(
            reference_n=len(subset),
            reference_images_per_second=ref_rate,
            speedup=rate / ref_rate,
            max_relative_error=float(relative.max()),
            median_relative_error=float(np.median(relative)),
        )

    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
