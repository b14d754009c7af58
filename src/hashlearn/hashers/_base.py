"""The outline every hasher shares: validate -> project -> quantise.

A hasher is a scikit-learn estimator. ``fit(X, y=None)`` learns attributes ending in
``_`` and returns ``self``; ``project(X)`` gives real-valued projections of shape
``(n, n_bits)``; ``encode(X)`` quantises them (``projection >= 0 -> 1``) into packed codes
(:mod:`hashlearn.codes`); ``transform(X)`` returns the same bits unpacked as 0/1, so a
hasher fits in a :class:`~sklearn.pipeline.Pipeline`.
"""

from __future__ import annotations

import inspect
import math
import numbers
from abc import abstractmethod
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from hashlearn import codes as codes_module
from hashlearn._validation import (
    check_features,
    check_n_bits,
    check_random_state,
    check_sparse_features,
)
from hashlearn.persistence import save as _save

__all__ = [
    "BaseHasher",
    "LinearHasherMixin",
    "check_magnitude",
    "check_phase",
    "check_state_array",
    "magnitude_range",
]

_JSON_SCALARS = (str, bool, int, float, type(None))


class BaseHasher(TransformerMixin, BaseEstimator):
    """Base class of all hashers (not to be used directly).

    Subclasses implement ``_fit(X, y, rng)`` and ``_project(X)``; this class does the
    validation, the quantisation, the packing and the persistence.
    """

    _persistence_kind = "hasher"
    n_bits: int
    random_state: Any

    # -- the public API -------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> BaseHasher:
        """Learn the hash functions from ``X`` (and labels ``y`` for supervised hashers).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training vectors; must be finite.
        y : array-like, optional
            Labels, for supervised hashers; ignored by unsupervised ones.

        Returns
        -------
        self
        """
        unexpected = sorted(set(fit_params) - set(self._fit_param_names))
        if unexpected:
            raise TypeError(f"unexpected fit parameters: {unexpected}")
        check_n_bits(self.n_bits)
        X = self._check_input(X, min_samples=self._min_samples())
        check_magnitude(X, type(self).__name__, self._scale_range)
        self.n_features_in_ = X.shape[1]
        rng = check_random_state(getattr(self, "random_state", None))
        self._fit(X, y, rng, **fit_params)
        return self

    def project(self, X: Any) -> np.ndarray:
        """Real-valued projections of ``X``, one column per bit: ``float (n, n_bits)``.

        Bit ``j`` of a code is 1 exactly where column ``j`` is ``>= 0``.
        """
        check_is_fitted(self, "n_features_in_")
        X = self._check_input(X, n_features=self.n_features_in_)
        check_magnitude(X, type(self).__name__, None, fitting=False)
        with np.errstate(over="ignore", invalid="ignore"):  # reported just below instead
            projections = self._project(X)
        if not np.isfinite(projections).all():
            raise ValueError(
                "projections of X overflowed to infinity or NaN (largest |X| value: "
                f"{_largest_magnitude(X):.3g}); rescale X, e.g. with StandardScaler"
            )
        return projections

    def encode(self, X: Any) -> np.ndarray:
        """Packed binary codes of ``X``: ``uint8 (n, ceil(n_bits / 8))``, bit j LSB-first."""
        return codes_module.binarize(self.project(X))

    def transform(self, X: Any) -> np.ndarray:
        """Bits of ``X`` as 0/1: ``uint8 (n, n_bits)`` (the unpacked form of :meth:`encode`)."""
        return codes_module.signs_to_bits(self.project(X))

    def save(self, path: Any) -> Any:
        """Save the fitted hasher (hashlearn file format, no pickle); returns the path."""
        check_is_fitted(self, "n_features_in_")
        return _save(self, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Codes are bits whatever the input dtype.
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        tags.input_tags.sparse = self._accepts_sparse
        return tags

    # -- what subclasses provide -----------------------------------------------------
    #: Keyword arguments ``fit`` passes on to ``_fit``; any other is a ``TypeError``.
    _fit_param_names: tuple[str, ...] = ()
    #: ``(low, high)`` for a scale-sensitive method: ``fit`` refuses training data whose
    #: largest ``|X|`` lies outside (see :func:`check_magnitude`); None: any finite scale.
    _scale_range: tuple[float, float] | None = None

    #: Whether ``fit`` and ``project`` take a ``scipy.sparse`` matrix as it is (as CSR),
    #: for methods that never need it dense (random projections, bag-of-words models);
    #: the others refuse it with a message saying what to do.
    _accepts_sparse: bool = False

    def _min_samples(self) -> int:
        return 1

    def _check_input(self, X: Any, *, min_samples: int = 1, n_features: int | None = None) -> Any:
        owner = type(self).__name__
        if self._accepts_sparse and sp.issparse(X):
            return check_sparse_features(
                X, min_samples=min_samples, n_features=n_features, owner=owner
            )
        return check_features(X, min_samples=min_samples, n_features=n_features, owner=owner)

    @abstractmethod
    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        """Learn the fitted attributes from validated ``X``."""

    @abstractmethod
    def _project(self, X: np.ndarray) -> np.ndarray:
        """Projections of validated ``X`` (same feature count as at fit)."""

    # -- persistence (see hashlearn.persistence) --------------------------------------
    #: Fitted attributes that are not saved (not needed to encode; see the subclass).
    _transient_attributes: tuple[str, ...] = ()

    def _portable_params(self) -> dict[str, Any]:
        """The constructor parameters to save; subclasses replace objects by plain values."""
        return dict(self.get_params(deep=False))

    def _saved_params(self) -> dict[str, Any]:
        """:meth:`_portable_params` as the plain values a file holds (tuples as lists; a
        consumed ``random_state`` Generator as None); TypeError for anything else."""
        params = {}
        for name, value in self._portable_params().items():
            if name == "random_state" and not isinstance(value, _JSON_SCALARS):
                value = None  # a Generator has been consumed; the fitted state is what counts
            if not isinstance(value, (*_JSON_SCALARS, tuple, list)):
                raise TypeError(
                    f"cannot save {type(self).__name__}: parameter {name}={value!r} is not a "
                    "plain value (numbers, strings, lists)"
                )
            params[name] = list(value) if isinstance(value, tuple) else value
        return params

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        params = self._saved_params()
        attributes: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_") or name in self._transient_attributes:
                continue
            if isinstance(value, np.ndarray):
                arrays[name] = value
            elif isinstance(value, numbers.Number | str | bool) or value is None:
                attributes[name] = value.item() if isinstance(value, np.generic) else value
            else:
                self._save_extra_attribute(name, value, attributes, arrays)
        return params, attributes, arrays

    def _save_extra_attribute(
        self, name: str, value: Any, attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        raise TypeError(
            f"cannot save {type(self).__name__}: fitted attribute {name} of type "
            f"{type(value).__name__} has no portable representation"
        )

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> BaseHasher:
        try:
            hasher = cls(**params)
            for name, value in attributes.items():
                cls._check_learned_name(name)
                _check_attribute_value(name, value)
                setattr(hasher, name, value)
            for name, value in arrays.items():
                cls._check_learned_name(name)
                if name in attributes:
                    raise ValueError(f"{name} is stored both as an attribute and as an array")
                setattr(hasher, name, value)
            hasher._check_loaded_state()
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise ValueError(
                f"corrupt or incompatible {cls.__name__} file: {exc}; save the model again"
            ) from exc
        return hasher

    @classmethod
    def _check_learned_name(cls, name: Any) -> None:
        """Refuse a saved name that is not learned state (a method, a parameter, private)."""
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or not name.endswith("_")
            or name.startswith("_")
            or hasattr(cls, name)
        ):
            raise ValueError(
                f"{name!r} is not a learned attribute of {cls.__name__} (learned attributes "
                "end in '_', are not private and are not defined by the class)"
            )

    def _check_loaded_state(self) -> None:
        """Check a loaded hasher's state is complete and consistent (raise if not).

        The parameters pass the hasher's own checks (``_check_params`` where it takes no
        argument), every float parameter is finite and a parameter whose default is a
        bool, an int or a float has that type.
        """
        check_n_bits(self.n_bits)
        n_features = getattr(self, "n_features_in_", None)
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise ValueError(f"n_features_in_ must be a positive int, got {n_features!r}")
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
        }
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"parameter {name}={value!r} must be finite")
            if name != "random_state":
                _check_parameter_type(name, value, defaults.get(name))
            elif value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Integral)
            ):
                raise ValueError(f"parameter random_state={value!r} must be None or an int")
        check_params = getattr(self, "_check_params", None)
        if callable(check_params) and not inspect.signature(check_params).parameters:
            check_params()


