"""Search at the hardware floor: what this machine can do, and every search path against it.

**The floor.** Two limits bound an exhaustive Hamming search on a CPU:

* *memory bandwidth*: reading a large array of codes (``--memory-gib``, well beyond the
  caches) once, XOR-folding its 64-bit words (nothing else to do per byte), with 1 and 2
  threads; in GB/s, and in codes/s for ``b``-bit codes (``GB/s / (b / 8)``);
* *popcount throughput*: ``popcount(q XOR c)`` summed over 64-bit words of codes held in
  L1 (a 16 KiB block, read over and over), with one query and with four queries sharing
  every word loaded (what the scan does), with 1 and 2 threads; in words/s, and in
  codes/s for ``b``-bit codes (``words/s / (b / 64)``). LLVM vectorises these loops for the
  CPU numba compiles for (with AVX2: a nibble lookup, ``vpshufb``, summed by ``vpsadbw``);
  the same loops compiled without vectorisation (``NUMBA_LOOP_VECTORIZE=0``, in a
  subprocess) give the scalar ``popcnt`` rate beside it.

The *floor* of a search is the best popcount rate measured (vectorised or scalar): a scan
of many queries reads each block of codes once per block of queries (16), so memory is not
what limits it unless codes are very long or the block small. Each search path is reported
as **codes compared per second** (queries x N / seconds) divided by the floor's codes per
second at the same width and thread count: 1.0 means the search compares codes as fast as
a tight XOR+popcount loop over cached data. The indexes that skip codes (hash table,
multi-index hashing) can go beyond 1.0; for them the fraction is scan-equivalent (queries
x N / seconds), and the codes they actually verified per second are given beside it.

**The paths.** ``N`` (``--n``) uniform random codes of each width (``--bits``) and
``--queries`` queries, each a stored code with every bit flipped with probability 1/128 (so
range searches of radius ``b / 32`` have results): :class:`~hashlearn.index.LinearScanIndex`
k-NN and range search, :class:`~hashlearn.index.HashTableIndex` (64 bits at most),
:class:`~hashlearn.index.MultiIndexHashing` and faiss's ``IndexBinaryFlat`` (k-NN and range,
called directly), all with ``--threads`` threads, interleaved, best of ``--repeat`` calls
after a warm-up call. Every result is checked: hashlearn arrays equal the scan's, faiss's
k-NN distances equal them and its range results equal them as sets.

**The instructions.** The report counts ``popcnt``, ``vpopcntq``, ``vpshufb`` and
``vpsadbw`` in the assembly numba generates for the scan's minima pass and its per-query
distances (compiled afresh: numba does not show cached code).

Usage::

    python -m benchmarks floor                       # about 3 minutes on 2 cores
    python benchmarks/floor.py --bits 256 --n 300000 --memory-gib 1
    python benchmarks/floor.py --quick               # seconds
"""

from __future__ import annotations

import os

# Before anything loads an OpenMP runtime: idle threads then sleep instead of spinning, so
# interleaved numba and faiss calls do not steal each other's cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, now, write_json
from hashlearn._numba import popcount64
from hashlearn.index import HashTableIndex, LinearScanIndex, MultiIndexHashing
from hashlearn.index._kernels import scan

L1_WORDS = 2048  # 16 KiB of codes: in L1 on any current x86 core
INSTRUCTIONS = ("popcnt", "vpopcntq", "vpshufb", "vpsadbw")


# -- the floor kernels -------------------------------------------------------------------------
@numba.njit(parallel=True, nogil=True, boundscheck=False)
def _stream(words, n_chunks):
    """XOR-fold of each of ``n_chunks`` contiguous chunks of ``words`` (threads over chunks)."""
    size = words.shape[0] // n_chunks
    out = np.zeros(n_chunks, dtype=np.uint64)
    for chunk in numba.prange(n_chunks):
        part = words[chunk * size : (chunk + 1) * size]
        acc = np.uint64(0)
        for i in range(part.shape[0]):
            acc ^= part[i]
        out[chunk] = acc
    return out


