"""Graph Regularised Hashing (Moran and Lavrenko, ECIR 2015)."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.svm import SVC, LinearSVC, NuSVC
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from hashlearn import codes as codes_module
from hashlearn._registry import register
from hashlearn._validation import check_features, check_labels, check_random_state
from hashlearn.hashers._base import BaseHasher, check_magnitude, check_state_array
from hashlearn.hashers.lsh import SignRandomProjection

__all__ = [
    "GRH",
    "MAX_AFFINITY_ENTRIES",
    "GraphRegularisedHashing",
    "label_affinity",
    "normalise_affinity",
]

#: Most nonzero entries :func:`label_affinity` builds by default. The matrix grows with the
#: square of the class sizes (``sum_c n_c**2`` entries) and fitting GRH peaks at about 24
#: bytes per entry (the product, the CSR copy, the normalised graph): 5 x 10^7 entries is
#: about 1.2 GB, reached by ~7,000 training points of one class or ~22,000 in ten balanced
#: classes. The published protocols train on 1,000-2,000 points (10^5-4 x 10^5 entries).
MAX_AFFINITY_ENTRIES = 5 * 10**7
_PEAK_BYTES_PER_ENTRY = 24

_KERNELS = ("linear", "rbf", "poly", "sigmoid")
_COMPILED_ATTRIBUTES = (
    "_merged_expansion_cache",
    "components_",
    "intercept_",
    "support_vectors_",
    "dual_coef_",
    "support_lims_",
    "kernel_intercept_",
    "kernel_params_",
)


def label_affinity(labels: Any, *, max_entries: int | None = None) -> sp.csr_matrix:
    """Binary affinity matrix from labels: ``S_ij = 1`` when items i and j are relevant.

    Single-label (1-D) input: relevant means the same label. Multi-label (2-D 0/1
    indicator) input: relevant means sharing at least one label. The diagonal is 1 for
    every item that has a label.

    Parameters
    ----------
    labels : array-like of shape (n,) or (n, n_labels)
        Class labels, or a 0/1 label-indicator matrix.
    max_entries : int or None, default None
        Refuse (before allocating) a matrix with more nonzero entries than this: the
        exact count ``sum_c n_c**2`` for single labels, the bound
        ``min(n**2, sum_l n_l**2)`` for multi-label input. None means
        :data:`MAX_AFFINITY_ENTRIES`; pass ``0`` for no limit.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, n), float64

    Raises
    ------
    ValueError
        For labels that are not 1-D or 2-D, or a matrix over ``max_entries``; the message
        gives the size and suggests a subsample or a sparser precomputed affinity.
    """
    limit = _check_max_entries(max_entries)
    array = np.asarray(labels)
    if array.ndim == 1:
        _, inverse, counts = np.unique(array, return_inverse=True, return_counts=True)
        _check_affinity_size(counts, array.shape[0], limit)
        one_hot = sp.csr_matrix(
            (np.ones(array.shape[0]), (np.arange(array.shape[0]), inverse.ravel()))
        )
    elif array.ndim == 2:
        one_hot = sp.csr_matrix(array.astype(np.float64))
        _check_affinity_size(one_hot.getnnz(axis=0), array.shape[0], limit)
    else:
        raise ValueError(f"labels must be 1-D or 2-D, got {array.ndim}-D")
    affinity = (one_hot @ one_hot.T).tocsr()
    affinity.data[:] = 1.0
    return affinity


def _check_max_entries(max_entries: Any) -> int:
    if max_entries is None:
        return MAX_AFFINITY_ENTRIES
    if isinstance(max_entries, bool) or not isinstance(max_entries, numbers.Integral):
        raise TypeError(f"max_entries must be None or an int >= 0, got {max_entries!r}")
    if max_entries < 0:
        raise ValueError(f"max_entries must be None or an int >= 0, got {max_entries}")
    return int(max_entries)


def _check_affinity_size(counts: np.ndarray, n: int, limit: int) -> None:
    """Refuse a label affinity of more than ``limit`` entries (0: no limit) before building it."""
    counts = np.asarray(counts, dtype=np.float64)  # exact well beyond any feasible size
    entries = min(float(n) ** 2, float(np.sum(counts**2)))
    if limit and entries > limit:
        largest = int(counts.max()) if counts.size else 0
        raise ValueError(
            f"the label affinity of {n:,} training points would hold {entries:,.0f} entries "
            f"(the largest class has {largest:,} points; entries grow with the square of "
            f"class sizes), about {entries * _PEAK_BYTES_PER_ENTRY / 2**30:.1f} GiB at peak, "
            f"over max_entries={limit:,} (hashlearn.hashers.grh.MAX_AFFINITY_ENTRIES); fit "
            "on a subsample (e.g. a few thousand points per class), or pass a sparser "
            "affinity= matrix, or label_affinity(y, max_entries=0) as affinity= to build it "
            "anyway"
        )


def normalise_affinity(affinity: Any) -> sp.csr_matrix:
    """Row-normalise an affinity matrix: ``D^-1 S`` with ``D_ii = sum_j S_ij``.

    Rows that sum to zero (isolated items) stay zero, so the regularisation step leaves
    their codes to the ``(1 - alpha)`` anchor term.
    """
    matrix = sp.csr_matrix(affinity, dtype=np.float64)
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    return sp.csr_matrix(sp.diags(inverse) @ matrix)


@register
class GraphRegularisedHashing(BaseHasher):
    """Graph Regularised Hashing: alternate graph smoothing of codes and per-bit classifiers.

    Starting from initial codes ``B_0`` (sign random projections by default), each of
    ``n_iter`` iterations does two steps on the training set:

    1. **Regularisation**: ``B_reg = sgn(alpha * D^-1 S B_{m-1} + (1 - alpha) * B_0)``
       where ``S`` is the affinity (relevance) matrix and ``D`` its degree matrix, so each
       bit moves towards the majority of the item's neighbours (``sgn(0) = +1``);
    2. **Partitioning**: for each bit ``k``, a classifier is trained to predict
       ``B_reg[:, k]`` from ``X``; its decision function is the hash function of bit
       ``k``, and ``B_m = sgn(decision functions on X)``.

    The anchor term uses the initial codes ``B_0``, as in the authors' reference code
    (``learn_grh.m``); at the first iteration this is also "the previous codes".

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``.
    alpha : float, default 1.0
        Weight of the neighbours' codes against the initial codes, in ``[0, 1]``. With
        label affinities, ``alpha = 1`` gives every member of a class the sign of the
        class's mean code; ``alpha <= 0.5`` can never override an item's own bit (the
        regularisation step is then a no-op). The paper selects it on a validation
        split; its Table 3 uses ``alpha = 1``.
    n_iter : int, default 1
        Number of regularise-then-partition iterations (the paper's M), at least 1. The
        paper's validation mAP is flat from M = 1 to 5 at ``alpha = 1``.
    classifier : scikit-learn classifier or None, default None
        Cloned once per bit; must implement ``fit`` and ``decision_function`` (and
        ``partial_fit`` for :meth:`partial_fit`). None means
        ``LinearSVC(C=1.0, class_weight="balanced")``, a linear SVM with its intercept
        and with class balancing (the reference code weights the minority sign likewise).
        Use ``SVC(kernel="rbf", class_weight="balanced")`` for the paper's RBF variant.
    init : "lsh" or hasher, default "lsh"
        Where the initial codes come from: ``"lsh"`` fits
        :class:`SignRandomProjection` on the training data; a fitted hasher is used as is;
        an unfitted hasher is cloned and fitted on ``(X, y)``. It must have ``n_bits`` bits.
    n_jobs : int or None, default None
        Bits are learned in parallel threads (joblib semantics; None is 1).
    random_state : int, numpy.random.Generator or None, default None
        Seeds the initial hyperplanes, the classifiers and degenerate-bit replacements.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        Hyperplane normals, when every per-bit classifier is linear.
    intercept_ : ndarray of shape (n_bits,)
        Offsets, when every per-bit classifier is linear.
    support_vectors_, dual_coef_, support_lims_, kernel_intercept_ : ndarray
        For kernel SVMs: all bits' support vectors stacked, their dual coefficients, the
        CSR offsets of bit ``k``'s rows (``support_lims_[k]:support_lims_[k+1]``) and one
        offset per bit.
    kernel_params_ : dict
        For kernel SVMs: ``kernel``, ``gamma``, ``degree``, ``coef0``.
    estimators_ : list of classifiers
        The fitted per-bit classifiers (not saved to disk; the arrays above are).
    n_degenerate_bits_ : int
        How many times a bit's regularised training codes were all one sign; such a bit
        gets a random hyperplane through the median of the training projections (a
        balanced split) instead of a classifier, or for a kernel SVM the kernel analogue
        ``K(x, a) - K(x, b)`` for two random training points, through its median.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    ``save`` stores the compiled hash functions (the arrays above), not the classifier
    objects: a loaded model encodes identically, records the classifier and init by
    ``repr`` (``classifier_repr_``, ``init_repr_``), comes back with the default
    ``classifier`` and ``init`` parameters, and cannot continue ``partial_fit``.

    GRH is sensitive to the scale of ``X`` (the classifiers' ``C`` and tolerances are
    absolute): ``fit`` refuses training data whose largest ``|X|`` is outside
    ``[1e-8, 1e8]``; standardise features first.

    References
    ----------
    S. Moran and V. Lavrenko. Graph Regularised Hashing. ECIR 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from hashlearn.hashers import GRH
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(4), 50)
    >>> X = rng.normal(size=(200, 16)) + 3 * np.eye(16)[y]
    >>> grh = GRH(n_bits=8, alpha=1.0, random_state=0).fit(X, y)
    >>> grh.encode(X).shape
    (200, 1)
    """

    def __init__(
        self,
        n_bits: int = 16,
        *,
        alpha: float = 1.0,
        n_iter: int = 1,
        classifier: Any = None,
        init: Any = "lsh",
        n_jobs: int | None = None,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.alpha = alpha
        self.n_iter = n_iter
        self.classifier = classifier
        self.init = init
        self.n_jobs = n_jobs
        self.random_state = random_state

    _fit_param_names = ("affinity",)
    # The classifiers' C and tolerances are absolute: liblinear ran for minutes at
    # |X| ~ 1e100 and every point got one code at 1e-30 (see check_magnitude).
    _scale_range = (1e-8, 1e8)

    # -- validation -----------------------------------------------------------------
    def _min_samples(self) -> int:
        return 2

    def _check_params(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, numbers.Real):
            raise TypeError(f"alpha must be a float in [0, 1], got {self.alpha!r}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, numbers.Integral):
            raise TypeError(f"n_iter must be an int >= 1, got {self.n_iter!r}")
        if self.n_iter < 1:
            raise ValueError(f"n_iter must be >= 1, got {self.n_iter}")
        classifier = self._base_classifier()
        for method in ("fit", "decision_function"):
            if not hasattr(classifier, method):
                raise TypeError(
                    f"classifier must implement {method}(); got {type(classifier).__name__}"
                )
        if not (isinstance(self.init, str) or hasattr(self.init, "fit")):
            raise TypeError(f"init must be 'lsh' or a hasher, got {self.init!r}")
        if isinstance(self.init, str) and self.init != "lsh":
            raise ValueError(f"init must be 'lsh' or a hasher instance, got {self.init!r}")

    def _base_classifier(self) -> Any:
        if self.classifier is None:
            return LinearSVC(C=1.0, class_weight="balanced")
        return self.classifier

    def _normalised_affinity(self, y: Any, affinity: Any, n_samples: int) -> sp.csr_matrix:
        if y is None and affinity is None:
            raise ValueError(
                "GraphRegularisedHashing requires y to be passed, but the target y is None; "
                "give labels y or a precomputed (n_samples, n_samples) affinity matrix"
            )
        if y is not None and affinity is not None:
            raise ValueError("give either labels y or an affinity matrix to GRH, not both")
        if y is not None:
            return normalise_affinity(label_affinity(check_labels(y, n_samples)))
        try:
            matrix = sp.csr_matrix(affinity, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "affinity must be an (n_samples, n_samples) array or sparse matrix of "
                f"non-negative weights, got {type(affinity).__name__} ({exc})"
            ) from exc
        if matrix.shape != (n_samples, n_samples):
            raise ValueError(
                f"affinity must have shape ({n_samples}, {n_samples}) to match X, "
                f"got {matrix.shape}"
            )
        if not np.isfinite(matrix.data).all() or (matrix.data < 0).any():
            raise ValueError("affinity must contain finite, non-negative weights")
        return normalise_affinity(matrix)

    # -- fitting --------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        affinity = fit_params.get("affinity")
        self._check_params()
        graph = self._normalised_affinity(y, affinity, X.shape[0])
        self._init_hasher = self._fit_init(X, y, rng)
        anchor = codes_module.signs(self._init_hasher.project(X))
        codes = anchor
        self.n_degenerate_bits_ = 0
        for _ in range(self.n_iter):
            target = self._regularise(graph, codes, anchor)
            self.estimators_ = self._learn_bits(X, target, rng)
            self._compile_projection(X)
            codes = codes_module.signs(self._project(X))

    def _fit_init(self, X: np.ndarray, y: Any, rng: np.random.Generator) -> Any:
        if isinstance(self.init, str):
            seed = int(rng.integers(2**31 - 1))
            return SignRandomProjection(self.n_bits, random_state=seed).fit(X)
        hasher = self.init
        try:
            check_is_fitted(hasher)
        except NotFittedError:
            hasher = clone(hasher).fit(X, y)
        n_bits = getattr(hasher, "n_bits", None)
        if n_bits != self.n_bits:
            raise ValueError(
                f"init hasher has n_bits={n_bits}, but GraphRegularisedHashing has "
                f"n_bits={self.n_bits}; they must match"
            )
        return hasher

    def _regularise(
        self, graph: sp.csr_matrix, codes: np.ndarray, anchor: np.ndarray
    ) -> np.ndarray:
        alpha = float(self.alpha)
        smoothed = alpha * (graph @ codes.astype(np.float64)) + (1.0 - alpha) * anchor
        return codes_module.signs(smoothed)

    def _learn_bits(self, X: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> list[Any]:
        base = self._base_classifier()
        seeds = rng.integers(2**31 - 1, size=self.n_bits)
        degenerate = [bool(np.all(target[:, k] == target[0, k])) for k in range(self.n_bits)]
        if any(degenerate):
            count = sum(degenerate)
            self.n_degenerate_bits_ += count
            warnings.warn(
                f"GraphRegularisedHashing: {count} bit(s) had all-equal regularised codes; "
                "each gets a random hyperplane through the median instead of a classifier",
                RuntimeWarning,
                stacklevel=4,
            )

        def learn(k: int) -> Any:
            if degenerate[k]:
                bit_rng = np.random.default_rng(seeds[k])
                if _is_kernel_svm(base):
                    return _MedianKernelFunction(X, bit_rng, base)
                return _MedianHyperplane(X, bit_rng)
            estimator = clone(base)
            if "random_state" in estimator.get_params() and estimator.random_state is None:
                estimator.set_params(random_state=int(seeds[k]))
            return estimator.fit(X, target[:, k])

        return list(
            Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(learn)(k) for k in range(self.n_bits)
            )
        )

    def _compile_projection(self, X: np.ndarray) -> None:
        """Turn the fitted classifiers into arrays (fast encoding, portable saving)."""
        for name in _COMPILED_ATTRIBUTES:
            self.__dict__.pop(name, None)
        linear = [_as_linear(est) for est in self.estimators_]
        if all(item is not None for item in linear):
            self.components_ = np.vstack([w for w, _ in linear])  # type: ignore[misc]
            self.intercept_ = np.array([b for _, b in linear])  # type: ignore[misc]
            return
        expansion = _as_kernel_expansion(self.estimators_, X[: min(len(X), 32)])
        if expansion is not None:
            (
                self.support_vectors_,
                self.dual_coef_,
                self.support_lims_,
                self.kernel_intercept_,
                self.kernel_params_,
            ) = expansion

    # -- projection -----------------------------------------------------------------
    def _project(self, X: np.ndarray) -> np.ndarray:
        if hasattr(self, "components_"):
            return X @ self.components_.T.astype(X.dtype, copy=False) + self.intercept_
        if hasattr(self, "support_vectors_"):
            vectors, coefficients = self._merged_expansion()
            return _kernel_projection(
                X, vectors, coefficients, self.kernel_intercept_, self.kernel_params_
            )
        return np.column_stack([est.decision_function(X) for est in self.estimators_])

    def _merged_expansion(self) -> tuple[np.ndarray, np.ndarray]:
        """The kernel expansion with each distinct support vector once.

        The bits' SVMs are trained on the same points, so most support vectors are shared
        by many bits: ``P = K(X, V) @ C + b`` with ``V`` the distinct vectors and ``C``
        (n_vectors, n_bits) their dual coefficients per bit evaluates each kernel value
        once instead of once per bit. Computed on first use and kept (not saved).
        """
        cache = self.__dict__.get("_merged_expansion_cache")
        if cache is None or cache[0] is not self.support_vectors_:
            vectors, inverse = np.unique(self.support_vectors_, axis=0, return_inverse=True)
            n_bits = len(self.support_lims_) - 1
            bit_of = np.repeat(np.arange(n_bits), np.diff(self.support_lims_))
            coefficients = np.zeros((vectors.shape[0], n_bits))
            np.add.at(coefficients, (inverse.ravel(), bit_of), self.dual_coef_)
            cache = (self.support_vectors_, vectors, coefficients)
            self.__dict__["_merged_expansion_cache"] = cache
        return cache[1], cache[2]

    # -- streaming ------------------------------------------------------------------
    def _classifier_streams(self) -> bool:
        return hasattr(self._base_classifier(), "partial_fit")

    @available_if(_classifier_streams)
    def partial_fit(
        self, X: Any, y: Any = None, *, affinity: Any = None
    ) -> GraphRegularisedHashing:
        """Update the hash functions with one more batch of labelled data (streaming).

        The batch's codes are regularised over the batch's own affinity graph (from its
        labels ``y`` or a given ``affinity``), then every bit's classifier is updated
        with ``partial_fit``. The first call fits the initial hasher on that batch. The
        classifier must implement ``partial_fit``; a passive-aggressive classifier is the
        usual choice: ``SGDClassifier(loss="hinge", penalty=None, learning_rate="pa1",
        eta0=1.0)`` (or the older ``PassiveAggressiveClassifier``). The method exists
        only when the classifier has ``partial_fit``.

        Returns
        -------
        self
        """
        self._check_params()
        base = self._base_classifier()
        first = not hasattr(self, "n_features_in_")
        if not first and not (hasattr(self, "_init_hasher") and hasattr(self, "estimators_")):
            raise ValueError(
                "this GraphRegularisedHashing was loaded from disk, which keeps the compiled "
                "hash functions but not the classifiers' training state; partial_fit cannot "
                "continue it (fit a new model, or keep the streaming model in memory)"
            )
        # The first batch also fits the initial hasher: one row would centre it on itself.
        X = check_features(
            X,
            name="X",
            n_features=None if first else self.n_features_in_,
            min_samples=2 if first else 1,
        )
        check_magnitude(X, type(self).__name__, self._scale_range)
        graph = self._normalised_affinity(y, affinity, X.shape[0])
        if first:
            rng = check_random_state(self.random_state)
            self.n_features_in_ = X.shape[1]
            self._init_hasher = self._fit_init(X, y, rng)
            seeds = rng.integers(2**31 - 1, size=self.n_bits)
            self.estimators_ = []
            for k in range(self.n_bits):
                estimator = clone(base)
                if "random_state" in estimator.get_params() and estimator.random_state is None:
                    estimator.set_params(random_state=int(seeds[k]))
                self.estimators_.append(estimator)
            self.n_degenerate_bits_ = 0
        anchor = codes_module.signs(self._init_hasher.project(X))
        codes = anchor if first else codes_module.signs(self._project(X))
        for _ in range(self.n_iter):
            target = self._regularise(graph, codes, anchor)
            for k, estimator in enumerate(self.estimators_):
                estimator.partial_fit(X, target[:, k], classes=np.array([-1, 1]))
            self._compile_projection(X)
            codes = codes_module.signs(self._project(X))
        return self

    # -- persistence ----------------------------------------------------------------
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    # The per-bit classifiers are compiled into arrays (components_ or the kernel expansion),
    # which is all encoding needs; the classifier and init objects are saved by repr only.
    _transient_attributes = ("estimators_",)

    def _portable_params(self) -> dict[str, Any]:
        params = super()._portable_params()
        params["classifier"] = None
        if not isinstance(self.init, str):
            params["init"] = "lsh"
        return params

    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        if hasattr(self, "components_"):
            check_state_array(self, "components_", (self.n_bits, self.n_features_in_))
            check_state_array(self, "intercept_", (self.n_bits,))
            return
        vectors = getattr(self, "support_vectors_", None)
        if not isinstance(vectors, np.ndarray) or vectors.ndim != 2:
            raise ValueError("neither components_ nor support_vectors_ is present")
        check_state_array(self, "support_vectors_", (vectors.shape[0], self.n_features_in_))
        check_state_array(self, "dual_coef_", (vectors.shape[0],))
        check_state_array(self, "kernel_intercept_", (self.n_bits,))
        lims = getattr(self, "support_lims_", None)
        if (
            not isinstance(lims, np.ndarray)
            or lims.shape != (self.n_bits + 1,)
            or lims[0] != 0
            or lims[-1] != vectors.shape[0]
            or np.any(np.diff(lims) < 1)
        ):
            raise ValueError("support_lims_ does not delimit the support vectors bit by bit")
        params = getattr(self, "kernel_params_", None)
        if not isinstance(params, dict) or params.get("kernel") not in _KERNELS:
            raise ValueError(f"kernel_params_ must name a kernel in {_KERNELS}, got {params!r}")

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        if not (hasattr(self, "components_") or hasattr(self, "support_vectors_")):
            raise TypeError(
                "cannot save this GraphRegularisedHashing: its per-bit classifiers "
                f"({type(self.estimators_[0]).__name__}) are neither linear nor kernel SVMs, "
                "so they have no portable representation"
            )
        params, attributes, arrays = super()._get_state()
        attributes["classifier_repr_"] = repr(self.classifier)
        attributes["init_repr_"] = repr(self.init)
        return params, attributes, arrays

    def _save_extra_attribute(
        self, name: str, value: Any, attributes: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        if name == "kernel_params_":
            attributes[name] = dict(value)
            return
        super()._save_extra_attribute(name, value, attributes, arrays)


GRH = GraphRegularisedHashing


class _MedianHyperplane:
    """A random hyperplane through the median of the training projections (a balanced bit)."""

    def __init__(self, X: np.ndarray, rng: np.random.Generator) -> None:
        self.coef_ = rng.standard_normal((1, X.shape[1]))
        self.intercept_ = np.array([-np.median(X @ self.coef_[0])])

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_[0] + self.intercept_[0]


def _is_kernel_svm(estimator: Any) -> bool:
    return isinstance(estimator, SVC | NuSVC) and estimator.kernel in _KERNELS[1:]


class _MedianKernelFunction:
    """For kernel SVMs, a degenerate bit's stand-in: ``K(x, a) - K(x, b) - median``.

    ``a`` and ``b`` are two random training points and the median is taken over the
    training set, so the bit is balanced; it is the kernel counterpart of
    :class:`_MedianHyperplane`, shaped like a fitted binary SVC (``support_vectors_``,
    ``dual_coef_``, ``intercept_``, kernel parameters) so the bit compiles into the same
    kernel expansion as the others.
    """

    def __init__(self, X: np.ndarray, rng: np.random.Generator, svm: Any) -> None:
        self.kernel, self.degree, self.coef0 = svm.kernel, svm.degree, svm.coef0
        if svm.gamma == "scale":  # scikit-learn's definitions of the gamma presets
            variance = float(X.var())
            self._gamma = 1.0 / (X.shape[1] * variance) if variance > 0 else 1.0
        elif svm.gamma == "auto":
            self._gamma = 1.0 / X.shape[1]
        else:
            self._gamma = float(svm.gamma)
        pair = rng.choice(X.shape[0], size=2, replace=False)
        self.support_vectors_ = X[pair].astype(np.float64)
        self.dual_coef_ = np.array([[1.0, -1.0]])
        self.intercept_ = np.zeros(1)
        self.intercept_[0] = -np.median(self.decision_function(X))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        kernel = pairwise_kernels(
            X,
            self.support_vectors_,
            metric=self.kernel,
            filter_params=True,
            gamma=self._gamma,
            degree=self.degree,
            coef0=self.coef0,
        )
        return kernel @ self.dual_coef_[0] + self.intercept_[0]


def _as_linear(estimator: Any) -> tuple[np.ndarray, float] | None:
    """``(w, b)`` when ``estimator.decision_function(x) == w . x + b``, else None."""
    if isinstance(estimator, SVC | NuSVC) and estimator.kernel != "linear":
        return None
    coef = getattr(estimator, "coef_", None)
    intercept = getattr(estimator, "intercept_", None)
    if coef is None or intercept is None:
        return None
    coef = np.asarray(coef.toarray() if sp.issparse(coef) else coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64).ravel()
    if coef.ndim != 2 or coef.shape[0] != 1 or intercept.shape != (1,):
        return None
    return coef[0], float(intercept[0])


def _as_kernel_expansion(
    estimators: list[Any], X_check: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]] | None:
    """Stack the support vectors of kernel SVMs sharing one kernel; None if not possible.

    The expansion is checked against ``decision_function`` on a few rows so a sign or
    convention mismatch can never silently change the codes.
    """
    if not all(isinstance(est, SVC | NuSVC | _MedianKernelFunction) for est in estimators):
        return None
    params_list = [
        {
            "kernel": est.kernel,
            "gamma": float(est._gamma),
            "degree": int(est.degree),
            "coef0": float(est.coef0),
        }
        for est in estimators
    ]
    if any(p != params_list[0] for p in params_list) or params_list[0]["kernel"] not in _KERNELS:
        return None
    vectors, coefs, lims, intercepts = [], [], [0], []
    for est in estimators:
        vectors.append(np.asarray(est.support_vectors_, dtype=np.float64))
        dual = np.asarray(est.dual_coef_, dtype=np.float64).ravel()
        intercept = float(np.asarray(est.intercept_).ravel()[0])
        kernel = pairwise_kernels(
            X_check,
            vectors[-1],
            metric=params_list[0]["kernel"],
            filter_params=True,
            **_kernel_kwargs(params_list[0]),
        )
        expected = est.decision_function(X_check)
        if np.allclose(kernel @ dual + intercept, expected, rtol=1e-6, atol=1e-8):
            sign = 1.0
        elif np.allclose(-(kernel @ dual + intercept), expected, rtol=1e-6, atol=1e-8):
            sign = -1.0
        else:
            return None
        coefs.append(sign * dual)
        intercepts.append(sign * intercept)
        lims.append(lims[-1] + vectors[-1].shape[0])
    return (
        np.vstack(vectors),
        np.concatenate(coefs),
        np.array(lims, dtype=np.int64),
        np.array(intercepts),
        dict(params_list[0]),
    )


def _kernel_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    return {"gamma": params["gamma"], "degree": params["degree"], "coef0": params["coef0"]}


def _kernel_projection(
    X: np.ndarray,
    vectors: np.ndarray,
    coefficients: np.ndarray,
    intercept: np.ndarray,
    params: dict[str, Any],
) -> np.ndarray:
    """``P = K(X, V) @ C + b`` (``P[:, k] = sum_j C[j, k] K(x, v_j) + b_k``), in row blocks."""
    out = np.empty((X.shape[0], coefficients.shape[1]))
    block = max(1, (64 * 2**20) // (8 * max(1, vectors.shape[0])))
    for start in range(0, X.shape[0], block):
        rows = X[start : start + block].astype(np.float64, copy=False)
        kernel = pairwise_kernels(
            rows, vectors, metric=params["kernel"], filter_params=True, **_kernel_kwargs(params)
        )
        out[start : start + block] = kernel @ coefficients + intercept
    return out
