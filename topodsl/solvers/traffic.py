"""``traffic``: a pattern routed by shortest-path ECMP, and the ceiling no routing beats.

The one solver behind ``topodsl analyze traffic``: :func:`~topodsl.solvers.routing.routed_traffic`
for what ECMP gets, :func:`~topodsl.solvers.concurrent.concurrent_ceiling` for the best any
routing could get for the same demand, on the same network (see those modules and
docs/traffic.md).

>>> from topodsl import loads
>>> t = loads('''link l { bandwidth = 10 GB/s }
... cluster c { switch s[6]; connect ring(s[*]) via l }''')
>>> r = traffic(t, "shift:2", "kind:switch")
>>> r.routed.rate / 1e9, round(r.efficiency[1], 4)       # ECMP gets 2/3 of the ceiling
(5.0, 0.6667)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..patterns import Demand, make_demand
from ..topology import Topology
from .concurrent import Ceiling, concurrent_ceiling
from .routing import RoutedTraffic, routed_traffic

__all__ = ["TrafficResult", "traffic"]


@dataclass(frozen=True)
class TrafficResult:
    """A routed pattern and its ceiling (both B/s per unit of weight)."""

    routed: RoutedTraffic
    ceiling: Ceiling

    @property
    def efficiency(self) -> tuple[float, float]:
        """Routed rate over the ceiling, as ``(lower, upper)`` bounds (at most 1)."""
        r = self.routed.rate
        c = self.ceiling
        hi = min(1.0, r / c.lower) if c.lower > 0 else 1.0
        lo = min(hi, r / c.upper) if c.upper > 0 else 1.0
        return lo, hi


def traffic(
    topology: Topology,
    pattern: str | Demand = "all-to-all",
    between: str | np.ndarray = "kind:gpu",
    *,
    seed: int = 0,
    metric: str = "hops",
    forwarding: str = "hardware",
    fair: bool = False,
    ceiling: str = "auto",
) -> TrafficResult:
    """Route ``pattern`` (a :class:`~topodsl.patterns.Demand`, or a built-in pattern's name
    over the endpoints ``between``, a selector or rows) with ECMP and bound the best routing
    (see the module docstring).

    Raises
    ------
    SolverError
        An unknown pattern, metric or forwarding model; fewer than two endpoints.
    """
    if isinstance(pattern, Demand):
        demand = pattern
    else:
        rows = topology.select(between) if isinstance(between, str) else np.asarray(between)
        demand = make_demand(topology, pattern, rows, seed=seed)
    routed = routed_traffic(topology, demand, metric=metric, forwarding=forwarding, fair=fair)
    top = concurrent_ceiling(
        topology,
        demand,
        forwarding=forwarding,
        achieved=routed.rate,
        method=ceiling,
        network=routed.network if metric == "hops" else None,
    )
    return TrafficResult(routed, top)