@numba.njit(nogil=True, boundscheck=False)
def _popcount_one(block, query, repeats):
    """``sum popcount(query XOR word)`` over ``block``, ``repeats`` times: one query."""
    total = 0
    for _ in range(repeats):
        for i in range(block.shape[0]):
            total += popcount64(query ^ block[i])
    return total


@numba.njit(nogil=True, boundscheck=False)
def _popcount_four(block, queries, repeats):
    """The same for four queries sharing every word loaded (the scan's register blocking)."""
    a, b, c, d = queries[0], queries[1], queries[2], queries[3]
    total = 0
    for _ in range(repeats):
        for i in range(block.shape[0]):
            x = block[i]
            total += popcount64(a ^ x) + popcount64(b ^ x) + popcount64(c ^ x)
            total += popcount64(d ^ x)
    return total


@numba.njit(parallel=True, nogil=True, boundscheck=False)
def _popcount_threads(blocks, queries, repeats, four):
    """One of the kernels above per thread, each on its own block (threads x L1 words)."""
    out = np.zeros(blocks.shape[0], dtype=np.int64)
    for t in numba.prange(blocks.shape[0]):
        if four:
            out[t] = _popcount_four(blocks[t], queries, repeats)
        else:
            out[t] = _popcount_one(blocks[t], queries[0], repeats)
    return out


