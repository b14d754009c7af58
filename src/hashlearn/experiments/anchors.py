"""Published numbers (anchors) that benchmark records are compared with.

The values are copied from ``docs/protocols.md`` (the papers' tables). Rows are keyed by the
method labels of :mod:`hashlearn.experiments.methods` (``"LSH"``, ``"GRH linear, LSH
init"``, ...), so a record finds its anchor from its protocol, the protocol's training
size, its method label and its code length. Metric keys are those of the records:
``"map"`` (mAP@all) and ``"precision_within_radius_2"`` (P@r2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ANCHOR_TABLES", "AnchorTable", "find_anchor"]


@dataclass(frozen=True)
class AnchorTable:
    """One published table: rows of values per code length.

    Parameters
    ----------
    protocol : str
        Protocol name.
    metric : str
        Record metric key the values are comparable with.
    source : str
        Paper and table.
    bits : tuple of int
        Column code lengths.
    rows : dict of str to tuple of float or None
        Method label -> one value per column (None where the paper gives none).
    when : dict
        Protocol parameters the table assumes (e.g. ``{"n_train": 1000}``).
    """

    protocol: str
    metric: str
    source: str
    bits: tuple[int, ...]
    rows: dict[str, tuple[float | None, ...]]
    when: dict[str, Any]


_GRH_T1000: dict[str, tuple[float | None, ...]] = {
    "LSH": (0.1290, 0.1394, 0.1463, 0.1525),
    "PCAH": (0.1322, 0.1291, 0.1256, 0.1234),
    "SH": (0.1306, 0.1296, 0.1346, 0.1314),
    "AGH": (0.1616, 0.1577, 0.1599, 0.1588),
    "ITQ+CCA": (0.2015, 0.2130, 0.2208, 0.2237),
    "BRE": (0.1659, 0.1784, 0.1904, 0.1923),
    "KSH": (0.2440, 0.2730, 0.2827, 0.2905),
    "GRH linear, LSH init": (0.2195, 0.2264, 0.2475, 0.2490),
    "GRH RBF, LSH init": (0.2848, 0.3013, 0.3129, 0.3015),
    "GRH linear, CCA init": (0.2292, 0.2563, 0.2566, 0.2593),
    "GRH RBF, CCA init": (0.2976, 0.3161, 0.3171, 0.3209),
}
_GRH_T2000: dict[str, tuple[float | None, ...]] = {
    "ITQ+CCA": (0.2469, 0.2610, 0.2672, 0.2664),
    "BRE": (0.1668, 0.1873, 0.1941, 0.2018),
    "KSH": (0.2721, 0.3006, 0.3119, 0.3236),
    "GRH linear, LSH init": (0.2342, 0.2569, 0.2554, 0.2639),
    "GRH RBF, LSH init": (0.3191, 0.3475, 0.3542, 0.3646),
    "GRH linear, CCA init": (0.2646, 0.2772, 0.2861, 0.2900),
    "GRH RBF, CCA init": (0.3435, 0.3675, 0.3722, 0.3688),
}

ANCHOR_TABLES: tuple[AnchorTable, ...] = (
    AnchorTable(
        "grh-cifar10",
        "map",
        "GRH paper (Moran & Lavrenko, ECIR 2015), Table 1",
        (16, 32, 48, 64),
        _GRH_T1000,
        {"n_train": 1000},
    ),
    AnchorTable(
        "grh-cifar10",
        "map",
        "GRH paper (Moran & Lavrenko, ECIR 2015), Table 1",
        (16, 32, 48, 64),
        _GRH_T2000,
        {"n_train": 2000},
    ),
    AnchorTable(
        "grh-cifar10",
        "precision_within_radius_2",
        "GRH paper, Fig. 4 (read off the figure, +-0.005)",
        (12, 16, 24, 32, 48, 64),
        {
            "GRH RBF, CCA init": (0.314, 0.356, 0.384, 0.386, 0.365, 0.303),
            "KSH": (0.283, 0.333, 0.366, 0.320, 0.147, 0.070),
            "LSH": (0.143, 0.168, 0.189, 0.076, 0.013, 0.002),
        },
        {"n_train": 1000},
    ),
    AnchorTable(
        "grh-mnist",
        "map",
        "GRH paper (Moran & Lavrenko, ECIR 2015), Table 2",
        (16, 32, 48, 64),
        {
            "LSH": (0.2151, 0.2704, 0.3003, 0.3147),
            "PCAH": (0.2683, 0.2459, 0.2257, 0.2128),
            "SH": (0.2709, 0.2626, 0.2468, 0.2510),
            "AGH": (0.5254, 0.5583, 0.5415, 0.5310),
            "ITQ+CCA": (0.4532, 0.4894, 0.5325, 0.5091),
            "KSH": (0.7577, 0.8011, 0.8202, 0.8268),
            "GRH linear, LSH init": (0.6473, 0.7019, 0.7187, 0.7203),
            "GRH RBF, CCA init": (0.8632, 0.8893, 0.9066, 0.9000),
        },
        {"n_train": 1000},
    ),
    AnchorTable(
        "dsh-cifar10",
        "map",
        "DSH paper (Liu et al., CVPR 2016), Table 3",
        (12, 24, 36, 48),
        {
            "LSH": (0.1277, 0.1367, 0.1407, 0.1492),
            "SH": (0.1319, 0.1278, 0.1364, 0.1320),
            "ITQ+CCA": (0.1653, 0.1960, 0.2085, 0.2176),
            "KSH": (0.2948, 0.3723, 0.4019, 0.4167),
            "DSH": (0.6157, 0.6512, 0.6607, 0.6755),
        },
        {},
    ),
)


def find_anchor(
    protocol: str, params: dict[str, Any], label: str, n_bits: int
) -> dict[str, Any] | None:
    """The published values for one (protocol, parameters, method label, code length).

    Returns ``{"source": ..., "sources": {metric: source}, "<metric>": value, ...}`` with
    every metric some table gives, or None when no table has this row and column.

    Examples
    --------
    >>> find_anchor("grh-cifar10", {"n_train": 1000}, "LSH", 16)["map"]
    0.129
    >>> find_anchor("grh-cifar10", {"n_train": 5000}, "LSH", 16) is None
    True
    """
    found: dict[str, Any] = {}
    sources: list[str] = []
    by_metric: dict[str, str] = {}
    for table in ANCHOR_TABLES:
        if table.protocol != protocol or label not in table.rows or n_bits not in table.bits:
            continue
        if any(params.get(key) != value for key, value in table.when.items()):
            continue
        value = table.rows[label][table.bits.index(n_bits)]
        if value is None:
            continue
        found[table.metric] = value
        by_metric[table.metric] = table.source
        if table.source not in sources:
            sources.append(table.source)
    if not found:
        return None
    return {"source": "; ".join(sources), "sources": by_metric, **found}
