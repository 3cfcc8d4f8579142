"""``count(SELECTION)``: how many components a selection holds.

The smallest analysis, and the worked example of ``docs/architecture.md`` ("How to add an
analysis"): one declaration gives ``topodsl analyze count FILE --select SELECTOR``, the
assertion ``count(kind:gpu) == 8``, its JSON document and its ``diff`` rows.

>>> from topodsl import loads
>>> from topodsl.analyses import run
>>> run(loads("cluster c { gpu g[8] }"), "count", components="kind:gpu").value.format()
'8'
"""

from __future__ import annotations

from ..units import COUNT
from .figures import Figure
from .registry import SELECTION, Analysis, Field, Param, register


def _compute(solve, ctx, args) -> int:
    return len(ctx.rows(args["components"], allow_empty=True))


def _figures(ctx, args, n: int) -> dict[str, Figure]:
    return {"value": Figure.exact(n, COUNT)}


COUNT_ANALYSIS = register(
    Analysis(
        name="count",
        signature="count(SELECTION)",
        help="number of components selected",
        summary="Number of components of FILE that --select names.",
        params=(
            Param(
                "components",
                SELECTION,
                "Components to count, e.g. 'kind:gpu' or 'pod.node*.gpu*'.",
                position=0,
                required=True,
                flag="--select",
                metavar="SELECTOR",
                allow_empty=True,
            ),
        ),
        fields=(Field("value", COUNT, "number of components selected"),),
        compute=_compute,
        figures=_figures,
        default_field="value",
        symmetric=True,
    )
)
