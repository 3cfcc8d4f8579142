"""``links(type:TYPE, from A, to B)``: how many links there are, their lanes and bandwidth.

Every argument is optional: ``links(type:nvlink4)`` counts the NVLink 4 links, ``links(from
leaf[*], to spine[*])`` the links between two tiers (either way round), ``links()`` every link.
In an assertion, only links with both ends inside the assertion's component count. A link
``x18`` is one link of 18 lanes: ``.lanes`` counts lanes, ``.bandwidth`` adds up bandwidth per
direction.

>>> from topodsl import loads
>>> from topodsl.analyses import run
>>> t = loads('''link nvl { bandwidth = 25 GB/s }
... node n { gpu g[2]; nvswitch s; connect g[*] -- s via nvl x18 }''')
>>> r = run(t, "links", types="nvl")
>>> r.value.format(), r["lanes"].measure.format(), r["bandwidth"].measure.format()
('2', '36', '900 GB/s')
"""

from __future__ import annotations

import difflib

import numpy as np

from ..units import BANDWIDTH, COUNT
from .figures import Figure
from .registry import LINK_TYPES, Analysis, Field, Param, endpoint_param, register
from .run import ArgumentError


def _link_mask(ctx, args) -> np.ndarray:
    t = ctx.topology
    L = t.links
    keep = np.ones(t.num_links, dtype=bool)
    if "types" in args:
        known = list(dict.fromkeys([*t.link_types, *t.link_type_names]))
        codes = []
        for name in args["types"]:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                raise ArgumentError(
                    f"no link type {name!r} in this topology",
                    f"did you mean {close[0]!r}?" if close else "types: " + ", ".join(known),
                    param="types",
                )
            if name in t.link_type_names:
                codes.append(t.link_type_names.index(name))
        keep &= np.isin(L.type, codes)
    if args.scope:
        inside = ctx.subtree([t.index(args.scope)])
        keep &= inside[L.src] & inside[L.dst]
    ends = [
        ctx.rows(args[k], f"'{kw}' selection")
        for k, kw in (("sources", "from"), ("sinks", "to"))
        if k in args
    ]
    if ends:
        a = np.zeros(t.num_nodes, dtype=bool)
        a[ends[0]] = True
        b = np.ones(t.num_nodes, dtype=bool)  # one end given: the other may be anywhere
        if len(ends) == 2:
            b = np.zeros(t.num_nodes, dtype=bool)
            b[ends[1]] = True
        keep &= (a[L.src] & b[L.dst]) | (b[L.src] & a[L.dst])
    return keep


def _compute(solve, ctx, args) -> tuple[int, float, float]:
    keep = _link_mask(ctx, args)
    L = ctx.topology.links
    return int(keep.sum()), float(L.lanes[keep].sum()), float(L.bandwidth[keep].sum())


def _figures(ctx, args, totals: tuple[int, float, float]) -> dict[str, Figure]:
    n, lanes, bandwidth = totals
    return {
        "count": Figure.exact(n, COUNT),
        "lanes": Figure.exact(lanes, COUNT),
        "bandwidth": Figure.exact(bandwidth, BANDWIDTH),
    }


register(
    Analysis(
        name="links",
        signature="links(type:TYPE, from A, to B)",
        help="number of links of the given types (default: any) between the 'from' and 'to' "
        "components (default: anywhere in the assertion's component), a link x18 counting once; "
        ".lanes counts lanes, .bandwidth adds up bandwidth per direction",
        summary="Number of links of FILE of --type between --from and --to, their lanes and "
        "bandwidth.\n\nA link declared 'x18' is one link of 18 lanes. The bandwidth is the sum "
        "over the links, per direction.",
        params=(
            Param(
                "types",
                LINK_TYPES,
                "Link types, e.g. 'nvlink4' or 'nvlink4|nvlink5' (default: every type).",
                position=0,
                flag="--type",
                metavar="TYPE",
            ),
            endpoint_param("sources", "from", "Components at one end (default: any)."),
            endpoint_param("sinks", "to", "Components at the other end (default: any)."),
        ),
        fields=(
            Field("count", COUNT, "number of links"),
            Field("lanes", COUNT, "lanes over those links"),
            Field("bandwidth", BANDWIDTH, "bandwidth over those links, per direction"),
        ),
        compute=_compute,
        figures=_figures,
        default_field="count",
        symmetric=True,
    )
)
