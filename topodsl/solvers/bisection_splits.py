"""Candidate splits for a bisection's upper bound: each is measured exactly by a max flow.

Any balanced split of the endpoints gives an upper bound (the capacity of its minimum cut), so
these are heuristics for finding a cheap one: the containment hierarchy (half the pods, racks or
nodes on each side), the rails (the first half of every server's GPUs), a fabric generator's
natural split carried to the endpoints, and METIS on the undirected relaxation of the
certificate network (so a component that does not forward, such as a two-headed CXL expander,
does not pull its hosts together).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..topology import Topology
from .certificates import Relaxation

__all__ = [
    "containment_order",
    "sibling_position",
    "project_labels",
    "metis_graph",
    "metis_split",
]


# -- containment ---------------------------------------------------------------------------------


def _ancestor_columns(topology: Topology, rows: np.ndarray) -> list[np.ndarray]:
    """For each depth d (0 = top), the ancestor of each row at that depth (or the row)."""
    parent = topology.nodes.parent
    chain = [rows]
    cur = rows
    while True:
        up = parent[cur]
        if not np.any(up >= 0):
            break
        cur = np.where(up >= 0, up, cur)
        chain.append(cur)
    # chain[k] is k levels up (clamped at the top); reverse so column 0 is the top.
    return chain[::-1]


def containment_order(topology: Topology, E: np.ndarray) -> np.ndarray:
    """Positions of E sorted by their ancestor chain (pods, racks, nodes...), then by row."""
    cols = _ancestor_columns(topology, E)
    # np.lexsort sorts by the last key first.
    return np.lexsort((E, *cols[::-1])) if len(cols) > 1 else np.argsort(E, kind="stable")


def sibling_position(topology: Topology, E: np.ndarray) -> np.ndarray:
    """Index of each endpoint among the endpoints sharing its parent, as a fraction."""
    parent = topology.nodes.parent[E].astype(np.int64)
    order = np.lexsort((E, parent))
    pos = np.empty(len(E))
    sp_ = parent[order]
    starts = np.r_[0, np.flatnonzero(sp_[1:] != sp_[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(E)])
    group_start = np.repeat(starts, sizes)
    group_size = np.repeat(sizes, sizes)
    pos[order] = (np.arange(len(E)) - group_start) / np.maximum(group_size, 1)
    return pos


def project_labels(topology: Topology, E: np.ndarray, hosts: np.ndarray, labels: np.ndarray):
    """Carry 0/1 labels of fabric hosts to the endpoints: own label, else the mean label of
    directly linked hosts, else that of the nearest container holding labelled hosts."""
    n = topology.num_nodes
    hosts = np.asarray(hosts, dtype=np.int64)
    total = np.zeros(n)
    count = np.zeros(n)
    np.add.at(total, hosts, labels)
    np.add.at(count, hosts, 1.0)
    out = np.full(len(E), np.nan)
    own = count[E] > 0
    out[own] = total[E][own] / count[E][own]
    if np.all(own):
        return out
    # Linked hosts.
    L = topology.links
    is_host = count > 0
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    lt = np.zeros(n)
    lc = np.zeros(n)
    m = is_host[dst]
    np.add.at(lt, src[m], total[dst[m]] / count[dst[m]])
    np.add.at(lc, src[m], 1.0)
    m = is_host[src]
    np.add.at(lt, dst[m], total[src[m]] / count[src[m]])
    np.add.at(lc, dst[m], 1.0)
    linked = np.isnan(out) & (lc[E] > 0)
    out[linked] = lt[E][linked] / lc[E][linked]
    if not np.any(np.isnan(out)):
        return out
    # Containers: accumulate host labels upwards.
    parent = topology.nodes.parent
    up_t, up_c = total.copy(), count.copy()
    cur = hosts
    vals, cnts = total[hosts], count[hosts]
    while len(cur):
        par = parent[cur]
        ok = par >= 0
        cur, vals, cnts = par[ok], vals[ok], cnts[ok]
        np.add.at(up_t, cur, vals)
        np.add.at(up_c, cur, cnts)
    missing = np.flatnonzero(np.isnan(out))
    cur = E[missing].copy()
    for _ in range(64):
        if len(missing) == 0:
            break
        cur = parent[cur]
        ok = cur >= 0
        missing, cur = missing[ok], cur[ok]
        found = up_c[cur] > 0
        out[missing[found]] = up_t[cur[found]] / up_c[cur[found]]
        missing, cur = missing[~found], cur[~found]
    if np.all(np.isnan(out)):
        return None
    return np.where(np.isnan(out), 0.5, out)


# -- partitioner ---------------------------------------------------------------------------------


def metis_graph(rel: Relaxation, n: int):
    """METIS input for the relaxation: endpoints (nodes 0 .. n - 1) weighted 1, other nodes 0,
    edges weighted by the mean of their two directions' capacity, device limits relaxed; None
    when there is no edge."""
    w = rel.weights(symmetric=False)
    keep = w > 0
    if not np.any(keep):
        return None
    a, b, w = rel.a[keep], rel.b[keep], w[keep]
    nv = rel.num_nodes
    scale = min(1e5 / w.max(), 2**29 / w.sum())
    wi = np.maximum(1, np.round(w * scale)).astype(np.int64)
    adj = sp.coo_array((np.r_[wi, wi], (np.r_[a, b], np.r_[b, a])), shape=(nv, nv)).tocsr()
    adj.sum_duplicates()
    adj.sort_indices()
    vw = np.zeros(nv, dtype=np.int64)
    vw[:n] = 1
    return adj, vw, np.arange(n)


def metis_split(graph, seed: int, lo: int) -> np.ndarray | None:
    """METIS's two-way partition of ``graph`` (from :func:`metis_graph`) with ``seed``, moved
    to exactly ``lo`` endpoints on the first side; None when METIS refuses the input."""
    import pymetis

    adj, vw, e_index = graph
    try:
        part = pymetis.part_graph(
            2,
            pymetis.CSRAdjacency(adj.indptr.astype(np.int64), adj.indices.astype(np.int64)),
            vweights=vw,
            eweights=np.asarray(adj.data, dtype=np.int64),
            options=pymetis.Options(seed=int(seed)),
        ).vertex_part
    except Exception:  # METIS can refuse odd inputs; the other candidates still stand
        return None
    part = np.asarray(part, dtype=np.int64)
    side = part[e_index] == 0
    return _rebalance(adj, part, e_index, side, lo)


def _rebalance(adj, part, e_index, side, lo) -> np.ndarray:
    """Move the endpoints that gain most until the first side holds exactly ``lo``."""
    count = int(side.sum())
    if count == lo:
        return side
    ind = (part == 0).astype(np.float64)
    to0 = adj @ ind
    to1 = adj @ (1.0 - ind)
    w0, w1 = to0[e_index], to1[e_index]
    if count > lo:
        # Move from side 0 to side 1: prefer those pulled most towards side 1.
        cand = np.flatnonzero(side)
        gain = w1[cand] - w0[cand]
        move = cand[np.argsort(-gain, kind="stable")[: count - lo]]
        side = side.copy()
        side[move] = False
    else:
        cand = np.flatnonzero(~side)
        gain = w0[cand] - w1[cand]
        move = cand[np.argsort(-gain, kind="stable")[: lo - count]]
        side = side.copy()
        side[move] = True
    return side


# -- spectral --------------------------------------------------------------------------------
