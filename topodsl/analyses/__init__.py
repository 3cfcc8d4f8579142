"""Every analysis topodsl answers, declared once (see :mod:`.registry`), and :func:`run`.

Importing this package registers the analyses below, in this order (the order of ``topodsl
analyze --help`` and of the docs). Adding an analysis is one module and one line here; see
``docs/architecture.md``, "How to add an analysis".

>>> list(ANALYSES)[:4]
['count', 'capacity', 'links', 'ports_used']
>>> from topodsl import loads
>>> t = loads("link l { bandwidth = 50 GB/s }; node n { gpu g[2]; connect g[0] -- g[1] via l }")
>>> run(t, "bisection").value.format()
'50 GB/s'
"""

from __future__ import annotations

from .figures import Figure, Measure, unit_of
from .registry import (
    ANALYSES,
    COMMON_OPTIONS,
    Analysis,
    CommonOption,
    Field,
    Param,
    ReportOption,
    register,
)
from .result import AnalysisResult
from .run import ArgumentError, Arguments, Context, get, run

# The registrations: one module per analysis (the storage scenarios share .scenario).
from . import count  # noqa: E402,F401  isort: skip
from . import capacity  # noqa: E402,F401  isort: skip
from . import links  # noqa: E402,F401  isort: skip
from . import ports  # noqa: E402,F401  isort: skip
from . import oversubscription  # noqa: E402,F401  isort: skip
from . import flow  # noqa: E402,F401  isort: skip
from . import bisection  # noqa: E402,F401  isort: skip
from . import reach  # noqa: E402,F401  isort: skip
from . import checkpoint  # noqa: E402,F401  isort: skip
from . import drain  # noqa: E402,F401  isort: skip
from . import ingest  # noqa: E402,F401  isort: skip
from . import spill  # noqa: E402,F401  isort: skip

# The workload analyses (docs/workloads.md).
from . import collective  # noqa: E402,F401  isort: skip
from . import placement  # noqa: E402,F401  isort: skip
from . import checkpoint_cycle  # noqa: E402,F401  isort: skip
from . import ingest_need  # noqa: E402,F401  isort: skip
from . import inference_fit  # noqa: E402,F401  isort: skip
from . import power  # noqa: E402,F401  isort: skip
from . import cost  # noqa: E402,F401  isort: skip

__all__ = [
    "ANALYSES",
    "COMMON_OPTIONS",
    "Analysis",
    "AnalysisResult",
    "ArgumentError",
    "Arguments",
    "CommonOption",
    "Context",
    "Field",
    "Figure",
    "Measure",
    "Param",
    "ReportOption",
    "get",
    "register",
    "run",
    "unit_of",
]
