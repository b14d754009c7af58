"""The code format: bit order by hand, round trips, distances against the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashlearn import codes
from hashlearn.testing import hamming_distances_reference


def test_bit_j_is_least_significant_first_by_hand():
    # bits 0 and 9 set: byte 0 = 0b00000001, byte 1 = 0b00000010
    bits = np.zeros((1, 10), dtype=np.uint8)
    bits[0, [0, 9]] = 1
    assert codes.pack_bits(bits).tolist() == [[1, 2]]
    assert codes.bucket_keys(codes.pack_bits(bits), 10).tolist() == [1 + 2**9]


@settings(max_examples=60, deadline=None)
@given(n_bits=st.integers(1, 200), n=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_pack_unpack_round_trip_and_padding_is_zero(n_bits, n, seed):
    bits = np.random.default_rng(seed).integers(0, 2, (n, n_bits)).astype(np.uint8)
    packed = codes.pack_bits(bits)
    assert packed.shape == (n, (n_bits + 7) // 8)
    codes.check_codes(packed, n_bits)  # padding bits zero
    assert np.array_equal(codes.unpack_bits(packed, n_bits), bits)


@settings(max_examples=40, deadline=None)
@given(n_bits=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_hamming_distances_match_the_reference(n_bits, seed):
    rng = np.random.default_rng(seed)
    q = codes.pack_bits(rng.integers(0, 2, (7, n_bits)))
    db = codes.pack_bits(rng.integers(0, 2, (11, n_bits)))
    assert np.array_equal(codes.hamming_distances(q, db), hamming_distances_reference(q, db))


def test_hamming_distances_in_blocks_equal_one_block(monkeypatch):
    rng = np.random.default_rng(1)
    q = codes.pack_bits(rng.integers(0, 2, (50, 70)))
    db = codes.pack_bits(rng.integers(0, 2, (40, 70)))
    whole = codes.hamming_distances(q, db)
    monkeypatch.setattr(codes, "_BLOCK_BYTES", 64)  # forces one query per block
    assert np.array_equal(codes.hamming_distances(q, db), whole)
    assert codes.hamming_distances(q[:0], db).shape == (0, 40)


def test_signs_bits_and_binarize():
    assert codes.signs_to_bits([[-2.0, 0.0, 3.0]]).tolist() == [[0, 1, 1]]  # x >= 0 -> 1
    assert codes.bits_to_signs([[0, 1]]).tolist() == [[-1, 1]]
    assert codes.binarize(np.array([[-1.0, 0.0, 2.0]])).tolist() == [[0b110]]


def test_popcount_and_keys_round_trip():
    packed = codes.pack_bits(np.array([[1, 1, 0, 1, 0, 0, 0, 0, 1], [0] * 9]))
    assert codes.popcount(packed).tolist() == [4, 0]
    keys = codes.bucket_keys(packed, 9)
    assert keys.dtype == np.uint64
    assert np.array_equal(codes.keys_to_codes(keys, 9), packed)
    with pytest.raises(ValueError, match="beyond bit 8"):
        codes.keys_to_codes(np.array([2**9], dtype=np.uint64), 9)
    with pytest.raises(ValueError, match="non-negative"):
        codes.keys_to_codes([-1], 4)
    with pytest.raises(ValueError, match="n_bits <= 64"):
        codes.bucket_keys(np.zeros((1, 9), np.uint8), 65)


def test_bit_statistics_by_hand():
    # bit 0: 1,1,0,0 (balance 0.5); bit 1 = bit 0 (correlation 1); bit 2: always 1 (constant)
    bits = np.array([[1, 1, 1], [1, 1, 1], [0, 0, 1], [0, 0, 1]])
    packed = codes.pack_bits(bits)
    assert codes.bit_balance(packed, 3).tolist() == [0.5, 0.5, 1.0]
    corr = codes.bit_correlation(packed, 3)
    assert corr[0, 1] == pytest.approx(1.0)
    assert np.isnan(corr[2]).all() and np.isnan(corr[:, 2]).all()
    stats = codes.code_statistics(packed, 3)
    assert stats["n_unique_codes"] == 2
    assert stats["n_constant_bits"] == 1
    assert stats["max_balance_deviation"] == 0.5
    assert stats["mean_abs_correlation"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("array", "n_bits", "error", "message"),
    [
        (np.zeros((2, 2), np.int64), 16, TypeError, "packed uint8 codes"),
        (np.zeros(2, np.uint8), 16, ValueError, "must be 2-D"),
        (np.zeros((2, 3), np.uint8), 16, ValueError, "2 bytes per code for n_bits=16, got 3"),
        (np.full((1, 2), 255, np.uint8), 12, ValueError, "padding bits set beyond bit 11"),
    ],
)
def test_check_codes_errors(array, n_bits, error, message):
    with pytest.raises(error, match=message):
        codes.check_codes(array, n_bits)


def test_pack_bits_errors():
    with pytest.raises(ValueError, match="only 0 and 1"):
        codes.pack_bits([[0, 2]])
    with pytest.raises(ValueError, match="must be 2-D"):
        codes.pack_bits([0, 1])
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, 4096\]|bits.shape\[1\]"):
        codes.pack_bits(np.zeros((2, 0)))
