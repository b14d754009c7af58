"""The registry of named, saveable classes: a leaf that classes join.

A class becomes loadable by :func:`hashlearn.load` (and nestable inside another saved
object) by decorating it with :func:`register`. The registry imports nothing of hashlearn
at module level, so :mod:`hashlearn.persistence` can look classes up without importing
the packages that define them. When a file names a class that is not registered yet,
:func:`resolve` imports the packages that provide hashlearn's own classes (listed in
:data:`PROVIDERS`) once and looks again; a user's own class is registered as soon as its
module is imported.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

__all__ = ["PROVIDERS", "register", "registered", "resolve"]

T = TypeVar("T", bound=type)

#: Packages whose import registers hashlearn's own saveable classes.
PROVIDERS: tuple[str, ...] = ("hashlearn.hashers", "hashlearn.hashers.deep", "hashlearn.index")

_CLASSES: dict[str, type] = {}


def register(cls: T) -> T:
    """Class decorator: make ``cls`` loadable under its class name.

    Raises
    ------
    ValueError
        When another class already holds that name (two classes saved under one name
        could not be told apart when loading).
    """
    name = cls.__name__
    current = _CLASSES.get(name)
    if current is not None and current is not cls and _qualified(current) != _qualified(cls):
        raise ValueError(
            f"cannot register {_qualified(cls)}: the name {name!r} is already taken by "
            f"{_qualified(current)}"
        )
    _CLASSES[name] = cls
    return cls


def registered() -> dict[str, type]:
    """The classes registered so far, by name (a copy)."""
    return dict(_CLASSES)


def resolve(name: str) -> type | None:
    """The class registered under ``name``, importing :data:`PROVIDERS` if needed."""
    cls = _CLASSES.get(name)
    if cls is None:
        for package in PROVIDERS:
            importlib.import_module(package)
        cls = _CLASSES.get(name)
    return cls


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
