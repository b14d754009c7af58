"""Make the ``benchmarks`` folder importable: it is not part of the installed package, and
pytest runs with ``--import-mode=importlib`` (no test folder on ``sys.path``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
