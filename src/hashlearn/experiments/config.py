"""What one ``hashlearn bench`` run computes: :class:`BenchConfig`, read from a TOML file
or the command line, and checked before any work starts."""

from __future__ import annotations

import codecs
import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashlearn.datasets.text_corpus import DEFAULT_MAX_FEATURES, TextFeaturizer
from hashlearn.experiments.methods import resolve_method
from hashlearn.experiments.protocols import resolve_protocol
from hashlearn.experiments.specs import format_spec, split_specs

__all__ = [
    "BenchConfig",
    "bench_config_from_options",
    "load_bench_config",
    "parse_bits",
    "parse_seeds",
]


def parse_seeds(seeds: Any) -> tuple[int, ...]:
    """``5`` -> seeds 0..4; ``"0,3,7"`` or ``[0, 3, 7]`` -> those seeds."""
    if isinstance(seeds, bool):
        raise TypeError(f"seeds must be a count or a list of ints, got {seeds!r}")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise ValueError(f"seeds must be a count >= 1, got {seeds}")
        return tuple(range(int(seeds)))
    if isinstance(seeds, str):
        parts = [part.strip() for part in seeds.split(",") if part.strip()]
        if len(parts) == 1 and "," not in seeds and parts[0].lstrip("-").isdigit():
            return parse_seeds(int(parts[0]))
        try:
            values = [int(part) for part in parts]
        except ValueError:
            raise ValueError(
                f"seeds must be a count ('5') or a comma-separated list ('0,3,7'), got {seeds!r}"
            ) from None
        seeds = values
    if not isinstance(seeds, list | tuple):
        raise TypeError(f"seeds must be a count or a list of ints, got {seeds!r}")
    values = list(seeds)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0 for v in values
    ):
        raise ValueError(f"seeds must be non-negative ints, got {seeds!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"seeds must be distinct, got {values}")
    return tuple(int(v) for v in values)


def parse_bits(bits: Any) -> tuple[int, ...] | None:
    """``16`` or ``"16,32"`` or ``[16, 32]`` -> those code lengths; None stays None."""
    if bits is None:
        return None
    if isinstance(bits, str):
        try:
            bits = [int(part) for part in bits.split(",") if part.strip()]
        except ValueError:
            raise ValueError(f"bits must be comma-separated ints, got {bits!r}") from None
    if isinstance(bits, int) and not isinstance(bits, bool):
        bits = [bits]
    values = list(bits)
    if not values or any(
        isinstance(b, bool) or not isinstance(b, int | np.integer) or not 1 <= b <= 4096
        for b in values
    ):
        raise ValueError(f"bits must be ints in [1, 4096], got {bits!r}")
    return tuple(int(b) for b in values)


@dataclass(frozen=True)
class BenchConfig:
    """What one ``hashlearn bench`` run computes (also read from a TOML file).

    Parameters
    ----------
    protocol : str
        Protocol spec (``"grh-cifar10"`` or ``"grh-cifar10:n_train=2000"``).
    methods : tuple of str
        Method specs (``"lsh"``, ``"grh:kernel=rbf,alpha=0.9"``).
    bits : tuple of int or None
        Code lengths; None uses the protocol's.
    seeds : tuple of int or None
        Seeds (one random split each); None uses ``range(protocol.seeds)``.
    out : str or None
        Run folder (``records.jsonl``, ``run.json``, ``models/``); None keeps records in
        memory only.
    data_dir : str or None
        Data directory for the protocol's dataset (else ``$HASHLEARN_DATA``).
    dataset : str or None
        A user file (``.npz``, ``.npy``, ``.csv`` of numbers) or text corpus (a folder, a
        ``.jsonl``, a ``.csv`` with a ``text`` column) replacing the protocol's dataset (see
        :func:`~hashlearn.experiments.user_data.load_user_data`).
    text_features : {"tfidf", "counts"} or None
        For a text corpus: TF-IDF (None means this) or word counts, learned on each seed's
        training rows (:class:`~hashlearn.datasets.text_corpus.TextFeaturizer`).
    max_features : int or None
        For a text corpus: the vocabulary size (None: 10,000).
    text_encoding : str or None
        For a text corpus: how its files are encoded (None: UTF-8).
    save_models : bool, default True
        Save each fitted hasher under ``out/models``.
    download : bool, default False
        Let the dataset loader download missing files.
    force_resume : bool, default False
        Resume ``out`` even when its finished records have other data, protocol or method
        fingerprints (``docs/records.md``); by default that is an error.
    """

    protocol: str
    methods: tuple[str, ...]
    bits: tuple[int, ...] | None = None
    seeds: tuple[int, ...] | None = None
    out: str | None = None
    data_dir: str | None = None
    dataset: str | None = None
    text_features: str | None = None
    max_features: int | None = None
    text_encoding: str | None = None
    save_models: bool = True
    download: bool = False
    force_resume: bool = False

    def __post_init__(self) -> None:
        resolve_protocol(self.protocol)
        if not self.methods:
            raise ValueError("methods must name at least one method")
        for spec in self.methods:
            resolve_method(spec)
        for name in ("save_models", "download", "force_resume"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be true or false, got {getattr(self, name)!r}")
        object.__setattr__(self, "bits", parse_bits(self.bits))
        if self.text_features is not None or self.max_features is not None:
            TextFeaturizer(  # checks both
                "tfidf" if self.text_features is None else self.text_features,
                DEFAULT_MAX_FEATURES if self.max_features is None else self.max_features,
            )
        if self.text_encoding is not None:
            try:
                codecs.lookup(self.text_encoding)
            except (LookupError, TypeError):
                raise ValueError(
                    f"text_encoding must be a codec Python knows ('utf-8', 'latin-1', ...), "
                    f"got {self.text_encoding!r}"
                ) from None
        if self.seeds is not None:
            object.__setattr__(self, "seeds", parse_seeds(self.seeds))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BenchConfig:
        """Build from a dict (a parsed TOML file, or command-line values)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown configuration key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys: {', '.join(sorted(known))}"
            )
        values = dict(values)
        if "protocol" not in values:
            raise ValueError("the configuration needs a protocol")
        if "methods" not in values:
            raise ValueError("the configuration needs methods")
        if not isinstance(values["methods"], str | list | tuple):
            raise TypeError(
                f"methods must be a string or a list of strings, got {values['methods']!r}"
            )
        values["methods"] = tuple(split_specs(values["methods"]))
        for key in ("out", "data_dir", "dataset"):
            if values.get(key) is not None:
                values[key] = str(values[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }


def load_bench_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML run configuration (keys: the fields of :class:`BenchConfig`).

    Example file::

        protocol = "grh-cifar10:n_train=2000"
        methods = ["lsh", "grh", "grh:kernel=rbf"]
        bits = [16, 32, 48, 64]
        seeds = 5
        out = "results/grh-cifar10-t2000"
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    path = Path(path)
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    if isinstance(values.get("protocol"), dict):
        table = dict(values["protocol"])
        name = table.pop("name", None)
        if name is None:
            raise ValueError(f"{path}: [protocol] needs a name")
        values["protocol"] = format_spec(name, table)
    return values


def bench_config_from_options(
    config_file: str | os.PathLike[str] | None, options: Mapping[str, Any]
) -> BenchConfig:
    """The configuration of ``hashlearn bench``: a TOML file's values, then the options given.

    Parameters
    ----------
    config_file : path or None
        A TOML file (:func:`load_bench_config`), or None.
    options : mapping
        Command-line values (keys of :class:`BenchConfig`); None means "not given" and keeps
        the file's value.

    Returns
    -------
    BenchConfig
        With ``out`` defaulting to ``results/bench/<protocol name>``.
    """
    values: dict[str, Any] = {} if config_file is None else load_bench_config(config_file)
    values.update({key: value for key, value in options.items() if value is not None})
    if "protocol" not in values:
        raise ValueError("give --protocol (or a --config file with a protocol)")
    if "methods" not in values:
        raise ValueError("give --methods (or a --config file with methods)")
    if values.get("out") is None:
        name = str(values["protocol"]).split(":")[0]
        values["out"] = Path("results") / "bench" / name
    if Path(values["out"]).exists() and not Path(values["out"]).is_dir():
        raise ValueError(f"--out must be a folder, but {values['out']} is a file")
    return BenchConfig.from_mapping(values)
