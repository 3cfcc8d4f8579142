"""``oversubscription(SWITCHES, to UPLINKED)``: the worst downlink-to-uplink bandwidth ratio.

Without ``to``, a switch's uplinks are its links to switches of its tier or above (tier: hops
from the nearest host, see :func:`switch_tiers`), and switches without uplinks (the top tier)
are skipped; with ``to``, uplinks are the links to those components.

>>> from topodsl import loads
>>> from topodsl.analyses import run
>>> t = loads('''link l { bandwidth = 100 GB/s }
... cluster c { gpu g[4]; switch leaf; switch spine
...             connect g[*] -- leaf via l; connect leaf -- spine via l x2 }''')
>>> r = run(t, "oversubscription", switches="c.leaf")
>>> r.value.format(), r["value"].notes
('2', ('worst: c.leaf, 400 GB/s down / 200 GB/s up',))
"""

from __future__ import annotations

import numpy as np

from ..kinds import KIND_CODE, ROLES
from ..topology import Topology
from ..units import BANDWIDTH, COUNT, format_quantity
from .common import SWITCH_KINDS, subtree_mask
from .figures import Figure
from .registry import SELECTION, Analysis, Field, Param, endpoint_param, register
from .run import ArgumentError

__all__ = ["switch_tiers"]


def switch_tiers(topology: Topology) -> np.ndarray:
    """Tier of every switch row: its hop distance from the nearest host; 0 for non-switches,
    -1 for a switch no host reaches.

    Hosts are the components that are neither switches nor storage and do not sit in a
    ``storage_node``: storage attached to a spine must not make the spine look like a leaf.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for name, kind in (("h", "nic"), ("leaf", "switch"), ("spine", "switch"),
    ...                    ("st", "storage_node"), ("st.nic", "nic")):
    ...     _ = b.add_node(name, kind, parent="st" if name == "st.nic" else None)
    >>> for a, z in (("h", "leaf"), ("leaf", "spine"), ("spine", "st.nic")):
    ...     _ = b.add_link(a, z, 1.0)
    >>> switch_tiers(b.build()).tolist()
    [0, 1, 2, 0, 0]
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import shortest_path

    t = topology
    n = t.num_nodes
    is_switch = _is_switch(t)
    tiers = np.where(is_switch, -1, 0).astype(np.int64)
    if not is_switch.any():
        return tiers
    storage_nodes = np.flatnonzero(t.nodes.kind == KIND_CODE["storage_node"])
    hosts = ~is_switch & (t.role_codes != ROLES.index("storage"))
    if len(storage_nodes):
        hosts &= ~subtree_mask(t, storage_nodes)
    if not hosts.any():
        hosts = ~is_switch
    L = t.links
    # A virtual root joined to every host; a switch's tier is its distance to it, minus one.
    h = np.flatnonzero(hosts)
    rows = np.concatenate([L.src, L.dst, np.full(len(h), n)])
    cols = np.concatenate([L.dst, L.src, h])
    g = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1))
    dist = shortest_path(g, directed=False, unweighted=True, indices=n)[:n]
    reach = is_switch & np.isfinite(dist)
    tiers[reach] = dist[reach].astype(np.int64) - 1
    return tiers


def _is_switch(t: Topology) -> np.ndarray:
    return np.isin(t.nodes.kind, [KIND_CODE[k] for k in SWITCH_KINDS])


def _compute(solve, ctx, args) -> tuple[float, int, float, float]:
    t = ctx.topology
    rows = ctx.rows(args["switches"], "switch selection")
    L = t.links
    n = t.num_nodes
    is_switch = _is_switch(t)
    if "uplinks" in args:
        upward = np.zeros(n, dtype=bool)
        upward[ctx.rows(args["uplinks"], "'to' selection")] = True

        def is_up(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return upward[b]
    else:
        tier = ctx.cached("tiers", lambda: switch_tiers(t))

        def is_up(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return is_switch[b] & (tier[b] >= tier[a])

    down = np.zeros(n)
    up = np.zeros(n)
    for a, b in ((L.src, L.dst), (L.dst, L.src)):
        u = is_up(a, b)
        np.add.at(up, a, np.where(u, L.bandwidth, 0.0))
        np.add.at(down, a, np.where(u, 0.0, L.bandwidth))
    rows = rows[is_switch[rows] & (up[rows] > 0) & (down[rows] > 0)]
    if len(rows) == 0:
        raise ArgumentError(
            "none of the selected components is a switch with both downlinks and uplinks",
            "select the lower tiers of a fabric, e.g. oversubscription(leaf[*]), or name the "
            "uplinked tier: oversubscription(leaf[*], to spine[*])",
            param="switches",
        )
    ratio = down[rows] / up[rows]
    k = int(np.argmax(ratio))
    r = int(rows[k])
    return float(ratio[k]), r, float(down[r]), float(up[r])


def _figures(ctx, args, worst: tuple[float, int, float, float]) -> dict[str, Figure]:
    ratio, row, down, up = worst
    note = (
        f"worst: {ctx.topology.nodes.ids[row]}, {format_quantity(down, BANDWIDTH)} down / "
        f"{format_quantity(up, BANDWIDTH)} up"
    )
    return {"value": Figure.exact(ratio, COUNT, notes=(note,))}


register(
    Analysis(
        name="oversubscription",
        signature="oversubscription(SWITCHES, to UPLINKED)",
        help="worst ratio of downlink to uplink bandwidth over the selected switches. Without "
        "'to', a switch's uplinks go to switches of its tier or above (tier: hops from the "
        "nearest host) and switches without uplinks, the top tier, are skipped; with 'to', "
        "uplinks are the links to those components",
        summary="The worst ratio of downlink to uplink bandwidth over the switches --switches "
        "names.\n\nWithout --to, a switch's uplinks go to switches of its tier or above (tier: "
        "hops from the nearest host) and switches without uplinks, the top tier, are skipped; "
        "with --to, uplinks are the links to those components.",
        params=(
            Param(
                "switches",
                SELECTION,
                "Switches to rate, e.g. 'pod.leaf*'.",
                position=0,
                required=True,
                metavar="SELECTOR",
            ),
            endpoint_param(
                "uplinks", "to", "The uplinked tier, e.g. 'pod.spine*' (default: by tier)."
            ),
        ),
        fields=(Field("value", COUNT, "worst downlink / uplink ratio", better="lower"),),
        compute=_compute,
        figures=_figures,
        default_field="value",
        symmetric=True,
    )
)
