"""topodsl: a small language for AI-cluster hardware topologies, and the solvers that answer
the questions architects ask of a design (bisection bandwidth, memory reach, data-path
bottlenecks).

The public API mirrors the pipeline: :func:`parse` (text to AST), :func:`elaborate` (AST to
:class:`Topology`), :func:`load` / :func:`loads` (both at once), then the solvers. Diagrams
are in :mod:`topodsl.render` (a package, so its name is not rebound to a function here).

>>> import topodsl
>>> t = topodsl.loads("link l { bandwidth = 50 GB/s }; "
...                   "node n { gpu g[2]; connect g[0] -- g[1] via l }")
>>> r = topodsl.max_flow(t, t.select("n.g0"), t.select("n.g1"))
>>> r.value / 1e9   # GB/s, one direction
50.0
"""

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

# The public names and the modules they live in, imported on first use: ``topodsl --help``
# must not pay for the AST, the elaborator or numpy, and a ``check`` that runs no flow must
# not pay for scipy.
_LAZY = {
    "load": ".api",
    "loads": ".api",
    "parse": ".parser",
    "Topology": ".topology",
    "TopologyBuilder": ".topology",
    "TopoError": ".errors",
    "TopoSyntaxError": ".errors",
    "ElaborationError": ".errors",
    "SolverError": ".errors",
    "max_flow": ".solvers.flow",
    "bisection": ".solvers.bisection",
    "memory_reach": ".solvers.reach",
    "capacity_staircase": ".solvers.reach",
    "data_flow": ".solvers.dataflow",
    "uniform_flow": ".solvers.dataflow",
    "checkpoint_write": ".solvers.dataflow",
    "checkpoint_drain": ".solvers.dataflow",
    "ingest": ".solvers.dataflow",
    "cxl_spill": ".solvers.dataflow",
    "traffic": ".solvers.traffic",
    "failure_analysis": ".failures.engine",
}

if TYPE_CHECKING:
    from .api import load, loads
    from .elaborate import elaborate
    from .errors import ElaborationError, SolverError, TopoError, TopoSyntaxError
    from .failures.engine import failure_analysis
    from .parser import parse
    from .solvers.bisection import bisection
    from .solvers.dataflow import (
        checkpoint_drain,
        checkpoint_write,
        cxl_spill,
        data_flow,
        ingest,
        uniform_flow,
    )
    from .solvers.flow import max_flow
    from .solvers.reach import capacity_staircase, memory_reach
    from .solvers.traffic import traffic
    from .topology import Topology, TopologyBuilder


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'topodsl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"elaborate"})


class _Package(ModuleType):
    """The package's module type, for one name: ``topodsl.elaborate`` is the function, yet
    ``topodsl/elaborate`` is also a submodule, and importing a submodule binds its name on the
    package. A property lets the function be imported on first use (as the names above are)
    and keeps it bound when the import system binds the submodule."""

    @property
    def elaborate(self) -> Any:
        from .elaborate import elaborate as function

        return function

    @elaborate.setter
    def elaborate(self, value: Any) -> None:
        if not isinstance(value, ModuleType):
            raise AttributeError("topodsl.elaborate is the elaborator and cannot be rebound")


sys.modules[__name__].__class__ = _Package

__version__ = "0.1.0"

__all__ = [
    "parse",
    "elaborate",
    "load",
    "loads",
    "Topology",
    "TopologyBuilder",
    "TopoError",
    "TopoSyntaxError",
    "ElaborationError",
    "SolverError",
    "max_flow",
    "bisection",
    "memory_reach",
    "capacity_staircase",
    "data_flow",
    "uniform_flow",
    "checkpoint_write",
    "checkpoint_drain",
    "ingest",
    "cxl_spill",
    "traffic",
    "failure_analysis",
]
