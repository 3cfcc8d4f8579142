"""The tests' oracle of a failure: a topology rebuilt from scratch without what failed.

Failure analysis applies a failure as masks over the original's arrays; the tests compare it
with this, which shares nothing with it: a new :class:`~topodsl.topology.TopologyBuilder`
topology with the failed links left out and every failed component kept but cut off, with no
capacity.
"""

from __future__ import annotations

import math

from topodsl.topology import Topology, TopologyBuilder


def rebuilt_without(t: Topology, failed_links=(), failed_rows=()) -> Topology:
    """``t`` rebuilt without the link rows ``failed_links`` and with the component rows
    ``failed_rows`` (their subtrees are the caller's to include) cut off and emptied."""
    failed_links, failed_rows = set(failed_links), set(failed_rows)
    b = TopologyBuilder()
    n = t.nodes
    for r, name in enumerate(n.ids):
        dead = r in failed_rows
        attrs = {
            f: (0.0 if dead else float(getattr(n, f)[r]))
            for f in ("bandwidth", "read_bandwidth", "write_bandwidth", "capacity", "latency")
        }
        parent = int(n.parent[r])
        b.add_node(
            name,
            t.kind_of(r),
            parent=n.ids[parent] if parent >= 0 else None,
            relay=n.extra.get(r, {}).get("relay"),
            **{k: v for k, v in attrs.items() if not math.isinf(v)},
        )
    L = t.links
    for e in range(t.num_links):
        s, d = int(L.src[e]), int(L.dst[e])
        if e in failed_links or s in failed_rows or d in failed_rows:
            continue
        b.add_link(
            s,
            d,
            float(L.bandwidth[e]),
            latency=float(L.latency[e]),
            simplex=bool(L.simplex[e]),
            half_duplex=bool(L.half_duplex[e]),
            type=t.link_type_of(e),
        )
    return b.build()
