"""The search benchmark: records, report and plots of a tiny run; identity checks that bite."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from benchmarks.search.config import QUICK_CONFIG, SearchBenchmarkConfig, config_from_options
from benchmarks.search.contenders import Contender, HashlearnContender, default_contenders
from benchmarks.search.data import clustered_codes, uniform_codes
from benchmarks.search.identity import compare_knn, compare_range
from benchmarks.search.report import (
    format_search_pivot,
    format_search_report,
    format_search_table,
    write_search_report,
)
from benchmarks.search.run import run_search_benchmark

from hashlearn.codes import hamming_distances, unpack_bits
from hashlearn.index import LinearScanIndex
from hashlearn.records import read_search_records

ROOT = Path(__file__).resolve().parents[2]

PNG = b"\x89PNG\r\n\x1a\n"

TINY = dataclasses.replace(
    QUICK_CONFIG,
    sizes=(300, 1200),
    bits=(32, 72),
    ks=(1, 5),
    radii=(0, 2),
    n_queries=16,
    repeats=2,
    check_queries=4,
)


class WrongIndex(LinearScanIndex):
    """The exact scan, wrong on purpose: the k-th result and one range result go missing."""

    def _search(self, queries, k):
        distances, ids = super()._search(queries, k)
        ids = ids.copy()
        ids[0, -1] = (ids[0, -1] + 1) % self.ntotal  # one wrong id, distance kept
        return distances, ids

    def _range_search(self, queries, radius):
        lims, distances, ids = super()._range_search(queries, radius)
        if lims[-1] == 0:  # nothing to drop: invent one result instead
            return (
                np.r_[0, np.ones(lims.shape[0] - 1, dtype=np.int64)],
                np.zeros(1, dtype=np.int32),
                np.zeros(1, dtype=np.int64),
            )
        keep = np.ones(ids.shape[0], dtype=bool)
        keep[0] = False
        first = np.searchsorted(lims, 0, side="right") - 1
        lims = lims.copy()
        lims[first + 1 :] -= 1
        return lims, distances[keep], ids[keep]


def _wrong(name: str = "WrongIndex") -> HashlearnContender:
    return HashlearnContender(name, __name__, "WrongIndex", cls=WrongIndex)


def _scan() -> Contender:
    return default_contenders()[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny grid through the command line, in a fresh process.

    A fresh process so that OMP_WAIT_POLICY=PASSIVE (set by the command before anything
    loads OpenMP) applies: in this test process the OpenMP runtimes of scikit-learn, numba
    and faiss are already running, and interleaving them costs ~15 ms per call.
    """
    out = tmp_path_factory.mktemp("search")
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "search",
        "--quick",
        "--out",
        str(out),
        *("--sizes", ",".join(map(str, TINY.sizes)), "--bits", ",".join(map(str, TINY.bits))),
        *("--k", ",".join(map(str, TINY.ks)), "--radii", ",".join(map(str, TINY.radii))),
        *("--queries", str(TINY.n_queries), "--repeats", str(TINY.repeats)),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _, records = read_search_records(out)
    written = [out / "results.md", *sorted(out.glob("*.png"))]
    return out, records, written, done.stderr.splitlines()  # progress goes to stderr


def test_tiny_run_records_every_measurement_with_its_fields(tiny_run):
    out, records, _, lines = tiny_run
    assert records == [
        json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()
    ]
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["sizes"] == [300, 1200] and run["threads"]["numba"] == TINY.threads
    assert run["environment"]["omp_wait_policy"] == "PASSIVE"
    assert run["environment"]["cpu_model"] and run["n_records"] == len(records)
    assert "SYNTHETIC" in run["data"]["clustered"]["source"]
    tasks = {(r["task"], r["k"], r["radius"]) for r in records}
    assert tasks == {("knn", 1, None), ("knn", 5, None), ("range", None, 0), ("range", None, 2)}
    ok = [r for r in records if r["status"] == "ok"]
    assert {r["index"] for r in ok} >= {"LinearScanIndex", "faiss.IndexBinaryFlat"}
    for r in ok:
        assert r["queries_per_second"] > 0 and r["query_seconds"] > 0
        assert len(r["times"]) == r["repeats"] == TINY.repeats
        assert r["build_seconds"] >= 0 and r["bytes_per_code"] > 0
        assert r["identical"] is True, r  # every contender is exact as configured
        assert r["n_queries"] == 16 and r["threads"] == TINY.threads
    scans = [r for r in ok if r["index"] == "LinearScanIndex"]
    assert all(r["identity"]["against"] == "numpy reference" for r in scans)
    assert all(r["candidates_per_query"] == r["n"] for r in scans)
    # The exact scan is compared with faiss's flat index on every task.
    assert all(r["ratio_to_faiss"] > 0 for r in scans)
    # bytes per code: faiss's flat index stores exactly the codes.
    flat = [r for r in ok if r["index"] == "faiss.IndexBinaryFlat"]
    assert {r["bytes_per_code"] > r["n_bits"] / 8 - 1e-9 for r in flat} == {True}
    # Skips are recorded with their reason, not dropped.
    table = [r for r in records if r["index"] == "HashTableIndex" and r["n_bits"] == 72]
    assert table and {r["status"] for r in table} == {"skipped"}
    assert all("n_bits <= 64" in r["reason"] for r in table)
    assert any("LinearScanIndex" in line and "queries/s" in line for line in lines)


