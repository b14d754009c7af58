"""``python -m hashlearn``: the same command line as ``hashlearn``."""

import sys

from hashlearn.cli import main

sys.exit(main())
