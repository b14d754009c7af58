"""The method registry: benchmark names -> hashers, with the labels of the papers' tables.

A method spec (``"grh:kernel=rbf,alpha=0.9"``, see :mod:`hashlearn.experiments.specs`)
names a registered method and its parameters. :func:`build_method` turns it into an
unfitted hasher for a code length and a seed; :func:`method_label` gives the row name the
published tables use (``"GRH RBF, LSH init"``), which is how records find their anchors.

New methods register with :func:`register_method`; parameters not handled by the entry's
own builder are passed to the hasher's constructor. A parameter the method does not use
is an error that lists every valid one (the builder's own, such as GRH's ``kernel``, ``C``
and ``gamma``, included; arguments the builder sets itself, such as GRH's ``classifier``,
excluded); ``n_bits`` and ``random_state`` come from the run, never from a spec; a string
for a numeric parameter, and any value the hasher's own parameter check refuses, is an
error naming the parameter when the method is built, before a run starts.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hashlearn.experiments.specs import format_spec, parse_spec

__all__ = [
    "METHODS",
    "MethodInfo",
    "ResolvedMethod",
    "build_method",
    "format_methods",
    "method_label",
    "register_method",
    "resolve_method",
]


@dataclass(frozen=True)
class MethodInfo:
    """A registered benchmark method.

    Parameters
    ----------
    name : str
        The name used in specs (``"lsh"``).
    build : callable
        ``build(n_bits, random_state, **params) -> hasher`` (unfitted).
    label : callable
        ``label(params) -> str``, the row name in the published tables.
    supervised : bool
        Whether ``fit`` uses labels. Unsupervised methods are fitted with ``y=None``.
    description : str
        One line for ``hashlearn methods`` and the docs: what the method does and its spec
        parameters.
    paper : str
        The reference: authors, title, venue and year.
    """

    name: str
    build: Callable[..., Any]
    label: Callable[[Mapping[str, Any]], str]
    supervised: bool
    description: str
    paper: str = ""


@dataclass(frozen=True)
class ResolvedMethod:
    """A method spec resolved against the registry."""

    info: MethodInfo
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Registered name."""
        return self.info.name

    @property
    def spec(self) -> str:
        """Canonical spec string (parameters sorted)."""
        return format_spec(self.info.name, self.params)

    @property
    def label(self) -> str:
        """Display name, as in the published tables."""
        return self.info.label(self.params)

    def build(self, n_bits: int, random_state: int) -> Any:
        """An unfitted hasher with ``n_bits`` bits, seeded by ``random_state``."""
        return self.info.build(n_bits, random_state, **self.params)


METHODS: dict[str, MethodInfo] = {}


def register_method(info: MethodInfo) -> MethodInfo:
    """Add ``info`` to :data:`METHODS` (replacing an entry of the same name)."""
    METHODS[info.name] = info
    return info


def resolve_method(spec: str) -> ResolvedMethod:
    """Parse a spec and look its name up.

    Raises
    ------
    ValueError
        When the name is not registered (the message lists the registered names).
    """
    name, params = parse_spec(spec, what="method")
    key = name.lower()
    if key not in METHODS:
        known = ", ".join(sorted(METHODS))
        raise ValueError(f"unknown method {name!r} in {spec!r}; known methods: {known}")
    for reserved, source in _RESERVED.items():
        if reserved in params:
            raise ValueError(f"method {spec!r}: {reserved} is not a spec parameter; {source}")
    return ResolvedMethod(METHODS[key], params)


#: Constructor arguments every hasher has that a run sets itself, never a spec.
_RESERVED = {
    "n_bits": "code lengths come from --bits (bits=... in Python), one record per length",
    "random_state": "the seed comes from --seeds (seeds=... in Python), one record per seed",
}


def build_method(spec: str, n_bits: int, random_state: int) -> Any:
    """The unfitted hasher a spec names.

    Examples
    --------
    >>> build_method("lsh:centre=false", 16, 0)
    SignRandomProjection(centre=False, random_state=0)
    """
    return resolve_method(spec).build(n_bits, random_state)


