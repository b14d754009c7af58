"""Deep hashers: a backbone network trained end to end with a hashing loss (``[deep]`` extra).

Every deep hasher is a scikit-learn estimator like the classic ones (``fit(X, y)``,
``encode``, ``transform``, ``save`` / :func:`hashlearn.load` with the weights as arrays,
no pickle), so ``hashlearn bench``, records and reports take them unchanged. ``X`` is
uint8 images or float feature vectors. One trainer (:mod:`~hashlearn.hashers.deep.trainer`)
trains them all: seeded, on any device, with a validation split carved from the training
data, early stopping, checkpoints and a training curve.

* :class:`DeepSupervisedHashing` (``DSH``): Liu et al., CVPR 2016.
* :class:`HashNet`: Cao et al., ICCV 2017 (continuation).
* :class:`DeepPairwiseSupervisedHashing` (``DPSH``): Li et al., IJCAI 2016.
* :class:`CentralSimilarityQuantization` (``CSQ``): Yuan et al., CVPR 2020 (hash centres).
* :class:`BiHalfHashing` (``BiHalf``): Li and van Gemert, AAAI 2021 (unsupervised).
* :class:`GreedyHash`: Su et al., NeurIPS 2018 (supervised or unsupervised).
* :class:`VDSH`: Chaidaroon and Fang, SIGIR 2017 (documents; unsupervised or supervised).
* :class:`NASH`: Shen et al., ACL 2018 (documents; unsupervised or supervised).

Stacked restricted Boltzmann machines (:mod:`hashlearn.hashers.deep.rbm`), pretrained by
contrastive divergence and fine-tuned, with their own loops and a numpy encoder:

* :class:`SemanticHashing`: Salakhutdinov and Hinton, IJAR 2009 (word counts, TF-IDF).
* :class:`RBMHashing`: Torralba, Fergus and Weiss, CVPR 2008 (GIST; NCA with labels).

Each method is a loss module (:mod:`hashlearn.hashers.deep.losses`) plus defaults; the
backbones are in :mod:`hashlearn.hashers.deep.backbones`.

Importing this package does not import torch; fitting, encoding and loading do, and
raise an ImportError naming ``pip install 'hashlearn[deep]'`` without it.
"""

from hashlearn.hashers.deep.estimators import (
    CSQ,
    DPSH,
    DSH,
    BiHalf,
    BiHalfHashing,
    CentralSimilarityQuantization,
    DeepHasher,
    DeepPairwiseSupervisedHashing,
    DeepSupervisedHashing,
    GreedyHash,
    HashNet,
)
from hashlearn.hashers.deep.rbm import RBMHashing, SemanticHashing
from hashlearn.hashers.deep.text import NASH, VDSH

__all__ = [
    "CSQ",
    "DPSH",
    "DSH",
    "NASH",
    "VDSH",
    "BiHalf",
    "BiHalfHashing",
    "CentralSimilarityQuantization",
    "DeepHasher",
    "DeepPairwiseSupervisedHashing",
    "DeepSupervisedHashing",
    "GreedyHash",
    "HashNet",
    "RBMHashing",
    "SemanticHashing",
]
