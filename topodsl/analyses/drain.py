"""``drain(SIZE, from SSDS, to HDDS)``: time to move SIZE, spread over the SSDs, to the HDDs.

SSD read bandwidth and HDD write bandwidth apply. Also ``.rate`` (per SSD) and ``.throughput``.
Solver: :func:`topodsl.solvers.dataflow.checkpoint_drain`.
"""

from __future__ import annotations

from . import scenario
from .registry import Analysis, register


def _compute(solve, ctx, args):
    return solve(ctx.topology, args["size"], **args.kw(sources="sources", sinks="sinks"))


register(
    Analysis(
        name="drain",
        signature="drain(SIZE, from SSDS, to HDDS)",
        help="time to move SIZE spread evenly over the SSDs (default: the SSDs of storage "
        "nodes here) to the HDDs (default: every HDD here); also .rate (per SSD) and "
        ".throughput",
        summary="Time to drain --size spread evenly over the SSD tier to the HDD tier.",
        params=scenario.scenario_params(
            "Data to move, e.g. 20TB.",
            True,
            ("kind:ssd & in:storage_node", "The SSD tier holding it: the SSDs of storage nodes."),
            ("kind:hdd", "The HDD tier it goes to."),
        ),
        fields=scenario.leg_field_decls(who="SSD"),
        compute=_compute,
        figures=scenario.one_leg_figures,
        default_field="time",
        solver="topodsl.solvers.dataflow:checkpoint_drain",
        text=scenario.text,
        json=scenario.json,
        report_options=scenario.REPORT_OPTIONS,
        common=("forwarding",),
        disjoint=("sources", "sinks"),
    )
)
