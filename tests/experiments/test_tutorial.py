"""The tutorial protocol: its split, its preprocessing and a full run on digits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from hashlearn.datasets import load_digits_dataset
from hashlearn.experiments import TutorialConfig, preprocess_tutorial, run_tutorial, tutorial_split


def test_split_sizes_match_the_tutorial():
    split = tutorial_split(60_000)
    assert (len(split.queries), len(split.train), len(split.database)) == (120, 1_198, 58_682)
    every = np.concatenate([split.queries, split.train, split.database])
    assert np.array_equal(np.sort(every), np.arange(60_000))


def test_split_selects_the_rows_the_tutorial_selects():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3_000, 4))
    temp, query = train_test_split(data, test_size=0.002, random_state=42)
    database, train = train_test_split(temp, test_size=0.02, random_state=42)
    split = tutorial_split(3_000)
    assert np.array_equal(data[split.queries], query)
    assert np.array_equal(data[split.train], train)
    assert np.array_equal(data[split.database], database)


def test_preprocessing_uses_training_statistics_only():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 6)) + 3.0
    train = np.arange(10)
    features, mean = preprocess_tutorial(X, train)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert np.allclose(features + mean, unit, atol=1e-6)
    assert np.allclose(features[train].mean(axis=0), 0, atol=1e-6)
    X_changed = X.copy()
    X_changed[20:] *= 5.0  # other rows do not move the training mean (after normalising)
    assert np.allclose(preprocess_tutorial(X_changed, train)[1], mean)


@pytest.fixture(scope="module")
def digits_results():
    digits = load_digits_dataset()
    config = TutorialConfig(n_bits=8, max_radius=8, query_size=120, train_size=300)
    return run_tutorial(digits.X, digits.y, config, dataset_name="digits")


def test_full_radius_equals_the_exhaustive_search(digits_results):
    # At radius = n_bits every database item is a candidate: hashing then re-ranking is
    # exactly the exhaustive cosine search.
    exhaustive = digits_results["exhaustive"]["precision_at_k"]
    for method in digits_results["methods"].values():
        assert method["mean_candidates"][-1] == digits_results["dataset"]["n_database"]
        assert method["precision_empty_as_zero"][-1] == pytest.approx(exhaustive)


def test_candidates_grow_with_radius_and_empties_shrink(digits_results):
    for method in digits_results["methods"].values():
        assert np.all(np.diff(method["mean_candidates"]) >= 0)
        assert np.all(np.diff(method["empty_fraction"]) <= 0)


def test_grh_beats_lsh_at_small_radius(digits_results):
    lsh, grh = digits_results["methods"]["lsh"], digits_results["methods"]["grh"]
    assert grh["precision_empty_as_zero"][0] > lsh["precision_empty_as_zero"][0] + 0.2


def test_results_record_everything_needed_to_rerun(digits_results):
    assert digits_results["config"]["n_bits"] == 8
    assert digits_results["dataset"]["n_queries"] == 120
    assert digits_results["environment"]["hashlearn"]
    assert digits_results["methods"]["grh"]["params"]["alpha"] == 1.0
    assert digits_results["peak_memory_mib"] > 0
    stats = digits_results["methods"]["lsh"]["bucket_statistics"]
    assert sum(stats["occupancy_histogram"].values()) == stats["n_buckets"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_bits": 65}, r"n_bits must be in \[1, 64\], got 65"),
        ({"n_bits": 8, "max_radius": 9}, r"max_radius must be in \[0, 8\], got 9"),
        ({"k": 0}, r"k must be in \[1, inf\], got 0"),
        ({"methods": ("pca",)}, "methods must be a non-empty subset"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TutorialConfig(**kwargs)


def test_multilabel_is_refused():
    X = np.random.default_rng(0).normal(size=(200, 4))
    Y = np.zeros((200, 3), dtype=int)
    with pytest.raises(ValueError, match="single-label"):
        run_tutorial(X, Y, TutorialConfig(n_bits=4, max_radius=1, query_size=10, train_size=20))
