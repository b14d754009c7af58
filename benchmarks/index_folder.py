"""An index on disk: adding from a codes file, saving a folder, opening it mapped, searching.

Uniform random 64-bit codes (``--n``, default 10^7, 80 MB) are written to a ``.npy``, added
to a :class:`~hashlearn.index.LinearScanIndex` with ``add_chunks`` (the file mapped, read in
chunks), saved with ``save_folder`` and reopened with ``load_index_folder(mmap=True)``. The
first ``--queries`` codes are searched (k=10) in memory and mapped, each after a warm-up
call (the read-only mapped arrays compile their own kernel specialisation once), and the
results are checked equal. Everything is written under a temporary folder and removed.

Usage::

    python benchmarks/index_folder.py              # about a second past compilation
    python benchmarks/index_folder.py --n 100000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hashlearn.index import LinearScanIndex, load_index_folder


def _timed(label: str, run, scale: float = 1.0, unit: str = "s"):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = run()
    print(f"{label}: {(time.perf_counter() - start) * scale:.3g} {unit}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**7, help="codes in the index")
    parser.add_argument("--queries", type=int, default=100, help="queries searched")
    args = parser.parse_args()
    codes = np.random.default_rng(0).integers(0, 256, (args.n, 8), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        codes_file, folder = Path(tmp) / "codes.npy", Path(tmp) / "index"
        np.save(codes_file, codes)
        index = _timed("add_chunks from .npy", lambda: LinearScanIndex(64).add_chunks(codes_file))
        _timed("save_folder", lambda: index.save_folder(folder))
        mapped = _timed("load_index_folder mmap", lambda: load_index_folder(folder), 1e3, "ms")
        queries = codes[: args.queries]
        index.search(queries, 10)
        mapped.search(queries, 10)
        expected = _timed("search in memory (warm)", lambda: index.search(queries, 10))
        found = _timed("search mapped (warm)", lambda: mapped.search(queries, 10))
        np.testing.assert_array_equal(found[1], expected[1])


if __name__ == "__main__":
    main()
