"""Text corpora: folder, JSON Lines and CSV layouts, their errors, features and cache."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from hashlearn.datasets import text_corpus
from hashlearn.datasets.text_corpus import (
    TextFeaturizer,
    is_text_corpus,
    load_text_corpus,
    read_text_corpus,
    word_counts,
)


def write_folder(root: Path, documents, split=None) -> Path:
    """One file per document under ``root[/split]/<topic>/``."""
    for number, (topic, text) in enumerate(documents):
        folder = root / split / topic if split else root / topic
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{number:04d}.txt").write_text(text, encoding="utf-8")
    return root


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --------------------------------------------------------------------------- layouts


def test_folder_layout_order_labels_and_skipped_files(tmp_path, topic_documents):
    root = write_folder(tmp_path / "corpus", topic_documents(4))
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: x")  # a hidden folder is no class
    (root / "space" / ".DS_Store").write_text("junk")  # hidden files are skipped
    (root / "README.txt").write_text("not in a class")  # beside the classes: skipped
    (root / "sport" / "more").mkdir()
    (root / "sport" / "more" / "a.txt").write_text("nested goal match")  # belongs to sport
    corpus = read_text_corpus(root)
    assert corpus.class_names == ("food", "space", "sport")
    assert corpus.n_train is None and corpus.labels.dtype == np.int64
    assert corpus.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 5
    # Class by class, files sorted by relative path ("0002.txt" < "more/a.txt").
    assert corpus.documents[-1] == "nested goal match"
    assert corpus.documents[0] == topic_documents(4)[0][1]
    assert not any(text in ("junk", "not in a class", "ref: x") for text in corpus.documents)


def test_folder_with_train_and_test_is_the_official_split(tmp_path, topic_documents):
    documents = topic_documents(5)
    root = write_folder(tmp_path / "corpus", documents[:9], split="train")
    write_folder(root, documents[9:], split="test")
    corpus = read_text_corpus(root)
    assert corpus.n_train == 9 and len(corpus.documents) == 15
    assert set(corpus.documents[:9]) == {text for _, text in documents[:9]}


def test_jsonl_labels_split_and_multi_label(tmp_path):
    rows = [
        {"text": "alpha beta", "label": 10, "split": "test"},
        {"text": "gamma delta", "label": 2, "split": "train"},
        {"text": "beta gamma", "label": "10", "split": "TRAIN"},
    ]
    corpus = read_text_corpus(write_jsonl(tmp_path / "a.jsonl", rows))
    # Integer names sort as numbers; training documents come first, in file order.
    assert corpus.class_names == ("2", "10")
    assert corpus.n_train == 2 and corpus.documents == ("gamma delta", "beta gamma", "alpha beta")
    assert corpus.labels.tolist() == [0, 1, 1]
    multi = [
        {"text": "rocket goal", "label": ["space", "sport"]},
        {"text": "rocket", "label": "space"},
        {"text": "bread", "label": ["food"]},
    ]
    corpus = read_text_corpus(write_jsonl(tmp_path / "m.jsonl", multi))
    assert corpus.class_names == ("food", "space", "sport")
    assert corpus.labels.dtype == np.uint8
    assert corpus.labels.tolist() == [[0, 1, 1], [0, 1, 0], [1, 0, 0]]


def test_csv_quoting_multi_label_split_and_bom(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        ["Text", "label", "split"],
        [
            ["a long text, with a comma\nand a line break", "space|sport", "train"],
            ["bread and butter", "food", "test"],
            ["goal", " sport ", "train"],
        ],
    )
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as a spreadsheet saves it
    corpus = read_text_corpus(path)
    assert corpus.class_names == ("food", "space", "sport")
    assert corpus.n_train == 2 and corpus.documents[1] == "goal"
    assert corpus.labels.tolist() == [[0, 1, 1], [0, 0, 1], [1, 0, 0]]
    assert corpus.documents[0].startswith("a long text, with a comma\n")


def test_which_paths_are_text(tmp_path):
    numeric = tmp_path / "n.csv"
    numeric.write_text("f1,f2,label\n0.5,1.0,1\n")
    text = write_csv(tmp_path / "t.csv", ["label", "text"], [["a", "b"]])
    assert is_text_corpus(tmp_path) and is_text_corpus(text)
    assert is_text_corpus(tmp_path / "x.jsonl")
    assert not is_text_corpus(numeric) and not is_text_corpus(tmp_path / "x.npz")


def test_other_encodings(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_bytes(
        b'{"text": "caf\xe9 cr\xe8me", "label": "a"}\n{"text": "the cake", "label": "b"}\n'
    )
    with pytest.raises(ValueError, match=r"l\.jsonl: line 1 \(byte 13\) is not valid utf-8"):
        read_text_corpus(path)
    assert read_text_corpus(path, encoding="latin-1").documents[0] == "café crème"


# --------------------------------------------------------------------------- errors


def _jsonl(tmp_path, text):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(text)
    return path


def _csv(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: _jsonl(p, b'{"text": "a b", "label": 1}\n{"text": "x", "label": 2\n'),
            r"bad\.jsonl line 2 is not valid JSON",
        ),
        (
            lambda p: _jsonl(p, b'{"text": "a", "label": 1}\n\n{"label": 2}\n'),
            r"bad\.jsonl line 3 has no 'text' field",
        ),
        (
            lambda p: _jsonl(p, b'{"text": "a", "label": 1}\n{"text": "b"}\n'),
            r"bad\.jsonl line 2 has no 'label' field",
        ),
        (
            lambda p: _jsonl(p, b'{"text": "a", "label": 1}\n{"text": "  ", "label": 2}\n'),
            r"bad\.jsonl line 2: the text is empty",
        ),
        (
            lambda p: _jsonl(p, b'{"text": "a", "label": 1}\n{"text": "b\xff", "label": 2}\n'),
            r"bad\.jsonl: line 2 \(byte 37\) is not valid utf-8.*--text-encoding latin-1",
        ),
        (lambda p: _jsonl(p, b"[1, 2]\n"), r"bad\.jsonl line 1 must be a JSON object"),
        (
            lambda p: _jsonl(p, b'{"text": "a", "label": true}\n'),
            r"bad\.jsonl line 1: label must be a string or an int",
        ),
        (
            lambda p: _jsonl(p, b'{"text": "a", "label": []}\n'),
            r"bad\.jsonl line 1: label is an empty list",
        ),
        (
            lambda p: _jsonl(p, b'{"text": "a", "label": 1, "split": "dev"}\n'),
            r"bad\.jsonl line 1: split must be 'train' or 'test', got 'dev'",
        ),
        (
            lambda p: _jsonl(
                p, b'{"text": "a", "label": 1, "split": "train"}\n{"text": "b", "label": 2}\n'
            ),
            r"bad\.jsonl line 2: some lines have a split field and others not",
        ),
        (
            lambda p: _jsonl(
                p,
                b'{"text": "a", "label": 1, "split": "train"}\n'
                b'{"text": "b", "label": 2, "split": "train"}\n',
            ),
            r"every document is in the train split",
        ),
        (
            lambda p: _jsonl(p, b'{"text": "a", "label": 1}\n{"text": "b", "label": "1"}\n'),
            r"bad\.jsonl: every document has the label '1'.*at least 2 classes",
        ),
        (
            lambda p: _csv(p, b"document,category\nhello,a\n"),
            r"bad\.csv line 1 must be a header naming the columns text and label",
        ),
        (
            lambda p: _csv(p, b'text,label\n"one\ntwo",a\n,b\n'),
            r"bad\.csv line 4: the text is empty",
        ),
        (
            lambda p: _csv(p, b"text,label\nhello,a\nworld,\n"),
            r"bad\.csv line 3: the label is empty",
        ),
        (
            lambda p: _csv(p, b"text,label\nhello,a\nworld,b,extra\n"),
            r"bad\.csv line 3 has 3 cells but the header has 2",
        ),
        (
            lambda p: _csv(p, b"text,label\nhello,a\nw\xe9rld,b\n"),
            r"bad\.csv: line 3 \(byte 20\) is not valid utf-8",
        ),
    ],
)
def test_bad_files_name_the_file_and_line(tmp_path, make, message):
    with pytest.raises(ValueError, match=message):
        read_text_corpus(make(tmp_path))


def test_bad_folders(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "doc.txt").write_text("no class folder")
    with pytest.raises(ValueError, match=r"flat has no class sub-folders"):
        read_text_corpus(flat)
    root = write_folder(tmp_path / "c", [("a", "one two"), ("b", "three four")])
    (root / "b" / "empty.txt").write_text(" \n")
    with pytest.raises(ValueError, match=r"b/empty\.txt: the document is empty"):
        read_text_corpus(root)
    (root / "b" / "empty.txt").write_bytes(b"caf\xe9")
    with pytest.raises(ValueError, match=r"b/empty\.txt: byte 3 is not valid utf-8"):
        read_text_corpus(root)
    single = write_folder(tmp_path / "single", [("only", "one two"), ("only", "three")])
    with pytest.raises(ValueError, match=r"every document has the label 'only'"):
        read_text_corpus(single)


def test_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="text corpus not found"):
        read_text_corpus(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="encoding must be a codec Python knows"):
        read_text_corpus(tmp_path, encoding="no-such-codec")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ValueError, match=r"a folder, a \.jsonl or a \.csv file, got a\.txt"):
        read_text_corpus(tmp_path / "a.txt")
    with pytest.raises(ValueError, match="features must be one of tfidf, counts"):
        TextFeaturizer("bm25")
    with pytest.raises(ValueError, match="max_features must be >= 1, got 0"):
        TextFeaturizer(max_features=0)
    with pytest.raises(TypeError, match="min_df must be an int"):
        TextFeaturizer(min_df=1.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- features


def test_vocabulary_and_idf_come_from_training_documents_only(tmp_path, topic_documents):
    documents = topic_documents(20)
    train_rows = [{"text": text, "label": topic, "split": "train"} for topic, text in documents]
    test_rows = [
        {"text": "zyzzyva quokka", "label": "space", "split": "test"},  # test-only words
        {"text": "rocket orbit zyzzyva", "label": "space", "split": "test"},
        {"text": "bread cheese", "label": "food", "split": "test"},
    ]
    path = write_jsonl(tmp_path / "corpus.jsonl", test_rows + train_rows)
    dataset = load_text_corpus(path, min_df=1)
    assert dataset.n_train == 60 and dataset.X.shape[0] == 63
    assert sp.isspmatrix_csr(dataset.X) and dataset.X.dtype == np.float32
    # The same as scikit-learn's vectorizer fitted on the training documents only.
    train_texts = [text for _, text in documents]
    reference = TfidfVectorizer(stop_words="english", min_df=1, dtype=np.float32)
    expected = reference.fit(train_texts).transform(train_texts + [r["text"] for r in test_rows])
    assert "zyzzyva" not in reference.vocabulary_
    assert dataset.X.shape == expected.shape
    np.testing.assert_allclose(dataset.X.toarray(), expected.toarray(), atol=1e-6)
    assert dataset.X[60].nnz == 0  # made of test-only words: nothing left
    counts, vocabulary = word_counts(read_text_corpus(path).documents)
    kept = set(vocabulary[TextFeaturizer(min_df=1).terms(counts, np.arange(60))])
    assert "zyzzyva" in vocabulary and "zyzzyva" not in kept and "rocket" in kept


def test_without_a_split_every_document_is_fitted(tmp_path, topic_documents):
    documents = topic_documents(10)
    root = write_folder(tmp_path / "corpus", documents)
    dataset = load_text_corpus(root, features="counts", min_df=3)
    texts = read_text_corpus(root).documents
    reference = CountVectorizer(stop_words="english", min_df=3).fit(texts)
    assert dataset.n_train is None
    np.testing.assert_array_equal(dataset.X.toarray(), reference.transform(texts).toarray())
    assert "fitted on every document" in dataset.source


def test_max_features_keeps_the_most_frequent_training_terms():
    # Column frequencies over the training rows 0 and 1: 5, 3, 3, 1; row 2 is a test row.
    counts = sp.csr_matrix([[4, 1, 2, 1, 0], [1, 2, 1, 0, 0], [0, 0, 0, 0, 9]])
    train = np.array([0, 1])
    assert TextFeaturizer(max_features=1, min_df=1).terms(counts, train).tolist() == [0]
    # A tie at the cut goes to the column first in vocabulary order.
    assert TextFeaturizer(max_features=2, min_df=1).terms(counts, train).tolist() == [0, 1]
    assert TextFeaturizer(max_features=None, min_df=2).terms(counts, train).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="no term occurs in min_df=3 of the 2 training"):
        TextFeaturizer(min_df=3).terms(counts, train)
    weights = TextFeaturizer(max_features=None, min_df=1).fit_transform(counts, train)
    assert weights.shape == (3, 4) and weights[2].nnz == 0
    np.testing.assert_allclose(np.linalg.norm(weights[:2].toarray(), axis=1), 1, rtol=1e-6)


def test_word_counts_are_cached(tmp_path, topic_documents, cache, monkeypatch):
    root = write_folder(tmp_path / "corpus", topic_documents(5))
    first = load_text_corpus(root)
    assert len(list(cache.glob("text-corpus-counts-*.npz"))) == 1

    def no_refit(self, *args, **kwargs):
        raise AssertionError("the word counts were computed again")

    with monkeypatch.context() as patch:
        patch.setattr(CountVectorizer, "fit_transform", no_refit)
        again = load_text_corpus(root, max_features=5)  # other features, the same counts
        assert again.X.shape[1] == 5
        assert (load_text_corpus(root).X != first.X).nnz == 0
        # Another document is another key: the counts are computed again.
        (root / "food" / "extra.txt").write_text("garlic bread")
        with pytest.raises(AssertionError, match="computed again"):
            load_text_corpus(root)
    assert load_text_corpus(root).X.shape[0] == 16
    assert len(list(cache.glob("text-corpus-counts-*.npz"))) == 2


def test_a_damaged_cache_is_rebuilt(tmp_path, topic_documents, cache):
    root = write_folder(tmp_path / "corpus", topic_documents(3))
    expected = load_text_corpus(root).X
    (cached,) = cache.glob("text-corpus-counts-*.npz")
    cached.write_bytes(b"not a zip")
    with pytest.warns(RuntimeWarning, match="ignoring the damaged cache file"):
        rebuilt = load_text_corpus(root).X
    assert (rebuilt != expected).nnz == 0


def test_only_stop_words(tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl", [{"text": "the and of", "label": "a"}, {"text": "a", "label": "b"}]
    )
    with pytest.raises(ValueError, match=r"s\.jsonl: no document has a word"):
        load_text_corpus(path)


def test_counts_cache_key_changes_with_the_tokenizer(monkeypatch):
    key = text_corpus._counts_key(["a b", "c d"])
    monkeypatch.setitem(text_corpus._TOKENIZER, "lowercase", False)
    assert text_corpus._counts_key(["a b", "c d"]) != key
