"""Recall@10 vs candidates of MultiTableIndex on clustered 64-bit codes.

Data: 2,000 random 64-bit centres; 100,000 database codes and 1,000 queries, each a
random centre with every bit flipped with probability p (p = 0.05 and 0.15; seed 0).
Recall@10 is ann-benchmarks' k-NN recall: the fraction of the 10 returned codes whose
distance is <= the exact 10th-nearest distance (LinearScanIndex), so ties at the 10th
distance count as found. Candidates: distinct codes verified per query (mean; for grow,
all rounds). Time: ms per query on one thread (n_threads=1), best of 3.

Run: .venv/bin/python benchmarks/multi_table_tradeoff.py
"""

import time

import numpy as np

from hashlearn.codes import pack_bits
from hashlearn.index import LinearScanIndex
from hashlearn.index.multi_table import MultiTableIndex

N_BITS, N, N_QUERIES, N_CENTRES, K = 64, 100_000, 1_000, 2_000, 10
FLIPS = (0.05, 0.15)
CONFIGS = [  # (tables, L, K, probe_radius, grow)
    ("disjoint", 2, 32, 0, None),
    ("disjoint", 2, 32, 2, None),
    ("disjoint", 4, 16, 0, None),
    ("disjoint", 4, 16, 1, None),
    ("disjoint", 4, 16, 2, None),
    ("disjoint", 8, 8, 0, None),
    ("disjoint", 8, 8, 1, None),
    ("random", 8, 16, 0, None),
    ("random", 8, 16, 1, None),
    ("random", 16, 16, 0, None),
    ("random", 32, 16, 0, None),
    ("disjoint", 4, 16, 0, "candidates"),
    ("disjoint", 4, 16, 0, "exact"),
]


def timed(function):
    """Result of the last of 3 calls, and the best time in ms per query."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return result, 1e3 * min(times) / N_QUERIES


def dataset(flip):
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 2, size=(N_CENTRES, N_BITS), dtype=np.uint8)

    def clustered(n):
        bits = centres[rng.integers(0, N_CENTRES, n)]
        return pack_bits(bits ^ (rng.random(bits.shape) < flip))

    return clustered(N), clustered(N_QUERIES)


cells = {}
for flip in FLIPS:
    database, queries = dataset(flip)
    exact = LinearScanIndex(N_BITS, n_threads=1).add(database)
    exact.search(queries[:10], K)  # compile
    (true_d, _), scan_ms = timed(lambda exact=exact, queries=queries: exact.search(queries, K))
    cells[flip, "scan"] = f"1.000 | {N:,} | {scan_ms:.3f}"
    for kind, n_tables, bits, radius, grow in CONFIGS:
        index = MultiTableIndex(
            N_BITS, n_tables=n_tables, bits_per_table=bits, tables=kind,
            probe_radius=radius, grow=grow, random_state=0, n_threads=1,
        ).add(database)  # fmt: skip
        index.search(queries[:10], K)  # compile
        (distances, _), ms = timed(lambda index=index, queries=queries: index.search(queries, K))
        recall = ((distances >= 0) & (distances <= true_d[:, -1:])).mean()
        stats = index.last_stats_.summary()
        cells[flip, kind, n_tables, bits, radius, grow] = (
            f"{recall:.3f} | {stats['verified']:,.0f} | {ms:.3f}"
        )
        cells[flip, "R", kind, n_tables, bits, radius, grow] = (
            stats["radius"],
            index.certified_radius(radius),
        )

header = " | ".join(f"recall@10 (p={f}) | candidates | ms/query" for f in FLIPS)
print(f"| tables | L x K | probe_radius | R(r) | {header} |")
print("|---|---|---|---|" + "---|" * 3 * len(FLIPS))
print(f"| linear scan | | | | {' | '.join(cells[f, 'scan'] for f in FLIPS)} |")
for config in CONFIGS:
    kind, n_tables, bits, radius, grow = config
    label = kind if grow is None else f"{kind}, grow={grow!r}"
    if grow is None:
        shown = f"{radius} | {cells[(FLIPS[0], 'R', *config)][1]}"
    else:
        means = "/".join(f"{cells[(f, 'R', *config)][0]:.2f}" for f in FLIPS)
        shown = f"{radius} -> {means} (mean) | "
    row = " | ".join(cells[(f, *config)] for f in FLIPS)
    print(f"| {label} | {n_tables} x {bits} | {shown} | {row} |")
