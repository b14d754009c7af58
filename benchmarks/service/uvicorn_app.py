"""Serve one bundle with a chosen uvicorn HTTP parser and event loop (a comparison aid).

``hashlearn serve`` runs uvicorn with its defaults (``http="auto"``: httptools when it is
installed, else h11; ``loop="auto"``: uvloop when installed, else asyncio). This module
serves the same app, built the same way (:func:`hashlearn.serve.server.load_services`,
:func:`hashlearn.serve.app.create_app`, one worker, no access log), with the parser and
loop named on the command line, so that the load benchmark can compare them
(``python -m benchmarks service --http h11 --loop asyncio``)::

    python -m benchmarks.service.uvicorn_app BUNDLE --port 8001 --http h11 --loop asyncio
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.service.uvicorn_app")
    parser.add_argument("bundle")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http", choices=("auto", "h11", "httptools"), default="auto")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    args = parser.parse_args(argv)

    import uvicorn

    from hashlearn.serve.app import create_app
    from hashlearn.serve.server import load_services

    app: Any = create_app(load_services([args.bundle]))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http=args.http,
        loop=args.loop,
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
