"""The max-flow ceiling of a traffic pattern: the best any routing could do for the same demand.

For a demand (a weight per ordered pair of endpoints) the *ceiling* is the maximum concurrent
flow: the largest rate ``lam`` per unit of weight such that every pair can send ``lam`` times
its weight at once, routed any way at all (split over any paths), within every capacity and
under the forwarding model. No routing beats it; shortest-path ECMP gets at most it.

How it is computed (:func:`concurrent_ceiling`)
-----------------------------------------------
* **Exactly, by a linear program**, when ``sinks x arcs`` is small (``LP_LIMIT``): one
  commodity per sink (traffic to one sink from all its sources; aggregating commodities by
  sink loses nothing for a concurrent flow; under the fabric rule the senders in the sink's
  fabric domain are a commodity of their own, on the domain's arcs alone), flow conservation
  at every vertex of the
  forwarding model's network, one constraint per capacity (a link direction, a half-duplex
  link, a device with both its layers), the endpoints' own limits on ``lam``; solved with
  HiGHS (:func:`scipy.optimize.linprog`). The optimum is exact to the solver's tolerance,
  reported as the bracket ``[lam (1 - 1e-6), lam (1 + 1e-6)]``.
* **Otherwise as a cut bound**: for a set ``X`` of endpoints and the rest ``Y``, all the
  traffic from ``X`` to ``Y`` crosses every cut between them, so ``lam <= maxflow(X -> Y) /
  weight(X -> Y)`` (the max flow under the same forwarding model and endpoint limits).
  *Both ways*: reverse the traffic from ``Y`` to ``X`` (a path reversed is a path the
  forwarding model allows: it is symmetric) and it joins the traffic from ``X`` to ``Y`` on
  a network where each full-duplex link carries both its directions' bandwidth (a half-duplex
  link its one), each device its one limit, each endpoint its egress plus ingress limit; so
  ``lam <= maxflow'(X -> Y) / (weight(X -> Y) + weight(Y -> X))``. This one sees that a NIC's
  limit holds what it sends and what it receives. (Not used when a link is one-way.) The bound
  is the smallest over a few such sets: the heaviest single sources and sinks, the first half
  of the endpoints in id order against the second, and the endpoints under one component at
  each level of the containment hierarchy (a server, a scalable unit) against the rest. It is
  an upper bound, labelled so; the lower end of the bracket is the routed rate, which a
  routing achieves.

>>> from topodsl import loads
>>> from topodsl.patterns import make_demand
>>> t = loads('''link l { bandwidth = 10 GB/s }
... cluster c { switch s[6]; connect ring(s[*]) via l }''')
>>> c = concurrent_ceiling(t, make_demand(t, "shift:2", t.select("kind:switch")))
>>> round(c.upper / 1e9, 6), c.method    # 3/4 of a link: a third of it goes the long way
(7.500007, 'linear program (HiGHS)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..patterns import Demand
from ..topology import Topology
from .flow import egress_limit, ingress_limit, max_flow
from .routing import RoutingNetwork, routing_network

__all__ = ["Ceiling", "concurrent_ceiling", "LP_LIMIT", "LP_TOLERANCE"]

#: Largest linear program (variables: sinks x arcs) solved exactly.
LP_LIMIT = 300_000
#: Relative bracket around the linear program's optimum.
LP_TOLERANCE = 1e-6
# Single sources and sinks tried as cut bounds on large inputs.
_CUT_ENDPOINTS = 4


@dataclass(frozen=True)
class Ceiling:
    """Bounds on the maximum concurrent flow, B/s per unit of weight: ``lower`` is achieved by
    some routing, ``upper`` beaten by none. ``method`` says how ``upper`` was found; ``cut`` is
    the cut's elements for a cut bound; ``sets`` names the endpoint sets of that cut."""

    lower: float
    upper: float
    method: str
    cut: tuple = ()
    sets: str = ""

    @property
    def exact(self) -> bool:
        """Whether the bracket is the linear program's tolerance only."""
        return self.method.startswith("linear program")


