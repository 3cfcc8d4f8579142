"""``ingest(SIZE, from STORAGE, to GPUS)``: the rate every GPU can read from storage at once.

Per GPU; also ``.throughput`` and, with the optional SIZE (a data set read once in equal
shares), ``.time``. Solver: :func:`topodsl.solvers.dataflow.ingest`, called by keyword: unlike
the other scenarios, its positional order is ``(topology, sources, sinks, size)``, so nothing
here depends on it.
"""

from __future__ import annotations

from . import scenario
from .registry import Analysis, register


def _compute(solve, ctx, args):
    return solve(ctx.topology, size=args.get("size"), **args.kw(sources="sources", sinks="sinks"))


register(
    Analysis(
        name="ingest",
        signature="ingest(SIZE, from STORAGE, to GPUS)",
        help="rate every GPU (default: every GPU here) can read from storage (default: every SSD "
        "and HDD here) at the same time, per GPU; also .throughput and, with the optional SIZE "
        "(a data set read once in equal shares), .time",
        summary="Training-data ingest: the rate every GPU can read from storage at the same time.",
        params=scenario.scenario_params(
            "Data set read once by all GPUs (epoch).",
            False,
            ("role:storage", "Storage read from."),
            ("kind:gpu", "GPUs that read."),
        ),
        fields=scenario.leg_field_decls(who="GPU"),
        compute=_compute,
        figures=scenario.one_leg_figures,
        default_field="rate",
        solver="topodsl.solvers.dataflow:ingest",
        text=scenario.text,
        json=scenario.json,
        report_options=scenario.REPORT_OPTIONS,
        common=("forwarding",),
        disjoint=("sources", "sinks"),
    )
)
