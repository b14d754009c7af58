"""The hashlearn hasher contract, as checks anyone can run on their own hasher.

Like :mod:`sklearn.utils.estimator_checks`: :func:`check_hasher` runs every check and raises
:class:`AssertionError` naming the first rule a hasher breaks; :func:`hasher_checks` yields
the checks one by one (name and callable) for a test suite that wants one test per rule.

The rules (see ``docs/architecture.md`` and :mod:`hashlearn.codes`):

* ``sklearn``: scikit-learn's estimator checks pass (``expected_failed_checks`` lists the
  documented exceptions, as in :func:`sklearn.utils.estimator_checks.check_estimator`);
* ``determinism``: the same ``random_state`` gives identical codes;
* ``shapes``: ``encode`` gives packed ``uint8 (n, ceil(n_bits / 8))``, ``transform`` gives
  ``uint8 (n, n_bits)`` of 0/1 and ``project`` (where there is one) ``float (n, n_bits)``;
* ``code_format``: padding bits are zero, ``encode`` is ``transform`` packed
  least-significant-bit first, and bit ``j`` is 1 exactly where ``project(X)[:, j] >= 0``;
* ``save_load``: a saved hasher loads back (no pickle) and encodes identically;
* ``bad_input``: unfitted use raises ``NotFittedError``; NaN or infinity, the wrong number
  of features, 1-D input and empty input raise ``ValueError`` with a message that says so.
"""

from __future__ import annotations

import re
import tempfile
import unittest
from collections.abc import Callable, Collection, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from hashlearn import codes

__all__ = ["HASHER_CHECKS", "check_hasher", "hasher_checks", "make_hasher_data"]

#: The names of the hashlearn checks, in the order :func:`check_hasher` runs them (the
#: scikit-learn checks, ``"sklearn"``, run first).
HASHER_CHECKS = ("determinism", "shapes", "code_format", "save_load", "bad_input")

Check = Callable[[], None]


