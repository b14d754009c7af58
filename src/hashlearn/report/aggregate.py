"""Aggregation of benchmark records: grouping, mean and std over seeds, published anchors.

Every report (the benchmark report, the reproduction page) summarises records the same
way: records are grouped by protocol, then by method and code length; a cell is the mean
and sample standard deviation (``ddof=1``) over seeds; a mean is compared with the
published number under one tolerance, :data:`ANCHOR_TOLERANCE`. Nothing here draws or
formats a page. :func:`finite`, :func:`mean_std` and :func:`method_labels` are defined in
:mod:`hashlearn.records` (the runner's summary uses them too) and re-exported here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hashlearn.records import finite, mean_std, method_labels

__all__ = [
    "ANCHOR_TOLERANCE",
    "Curve",
    "Metric",
    "ProtocolRecords",
    "as_float",
    "curve",
    "curves_by_bits",
    "finite",
    "group_protocols",
    "mean_of",
    "mean_std",
    "method_labels",
    "metric_getter",
    "metric_groups",
    "metric_value",
    "occupancy",
    "sorted_keys",
    "verdict",
]

ANCHOR_TOLERANCE = 0.015
"""A difference to a published number within +-this is marked ``within``."""

Curve = tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]
"""A seed-averaged curve: x, then the mean and the standard deviation of each y column."""


def verdict(difference: float) -> str:
    """``"within"`` when ``|difference| <= ANCHOR_TOLERANCE``, else ``"above"``/``"below"``."""
    if abs(difference) <= ANCHOR_TOLERANCE:
        return "within"
    return "above" if difference > 0 else "below"


def metric_value(record: dict[str, Any], *path: str) -> float | None:
    """The finite number at ``record["metrics"][path[0]][path[1]]...``, or None."""
    value: Any = record.get("metrics") or {}
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return finite(value)


def metric_getter(*path: str) -> Callable[[dict[str, Any]], float | None]:
    """:func:`metric_value` with its path bound."""

    def getter(record: dict[str, Any]) -> float | None:
        return metric_value(record, *path)

    return getter


def mean_of(records: Sequence[dict[str, Any]], *path: str) -> float | None:
    """Mean of the finite numbers at ``record[path[0]][path[1]]...`` (None if there are none)."""
    values = []
    for record in records:
        value: Any = record
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        number = finite(value)
        if number is not None:
            values.append(number)
    return math.fsum(values) / len(values) if values else None


@dataclass
class ProtocolRecords:
    """The records of one protocol spec, ok or failed, with its methods and code lengths."""

    spec: str
    records: list[dict[str, Any]]
    methods: list[str]
    bits: list[int]

    @property
    def ok(self) -> list[dict[str, Any]]:
        """The successful records."""
        return [r for r in self.records if r.get("status") == "ok"]

    def cell(self, method: str, n_bits: int) -> list[dict[str, Any]]:
        """The successful records of one (method spec, code length): one per seed."""
        return [r for r in self.ok if r["method"]["spec"] == method and r["n_bits"] == n_bits]

    def n_failed(self, method: str, n_bits: int) -> int:
        """How many records of one (method spec, code length) failed."""
        return sum(
            1
            for r in self.records
            if r.get("status") != "ok" and r["method"]["spec"] == method and r["n_bits"] == n_bits
        )

    def anchor(self, method: str, n_bits: int, keys: Sequence[str]) -> tuple[float, str] | None:
        """The published value of the first of ``keys`` a record carries, and its source."""
        for record in self.records:
            if record["method"]["spec"] != method or record["n_bits"] != n_bits:
                continue
            anchor = record.get("anchor")
            if not isinstance(anchor, dict):
                continue
            sources = anchor.get("sources")
            for key in keys:
                value = finite(anchor.get(key))
                if value is not None:
                    # A per-metric source, where given, is more precise than the joint one.
                    source = sources.get(key) if isinstance(sources, dict) else None
                    return value, str(source or anchor.get("source") or "published")
        return None


def group_protocols(records: Sequence[dict[str, Any]]) -> list[ProtocolRecords]:
    """Records grouped by ``protocol.spec``, in order of first appearance."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record["protocol"]["spec"]), []).append(record)
    protocols = []
    for spec, group in groups.items():
        methods: dict[str, None] = {}
        for record in group:
            methods.setdefault(str(record["method"]["spec"]), None)
        bits = sorted({int(r["n_bits"]) for r in group})
        protocols.append(ProtocolRecords(spec, group, list(methods), bits))
    return protocols


