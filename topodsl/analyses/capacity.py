"""``capacity(SELECTION)``: bytes held by the selected components and everything inside them.

>>> from topodsl import loads
>>> from topodsl.analyses import run
>>> t = loads("cluster c { node n[2] { hbm m[4] { capacity = 80 GB } } }")
>>> run(t, "capacity", components="c.n*").value.format()
'640 GB'
"""

from __future__ import annotations

from ..units import SIZE
from .figures import Figure
from .registry import SELECTION, Analysis, Field, Param, register


def _compute(solve, ctx, args) -> float:
    rows = ctx.rows(args["components"], allow_empty=True)
    return float(ctx.topology.nodes.capacity[ctx.subtree(rows)].sum())


def _figures(ctx, args, total: float) -> dict[str, Figure]:
    return {"value": Figure.exact(total, SIZE)}


register(
    Analysis(
        name="capacity",
        signature="capacity(SELECTION)",
        help="total bytes held by the selected components and everything inside them",
        summary="Bytes held by the components --select names and everything inside them.",
        params=(
            Param(
                "components",
                SELECTION,
                "Components whose memory and storage to add up, e.g. 'kind:hbm' or 'pod.node0'.",
                position=0,
                required=True,
                flag="--select",
                metavar="SELECTOR",
                allow_empty=True,
            ),
        ),
        fields=(Field("value", SIZE, "bytes held", better="higher"),),
        compute=_compute,
        figures=_figures,
        default_field="value",
        symmetric=True,
    )
)