def _check_parameter_type(name: str, value: Any, default: Any) -> None:
    """A loaded parameter whose default is a bool, an int or a float has that type."""
    if isinstance(default, bool):
        expected, ok = "a bool", isinstance(value, bool)
    elif isinstance(default, numbers.Integral):
        expected = "an int"
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif isinstance(default, numbers.Real):
        expected = "a number"
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    else:
        return
    if not ok:
        raise ValueError(f"parameter {name}={value!r} must be {expected}, as its default is")


def _check_attribute_value(name: str, value: Any) -> None:
    """A saved plain attribute is a JSON scalar or a flat object of JSON scalars."""
    values = value.values() if isinstance(value, dict) else [value]
    if not all(isinstance(item, _JSON_SCALARS) for item in values):
        raise ValueError(
            f"attribute {name} must be a number, string, boolean, null or a flat object of "
            f"those, got {value!r}"
        )


class LinearHasherMixin:
    """Hashers whose projection is affine: ``project(X) = X @ components_.T + intercept_``.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        One hyperplane normal per bit.
    intercept_ : ndarray of shape (n_bits,)
        One offset per bit.
    """

    components_: np.ndarray
    intercept_: np.ndarray
    n_bits: int
    n_features_in_: int

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()  # type: ignore[misc]
        check_state_array(self, "components_", (self.n_bits, self.n_features_in_))
        check_state_array(self, "intercept_", (self.n_bits,))

    def _project(self, X: np.ndarray) -> np.ndarray:
        components = self.components_.astype(X.dtype, copy=False)
        return np.asarray(X @ components.T) + self.intercept_.astype(X.dtype, copy=False)


