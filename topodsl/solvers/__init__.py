"""Solvers: pure functions from a :class:`~topodsl.topology.Topology` to frozen results.

One module per analysis; :mod:`topodsl.solvers.flow` is the max-flow core they share.
"""

from .flow import CutItem, FlowResult, max_flow

__all__ = ["CutItem", "FlowResult", "max_flow"]