def test_tiny_run_writes_table_and_plots(tiny_run):
    out, records, written, _ = tiny_run
    assert {path.name for path in written} == {
        "results.md",
        "queries_per_second_knn.png",
        "queries_per_second_range.png",
    }
    for name in ("queries_per_second_knn.png", "queries_per_second_range.png"):
        assert (out / name).read_bytes()[:8] == PNG
    text = (out / "results.md").read_text()
    assert "| task | N | index | build s | queries/s | vs faiss |" in text
    assert "## Not measured, and why" in text and "HashTableIndex (skipped" in text
    assert "**NO**" not in text
    pivot = format_search_pivot(records)
    assert "N = 1,200" in pivot and "k-NN k=5" in pivot and "range r=2" in pivot
    assert not list(out.glob(".*.tmp"))


def test_a_wrong_index_is_caught(tmp_path):
    config = dataclasses.replace(TINY, sizes=(400,), bits=(32,), data=("uniform", "clustered"))
    records = run_search_benchmark(config, tmp_path, contenders=[_scan(), _wrong()])
    wrong = [r for r in records if r["index"] == "WrongIndex"]
    assert len(wrong) == 2 * 4 and all(r["status"] == "ok" for r in wrong)
    assert all(r["identical"] is False for r in wrong), wrong
    knn = [r for r in wrong if r["task"] == "knn"]
    assert all(r["identity"]["rows_differ"] == 1 for r in knn)
    assert all(r["recall"] < 1 for r in knn)
    ranges = [r for r in wrong if r["task"] == "range"]
    assert all(r["identity"]["missing"] + r["identity"]["extra"] == 1 for r in ranges)
    scans = [r for r in records if r["index"] == "LinearScanIndex"]
    assert all(r["identical"] for r in scans)
    write_search_report(tmp_path)
    assert "**NO**" in (tmp_path / "results.md").read_text()
    assert "**NO**" in format_search_table(records)


def test_a_wrong_reference_scan_is_caught_by_numpy(tmp_path):
    config = dataclasses.replace(TINY, sizes=(400,), bits=(32,), data=("uniform",))
    records = run_search_benchmark(config, None, contenders=[_wrong("LinearScanIndex")])
    assert records and all(r["identical"] is False for r in records)
    assert all(r["identity"]["against"] == "numpy reference" for r in records)


def _exact(queries, database, k):
    D = hamming_distances(queries, database)
    order = np.lexsort((np.broadcast_to(np.arange(D.shape[1]), D.shape), D), axis=1)[:, :k]
    return np.take_along_axis(D, order, axis=1), order


