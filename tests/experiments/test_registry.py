"""Every registered benchmark method: builds from its spec, fits, encodes, is deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hashlearn
from hashlearn import codes
from hashlearn.experiments.methods import METHODS, resolve_method
from hashlearn.testing import hasher_input

# Parameters that fit the 200-row fixture (the defaults assume thousands of points).
SMALL_DATA = {"agh": "agh:n_anchors=50", "ksh": "ksh:n_anchors=50", "sdh": "sdh:n_anchors=50"}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_registered_method_contract(name: str, blobs, tmp_path: Path) -> None:
    X, y = blobs
    method = resolve_method(SMALL_DATA.get(name, name))
    labels = y if method.info.supervised else None
    first = method.build(8, 3)
    X = hasher_input(first, X)  # word-weight hashers (VDSH, NASH, S-RBM) take X >= 0 only
    assert (first.n_bits, first.random_state) == (8, 3)
    first.fit(X, labels) if labels is not None else first.fit(X)
    packed = first.encode(X)
    assert packed.shape == (len(X), 1) and packed.dtype == np.uint8
    codes.check_codes(packed, 8)
    second = method.build(8, 3)
    second.fit(X, labels) if labels is not None else second.fit(X)
    assert np.array_equal(second.encode(X), packed)
    path = hashlearn.save(first, tmp_path / f"{name}.hlz")
    assert np.array_equal(hashlearn.load(path).encode(X), packed)
    assert method.label and method.info.description and method.info.paper
    with pytest.raises(TypeError, match=r"unexpected fit parameters: \['bogus'\]"):
        method.build(8, 3).fit(X, labels, bogus=1)


def test_grh_cca_initialisation_uses_cca_itq(blobs) -> None:
    X, y = blobs
    grh = resolve_method("grh:init=cca").build(8, 0)
    assert type(grh.init).__name__ == "CCAITQ" and grh.init.n_bits == 8
    grh.fit(X, y)
    assert grh.encode(X).shape == (len(X), 1)
