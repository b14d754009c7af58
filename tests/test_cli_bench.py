"""``hashlearn bench`` and ``hashlearn report`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashlearn.cli import main
from hashlearn.records import read_bench_records


@pytest.fixture(scope="module")
def user_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, X=X, y=y)
    return path


def test_bench_then_report_on_a_user_file(
    user_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = [
        "bench",
        "--protocol",
        "grh-cifar10:n_queries=100,n_train=300,n_validation=0",
        "--dataset",
        str(user_file),
        "--methods",
        "lsh",
        "--methods",
        "grh:alpha=1.0",
        "--bits",
        "8,16",
        "--seeds",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "8 record(s) written, 0 failed" in printed
    records = read_bench_records(out)
    assert {r["method"]["spec"] for r in records} == {"lsh", "grh:alpha=1.0"}
    assert {r["seed"] for r in records} == {0, 1}
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    # Rerun: everything is done already.
    assert main(argv) == 0
    assert "0 record(s) written" in capsys.readouterr().out
    assert len(read_bench_records(out)) == 8
    assert main(["report", str(out), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "report.html").is_file()


def test_bench_from_a_config_file(
    user_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        f'protocol = "grh-cifar10:n_queries=100,n_train=300,n_validation=0"\n'
        f'methods = ["lsh", "grh:kernel=nope"]\nbits = [8]\nseeds = 1\n'
        f'dataset = "{user_file}"\nout = "{tmp_path / "run"}"\nsave_models = false\n'
    )
    # A method that cannot even be built is refused before any work.
    assert main(["bench", "--config", str(config), "--no-progress", "--no-report"]) == 2
    assert "kernel must be one of" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    # One that fails while fitting (more anchors than training rows) is recorded as failed;
    # the run goes on, and exits 1.
    config.write_text(config.read_text().replace("grh:kernel=nope", "agh:n_anchors=5000"))
    assert main(["bench", "--config", str(config), "--no-progress", "--no-report"]) == 1
    records = read_bench_records(tmp_path / "run")
    assert [r["status"] for r in records] == ["ok", "failed"]
    assert records[1]["error"]["type"] == "ValueError"
    assert not (tmp_path / "run" / "models").exists()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["methods_resolved"] == ["lsh", "agh:n_anchors=5000"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--methods", "lsh"], "give --protocol"),
        (["bench", "--protocol", "grh-cifar10"], "give --methods"),
        (["bench", "--protocol", "nope", "--methods", "lsh"], "unknown protocol"),
        (["bench", "--protocol", "grh-cifar10", "--methods", "nope"], "unknown method"),
        (["bench", "--protocol", "grh-cifar10", "--methods", "lsh", "--bits", "x"], "bits"),
        (["report", "/nonexistent/run"], "run folder not found"),
        (["bench", "--protocol", "grh-cifar10", "--methods", "lsh", "--seeds", "0"], "seeds"),
        (["bench", "--protocol", "grh-cifar10", "--methods", "lsh,grh:C=1"], "on its own"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_lists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list-protocols"]) == 0
    listed = capsys.readouterr().out
    for name in (
        "tutorial",
        "grh-cifar10",
        "grh-mnist",
        "dsh-cifar10",
        "cifar10-1",
        "cifar10-2",
        "mirflickr-tags",
        "20ng-text",
    ):
        assert name in listed
    assert main(["bench", "--list-methods"]) == 0
    assert "grh" in capsys.readouterr().out
    assert main(["methods"]) == 0
    listed = capsys.readouterr().out
    from hashlearn.experiments.methods import METHODS

    for name, info in METHODS.items():
        assert f"\n{name} " in f"\n{listed}"
        assert info.paper in listed  # each method's paper, on the line below it
    assert "ITQ+CCA" in listed and "Weiss" in listed


def test_bench_on_real_mnist(real_data_dir: Path, tmp_path: Path) -> None:
    """The grh-mnist protocol on the real data, with fewer queries and training points."""
    out = tmp_path / "mnist"
    argv = [
        "bench",
        "--protocol",
        "grh-mnist:n_queries=200,n_train=300,n_validation=100",
        "--methods",
        "lsh,grh",
        "--bits",
        "16",
        "--seeds",
        "1",
        "--data-dir",
        str(real_data_dir),
        "--out",
        str(out),
        "--no-progress",
        "--no-report",
    ]
    assert main(argv) == 0
    lsh, grh = read_bench_records(out)
    assert lsh["sizes"]["n_database"] == 70000 - 200
    assert lsh["anchor"] is None  # n_train differs from the paper's 1,000
    assert 0.12 < lsh["metrics"]["map"] < 0.3
    assert grh["metrics"]["map"] > lsh["metrics"]["map"] + 0.2


# -- text corpora ---------------------------------------------------------------------------


@pytest.fixture
def corpus_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The word counts of text corpora go to a cache of the test's own."""
    monkeypatch.setenv("HASHLEARN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _bench(dataset: Path, out: Path, protocol: str, *options: str) -> list[str]:
    return [
        "bench",
        "--protocol",
        protocol,
        "--dataset",
        str(dataset),
        "--bits",
        "8",
        "--out",
        str(out),
        "--no-progress",
        "--no-report",
        *options,
    ]


def test_bench_then_report_on_a_text_corpus_folder(
    tmp_path: Path, corpus_cache: Path, topic_documents, capsys: pytest.CaptureFixture[str]
) -> None:
    from hashlearn.datasets.text_corpus import TextFeaturizer, read_text_corpus, word_counts
    from hashlearn.experiments.protocols import make_split, resolve_protocol

    root = tmp_path / "corpus"
    for number, (topic, text) in enumerate(topic_documents(40)):
        (root / topic).mkdir(parents=True, exist_ok=True)
        # Each word "pairN" is in two documents: a feature only when both are training rows.
        (root / topic / f"{number:03d}.txt").write_text(f"{text} pair{number // 2}")
    out = tmp_path / "run"
    protocol = "grh-cifar10:n_queries=30,n_train=45,n_validation=0"
    argv = _bench(root, out, protocol, "--methods", "lsh,itq", "--seeds", "2")
    assert main(argv) == 0
    assert "4 record(s) written, 0 failed" in capsys.readouterr().out
    records = read_bench_records(out)
    assert all(r["status"] == "ok" and r["metrics"]["map"] > 0.6 for r in records)
    # Each seed's vocabulary is learned from that seed's training rows (a third of the
    # corpus), so its size is what those rows give, not the whole corpus's.
    corpus = read_text_corpus(root)
    counts, vocabulary = word_counts(corpus.documents)
    for record in records:
        split = make_split(resolve_protocol(protocol), corpus.labels, record["seed"])
        terms = TextFeaturizer().terms(counts, split.train)
        assert record["sizes"]["n_features"] == terms.size < vocabulary.size
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["text_features"] == {"features": "tfidf", "max_features": 10000, "min_df": 2}
    assert "fitted on each split's training rows" in records[0]["protocol"]["dataset_source"]
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    capsys.readouterr()
    # Other features are other data: the finished records do not resume them.
    assert main([*argv, "--max-features", "20"]) == 2
    assert "holds records computed on other data" in capsys.readouterr().err


def test_bench_on_a_jsonl_corpus_with_a_split_and_several_labels(
    tmp_path: Path, corpus_cache: Path, topic_documents
) -> None:
    rows = []
    for number, (topic, text) in enumerate(topic_documents(20)):
        labels = [topic, "science"] if topic == "space" and number % 2 else [topic]
        split = "test" if number % 5 == 0 else "train"
        rows.append({"text": text, "label": labels, "split": split})
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "run"
    options = ("--methods", "lsh", "--text-features", "counts", "--max-features", "12")
    assert main(_bench(path, out, "20ng-text", *options)) == 0
    (record,) = read_bench_records(out)
    # The official split: the test documents query the training documents.
    assert record["sizes"]["n_queries"] == 12 and record["sizes"]["n_database"] == 48
    assert record["sizes"]["n_features"] == 12
    assert record["metrics"]["map"] > 0.4


def test_bench_on_a_csv_corpus(
    tmp_path: Path, corpus_cache: Path, topic_documents, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "corpus.csv"
    lines = ["label,text"] + [f'{topic},"{text}"' for topic, text in topic_documents(20)]
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    protocol = "grh-cifar10:n_queries=15,n_train=30,n_validation=0"
    assert main(_bench(path, out, protocol, "--methods", "lsh")) == 0
    assert read_bench_records(out)[0]["metrics"]["map"] > 0.5
    # A CSV of numbers is still read as features.
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("f1,f2,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(60)))
    assert main(_bench(numbers, tmp_path / "n", protocol, "--methods", "lsh")) == 0
    assert (
        main(_bench(numbers, tmp_path / "n2", protocol, "--methods", "lsh", "--max-features", "5"))
        == 2
    )
    assert "max_features apply to text corpora only" in capsys.readouterr().err


def test_bench_names_the_bad_line_of_a_corpus(
    tmp_path: Path, corpus_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "rocket orbit", "label": "space"}\n{"text": "goal", "label": }\n')
    assert main(_bench(path, tmp_path / "run", "grh-cifar10", "--methods", "lsh")) == 2
    assert "bad.jsonl line 2 is not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
