"""HasherStack: scikit-learn's checks, concatenated codes, seeding, cloning, persistence."""

from __future__ import annotations

import doctest
import json
import zipfile

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hashlearn
from hashlearn import codes
from hashlearn.hashers import GRH, LSH, stack
from hashlearn.hashers.stack import HasherStack


class PackedOnly(BaseEstimator):
    """A minimal hasher without ``project``: encode is all it offers."""

    def __init__(self, n_bits=3):
        self.n_bits = n_bits

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def encode(self, X):
        return codes.pack_bits(np.asarray(X)[:, : self.n_bits] > 0)


@pytest.mark.parametrize("sizes", [(8, 16), (5, 7, 1), (12, 12, 12, 12), (64, 3)])
def test_codes_are_the_members_codes_side_by_side(sizes, blobs):
    X, _ = blobs
    hasher = HasherStack([LSH(k) for k in sizes], random_state=3).fit(X)
    assert hasher.n_bits == sum(sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    np.testing.assert_array_equal(hasher.bit_offsets_, offsets)
    packed = hasher.encode(X)
    assert packed.dtype == np.uint8 and packed.shape == (len(X), (sum(sizes) + 7) // 8)
    codes.check_codes(packed, sum(sizes))  # padding bits are zero
    bits = hasher.transform(X)
    np.testing.assert_array_equal(codes.pack_bits(bits), packed)
    for member, group in zip(hasher.hashers_, hasher.bit_groups(), strict=True):
        np.testing.assert_array_equal(bits[:, group], member.transform(X))
    np.testing.assert_array_equal(bits, (hasher.project(X) >= 0).astype(np.uint8))
    assert [g.tolist() for g in hasher.bit_groups()] == [
        list(range(offsets[t], offsets[t + 1])) for t in range(len(sizes))
    ]


def test_members_without_project_and_with_labels(blobs):
    X, y = blobs
    plain = HasherStack([PackedOnly(3), LSH(4, random_state=0)]).fit(X)
    assert not hasattr(plain, "project")
    assert plain.encode(X).shape == (len(X), 1)
    np.testing.assert_array_equal(plain.transform(X)[:, :3], (X[:, :3] > 0).astype(np.uint8))
    supervised = HasherStack([GRH(6, n_iter=1, random_state=0), LSH(6, random_state=0)])
    supervised.fit(X, y)  # y reaches GRH
    np.testing.assert_array_equal(
        supervised.transform(X)[:, :6], GRH(6, n_iter=1, random_state=0).fit(X, y).transform(X)
    )


def test_same_seeds_same_codes_and_seeding_of_members(blobs):
    X, _ = blobs
    first = HasherStack([LSH(16) for _ in range(4)], random_state=11).fit(X)
    second = HasherStack([LSH(16) for _ in range(4)], random_state=11).fit(X)
    np.testing.assert_array_equal(first.encode(X), second.encode(X))
    seeds = [member.random_state for member in first.hashers_]
    assert len(set(seeds)) == 4 and all(isinstance(s, int) for s in seeds)
    other = HasherStack([LSH(16) for _ in range(4)], random_state=12).fit(X)
    assert not np.array_equal(first.encode(X), other.encode(X))
    # Every member differs from the others, and the stack's params are left alone.
    groups = [first.transform(X)[:, g] for g in first.bit_groups()]
    assert all(not np.array_equal(groups[0], g) for g in groups[1:])
    assert all(h.random_state is None for h in first.hashers)
    # Explicit member seeds win over the stack's; refitting is idempotent.
    fixed = HasherStack([LSH(8, random_state=1), LSH(8, random_state=2)], random_state=5)
    assert [h.random_state for h in fixed.fit(X).hashers_] == [1, 2]
    again = fixed.encode(X)
    np.testing.assert_array_equal(fixed.fit(X).encode(X), again)
    np.testing.assert_array_equal(again[:, :1], LSH(8, random_state=1).fit(X).encode(X))


def test_clone_and_params(blobs):
    X, _ = blobs
    template = HasherStack([LSH(8), LSH(4, centre=False)], random_state=2)
    fitted = clone(template).fit(X)
    copy = clone(fitted)
    assert not hasattr(copy, "hashers_")
    assert copy.get_params()["random_state"] == 2
    assert [h.get_params() for h in copy.hashers] == [h.get_params() for h in template.hashers]
    assert all(a is not b for a, b in zip(copy.hashers, template.hashers, strict=True))
    np.testing.assert_array_equal(copy.fit(X).encode(X), fitted.encode(X))
    assert copy.set_params(random_state=3) is copy and copy.random_state == 3
    assert HasherStack([LSH(8), LSH(4)]).n_bits == 12  # known before fitting


def test_identical_members_are_refused(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match=r"hashers\[0\] and hashers\[1\] .* identical codes"):
        HasherStack([LSH(8, random_state=1)] * 2).fit(X)
    shared = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"hashers\[1\] and hashers\[2\]"):
        HasherStack([LSH(8), LSH(8, random_state=shared), LSH(8, random_state=shared)]).fit(X)
    HasherStack([LSH(8, random_state=1), LSH(9, random_state=1)]).fit(X)  # different n_bits


@pytest.mark.parametrize(
    ("hashers", "error", "message"),
    [
        (LSH(8), TypeError, "hashers must be a list of hashers, got SignRandomProjection"),
        ("LSH", TypeError, "hashers must be a list of hashers, got str"),
        ([], ValueError, "at least one hasher"),
        ([LSH(8), StandardScaler()], TypeError, r"hashers\[1\] must be a hasher"),
        ([PackedOnly(0)], ValueError, r"hashers\[0\].n_bits must be in \[1, 4096\], got 0"),
        ([PackedOnly(2.5)], TypeError, r"hashers\[0\].n_bits must be an int"),
    ],
)
def test_invalid_hashers_are_refused(hashers, error, message, blobs):
    X, _ = blobs
    with pytest.raises(error, match=message):
        HasherStack(hashers).fit(X)


def test_bad_input_messages(blobs):
    X, _ = blobs
    hasher = HasherStack([LSH(8), LSH(8)], random_state=0)
    with pytest.raises(NotFittedError):
        hasher.encode(X)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity \(first at row 3, column 2\)"):
        hasher.fit(bad)
    hasher.fit(X)
    with pytest.raises(ValueError, match=r"X has 5 features, but HasherStack is expecting 16"):
        hasher.encode(X[:, :5])
    with pytest.raises(ValueError, match="must be 2-D"):
        hasher.transform(X[0])


def test_works_in_a_pipeline(blobs):
    X, _ = blobs
    pipeline = make_pipeline(StandardScaler(), HasherStack([LSH(6), LSH(6)], random_state=0))
    assert pipeline.fit(X).transform(X).shape == (len(X), 12)


def test_save_load_round_trip(blobs, tmp_path):
    X, y = blobs
    hasher = HasherStack(
        [LSH(13), GRH(7, n_iter=1), LSH(8, random_state=np.random.default_rng(1))],
        random_state=np.random.default_rng(5),
    ).fit(X, y)
    path = hasher.save(tmp_path / "stack.hlz")
    loaded = hashlearn.load(path)
    assert isinstance(loaded, HasherStack) and loaded.n_bits == 28
    np.testing.assert_array_equal(loaded.encode(X), hasher.encode(X))
    assert loaded.random_state is None  # a consumed Generator is not saved
    assert not hasattr(loaded.hashers[0], "n_features_in_")  # params: unfitted clones
    # The drawn seeds are kept, so refitting a clone reproduces those members' codes;
    # a member seeded by a Generator is saved with random_state=None (as BaseHasher does).
    params = [h.get_params() for h in loaded.hashers]
    assert params[:2] == [h.get_params() for h in hasher.hashers_[:2]]
    assert params[2]["random_state"] is None
    refitted = clone(loaded).fit(X, y)
    np.testing.assert_array_equal(refitted.transform(X)[:, :20], hasher.transform(X)[:, :20])
    with np.load(path, allow_pickle=False) as archive:
        assert "hashers/0/components_" in archive.files
    with pytest.raises(NotFittedError):
        HasherStack([LSH(8)]).save(tmp_path / "unfitted.hlz")


def test_corrupt_file_is_refused(blobs, tmp_path):
    X, _ = blobs
    path = HasherStack([LSH(8), LSH(8)], random_state=0).fit(X).save(tmp_path / "stack.hlz")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["hashlearn.json"])
    meta["attributes"]["n_features_in_"] = 3
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, json.dumps(meta) if name == "hashlearn.json" else data)
    with pytest.raises(ValueError, match="corrupt or incompatible HasherStack file"):
        hashlearn.load(path)


def test_docstring_examples():
    result = doctest.testmod(stack, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