def test_compare_knn_applies_the_tie_rule():
    rng = np.random.default_rng(0)
    database = rng.integers(0, 4, size=(200, 1), dtype=np.uint8)  # 2 bits: many ties
    queries = database[:5]
    d0, i0 = _exact(queries, database, 10)
    assert compare_knn(d0, i0, d0, i0, queries, database)["identical"]
    # Another choice among the items tied at the k-th distance: right for faiss only.
    kth = d0[0, -1]
    tied = np.flatnonzero(hamming_distances(queries[:1], database)[0] == kth)
    other = np.setdiff1d(tied, i0[0])[0]
    i1 = i0.copy()
    i1[0, -1] = other
    assert not compare_knn(d0, i1, d0, i0, queries, database)["identical"]
    wrong_d = d0.copy()
    wrong_d[1, -1] += 1
    assert not compare_knn(wrong_d, i0, d0, i0, queries, database, tie_rule=False)["identical"]
    shuffled = compare_knn(
        d0[:, ::-1].copy(), i1[:, ::-1].copy(), d0, i0, queries, database, tie_rule=False
    )
    assert shuffled["identical"] and shuffled["rows_tie_choice"] == 1
    # An id that is not at its reported distance is wrong, for faiss too.
    bad = i0.copy()
    far = np.flatnonzero(hamming_distances(queries[:1], database)[0] != d0[0, 0])[0]
    bad[0, 0] = far
    assert not compare_knn(d0, bad, d0, i0, queries, database, tie_rule=False)["identical"]
    # A repeated id is wrong.
    dup = i0.copy()
    dup[0, 1] = dup[0, 0]
    d_dup = d0.copy()
    d_dup[0, 1] = d_dup[0, 0]
    assert not compare_knn(d_dup, dup, d0, i0, queries, database, tie_rule=False)["identical"]


def test_compare_knn_accepts_faiss_padding_when_fewer_than_k():
    database = np.array([[1], [2], [3]], dtype=np.uint8)  # distances to 1: 0, 2, 1
    queries = database[:1]
    exact_d, exact_i = np.array([[0, 1, 2, -1, -1]]), np.array([[0, 2, 1, -1, -1]])
    faiss_d = np.array([[0, 2, 1, 2**31 - 1, 2**31 - 1]])  # faiss pads with INT32_MAX, -1
    faiss_i = np.array([[0, 1, 2, -1, -1]])
    same = compare_knn(faiss_d, faiss_i, exact_d, exact_i, queries, database, tie_rule=False)
    assert same["identical"]
    short = faiss_i.copy()
    short[0, 2] = -1
    assert not compare_knn(faiss_d, short, exact_d, exact_i, queries, database, tie_rule=False)[
        "identical"
    ]


def test_compare_range_sets_and_order():
    exact = (
        np.array([0, 3, 3, 5]),
        np.array([0, 1, 1, 0, 2], dtype=np.int32),
        np.array([4, 1, 7, 2, 0]),
    )
    assert compare_range(*exact, exact)["identical"]
    # faiss: unsorted within a query, same set -> identical for faiss, not for hashlearn.
    shuffled = (exact[0], np.array([1, 0, 1, 2, 0]), np.array([7, 4, 1, 0, 2]))
    assert compare_range(*shuffled, exact, tie_rule=False)["identical"]
    strict = compare_range(*shuffled, exact)
    assert not strict["identical"] and strict["queries_differ"] == 2
    missing = compare_range(
        np.array([0, 2, 2, 4]), np.array([0, 1, 0, 2]), np.array([4, 1, 2, 0]), exact
    )
    assert not missing["identical"] and missing["missing"] == 1 and missing["extra"] == 0
    wrong_distance = (exact[0], np.array([0, 1, 2, 0, 2]), exact[2])
    assert not compare_range(*wrong_distance, exact, tie_rule=False)["identical"]


def test_data_generators():
    rng = np.random.default_rng(0)
    codes = uniform_codes(1000, 12, rng)
    assert codes.shape == (1000, 2) and not np.any(codes[:, 1] >> 4)  # padding bits zero
    base = uniform_codes(50, 64, rng)
    grown = clustered_codes(base, 500, 64, 0.02, rng)
    assert grown.shape == (500, 8) and np.array_equal(grown[:50], base)
    copies = grown[50:]
    originals = base[np.arange(450) % 50]
    flipped = (unpack_bits(copies, 64) != unpack_bits(originals, 64)).sum(axis=1)
    assert 0.005 < flipped.mean() / 64 < 0.04 and flipped.max() < 12


def test_a_projected_slow_call_is_skipped_with_its_reason():
    config = dataclasses.replace(
        TINY, sizes=(200, 800), bits=(32,), data=("uniform",), max_seconds=1e-9, ks=(1,)
    )
    records = run_search_benchmark(config, None, contenders=[_scan()])
    first = [r for r in records if r["n"] == 200 and (r["k"] == 1 or r["radius"] == 0)]
    rest = [r for r in records if r not in first]
    assert len(first) == 2 and len(rest) == 4
    assert all(r["status"] == "ok" and r["repeats"] == 1 for r in first)  # too slow: once
    # Larger N, and larger radii at the same N, are projected from the measured calls.
    assert all(r["status"] == "skipped" and "projected" in r["reason"] for r in rest)
    assert "projected" in format_search_report({}, records)


