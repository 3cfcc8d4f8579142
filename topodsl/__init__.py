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

from .api import load, loads
from .elaborate import elaborate
from .errors import ElaborationError, SolverError, TopoError, TopoSyntaxError
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
from .topology import Topology, TopologyBuilder

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
]