def check_state_array(owner: Any, name: str, shape: tuple[int, ...]) -> None:
    """Check that ``owner.name`` is a finite float array of the given shape."""
    value = getattr(owner, name, None)
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} is missing")
    if value.shape != shape:
        raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
    if value.dtype.kind != "f" or not np.isfinite(value).all():
        raise ValueError(f"{name} must hold finite floats")


def magnitude_range(dtype: Any, terms: int) -> tuple[float, float]:
    """The largest ``|X|`` a method can work with in ``dtype``: ``(low, high)``.

    ``high`` keeps sums of squares finite: every method forms them (norms, covariances,
    kernel distances) over up to ``terms`` values, and centring or differencing can double
    a value first, so ``4 * terms * high**2`` must stay below the largest float. ``low``
    keeps squares normal: below it even the largest value's square has lost most of its
    digits to underflow (``low**2 = tiny / eps``), and variances, distances and kernel
    bandwidths computed from such data are zero or noise.
    """
    info = np.finfo(dtype)
    high = float(np.sqrt(info.max / (4.0 * terms)))
    low = float(np.sqrt(info.tiny / info.eps))
    return low, high


def check_magnitude(
    X: np.ndarray,
    owner: str,
    scale_range: tuple[float, float] | None,
    *,
    fitting: bool = True,
    dtype: Any = None,
) -> None:
    """Refuse finite data that would overflow or underflow inside a method, before any work.

    Values beyond :func:`magnitude_range` make sums of squares overflow to infinity (and
    what follows is NaN, an exception from deep inside a library, or one code for every
    point); values below it make them underflow to zero (one code for every point, or a
    misleading "constant data" error). When fitting, ``terms = max(n_samples,
    n_features)`` (covariances sum over samples, norms over features) and both limits
    apply; when encoding, only the upper one, over ``n_features`` terms (so a row's fate
    does not depend on its batch; tiny rows are legitimately close to the origin). A
    scale-sensitive method (``scale_range``) also refuses training data whose largest
    ``|X|`` lies outside ``[low, high]`` (a fixed regularisation constant or tolerance then
    means nothing; GRH's linear SVM ran for minutes at 1e100 and gave one code for all
    points at 1e-30). All-zero data passes.

    ``dtype`` is the arithmetic the method uses when it is not ``X``'s own (the deep
    hashers compute in float32).

    Raises
    ------
    ValueError
        Naming ``X``, the method, the largest ``|X|``, the range accepted and the fix
        (rescale, e.g. StandardScaler).
    """
    largest = _largest_magnitude(X)
    terms = max(X.shape) if fitting else X.shape[1]
    arithmetic = np.dtype(dtype if dtype is not None else X.dtype)
    low, high = magnitude_range(arithmetic, terms)
    action = "fits" if fitting else "encodes"
    fix = (
        "rescale X, e.g. with sklearn.preprocessing.StandardScaler"
        if fitting
        else "rescale X as the training data were (the same fitted scaler), e.g. with "
        "sklearn.preprocessing.StandardScaler"
    )
    if largest > high:
        raise ValueError(
            f"X has values up to {largest:.3g} in absolute value, too large for {owner}'s "
            f"{arithmetic} arithmetic: sums of their squares over {terms:,} terms overflow. "
            f"{owner} {action} X whose largest |value| is at most {high:.3g}; {fix}"
        )
    if fitting and 0.0 < largest < low:
        raise ValueError(
            f"X has values only up to {largest:.3g} in absolute value, too small for "
            f"{owner}'s {arithmetic} arithmetic: their squares underflow to zero. {owner} fits "
            f"X whose largest |value| is in [{low:.3g}, {high:.3g}]; {fix}"
        )
    if fitting and scale_range is not None and largest > 0:
        low, high = scale_range
        if not low <= largest <= high:
            raise ValueError(
                f"{owner} is sensitive to the scale of X, and the largest |X| is "
                f"{largest:.3g}, outside [{low:g}, {high:g}]; {fix}"
            )


