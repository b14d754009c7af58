"""Search at scale: 10^6 .. 10^9 codes in index folders, built and searched out of core.

For each code source and size ``N`` (``--sizes``) at ``--bits`` bits:

1. **Codes.** Real codes: CIFAR-10 GIST-512 and MNIST pixels (from the data directory,
   never downloaded) hashed by ITQ and GRH (ITQ fitted on 20,000 images, GRH on 2,000 with
   their labels); 1,000 images are held out (seeded) and their codes are the queries. The
   database is the other images' codes followed by noisy copies of them (each bit flipped
   with probability ``--flip``, default 0.02), ``N`` codes in all, generated chunk by chunk
   into a ``.npy``. Uniform random codes (database and queries) beside them.
2. **Build**, each in a subprocess (its peak memory is its own): the scan
   (:func:`~hashlearn.index.build_index_folder` with ``LinearScanIndex``: the codes copied
   into the folder chunk by chunk), multi-index hashing (the same function: substring
   tables sorted by counting over the mapped codes), and the hash table (in memory,
   ``add_chunks`` then ``save_folder``; up to ``--max-table`` codes and 64 bits).
3. **Search**, each index in a fresh subprocess: the page cache is dropped first when this
   runs as root (``/proc/sys/vm/drop_caches``; else "cold" means a fresh process over
   whatever the cache holds), the folder is opened with ``mmap=True`` (timed), then k-NN
   (``--k``) and range search (radius ``bits / 16``) of the queries: the first call is
   *cold*, the best of ``--repeat`` further calls *warm*. The scan answers ``Q(N) =
   min(--queries, max(64, 2 * 10^10 / N))`` queries (rounded to 32) so a call stays near
   10 s; the other indexes answer the same queries.
4. **Exactness**: every index's k-NN and range results equal the scan's (recall 1.0).

Reported: build seconds, folder size on disk, open milliseconds, queries per second cold
and warm, the child's peak resident memory (``VmHWM``: mapped pages it touched count
too) and its peak anonymous memory (``RssAnon``, sampled every 20 ms: what the process
itself allocated). Results go to ``--out`` as JSON; folders under ``--work`` (removed
unless ``--keep``). Disk needed at 10^9 x 64 bits: the codes twice (scan and MIH folders,
8 GB each) plus MIH's ids (4 bytes per code per table: 12 GB at three tables), plus the
generated codes (8 GB, removed once the scan folder holds them).

Usage::

    python benchmarks/scale.py --sizes 1e6,1e7 --data-dir "$HASHLEARN_DATA"
    python benchmarks/scale.py --sizes 1e9 --sources cifar10-itq --work /big/disk
    python benchmarks/scale.py --quick        # seconds: 10^5 uniform codes
    python benchmarks/scale.py --plot results/benchmarks/scale*.json  # the plot, from results
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/floor.py

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, now, write_json
from hashlearn.index import RangeResultLimitError

SOURCES = ("cifar10-itq", "cifar10-grh", "mnist-itq", "mnist-grh", "uniform")
N_QUERIES = 1000
# Range results kept per search call at most (12 bytes each); beyond, the row says so.
MAX_RESULTS = 5 * 10**7
GEN_CHUNK = 1 << 22


# -- codes ------------------------------------------------------------------------------------
def base_codes(source: str, n_bits: int, data_dir: str | None, seed: int) -> tuple[Any, Any, str]:
    """``(base, queries, description)``: the real codes a database replicates, and the
    held-out queries; for ``uniform``, ``base`` is None."""
    rng = np.random.default_rng([seed, n_bits])
    if source == "uniform":
        queries = rng.integers(0, 256, (N_QUERIES, n_bits // 8), dtype=np.uint8)
        return None, queries, "uniform random codes"
    from hashlearn import datasets
    from hashlearn.hashers import GRH, IterativeQuantization

    data, method = source.split("-")
    if data == "cifar10":
        dataset = datasets.load_cifar10_gist(data_dir, download=False)
    else:
        dataset = datasets.load_mnist(data_dir, download=False)
    X = np.asarray(dataset.X, dtype=np.float32)
    y = np.asarray(dataset.y)
    if data == "mnist":
        X = X.reshape(X.shape[0], -1) / np.float32(255)
    order = rng.permutation(X.shape[0])
    held_out, held_in = order[:N_QUERIES], order[N_QUERIES:]
    if method == "itq":
        hasher: Any = IterativeQuantization(n_bits=n_bits, random_state=seed)
        hasher.fit(X[held_in[:20_000]])
    else:
        hasher = GRH(n_bits=n_bits, random_state=seed)
        hasher.fit(X[held_in[:2_000]], y[held_in[:2_000]])
    description = f"{data} ({dataset.source}) hashed by {method.upper()}"
    return hasher.encode(X[held_in]), hasher.encode(X[held_out]), description


@numba.njit(cache=True)
def _noisy_copies(base, first, out, flip, seed):
    """``out[r] = base[(first + r) % len(base)]`` with each bit flipped with probability
    ``flip`` (geometric skips between flips), except the first ``len(base)`` rows overall."""
    np.random.seed(seed)  # noqa: NPY002 (numba compiles only the legacy generator)
    n_base, n_words = base.shape
    n_bits = 64 * n_words
    log_keep = np.log(1.0 - flip)
    for r in range(out.shape[0]):
        row = first + r
        for w in range(n_words):
            out[r, w] = base[row % n_base, w]
        if row < n_base:
            continue
        position = -1
        while True:
            position += 1 + int(np.log(1.0 - np.random.random()) / log_keep)  # noqa: NPY002
            if position >= n_bits:
                break
            out[r, position >> 6] ^= np.uint64(1) << np.uint64(position & 63)


def generate(path: Path, base: Any, n: int, n_bits: int, flip: float, seed: int) -> float:
    """Write ``n`` codes to ``path`` (a ``.npy``) chunk by chunk; returns the seconds taken."""
    start = time.perf_counter()
    width = n_bits // 8
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, width))
    for number, first in enumerate(range(0, n, GEN_CHUNK)):
        stop = min(n, first + GEN_CHUNK)
        if base is None:
            rng = np.random.default_rng([seed, number])
            out[first:stop] = rng.integers(0, 256, (stop - first, width), dtype=np.uint8)
        else:
            words = out[first:stop].view(np.uint64)
            _noisy_copies(base.view(np.uint64), first, words, flip, seed + number)
    out.flush()
    del out
    return time.perf_counter() - start


def folder_bytes(folder: Path) -> int:
    return sum(item.stat().st_size for item in folder.rglob("*") if item.is_file())


# -- children ---------------------------------------------------------------------------------
class MemorySampler:
    """Peak ``RssAnon`` of this process, sampled every 20 ms on a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, status_kib("RssAnon"))
            self._stop.wait(0.02)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, status_kib("RssAnon"))
        return {"peak_rss_gb": status_kib("VmHWM") / 2**20, "peak_anon_gb": self.peak / 2**20}


