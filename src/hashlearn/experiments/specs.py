"""``NAME:key=value,...`` specs: one string names a method or a protocol and its parameters.

``"grh:kernel=rbf,alpha=0.9"`` is the method ``grh`` with ``kernel="rbf"`` and
``alpha=0.9``; ``"grh-cifar10:n_train=2000"`` is the protocol ``grh-cifar10`` with
``n_train=2000``. Values are parsed as ``int``, then ``float``, then ``true``/``false``
(bool), ``none`` (None), else kept as a string. :func:`format_spec` writes the canonical
form (keys sorted), which is what records store and what resuming compares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["format_spec", "parse_spec", "parse_value", "plain_params", "split_specs"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_value(text: str) -> Any:
    """Parse one spec value: int, float, bool (``true``/``false``), None (``none``) or str.

    Examples
    --------
    >>> [parse_value(t) for t in ("16", "0.5", "1e-3", "true", "none", "rbf")]
    [16, 0.5, 0.001, True, None, 'rbf']
    """
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_spec(spec: str, *, what: str = "spec") -> tuple[str, dict[str, Any]]:
    """Split ``"NAME:key=value,key=value"`` into the name and a parameter dict.

    Parameters
    ----------
    spec : str
        The spec; the part after ``:`` may be empty or absent.
    what : str, default "spec"
        Used in error messages (``"method"``, ``"protocol"``).

    Raises
    ------
    ValueError
        On an empty name, a parameter without ``=``, an invalid key or a repeated key.

    Examples
    --------
    >>> parse_spec("grh:kernel=rbf,alpha=0.9")
    ('grh', {'kernel': 'rbf', 'alpha': 0.9})
    >>> parse_spec("lsh")
    ('lsh', {})
    """
    if not isinstance(spec, str):
        raise TypeError(f"{what} must be a string like 'NAME:key=value', got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    if not _NAME.match(name):
        raise ValueError(f"{what} {spec!r}: the name must be letters, digits, '-', '_', '.'")
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals:
            raise ValueError(f"{what} {spec!r}: parameter {item!r} must be key=value")
        if not _KEY.match(key):
            raise ValueError(f"{what} {spec!r}: {key!r} is not a valid parameter name")
        if key in params:
            raise ValueError(f"{what} {spec!r}: parameter {key!r} is given twice")
        params[key] = parse_value(value)
    return name, params


def format_spec(name: str, params: Mapping[str, Any]) -> str:
    """The canonical spec string: ``name`` then ``key=value`` pairs sorted by key.

    Examples
    --------
    >>> format_spec("grh", {"kernel": "rbf", "alpha": 1.0})
    'grh:alpha=1.0,kernel=rbf'
    >>> format_spec("lsh", {})
    'lsh'
    """
    if not params:
        return name
    parts = []
    for key in sorted(params):
        value = params[key]
        text = "none" if value is None else str(value).lower() if isinstance(value, bool) else value
        parts.append(f"{key}={text}")
    return f"{name}:{','.join(parts)}"


def split_specs(values: str | list[str] | tuple[str, ...]) -> list[str]:
    """Method specs from the command line or a config file.

    A string with no ``=`` is a comma-separated list of names (``"lsh,grh"``); a string
    with ``=`` is one spec (``"grh:kernel=rbf,alpha=1"``, whose commas separate its
    parameters). A list applies this to each element, so ``--methods lsh,grh --methods
    "grh:kernel=rbf"`` gives three specs.

    Examples
    --------
    >>> split_specs(["lsh,grh", "grh:kernel=rbf,alpha=1"])
    ['lsh', 'grh', 'grh:kernel=rbf,alpha=1']
    """
    items = [values] if isinstance(values, str) else list(values)
    specs: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"method specs must be strings, got {item!r}")
        if "=" in item:
            head = item.split("=", 1)[0]
            if "," in head.split(":", 1)[0]:
                raise ValueError(
                    f"{item!r}: a spec with parameters must be given on its own (one "
                    "--methods option, or one list element, per NAME:key=value,... spec)"
                )
            specs.append(item.strip())
        else:
            specs.extend(part.strip() for part in item.split(",") if part.strip())
    return specs


def plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON-ready values for records: plain values kept, anything else by its repr.

    Unlike :func:`hashlearn._io.to_json`, containers and numpy values are not converted
    but written as their ``repr``, so a record shows exactly what the estimator was given.

    Examples
    --------
    >>> plain_params({"n_bits": 16, "kernel": "rbf", "sizes": (1, 2)})
    {'n_bits': 16, 'kernel': 'rbf', 'sizes': '(1, 2)'}
    """
    return {
        key: value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        for key, value in params.items()
    }
