"""Indexes: store packed binary codes and answer Hamming queries. They never learn.

Every index follows one contract (see :mod:`hashlearn.index._base`): ``add(codes)``;
``search(query_codes, k) -> (distances int32, indices int64)`` with ``k`` capped at the
number of stored codes; ``range_search(query_codes, radius) -> (lims, distances, indices)``
in CSR layout, within a result budget (``max_results``, :class:`RangeResultLimitError`).
Results are sorted by ``(distance, database id)``: ties break by the smaller id, always.

* :class:`LinearScanIndex`: exact, any ``n_bits``; the oracle for the others.
* :class:`HashTableIndex`: one table keyed by the whole code (``n_bits <= 64``), exact
  Hamming-radius probing and exact k-NN by growing the radius; bucket statistics.
* :class:`MultiTableIndex`: L tables on sub-codes (disjoint, random or per-hasher bit
  groups), multi-probe, approximate with a certified radius; ``grow="exact"`` for exact
  k-NN.
* :class:`MultiIndexHashing` (``MIH``): exact k-NN and range search through m substring
  hash tables (Norouzi, Punjani and Fleet); fast on clustered codes, falls back to the scan
  on uniform ones.
* :class:`FaissBinaryFlat`, :class:`FaissBinaryHash`, :class:`FaissBinaryMultiHash`: the
  same contract over faiss's binary indexes (``pip install 'hashlearn[faiss]'``; faiss is
  imported only when one is created). :func:`make_index` switches backend with one
  argument.
* :class:`ShardedIndex`: any of the above split into shards held by Dask workers, with
  results identical to one index holding every code; :func:`encode_dask` encodes chunked
  features on the workers (``pip install 'hashlearn[dask]'``; dask is imported only when
  one is used).
* :func:`rerank`, :class:`Reranker`, :class:`CosineReranker`: order candidates by an
  exact float distance on the original vectors.

The structure parameters share one name per concept: ``n_tables`` (number of tables or
substrings), ``bits_per_table`` (bits per table key) and ``probe_radius`` (key bits
flipped when probing a table).

Indexes save without pickle (``index.save(path)``, :func:`hashlearn.load`), with their
hasher when they hold one. :class:`LinearScanIndex`, :class:`HashTableIndex` and
:class:`MultiIndexHashing` also save as a folder of plain arrays (``index.save_folder(path)``) that
:func:`load_index_folder` maps instead of reading, so an index larger than the memory opens
in milliseconds; ``index.add_chunks(...)`` adds codes from a ``.npy`` file or an iterator
of chunks, and :func:`build_index_folder` / :func:`append_to_index_folder` write the scan's
and multi-index hashing's folders from codes larger than the memory, a chunk at a time.
:func:`hashlearn.testing.check_index` runs this contract on an index of your own.
"""

from hashlearn.index._base import (
    MAX_RANGE_RESULTS,
    BinaryIndex,
    RangeResultLimitError,
    load_index_folder,
)
from hashlearn.index.building import append_to_index_folder, build_index_folder
from hashlearn.index.factory import make_index
from hashlearn.index.faiss_backend import FaissBinaryFlat, FaissBinaryHash, FaissBinaryMultiHash
from hashlearn.index.hash_table import (
    BucketInfo,
    BucketStatistics,
    HashTableIndex,
    ProbeCostWarning,
    ProbeStatistics,
)
from hashlearn.index.linear_scan import LinearScanIndex
from hashlearn.index.multi_index import MIH, MultiIndexHashing
from hashlearn.index.multi_table import MultiTableIndex, MultiTableStatistics
from hashlearn.index.rerank import CosineReranker, Reranker, rerank
from hashlearn.index.sharded import ShardedIndex, ShardLostError, encode_dask

__all__ = [
    "MAX_RANGE_RESULTS",
    "MIH",
    "BinaryIndex",
    "BucketInfo",
    "BucketStatistics",
    "CosineReranker",
    "FaissBinaryFlat",
    "FaissBinaryHash",
    "FaissBinaryMultiHash",
    "HashTableIndex",
    "LinearScanIndex",
    "MultiIndexHashing",
    "MultiTableIndex",
    "MultiTableStatistics",
    "ProbeCostWarning",
    "ProbeStatistics",
    "RangeResultLimitError",
    "Reranker",
    "ShardLostError",
    "ShardedIndex",
    "append_to_index_folder",
    "build_index_folder",
    "encode_dask",
    "load_index_folder",
    "make_index",
    "rerank",
]