@dataclass(frozen=True)
class Metric:
    """One reported metric: its title, how to read it from a record, its anchor keys."""

    title: str
    getter: Callable[[dict[str, Any]], float | None]
    anchor_keys: tuple[str, ...] = ()
    description: str = ""


def sorted_keys(protocol: ProtocolRecords, name: str) -> list[str]:
    """The keys of ``metrics[name]`` over the protocol's records, numbers first, ascending."""
    keys: set[str] = set()
    for record in protocol.ok:
        value = (record.get("metrics") or {}).get(name)
        if isinstance(value, dict):
            keys.update(str(k) for k in value)
    return sorted(keys, key=_key_order)


def _key_order(key: str) -> tuple[int, float, str]:
    """Numbers first, ascending, then the other keys."""
    try:
        return 0, float(key), key
    except ValueError:
        return 1, 0.0, key


def _beside(protocol: ProtocolRecords, stable: str, tie_aware: str) -> list[tuple[str, bool, bool]]:
    """The cut-offs K of ``metrics[stable]`` and ``metrics[tie_aware]`` in ascending order,
    each with whether the stable and the tie-aware value exist, so each tie-aware table
    follows its stable one (records written before a tie-aware key have none)."""
    found_stable = set(sorted_keys(protocol, stable))
    found_tie = set(sorted_keys(protocol, tie_aware))
    return [
        (key, key in found_stable, key in found_tie)
        for key in sorted(found_stable | found_tie, key=_key_order)
    ]


def metric_groups(protocol: ProtocolRecords) -> list[tuple[str, list[Metric]]]:
    """The metric tables of a protocol, grouped under sub-headings."""
    groups: list[tuple[str, list[Metric]]] = []
    ranking = [
        Metric(
            "mAP@all",
            metric_getter("map"),
            ("map",),
            "mean average precision over the whole Hamming ranking (ties by database index)",
        ),
        Metric(
            "tie-aware mAP@all",
            metric_getter("tie_aware_map"),
            ("tie_aware_map",),
            "expected average precision over random orders of tied distances",
        ),
    ]
    for k, stable, tie_aware in _beside(protocol, "map_at_k", "tie_aware_map_at_k"):
        if stable:
            ranking.append(
                Metric(
                    f"mAP@{k}",
                    metric_getter("map_at_k", k),
                    (f"map_at_k_{k}", f"map_at_{k}", f"map@{k}"),
                    f"mean average precision over the top {k} of the ranking",
                )
            )
        if tie_aware:
            ranking.append(
                Metric(
                    f"tie-aware mAP@{k}",
                    metric_getter("tie_aware_map_at_k", k),
                    (),
                    f"expected mean average precision over the top {k} over random orders of "
                    "tied distances",
                )
            )
    groups.append(("Mean average precision", ranking))
    radius = [
        Metric(
            "precision within Hamming radius 2",
            metric_getter("precision_within_radius", "2", "value"),
            ("precision_within_radius_2", "precision_r2"),
            "precision of everything within Hamming distance 2 (empty retrieval scores 0)",
        ),
        Metric(
            "queries with nothing within radius 2 (fraction)",
            metric_getter("precision_within_radius", "2", "empty_fraction"),
            (),
            "fraction of queries with no database code within Hamming distance 2",
        ),
    ]
    groups.append(("Precision within Hamming radius 2", radius))
    at_k = []
    for k, stable, tie_aware in _beside(protocol, "precision_at_k", "tie_aware_precision_at_k"):
        if stable:
            at_k.append(
                Metric(
                    f"P@{k}",
                    metric_getter("precision_at_k", k),
                    (f"precision_at_k_{k}", f"precision_at_{k}", f"p@{k}"),
                    f"precision of the top {k} of the Hamming ranking",
                )
            )
        if tie_aware:
            at_k.append(
                Metric(
                    f"tie-aware P@{k}",
                    metric_getter("tie_aware_precision_at_k", k),
                    (),
                    f"expected precision of the top {k} over random orders of tied distances",
                )
            )
    groups.append(("Precision at K", at_k))
    recall = [
        Metric(
            f"recall@{r}",
            metric_getter("recall_at", r),
            (f"recall_at_{r}",),
            f"fraction of the exact feature-space nearest neighbours found in the top {r} of "
            "the Hamming ranking",
        )
        for r in sorted_keys(protocol, "recall_at")
    ]
    if recall:
        groups.append(("Recall of exact neighbours (ANN evaluation)", recall))
    return groups


