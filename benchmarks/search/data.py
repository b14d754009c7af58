"""The codes searched: uniform random, or clustered (real features hashed, then noisy copies).

* ``uniform``: independent uniformly random codes (database and queries).
* ``clustered``: codes of real features, CIFAR-10 GIST-512
  (:func:`hashlearn.datasets.load_cifar10_gist`, from the data directory or the cache,
  never downloaded), else a synthetic Gaussian mixture (recorded as such). An LSH hasher
  (:class:`~hashlearn.hashers.SignRandomProjection`, fitted on the database images)
  encodes everything. The database is the images' codes followed by copies of them with
  every bit flipped with probability ``flip_probability`` until ``N`` codes (databases of
  every size are prefixes of the largest). Queries, none of them stored: half are
  held-out images (new content, whose nearest codes are typically many bits away), half
  are near-duplicates, fresh noisy copies (same ``flip_probability``) of images stored at
  every size, so that range searches of small radii have results to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hashlearn import datasets
from hashlearn.hashers import SignRandomProjection

from .config import SearchBenchmarkConfig

__all__ = [
    "Data",
    "Features",
    "clustered_codes",
    "flip_noise",
    "load_features",
    "make_data",
    "uniform_codes",
]


def _mask_padding(codes: np.ndarray, n_bits: int) -> np.ndarray:
    rest = n_bits % 8
    if rest:
        codes[:, -1] &= np.uint8((1 << rest) - 1)
    return codes


def uniform_codes(n: int, n_bits: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` independent uniformly random packed codes of ``n_bits`` bits."""
    codes = rng.integers(0, 256, size=(n, (n_bits + 7) // 8), dtype=np.uint8)
    return _mask_padding(codes, n_bits)


def flip_noise(
    codes: np.ndarray, n_bits: int, probability: float, rng: np.random.Generator
) -> np.ndarray:
    """``codes`` with every bit flipped independently with ``probability`` (a copy)."""
    out = codes.copy()
    if probability <= 0:
        return out
    block = max(1, 2**24 // max(1, n_bits))  # about 16 MiB of float32 per block
    for start in range(0, out.shape[0], block):
        stop = min(start + block, out.shape[0])
        flips = rng.random((stop - start, n_bits), dtype=np.float32) < probability
        out[start:stop] ^= np.packbits(flips, axis=1, bitorder="little")
    return out


def clustered_codes(
    base: np.ndarray,
    n: int,
    n_bits: int,
    probability: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``n`` codes: ``base`` itself, then copies of it with noise bits, in order.

    Row ``i`` is ``base[i]`` for ``i < len(base)`` and ``base[i % len(base)]`` with every
    bit flipped with ``probability`` after that.
    """
    n_base = base.shape[0]
    if n <= n_base:
        return np.ascontiguousarray(base[:n])
    copies = np.resize(np.arange(n_base), n - n_base)
    noisy = flip_noise(base[copies], n_bits, probability, rng)
    return np.concatenate([base, noisy])


def _synthetic_features(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian mixture standing in for real features: 100 clusters in 128-d."""
    n_clusters, dim = 100, 128
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    sizes = rng.dirichlet(np.full(n_clusters, 2.0))
    labels = rng.choice(n_clusters, size=n, p=sizes)
    noise = rng.standard_normal((n, dim)).astype(np.float32)
    return centres[labels] + 0.6 * noise


@dataclass
class Features:
    """Feature vectors the clustered codes are made from, with their name and provenance."""

    X: np.ndarray
    name: str
    source: str


def load_features(config: SearchBenchmarkConfig, n_needed: int) -> Features:
    """CIFAR-10 GIST-512 when available without a download, else the synthetic mixture."""
    rng = np.random.default_rng([config.seed, 7])
    if config.clustered_source != "synthetic":
        found = datasets.find_cifar10_source(config.data_dir)
        if found is not None:
            dataset = datasets.load_cifar10_gist(config.data_dir, download=False)
            return Features(np.asarray(dataset.X, dtype=np.float32), "cifar10-gist", dataset.source)
        if config.clustered_source == "cifar10-gist":
            raise FileNotFoundError(
                "clustered_source='cifar10-gist' but CIFAR-10 was found neither in the data "
                "directory (--data-dir or HASHLEARN_DATA) nor in the cache"
            )
    n = max(n_needed, min(60_000, max(config.sizes) + config.n_queries))
    return Features(
        _synthetic_features(n, rng),
        "synthetic-mixture",
        f"SYNTHETIC: {n:,} points from a mixture of 100 Gaussians in 128-d (CIFAR-10 GIST "
        f"{'not requested' if config.clustered_source == 'synthetic' else 'not found'}); "
        "not real features",
    )


@dataclass
class Data:
    """One kind of data at one code length: the largest database and the queries."""

    kind: str
    n_bits: int
    database: np.ndarray
    queries: np.ndarray
    description: dict[str, Any]


def make_data(
    kind: str, n_bits: int, config: SearchBenchmarkConfig, features: Features | None
) -> Data:
    """The largest database and the queries of one kind of data at ``n_bits`` bits.

    Every array is seeded from ``(config.seed, n_bits, ...)``, so a run of a subset of the
    grid draws the same codes. ``features`` is needed for ``kind="clustered"`` only.
    """
    n_max = max(config.sizes)
    if kind == "uniform":
        rng = np.random.default_rng([config.seed, n_bits, 0])
        database = uniform_codes(n_max, n_bits, rng)
        queries = uniform_codes(config.n_queries, n_bits, rng)
        return Data(
            kind,
            n_bits,
            database,
            queries,
            {"name": "uniform", "source": "independent uniformly random codes"},
        )
    if features is None:
        raise ValueError("clustered data needs features (see load_features)")
    X = features.X
    if X.shape[0] <= config.n_queries:
        raise ValueError(
            f"n_queries must be smaller than the {X.shape[0]:,} feature rows available for "
            f"clustered data, got {config.n_queries:,}"
        )
    n_near = round(config.near_duplicate_queries * config.n_queries)
    n_novel = config.n_queries - n_near
    order = np.random.default_rng([config.seed, 1]).permutation(X.shape[0])
    held_out, held_in = order[:n_novel], order[n_novel:]
    hasher = SignRandomProjection(n_bits=n_bits, random_state=config.seed).fit(X[held_in])
    base = hasher.encode(X[held_in])
    rng = np.random.default_rng([config.seed, n_bits, 2])
    database = clustered_codes(base, n_max, n_bits, config.flip_probability, rng)
    # Near-duplicate queries: fresh noisy copies of items stored at every size (the first
    # min(sizes) rows), drawn like the database's copies but never stored themselves.
    query_rng = np.random.default_rng([config.seed, n_bits, 3])
    sources = query_rng.integers(0, min(min(config.sizes), base.shape[0]), size=n_near)
    near = flip_noise(base[sources], n_bits, config.flip_probability, query_rng)
    novel = hasher.encode(X[held_out]) if n_novel else near[:0]
    queries = np.concatenate([novel, near])
    return Data(
        kind,
        n_bits,
        database,
        queries,
        {
            "name": f"clustered ({features.name})",
            "features": features.name,
            "source": features.source,
            "hasher": f"SignRandomProjection(n_bits=<bits>, random_state={config.seed})",
            "distinct_items": int(base.shape[0]),
            "flip_probability": config.flip_probability,
            "queries": (
                f"{n_novel:,} held-out items (never in the database) + {n_near:,} "
                "near-duplicates (fresh noisy copies of stored items, not stored themselves)"
            ),
        },
    )
