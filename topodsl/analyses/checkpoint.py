"""``checkpoint(SIZE, from GPUS, to SSDS)``: time for the GPUs to write SIZE to the SSD tier.

Every GPU writes an equal shard at once; SSD write bandwidth applies. Also ``.rate`` (per GPU)
and ``.throughput``. Solver: :func:`topodsl.solvers.dataflow.checkpoint_write`.
"""

from __future__ import annotations

from . import scenario
from .registry import Analysis, register


def _compute(solve, ctx, args):
    return solve(ctx.topology, args["size"], **args.kw(sources="sources", sinks="sinks"))


register(
    Analysis(
        name="checkpoint",
        signature="checkpoint(SIZE, from GPUS, to SSDS)",
        help="time for the GPUs (default: every GPU here) to write SIZE in equal shards to the "
        "SSDs (default: the SSDs of storage nodes here) at once, SSD write bandwidth applying; "
        "also .rate (per GPU) and .throughput",
        summary="Time to write a checkpoint of --size (all GPUs together, equal shards) to the "
        "SSD tier.",
        params=scenario.scenario_params(
            "Checkpoint size, e.g. 2TB.",
            True,
            ("kind:gpu", "GPUs holding the state."),
            (
                "kind:ssd & in:storage_node",
                "The SSD tier written to: the SSDs of storage nodes (name node-local NVMe "
                "with kind:ssd).",
            ),
        ),
        fields=scenario.leg_field_decls(who="GPU"),
        compute=_compute,
        figures=scenario.one_leg_figures,
        default_field="time",
        solver="topodsl.solvers.dataflow:checkpoint_write",
        text=scenario.text,
        json=scenario.json,
        report_options=scenario.REPORT_OPTIONS,
        common=("forwarding",),
        disjoint=("sources", "sinks"),
    )
)
