"""topodsl: a small language for AI-cluster hardware topologies, and the solvers that answer
the questions architects ask of a design (bisection bandwidth, memory reach, data-path
bottlenecks)."""

from .errors import ElaborationError, SolverError, TopoError, TopoSyntaxError
from .solvers.flow import max_flow
from .topology import Topology, TopologyBuilder

__version__ = "0.1.0"

__all__ = [
    "Topology",
    "TopologyBuilder",
    "TopoError",
    "TopoSyntaxError",
    "ElaborationError",
    "SolverError",
    "max_flow",
]