def _best_seconds(call: Callable[[], Any], repeat: int) -> float:
    call()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def measure_popcount(threads: int, repeat: int, words_per_thread: float) -> dict[str, float]:
    """Words per second through XOR + popcount, one and four queries, ``threads`` threads."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 2**63, (threads, L1_WORDS), dtype=np.uint64)
    queries = rng.integers(0, 2**63, 4, dtype=np.uint64)
    repeats = max(1, int(words_per_thread // L1_WORDS))
    numba.set_num_threads(threads)
    out = {}
    for name, four in (("one_query", False), ("four_queries", True)):
        seconds = _best_seconds(
            lambda f=four: _popcount_threads(blocks, queries, repeats, f), repeat
        )
        pairs = threads * repeats * L1_WORDS * (4 if four else 1)
        out[name] = pairs / seconds
    return out


def measure_bandwidth(words: np.ndarray, threads: int, repeat: int) -> float:
    """Bytes per second reading ``words`` once with ``threads`` threads."""
    numba.set_num_threads(threads)
    seconds = _best_seconds(lambda: _stream(words, 8 * threads), repeat)
    return words.nbytes / seconds


def scalar_popcount(args: argparse.Namespace) -> dict[str, Any] | None:
    """The popcount floor without vectorisation (scalar ``popcnt``), from a subprocess."""
    env = dict(os.environ, NUMBA_LOOP_VECTORIZE="0", NUMBA_SLP_VECTORIZE="0")
    env["NUMBA_CACHE_DIR"] = str(Path(args.scratch) / "numba-scalar")
    command = [sys.executable, __file__, "--scalar-child", "--repeat", str(args.repeat)]
    command += ["--popcount-words", str(args.popcount_words)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"scalar popcount run failed: {done.stderr[-500:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the assembly -------------------------------------------------------------------------------
def instruction_counts(function: Any, *example: Any) -> dict[str, int]:
    """How often each of INSTRUCTIONS appears in ``function``'s assembly (a fresh, uncached
    compilation of its Python source, for the types of ``example``; compiled, not run, so
    that ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` can show another CPU's code)."""
    fresh = numba.njit(nogil=True, boundscheck=False)(function.py_func)
    signature = tuple(numba.typeof(value) for value in example)
    fresh.compile(signature)
    asm = fresh.inspect_asm(signature)
    return {name: len(re.findall(rf"^\s*{name}[a-z]*\s", asm, re.M)) for name in INSTRUCTIONS}


def scan_assembly() -> dict[str, dict[str, int]]:
    """Instruction counts of the scan's minima pass and per-query distances."""
    words = np.zeros((256, 4), dtype=np.uint64)
    queries = np.zeros((4, 4), dtype=np.uint64)
    block = np.empty((4, 64), dtype=np.uint64)
    scratch = np.empty((4, 64), dtype=np.int64)
    minima = np.empty(4, dtype=np.int64)
    out = np.empty(64, dtype=np.int64)
    return {
        "scan._block_minima": instruction_counts(
            scan._block_minima, queries, 0, 4, words, 0, 64, block, scratch, minima
        ),
        "scan._block_distances": instruction_counts(
            scan._block_distances, queries, 0, block, 64, out
        ),
        "floor._popcount_four": instruction_counts(
            _popcount_four, words[:, 0].copy(), queries[:, 0].copy(), 1
        ),
    }


# -- the search paths ----------------------------------------------------------------------------
def make_codes(n: int, n_bits: int, n_queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform random packed codes, and queries: stored codes with bits flipped (1/128)."""
    rng = np.random.default_rng([seed, n_bits])
    database = rng.integers(0, 256, (n, n_bits // 8), dtype=np.uint8)
    queries = database[rng.integers(0, n, n_queries)].copy()
    flips = rng.random((n_queries, n_bits)) < 1 / 128
    queries ^= np.packbits(flips, axis=1, bitorder="little")
    return database, queries


def _same_sets(
    ours: tuple[np.ndarray, ...], lims: np.ndarray, d: np.ndarray, i: np.ndarray
) -> bool:
    if not np.array_equal(ours[0], lims):
        return False
    key_ours = ours[2] * 65536 + ours[1]
    key_faiss = i.astype(np.int64) * 65536 + d
    for q in range(lims.shape[0] - 1):
        part = slice(int(lims[q]), int(lims[q + 1]))
        if not np.array_equal(np.sort(key_ours[part]), np.sort(key_faiss[part])):
            return False
    return True


def contenders(
    database: np.ndarray, n_bits: int, threads: int, k: int, radius: int
) -> dict[str, tuple[Callable[[np.ndarray], Any], Any]]:
    """``name -> (call(queries), index)`` for every path at this width."""
    found: dict[str, tuple[Callable[[np.ndarray], Any], Any]] = {}
    scan_index = LinearScanIndex(n_bits, n_threads=threads).add(database)
    found["scan k-NN"] = (lambda q: scan_index.search(q, k), scan_index)
    found["scan range"] = (lambda q: scan_index.range_search(q, radius), scan_index)
    if n_bits <= 64:
        table = HashTableIndex(n_bits).add(database)
        found["hash table k-NN"] = (lambda q: table.search(q, k), table)
        found["hash table range"] = (lambda q: table.range_search(q, radius), table)
    mih = MultiIndexHashing(n_bits, n_threads=threads).add(database)
    mih.search(database[:1], 1)  # builds the tables
    found["MIH k-NN"] = (lambda q: mih.search(q, k), mih)
    found["MIH range"] = (lambda q: mih.range_search(q, radius), mih)
    try:
        import faiss
    except ImportError:
        return found
    faiss.omp_set_num_threads(threads)
    flat = faiss.IndexBinaryFlat(n_bits)
    flat.add(database)
    found["faiss Flat k-NN"] = (lambda q: flat.search(q, k), flat)
    found["faiss Flat range"] = (lambda q: flat.range_search(q, radius + 1), flat)  # d < r
    return found


def check(name: str, got: Any, knn: Any, ranged: Any) -> bool:
    """Whether ``got`` equals the exact scan's answer (faiss: distances / sets)."""
    if name.startswith("faiss"):
        if "k-NN" in name:
            return bool(np.array_equal(got[0], knn[0]))
        return _same_sets(ranged, *got)
    reference = knn if "k-NN" in name else ranged
    return all(np.array_equal(a, b) for a, b in zip(got, reference, strict=True))


def run_paths(args: argparse.Namespace, popcount_floor: dict[int, float]) -> list[dict[str, Any]]:
    """Every path at every width: queries/s, the fraction of the floor, identity."""
    rows = []
    for n_bits in args.bits:
        database, queries = make_codes(args.n, n_bits, args.queries, args.seed)
        radius = max(1, n_bits // 32)
        paths = contenders(database, n_bits, args.threads, args.k, radius)
        numba.set_num_threads(args.threads)
        knn = paths["scan k-NN"][0](queries)
        ranged = paths["scan range"][0](queries)
        results = {name: call(queries) for name, (call, _) in paths.items()}
        best = dict.fromkeys(paths, float("inf"))
        candidates: dict[str, float | None] = {}
        for _ in range(args.repeat):
            for name, (call, index) in paths.items():
                start = time.perf_counter()
                call(queries)
                best[name] = min(best[name], time.perf_counter() - start)
                stats = getattr(index, "last_stats_", None)
                verified = getattr(stats, "candidates", None)
                candidates[name] = None if verified is None else float(np.mean(verified))
        floor = popcount_floor[n_bits]
        for name in paths:
            compared = args.queries * args.n / best[name]
            verified = candidates.get(name)
            if name.startswith(("scan", "faiss")):
                verified = float(args.n)
            row = {
                "bits": n_bits,
                "path": name,
                "radius": radius if "range" in name else None,
                "k": args.k if "k-NN" in name else None,
                "queries_per_s": args.queries / best[name],
                "codes_compared_per_s": compared,
                "fraction_of_floor": compared / floor,
                "verified_per_query": verified,
                "verified_fraction_of_floor": (
                    None if verified is None else args.queries * verified / best[name] / floor
                ),
                "identical": check(name, results[name], knn, ranged),
                "results_per_query": len(ranged[2]) / args.queries if "range" in name else None,
            }
            rows.append(row)
            print(_row_text(row), flush=True)
        del paths, results
    return rows


def _row_text(row: dict[str, Any]) -> str:
    verified = row["verified_fraction_of_floor"]
    shown = "" if verified is None else f", verified {verified:.3f} of the floor"
    return (
        f"{row['bits']:4d} bits {row['path']:<18} {row['queries_per_s']:>10,.0f} q/s  "
        f"{row['fraction_of_floor']:7.3f} of the floor{shown}  identical={row['identical']}"
    )


# -- report --------------------------------------------------------------------------------------
def floor_table(floor: dict[str, Any], bits: list[int]) -> str:
    lines = [
        "| threads | memory GB/s | popcount Gwords/s (1 query / 4 queries) | scalar popcnt "
        "Gwords/s (4 queries) | "
        + " | ".join(f"floor {b}-bit Gcodes/s (memory)" for b in bits)
        + " |",
        "|---:|---:|---:|---:|" + "---:|" * len(bits),
    ]
    for threads, entry in sorted(floor["threads"].items()):
        scalar = (floor.get("scalar") or {}).get(str(threads), {}).get("four_queries")
        cells = [
            f"{entry['popcount_codes_per_s'][str(b)] / 1e9:.2f} "
            f"({entry['memory_codes_per_s'][str(b)] / 1e9:.2f})"
            for b in bits
        ]
        lines.append(
            f"| {threads} | {entry['bandwidth_bytes_per_s'] / 1e9:.1f} | "
            f"{entry['popcount_words_per_s']['one_query'] / 1e9:.2f} / "
            f"{entry['popcount_words_per_s']['four_queries'] / 1e9:.2f} | "
            f"{'n/a' if scalar is None else f'{scalar / 1e9:.2f}'} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def paths_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| bits | path | queries/s | fraction of the floor | verified codes, fraction "
        "| identical |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for row in rows:
        verified = row["verified_fraction_of_floor"]
        lines.append(
            f"| {row['bits']} | {row['path']} | {row['queries_per_s']:,.0f} | "
            f"{row['fraction_of_floor']:.3f} | "
            f"{'' if verified is None else f'{verified:.3f}'} | {row['identical']} |"
        )
    return "\n".join(lines)


def ratio_table(rows: list[dict[str, Any]]) -> str:
    """Range search and k-NN: LinearScanIndex against faiss IndexBinaryFlat, same run."""
    by = {(row["bits"], row["path"]): row for row in rows}
    lines = [
        "| bits | task | LinearScanIndex q/s | IndexBinaryFlat q/s | ratio |",
        "|---:|---|---:|---:|---:|",
    ]
    for bits in sorted({row["bits"] for row in rows}):
        for task in ("k-NN", "range"):
            ours, theirs = by.get((bits, f"scan {task}")), by.get((bits, f"faiss Flat {task}"))
            if ours and theirs:
                ratio = ours["queries_per_s"] / theirs["queries_per_s"]
                lines.append(
                    f"| {bits} | {task} | {ours['queries_per_s']:,.0f} | "
                    f"{theirs['queries_per_s']:,.0f} | **{ratio:.2f}x** |"
                )
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------
def measure_floor(args: argparse.Namespace) -> dict[str, Any]:
    n_words = int(args.memory_gib * 2**30 // 8)
    words = np.empty(n_words, dtype=np.uint64)
    words[:] = np.arange(n_words, dtype=np.uint64)  # touch every page before timing
    floor: dict[str, Any] = {"memory_bytes": int(words.nbytes), "threads": {}}
    floor["scalar"] = scalar_popcount(args)
    for threads in (1, 2):
        bandwidth = measure_bandwidth(words, threads, args.repeat)
        popcount = measure_popcount(threads, args.repeat, args.popcount_words)
        # The floor is the fastest way measured, vectorised or scalar.
        scalar = (floor["scalar"] or {}).get(str(threads), {})
        best = max(*popcount.values(), *scalar.values())
        floor["threads"][str(threads)] = {
            "bandwidth_bytes_per_s": bandwidth,
            "popcount_words_per_s": popcount,
            "memory_codes_per_s": {str(b): bandwidth / (b / 8) for b in args.bits},
            "popcount_codes_per_s": {str(b): best / (b / 64) for b in args.bits},
        }
        print(
            f"{threads} thread(s): memory {bandwidth / 1e9:.1f} GB/s; XOR+popcount "
            f"{popcount['one_query'] / 1e9:.2f} Gwords/s (one query), "
            f"{popcount['four_queries'] / 1e9:.2f} Gwords/s (four queries)",
            flush=True,
        )
    del words
    return floor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", default="64,128,256,512", help="code lengths (multiples of 64)")
    parser.add_argument("--n", type=int, default=1_000_000, help="codes in each database")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="threads of every search path")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls (best is kept)")
    parser.add_argument("--memory-gib", type=float, default=2.0, help="array read for bandwidth")
    parser.add_argument("--popcount-words", type=float, default=4e8, help="words per thread")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--scratch", default="/tmp", help="folder for the scalar run's cache")
    parser.add_argument("--scalar-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.bits, args.n, args.queries, args.repeat = "64,256", 20_000, 64, 1
        args.memory_gib, args.popcount_words = 0.0625, 2e6
    args.bits = [int(b) for b in str(args.bits).split(",")]
    if any(b % 64 for b in args.bits):
        parser.error(f"--bits must be multiples of 64, got {args.bits}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scalar_child:  # vectorisation is off in this process: scalar popcnt
        threads = {str(t): measure_popcount(t, args.repeat, args.popcount_words) for t in (1, 2)}
        print(json.dumps(threads))
        return 0
    started = now()
    load = os.getloadavg()
    print(f"{started}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    floor = measure_floor(args)
    assembly = scan_assembly()
    for name, counts in assembly.items():
        print(f"{name}: {counts}")
    popcount_floor = {
        b: floor["threads"][str(min(args.threads, 2))]["popcount_codes_per_s"][str(b)]
        for b in args.bits
    }
    rows = run_paths(args, popcount_floor)
    print("\n" + floor_table(floor, args.bits) + "\n\n" + paths_table(rows))
    print("\n" + ratio_table(rows))
    result = {
        "benchmark": "floor",
        "date": started,
        "finished": now(),
        "load_average": list(load),
        "machine": machine(),
        "numba": numba.__version__,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "config": {k: v for k, v in vars(args).items() if k not in {"json", "scalar_child"}},
        "floor": floor,
        "assembly": assembly,
        "paths": rows,
    }
    if args.json:
        write_json(args.json, result)
    failed = [row["path"] for row in rows if not row["identical"]]
    if failed:
        print(f"results differ from the exact scan: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