def _largest_magnitude(X: Any) -> float:
    """The largest ``|value|`` of a dense array or of a sparse matrix's stored values."""
    values = X.data if sp.issparse(X) else X
    return float(np.max(np.abs(values))) if values.size else 0.0


def check_phase(phases: np.ndarray, period: float, X: np.ndarray, owner: str, what: str) -> None:
    """Refuse ``X`` on which a periodic hash function's phase is lost to rounding.

    A bit of ``PStableLSH`` (a bucket's parity), ``SKLSH`` (a cosine's sign) or ``SH`` (a
    sine's sign) depends on where its argument falls within one period. float64 resolves an
    argument ``t`` only to about ``|t| * 2**-52``; beyond ``period * 2**42`` that is more
    than a thousandth of a period, and far enough out every bit is rounding (PStableLSH
    gave every point of ``X * 1e120`` the same code, silently).

    Parameters
    ----------
    phases : ndarray
        The arguments of the periodic function, for every row of ``X`` and bit.
    period : float
        Its period, in the units of ``phases``.
    X : ndarray
        The input, for the message.
    owner, what : str
        The method, and what ``phases`` are (for the message).

    Raises
    ------
    ValueError
        Naming ``X``, its largest ``|value|``, the largest phase and the limit.
    """
    limit = period * 2.0**42
    largest = float(np.max(np.abs(phases))) if phases.size else 0.0
    if not largest <= limit:  # also infinity and NaN
        raise ValueError(
            f"X lies too far out for {owner}: its {what} reach {largest:.3g}, beyond "
            f"{limit:.3g}, where float64 no longer resolves a thousandth of their period and "
            f"the bits would be decided by rounding (largest |X| value: "
            f"{float(np.max(np.abs(X))):.3g}); rescale X as the training data were"
        )