def test_config_is_validated():
    with pytest.raises(ValueError, match="sizes"):
        SearchBenchmarkConfig(sizes=())
    with pytest.raises(ValueError, match="k must hold"):
        SearchBenchmarkConfig(ks=(0, 10))
    with pytest.raises(ValueError, match="data must name"):
        SearchBenchmarkConfig(data=("uniform", "gaussian"))
    with pytest.raises(TypeError, match="radii"):
        SearchBenchmarkConfig(radii=(1.5,))
    with pytest.raises(ValueError, match="flip_probability"):
        SearchBenchmarkConfig(flip_probability=0.7)
    with pytest.raises(ValueError, match="max_seconds"):
        SearchBenchmarkConfig(max_seconds=0)
    with pytest.raises(ValueError, match="clustered_source"):
        SearchBenchmarkConfig(clustered_source="cifar100")
    assert SearchBenchmarkConfig(sizes=(100, 10, 100)).sizes == (10, 100)


def test_bad_run_arguments_fail_before_any_work(tmp_path):
    import numba

    too_many = dataclasses.replace(TINY, threads=int(numba.config.NUMBA_NUM_THREADS) + 1)
    with pytest.raises(ValueError, match="threads must be in"):
        run_search_benchmark(too_many, tmp_path / "never")
    assert not (tmp_path / "never").exists()
    with pytest.raises(ValueError, match="unknown name"):
        run_search_benchmark(dataclasses.replace(TINY, indexes=("Nope",)), None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="folder"):
        run_search_benchmark(TINY, tmp_path / "file")


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_clustered_queries_held_out_or_near_duplicates(fraction):
    config = dataclasses.replace(
        TINY, sizes=(300,), bits=(32,), data=("clustered",), ks=(1,), radii=(2,)
    )
    config = dataclasses.replace(config, near_duplicate_queries=fraction)
    records = run_search_benchmark(config, None, contenders=[_scan()])
    assert all(r["status"] == "ok" and r["identical"] for r in records)
    (found,) = [r for r in records if r["task"] == "range"]
    if fraction == 1.0:  # noisy copies of stored items: their originals lie within 2 bits
        assert found["results_per_query"] >= 0.5
    with pytest.raises(ValueError, match="near_duplicate_queries"):
        dataclasses.replace(config, near_duplicate_queries=-0.1)


def test_config_from_options_keeps_defaults_for_missing_options():
    assert config_from_options(SimpleNamespace()) == SearchBenchmarkConfig()
    assert config_from_options(SimpleNamespace(sizes=None), quick=True) == QUICK_CONFIG
    options = SimpleNamespace(k=(5,), queries=7, near_duplicates=0.25, data_dir=Path("/d"))
    chosen = config_from_options(options, quick=True)
    assert chosen.ks == (5,) and chosen.n_queries == 7 and chosen.data_dir == "/d"
    assert chosen.near_duplicate_queries == 0.25 and chosen.sizes == QUICK_CONFIG.sizes


def test_read_search_records_checks_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the search benchmark first"):
        read_search_records(tmp_path)
    row = {"data": "uniform", "n": 10, "n_bits": 8, "task": "knn", "k": 1, "radius": None}
    row.update(index="LinearScanIndex", family="hashlearn", status="ok")
    (tmp_path / "records.jsonl").write_text(json.dumps(row) + "\n\n")
    assert read_search_records(tmp_path) == ({}, [row])  # run.json absent: a run going on
    (tmp_path / "run.json").write_text(json.dumps({"protocol": {"spec": "grh-cifar10"}}))
    with pytest.raises(ValueError, match="not a search benchmark"):
        read_search_records(tmp_path)
    (tmp_path / "run.json").unlink()
    (tmp_path / "records.jsonl").write_text(json.dumps({**row, "status": None}) + "\n{")
    with pytest.raises(ValueError, match="line 2"):
        read_search_records(tmp_path)
    del row["family"]
    (tmp_path / "records.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match="lacks the field"):
        read_search_records(tmp_path)


def test_the_library_never_imports_the_benchmarks():
    """``benchmarks/`` is not installed with hashlearn: nothing under src/ may import it."""
    import ast

    offenders = []
    for path in sorted((ROOT / "src" / "hashlearn").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            if any(name == "benchmarks" or name.startswith("benchmarks.") for name in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders
