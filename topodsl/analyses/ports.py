"""``ports_used(SELECTION)`` and ``ports_free(SELECTION)``: link lanes against declared ports.

A link ``x4`` uses four ports at each end. ``ports_used`` is the most any selected component
uses; ``ports_free`` the fewest declared ports left unused on any selected component that
declares ports.

>>> from topodsl import loads
>>> from topodsl.analyses import run
>>> t = loads('''link l { bandwidth = 1 GB/s }
... cluster c { switch s { ports = 8 }; gpu g[2]; connect g[*] -- s via l x2 }''')
>>> run(t, "ports_used", components="c.s").value.format()
'4'
>>> r = run(t, "ports_free", components="c.s")
>>> r.value.format(), r["value"].notes
('4', ('fullest: c.s (4 free)',))
"""

from __future__ import annotations

import numpy as np

from ..units import COUNT
from .common import lanes_used
from .figures import Figure
from .registry import SELECTION, Analysis, Field, Param, register
from .run import ArgumentError


def _selection(what: str) -> Param:
    return Param(
        "components",
        SELECTION,
        f"Components whose {what}, e.g. 'kind:switch' or 'pod.leaf*'.",
        position=0,
        required=True,
        flag="--select",
        metavar="SELECTOR",
    )


def _lanes(ctx) -> np.ndarray:
    return ctx.cached("lanes", lambda: lanes_used(ctx.topology))


def _used(solve, ctx, args) -> tuple[float, int]:
    rows = ctx.rows(args["components"])
    used = _lanes(ctx)[rows]
    k = int(np.argmax(used))
    return float(used[k]), int(rows[k])


def _used_figures(ctx, args, worst: tuple[float, int]) -> dict[str, Figure]:
    used, row = worst
    note = f"most used: {ctx.topology.nodes.ids[row]} ({used:g} lanes)"
    return {"value": Figure.exact(used, COUNT, notes=(note,))}


def _free(solve, ctx, args) -> tuple[float, int]:
    t = ctx.topology
    rows = ctx.rows(args["components"])
    rows = rows[t.nodes.ports[rows] >= 0]
    if len(rows) == 0:
        raise ArgumentError(
            "none of the selected components declares ports",
            "declare them, e.g. switch leaf[8] { ports = 64 }",
            param="components",
        )
    free = t.nodes.ports[rows] - _lanes(ctx)[rows]
    k = int(np.argmin(free))
    return float(free[k]), int(rows[k])


def _free_figures(ctx, args, worst: tuple[float, int]) -> dict[str, Figure]:
    free, row = worst
    note = f"fullest: {ctx.topology.nodes.ids[row]} ({free:g} free)"
    return {"value": Figure.exact(free, COUNT, notes=(note,))}


register(
    Analysis(
        name="ports_used",
        signature="ports_used(SELECTION)",
        help="most link lanes connected to any one selected component",
        summary="The most link lanes connected to any one component --select names.",
        params=(_selection("lanes to count"),),
        fields=(Field("value", COUNT, "most lanes on one component"),),
        compute=_used,
        figures=_used_figures,
        default_field="value",
        symmetric=True,
    )
)

register(
    Analysis(
        name="ports_free",
        signature="ports_free(SELECTION)",
        help="fewest declared ports left unused on any selected component that declares ports",
        summary="The fewest declared ports left unused on any component --select names that "
        "declares ports.",
        params=(_selection("free ports to count"),),
        fields=(Field("value", COUNT, "fewest free ports on one component", better="higher"),),
        compute=_free,
        figures=_free_figures,
        default_field="value",
        symmetric=True,
    )
)