def as_float(values: Any) -> np.ndarray:
    """A list of numbers as a float array, NaN where an entry is not a finite number."""
    if not isinstance(values, list | tuple):
        return np.zeros(0)
    return np.array([np.nan if finite(v) is None else float(v) for v in values], dtype=float)


def curve(
    records: Sequence[dict[str, Any]], name: str, x_key: str, y_keys: Sequence[str]
) -> Curve | None:
    """Seed-averaged curve ``metrics[name]``: x, then mean and std (ddof=1) per y key.

    Seeds whose x values differ from the first seed's are left out (they cannot be averaged
    point by point); a point missing in a seed (None/NaN) is averaged over the others.
    """
    xs: np.ndarray | None = None
    ys: list[list[np.ndarray]] = [[] for _ in y_keys]
    for record in records:
        found = (record.get("metrics") or {}).get(name)
        if not isinstance(found, dict):
            continue
        x = as_float(found.get(x_key))
        columns = [as_float(found.get(key)) for key in y_keys]
        if x.size == 0 or any(c.size != x.size for c in columns):
            continue
        if xs is None:
            xs = x
        elif x.shape != xs.shape or not np.allclose(x, xs, equal_nan=True):
            continue
        for store, column in zip(ys, columns, strict=True):
            store.append(column)
    if xs is None:
        return None
    means, stds = [], []
    for store in ys:
        stack = np.vstack(store)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means.append(np.nanmean(stack, axis=0))
            counts = np.sum(np.isfinite(stack), axis=0)
            std = np.nanstd(stack, axis=0, ddof=1) if stack.shape[0] > 1 else np.zeros(xs.size)
        stds.append(np.where(counts > 1, np.nan_to_num(std), 0.0))
    return xs, means, stds


def curves_by_bits(
    protocol: ProtocolRecords, name: str, x_key: str, y_keys: Sequence[str]
) -> dict[int, dict[str, Curve]]:
    """:func:`curve` for every (code length, method) that has one, by code length."""
    found: dict[int, dict[str, Curve]] = {}
    for n_bits in protocol.bits:
        for spec in protocol.methods:
            averaged = curve(protocol.cell(spec, n_bits), name, x_key, y_keys)
            if averaged is not None:
                found.setdefault(n_bits, {})[spec] = averaged
    return found


def occupancy(records: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray] | None:
    """Bucket-size bins and the mean number of buckets in each, over seeds (absent = 0)."""
    tables: list[dict[float, float]] = []
    for record in records:
        histogram = (record.get("codes") or {}).get("occupancy_histogram")
        if not isinstance(histogram, dict):
            continue
        sizes, counts = as_float(histogram.get("size")), as_float(histogram.get("count"))
        if sizes.size == 0 or sizes.size != counts.size:
            continue
        tables.append(
            {
                float(s): float(c)
                for s, c in zip(sizes, counts, strict=True)
                if np.isfinite(s) and np.isfinite(c)
            }
        )
    if not tables:
        return None
    sizes = np.array(sorted(set().union(*tables)), dtype=float)
    counts = np.array([[table.get(s, 0.0) for s in sizes] for table in tables]).mean(axis=0)
    return sizes, counts
