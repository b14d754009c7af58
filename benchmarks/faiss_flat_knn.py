"""k-NN through ``FaissBinaryFlat``: faiss's own (distance, id) order against tie completion.

``FaissBinaryFlat`` used to ask faiss for ``k + max(k, 16)`` neighbours and complete ties at
the ``k``-th distance with a range search, as the hash indexes still do. faiss's
``IndexBinaryFlat`` keeps the ``k`` smallest ``(distance, id)`` pairs itself, so the wrapper
now makes one call for ``k``. This times both paths on the same index, interleaved
(``--rounds`` rounds, best of ``--repeat`` calls each), and checks they return the same
arrays.

Data: ``--n`` random codes of ``--bits`` bits (default 100,000 x 64 and x 16: 16 bits gives
many ties at the k-th distance), ``--queries`` random queries, faiss on one thread::

    PYTHONPATH=src python benchmarks/faiss_flat_knn.py
"""

from __future__ import annotations

import argparse
import functools

import numpy as np

from _common import best_of_ms
from hashlearn.index import FaissBinaryFlat
from hashlearn.testing import random_codes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--bits", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print("bits k  tie-completion ms  one-call ms  ratio (one-call / completion)")
    for bits in args.bits:
        index = FaissBinaryFlat(bits, n_threads=1).add(random_codes(rng, args.n, bits))
        queries = random_codes(rng, args.queries, bits)
        for k in args.ks:
            results = {}
            times: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(args.rounds):
                for direct in (False, True):
                    index._keeps_smallest_pairs = direct
                    search = functools.partial(index.search, queries, k)
                    results[direct] = search()
                    times[direct].append(best_of_ms(search, args.repeat))
            same = all(
                np.array_equal(a, b) for a, b in zip(results[True], results[False], strict=True)
            )
            assert same, f"the two paths differ at bits={bits}, k={k}"
            old, new = min(times[False]), min(times[True])
            print(f"{bits:4d} {k:3d} {old:17.2f} {new:12.2f}  {new / old:.2f}")


if __name__ == "__main__":
    main()