def concurrent_ceiling(
    topology: Topology,
    demand: Demand,
    *,
    forwarding: str = "hardware",
    achieved: float = 0.0,
    method: str = "auto",
    network: RoutingNetwork | None = None,
) -> Ceiling:
    """The ceiling of ``demand`` (see the module docstring). ``achieved`` is a rate some
    routing reaches (the routed rate): the bracket's lower end is at least it. ``method`` is
    ``"auto"`` (the linear program when small enough), ``"lp"`` or ``"cut"``."""
    if method not in ("auto", "lp", "cut"):
        raise SolverError(f"unknown ceiling method {method!r} (use auto, lp or cut)")
    rn = network or routing_network(topology, demand.endpoints, "hops", forwarding)
    size = len(demand.sinks()) * len(rn.tail)
    if method == "lp" or (method == "auto" and size <= LP_LIMIT):
        lam = _linear_program(rn, demand)
        if lam < achieved * (1 - 1e-6):
            raise SolverError(  # pragma: no cover - a routing cannot beat the optimum
                f"the concurrent-flow optimum {lam:.6g} is below a routed rate {achieved:.6g}"
            )
        return Ceiling(
            max(achieved, lam * (1 - LP_TOLERANCE)),
            lam * (1 + LP_TOLERANCE),
            "linear program (HiGHS)",
        )
    upper, cut, sets = _cut_bound(topology, demand, forwarding)
    return Ceiling(min(achieved, upper), upper, "cut bound", cut, sets)


