"""The Markdown table of a load run, and its acceptance check (issue 17).

Acceptance: no request failed (no error and no wrong answer) in any row, the rows with
the most clients included; and with batch requests by stored id, the service's best
queries/s over the client counts is at least :data:`TARGET_RATIO` of the in-process
service's queries/s on the same bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["TARGET_RATIO", "acceptance", "format_table", "format_verdict"]

TARGET_RATIO = 0.5


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """One Markdown row per load row, with its in-process throughputs and ratios."""
    lines = [
        "| query | per request | clients | requests/s | queries/s | p50 ms | p99 ms | errors "
        "| server CPU % | in-process service q/s | service / in-process | index q/s "
        "| service / index |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        latency = row["latency_ms"]
        errors = row["errors"] + row["mismatches"]
        lines.append(
            f"| {row['query']} | {row['per_request']} | {row['clients']} "
            f"| {_number(row['requests_per_second'])} | {_number(row['queries_per_second'])} "
            f"| {_number(latency['p50'], 2)} | {_number(latency['p99'], 2)} | {errors} "
            f"| {_number(row['server_cpu_percent'])} "
            f"| {_number(row['in_process_service_qps'])} | {_ratio(row['ratio_service'])} "
            f"| {_number(row['in_process_index_qps'])} | {_ratio(row['ratio_index'])} |"
        )
    return "\n".join(lines)


def acceptance(rows: Sequence[dict[str, Any]], batch: int) -> dict[str, Any]:
    """Whether the run meets the target; the numbers that decide it.

    Returns
    -------
    dict
        ``errors`` and ``mismatches`` (all rows), ``max_clients`` and ``errors_at_max_clients``,
        ``batch_ratio`` (best service / in-process ratio of the stored-id rows of ``batch``
        queries, None without such rows) with the clients it was reached at, and ``ok``.
    """
    max_clients = max((row["clients"] for row in rows), default=0)
    errors = sum(row["errors"] for row in rows)
    mismatches = sum(row["mismatches"] for row in rows)
    at_max = sum(row["errors"] + row["mismatches"] for row in rows if row["clients"] == max_clients)
    batch_rows = [
        row
        for row in rows
        if row["query"] == "ids" and row["per_request"] == batch and row["ratio_service"]
    ]
    best = max(batch_rows, key=lambda row: row["ratio_service"], default=None)
    ratio = None if best is None else best["ratio_service"]
    return {
        "errors": errors,
        "mismatches": mismatches,
        "max_clients": max_clients,
        "errors_at_max_clients": at_max,
        "batch": batch,
        "batch_ratio": ratio,
        "batch_ratio_clients": None if best is None else best["clients"],
        "target_ratio": TARGET_RATIO,
        "ok": errors == 0 and mismatches == 0 and ratio is not None and ratio >= TARGET_RATIO,
    }


def format_verdict(verdict: dict[str, Any]) -> str:
    """One line saying whether the run met the target, and why not."""
    ratio = verdict["batch_ratio"]
    parts = [
        f"errors {verdict['errors']}, wrong answers {verdict['mismatches']} "
        f"({verdict['errors_at_max_clients']} at {verdict['max_clients']} clients)",
        "no batch rows"
        if ratio is None
        else f"batch of {verdict['batch']}: service / in-process {ratio:.2f} at "
        f"{verdict['batch_ratio_clients']} clients (target >= {verdict['target_ratio']})",
    ]
    return ("target met: " if verdict["ok"] else "target NOT met: ") + "; ".join(parts)
