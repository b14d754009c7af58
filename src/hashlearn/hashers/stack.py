"""Concatenate the codes of several independently fitted hashers into one code.

``HasherStack([h_0, ..., h_{L-1}])`` fits a copy of every hasher on the same data and
encodes ``x`` as ``h_0(x) | h_1(x) | ... | h_{L-1}(x)``: bits ``o_t .. o_t + K_t - 1`` of the
stacked code are hasher ``t``'s ``K_t`` bits, with ``o_t = K_0 + ... + K_{t-1}``
(:meth:`HasherStack.bit_groups`). With one group per hash table,
``MultiTableIndex.from_hasher_stack(stack)`` (:mod:`hashlearn.index.multi_table`) builds
the classic LSH index whose tables use independently drawn hash functions (Indyk and
Motwani, 1998).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from hashlearn._registry import register
from hashlearn._validation import check_features, check_n_bits, check_random_state
from hashlearn.codes import pack_bits, unpack_bits
from hashlearn.persistence import nest_state, unnest_state
from hashlearn.persistence import save as _save

__all__ = ["HasherStack"]


def _comparable(value: Any) -> Any:
    """A value that compares equal for generators in the same state (clone copies them)."""
    if isinstance(value, np.random.Generator):
        return ("Generator", repr(value.bit_generator.state))
    if isinstance(value, np.random.RandomState):
        return ("RandomState", repr(value.get_state(legacy=False)))
    return value


def _same_parameters(first: Any, second: Any) -> bool:
    """Whether two hashers are of one class with equal parameters (so equal codes)."""
    if type(first) is not type(second):
        return False
    a, b = first.get_params(deep=False), second.get_params(deep=False)
    if a.keys() != b.keys():
        return False
    for name, value in a.items():
        if value is b[name]:
            continue
        try:
            equal = _comparable(value) == _comparable(b[name])
        except Exception:  # objects that refuse comparison count as different
            return False
        if not isinstance(equal, (bool, np.bool_)) or not equal:
            return False
    return True


def _all_have_project(stack: HasherStack) -> bool:
    hashers = getattr(stack, "hashers_", stack.hashers)
    return all(callable(getattr(hasher, "project", None)) for hasher in hashers)


@register
class HasherStack(TransformerMixin, BaseEstimator):
    """Several hashers fitted independently; their codes concatenated into one.

    ``fit`` fits a clone of every hasher on the same ``X`` (and ``y``); ``encode`` returns
    the concatenation of their codes, hasher ``t`` owning bits ``bit_groups()[t]``. A
    hasher whose ``random_state`` is None is given a distinct seed drawn from this
    stack's ``random_state``, so ``HasherStack([LSH(16) for _ in range(8)],
    random_state=0)`` is eight different, reproducible LSH functions.

    Parameters
    ----------
    hashers : list of hashers
        Estimators with ``fit(X, y)``, ``encode(X)`` returning packed codes (see
        :mod:`hashlearn.codes`) and an int ``n_bits``. They are cloned, never modified.
        Two hashers of the same class with equal parameters (including an equal
        ``random_state`` that is not None) would produce identical codes and are refused.
    random_state : int, numpy.random.Generator or None, default None
        Seeds the hashers whose ``random_state`` is None (one draw of distinct seeds per
        ``fit``). The same int gives the same codes.

    Attributes
    ----------
    hashers_ : list of hashers
        The fitted clones, in order.
    bit_offsets_ : ndarray of int64, shape (n_hashers + 1,)
        Hasher ``t``'s bits are ``bit_offsets_[t] .. bit_offsets_[t + 1] - 1``.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    The stack's ``n_bits`` (the sum of its hashers') is a read-only property, not a
    constructor parameter. Saving stores the fitted hashers (each must be savable by
    hashlearn); after loading, ``hashers`` holds unfitted clones of them, with the seeds
    they were fitted with.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers import LSH
    >>> X = np.random.default_rng(0).normal(size=(100, 20))
    >>> stack = HasherStack([LSH(12), LSH(12), LSH(8)], random_state=0).fit(X)
    >>> stack.n_bits, stack.encode(X).shape
    (32, (100, 4))
    >>> [group.tolist()[:3] for group in stack.bit_groups()]
    [[0, 1, 2], [12, 13, 14], [24, 25, 26]]
    >>> np.array_equal(stack.transform(X)[:, 12:24], stack.hashers_[1].transform(X))
    True
    """

    _persistence_kind = "hasher"

    def __init__(self, hashers: list[Any], *, random_state: Any = None) -> None:
        self.hashers = hashers
        self.random_state = random_state

    # -- the members -------------------------------------------------------------------
    def _checked_hashers(self) -> list[Any]:
        hashers = self.hashers
        if isinstance(hashers, (str, bytes)) or not isinstance(hashers, (list, tuple)):
            raise TypeError(f"hashers must be a list of hashers, got {type(hashers).__name__}")
        if not hashers:
            raise ValueError("hashers must hold at least one hasher, got an empty list")
        for t, hasher in enumerate(hashers):
            missing = [m for m in ("fit", "encode") if not callable(getattr(hasher, m, None))]
            if missing or not hasattr(hasher, "get_params"):
                raise TypeError(
                    f"hashers[{t}] must be a hasher (a scikit-learn estimator with fit and "
                    f"encode), got {type(hasher).__name__}"
                )
            check_n_bits(getattr(hasher, "n_bits", None), name=f"hashers[{t}].n_bits")
        return list(hashers)

    def _member_bits(self) -> list[int]:
        hashers = self.hashers_ if hasattr(self, "hashers_") else self._checked_hashers()
        return [int(hasher.n_bits) for hasher in hashers]

    @property
    def n_bits(self) -> int:
        """Length of the stacked code: the sum of the hashers' ``n_bits``."""
        return sum(self._member_bits())

    def bit_groups(self) -> list[np.ndarray]:
        """The stacked-code bit positions of each hasher: ``[arange(o_t, o_t + K_t)]``.

        Pass them as ``tables=`` to :class:`~hashlearn.index.multi_table.MultiTableIndex`
        for one table per hasher (or use ``MultiTableIndex.from_hasher_stack``).
        """
        offsets = np.concatenate([[0], np.cumsum(self._member_bits())])
        return [np.arange(offsets[t], offsets[t + 1]) for t in range(offsets.shape[0] - 1)]

    # -- fitting and encoding ------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> HasherStack:
        """Fit a clone of every hasher on ``X`` (and ``y``); returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training vectors; must be finite.
        y : array-like, optional
            Labels, passed to every hasher (unsupervised hashers ignore them).
        **fit_params
            Passed to every hasher's ``fit``.
        """
        hashers = self._checked_hashers()
        X = check_features(X, name="X")
        rng = check_random_state(self.random_state)
        seeds = rng.choice(2**31 - 1, size=len(hashers), replace=False)
        members = []
        for hasher, seed in zip(hashers, seeds, strict=True):
            member = clone(hasher)
            if "random_state" in member.get_params(deep=False) and member.random_state is None:
                member.set_params(random_state=int(seed))
            members.append(member)
        for t, member in enumerate(members):
            for s in range(t):
                if _same_parameters(members[s], member):
                    raise ValueError(
                        f"hashers[{s}] and hashers[{t}] are both {member!r}: they would "
                        "produce identical codes; give them different random_state values "
                        "(or None, to have the stack draw them)"
                    )
        for member in members:
            member.fit(X, y, **fit_params)
        self.hashers_ = members
        self.bit_offsets_ = np.concatenate([[0], np.cumsum(self._member_bits())]).astype(np.int64)
        self.n_features_in_ = X.shape[1]
        return self

    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "hashers_")
        return check_features(
            X, name="X", n_features=self.n_features_in_, owner=type(self).__name__
        )

    def encode(self, X: Any) -> np.ndarray:
        """Stacked packed codes: ``uint8 (n, ceil(n_bits / 8))``.

        Hasher ``t``'s code occupies bits ``bit_groups()[t]``.
        """
        X = self._check_X(X)
        parts = [hasher.encode(X) for hasher in self.hashers_]
        bits = self._member_bits()
        if all(k % 8 == 0 for k in bits):  # whole bytes: concatenate them as they are
            return np.ascontiguousarray(
                np.hstack([np.asarray(part, dtype=np.uint8) for part in parts])
            )
        return pack_bits(
            np.hstack([unpack_bits(part, k) for part, k in zip(parts, bits, strict=True)])
        )

    def transform(self, X: Any) -> np.ndarray:
        """Stacked bits as 0/1: ``uint8 (n, n_bits)`` (the unpacked form of :meth:`encode`)."""
        return unpack_bits(self.encode(X), self.n_bits)

    @available_if(_all_have_project)
    def project(self, X: Any) -> np.ndarray:
        """The hashers' projections side by side: ``float (n, n_bits)``.

        Available when every hasher has ``project``; bit ``j`` of :meth:`encode` is then
        1 where column ``j`` is ``>= 0`` (for hashers that quantise at 0).
        """
        X = self._check_X(X)
        return np.hstack([hasher.project(X) for hasher in self.hashers_])

    def save(self, path: Any) -> Any:
        """Save the fitted stack with its hashers (hashlearn file format, no pickle)."""
        check_is_fitted(self, "hashers_")
        return _save(self, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Codes are bits whatever the input dtype.
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags

    # -- persistence (see hashlearn.persistence) -------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        check_is_fitted(self, "hashers_")
        random_state = self.random_state
        if not (random_state is None or isinstance(random_state, numbers.Integral)):
            random_state = None  # a Generator has been consumed; the hashers' seeds count
        members, arrays = [], {}
        for t, hasher in enumerate(self.hashers_):
            if not callable(getattr(hasher, "_get_state", None)):
                raise TypeError(
                    f"cannot save HasherStack: hashers[{t}] ({type(hasher).__name__}) cannot "
                    "be saved by hashlearn"
                )
            meta, member_arrays = nest_state(f"hashers/{t}", hasher)
            members.append(meta)
            arrays.update(member_arrays)
        params = {"random_state": None if random_state is None else int(random_state)}
        attributes = {"n_features_in_": int(self.n_features_in_), "hashers": members}
        return params, attributes, arrays

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> HasherStack:
        try:
            metas = attributes["hashers"]
            if not isinstance(metas, list) or not metas:
                raise ValueError("the list of hashers is missing or empty")
            members = [
                unnest_state(f"hashers/{t}", meta, arrays, kind="hasher")
                for t, meta in enumerate(metas)
            ]
            n_features = attributes["n_features_in_"]
            if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
                raise ValueError(f"n_features_in_ must be a positive int, got {n_features!r}")
            for t, member in enumerate(members):
                if getattr(member, "n_features_in_", n_features) != n_features:
                    raise ValueError(
                        f"hashers[{t}] expects {member.n_features_in_} features, the stack "
                        f"{n_features}"
                    )
            stack = cls([clone(member) for member in members], **params)
            stack.hashers_ = members
            stack.n_features_in_ = n_features
            stack.bit_offsets_ = np.concatenate([[0], np.cumsum(stack._member_bits())]).astype(
                np.int64
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"corrupt or incompatible {cls.__name__} file: {exc}; save the model again"
            ) from exc
        return stack