def method_label(spec: str) -> str:
    """The published-table name of a spec (``"grh:kernel=rbf"`` -> ``"GRH RBF, LSH init"``)."""
    return resolve_method(spec).label


def _construct(
    cls: type,
    n_bits: int,
    random_state: int,
    params: Mapping[str, Any],
    *,
    method: str,
    spec_only: Mapping[str, Any] = {},
    fixed: Mapping[str, Any] = {},
) -> Any:
    """The hasher ``cls`` with spec ``params``, after checking their names and types.

    ``spec_only`` are parameters the method's builder consumed (they are valid names);
    ``fixed`` are constructor arguments the builder sets itself (not spec parameters).
    """
    defaults = cls().get_params()
    valid = (set(defaults) - set(_RESERVED) - set(fixed)) | set(spec_only)
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"{method}: no spec parameter {', '.join(map(repr, unknown))}; "
            f"valid parameters: {', '.join(sorted(valid, key=str.lower))}"
        )
    for key, value in params.items():
        default = defaults.get(key)
        numeric = isinstance(default, int | float) and not isinstance(default, bool)
        if numeric and isinstance(value, str):
            raise ValueError(
                f"{method}: parameter {key} must be a number (default {default}), got {value!r}"
            )
    hasher = cls(n_bits=n_bits, random_state=random_state, **params, **fixed)
    check = getattr(hasher, "_check_params", None)
    if callable(check) and not [
        p for p in inspect.signature(check).parameters.values() if p.default is p.empty
    ]:
        try:  # the hasher's own checks, now rather than when the first record fits
            check()
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{method}: {exc}") from None
    return hasher


# --------------------------------------------------------------------------------------
# Built-in methods
# --------------------------------------------------------------------------------------


def _build_lsh(n_bits: int, random_state: int, **params: Any) -> Any:
    from hashlearn.hashers import SignRandomProjection

    return _construct(SignRandomProjection, n_bits, random_state, params, method="lsh")


_GRH_KERNELS = ("linear", "rbf")
#: The RBF SVMs' defaults: ``C`` and ``gamma`` chosen on the validation split (seed 0) of
#: ``grh-cifar10`` (T = 1,000 and 2,000) and ``grh-mnist``, trying C in {1, 3, 10, 30, 100}
#: and gamma in {0.5, 1.2 ("scale"), 1.6, 2, 2.5, 3, 4} (not every pair; the tries are in
#: ``docs/reproduction.md``); both feature sets have a per-feature
#: variance near 1e-3, where scikit-learn's "scale" is about 1.2. ``gamma`` is absolute
#: (``exp(-gamma ||x - x'||^2)``): on features of another scale choose it on the validation
#: split, e.g. ``grh:kernel=rbf,gamma=scale|0.1|1``.
_GRH_RBF_C = 10.0
_GRH_RBF_GAMMA = 2.0
_GRH_INITS = ("lsh", "cca")


