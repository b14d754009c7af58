"""Self-Taught Hashing (Zhang, Wang, Cai and Lu, SIGIR 2010).

Two steps. The unsupervised one finds codes for the training points: a symmetric
k-nearest-neighbour graph, its Laplacian eigenmap, each eigenvector thresholded at its
median. The supervised ("self-taught") one learns hash functions for unseen points: one
linear SVM per bit, trained to predict that bit of the training codes from the features.
The SVMs' decision functions are the hash functions, so the hasher is linear and encodes
sparse text (TF-IDF) as it is.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from hashlearn._registry import register
from hashlearn._validation import check_int
from hashlearn.hashers._base import BaseHasher, LinearHasherMixin, check_state_array
from hashlearn.hashers._linalg import fix_signs
from hashlearn.hashers._params import check_positive_or_none
from hashlearn.hashers.median import balanced_thresholds

__all__ = ["STH", "SelfTaughtHashing"]

_METRICS = ("cosine", "euclidean")
#: Graphs of at most this many points (plus one) are decomposed densely: a 64 x 64 matrix.
_DENSE_SIZE = 64


# --------------------------------------------------------------------------------------
# The unsupervised step (pure functions)
# --------------------------------------------------------------------------------------


def _knn_affinity(
    X: Any, n_neighbors: int, metric: str, sigma: float | None, n_jobs: int | None
) -> tuple[sp.csr_matrix, float | None]:
    """The symmetric k-nearest-neighbour affinity ``W`` of the rows of ``X``, and the width.

    ``i`` and ``j`` are linked when either is among the other's ``n_neighbors`` nearest
    rows (itself excluded), with weight ``W_ij = max(w(i, j), w(j, i))``, as Deng Cai's
    ``constructW`` (which the STH MATLAB code builds its graph with) does:

    * ``"cosine"``: ``w = cos(x_i, x_j)``, the cosine similarity, clipped at 0 (Laplacian
      weights must be non-negative; TF-IDF vectors never have negative similarities, and
      a row of zeros has none to anyone);
    * ``"euclidean"``: the heat kernel ``w = exp(-||x_i - x_j||^2 / (2 sigma^2))``, with
      ``sigma`` the mean distance from each row to its neighbours when None (1 when that
      is 0).

    The neighbour search is brute force for ``cosine`` and for sparse input (scikit-learn
    computes the distances a block of rows at a time, within its working memory).

    Returns
    -------
    affinity : scipy.sparse.csr_matrix of shape (n, n)
        Symmetric, non-negative, zero diagonal, no explicit zeros.
    sigma : float or None
        The heat kernel's width (None for ``"cosine"``).
    """
    n = X.shape[0]
    algorithm = "brute" if metric == "cosine" else "auto"
    search = NearestNeighbors(
        n_neighbors=n_neighbors, metric=metric, algorithm=algorithm, n_jobs=n_jobs
    )
    # kneighbors() without X: each row's neighbours among the others (never itself).
    distances, indices = search.fit(X).kneighbors()
    distances = distances.astype(np.float64, copy=False)
    width: float | None = None
    if metric == "cosine":
        weights = np.clip(1.0 - distances, 0.0, None)
    else:
        width = sigma if sigma is not None else float(distances.mean())
        if not width > 0.0:
            width = 1.0  # every row coincides with its neighbours: any width gives w = 1
        weights = np.exp(-(distances**2) / (2.0 * width**2))
    rows = np.repeat(np.arange(n), n_neighbors)
    directed = sp.csr_matrix((weights.ravel(), (rows, indices.ravel())), shape=(n, n))
    affinity = sp.csr_matrix(directed.maximum(directed.T))
    affinity.eliminate_zeros()
    return affinity, width


def _laplacian_eigenmap(
    affinity: sp.csr_matrix, n_components: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_components`` non-trivial solutions of ``L y = lambda D y`` of smallest lambda.

    ``D`` is the degree matrix and ``L = D - W`` the graph Laplacian (the paper's
    relaxed problem: minimise ``sum_ij W_ij ||y_i - y_j||^2`` subject to ``Y^T D Y = I``
    and ``Y^T D 1 = 0``). With ``v = D^1/2 y`` it is the symmetric problem
    ``S v = (1 - lambda) v``, ``S = D^-1/2 W D^-1/2``, whose top eigenvector
    ``u = D^1/2 1 / ||D^1/2 1||`` (eigenvalue 1) is the trivial constant solution. Rather
    than asking for one eigenvector more and dropping the first, ``S`` is restricted to
    the orthogonal complement of ``u`` (a Householder reflection maps ``u`` to the first
    axis; the other axes span the complement), so the trivial solution can never be
    returned, also when the graph has several connected components (eigenvalue 1 is then
    repeated, and its other eigenvectors, which separate the components, are kept).

    The largest eigenvalues of the restriction come from ARPACK's Lanczos iteration
    (:func:`scipy.sparse.linalg.eigsh`, matrix-free: sparse products with ``W`` only),
    started from a vector drawn from ``rng``. Only a restriction of at most 64 rows, or
    one that asks for all its eigenvectors (``n_components = n - 1``, which ARPACK cannot
    do), is formed and decomposed densely. Rows without edges (isolated
    points) get ``y = 0`` on every component. Each ``y`` has its largest-magnitude entry
    positive, so the result does not depend on the starting vector's signs.

    Returns
    -------
    embedding : ndarray of shape (n, n_components)
        ``Y``, columns by increasing ``lambda``.
    eigenvalues : ndarray of shape (n_components,)
        ``lambda``, non-decreasing, in ``[0, 2]``.
    """
    n = affinity.shape[0]
    degrees = np.asarray(affinity.sum(axis=1)).ravel()
    if not degrees.any():
        raise ValueError(
            "the nearest-neighbour graph has no edges (every similarity between neighbours "
            "is 0, e.g. all-zero or mutually orthogonal rows with metric='cosine'); it has "
            "no Laplacian eigenmap"
        )
    inverse_root = np.divide(1.0, np.sqrt(degrees), out=np.zeros(n), where=degrees > 0)
    scaling = sp.diags(inverse_root)
    normalised = sp.csr_matrix(scaling @ affinity @ scaling)
    trivial = np.sqrt(degrees) / np.linalg.norm(np.sqrt(degrees))
    # H = I - 2 h h^T with h along u + e_0 maps u to -e_0 (u_0 >= 0: no cancellation).
    reflector = trivial.copy()
    reflector[0] += 1.0
    reflector /= np.linalg.norm(reflector)

    def reflect(block: np.ndarray) -> np.ndarray:
        return block - 2.0 * np.outer(reflector, reflector @ block)

    def restricted(block: np.ndarray) -> np.ndarray:
        """``(H S H)[1:, 1:] @ block`` for a block of shape (n - 1, m)."""
        padded = np.vstack([np.zeros((1, block.shape[1])), block])
        return reflect(normalised @ reflect(padded))[1:]

    size = n - 1
    if size <= _DENSE_SIZE or n_components >= size:
        matrix = restricted(np.eye(size))
        values, vectors = scipy.linalg.eigh(
            0.5 * (matrix + matrix.T), subset_by_index=[size - n_components, size - 1]
        )
    else:
        operator = scipy.sparse.linalg.LinearOperator(
            (size, size),
            matvec=lambda v: restricted(np.reshape(v, (-1, 1))).ravel(),
            matmat=restricted,
            dtype=np.float64,
        )
        # Lanczos works on (n, 2 * n_components) blocks: BLAS threads only add
        # synchronisation there (on 20 Newsgroups, 50 s instead of 1 s on a busy machine).
        with threadpool_limits(limits=1, user_api="blas"):
            values, vectors = scipy.sparse.linalg.eigsh(
                operator, k=n_components, which="LA", v0=rng.uniform(-1.0, 1.0, size)
            )
    order = np.argsort(-values, kind="stable")
    values, vectors = values[order], vectors[:, order]
    full = reflect(np.vstack([np.zeros((1, n_components)), vectors]))
    embedding = fix_signs(full * inverse_root[:, None])
    return embedding, np.clip(1.0 - values, 0.0, 2.0)


