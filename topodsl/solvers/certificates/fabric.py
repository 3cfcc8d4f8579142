"""Closed forms of the fabric generators as flow certificates.

When the topology holds a generator's output exactly (its recorded links join exactly the
planned pairs), the generator's closed form (:func:`topodsl.fabrics.closed_form_bisection`) is
a flow certificate over its hosts: for every balanced split of the hosts there is a flow of at
least that value, in which no host sends or receives more than its rate. The flow runs over
the fabric's links and relays through its switches (and, when the hosts are not the
endpoints, through its hosts), so it is used only when the flow network agrees:

* every fabric link is in the flow network as two arcs, one each way;
* every fabric component that relays and is not an endpoint forwards in the flow network,
  as one vertex or as a device whose limit D caps what it passes. It carries at most its
  fabric link capacity T, so the flow is scaled by ``min(1, D / T)``. (Endpoints relay for
  free: see :mod:`topodsl.solvers.certificates.network`.)

It applies to the endpoints when they are the fabric's hosts, or when each endpoint reaches its
own host over a *private* link (not a fabric link) of capacity at least p: the fabric flow then
extends to the endpoints scaled by ``min(1, p / rate)``.
"""

from __future__ import annotations

import numpy as np

from ...topology import Topology
from ...units import BANDWIDTH, format_quantity
from ..flow import _ARC_LINK, FlowNetwork, sorted_unique

__all__ = ["fabric_bounds"]


def fabric_bounds(
    topology: Topology,
    E: np.ndarray,
    owner: np.ndarray,
    net: FlowNetwork,
    transit: np.ndarray,
) -> list[tuple[str, float, str]]:
    """Closed-form bounds, as (method, value in B/s, note), for the fabrics that are exactly a
    generator's output.

    ``owner[row]`` is the endpoint (position in ``E``) a row belongs to, -1 for none;
    ``transit`` is :func:`~topodsl.solvers.certificates.network.row_transit` of ``net``.
    """
    from ...fabrics import GENERATORS, closed_form_bisection, plan_fabric

    out: list[tuple[str, float, str]] = []
    L = topology.links
    both_ways = _links_in_network(topology, net)
    for info in topology.fabrics:
        hosts = np.asarray(info.hosts, dtype=np.int64)
        H = len(hosts)
        if H < 2 or info.generator not in GENERATORS:
            continue
        args = {k: v for k, v in info.params.items() if k in GENERATORS[info.generator].args}
        try:
            plan = plan_fabric(info.generator, H, args)
        except ValueError:
            continue
        switches = np.asarray(info.switches, dtype=np.int64)
        links = np.asarray(info.links, dtype=np.int64)
        if len(switches) != plan.num_switches or len(links) != plan.num_links:
            continue
        space = np.concatenate([hosts, switches])
        n_all = topology.num_nodes
        pa, pb = space[plan.a], space[plan.b]
        want = np.minimum(pa, pb) * n_all + np.maximum(pa, pb)
        ls, ld = L.src[links].astype(np.int64), L.dst[links].astype(np.int64)
        have = np.minimum(ls, ld) * n_all + np.maximum(ls, ld)
        w_order, h_order = np.argsort(want, kind="stable"), np.argsort(have, kind="stable")
        if not np.array_equal(want[w_order], have[h_order]):
            continue
        if not np.all(both_ways[links]):
            continue  # a one-way link, or one the flow network does not carry both ways
        nodes = sorted_unique(space)
        relays = nodes[owner[nodes] < 0]
        if np.any(transit[relays] <= 0):
            continue  # some relay of the closed form's flow does not forward
        role_of_link = np.empty(len(links), dtype=np.int64)
        role_of_link[h_order] = plan.role[w_order]
        link_bw = L.bandwidth[links]
        capacity = {}
        for r, name in enumerate(plan.roles):
            sel = role_of_link == r
            if np.any(sel):
                capacity[name] = float(link_bw[sel].min())
        cf = closed_form_bisection(info.generator, H, plan.params, capacity)
        if cf.lower <= 0:
            continue
        through = np.zeros(n_all)
        np.add.at(through, ls, link_bw)
        np.add.at(through, ld, link_bw)
        limited = relays[np.isfinite(transit[relays]) & (through[relays] > 0)]
        scale = 1.0
        if len(limited):
            scale = min(1.0, float(np.min(transit[limited] / through[limited])))
        label = f"fabric {info.name} ({info.generator})"
        if np.array_equal(np.sort(hosts), np.sort(E)):
            note = cf.method + (f", scaled by {scale:.6g} for device limits" if scale < 1 else "")
            out.append((label, cf.lower * scale, note))
            continue
        if len(E) != H or np.any(owner[hosts] >= 0):
            continue
        private = _private_links(topology, owner, len(E), hosts, links, both_ways)
        if private is None:
            continue
        factor = min(scale, private / cf.host_rate) if cf.host_rate > 0 else scale
        note = (
            f"{cf.method}; each endpoint reaches its own host over a private link of at "
            f"least {format_quantity(private, BANDWIDTH)}"
        )
        out.append((label, cf.lower * min(1.0, factor), note))
    return out


def _links_in_network(topology: Topology, net: FlowNetwork) -> np.ndarray:
    """For each link, whether the flow network carries it both ways at its bandwidth, from its
    source's out vertex to its target's in vertex and back."""
    L = topology.links
    links = np.flatnonzero(net.what == _ARC_LINK)
    e = net.ref[links]
    src, dst = L.src[e].astype(np.int64), L.dst[e].astype(np.int64)
    fwd = net.forward[links]
    a, b = np.where(fwd, src, dst), np.where(fwd, dst, src)
    ok = (net.tail[links] == net.vout[a]) & (net.head[links] == net.vin[b])
    ok &= net.capacity[links] >= L.bandwidth[e]
    n = topology.num_links
    has_f = np.bincount(e[ok & fwd], minlength=n) > 0
    has_b = np.bincount(e[ok & ~fwd], minlength=n) > 0
    return has_f & has_b


def _private_links(topology, owner, n_groups, hosts, fabric_links, both_ways):
    """Smallest capacity of a one-to-one pairing of endpoints with hosts by direct links that
    are not fabric links (from any member of the endpoint), or None when there is none."""
    L = topology.links
    n = topology.num_nodes
    is_h = np.zeros(n, dtype=bool)
    is_h[hosts] = True
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    e_src, e_dst = owner[src], owner[dst]
    cand = ((e_src >= 0) & is_h[dst]) | (is_h[src] & (e_dst >= 0))
    cand &= both_ways
    cand[fabric_links] = False
    rows = np.flatnonzero(cand)
    if len(rows) == 0:
        return None
    from_e = e_src[rows] >= 0
    e = np.where(from_e, e_src[rows], e_dst[rows])
    h = np.where(from_e, dst[rows], src[rows])
    key = e * n + h
    uniq, inv = sorted_unique(key, return_inverse=True)
    cap = np.bincount(inv, weights=L.bandwidth[rows])
    pe, ph = uniq // n, uniq % n
    # Each endpoint's best host; the pairing must be one-to-one and cover every endpoint.
    order = np.lexsort((-cap, pe))
    first = np.r_[True, pe[order][1:] != pe[order][:-1]]
    pick = order[first]
    if len(pick) != n_groups or len(sorted_unique(ph[pick])) != n_groups:
        return None
    return float(cap[pick].min())
