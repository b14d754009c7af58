"""20 Newsgroups loader and TF-IDF on a tiny fake archive, error paths, real-data checks."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from hashlearn.datasets import newsgroups
from hashlearn.datasets.newsgroups import (
    load_20newsgroups,
    load_20newsgroups_tfidf,
    newsgroups_tfidf,
    read_20newsgroups,
)

POSTS = {
    "20news-bydate-train/sci.space/2": b"rocket orbit launch moon",
    "20news-bydate-train/sci.space/10": b"orbit shuttle nasa \xe9t\xe9",
    "20news-bydate-train/alt.atheism/5": b"god belief religion",
    "20news-bydate-test/alt.atheism/7": b"belief god atheism",
    "20news-bydate-test/sci.space/9": b"unseenword rocket zzzz",
}


def make_archive(root: Path, posts=POSTS) -> Path:
    """Write ``root/20newsgroups/20news-bydate.tar.gz`` with the given posts."""
    path = root / "20newsgroups" / "20news-bydate.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in posts.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return root


def test_fake_archive_order_and_labels(tmp_path, cache):
    data = make_archive(tmp_path / "data")
    news = load_20newsgroups(data)
    assert news.class_names == ("alt.atheism", "sci.space")
    assert news.n_train == 3 and news.y.dtype == np.int64
    assert news.y.tolist() == [0, 1, 1, 0, 1]
    # Within a group, file names sort as strings (as scikit-learn's load_files does).
    assert news.X[1] == "orbit shuttle nasa été" and news.X[2].startswith("rocket")
    assert news.X[-1] == "unseenword rocket zzzz"
    again = load_20newsgroups(data)  # served from the parsed-posts cache
    assert list(again.X) == list(news.X)
    assert len(list(cache.glob("20newsgroups-docs-*.npz"))) == 1


def test_tfidf_fits_on_training_posts_only(tmp_path, cache):
    news = load_20newsgroups(make_archive(tmp_path / "data"))
    features = newsgroups_tfidf(news, max_features=100)
    assert isinstance(features, np.ndarray) and features.dtype == np.float32
    assert features.shape[0] == 5
    # Words seen only in test posts ("unseenword", "atheism") are not in the vocabulary:
    # the last post keeps only "rocket".
    assert np.count_nonzero(features[-1]) == 1
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)
    sparse = newsgroups_tfidf(news, max_features=100, dense=False)
    np.testing.assert_array_equal(sparse.toarray(), features)
    assert len(list(cache.glob("20newsgroups-tfidf-*.npz"))) == 1
    small = load_20newsgroups_tfidf(tmp_path / "data", max_features=3)
    assert small.X.shape == (5, 3) and small.n_train == 3


@pytest.mark.parametrize("bad", [0, -3])
def test_tfidf_rejects_bad_max_features(tmp_path, bad):
    news = load_20newsgroups(make_archive(tmp_path / "data"))
    with pytest.raises(ValueError, match=f"max_features must be >= 1, got {bad}"):
        newsgroups_tfidf(news, max_features=bad)
    with pytest.raises(TypeError, match="max_features must be an int"):
        newsgroups_tfidf(news, max_features=2.5)  # type: ignore[arg-type]


def test_truncated_archive(tmp_path):
    data = make_archive(
        tmp_path / "data", {f"20news-bydate-train/g/{i}": b"x" * 5000 for i in range(20)}
    )
    path = data / "20newsgroups" / "20news-bydate.tar.gz"
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match=r"truncated or not a valid \.tar\.gz"):
        read_20newsgroups(path)


def test_missing_split_and_group_mismatch(tmp_path):
    only_train = {k: v for k, v in POSTS.items() if "train" in k}
    path = make_archive(tmp_path / "a", only_train) / "20newsgroups" / "20news-bydate.tar.gz"
    with pytest.raises(ValueError, match="no posts under 20news-bydate-test"):
        read_20newsgroups(path)
    odd = {**POSTS, "20news-bydate-test/rec.autos/1": b"car"}
    path = make_archive(tmp_path / "b", odd) / "20newsgroups" / "20news-bydate.tar.gz"
    with pytest.raises(ValueError, match="training split has groups"):
        read_20newsgroups(path)


def test_sha256sums_mismatch(tmp_path):
    data = make_archive(tmp_path / "data")
    (data / "SHA256SUMS").write_text(f"{'1' * 64}  20newsgroups/20news-bydate.tar.gz\n")
    with pytest.raises(ValueError, match="corrupt or not the expected file"):
        load_20newsgroups(data)


def test_unknown_archive_in_cache_is_rejected(cache):
    make_archive(cache)
    with pytest.raises(ValueError, match="not a known 20 Newsgroups archive"):
        load_20newsgroups()


def test_offline_without_data_names_folder_and_variable(tmp_path, cache):
    data = tmp_path / "empty"
    data.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_20newsgroups(data, download=True)
    message = str(info.value)
    assert str(data / "20newsgroups" / "20news-bydate.tar.gz") in message
    assert "HASHLEARN_DATA" in message and "HASHLEARN_OFFLINE is set" in message
    with pytest.raises(FileNotFoundError, match="download=False"):
        load_20newsgroups()
    assert not (cache / newsgroups.FOLDER).exists()


@pytest.mark.realdata
def test_real_20newsgroups(real_data_dir, cache):
    if not (real_data_dir / "20newsgroups" / "20news-bydate.tar.gz").is_file():
        pytest.skip("no 20newsgroups/ in the data directory")
    news = load_20newsgroups(real_data_dir)
    assert news.n_samples == 18846 and news.n_train == 11314
    assert news.n_samples - news.n_train == 7532
    assert len(news.class_names) == 20
    assert news.class_names[0] == "alt.atheism" and news.class_names[-1] == "talk.religion.misc"
    train_counts = np.bincount(news.y[: news.n_train], minlength=20)
    test_counts = np.bincount(news.y[news.n_train :], minlength=20)
    assert train_counts[[0, 1, 10, 19]].tolist() == [480, 584, 600, 377]
    assert test_counts[[0, 1, 10, 19]].tolist() == [319, 389, 399, 251]
    assert news.X[0].startswith("From: mathew <mathew@mantis.co.uk>\nSubject: Alt.Atheism FAQ")
    assert news.X[news.n_train].startswith("From: decay@cbnewsj.cb.att.com (dean.kaflowitz)")
    assert news.X[-1].startswith("From: pharvey@quack.kfu.com (Paul Harvey)")
    features = newsgroups_tfidf(news, max_features=500, dense=False)
    assert features.shape == (18846, 500) and features.dtype == np.float32
