"""Per-call time of multi-index hashing's kernels on clustered 64-bit codes.

Data: 2,000 random 64-bit centres; 100,000 database codes and ``--queries`` queries, each a
random centre with every bit flipped with probability ``flip`` (0.05 and 0.10; seed 0).
Times ``MultiIndexHashing.search(queries, 10)`` and ``range_search(queries, 4)`` on one
numba thread, after a warm-up call; each figure is the best of ``--repeat`` calls.

Run it on two checkouts, one after the other, to compare kernel changes (machines are
noisy: alternate the two a few times and compare ratios)::

    PYTHONPATH=src python benchmarks/mih_kernels.py
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/mih_kernels.py
"""

from __future__ import annotations

import argparse
import functools

import numba
import numpy as np

from _common import best_of_ms
from hashlearn.index import MultiIndexHashing


def clustered(rng: np.random.Generator, n: int, centres: np.ndarray, flip: float) -> np.ndarray:
    """``n`` packed codes, each a random centre with every bit flipped with probability flip."""
    rows = centres[rng.integers(0, centres.shape[0], n)]
    noise = (rng.random(rows.shape) < flip).astype(np.uint8)
    return np.packbits(rows ^ noise, axis=1, bitorder="little")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    numba.set_num_threads(1)
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 2, (2000, 64), dtype=np.uint8)
    print("flip  task        best ms")
    for flip in (0.05, 0.10):
        database = clustered(rng, 100_000, centres, flip)
        queries = clustered(rng, args.queries, centres, flip)
        index = MultiIndexHashing(64, n_threads=1)
        index.add(database)
        calls = {
            "k-NN k=10": functools.partial(index.search, queries, 10),
            "range r=4": functools.partial(index.range_search, queries, 4),
        }
        for task, call in calls.items():
            print(f"{flip:.2f}  {task:10}  {best_of_ms(call, args.repeat):8.2f}")


if __name__ == "__main__":
    main()
