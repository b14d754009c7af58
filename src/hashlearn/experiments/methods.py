"""The method registry: benchmark names -> hashers, with the labels of the papers' tables.

A method spec (``"grh:kernel=rbf,alpha=0.9"``, see :mod:`hashlearn.experiments.specs`)
names a registered method and its parameters. :func:`build_method` turns it into an
unfitted hasher for a code length and a seed; :func:`method_label` gives the row name the
published tables use (``"GRH RBF, LSH init"``), which is how records find their anchors.

New methods register with :func:`register_method`; parameters not handled by the entry's
own builder are passed to the hasher's constructor, and an unknown one is an error that
lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hashlearn.experiments.specs import format_spec, parse_spec

__all__ = [
    "METHODS",
    "MethodInfo",
    "ResolvedMethod",
    "build_method",
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
        One line for ``hashlearn bench --list-methods`` and the docs.
    """

    name: str
    build: Callable[..., Any]
    label: Callable[[Mapping[str, Any]], str]
    supervised: bool
    description: str


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
    return ResolvedMethod(METHODS[key], params)


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


def _construct(cls: type, n_bits: int, random_state: int, params: Mapping[str, Any]) -> Any:
    valid = set(cls().get_params()) - {"n_bits", "random_state"}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no parameter {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(valid))}"
        )
    return cls(n_bits=n_bits, random_state=random_state, **params)


# --------------------------------------------------------------------------------------
# Built-in methods
# --------------------------------------------------------------------------------------


def _build_lsh(n_bits: int, random_state: int, **params: Any) -> Any:
    from hashlearn.hashers import SignRandomProjection

    return _construct(SignRandomProjection, n_bits, random_state, params)


_GRH_KERNELS = ("linear", "rbf")
_GRH_INITS = ("lsh", "cca")


def _grh_choice(params: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = params.get(key, allowed[0])
    if value not in allowed:
        raise ValueError(f"grh: {key} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _build_grh(n_bits: int, random_state: int, **params: Any) -> Any:
    from sklearn.svm import SVC, LinearSVC

    from hashlearn.hashers import GraphRegularisedHashing

    params = dict(params)
    kernel = _grh_choice(params, "kernel", _GRH_KERNELS)
    init = _grh_choice(params, "init", _GRH_INITS)
    C = float(params.pop("C", 1.0))
    gamma = params.pop("gamma", "scale")
    params.pop("kernel", None)
    params.pop("init", None)
    if kernel == "linear":
        if gamma != "scale":
            raise ValueError("grh: gamma applies to kernel=rbf only")
        classifier: Any = LinearSVC(C=C, class_weight="balanced")
    else:
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
        {**params, "classifier": classifier, "init": init_hasher},
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
        description="sign random projections (Charikar 2002); parameters: centre",
    )
)
register_method(
    MethodInfo(
        name="grh",
        build=_build_grh,
        label=_grh_label,
        supervised=True,
        description=(
            "Graph Regularised Hashing (Moran & Lavrenko 2015); parameters: kernel=linear|rbf, "
            "init=lsh|cca, C, gamma, alpha, n_iter, n_jobs"
        ),
    )
)


def _simple(
    name: str,
    module: str,
    class_name: str,
    label: str,
    supervised: bool,
    description: str,
) -> MethodInfo:
    """A method whose spec parameters are its hasher's constructor arguments."""

    def build(n_bits: int, random_state: int, **params: Any) -> Any:
        import importlib

        cls = getattr(importlib.import_module(module), class_name)
        return _construct(cls, n_bits, random_state, params)

    return register_method(
        MethodInfo(
            name=name,
            build=build,
            label=lambda params: label,
            supervised=supervised,
            description=description,
        )
    )


_simple(
    "pcah",
    "hashlearn.hashers.pca",
    "PCAHashing",
    "PCAH",
    False,
    "PCA hashing: signs of the top principal components (Wang, Kumar & Chang 2012)",
)
_simple(
    "itq",
    "hashlearn.hashers.pca",
    "IterativeQuantization",
    "ITQ",
    False,
    "iterative quantization (Gong & Lazebnik 2011); parameters: n_iter",
)
_simple(
    "cca-itq",
    "hashlearn.hashers.pca",
    "CCAITQ",
    "ITQ+CCA",
    True,
    "ITQ on CCA directions of the labels (Gong & Lazebnik 2011); parameters: "
    "regularization, n_iter",
)
_simple(
    "sh",
    "hashlearn.hashers.spectral",
    "SpectralHashing",
    "SH",
    False,
    "spectral hashing, analytical eigenfunctions (Weiss, Torralba & Fergus 2008)",
)
_simple(
    "agh",
    "hashlearn.hashers.anchor_graph",
    "AnchorGraphHashing",
    "AGH",
    False,
    "anchor graph hashing (Liu, Wang, Kumar & Chang 2011); parameters: n_anchors, "
    "n_nearest_anchors, sigma, n_layers=1|2",
)
_simple(
    "ksh",
    "hashlearn.hashers.ksh",
    "KernelSupervisedHashing",
    "KSH",
    True,
    "kernel-based supervised hashing (Liu, Wang, Ji, Jiang & Chang 2012); parameters: "
    "n_anchors, sigma, max_iter, tol",
)
_simple(
    "sdh",
    "hashlearn.hashers.sdh",
    "SupervisedDiscreteHashing",
    "SDH",
    True,
    "supervised discrete hashing (Shen, Shen, Liu & Shen 2015); parameters: n_anchors, "
    "sigma, nu, reg_lambda, reg_projection, n_iter",
)
