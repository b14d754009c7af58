"""Build an index by kind and backend: switch implementation with one argument.

======================  ==============================  ==================================
``kind``                ``backend="hashlearn"``         ``backend="faiss"``
======================  ==============================  ==================================
``"flat"``              :class:`LinearScanIndex`        :class:`FaissBinaryFlat`
``"hash"``              :class:`HashTableIndex`         :class:`FaissBinaryHash`
``"multihash"``         :class:`MultiTableIndex`        :class:`FaissBinaryMultiHash`
``"mih"``               :class:`MultiIndexHashing`      (none: faiss has no MIH index)
======================  ==============================  ==================================

The same kind does not always promise the same results across backends: both ``"flat"``
indexes are exact and return identical arrays, ``HashTableIndex`` is exact while
``FaissBinaryHash`` probes a fixed number of bit flips (see
:mod:`hashlearn.index.faiss_backend` for its exactness conditions). Every index follows
the search contract of :mod:`hashlearn.index._base`, including the ``(distance, id)``
tie rule.

Every class is imported here; the faiss wrappers import faiss only when an index is
created, so importing this module needs neither faiss nor its extra.
"""

from __future__ import annotations

import inspect
from typing import Any

from hashlearn.index._base import BinaryIndex
from hashlearn.index.faiss_backend import FaissBinaryFlat, FaissBinaryHash, FaissBinaryMultiHash
from hashlearn.index.hash_table import HashTableIndex
from hashlearn.index.linear_scan import LinearScanIndex
from hashlearn.index.multi_index import MultiIndexHashing
from hashlearn.index.multi_table import MultiTableIndex

__all__ = ["BACKENDS", "KINDS", "index_class", "make_index"]

KINDS = ("flat", "hash", "multihash", "mih")
BACKENDS = ("hashlearn", "faiss")

# (kind, backend) -> class; None: that backend has no such index.
_CLASSES: dict[tuple[str, str], type[BinaryIndex] | None] = {
    ("flat", "hashlearn"): LinearScanIndex,
    ("flat", "faiss"): FaissBinaryFlat,
    ("hash", "hashlearn"): HashTableIndex,
    ("hash", "faiss"): FaissBinaryHash,
    ("multihash", "hashlearn"): MultiTableIndex,
    ("multihash", "faiss"): FaissBinaryMultiHash,
    ("mih", "hashlearn"): MultiIndexHashing,
    ("mih", "faiss"): None,
}

# Parameters every index takes, passed by make_index itself.
_COMMON = ("n_bits", "hasher")


def _check_choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(choice) for choice in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def index_class(kind: str, backend: str = "hashlearn") -> type[BinaryIndex]:
    """The index class that :func:`make_index` builds for ``kind`` and ``backend``.

    Parameters
    ----------
    kind : {"flat", "hash", "multihash", "mih"}
    backend : {"hashlearn", "faiss"}, default "hashlearn"

    Returns
    -------
    type
        A :class:`~hashlearn.index.BinaryIndex` subclass. Asking for a faiss class does
        not import faiss; creating an instance does.

    Raises
    ------
    ValueError
        For an unknown kind or backend, or a kind the backend does not provide.
    """
    kind = _check_choice(kind, "kind", KINDS)
    backend = _check_choice(backend, "backend", BACKENDS)
    cls = _CLASSES[(kind, backend)]
    if cls is None:
        others = [b for b in BACKENDS if _CLASSES[(kind, b)] is not None]
        raise ValueError(
            f"backend={backend!r} has no index of kind={kind!r} (faiss has no multi-index "
            f"hashing); use backend={others[0]!r} for kind={kind!r}, or kind='multihash' "
            "with backend='faiss' (IndexBinaryMultiHash: substring tables probed with a "
            "fixed number of flips)"
        )
    return cls


def _accepted_params(cls: type) -> tuple[set[str], bool]:
    """Keyword parameters of ``cls`` other than n_bits/hasher; and whether it takes **kw."""
    signature = inspect.signature(cls)
    names, var_keyword = set(), False
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
        elif parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            names.add(parameter.name)
    return names - set(_COMMON), var_keyword


def _check_params(kind: str, backend: str, cls: type, params: dict[str, Any]) -> None:
    accepted, var_keyword = _accepted_params(cls)
    unknown = sorted(set(params) - accepted)
    if not unknown or var_keyword:
        return
    takes = ", ".join(sorted(accepted)) if accepted else "none besides n_bits and hasher"
    message = (
        f"{cls.__name__} (kind={kind!r}, backend={backend!r}) does not take "
        f"{', '.join(unknown)}; its parameters: {takes}"
    )
    for other in BACKENDS:
        other_cls = _CLASSES[(kind, other)]
        if other == backend or other_cls is None:
            continue
        other_params, _ = _accepted_params(other_cls)
        elsewhere = [name for name in unknown if name in other_params]
        if elsewhere:
            message += f" ({', '.join(elsewhere)}: a parameter of backend={other!r})"
    raise TypeError(message)


def make_index(
    kind: str,
    n_bits: int,
    *,
    backend: str = "hashlearn",
    hasher: Any = None,
    **params: Any,
) -> BinaryIndex:
    """Create an empty index of ``kind``, implemented by ``backend``.

    Parameters
    ----------
    kind : {"flat", "hash", "multihash", "mih"}
        ``"flat"``: exhaustive exact scan; ``"hash"``: one hash table with bucket
        probing; ``"multihash"``: several tables on substrings of the code; ``"mih"``:
        multi-index hashing (hashlearn only).
    n_bits : int
        Code length in bits.
    backend : {"hashlearn", "faiss"}, default "hashlearn"
        Which implementation: hashlearn's own (numpy/numba), or faiss's binary indexes
        wrapped to the same contract (needs ``pip install 'hashlearn[faiss]'``).
    hasher : hasher, optional
        The hasher that produced the codes (see
        :meth:`~hashlearn.index.BinaryIndex.add_vectors`).
    **params
        Parameters of that class (e.g. ``bits_per_table=16, probe_radius=2`` for
        ``kind="hash", backend="faiss"``); a parameter the class does not take raises
        ``TypeError``.

    Returns
    -------
    BinaryIndex
        The table in :mod:`hashlearn.index.factory` lists the classes.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or ``backend``, or ``kind="mih"`` with
        ``backend="faiss"``.
    TypeError
        For a parameter the chosen class does not take.
    ImportError
        When ``backend="faiss"`` and faiss is not installed.

    Examples
    --------
    >>> from hashlearn.codes import pack_bits
    >>> index = make_index("flat", 4)
    >>> type(index).__name__
    'LinearScanIndex'
    >>> index.add(pack_bits([[0, 0, 0, 0], [1, 1, 0, 0]])).search(pack_bits([[1, 0, 0, 0]]), 2)
    (array([[1, 1]], dtype=int32), array([[0, 1]]))
    >>> make_index("flat", 4, backend="faiss")  # doctest: +SKIP
    FaissBinaryFlat(n_bits=4, n_threads=None, ntotal=0)
    """
    cls = index_class(kind, backend)
    _check_params(kind, backend, cls, params)
    return cls(n_bits, hasher=hasher, **params)