def _grh_choice(params: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = params.get(key, allowed[0])
    if value not in allowed:
        raise ValueError(f"grh: {key} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _grh_positive(params: dict[str, Any], key: str, default: float) -> float:
    value = params.pop(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"grh: {key} must be a positive number, got {value!r}")
    return float(value)


def _build_grh(n_bits: int, random_state: int, **params: Any) -> Any:
    from sklearn.svm import SVC, LinearSVC

    from hashlearn.hashers import GraphRegularisedHashing

    params = dict(params)
    kernel = _grh_choice(params, "kernel", _GRH_KERNELS)
    init = _grh_choice(params, "init", _GRH_INITS)
    params.pop("kernel", None)
    params.pop("init", None)
    if kernel == "linear":
        if "gamma" in params:
            raise ValueError("grh: gamma applies to kernel=rbf only")
        C = _grh_positive(params, "C", 1.0)
        classifier: Any = LinearSVC(C=C, class_weight="balanced")
    else:
        C = _grh_positive(params, "C", _GRH_RBF_C)
        gamma = params.pop("gamma", _GRH_RBF_GAMMA)
        if gamma not in ("scale", "auto"):
            gamma = _grh_positive({"gamma": gamma}, "gamma", _GRH_RBF_GAMMA)
        classifier = SVC(kernel="rbf", C=C, gamma=gamma, class_weight="balanced")
    init_hasher: Any = "lsh"
    if init == "cca":
        if "cca-itq" not in METHODS:
            raise ValueError(
                "grh: init=cca needs the CCA-ITQ hasher, which is not registered in this "
                "version; use init=lsh"
            )
        init_hasher = METHODS["cca-itq"].build(n_bits, random_state)
    return _construct(
        GraphRegularisedHashing,
        n_bits,
        random_state,
        params,
        method="grh",
        spec_only={"kernel": kernel, "init": init, "C": C, "gamma": None},
        fixed={"classifier": classifier, "init": init_hasher},
    )


def _grh_label(params: Mapping[str, Any]) -> str:
    kernel = str(params.get("kernel", "linear")).replace("rbf", "RBF")
    init = str(params.get("init", "lsh")).upper()
    return f"GRH {kernel}, {init} init"


register_method(
    MethodInfo(
        name="lsh",
        build=_build_lsh,
        label=lambda params: "LSH",
        supervised=False,
        description="sign random projections (random hyperplanes); parameters: centre",
        paper=(
            "M. S. Charikar. Similarity estimation techniques from rounding algorithms. STOC 2002"
        ),
    )
)
register_method(
    MethodInfo(
        name="grh",
        build=_build_grh,
        label=_grh_label,
        supervised=True,
        description=(
            "Graph Regularised Hashing: label-graph smoothing of bits, then one classifier per "
            "bit; parameters: kernel=linear|rbf, init=lsh|cca, C, gamma, alpha, n_iter, n_jobs"
        ),
        paper=("S. Moran and V. Lavrenko. Graph Regularised Hashing. ECIR 2015"),
    )
)


def _simple(
    name: str,
    module: str,
    class_name: str,
    label: str,
    supervised: bool,
    description: str,
    paper: str,
) -> MethodInfo:
    """A method whose spec parameters are its hasher's constructor arguments."""

    def build(n_bits: int, random_state: int, **params: Any) -> Any:
        import importlib

        cls = getattr(importlib.import_module(module), class_name)
        return _construct(cls, n_bits, random_state, params, method=name)

    return register_method(
        MethodInfo(
            name=name,
            build=build,
            label=lambda params: label,
            supervised=supervised,
            description=description,
            paper=paper,
        )
    )


# Data-independent
_simple(
    "pstable",
    "hashlearn.hashers.random_lsh",
    "PStableLSH",
    "p-stable LSH",
    False,
    "p-stable (Gaussian) LSH, each bucket index binarised to one bit; parameters: w",
    "M. Datar, N. Immorlica, P. Indyk and V. S. Mirrokni. Locality-sensitive hashing scheme "
    "based on p-stable distributions. SoCG 2004",
)
_simple(
    "sklsh",
    "hashlearn.hashers.random_lsh",
    "ShiftInvariantKernelLSH",
    "SKLSH",
    False,
    "binary codes from random Fourier features of a shift-invariant kernel; parameters: gamma",
    "M. Raginsky and S. Lazebnik. Locality-sensitive binary codes from shift-invariant "
    "kernels. NIPS 2009",
)
_simple(
    "klsh",
    "hashlearn.hashers.random_lsh",
    "KernelizedLSH",
    "KLSH",
    False,
    "random hyperplanes in a kernel's feature space; parameters: n_samples, n_subset, kernel, "
    "gamma",
    "B. Kulis and K. Grauman. Kernelized locality-sensitive hashing for scalable image "
    "search. ICCV 2009",
)
# Unsupervised
_simple(
    "median",
    "hashlearn.hashers.median",
    "MedianThresholding",
    "median thresholding",
    False,
    "projections thresholded at their training medians (balanced bits); parameters: "
    "projection=random|identity|pca",
    "the simple binarisation of learning-to-hash lectures (balanced bits, e.g. Wang, Kumar "
    "& Chang, TPAMI 2012)",
)
_simple(
    "pcah",
    "hashlearn.hashers.pca",
    "PCAHashing",
    "PCAH",
    False,
    "signs of the top centred principal components",
    "J. Wang, S. Kumar and S.-F. Chang. Semi-supervised hashing for large-scale search. TPAMI 2012",
)
_simple(
    "itq",
    "hashlearn.hashers.pca",
    "IterativeQuantization",
    "ITQ",
    False,
    "principal components rotated to minimise the quantisation loss; parameters: n_iter",
    "Y. Gong and S. Lazebnik. Iterative quantization: a Procrustean approach to learning "
    "binary codes. CVPR 2011",
)
_simple(
    "isoh",
    "hashlearn.hashers.isotropic",
    "IsotropicHashing",
    "IsoHash",
    False,
    "principal components rotated to equal variances; parameters: method",
    "W. Kong and W.-J. Li. Isotropic hashing. NIPS 2012",
)
_simple(
    "sh",
    "hashlearn.hashers.spectral",
    "SpectralHashing",
    "SH",
    False,
    "analytical Laplacian eigenfunctions along the principal directions",
    "Y. Weiss, A. Torralba and R. Fergus. Spectral hashing. NIPS 2008",
)
_simple(
    "agh",
    "hashlearn.hashers.anchor_graph",
    "AnchorGraphHashing",
    "AGH",
    False,
    "spectral embedding of an anchor graph; parameters: n_anchors, n_nearest_anchors, sigma, "
    "n_layers=1|2",
    "W. Liu, J. Wang, S. Kumar and S.-F. Chang. Hashing with graphs. ICML 2011",
)
_simple(
    "sth",
    "hashlearn.hashers.sth",
    "SelfTaughtHashing",
    "STH",
    False,
    "Self-Taught Hashing: median-thresholded Laplacian eigenmap of a k-nearest-neighbour "
    "graph, predicted for new points by one linear SVM per bit; takes sparse TF-IDF as it is; "
    "parameters: n_neighbors, metric=cosine|euclidean, sigma, C, n_jobs",
    "D. Zhang, J. Wang, D. Cai and J. Lu. Self-taught hashing for fast similarity search. "
    "SIGIR 2010",
)
# Supervised
_simple(
    "cca-itq",
    "hashlearn.hashers.pca",
    "CCAITQ",
    "ITQ+CCA",
    True,
    "ITQ on the canonical correlation directions of features and labels; parameters: "
    "regularization, n_iter",
    "Y. Gong and S. Lazebnik. Iterative quantization: a Procrustean approach to learning "
    "binary codes. CVPR 2011",
)
_simple(
    "itml-lsh",
    "hashlearn.hashers.metric_lsh",
    "LearnedMetricLSH",
    "LSH + ITML",
    True,
    "sign random projections in a metric learned by ITML from the labels",
    "P. Jain, B. Kulis and K. Grauman. Fast image search for learned metrics. CVPR 2008 "
    "(ITML: J. V. Davis, B. Kulis, P. Jain, S. Sra and I. S. Dhillon, ICML 2007)",
)
_simple(
    "bre",
    "hashlearn.hashers.bre",
    "BinaryReconstructiveEmbedding",
    "BRE",
    True,
    "kernel hash functions fitted so Hamming distances reconstruct the target distances "
    "(0/1 label disagreements when supervised); parameters: kernel, gamma, centre, n_anchors, "
    "n_iter, max_samples",
    "B. Kulis and T. Darrell. Learning to hash with binary reconstructive embeddings. NIPS 2009",
)
_simple(
    "ksh",
    "hashlearn.hashers.ksh",
    "KernelSupervisedHashing",
    "KSH",
    True,
    "kernel hash functions fitted to the label similarities by code inner products; "
    "parameters: n_anchors, sigma, max_iter, tol",
    "W. Liu, J. Wang, R. Ji, Y.-G. Jiang and S.-F. Chang. Supervised hashing with kernels. "
    "CVPR 2012",
)
_simple(
    "sdh",
    "hashlearn.hashers.sdh",
    "SupervisedDiscreteHashing",
    "SDH",
    True,
    "discrete codes that linearly predict the labels, learned by discrete cyclic coordinate "
    "descent; parameters: n_anchors, sigma, nu, reg_lambda, reg_projection, n_iter",
    "F. Shen, C. Shen, W. Liu and H. T. Shen. Supervised discrete hashing. CVPR 2015",
)

# Deep (the [deep] extra: torch is imported when the method is fitted, not when listed)
_DEEP_PARAMETERS = (
    "backbone=auto|dsh-cnn|fast-cnn|mlp|alexnet|vgg16|resnet18|resnet50, width, weights, "
    "epochs, batch_size, learning_rate, validation_fraction, patience, device"
)
_simple(
    "dsh",
    "hashlearn.hashers.deep.estimators",
    "DeepSupervisedHashing",
    "DSH",
    True,
    "Deep Supervised Hashing: a network trained on label pairs with a margin loss and a "
    f"+-1 regulariser; parameters: margin, alpha, {_DEEP_PARAMETERS}",
    "H. Liu, R. Wang, S. Shan and X. Chen. Deep supervised hashing for fast image retrieval. "
    "CVPR 2016",
)
_DEEP = "hashlearn.hashers.deep.estimators"
_simple(
    "hashnet",
    _DEEP,
    "HashNet",
    "HashNet",
    True,
    "HashNet: tanh(beta h) codes with beta raised during training (continuation) and a "
    f"weighted pairwise likelihood; parameters: alpha, beta_init, gamma, power, step_size, "
    f"{_DEEP_PARAMETERS}",
    "Z. Cao, M. Long, J. Wang and P. S. Yu. HashNet: deep learning to hash by continuation. "
    "ICCV 2017",
)
_simple(
    "dpsh",
    _DEEP,
    "DeepPairwiseSupervisedHashing",
    "DPSH",
    True,
    "Deep Pairwise-Supervised Hashing: pairwise likelihood of every batch against every "
    f"training point, plus quantisation; parameters: eta, {_DEEP_PARAMETERS}",
    "W.-J. Li, S. Wang and W.-C. Kang. Feature learning based deep supervised hashing with "
    "pairwise labels. IJCAI 2016",
)
_simple(
    "csq",
    _DEEP,
    "CentralSimilarityQuantization",
    "CSQ",
    True,
    "Central Similarity Quantization: every class a hash centre (Hadamard or random), "
    f"points pulled to theirs; parameters: lambda_q, {_DEEP_PARAMETERS}",
    "L. Yuan, T. Wang, X. Zhang, F. E. H. Tay, Z. Jie, W. Liu and J. Feng. Central "
    "similarity quantization for efficient image and video retrieval. CVPR 2020",
)
_simple(
    "bihalf",
    _DEEP,
    "BiHalfHashing",
    "Bi-half",
    False,
    "Bi-half (unsupervised): each bit split half-half within a batch, code similarities "
    f"fitted to the inputs'; parameters: gamma, {_DEEP_PARAMETERS}",
    "Y. Li and J. van Gemert. Deep unsupervised image hashing by maximizing bit entropy. AAAI 2021",
)
_simple(
    "greedyhash",
    _DEEP,
    "GreedyHash",
    "GreedyHash",
    True,
    "GreedyHash: sign forward, straight-through backward; a classifier on the codes "
    f"(supervised=false: input similarities, y unused); parameters: alpha, supervised, "
    f"{_DEEP_PARAMETERS}",
    "S. Su, C. Zhang, K. Han and Y. Tian. Greedy hash: towards fast optimization for "
    "accurate hash coding in CNN. NeurIPS 2018",
)

# Stacked RBMs (the [deep] extra for fitting; their encoders are numpy arrays)
_RBM_PARAMETERS = (
    "pretrain_epochs, finetune_epochs, batch_size, learning_rate, momentum, weight_decay, "
    "finetune_learning_rate, device"
)
_simple(
    "srbm",
    "hashlearn.hashers.deep.rbm",
    "SemanticHashing",
    "S-RBM",
    False,
    "Semantic hashing: stacked RBMs over word counts or TF-IDF (replicated-softmax or "
    "constrained-Poisson bottom), unrolled into an autoencoder fine-tuned with noise on the "
    f"code layer; parameters: bottom, hidden (e.g. 500-500), noise_std, {_RBM_PARAMETERS}",
    "R. Salakhutdinov and G. Hinton. Semantic hashing. International Journal of Approximate "
    "Reasoning 2009",
)
_simple(
    "rbm",
    "hashlearn.hashers.deep.rbm",
    "RBMHashing",
    "RBM",
    True,
    "stacked RBMs on standardised features (Gaussian bottom), fine-tuned with mini-batch NCA "
    f"on the code layer when labels are given; parameters: hidden (e.g. 512-256), "
    f"{_RBM_PARAMETERS}",
    "A. Torralba, R. Fergus and Y. Weiss. Small codes and large image databases for "
    "recognition. CVPR 2008",
)


def _text_method(name: str, class_name: str, label: str, description: str, paper: str) -> None:
    """VDSH and NASH: unsupervised unless ``supervised=true`` (then labelled ``-S``)."""

    def build(n_bits: int, random_state: int, **params: Any) -> Any:
        from hashlearn.hashers.deep import text

        return _construct(getattr(text, class_name), n_bits, random_state, params, method=name)

    def method_label(params: Mapping[str, Any]) -> str:
        supervised = str(params.get("supervised", False)).lower() == "true"
        noise = str(params.get("noise", "data")).lower()
        variant = (
            {"data": "-DN", "fixed": "-N", "none": ""}.get(noise, "") if name == "nash" else ""
        )
        return f"{label}{variant}{'-S' if supervised else ''}"

    register_method(
        MethodInfo(
            name=name,
            build=build,
            label=method_label,
            # Labels are offered; only supervised=true uses them.
            supervised=True,
            description=description,
            paper=paper,
        )
    )


_TEXT_PARAMETERS = (
    "supervised, alpha, beta, reconstruct (presence|weights), epochs, batch_size, "
    "learning_rate, validation_fraction, patience, width, device"
)
_text_method(
    "vdsh",
    "VDSH",
    "VDSH",
    "Variational Deep Semantic Hashing (documents): a Gaussian VAE over the words, each "
    f"bit the latent mean at its training median; parameters: {_TEXT_PARAMETERS}",
    "S. Chaidaroon and Y. Fang. Variational deep semantic hashing for text documents. SIGIR 2017",
)
_text_method(
    "nash",
    "NASH",
    "NASH",
    "NASH (documents): Bernoulli codes as a VAE's latent variable, straight-through "
    "sampling, noise before decoding (noise=data|fixed|none: NASH-DN, NASH-N, NASH); "
    f"parameters: noise, noise_std, {_TEXT_PARAMETERS}",
    "D. Shen, Q. Su, P. Chapfuwa, W. Wang, G. Wang, L. Carin and R. Henao. NASH: toward "
    "end-to-end neural architecture for generative semantic hashing. ACL 2018",
)


def format_methods() -> str:
    """One line per registered method (name, kind, label, description), then its paper.

    What ``hashlearn methods`` prints.
    """
    lines = []
    for info in METHODS.values():
        kind = "supervised" if info.supervised else "unsupervised"
        lines.append(f"{info.name:<10} {kind:<13} {info.label({}):<22} {info.description}")
        if info.paper:
            lines.append(f"{'':<47} {info.paper}")
    return "\n".join(lines)
