"""Hashers: scikit-learn estimators that learn ``X -> binary codes``.

Every hasher has ``fit(X, y=None)``, ``project(X)`` (real values, one column per bit),
``encode(X)`` (packed codes, see :mod:`hashlearn.codes`) and ``transform(X)`` (0/1 bits).
:class:`HasherStack` concatenates the codes of independently fitted hashers (one group of
bits per hasher, e.g. one per table of a :class:`~hashlearn.index.MultiTableIndex`).

* Data-independent: :class:`SignRandomProjection` (``LSH``), :class:`PStableLSH`,
  :class:`ShiftInvariantKernelLSH` (``SKLSH``), :class:`KernelizedLSH` (``KLSH``).
* Unsupervised: :class:`MedianThresholding`, :class:`PCAHashing` (``PCAH``),
  :class:`IterativeQuantization` (``ITQ``), :class:`IsotropicHashing` (``IsoHash``),
  :class:`SpectralHashing` (``SH``), :class:`AnchorGraphHashing` (``AGH``),
  :class:`SelfTaughtHashing` (``STH``, which also takes sparse TF-IDF).
* Supervised: :class:`CCAITQ` (``CCA_ITQ``), :class:`LearnedMetricLSH` (LSH on an
  :class:`InformationTheoreticMetricLearning` metric), :class:`BinaryReconstructiveEmbedding`
  (``BRE``), :class:`KernelSupervisedHashing` (``KSH``), :class:`SupervisedDiscreteHashing`
  (``SDH``), :class:`GraphRegularisedHashing` (``GRH``).

``hashlearn methods`` lists them with their papers.
"""

from hashlearn.hashers._base import BaseHasher, LinearHasherMixin
from hashlearn.hashers.anchor_graph import AGH, AnchorGraphHashing
from hashlearn.hashers.bre import BRE, BinaryReconstructiveEmbedding
from hashlearn.hashers.grh import GRH, GraphRegularisedHashing, label_affinity, normalise_affinity
from hashlearn.hashers.isotropic import IsoHash, IsotropicHashing
from hashlearn.hashers.ksh import KSH, KernelSupervisedHashing
from hashlearn.hashers.lsh import LSH, SignRandomProjection
from hashlearn.hashers.median import MedianThresholding
from hashlearn.hashers.metric_lsh import ITML, InformationTheoreticMetricLearning, LearnedMetricLSH
from hashlearn.hashers.pca import CCA_ITQ, CCAITQ, ITQ, PCAH, IterativeQuantization, PCAHashing
from hashlearn.hashers.random_lsh import (
    KLSH,
    SKLSH,
    KernelizedLSH,
    PStableLSH,
    ShiftInvariantKernelLSH,
)
from hashlearn.hashers.sdh import SDH, SupervisedDiscreteHashing
from hashlearn.hashers.spectral import SH, SpectralHashing
from hashlearn.hashers.stack import HasherStack
from hashlearn.hashers.sth import STH, SelfTaughtHashing

__all__ = [
    "AGH",
    "BRE",
    "CCAITQ",
    "CCA_ITQ",
    "GRH",
    "ITML",
    "ITQ",
    "KLSH",
    "KSH",
    "LSH",
    "PCAH",
    "SDH",
    "SH",
    "SKLSH",
    "STH",
    "AnchorGraphHashing",
    "BaseHasher",
    "BinaryReconstructiveEmbedding",
    "GraphRegularisedHashing",
    "HasherStack",
    "InformationTheoreticMetricLearning",
    "IsoHash",
    "IsotropicHashing",
    "IterativeQuantization",
    "KernelSupervisedHashing",
    "KernelizedLSH",
    "LearnedMetricLSH",
    "LinearHasherMixin",
    "MedianThresholding",
    "PCAHashing",
    "PStableLSH",
    "SelfTaughtHashing",
    "ShiftInvariantKernelLSH",
    "SignRandomProjection",
    "SpectralHashing",
    "SupervisedDiscreteHashing",
    "label_affinity",
    "normalise_affinity",
]
