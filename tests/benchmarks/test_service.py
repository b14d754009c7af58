"""``python -m benchmarks service``: a short load run end to end on a digits bundle, what
the clients count (errors, wrong answers), the acceptance check and the command line."""

from __future__ import annotations

import http.server
import json
import socket
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service benchmark needs the [web] extra")

from benchmarks.__main__ import command_for
from benchmarks.__main__ import main as suite_main
from benchmarks.service.__main__ import main
from benchmarks.service.client import run_row
from benchmarks.service.report import acceptance, format_table
from benchmarks.service.server import default_bundle, start_server, stop_server
from benchmarks.service.workload import InProcess, Workload, make_workload, query_ids

ROW_FIELDS = {
    "query", "per_request", "k", "clients", "seconds", "slices", "elapsed_s", "requests",
    "queries", "requests_per_second", "queries_per_second", "latency_ms", "errors",
    "error_examples", "checked", "mismatches", "server_cpu_percent", "client_cpu_percent",
    "workload", "load_average_before", "in_process", "in_process_service_qps",
    "in_process_index_qps", "ratio_service", "ratio_index",
}  # fmt: skip


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle cache holding the default digits bundle (built by ``hashlearn build``)."""
    folder = tmp_path_factory.mktemp("bundle-cache")
    default_bundle("digits", cache_dir=folder, say=False)
    return folder


@pytest.fixture(scope="module")
def service(cache: Path):
    from hashlearn.serve.bundle import load_bundle
    from hashlearn.serve.engine import BundleService

    return BundleService(load_bundle(cache / "digits-itq-32"))


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers every search with the same results; a body asking k = 0 gets a 422."""

    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        refused = json.loads(body)["k"] == 0
        answer = json.dumps({"detail": "k"} if refused else {"results": [{"ids": [1, 2, 3]}]})
        self.send_response(422 if refused else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture()
def stub_url():
    """A tiny HTTP server in a thread, standing in for ``hashlearn serve``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _stub_workload(k: int, expected: list[int]) -> Workload:
    body = json.dumps({"ids": [0], "k": k}).encode()
    return Workload("ids", 1, k, (body,), (json.loads(body),), ([expected],))


def test_the_default_bundle_is_built_once_then_reused(cache):
    path = cache / "digits-itq-32"
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["n_bits"] == 32 and manifest["n_items"] == 1797
    assert manifest["description"]["method"] == "itq"
    written = (path / "manifest.json").stat().st_mtime_ns
    assert default_bundle("digits", cache_dir=cache, say=False) == path
    assert (path / "manifest.json").stat().st_mtime_ns == written


def test_a_short_run_writes_every_field_with_zero_errors(cache, tmp_path, capsys):
    out = tmp_path / "run"
    status = main(
        [
            "--dataset", "digits", "--cache-dir", str(cache), "--seconds", "0.5",
            "--clients", "1,2", "--vector-clients", "1", "--queries", "120",
            "--in-process-seconds", "0.05", "--out", str(out), "--no-progress",
        ]
    )  # fmt: skip
    assert status == 0
    result = json.loads((out / "result.json").read_text())
    assert result["benchmark"] == "service" and result["bundle"]["n_items"] == 1797
    assert result["server_command"][1:4] == ["-m", "hashlearn", "serve"]
    assert len(result["load_average_before"]) == 3
    rows = result["rows"]
    assert [(r["workload"], r["clients"]) for r in rows] == [
        ("ids x1", 1), ("ids x1", 2), ("ids x100", 1), ("ids x100", 2), ("vectors x100", 1),
    ]  # fmt: skip
    for row in rows:
        assert set(row) == ROW_FIELDS
        assert row["errors"] == 0 and row["mismatches"] == 0 and row["checked"] >= row["clients"]
        assert row["requests"] > 0 and row["queries"] == row["requests"] * row["per_request"]
        assert row["elapsed_s"] >= 0.5
        latency = row["latency_ms"]
        assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
        assert row["in_process_service_qps"] > 0 and row["in_process_index_qps"] > 0
        expected = row["queries_per_second"] / row["in_process_service_qps"]
        assert row["ratio_service"] == pytest.approx(expected, rel=1e-3)
    verdict = result["acceptance"]
    assert verdict["errors"] == verdict["mismatches"] == verdict["errors_at_max_clients"] == 0
    assert verdict["max_clients"] == 2 and verdict["batch"] == 100
    assert verdict["batch_ratio"] == max(r["ratio_service"] for r in rows[2:4])
    table = (out / "results.md").read_text()
    assert "| query | per request | clients | requests/s |" in table
    assert table.count("\n| ids |") == 4 and "\n| vectors | 100 | 1 |" in table
    printed = capsys.readouterr().out
    assert "target met" in printed or "target NOT met" in printed


def test_wrong_answers_and_refused_requests_are_counted(stub_url):
    right = run_row(stub_url, "b", _stub_workload(3, [1, 2, 3]), clients=2, seconds=0.2)
    assert right["errors"] == right["mismatches"] == 0 and right["requests"] > 0
    assert right["checked"] >= 2  # the first answer of each client, then every 50th
    every = run_row(
        stub_url, "b", _stub_workload(3, [1, 2, 3]), clients=1, seconds=0.1, check_every=1
    )
    assert every["checked"] == every["requests"]
    wrong = run_row(stub_url, "b", _stub_workload(3, [3, 2, 1]), clients=2, seconds=0.1)
    assert wrong["mismatches"] == wrong["checked"] >= 2 and wrong["errors"] == 0
    refused = run_row(stub_url, "b", _stub_workload(0, [1]), clients=1, seconds=0.1)
    assert refused["requests"] == 0 and refused["errors"] > 0
    assert refused["error_examples"][0].startswith("HTTP 422")
    assert len(refused["error_examples"]) <= 5
    # Nothing listening: every request raises, and each one is an error.
    port = int(stub_url.rsplit(":", 1)[1])
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
        gone = run_row(closed, "b", _stub_workload(3, [1]), clients=1, seconds=0.1)
    assert port and gone["requests"] == 0 and gone["errors"] > 0
    assert "ConnectionRefusedError" in gone["error_examples"][-1]


def test_uvicorn_options_and_server_environment_reach_the_server(cache, service):
    server = start_server(
        cache / "digits-itq-32", http="h11", loop="asyncio", env={"OMP_WAIT_POLICY": "PASSIVE"}
    )
    try:
        assert server.command[1:3] == ["-m", "benchmarks.service.uvicorn_app"]
        assert server.command[-6:-2] == ["--http", "h11", "--loop", "asyncio"]
        environ = Path(f"/proc/{server.process.pid}/environ")
        if environ.exists():
            assert b"OMP_WAIT_POLICY=PASSIVE" in environ.read_bytes().split(b"\0")
        workload = make_workload(service, query_ids(service.ntotal, 10, 0), kind="ids",
                                 per_request=5, k=3)  # fmt: skip
        row = run_row(server.url, service.name, workload, clients=1, seconds=0.2, check_every=1)
        assert row["requests"] > 0 and row["errors"] == row["mismatches"] == 0
    finally:
        stop_server(server)
    assert server.process.poll() is not None
    assert stop_server(server) == ""  # stopping twice is harmless


def test_in_process_timings_accumulate_over_slices(service):
    ids = query_ids(service.ntotal, 50, seed=0)
    workload = make_workload(service, ids, kind="vectors", per_request=10, k=5)
    assert len(workload.bodies) == 5 and workload.name == "vectors x10"
    timer = InProcess(service, workload)
    timer.run(0.02)
    first = timer.summary()
    timer.run(0.02)
    second = timer.summary()
    for way in ("service", "index"):
        assert second[way]["calls"] > first[way]["calls"] >= 1
        assert second[way]["elapsed_s"] >= 0.04
        assert second[way]["queries_per_second"] == pytest.approx(
            10 * second[way]["calls"] / second[way]["elapsed_s"], rel=1e-2
        )


def test_query_ids_are_distinct_seeded_and_wrap_into_full_requests(service):
    ids = query_ids(service.ntotal, 250, seed=3)
    assert len(set(ids.tolist())) == 250 and (query_ids(service.ntotal, 250, seed=3) == ids).all()
    workload = make_workload(service, ids, kind="ids", per_request=100, k=10)
    sizes = [len(json.loads(body)["ids"]) for body in workload.bodies]
    assert sizes == [100, 100, 100]  # the last request wraps round to the first ids
    assert json.loads(workload.bodies[2])["ids"][50:] == ids[:50].tolist()
    assert all(len(rows) == 100 for rows in workload.expected)
    first = zip(ids[:100].tolist(), workload.expected[0], strict=True)
    assert all(len(row) == 10 and i not in row for i, row in first)


def _row(clients: int, per_request: int, ratio: float, errors: int = 0) -> dict:
    return {
        "query": "ids", "per_request": per_request, "clients": clients, "errors": errors,
        "mismatches": 0, "ratio_service": ratio, "ratio_index": ratio,
        "requests_per_second": 10.0, "queries_per_second": 10.0 * per_request,
        "latency_ms": {"p50": 1.0, "p99": 2.0}, "server_cpu_percent": 90.0,
        "in_process_service_qps": 100.0, "in_process_index_qps": 120.0,
    }  # fmt: skip


def test_acceptance_needs_no_errors_and_half_the_in_process_rate_for_batches():
    rows = [_row(1, 1, 0.1), _row(1, 100, 0.4), _row(32, 100, 0.55)]
    verdict = acceptance(rows, batch=100)
    assert verdict["ok"] and verdict["batch_ratio"] == 0.55 and verdict["batch_ratio_clients"] == 32
    assert not acceptance([_row(1, 1, 0.9), _row(32, 100, 0.49)], batch=100)["ok"]
    failing = acceptance([_row(1, 100, 0.9), _row(32, 100, 0.9, errors=1)], batch=100)
    assert not failing["ok"] and failing["errors_at_max_clients"] == 1
    assert acceptance([_row(1, 1, 0.9)], batch=100)["batch_ratio"] is None
    assert "| ids | 100 | 32 | 10 | 1,000 | 1.00 | 2.00 | 0 | 90 | 100 | 0.55 | 120 |" in (
        format_table(rows)
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--clients", "0"], "expected integers >= 1"),
        (["--clients", "a,b"], "expected comma-separated integers"),
        (["--seconds", "nan"], "expected a number >= 0.05"),
        (["--batch", "1"], "expected a number >= 2"),
        (["--dataset", "mnist"], "invalid choice"),
        (["--server-env", "OMP_WAIT_POLICY"], "expected NAME=VALUE"),
        (["--http", "h2"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, arguments, expected):
    with pytest.raises(SystemExit) as raised:
        main(arguments)
    assert raised.value.code == 2
    assert expected in capsys.readouterr().err


def test_a_missing_bundle_exits_2_before_any_load(tmp_path, capsys):
    assert main(["--bundle", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("python -m benchmarks service: error:")
    assert not (tmp_path / "o").exists()


def test_the_suite_runs_the_service_benchmark_as_a_module(tmp_path, capsys):
    command = command_for("service", quick=True, out=tmp_path, data_dir="/data")
    assert command[:3] == [sys.executable, "-m", "benchmarks.service"]
    assert command[3:] == [
        "--quick", "--no-progress", "--data-dir", "/data", "--json", str(tmp_path / "service.json"),
    ]  # fmt: skip
    with pytest.raises(SystemExit) as raised:
        suite_main(["service", "--seconds", "0"])
    assert raised.value.code == 2
    assert "python -m benchmarks service: error: argument --seconds" in capsys.readouterr().err
