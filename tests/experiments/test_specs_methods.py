"""Specs (NAME:key=value) and the method registry."""

from __future__ import annotations

import pytest
from sklearn.svm import SVC, LinearSVC

from hashlearn.experiments.methods import METHODS, build_method, method_label, resolve_method
from hashlearn.experiments.specs import format_spec, parse_spec, parse_value, split_specs
from hashlearn.hashers import GraphRegularisedHashing, SignRandomProjection


def test_parse_value_types() -> None:
    assert parse_value("16") == 16 and isinstance(parse_value("16"), int)
    assert parse_value("0.25") == 0.25
    assert parse_value("TRUE") is True and parse_value("false") is False
    assert parse_value("None") is None
    assert parse_value(" rbf ") == "rbf"
    assert parse_value("0.5|1.0") == "0.5|1.0"


def test_parse_and_format_round_trip() -> None:
    name, params = parse_spec("grh: kernel=rbf , alpha=0.9,n_iter=2")
    assert name == "grh"
    assert params == {"kernel": "rbf", "alpha": 0.9, "n_iter": 2}
    spec = format_spec(name, params)
    assert spec == "grh:alpha=0.9,kernel=rbf,n_iter=2"
    assert parse_spec(spec) == (name, params)
    assert format_spec("lsh", {"centre": False}) == "lsh:centre=false"
    assert format_spec("x", {"a": None}) == "x:a=none"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "name"),
        (":a=1", "name"),
        ("grh:alpha", "key=value"),
        ("grh:1a=2", "valid parameter name"),
        ("grh:a=1,a=2", "given twice"),
    ],
)
def test_parse_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


def test_split_specs() -> None:
    assert split_specs("lsh, grh") == ["lsh", "grh"]
    assert split_specs(["lsh,grh", "grh:kernel=rbf,alpha=1"]) == [
        "lsh",
        "grh",
        "grh:kernel=rbf,alpha=1",
    ]
    with pytest.raises(TypeError):
        split_specs([3])  # type: ignore[list-item]


def test_builtin_methods_build_seeded_hashers() -> None:
    lsh = build_method("lsh:centre=false", 24, 7)
    assert isinstance(lsh, SignRandomProjection)
    assert (lsh.n_bits, lsh.random_state, lsh.centre) == (24, 7, False)
    grh = build_method("grh", 16, 3)
    assert isinstance(grh, GraphRegularisedHashing)
    assert isinstance(grh.classifier, LinearSVC) and grh.init == "lsh"
    rbf = build_method("grh:kernel=rbf,C=10,gamma=0.5,alpha=0.9", 8, 0)
    assert isinstance(rbf.classifier, SVC)
    assert (rbf.classifier.C, rbf.classifier.gamma, rbf.alpha) == (10.0, 0.5, 0.9)
    # The RBF defaults were chosen on validation splits (see methods._GRH_RBF_C); the linear
    # SVM keeps C = 1 and takes no gamma.
    default_rbf = build_method("grh:kernel=rbf", 8, 0)
    assert (default_rbf.classifier.C, default_rbf.classifier.gamma) == (10.0, 2.0)
    assert grh.classifier.C == 1.0
    assert build_method("grh:kernel=rbf,gamma=scale", 8, 0).classifier.gamma == "scale"


def test_labels_match_the_published_tables() -> None:
    assert method_label("lsh") == "LSH"
    assert method_label("grh") == "GRH linear, LSH init"
    assert method_label("grh:kernel=rbf") == "GRH RBF, LSH init"
    assert method_label("grh:kernel=rbf,init=cca") == "GRH RBF, CCA init"


def test_method_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match=r"unknown method 'nope'.*known methods: .*lsh"):
        resolve_method("nope")
    with pytest.raises(ValueError, match=r"no spec parameter 'bogus'.*valid parameters: .*centre"):
        build_method("lsh:bogus=1", 16, 0)
    with pytest.raises(ValueError, match="kernel must be one of linear, rbf"):
        build_method("grh:kernel=poly", 16, 0)
    with pytest.raises(ValueError, match="gamma applies to kernel=rbf"):
        build_method("grh:gamma=0.1", 16, 0)
    if "cca-itq" not in METHODS:
        with pytest.raises(ValueError, match="CCA-ITQ"):
            build_method("grh:init=cca", 16, 0)


def test_resolved_spec_is_canonical() -> None:
    assert resolve_method("grh:kernel=rbf,alpha=1").spec == "grh:alpha=1,kernel=rbf"