# --------------------------------------------------------------------------------------
# The hasher
# --------------------------------------------------------------------------------------


@register
class SelfTaughtHashing(LinearHasherMixin, BaseHasher):
    """Self-Taught Hashing: binarised Laplacian eigenmap codes, predicted by linear SVMs.

    Fitting (on training rows ``x_1 .. x_n``):

    1. **Graph.** A symmetric k-nearest-neighbour graph ``W`` over the training rows
       (``n_neighbors``; cosine similarity for text, or a heat kernel on Euclidean
       distances).
    2. **Laplacian eigenmap.** The ``n_bits`` solutions of ``L y = lambda D y``
       (``L = D - W``, ``D`` the degrees) with the smallest ``lambda``, the trivial
       constant solution excluded (see the notes).
    3. **Median thresholds.** Training bit ``j`` of ``x_i`` is ``y_ij >= t_j`` with
       ``t_j`` the median of ``y_j`` (moved off a tie when that balances the bit better,
       see :func:`~hashlearn.hashers.median.balanced_thresholds`), so every bit splits
       the training set in half.
    4. **Self-taught hash functions.** For each bit, a linear SVM
       (:class:`sklearn.svm.LinearSVC`, hinge loss, ``C``) learns to predict the
       training bit from ``x``. Its decision function ``w_j . x + b_j`` is hash function
       ``j``: ``components_`` holds the ``w_j``, ``intercept_`` the ``b_j``, and bit ``j``
       of any ``x`` is ``w_j . x + b_j >= 0``.

    ``fit`` and ``encode`` take a ``scipy.sparse`` matrix (TF-IDF, word counts) as it is:
    nothing is densified, and no ``n x n`` matrix is formed (the graph is sparse, the
    eigenvectors come from a matrix-free Lanczos iteration).

    Parameters
    ----------
    n_bits : int, default 16
        Code length, in ``[1, 4096]``; at most the number of training rows minus one (the
        non-trivial eigenvectors of an ``n``-point graph).
    n_neighbors : int, default 10
        ``k`` of the k-nearest-neighbour graph, at least 1 and below the number of
        training rows. Chosen on validation splits of the 20 Newsgroups training posts
        (32 bits; 10, 15 and 25 tried, 10 best by 0.006 and 0.022 P@100; see
        docs/methods.md). The paper's own value could not be checked here.
    metric : {"cosine", "euclidean"}, default "cosine"
        The graph's similarity: cosine similarity, what the paper uses for documents, or
        a heat kernel on Euclidean distances (the authors' code offers both).
    sigma : float or None, default None
        Width of the heat kernel ``exp(-d^2 / (2 sigma^2))`` (``metric="euclidean"``
        only); None takes the mean distance from the training rows to their neighbours.
        ``sigma`` is absolute: on features of another scale give another width.
    C : float, default 0.1
        The SVMs' regularisation constant (larger fits the training bits more closely).
        The authors' code leaves LIBSVM's default, 1; on L2-normalised TF-IDF that fits
        99% of the training bits and generalises worse: on a validation split of the 20
        Newsgroups training posts C = 0.1 scored 0.04-0.05 P@100 above C = 1 (0.03, 0.05,
        0.1, 0.2, 0.3 and 1 tried). Features of another scale want another ``C``.
    n_jobs : int or None, default None
        Parallel jobs for the nearest-neighbour search (scikit-learn's semantics; None is
        1). The codes do not depend on it. The SVMs are trained one after the other
        (LIBLINEAR's random generator is shared by a process: SVMs in parallel threads
        would not be reproducible).
    random_state : int, numpy.random.Generator or None, default None
        Seeds the Lanczos starting vector and the SVMs' coordinate descent. The same
        int gives the same codes.

    Attributes
    ----------
    components_ : ndarray of shape (n_bits, n_features)
        The SVMs' weight vectors, one per bit.
    intercept_ : ndarray of shape (n_bits,)
        The SVMs' biases, so ``project(X) = X @ components_.T + intercept_``.
    eigenvalues_ : ndarray of shape (n_bits,)
        ``lambda`` of each bit's eigenvector, non-decreasing (0 for an eigenvector
        separating two connected components of the graph).
    thresholds_ : ndarray of shape (n_bits,)
        The median thresholds of the eigenvectors (the training codes' step 3).
    sigma_ : float or None
        The heat kernel's width used (None with ``metric="cosine"``).
    n_constant_bits_ : int
        Bits whose training codes were all equal (an eigenvector constant on the
        training rows, which only degenerate data give); such a bit gets no SVM but the
        constant hash function of its training value (``0 . x + 1`` or ``0 . x - 1``),
        and ``fit`` warns.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    The trivial solution ``y = 1`` (every point the same code) is excluded by solving in
    the orthogonal complement of ``D^1/2 1``, not by dropping the first eigenvector: when
    the graph falls apart into several connected components, eigenvalue 0 is repeated and
    its non-constant eigenvectors, which tell the components apart, are kept.

    The authors' code thresholds with ``y > median``; here ties at the median go to the
    better-balanced side. The authors' code trains LIBSVM's linear SVM; the SVMs here
    minimise the same hinge loss with LIBLINEAR (:class:`~sklearn.svm.LinearSVC` with
    ``loss="hinge"``), which also regularises the bias like a weight and is much faster on
    sparse text. The squared hinge loss, LinearSVC's default, scored 0.007-0.012 P@100
    lower on the validation split, each loss at its best ``C``.

    STH is sensitive to the scale of ``X`` (the SVMs' ``C`` is absolute, and so is
    ``sigma`` when given): ``fit`` refuses training data whose largest ``|X|`` is outside
    ``[1e-8, 1e8]``. TF-IDF rows of unit norm are what the method was designed for.

    References
    ----------
    D. Zhang, J. Wang, D. Cai and J. Lu. Self-taught hashing for fast similarity search.
    SIGIR 2010.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from hashlearn.hashers import STH
    >>> rng = np.random.default_rng(0)
    >>> topics = rng.random((4, 300)) < 0.05  # four "topics" of words
    >>> words = topics[np.repeat(np.arange(4), 50)] & (rng.random((200, 300)) < 0.7)
    >>> X = sp.csr_matrix(words, dtype=np.float64)  # sparse bag of words, 200 documents
    >>> sth = STH(n_bits=8, random_state=0).fit(X)
    >>> sth.encode(X).shape
    (200, 1)
    >>> sth.components_.shape
    (8, 300)
    """

    # TF-IDF and word counts are used as they are: the graph, the SVMs and the
    # projection all work on CSR.
    _accepts_sparse = True
    # The SVMs' C is absolute, like GRH's (see check_magnitude): liblinear crawls on data
    # of 1e100 and separates nothing at 1e-30.
    _scale_range = (1e-8, 1e8)

    def __init__(
        self,
        n_bits: int = 16,
        *,
        n_neighbors: int = 10,
        metric: str = "cosine",
        sigma: float | None = None,
        C: float = 0.1,
        n_jobs: int | None = None,
        random_state: Any = None,
    ) -> None:
        self.n_bits = n_bits
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.sigma = sigma
        self.C = C
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- validation -----------------------------------------------------------------
    def _min_samples(self) -> int:
        return 2

    def _check_params(self) -> None:
        check_int(self.n_neighbors, "n_neighbors", low=1)
        if not isinstance(self.metric, str) or self.metric not in _METRICS:
            raise ValueError(
                f"metric must be one of {', '.join(map(repr, _METRICS))}, got {self.metric!r}"
            )
        check_positive_or_none(self.sigma, "sigma")
        if self.sigma is not None and self.metric != "euclidean":
            raise ValueError(
                f"sigma is the heat kernel's width and applies to metric='euclidean' only, "
                f"got sigma={self.sigma} with metric={self.metric!r}"
            )
        if isinstance(self.C, bool) or not isinstance(self.C, numbers.Real):
            raise TypeError(f"C must be a positive float, got {self.C!r}")
        if not (np.isfinite(self.C) and self.C > 0):
            raise ValueError(f"C must be a positive finite float, got {self.C}")
        if self.n_jobs is not None:
            check_int(self.n_jobs, "n_jobs")

    def _check_size(self, n_samples: int) -> None:
        if self.n_neighbors >= n_samples:
            raise ValueError(
                f"n_neighbors must be below the number of training samples ({n_samples}): "
                f"each point is linked to n_neighbors others, got n_neighbors="
                f"{self.n_neighbors}; lower n_neighbors or give more data"
            )
        if self.n_bits >= n_samples:
            raise ValueError(
                f"SelfTaughtHashing needs more training samples than bits: the Laplacian "
                f"eigenmap of {n_samples} points has {n_samples - 1} non-trivial "
                f"eigenvectors, one per bit, got n_bits={self.n_bits}; lower n_bits or give "
                "more data"
            )

    # -- fitting --------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, rng: np.random.Generator, **fit_params: Any) -> None:
        self._check_params()
        self._check_size(X.shape[0])
        affinity, self.sigma_ = _knn_affinity(
            X, self.n_neighbors, self.metric, self.sigma, self.n_jobs
        )
        embedding, self.eigenvalues_ = _laplacian_eigenmap(affinity, self.n_bits, rng)
        self.thresholds_ = balanced_thresholds(embedding)
        self._learn_hash_functions(X, embedding >= self.thresholds_, rng)

    def _learn_hash_functions(self, X: Any, bits: np.ndarray, rng: np.random.Generator) -> None:
        """One linear SVM per column of the training ``bits`` (bool, n x n_bits)."""
        seeds = rng.integers(2**31 - 1, size=self.n_bits)
        constant = [bool(np.all(bits[:, j] == bits[0, j])) for j in range(self.n_bits)]
        self.n_constant_bits_ = sum(constant)
        if self.n_constant_bits_:
            warnings.warn(
                f"SelfTaughtHashing: {self.n_constant_bits_} bit(s) had the same training "
                "code on every point (an eigenvector constant on the training data); each "
                "gets the constant hash function of its training value instead of an SVM",
                RuntimeWarning,
                stacklevel=4,
            )

        def learn(j: int) -> tuple[np.ndarray, float]:
            if constant[j]:
                return np.zeros(X.shape[1]), 1.0 if bits[0, j] else -1.0
            svm = LinearSVC(C=float(self.C), loss="hinge", random_state=int(seeds[j]))
            svm.fit(X, bits[:, j])
            return np.asarray(svm.coef_, dtype=np.float64)[0], float(svm.intercept_[0])

        # One after the other: LIBLINEAR draws from one random generator per process
        # (scikit-learn's newrand), which SVMs fitted in parallel threads would share and
        # race for, so their weights, and the codes, would change from run to run.
        functions = [learn(j) for j in range(self.n_bits)]
        self.components_ = np.vstack([weights for weights, _ in functions])
        self.intercept_ = np.array([bias for _, bias in functions])

    # -- persistence ----------------------------------------------------------------
    def _check_loaded_state(self) -> None:
        super()._check_loaded_state()
        self._check_params()
        check_state_array(self, "eigenvalues_", (self.n_bits,))
        check_state_array(self, "thresholds_", (self.n_bits,))
        sigma = getattr(self, "sigma_", None)
        if self.metric == "cosine" and sigma is not None:
            raise ValueError(f"sigma_ must be None with metric='cosine', got {sigma!r}")
        if self.metric == "euclidean":
            check_positive_or_none(sigma, "sigma_")
            if sigma is None:
                raise ValueError("sigma_ must be a positive float with metric='euclidean'")
        count = getattr(self, "n_constant_bits_", None)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= self.n_bits:
            raise ValueError(
                f"n_constant_bits_ must be an int in [0, {self.n_bits}], got {count!r}"
            )


STH = SelfTaughtHashing
