"""Indexes: store packed binary codes and answer Hamming queries. They never learn.

Every index follows one contract (see :mod:`hashlearn.index._base`): ``add(codes)``;
``search(query_codes, k) -> (distances int32, indices int64)`` padded with ``-1``;
``range_search(query_codes, radius) -> (lims, distances, indices)`` in CSR layout.
Results are sorted by ``(distance, database id)``: ties break by the smaller id, always.

* :class:`LinearScanIndex`: exact, any ``n_bits``; the oracle for the others.
* :class:`HashTableIndex`: one table keyed by the whole code (``n_bits <= 64``), exact
  Hamming-radius probing and exact k-NN by growing the radius; bucket statistics.
* :func:`rerank`, :class:`Reranker`, :class:`CosineReranker`: order candidates by an
  exact float distance on the original vectors.

Indexes save without pickle (``index.save(path)``, :func:`hashlearn.load`), with their
hasher when they hold one.
"""

from hashlearn.index._base import BinaryIndex
from hashlearn.index.hash_table import (
    BucketInfo,
    BucketStatistics,
    HashTableIndex,
    ProbeStatistics,
)
from hashlearn.index.linear_scan import LinearScanIndex
from hashlearn.index.rerank import CosineReranker, Reranker, rerank

__all__ = [
    "BinaryIndex",
    "BucketInfo",
    "BucketStatistics",
    "CosineReranker",
    "HashTableIndex",
    "LinearScanIndex",
    "ProbeStatistics",
    "Reranker",
    "rerank",
]
