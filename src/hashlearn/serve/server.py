"""``hashlearn serve``: load bundles and run the app under uvicorn."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hashlearn.serve.bundle import load_bundle
from hashlearn.serve.engine import BundleService, Limits

__all__ = ["TOKEN_ENV", "load_services", "run_server"]

#: Environment variable holding the write token (rather than the command line, where
#: other users of the machine can read it).
TOKEN_ENV = "HASHLEARN_SERVE_TOKEN"
LOG_NAME = "adds.log"


def load_services(
    paths: Sequence[str | os.PathLike[str]],
    *,
    limits: Limits | None = None,
    writable: bool = False,
    verify: bool = True,
) -> dict[str, BundleService]:
    """One service per bundle folder, keyed by bundle name (names must differ).

    With ``writable``, each bundle's ``log/adds.log`` is opened (created when missing,
    locked against a second server) and replayed into its index.
    """
    services: dict[str, BundleService] = {}
    for path in paths:
        bundle = load_bundle(path, verify=verify)
        if bundle.name in services:
            raise ValueError(
                f"two bundles are named {bundle.name!r} ({services[bundle.name].bundle.path} "
                f"and {bundle.path}); bundle names must differ"
            )
        log = None
        if writable:
            from hashlearn.serve._log import AppendLog

            folder = Path(bundle.path) / "log"
            folder.mkdir(exist_ok=True)
            log = AppendLog(folder / LOG_NAME)
        services[bundle.name] = BundleService(bundle, limits, log=log)
    return services


def run_server(
    paths: Sequence[str | os.PathLike[str]],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    writable: bool = False,
    token: str | None = None,
    verify: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the bundles until interrupted (see ``hashlearn serve --help``)."""
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError(
            "the search service needs FastAPI and uvicorn: pip install 'hashlearn[web]'"
        ) from exc
    from hashlearn.serve.app import create_app

    if writable and not token:
        token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
        if not os.environ.get(TOKEN_ENV):
            print(f"hashlearn serve: write token: {token}", file=sys.stderr, flush=True)
    services = load_services(paths, limits=limits, writable=writable, verify=verify)
    for name, service in services.items():
        summary = service.summary()
        print(
            f"hashlearn serve: {name}: {summary['label']}, {summary['n_bits']} bits, "
            f"{summary['n_items']:,} items{' (writable)' if writable else ''}",
            file=sys.stderr,
            flush=True,
        )
    app: Any = create_app(services, limits=limits, token=token if writable else None)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
