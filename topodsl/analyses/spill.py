"""``spill(SIZE, from GPUS, to CXL_MEMORY)``: spilling to CXL memory and fetching it back.

``.rate`` per GPU with every GPU spilling at once, ``.fetch_rate`` the way back;
``.throughput``, ``.fetch_throughput`` and, with the optional SIZE, ``.time`` and
``.fetch_time``. Solver: :func:`topodsl.solvers.dataflow.cxl_spill`.
"""

from __future__ import annotations

from . import scenario
from .registry import Analysis, register


def _compute(solve, ctx, args):
    return solve(ctx.topology, args.get("size"), **args.kw(sources="gpus", sinks="memory"))


def _figures(ctx, args, result):
    size = args.get("size")
    fields = scenario.leg_fields(result.legs[0], size, "", args.notes)
    return fields | scenario.leg_fields(result.legs[1], size, "fetch_", args.notes)


register(
    Analysis(
        name="spill",
        signature="spill(SIZE, from GPUS, to CXL_MEMORY)",
        help="rate per GPU spilling to CXL memory (default: every GPU and CXL memory here) with "
        "every GPU at once; .fetch_rate the way back; .throughput, .fetch_throughput and, with "
        "the optional SIZE, .time and .fetch_time",
        summary="Spill to CXL memory and fetch back: per-GPU rate each way, times and bottlenecks.",
        params=scenario.scenario_params(
            "Total spilled by all GPUs.",
            False,
            ("kind:gpu", "GPUs that spill."),
            ("kind:cxl_memory", "CXL memory spilled to."),
        ),
        fields=scenario.leg_field_decls(who="GPU") + scenario.leg_field_decls("fetch_", "GPU"),
        compute=_compute,
        figures=_figures,
        default_field="rate",
        solver="topodsl.solvers.dataflow:cxl_spill",
        text=scenario.text,
        json=scenario.json,
        report_options=scenario.REPORT_OPTIONS,
        common=("forwarding",),
        disjoint=("sources", "sinks"),
    )
)
