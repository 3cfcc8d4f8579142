"""The ``topodsl`` command line: thin wrappers over the library.

Each command lives in its own module of this package and registers itself on :data:`main`;
the ``analyze`` subcommands are built from the analysis registry (:mod:`.analyses`). Exit
codes: 0 success, 1 a check or assertion failed, 2 bad input (with a ``file:line:col``
diagnostic on stderr) or bad usage.
"""

from __future__ import annotations

from .common import analyze, main

# Importing the command modules registers their commands.
from . import analyses  # noqa: E402,F401  isort: skip
from . import basic  # noqa: E402,F401  isort: skip
from . import check  # noqa: E402,F401  isort: skip
from . import interop  # noqa: E402,F401  isort: skip
from . import lsp  # noqa: E402,F401  isort: skip
from . import render  # noqa: E402,F401  isort: skip
from . import sweep  # noqa: E402,F401  isort: skip

__all__ = ["main", "analyze"]
