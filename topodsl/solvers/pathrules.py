"""Path rules: the forwarding rules about whole paths, not about one component's links.

Most of the forwarding model (:mod:`topodsl.solvers.forwarding`) says what a component does
between two of its links, which a flow network expresses with vertices and arcs. Two rules are
about a path as a whole:

**The fabric rule.** A path between two members of one fabric domain (accelerators joined by
NVLink, Infinity Fabric, ICI) uses only the domain's arcs: it never leaves the fabric through
PCIe, a CPU or the network and comes back.

**The CXL binding rule.** A path that crosses between a shared CXL domain (one that two or more
CPUs are attached to) and one of those CPUs touches no other of them: each CPU reaches the
domain through its own port, and traffic of one CPU's port never continues to another CPU bound
to the same domain (directly over UPI, or round a detour). The flow network already forbids
the direct turn inside every such CPU (its *gadget*); a detour back through a PCIe switch or
the network could still launder it, which this rule closes.

For one question (sources, sinks) :func:`rules_for` says which rules can bind. When none can,
one max flow on the network is exact. Otherwise the flow core (:mod:`topodsl.solvers.flow`)
brackets the answer between a max flow on a *restriction* of the network, every path of which
obeys the rules (:func:`restrictions`), and the max flow on the network itself, which admits
every path that obeys them; when the two meet the figure is exact, else it solves a linear
program over the product of the network and a small automaton that follows the rules along a
path (:func:`automaton`).

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> from topodsl.solvers.forwarding import forwarding_plan
>>> b = TopologyBuilder(); _ = b.add_node("s", "nvswitch")
>>> for g in ("g0", "g1"):
...     _ = b.add_node(g, "gpu"); _ = b.add_link(g, "s", bandwidth=1e9)
>>> t = b.build(); p = forwarding_plan(t)
>>> r = rules_for(t, p, (p.domain, p.member), np.array([1]), np.array([2]))
>>> r.inside, r.fabric.tolist(), r.cxl
(0, [0], ())
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinds import KIND_CODE
from ..topology import Topology
from .forwarding import ForwardingPlan

__all__ = ["PathRules", "rules_for", "restrictions", "automaton", "states_of"]


@dataclass(frozen=True)
class PathRules:
    """The path rules that can bind one question.

    ``fabric``: the fabric domains holding both a source and a sink; ``inside``: the one of
    them when every source and sink belongs to it (then the domain's arcs are the whole
    answer), else None; ``cxl``: the shared CXL domains a path of the question can cross at
    one of their CPUs.
    """

    fabric: np.ndarray
    inside: int | None
    cxl: tuple[int, ...]

    @property
    def active(self) -> bool:
        """Whether any rule can bind."""
        return len(self.fabric) > 0 or len(self.cxl) > 0


def rules_for(
    topology: Topology,
    plan: ForwardingPlan,
    fabric: tuple[np.ndarray, np.ndarray] | None,
    sources: np.ndarray,
    sinks: np.ndarray,
) -> PathRules:
    """Which path rules can bind the question ``sources -> sinks`` (rows).

    ``plan`` is the plan the flow network was built from (its CXL domains); ``fabric`` the
    fabric domains per row ``(domain, member)``, or None for none.
    """
    free = np.zeros(0, dtype=np.int64)
    inside = None
    if fabric is not None:
        domain, member = fabric
        ds = domain[sources][member[sources]]
        dt = domain[sinks][member[sinks]]
        if len(ds) and len(dt):
            free = np.intersect1d(ds, dt)
        if len(free) == 1:
            q = np.where(member, domain, -1)
            if np.all(q[sources] == free[0]) and np.all(q[sinks] == free[0]):
                inside = int(free[0])
    cxl: tuple[int, ...] = ()
    if inside is None and len(plan.cxl_cpus):
        ends = np.concatenate([sources, sinks])
        held = set(plan.cxl[ends][plan.cxl[ends] >= 0].tolist())
        cxl = tuple(k for k in range(len(plan.cxl_cpus)) if k in held or _open(topology, plan, k))
    return PathRules(free, inside, cxl)


def _open(topology: Topology, plan: ForwardingPlan, k: int) -> bool:
    """Whether a path that neither starts nor ends in shared CXL domain ``k`` can still cross
    between it and one of its CPUs: through a cascade of its switches, or out through
    something on its device side that forwards (a NIC, a switch) or a CPU that routes."""
    rows = plan.cxl == k
    kind = topology.nodes.kind
    if int(np.count_nonzero(rows & (kind == KIND_CODE["cxl_switch"]))) >= 2:
        return True
    src, dst = topology.links.src.astype(np.int64), topology.links.dst.astype(np.int64)
    bound = np.zeros(len(rows), dtype=bool)
    bound[plan.cxl_cpus[k]] = True
    far = np.concatenate([dst[rows[src] & ~rows[dst]], src[rows[dst] & ~rows[src]]])
    from .forwarding import ENDPOINT, INERT, SEALED

    forwards = ~np.isin(plan.klass[far], [ENDPOINT, SEALED, INERT]) & ~bound[far]
    return bool(forwards.any())


def restrictions(
    rules: PathRules,
    plan: ForwardingPlan,
    topology: Topology,
    owner: np.ndarray,
    tail: np.ndarray,
    head: np.ndarray,
    through: np.ndarray | None,
    vdom: np.ndarray | None,
) -> list[np.ndarray]:
    """Masks over the network's arcs (``tail``, ``head``, vertex ``owner`` rows), each leaving
    a network every path of which obeys the rules: a flow on it is a lower bound.

    * CXL binding: no *through* arc of a gated CPU (its CXL port then carries only the CPU's
      own traffic and that of what never forwards on it, its DIMMs, a GPU on it), and no link
      between two switches of the domain (no cascade leads from one CPU to another);
    * fabric rule: none of the arcs entering a mixed domain from outside (traffic from
      outside cannot end there) or, in the second mask, none of those leaving it.
    """
    keep = np.ones(len(tail), dtype=bool)
    if rules.cxl:
        if through is not None:
            keep &= ~through
        cx = plan.cxl[owner]
        switch = topology.nodes.kind[owner] == KIND_CODE["cxl_switch"]
        on = np.isin(cx, rules.cxl) & switch
        keep &= ~(on[tail] & on[head] & (owner[tail] != owner[head]))
    if not len(rules.fabric) or vdom is None:
        return [keep]
    mixed = np.isin(vdom, rules.fabric)
    dt, dh = vdom[tail], vdom[head]
    crossing = dt != dh
    return [keep & ~(crossing & mixed[head]), keep & ~(crossing & mixed[tail])]


def states_of(rules: PathRules, plan: ForwardingPlan) -> int:
    """How many states :func:`automaton` has for ``rules``."""
    q = 1 + 2 * len(rules.fabric)
    for k in rules.cxl:
        q *= 2 * len(plan.cxl_cpus[k]) + 2
    return q


def automaton(
    rules: PathRules,
    plan: ForwardingPlan,
    fabric: tuple[np.ndarray, np.ndarray] | None,
    arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
    owner: np.ndarray,
    nv: int,
    sources: np.ndarray,
    sinks: np.ndarray,
) -> np.ndarray:
    """The transitions of the rules along a path, per state and arc: ``delta[s, a]`` is the
    state after arc ``a`` for a unit of flow in state ``s`` before it, -1 where the rules
    forbid it. State 0 is where every unit starts, on the super-source's arcs.

    ``arcs`` holds tail, head and whether each arc is a link, for the network's arcs and
    then the super-source's (one per source) and super-sink's (one per sink); vertices
    ``>= nv`` are the super-source and super-sink.

    Fabric rule, per mixed domain D: *in D* (started at a member of D, still on D's arcs)
    and *left D* (has left them: it may not end at a member of D). CXL binding, per shared
    domain K with bound CPUs c_1..c_k: *none*, *touched c_j* (has passed c_j, never crossed
    to K), *touched several* (may not cross to K any more) and *crossed at c_j* (crossed
    between K and c_j: may not touch another c_i). The product of the automata follows
    every rule at once.
    """
    tail, head, is_link = arcs
    m = len(tail)
    n_base = m - len(sources) - len(sinks)
    kind = np.zeros(m, dtype=np.int8)  # 0 network arc, 1 super-source arc, 2 super-sink arc
    kind[n_base : n_base + len(sources)] = 1
    kind[n_base + len(sources) :] = 2
    start = np.full(m, -1, dtype=np.int64)  # the source row of each super-source arc
    start[kind == 1] = sources
    end = np.full(m, -1, dtype=np.int64)  # the sink row of each super-sink arc
    end[kind == 2] = sinks
    own_t = np.where(tail < nv, owner[np.minimum(tail, nv - 1)], -1)
    own_h = np.where(head < nv, owner[np.minimum(head, nv - 1)], -1)
    parts = []
    if len(rules.fabric):
        parts.append(_fabric_automaton(rules.fabric, fabric, kind, start, end, own_t, own_h))
    for k in rules.cxl:
        parts.append(_cxl_automaton(plan, k, kind, start, own_t, own_h, is_link))
    delta = parts[0]
    for nxt in parts[1:]:
        q2 = nxt.shape[0]
        a = np.repeat(delta, q2, axis=0)
        b = np.tile(nxt, (delta.shape[0], 1))
        delta = np.where((a >= 0) & (b >= 0), a * q2 + b, -1)
    return delta


def _fabric_automaton(free, fabric, kind, start, end, own_t, own_h) -> np.ndarray:
    domain, member = fabric
    q = np.where(member, domain, -1)
    m = len(kind)
    delta = np.full((1 + 2 * len(free), m), -1, dtype=np.int64)
    net = kind == 0
    dt = np.where(own_t >= 0, domain[np.maximum(own_t, 0)], -1)
    dh = np.where(own_h >= 0, domain[np.maximum(own_h, 0)], -1)
    src = kind == 1
    delta[0, :] = 0
    for i, d in enumerate(free.tolist()):
        inside, left = 1 + 2 * i, 2 + 2 * i
        delta[0, src & (q[np.maximum(start, 0)] == d)] = inside
        on = net & (dt == d)
        delta[inside, on & (dh == d)] = inside
        delta[inside, on & (dh != d)] = left
        delta[inside, (kind == 2) & (dt == d)] = inside
        delta[left, net] = left
        delta[left, (kind == 2) & (q[np.maximum(end, 0)] != d)] = left
    return delta


def _cxl_automaton(plan, k, kind, start, own_t, own_h, is_link) -> np.ndarray:
    cpus = plan.cxl_cpus[k]
    n_c = len(cpus)
    none, several = 0, n_c + 1
    touched = 1 + np.arange(n_c)
    crossed = n_c + 2 + np.arange(n_c)
    q = 2 * n_c + 2
    m = len(kind)
    which = np.full(int(max(own_t.max(initial=0), own_h.max(initial=0))) + 1, -1)
    which[cpus] = np.arange(n_c)
    jt = np.where(own_t >= 0, which[np.maximum(own_t, 0)], -1)
    jh = np.where(own_h >= 0, which[np.maximum(own_h, 0)], -1)
    in_k_t = (own_t >= 0) & (plan.cxl[np.maximum(own_t, 0)] == k)
    in_k_h = (own_h >= 0) & (plan.cxl[np.maximum(own_h, 0)] == k)
    net = kind == 0
    delta = np.tile(np.arange(q)[:, None], (1, m))  # by default nothing changes
    src = kind == 1
    delta[:, src] = -1
    delta[0, src] = none
    js = np.where(src & (start >= 0), which[np.clip(start, 0, len(which) - 1)], -1)
    on = src & (js >= 0)
    delta[0, on] = touched[js[on]]
    hop_in = net & is_link & in_k_t & (jh >= 0)  # from the domain into one of its CPUs
    hop_out = net & is_link & in_k_h & (jt >= 0)  # from one of its CPUs into the domain
    touch = net & (jh >= 0) & (jh != jt) & ~hop_in
    for j in range(n_c):
        t_j, c_j = touched[j], crossed[j]
        others = np.delete(np.arange(n_c), j)
        arc = hop_in & (jh == j)
        delta[:, arc] = -1
        for s in (none, t_j, c_j):
            delta[s, arc] = c_j
        arc = hop_out & (jt == j)
        delta[:, arc] = -1
        for s in (t_j, c_j):
            delta[s, arc] = c_j
        arc = touch & (jh == j)
        delta[none, arc] = t_j
        delta[touched[others][:, None], arc] = several
        delta[crossed[others][:, None], arc] = -1
    return delta
