"""A text corpus as ``dataset`` of a benchmark configuration, and sparse arrays in
``run_protocol``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from hashlearn.datasets import load_text_corpus
from hashlearn.experiments import BenchConfig, run_benchmark, run_protocol
from hashlearn.experiments.user_data import load_user_data

PROTOCOL = "grh-cifar10:n_queries=15,n_train=30,n_validation=0"


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topic_documents) -> Path:
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "corpus.jsonl"
    rows = [{"text": text, "label": topic} for topic, text in topic_documents(20)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_a_config_with_a_corpus_learns_features_per_seed(corpus: Path) -> None:
    config = BenchConfig(
        protocol=PROTOCOL,
        methods=("lsh", "itq"),
        bits=(8,),
        seeds=(0,),
        dataset=str(corpus),
        text_features="counts",
        max_features=15,
    )
    records = run_benchmark(config)
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert {r["sizes"]["n_features"] for r in records} == {15}
    assert "word counts (15 terms at most" in records[0]["protocol"]["dataset_source"]
    assert records[0]["config"]["text_features"] == "counts"


def test_text_options_are_checked(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="features must be one of tfidf, counts, got 'bm25'"):
        BenchConfig(protocol=PROTOCOL, methods=("lsh",), text_features="bm25")
    with pytest.raises(ValueError, match="max_features must be >= 1, got 0"):
        BenchConfig(protocol=PROTOCOL, methods=("lsh",), max_features=0)
    with pytest.raises(ValueError, match="text_encoding must be a codec"):
        BenchConfig(protocol=PROTOCOL, methods=("lsh",), text_encoding="klingon")
    no_dataset = BenchConfig(protocol=PROTOCOL, methods=("lsh",), max_features=10)
    with pytest.raises(ValueError, match="apply to a text corpus given as dataset"):
        run_benchmark(no_dataset)
    numbers = tmp_path / "x.npz"
    np.savez(numbers, X=np.eye(4), y=np.arange(4))
    with pytest.raises(ValueError, match="text_features apply to text corpora only"):
        load_user_data(numbers, text_features="counts")
    assert load_user_data(numbers).featurizer is None
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(corpus.read_bytes().replace(b"cheese", b"ch\xe9ese"))
    with pytest.raises(ValueError, match=r"latin\.jsonl: line 1 .* not valid utf-8"):
        load_user_data(latin)
    assert load_user_data(latin, text_encoding="latin-1").dataset.n_samples == 60


def test_run_protocol_takes_sparse_features(corpus: Path) -> None:
    dataset = load_text_corpus(corpus)
    X, y = dataset.X, dataset.y
    assert sp.issparse(X)
    records = run_protocol(X, y, PROTOCOL, ["lsh", "itq"], bits=8, seeds=1, progress=False)
    assert [r["status"] for r in records] == ["ok", "ok"]
    fixed = run_protocol(
        X[:50],
        y[:50],
        "grh-cifar10",
        "lsh",
        bits=8,
        seeds=1,
        X_query=X[50:],
        y_query=y[50:],
        n_train=20,
        n_validation=0,
        progress=False,
    )
    assert fixed[0]["sizes"]["n_queries"] == 10 and fixed[0]["sizes"]["n_database"] == 50


def test_a_corpus_without_a_vocabulary_stops_before_any_record(
    tmp_path: Path, corpus: Path
) -> None:
    # Every word is in one document only: no term reaches min_df=2 training documents.
    path = tmp_path / "unique.jsonl"
    rows = [{"text": f"word{i} other{i}", "label": i % 2} for i in range(40)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = BenchConfig(
        protocol=PROTOCOL, methods=("lsh",), bits=(8,), dataset=str(path), out=str(tmp_path / "r")
    )
    with pytest.raises(ValueError, match="no term occurs in min_df=2 of the 25 training"):
        run_benchmark(config)
    assert not (tmp_path / "r").exists()
