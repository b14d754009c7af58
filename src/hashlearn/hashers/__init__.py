"""Hashers: scikit-learn estimators that learn ``X -> binary codes``.

Every hasher has ``fit(X, y=None)``, ``project(X)`` (real values, one column per bit),
``encode(X)`` (packed codes, see :mod:`hashlearn.codes`) and ``transform(X)`` (0/1 bits).
:class:`HasherStack` concatenates the codes of independently fitted hashers (one group of
bits per hasher, e.g. one per table of a :class:`~hashlearn.index.MultiTableIndex`).
"""

from hashlearn.hashers._base import BaseHasher, LinearHasherMixin
from hashlearn.hashers.anchor_graph import AGH, AnchorGraphHashing
from hashlearn.hashers.grh import GRH, GraphRegularisedHashing, label_affinity, normalise_affinity
from hashlearn.hashers.ksh import KSH, KernelSupervisedHashing
from hashlearn.hashers.lsh import LSH, SignRandomProjection
from hashlearn.hashers.pca import CCA_ITQ, CCAITQ, ITQ, PCAH, IterativeQuantization, PCAHashing
from hashlearn.hashers.sdh import SDH, SupervisedDiscreteHashing
from hashlearn.hashers.spectral import SH, SpectralHashing
from hashlearn.hashers.stack import HasherStack

__all__ = [
    "AGH",
    "CCAITQ",
    "CCA_ITQ",
    "GRH",
    "ITQ",
    "KSH",
    "LSH",
    "PCAH",
    "SDH",
    "SH",
    "AnchorGraphHashing",
    "BaseHasher",
    "GraphRegularisedHashing",
    "HasherStack",
    "IterativeQuantization",
    "KernelSupervisedHashing",
    "LinearHasherMixin",
    "PCAHashing",
    "SignRandomProjection",
    "SpectralHashing",
    "SupervisedDiscreteHashing",
    "label_affinity",
    "normalise_affinity",
]
