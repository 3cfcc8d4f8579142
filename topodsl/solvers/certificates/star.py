"""The star bound: every component joined to most endpoints owns a share of every balanced cut.

Take a transit component *j* with in vertex p and out vertex q in the certificate network
(p = q for a component without a limit). The arcs from the endpoints into p, from q to the
endpoints, and from p to q (its own limit) belong to *j* alone. In the minimum cut of any
balanced split (A, B), the smaller half holding at least ⌊n/2⌋ endpoints:

* p and q on A's side: the arcs from q to every endpoint of B are cut;
* p and q on B's side: the arcs from every endpoint of A into p are cut;
* p on A's side, q on B's: the arcs from p to q are cut (nothing, when *j* does not forward:
  a memory device's two vertices have no arc between them);
* q on A's side, p on B's: both sets of endpoint arcs are cut.

So the cut holds at least ``s_j = min(in-share, out-share, arcs p -> q)`` on *j*'s arcs, an
in- or out-share being the sum of the ⌊n/2⌋ smallest per-endpoint capacities (0 for an
endpoint *j* has no arc with). Different components own disjoint arcs: bisection >= Σ s_j.

>>> from topodsl.topology import TopologyBuilder
>>> from topodsl.solvers.flow import build_network
>>> from topodsl.solvers.certificates.network import certificate_network
>>> b = TopologyBuilder(); _ = b.add_node("sw", "switch")
>>> for i in range(4):
...     _ = b.add_node(f"g{i}", "gpu")
...     _ = b.add_link(f"g{i}", "sw", bandwidth=10e9)
>>> cn = certificate_network(build_network(b.build()), np.arange(1, 5), np.arange(4), 4)
>>> star_bound(cn, np.array([0]))
(20000000000.0, 1)
"""

from __future__ import annotations

import numpy as np

from .network import CertificateNetwork

__all__ = ["star_bound"]


def star_bound(cn: CertificateNetwork, rows: np.ndarray) -> tuple[float, int]:
    """Σ s_j over the components ``rows`` (transit rows), and how many contributed."""
    n, lo = cn.n, cn.n // 2
    rows = np.asarray(rows, dtype=np.int64)
    p, q = cn.vertex_in[rows], cn.vertex_out[rows]
    ok = (p >= n) & (q >= n)
    rows, p, q = rows[ok], p[ok], q[ok]
    if len(rows) == 0 or lo == 0:
        return 0.0, 0
    nv = cn.num_vertices
    # Per-endpoint capacity into each vertex from the endpoints, and out of it to them.
    into = cn.tail < n
    outof = cn.head < n
    reach_in = np.bincount(cn.head[into], minlength=nv)
    reach_out = np.bincount(cn.tail[outof], minlength=nv)
    # Only a component with arcs to and from more than n - lo endpoints can have s_j > 0.
    hopeful = (reach_in[p] > n - lo) & (reach_out[q] > n - lo)
    rows, p, q = rows[hopeful], p[hopeful], q[hopeful]
    if len(rows) == 0:
        return 0.0, 0
    total = 0.0
    used = 0
    own = _own_capacity(cn, p, q)
    for k in range(len(rows)):
        shares = []
        for mask, side, other, v in (
            (into, cn.head, cn.tail, p[k]),
            (outof, cn.tail, cn.head, q[k]),
        ):
            sel = mask & (side == v)
            per_endpoint = np.bincount(other[sel], weights=cn.capacity[sel], minlength=n)
            shares.append(float(np.sort(per_endpoint)[:lo].sum()))
        share = min(*shares, own[k])
        if share > 0:
            total += share
            used += 1
    return total, used


def _own_capacity(cn: CertificateNetwork, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Capacity of the arc p -> q of each component (``inf`` when p = q, 0 when none)."""
    num = cn.num_vertices
    key = cn.tail * num + cn.head
    want = p * num + q
    pos = np.minimum(np.searchsorted(key, want), max(len(key) - 1, 0))
    cap = np.zeros(len(p))
    if len(key):
        hit = key[pos] == want
        cap[hit] = cn.capacity[pos[hit]]
    cap[p == q] = np.inf
    return cap
