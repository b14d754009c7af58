"""Counting sort of codes by a substring key, one chunk of codes at a time.

The tables of :class:`~hashlearn.index.MultiIndexHashing` order the ids of the codes by
``(key, id)``, where ``key`` is the integer value of a substring of ``length`` bits
(:func:`hashlearn.index._kernels.mih.substring_keys`). In memory that is one stable sort
per substring; for an index folder larger than the memory it is a counting sort in two
passes over the codes, each reading one chunk at a time:

1. :func:`key_histogram` counts the codes of every key (``counts[key] += 1``);
2. the caller turns the counts into each key's first position (their exclusive prefix
   sum, ``cursor``), and :func:`scatter_ids` writes each id at its key's cursor and
   advances it.

Ids arrive in increasing order, so within a key they are written in increasing order:
the result equals the stable sort by key. Memory: the histogram and the cursor,
``2**length`` integers each, and one chunk of codes; the output (``n`` ids) is typically a
memory-mapped file.
"""

from __future__ import annotations

import numba

from hashlearn._numba import CACHE
from hashlearn.index._kernels.mih import _extract

__all__ = ["key_histogram", "scatter_ids"]


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def key_histogram(words, start, length, counts):
    """Add to ``counts[key]`` the number of codes of ``words`` (``uint64 (n, n_words)``)
    whose bits ``start .. start + length - 1`` read ``key``."""
    for row in range(words.shape[0]):
        counts[_extract(words, row, start, length)] += 1


@numba.njit(nogil=True, cache=CACHE, boundscheck=False)
def scatter_ids(words, first_id, start, length, cursor, out):
    """Write id ``first_id + row`` of every code of ``words`` at ``out[cursor[key]]`` and
    advance ``cursor[key]`` (``key`` as in :func:`key_histogram`)."""
    for row in range(words.shape[0]):
        key = _extract(words, row, start, length)
        out[cursor[key]] = first_id + row
        cursor[key] += 1
