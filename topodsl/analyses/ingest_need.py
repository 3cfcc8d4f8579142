"""``ingest_need(NEED, from STORAGE, to GPUS)``: the read bandwidth a training loop needs
against what storage delivers to every GPU at once.

``.need`` (B/s, all GPUs together: a workload's ``data.rate``, or its tokens per second times
``data.bytes_per_token``), ``.available`` (the ingest flow, equal shares), ``.headroom``
(available over need) and ``.keeps_up`` (1 or 0), ``.per_gpu_need`` and ``.per_gpu_rate``.
Solver: :func:`topodsl.solvers.lifecycle.ingest_check`.
"""

from __future__ import annotations

from ..units import BANDWIDTH, COUNT
from .figures import Figure
from .jobs import bracket, explicit, figures_from, script_keys, workload_of, workload_param, yes_no
from .registry import QUANTITY, Analysis, Field, Param, endpoint_param, register


def _compute(solve, ctx, args):
    from ..workload import WorkloadError, ingest_need

    w = workload_of(ctx, args)
    need = None
    if w is not None and "need" not in args:
        try:
            need, _ = ingest_need(w)
        except WorkloadError as e:
            from .run import ArgumentError

            raise ArgumentError(e.message, e.hint, param="workload") from None
    need = explicit(args, "need", need, "the read bandwidth the job needs")
    kw = {}
    if "sources" in args:
        kw["sources"] = args["sources"]
    elif w is not None and w.data.sources is not None:
        kw["sources"] = w.data.sources.rows
    if "sinks" in args:
        kw["sinks"] = args["sinks"]
    elif w is not None:
        kw["sinks"] = w.data.sinks.rows
    return solve(ctx.topology, need, **kw)


def figure_map(r, notes: tuple[str, ...] = ()) -> dict[str, Figure]:
    """The figures of an ingest check."""
    cut = tuple(r.leg.uniform.bottleneck)
    n = r.leg.uniform.endpoints
    lo, hi = r.available
    h_lo, h_hi = r.headroom
    return {
        "need": Figure.exact(r.need, BANDWIDTH, notes=notes),
        "available": bracket(lo, hi, BANDWIDTH, cut, notes),
        "headroom": bracket(h_lo, h_hi, COUNT, cut, notes),
        "keeps_up": yes_no(h_lo >= 1, h_hi >= 1, notes),
        "per_gpu_need": Figure.exact(r.need / n, BANDWIDTH, notes=notes),
        "per_gpu_rate": bracket(lo / n, hi / n, BANDWIDTH, cut, notes),
    }


def _text(r) -> str:
    from ..report.workload import format_ingest_need

    return format_ingest_need(r, figure_map(r))


def _json(r) -> dict:
    from ..report.flow import scenario_to_dict
    from ..solvers.dataflow import ScenarioResult

    keys = script_keys(figure_map(r), {"need": "need", "available": "available:low",
                                       "keeps_up": "keeps_up:bool"})  # fmt: skip
    scenario = ScenarioResult("ingest", "training-data ingest: storage -> GPUs", None, (r.leg,))
    return keys | {"legs": scenario_to_dict(scenario)["legs"]}


register(
    Analysis(
        name="ingest_need",
        signature="ingest_need(NEED, from STORAGE, to GPUS)",
        help="the read bandwidth a training loop needs (a workload's data.rate, or its tokens per "
        "second x data.bytes_per_token) against the rate storage gives every GPU at once: .need, "
        ".available, .headroom (available / need), .keeps_up (1 or 0), .per_gpu_need, "
        ".per_gpu_rate",
        summary="Whether storage keeps the training loop fed: the read bandwidth it needs "
        "(--need, or a workload's) against the storage -> GPUs flow when every GPU reads at "
        "once.",
        params=(
            Param(
                "need",
                QUANTITY,
                "Read bandwidth the job needs, all GPUs together, e.g. "
                "'200GB/s' (default: the workload's).",
                dim=BANDWIDTH,
                positive=True,
                position=0,
                metavar="BANDWIDTH",
                what="the read bandwidth needed",
            ),
            endpoint_param(
                "sources",
                "from",
                "Where data is read from (default: every storage device, or the workload's).",
            ),
            endpoint_param("sinks", "to", "Who reads (default: every GPU, or the workload's)."),
            workload_param(),
        ),
        fields=(
            Field("need", BANDWIDTH, "read bandwidth the job needs, in total"),
            Field(
                "available",
                BANDWIDTH,
                "rate storage gives every GPU at once, in total",
                False,
                "higher",
            ),
            Field("headroom", COUNT, "available / need", False, "higher"),
            Field("keeps_up", COUNT, "1 when storage keeps up", False, "higher"),
            Field("per_gpu_need", BANDWIDTH, "need per GPU"),
            Field("per_gpu_rate", BANDWIDTH, "rate per GPU, all at once", False, "higher"),
        ),
        compute=_compute,
        figures=figures_from(figure_map),
        default_field="headroom",
        solver="topodsl.solvers.lifecycle:ingest_check",
        text=_text,
        json=_json,
        common=("forwarding",),
        disjoint=("sources", "sinks"),
    )
)
