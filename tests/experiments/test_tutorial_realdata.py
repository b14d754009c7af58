"""The whole chain on real CIFAR-10: JPEG -> GIST-512 -> LSH / GRH -> hash table -> P@10.

A 3,000-image subset (every 20th image) keeps it to a few seconds; the full-size run is
``make run`` and its numbers are in docs/tutorial.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from hashlearn.datasets import read_cifar10_jpeg
from hashlearn.experiments import TutorialConfig, run_tutorial
from hashlearn.features import gist_features

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def cifar_subset(real_data_dir):
    folder = real_data_dir / "cifar10"
    arrays = read_cifar10_jpeg(
        folder / "cifar10-jpeg.tar.gz", folder / "cifar10_order.csv", np.arange(0, 60_000, 20)
    )
    return gist_features(arrays.images), arrays.labels


def test_gist_of_real_images_is_finite_and_informative(cifar_subset):
    X, y = cifar_subset
    assert X.shape == (3_000, 512) and X.dtype == np.float32
    assert np.isfinite(X).all()
    assert np.unique(y).tolist() == list(range(10))


def test_grh_beats_lsh_on_real_gist(cifar_subset):
    X, y = cifar_subset
    config = TutorialConfig(n_bits=16, max_radius=3, query_size=100, train_size=600)
    results = run_tutorial(X, y, config, dataset_name="cifar10-gist-subset")
    lsh, grh = results["methods"]["lsh"], results["methods"]["grh"]
    # GIST carries class information: the exhaustive cosine search is far above chance
    assert results["exhaustive"]["precision_at_k"] > 0.2
    for radius in range(4):
        assert grh["precision_empty_as_zero"][radius] > lsh["precision_empty_as_zero"][radius]
