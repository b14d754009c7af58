"""The protocol registry: every protocol of docs/protocols.md, its splits and preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

from hashlearn.experiments.anchors import find_anchor
from hashlearn.experiments.protocols import (
    PROTOCOLS,
    make_split,
    preprocess,
    resolve_protocol,
)

PUBLISHED = (
    "tutorial",
    "grh-cifar10",
    "grh-mnist",
    "dsh-cifar10",
    "cifar10-1",
    "cifar10-2",
    "mirflickr-tags",
    "20ng-text",
)


def test_every_protocol_of_protocols_md_is_registered() -> None:
    assert set(PUBLISHED) <= set(PROTOCOLS)


def test_grh_cifar10_is_the_papers_setting() -> None:
    protocol = resolve_protocol("grh-cifar10")
    assert (protocol.n_queries, protocol.n_train, protocol.n_validation) == (1000, 1000, 1000)
    assert protocol.query == "balanced" and protocol.bits == (16, 32, 48, 64)
    assert protocol.seeds == 5 and protocol.dataset_name == "cifar10-gist"
    t2000 = resolve_protocol("grh-cifar10:n_train=2000")
    assert t2000.n_train == 2000 and t2000.spec == "grh-cifar10:n_train=2000"
    assert resolve_protocol("grh-cifar10").spec == "grh-cifar10"


def test_resolve_protocol_errors() -> None:
    with pytest.raises(ValueError, match="unknown protocol 'nope'"):
        resolve_protocol("nope")
    with pytest.raises(ValueError, match="no parameter 'bits'"):
        resolve_protocol("grh-cifar10:bits=16")
    with pytest.raises(ValueError, match="must be >= 1"):
        resolve_protocol("grh-cifar10:n_train=0")
    with pytest.raises(TypeError, match="n_train must be an int"):
        resolve_protocol("grh-cifar10:n_train=abc")
    with pytest.raises(ValueError, match="preprocess must be one of"):
        resolve_protocol("grh-cifar10:preprocess=whiten")
    with pytest.raises(ValueError, match="one kind of features"):
        resolve_protocol("grh-mnist:features=gist")
    assert resolve_protocol("cifar10-1:features=gist").dataset_name == "cifar10-gist"


def _labels(n_per_class: int = 300, n_classes: int = 10) -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.permutation(np.repeat(np.arange(n_classes), n_per_class))


def test_balanced_split_rules() -> None:
    labels = _labels()
    protocol = resolve_protocol("grh-cifar10:n_queries=200,n_train=500,n_validation=300")
    split = make_split(protocol, labels, seed=3)
    assert np.array_equal(np.bincount(labels[split.queries]), np.full(10, 20))
    assert np.array_equal(np.bincount(labels[split.train]), np.full(10, 50))
    assert np.array_equal(np.bincount(labels[split.validation]), np.full(10, 30))
    assert np.intersect1d(split.queries, split.database).size == 0
    assert np.union1d(split.queries, split.database).size == labels.size
    assert np.isin(split.train, split.database).all()
    assert np.isin(split.validation, split.database).all()
    assert np.intersect1d(split.train, split.validation).size == 0
    assert split.sizes() == {
        "n_queries": 200,
        "n_database": 2800,
        "n_train": 500,
        "n_validation": 300,
    }
    again = make_split(protocol, labels, seed=3)
    assert all(
        np.array_equal(getattr(split, part), getattr(again, part))
        for part in ("queries", "database", "train", "validation")
    )
    other = make_split(protocol, labels, seed=4)
    assert not np.array_equal(split.queries, other.queries)


def test_balanced_split_remainder_and_shortage() -> None:
    labels = _labels(30, 3)
    split = make_split(resolve_protocol("grh-cifar10:n_queries=10,n_train=20"), labels, 0)
    assert split.queries.size == 10 and np.bincount(labels[split.queries]).min() == 3
    short = np.concatenate([np.zeros(10, dtype=int), np.ones(80, dtype=int)])
    with pytest.raises(ValueError, match="class 0 has 10 rows, 20 needed"):
        make_split(resolve_protocol("grh-cifar10:n_queries=40"), short, 0)


def test_official_split_and_query_sample() -> None:
    labels = _labels(100, 5)
    protocol = resolve_protocol("dsh-cifar10:n_validation=50")
    split = make_split(protocol, labels, 0, n_official_train=400)
    assert np.array_equal(split.database, np.arange(400))
    assert np.array_equal(split.queries, np.arange(400, 500))
    # Training on the database holds the validation rows out of it.
    assert split.validation.size == 50 and np.isin(split.validation, split.database).all()
    assert np.array_equal(split.train, np.setdiff1d(split.database, split.validation))
    assert (
        make_split(resolve_protocol("dsh-cifar10"), labels, 0, n_official_train=400).train.size
        == 400
    )
    sample = make_split(resolve_protocol("20ng-text:n_queries=30"), labels, 0, n_official_train=400)
    assert sample.queries.size == 30 and (sample.queries >= 400).all()
    with pytest.raises(ValueError, match="official train/test split"):
        make_split(protocol, labels, 0)


def test_multilabel_split_is_uniform() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((600, 5)) < 0.3).astype(np.uint8)
    protocol = resolve_protocol("mirflickr-tags:n_queries=100,n_train=200,n_validation=50")
    split = make_split(protocol, labels, 1)
    assert split.sizes()["n_queries"] == 100 and split.sizes()["n_train"] == 200


def test_tutorial_split_is_the_tutorials() -> None:
    from hashlearn.experiments.protocols import tutorial_split

    split = make_split(resolve_protocol("tutorial"), _labels(), seed=9)
    reference = tutorial_split(3000)
    assert np.array_equal(split.queries, np.sort(reference.queries))
    assert np.array_equal(split.train, np.sort(reference.train))


def test_preprocess_uses_training_rows_only() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(50, 4))
    train = np.arange(10)
    centred, _ = preprocess(X, train, "center")
    assert np.allclose(centred[train].mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(centred.mean(axis=0), 0, atol=1e-2)
    normed, stats = preprocess(np.vstack([X, np.zeros((1, 4))]), train, "l2")
    assert np.allclose(np.linalg.norm(normed[:-1], axis=1), 1, atol=1e-5)
    assert stats["n_zero_rows"] == 1 and not normed[-1].any()
    both, _ = preprocess(X, train, "l2-center")
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert np.allclose(both, unit - unit[train].mean(axis=0), atol=1e-5)
    standard, _ = preprocess(X, train, "standardize")
    assert np.allclose(standard[train].std(axis=0), 1, atol=1e-4)
    X32 = X.astype(np.float32)
    assert preprocess(X32, train, "none")[0] is X32
    preprocess(X32, train, "center")
    assert np.allclose(X32, X)  # the input is not modified
    with pytest.raises(ValueError, match="preprocess must be one of"):
        preprocess(X, train, "whiten")


def test_anchors() -> None:
    assert find_anchor("grh-cifar10", {"n_train": 1000}, "LSH", 16) == {
        "source": "GRH paper (Moran & Lavrenko, ECIR 2015), Table 1; GRH paper, Fig. 4 "
        "(read off the figure, +-0.005)",
        "sources": {
            "map": "GRH paper (Moran & Lavrenko, ECIR 2015), Table 1",
            "precision_within_radius_2": "GRH paper, Fig. 4 (read off the figure, +-0.005)",
        },
        "map": 0.1290,
        "precision_within_radius_2": 0.168,
    }
    assert find_anchor("grh-cifar10", {"n_train": 2000}, "GRH RBF, CCA init", 64) == {
        "source": "GRH paper (Moran & Lavrenko, ECIR 2015), Table 1",
        "sources": {"map": "GRH paper (Moran & Lavrenko, ECIR 2015), Table 1"},
        "map": 0.3688,
    }
    assert find_anchor("grh-cifar10", {"n_train": 2000}, "LSH", 16) is None
    assert find_anchor("grh-mnist", {"n_train": 1000}, "GRH linear, LSH init", 32)["map"] == 0.7019
    assert find_anchor("dsh-cifar10", {"n_train": None}, "LSH", 12)["map"] == 0.1277
    assert find_anchor("grh-mnist", {"n_train": 1000}, "LSH", 12) is None


def test_validation_is_never_training_data() -> None:
    labels = _labels(100, 10)
    for spec in (
        "cifar10-2:n_queries=100,n_validation=100",
        "grh-cifar10:n_queries=100,n_train=5000,n_validation=100",
    ):
        split = make_split(resolve_protocol(spec), labels, 0)
        assert split.validation.size == 100
        assert np.intersect1d(split.train, split.validation).size == 0
    # Fewer validation points than classes: still that many, drawn uniformly.
    split = make_split(resolve_protocol("grh-cifar10:n_queries=100,n_validation=5"), labels, 0)
    assert split.validation.size == 5


def test_spec_is_canonical() -> None:
    assert resolve_protocol("grh-cifar10:n_train=1000").spec == "grh-cifar10"
    assert resolve_protocol("dsh-cifar10:query=official").spec == "dsh-cifar10"