def _linear_program(rn: RoutingNetwork, demand: Demand) -> float:
    from scipy.optimize import linprog

    t = rn.topology
    commodities = _commodities(rn, demand)
    T, A, V = len(commodities), len(rn.tail), rn.num_vertices
    finite = rn.group_cap[np.isfinite(rn.group_cap)]
    scale = float(finite.max()) if len(finite) else 1.0
    src_vert = rn.vout[demand.endpoints]
    # Equalities: per commodity and vertex, out - in - lam * (supply - demand) = 0.
    rows, cols, vals = [], [], []
    arcs = np.arange(A)
    b_rows, b_vals = [], []
    closed = []  # per commodity, the arcs the fabric rule closes to it
    for k, (s_idx, srcs, w, on_fabric) in enumerate(commodities):
        base = k * V
        rows += [base + rn.tail, base + rn.head]
        cols += [k * A + arcs, k * A + arcs]
        vals += [np.ones(A), -np.ones(A)]
        if on_fabric is not None:
            closed.append(k * A + np.flatnonzero(~on_fabric))
        supply = np.zeros(V)
        np.add.at(supply, src_vert[srcs], w)
        supply[rn.vin[demand.endpoints[s_idx]]] -= w.sum()
        nz = np.flatnonzero(supply)
        b_rows.append(base + nz)
        b_vals.append(-supply[nz])
    lam = T * A
    rows.append(np.concatenate(b_rows))
    cols.append(np.full(sum(len(x) for x in b_rows), lam))
    vals.append(np.concatenate(b_vals))
    A_eq = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(T * V, T * A + 1),
    )
    # Capacities: per group, the flow of every commodity on its arcs.
    limited = np.isfinite(rn.group_cap[rn.group])
    g_arcs = np.flatnonzero(limited)
    groups, g_index = np.unique(rn.group[g_arcs], return_inverse=True)
    ub_rows = np.tile(g_index, T)
    ub_cols = (np.arange(T)[:, None] * A + g_arcs[None, :]).ravel()
    A_ub = sp.csr_array((np.ones(len(ub_cols)), (ub_rows, ub_cols)), shape=(len(groups), T * A + 1))
    b_ub = rn.group_cap[groups] / scale
    E = demand.endpoints
    out_w, in_w = demand.out_weight(), demand.in_weight()
    with np.errstate(divide="ignore", invalid="ignore"):
        caps = np.concatenate(
            [
                np.where(out_w > 0, egress_limit(t, E) / out_w, np.inf),
                np.where(in_w > 0, ingress_limit(t, E) / in_w, np.inf),
            ]
        )
    lam_max = float(caps.min()) / scale
    bounds = [(0, None)] * (T * A) + [(0, lam_max if math.isfinite(lam_max) else None)]
    for x in closed:
        for v in x.tolist():
            bounds[v] = (0, 0)
    c = np.zeros(T * A + 1)
    c[lam] = -1.0
    res = linprog(
        c,
        A_ub=A_ub if len(groups) else None,
        b_ub=b_ub if len(groups) else None,
        A_eq=A_eq,
        b_eq=np.zeros(T * V),
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status == 3:
        raise SolverError("the ceiling is unbounded: no capacity limits this traffic")
    if res.status != 0:  # pragma: no cover - HiGHS solves every such program
        raise SolverError(f"the concurrent-flow linear program failed: {res.message}")
    return float(-res.fun) * scale


def _commodities(rn: RoutingNetwork, demand: Demand):
    """The linear program's commodities: per sink, the traffic to it from its senders, as
    ``(sink, senders, weights, arcs)``; ``arcs`` is None (every arc) or, under the fabric
    rule, the arcs inside the sink's fabric domain, which alone carry the traffic of the
    senders in that domain (a commodity of their own)."""
    out = []
    E = demand.endpoints
    for s_idx in demand.sinks().tolist():
        srcs, w = demand.senders_to(s_idx)
        peer = np.zeros(len(srcs), dtype=bool)
        if rn.domain is not None:
            d = rn.domain[E]
            peer = (d[srcs] >= 0) & (d[srcs] == d[s_idx])
        if (~peer).any():
            out.append((s_idx, srcs[~peer], w[~peer], None))
        if peer.any():
            out.append((s_idx, srcs[peer], w[peer], rn.fabric_arc))
    return out


def _cut_bound(topology: Topology, demand: Demand, forwarding: str):
    E = demand.endpoints
    n = demand.n
    out_w, in_w = demand.out_weight(), demand.in_weight()
    ids = topology.nodes.ids
    sets: list[tuple[np.ndarray, str]] = []
    for i in np.argsort(-out_w, kind="stable")[:_CUT_ENDPOINTS].tolist():
        sets.append((np.array([i]), f"{ids[int(E[i])]} -> the rest"))
    for i in np.argsort(-in_w, kind="stable")[:_CUT_ENDPOINTS].tolist():
        mask = np.ones(n, dtype=bool)
        mask[i] = False
        sets.append((np.flatnonzero(mask), f"the rest -> {ids[int(E[i])]}"))
    half = np.arange(n // 2)
    sets.append((half, "first half -> second half (id order)"))
    sets.append((np.arange(n // 2, n), "second half -> first half (id order)"))
    parent = topology.nodes.parent.astype(np.int64)
    anc = E.copy()
    for _ in range(int(topology.depth[E].max()) if n else 0):
        anc = np.where(anc >= 0, parent[np.maximum(anc, 0)], -1)
        if anc[0] < 0:
            break
        inside = np.flatnonzero(anc == anc[0])
        if 0 < len(inside) < n:
            sets.append((inside, f"under {ids[int(anc[0])]} -> the rest"))
    both = _both_ways(topology, forwarding)
    best = (math.inf, (), "")
    seen: set[bytes] = set()
    for X, label in sets:
        key = X.tobytes()
        if key in seen:
            continue
        seen.add(key)
        x_mask = np.zeros(n, dtype=bool)
        x_mask[X] = True
        there = _weight_across(demand, x_mask)
        back = _weight_across(demand, ~x_mask)
        if there > 0:
            r = max_flow(topology, E[x_mask], E[~x_mask], forwarding=forwarding)
            bound = _upper(r) / there
            if bound < best[0]:
                best = (bound, tuple(r.cut), label)
        if both is not None and there + back > 0:
            # Both ways at once: a device's limit holds the traffic through it in either
            # direction, a link carries its bandwidth each way (see the module docstring).
            X_rows, Y_rows = E[x_mask], E[~x_mask]
            r = max_flow(
                topology,
                X_rows,
                Y_rows,
                forwarding=forwarding,
                link_capacity=both,
                source_limit=_two_way(topology, X_rows),
                sink_limit=_two_way(topology, Y_rows),
            )
            bound = _upper(r) / (there + back)
            if bound < best[0]:
                best = (bound, tuple(r.cut), label.replace("->", "<->"))
    if not math.isfinite(best[0]):
        raise SolverError("no cut bounds this traffic")
    return best


def _upper(r) -> float:
    return float(r.upper if math.isfinite(r.upper) else r.value)


def _both_ways(topology: Topology, forwarding: str) -> np.ndarray | None:
    """Link capacities for the two-way bound: both directions of a full-duplex link, one of a
    half-duplex one; ``None`` when a one-way link makes reversing traffic meaningless."""
    L = topology.links
    if L.simplex.any():
        return None
    return np.where(L.half_duplex, L.bandwidth, 2 * L.bandwidth)


def _two_way(topology: Topology, rows: np.ndarray) -> np.ndarray:
    return egress_limit(topology, rows) + ingress_limit(topology, rows)


def _weight_across(demand: Demand, x_mask: np.ndarray) -> float:
    """Total weight of the pairs from the endpoints in ``x_mask`` to the others."""
    if demand.matrix is None:
        k = int(x_mask.sum())
        return float(k * (demand.n - k))
    coo = demand.matrix.tocoo()
    return float(coo.data[x_mask[coo.col] & ~x_mask[coo.row]].sum())