def make_hasher_data(n_samples: int = 200, n_features: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The data the checks use by default: four well-separated classes, L2-normalised and
    centred, ``float64 (n_samples, n_features)`` and ``int64 (n_samples,)`` labels."""
    rng = np.random.default_rng(0)
    y = np.arange(n_samples) * 4 // n_samples
    X = rng.normal(size=(n_samples, n_features)) + 4.0 * np.eye(n_features)[y]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X - X.mean(axis=0), y.astype(np.int64)


def _fail(rule: str, detail: str) -> AssertionError:
    return AssertionError(f"hasher contract, rule '{rule}': {detail}")


def _is_supervised(hasher: Any) -> bool:
    try:
        tags = hasher.__sklearn_tags__()
    except AttributeError:
        return False
    return bool(getattr(tags.target_tags, "required", False))


def _positive_only(hasher: Any) -> bool:
    """Whether the hasher takes non-negative X only (word counts: scikit-learn's
    ``input_tags.positive_only``)."""
    try:
        tags = hasher.__sklearn_tags__()
    except AttributeError:
        return False
    return bool(getattr(tags.input_tags, "positive_only", False))


def hasher_input(hasher: Any, X: Any) -> np.ndarray:
    """``X`` as ``hasher`` takes it: shifted to non-negative values (``X - X.min()``) when
    the hasher models word weights (scikit-learn's ``input_tags.positive_only``) and ``X``
    has negative ones, as scikit-learn's checks feed such estimators; otherwise ``X``."""
    X = np.asarray(X)
    if _positive_only(hasher) and X.size and X.min() < 0:
        return X - X.min()
    return X


class _Runner:
    """Fits clones of one hasher on fixed data; each ``check_*`` method is one rule."""

    def __init__(self, hasher: Any, X: np.ndarray, y: np.ndarray | None) -> None:
        self.hasher, self.X, self.y = hasher, X, y

    def fitted(self) -> Any:
        hasher = clone(self.hasher)
        if "random_state" in hasher.get_params() and hasher.get_params()["random_state"] is None:
            hasher.set_params(random_state=0)  # determinism needs a seed
        return hasher.fit(self.X) if self.y is None else hasher.fit(self.X, self.y)

    @staticmethod
    def n_bits(hasher: Any) -> int:
        n_bits = getattr(hasher, "n_bits", None)
        if isinstance(n_bits, bool) or not isinstance(n_bits, int | np.integer):
            raise _fail("shapes", f"{type(hasher).__name__}.n_bits must be an int, got {n_bits!r}")
        return int(n_bits)

    def check_determinism(self) -> None:
        first, second = self.fitted().encode(self.X), self.fitted().encode(self.X)
        if not np.array_equal(first, second):
            raise _fail(
                "determinism",
                f"two fits of {type(self.hasher).__name__} with the same random_state gave "
                f"different codes on {int((first != second).any(axis=1).sum())} row(s); draw "
                "all randomness from random_state",
            )

    def check_shapes(self) -> None:
        hasher = self.fitted()
        n, n_bits = self.X.shape[0], self.n_bits(hasher)
        packed, bits = hasher.encode(self.X), hasher.transform(self.X)
        expected = (n, (n_bits + 7) // 8)
        if not isinstance(packed, np.ndarray) or packed.dtype != np.uint8:
            raise _fail("shapes", f"encode must return uint8 codes, got {_describe(packed)}")
        if packed.shape != expected:
            raise _fail("shapes", f"encode must return shape {expected}, got {packed.shape}")
        if not isinstance(bits, np.ndarray) or bits.dtype != np.uint8:
            raise _fail("shapes", f"transform must return uint8 bits, got {_describe(bits)}")
        if bits.shape != (n, n_bits):
            raise _fail("shapes", f"transform must return shape {(n, n_bits)}, got {bits.shape}")
        if hasattr(hasher, "project"):
            projections = hasher.project(self.X)
            if not isinstance(projections, np.ndarray) or projections.dtype.kind != "f":
                raise _fail("shapes", f"project must return floats, got {_describe(projections)}")
            if projections.shape != (n, n_bits):
                raise _fail(
                    "shapes", f"project must return shape {(n, n_bits)}, got {projections.shape}"
                )

    def check_code_format(self) -> None:
        hasher = self.fitted()
        n_bits = self.n_bits(hasher)
        packed, bits = hasher.encode(self.X), hasher.transform(self.X)
        try:
            codes.check_codes(packed, n_bits)
        except (TypeError, ValueError) as exc:
            raise _fail("code_format", f"encode returned invalid codes: {exc}") from exc
        if not np.isin(bits, (0, 1)).all():
            raise _fail("code_format", "transform must return only 0 and 1")
        if not np.array_equal(codes.pack_bits(bits), packed):
            raise _fail(
                "code_format",
                "encode must equal transform packed least-significant-bit first "
                "(hashlearn.codes.pack_bits)",
            )
        if hasattr(hasher, "project"):
            expected = codes.signs_to_bits(hasher.project(self.X))
            if not np.array_equal(bits, expected):
                raise _fail(
                    "code_format",
                    "bit j must be 1 exactly where project(X)[:, j] >= 0 "
                    "(quantise with hashlearn.codes.binarize)",
                )

    def check_save_load(self) -> None:
        from hashlearn.persistence import load

        hasher = self.fitted()
        if not callable(getattr(hasher, "save", None)):
            raise _fail("save_load", f"{type(hasher).__name__} has no save(path) method")
        with tempfile.TemporaryDirectory() as folder:
            try:
                path = hasher.save(Path(folder) / "hasher.hlz")
                loaded = load(path)
                with np.load(path, allow_pickle=False):
                    pass  # readable by numpy alone: nothing pickled
            except Exception as exc:
                raise _fail(
                    "save_load",
                    f"a fitted {type(hasher).__name__} must save and load back, but that raised "
                    f"{type(exc).__name__}: {exc}",
                ) from exc
        if type(loaded) is not type(hasher):
            raise _fail(
                "save_load", f"loading gave a {type(loaded).__name__}, not {type(hasher).__name__}"
            )
        if not np.array_equal(loaded.encode(self.X), hasher.encode(self.X)):
            raise _fail("save_load", "the loaded hasher encodes differently from the saved one")

    def check_bad_input(self) -> None:
        unfitted = clone(self.hasher)
        for method in ("encode", "transform"):
            _expect(
                NotFittedError,
                None,
                partial(getattr(unfitted, method), self.X),
                f"{method} before fit",
            )
        bad = self.X.copy()
        bad[3, 2] = np.nan
        _expect(ValueError, r"(?i)nan|finite|infinit", lambda: self._fit(bad), "fit on X with NaN")
        bad[3, 2] = np.inf
        _expect(ValueError, r"(?i)nan|finite|infinit", lambda: self._fit(bad), "fit on X with inf")
        hasher = self.fitted()
        d = self.X.shape[1]
        fewer = rf"(?s)(?=.*\b{d - 1}\b)(?=.*\b{d}\b)"  # names both feature counts
        _expect(
            ValueError,
            fewer,
            lambda: hasher.encode(self.X[:, :-1]),
            "encode with a feature missing",
        )
        _expect(ValueError, r"(?i)2-?d", lambda: hasher.encode(self.X[0]), "encode on a 1-D row")
        _expect(
            ValueError, r"(?i)sample|empty", lambda: hasher.encode(self.X[:0]), "encode on 0 rows"
        )

    def _fit(self, X: np.ndarray) -> Any:
        hasher = clone(self.hasher)
        return hasher.fit(X) if self.y is None else hasher.fit(X, self.y)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"ndarray of {value.dtype}"
    return type(value).__name__


def _expect(
    error: type[Exception], pattern: str | None, call: Callable[[], Any], what: str
) -> None:
    try:
        call()
    except error as exc:
        if pattern is not None and not re.search(pattern, str(exc)):
            raise _fail(
                "bad_input", f"{what} raised {type(exc).__name__} with an unclear message: {exc}"
            ) from exc
        return
    except Exception as exc:
        raise _fail(
            "bad_input", f"{what} must raise {error.__name__}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise _fail("bad_input", f"{what} must raise {error.__name__}, but nothing was raised")


def _sklearn_checks(
    hasher: Any, expected_failed_checks: Mapping[str, str] | None
) -> Iterator[tuple[str, Check]]:
    from sklearn.utils.estimator_checks import estimator_checks_generator

    for estimator, check in estimator_checks_generator(
        clone(hasher), legacy=True, expected_failed_checks=dict(expected_failed_checks or {})
    ):
        name = getattr(check, "func", check).__name__

        def run(estimator: Any = estimator, check: Any = check, name: str = name) -> None:
            try:
                check(estimator)
            except unittest.SkipTest:
                pass
            except AssertionError as exc:
                raise _fail("sklearn", f"scikit-learn's {name} failed: {exc}") from exc
            except Exception as exc:
                raise _fail(
                    "sklearn", f"scikit-learn's {name} failed: {type(exc).__name__}: {exc}"
                ) from exc

        yield f"sklearn:{name}", run


def hasher_checks(
    hasher: Any,
    *,
    supervised: bool | None = None,
    X: Any = None,
    y: Any = None,
    sklearn: bool = True,
    expected_failed_checks: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, Check]]:
    """The checks of the hasher contract for ``hasher``, as ``(name, check)`` pairs.

    Each ``check()`` fits clones of ``hasher`` (never ``hasher`` itself) and raises
    :class:`AssertionError` naming the rule it breaks. Parameters are as in
    :func:`check_hasher`; names are those of :data:`HASHER_CHECKS`, and ``"sklearn:<check>"``
    for scikit-learn's estimator checks.
    """
    if X is None:
        X, default_y = make_hasher_data()
        y = default_y if y is None else y
    X = hasher_input(hasher, np.asarray(X, dtype=np.float64))
    if supervised is None:
        supervised = _is_supervised(hasher)
    if supervised and y is None:
        raise ValueError("supervised=True needs labels y for the X given")
    runner = _Runner(hasher, X, np.asarray(y) if supervised else None)
    if sklearn:
        yield from _sklearn_checks(hasher, expected_failed_checks)
    for name in HASHER_CHECKS:
        yield name, getattr(runner, f"check_{name}")


def check_hasher(
    hasher: Any,
    *,
    supervised: bool | None = None,
    X: Any = None,
    y: Any = None,
    sklearn: bool = True,
    expected_failed_checks: Mapping[str, str] | None = None,
    skip: Collection[str] = (),
) -> None:
    """Check that ``hasher`` follows the hashlearn hasher contract.

    Parameters
    ----------
    hasher : estimator
        An unfitted hasher (``fit``, ``encode``, ``transform``, ideally ``project`` and
        ``save``); only clones of it are fitted. A ``random_state`` of None is replaced by 0
        so that two fits can be compared.
    supervised : bool, optional
        Whether ``fit`` gets labels; None reads the estimator's scikit-learn tags
        (``target_tags.required``).
    X, y : array-like, optional
        The data to fit and encode; by default :func:`make_hasher_data` (200 x 16, four
        classes). Bad-input checks corrupt row 3, column 2 of ``X``. For a hasher that
        takes non-negative ``X`` only (scikit-learn's ``input_tags.positive_only``, e.g.
        word counts), ``X`` is shifted by its minimum when it has negative values, as
        scikit-learn's own checks do.
    sklearn : bool, default True
        Run scikit-learn's estimator checks too.
    expected_failed_checks : dict of str to str, optional
        scikit-learn checks known to fail, with the reason (passed to
        :func:`sklearn.utils.estimator_checks.estimator_checks_generator`).
    skip : collection of str, default ()
        Names from :data:`HASHER_CHECKS` not to run (e.g. ``"save_load"`` for a hasher that
        is not saveable).

    Raises
    ------
    AssertionError
        At the first violated rule; the message names it (``hasher contract, rule
        'code_format': ...``).

    Examples
    --------
    >>> from hashlearn.hashers import LSH
    >>> check_hasher(LSH(n_bits=12, random_state=0), sklearn=False)
    """
    unknown = sorted(set(skip) - set(HASHER_CHECKS))
    if unknown:
        raise ValueError(
            f"skip has unknown check names {unknown}; known: {', '.join(HASHER_CHECKS)}"
        )
    for name, check in hasher_checks(
        hasher,
        supervised=supervised,
        X=X,
        y=y,
        sklearn=sklearn,
        expected_failed_checks=expected_failed_checks,
    ):
        if name not in skip:
            check()