def status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child_build(task: dict[str, Any]) -> dict[str, Any]:
    from hashlearn.index import (
        HashTableIndex,
        LinearScanIndex,
        build_index_folder,
    )

    sampler = MemorySampler()
    start = time.perf_counter()
    if task["index"] == "table":
        index = HashTableIndex(task["bits"]).add_chunks(task["codes"])
        index.search(np.zeros((1, task["bits"] // 8), np.uint8), 1)  # merge the buckets
        index.save_folder(task["folder"])
    else:
        cls = LinearScanIndex if task["index"] == "scan" else None
        kwargs = {"index_cls": cls} if cls else {}
        build_index_folder(task["folder"], task["codes"], task["bits"], **kwargs)
    return {"build_s": time.perf_counter() - start, **sampler.stop()}


def time_searches(
    index: Any, queries: np.ndarray, task: dict[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    """k-NN and range search of ``queries``: the first call (cold) and the best of
    ``task["repeat"]`` more (warm), as queries per second in ``result``; the answers."""
    outputs: dict[str, Any] = {"range": ()}
    for kind, call in (
        ("knn", lambda: index.search(queries, task["k"])),
        ("range", lambda: index.range_search(queries, task["radius"], max_results=MAX_RESULTS)),
    ):
        start = time.perf_counter()
        try:
            outputs[kind] = call()
        except RangeResultLimitError as exc:
            # Clustered codes (GRH) put millions of codes within the radius of a query.
            result["range_over_budget"] = (
                f"{exc.n_found:.3g}+ results found by query {exc.n_queries_done}"
            )
            continue
        result[f"{kind}_cold_qps"] = queries.shape[0] / (time.perf_counter() - start)
        best = float("inf")
        for _ in range(task["repeat"]):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        result[f"{kind}_warm_qps"] = queries.shape[0] / best
    return outputs


def child_search(task: dict[str, Any]) -> dict[str, Any]:
    from hashlearn.index import load_index_folder

    queries = np.load(task["queries"])
    # Load the compiled kernels (for read-only mapped arrays) on a small folder of the same
    # kind first: "cold" is about the page cache, not numba's.
    small = load_index_folder(task["warmup"], mmap=True)
    small.search(queries, task["k"])
    small.range_search(queries, task["radius"])
    del small
    if task["drop_caches"]:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    sampler = MemorySampler()
    start = time.perf_counter()
    index = load_index_folder(task["folder"], mmap=True)
    result: dict[str, Any] = {"open_ms": (time.perf_counter() - start) * 1e3}
    outputs = time_searches(index, queries, task, result)
    stats = getattr(index, "last_stats_", None)
    if stats is not None and hasattr(stats, "scanned"):
        result["share_scanned"] = float(np.mean(stats.scanned))
    np.savez(task["answers"], *outputs["knn"], *outputs["range"])
    result.update(sampler.stop())
    return result


def child_sharded(task: dict[str, Any]) -> dict[str, Any]:
    """Build and search a sharded multi-index hashing folder on a 2-worker LocalCluster."""
    from distributed import Client, LocalCluster

    from hashlearn.index import ShardedIndex

    queries = np.load(task["queries"])
    result: dict[str, Any] = {}
    with (
        LocalCluster(
            n_workers=task["workers"], threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter()
        ShardedIndex.build_folder(task["folder"], task["codes"], task["bits"], client)
        result["build_s"] = time.perf_counter() - start
        if task["drop_caches"]:
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        start = time.perf_counter()
        index = ShardedIndex.open_folder(task["folder"], client)
        result["open_ms"] = (time.perf_counter() - start) * 1e3
        outputs = time_searches(index, queries, task, result)
        memory = client.run(lambda: status_kib("VmHWM"))
        result["peak_rss_gb"] = sum(memory.values()) / 2**20
        result["peak_anon_gb"] = float("nan")
    np.savez(task["answers"], *outputs["knn"], *outputs["range"])
    return result


def run_child(mode: str, task: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", mode, json.dumps(task)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        raise RuntimeError(f"{mode} child failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


# -- the benchmark ----------------------------------------------------------------------------
def same_answers(a: Path, b: Path) -> bool:
    with np.load(a) as x, np.load(b) as y:
        return len(x.files) == len(y.files) and all(
            np.array_equal(x[name], y[name]) for name in x.files
        )


def run_size(args: argparse.Namespace, source: str, base: Any, queries: np.ndarray, n: int):  # type: ignore[no-untyped-def]
    work = Path(args.work) / f"{source}-{args.bits}-{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    n_queries = int(min(args.queries, max(64, 2e10 / n)) // 32 * 32)
    np.save(work / "queries.npy", queries[:n_queries])
    row: dict[str, Any] = {"source": source, "bits": args.bits, "n": n, "queries": n_queries}
    row["generate_s"] = generate(work / "codes.npy", base, n, args.bits, args.flip, args.seed)
    print(f"  {source} N={n:.0e}: generated in {row['generate_s']:.1f} s", flush=True)
    indexes = ["scan", "mih"]
    if args.bits <= 64 and n <= args.max_table:
        indexes.insert(1, "table")
    codes = work / "codes.npy"
    np.save(work / "warmup.npy", queries[: max(64, n_queries)])
    for name in indexes:
        folder = work / name
        warmup = {"codes": str(work / "warmup.npy"), "folder": str(work / f"{name}-warmup")}
        run_child("build", {"index": name, "bits": args.bits, **warmup})
        built = run_child(
            "build", {"index": name, "codes": str(codes), "folder": str(folder), "bits": args.bits}
        )
        built = {f"build_{key}" if key.startswith("peak") else key: v for key, v in built.items()}
        if name == "scan":
            codes.unlink()  # the scan folder's codes.npy is the same array from here on
            codes = folder / "codes.npy"
        built["disk_gb"] = folder_bytes(folder) / 1e9
        print(
            f"    {name}: built in {built['build_s']:.1f} s, {built['disk_gb']:.2f} GB", flush=True
        )
        searched = run_child(
            "search",
            {
                "folder": str(folder),
                "queries": str(work / "queries.npy"),
                "answers": str(work / f"{name}-answers.npz"),
                "warmup": warmup["folder"],
                "k": args.k,
                "radius": args.bits // 16,
                "repeat": args.repeat,
                "drop_caches": args.drop_caches,
            },
        )
        if name != "scan":
            searched["exact"] = same_answers(
                work / "scan-answers.npz", work / f"{name}-answers.npz"
            )
        print(
            f"    {name}: open {searched['open_ms']:.1f} ms, k-NN {searched['knn_cold_qps']:.3g}"
            f" / {searched['knn_warm_qps']:.3g} q/s (cold / warm), range {range_text(searched)}"
            f" q/s, peak {searched['peak_rss_gb']:.2f} GB resident, "
            f"{searched['peak_anon_gb']:.2f} GB anon"
            + (f", exact={searched['exact']}" if "exact" in searched else ""),
            flush=True,
        )
        row[name] = {**built, **searched}
    if n in args.sharded_sizes and source in args.sharded_sources.split(","):
        task = {
            "folder": str(work / "sharded"),
            "codes": str(work / "scan" / "codes.npy"),
            "queries": str(work / "queries.npy"),
            "answers": str(work / "sharded-answers.npz"),
            "bits": args.bits,
            "k": args.k,
            "radius": args.bits // 16,
            "repeat": args.repeat,
            "workers": 2,
            "drop_caches": args.drop_caches,
        }
        searched = run_child("sharded", task)
        searched["disk_gb"] = folder_bytes(work / "sharded") / 1e9
        searched["exact"] = same_answers(work / "scan-answers.npz", work / "sharded-answers.npz")
        print(
            f"    sharded (2 workers): built in {searched['build_s']:.1f} s, open "
            f"{searched['open_ms']:.1f} ms, k-NN {searched['knn_cold_qps']:.3g} / "
            f"{searched['knn_warm_qps']:.3g} q/s, range {range_text(searched)} q/s, "
            f"exact={searched['exact']}",
            flush=True,
        )
        row["sharded"] = searched
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return row


def range_text(result: dict[str, Any]) -> str:
    if "range_over_budget" in result:
        return f"over the budget of {MAX_RESULTS:.0e} ({result['range_over_budget']})"
    return f"{result['range_cold_qps']:.3g} / {result['range_warm_qps']:.3g}"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| codes | N | bits | index | build s | disk GB | open ms | k-NN q/s cold / warm "
        "| range q/s cold / warm | peak resident / anon GB | exact |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        for name in ("scan", "table", "mih", "sharded"):
            if name not in row:
                continue
            r = row[name]
            lines.append(
                f"| {row['source']} | {row['n']:.0e} | {row['bits']} | {name} | {r['build_s']:.1f} "
                f"| {r['disk_gb']:.2f} | {r['open_ms']:.1f} | {r['knn_cold_qps']:.3g} / "
                f"{r['knn_warm_qps']:.3g} | {range_text(r)}"
                f" | {r['peak_rss_gb']:.2f} / {r['peak_anon_gb']:.2f} | "
                f"{'oracle' if name == 'scan' else r['exact']} |"
            )
    return "\n".join(lines)


def plot(files: list[str], out: Path) -> None:
    """Warm k-NN queries per second against N, one panel per code source and length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for file in files for row in json.loads(Path(file).read_text())["rows"]]
    panels = sorted({(row["bits"], row["source"]) for row in rows})
    n_cols = min(4, len(panels))
    n_rows = -(-len(panels) // n_cols)
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 3.0 * n_rows), squeeze=False)
    styles = {
        "scan": ("o-", "tab:blue"),
        "table": ("s--", "tab:orange"),
        "mih": ("^-", "tab:green"),
        "sharded": ("d", "tab:red"),
    }
    for axis, (bits, source) in zip(axes.flat, panels, strict=False):
        mine = sorted(
            (r for r in rows if (r["bits"], r["source"]) == (bits, source)), key=lambda r: r["n"]
        )
        for name, (style, colour) in styles.items():
            points = [(r["n"], r[name]["knn_warm_qps"]) for r in mine if name in r]
            if points:
                axis.loglog(*zip(*points, strict=True), style, color=colour, label=name)
        axis.set_title(f"{source}, {bits} bits", fontsize=10)
        axis.set_xlim(5e5, 2e9)
        axis.grid(True, which="major", alpha=0.3)
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel("codes in the index (N)")
    for axis in axes[:, 0]:
        axis.set_ylabel("k-NN (k=10) queries/s")
    handles = [
        plt.Line2D([], [], linestyle="" if style == "d" else "-", marker=style[0], color=colour)
        for style, colour in styles.values()
    ]
    figure.legend(
        handles,
        ["scan", "hash table", "multi-index hashing", "sharded MIH, 2 workers"],
        loc="lower right",
        ncol=1,
        fontsize=9,
    )
    figure.suptitle("Exact k-NN, warm, one 2-core machine (benchmarks/scale.py)", fontsize=11)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8", help="database sizes, comma-separated")
    parser.add_argument("--bits", type=int, default=64, help="code length (a multiple of 64)")
    parser.add_argument("--sources", default=",".join(SOURCES), help=f"among {SOURCES}")
    parser.add_argument("--data-dir", default=None, help="data directory ($HASHLEARN_DATA)")
    parser.add_argument(
        "--work", default=None, help="where the folders are built (default: beside --out)"
    )
    parser.add_argument("--out", "--json", default="results/benchmarks/scale.json")
    parser.add_argument("--queries", type=int, default=N_QUERIES, help="at most this many")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2, help="warm calls (the best is kept)")
    parser.add_argument("--flip", type=float, default=0.02, help="bit flip probability")
    parser.add_argument("--max-table", type=float, default=1e8, help="largest hash table N")
    parser.add_argument(
        "--sharded", default="", help="sizes at which to add a sharded MIH on 2 workers"
    )
    parser.add_argument(
        "--sharded-sources", default="cifar10-itq", help="sources --sharded applies to"
    )
    parser.add_argument("--plot", nargs="+", metavar="JSON", help="plot result files and exit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the folders")
    parser.add_argument("--quick", action="store_true", help="10^5 uniform codes")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, task = args.child
        run = {"build": child_build, "search": child_search, "sharded": child_sharded}[mode]
        print(json.dumps(run(json.loads(task))))
        return
    if args.plot:
        plot(args.plot, Path(args.out).with_suffix(".png"))
        return
    if args.work is None:
        args.work = str(Path(args.out).parent / "scale-work")
    args.sharded_sizes = {int(float(size)) for size in args.sharded.split(",") if size}
    if args.bits % 64:
        parser.error(f"--bits must be a multiple of 64, got {args.bits}")
    if args.quick:
        args.sizes, args.sources, args.repeat = "1e5", "uniform", 1
    args.drop_caches = os.geteuid() == 0 and os.access("/proc/sys/vm/drop_caches", os.W_OK)
    sizes = [int(float(size)) for size in args.sizes.split(",")]
    rows = []
    started = now()
    print(f"scale benchmark, {started}, load {os.getloadavg()}, drop caches: {args.drop_caches}")
    for source in args.sources.split(","):
        base, queries, description = base_codes(source, args.bits, args.data_dir, args.seed)
        print(f"{source}: {description}", flush=True)
        for n in sizes:
            rows.append({**run_size(args, source, base, queries, n), "description": description})
    table = markdown(rows)
    print(table)
    if not args.keep:
        with contextlib.suppress(OSError):
            Path(args.work).rmdir()  # when empty
    write_json(
        args.out,
        {
            "benchmark": "scale",
            "started": started,
            "finished": now(),
            "load_average": os.getloadavg(),
            "machine": machine(),
            "args": {k: v for k, v in vars(args).items() if k != "child"},
            "rows": rows,
            "markdown": table,
        },
    )


if __name__ == "__main__":
    main()
