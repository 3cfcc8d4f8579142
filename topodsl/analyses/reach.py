"""``reach(ELEMENTS, within LATENCY)``: memory the selected compute elements reach.

``.capacity`` (bytes) and ``.memories`` (how many) within the latency budget; over several
elements, the least any of them reaches. Solver: :func:`topodsl.solvers.reach.memory_reach`;
the text and JSON reports list every memory with its tier, latency and bandwidth.
"""

from __future__ import annotations

import numpy as np

from ..units import COUNT, SIZE, TIME
from .figures import Figure
from .registry import (
    CHOICE,
    FLAG,
    QUANTITY,
    SELECTION,
    Analysis,
    Field,
    Param,
    ReportOption,
    register,
)


def _compute(solve, ctx, args):
    kw = args.kw(elements="sources", within="within", storage="storage", direction="direction")
    return solve(ctx.topology, **kw)


def _figures(ctx, args, r) -> dict[str, Figure]:
    within = args.get("within")
    budget = np.inf if within is None else within
    capacity = r.capacity_within(budget)
    pos = np.searchsorted(r.sources, r.source)
    ok = r.latency <= budget * (1 + 1e-9)
    memories = np.bincount(pos[ok], minlength=len(r.sources))
    k = int(np.argmin(capacity))
    notes: tuple[str, ...] = ()
    if len(r.sources) > 1:
        notes = (f"least: {ctx.topology.nodes.ids[int(r.sources[k])]} of {len(r.sources)} "
                 "elements",)  # fmt: skip
    return {
        "capacity": Figure.exact(float(capacity[k]), SIZE, notes=notes),
        "memories": Figure.exact(float(memories.min()), COUNT, notes=notes),
    }


def _text(result, max_rows: int = 20) -> str:
    from ..report.reach import format_reach

    return format_reach(result, max_rows=max_rows)


def _json(result, max_rows: int = 20) -> dict:
    from ..report.reach import reach_to_dict

    return reach_to_dict(result)


def _jsonl(result, max_rows: int = 20):
    from ..report.reach import reach_to_lines

    return reach_to_lines(result)


register(
    Analysis(
        name="reach",
        signature="reach(ELEMENTS, within LATENCY)",
        help="memory the selected compute elements reach within a latency budget: .capacity "
        "(bytes) and .memories (count); over several elements, the least any of them reaches",
        summary="Memory reach in FILE: for each element, every memory it reaches.\n\nPer "
        "memory: latency (s; links plus the latency of every component entered, the memory's "
        "access latency included), bandwidth (B/s, max flow inside the smallest component "
        "holding both), capacity (bytes), hops and tier (local, same-package, peer, host, cxl, "
        "storage, remote). Per tier: the bandwidth to all of it at once.",
        params=(
            Param(
                "elements",
                SELECTION,
                "Compute elements to start from (gpu, chiplet, cpu), e.g. 'pod.node0.gpu[*]'.",
                default="role:compute",
                position=0,
                flag="--from",
                metavar="SELECTOR",
                what="element selection",
                none_here="reach() found no compute element here to start from",
            ),
            Param(
                "within",
                QUANTITY,
                "Only memories at most this far, e.g. '1 us' (keeps large clusters fast).",
                dim=TIME,
                keyword="within",
                metavar="LATENCY",
                what="the latency budget",
            ),
            Param("storage", FLAG, "Also list SSDs and HDDs.", default=False),
            Param(
                "direction",
                CHOICE,
                "Bandwidth from the element to the memory (default: reading, memory to element).",
                default="read",
                choices=("read", "write"),
                flag="--write",
                flag_value="write",
            ),
        ),
        fields=(
            Field("capacity", SIZE, "bytes reachable within the budget", better="higher"),
            Field("memories", COUNT, "memories reachable within the budget", better="higher"),
        ),
        compute=_compute,
        figures=_figures,
        solver="topodsl.solvers.reach:memory_reach",
        text=_text,
        json=_json,
        jsonl=_jsonl,
        report_options=(
            ReportOption(
                "max_rows",
                "--rows",
                20,
                "Memories listed per element in the text report (nearest first).",
            ),
        ),
        common=("forwarding",),
        symmetric=True,
    )
)
