"""``collective(GROUP, op = allreduce, size = SIZE)``: a collective's proven lower bound and its
alpha-beta estimates, on one group or on every group of a workload's parallel dimension.

``.lower_bound_s`` (no algorithm can beat it), ``.estimate_s`` (the best algorithm's estimate),
``.bandwidth_s`` (that estimate's bandwidth term alone), ``.latency_s``, NCCL's ``.algbw`` and
``.busbw`` of the estimate, ``.bound_busbw`` (the bus bandwidth the bound allows at most) and,
for a workload, ``.per_step_s`` (the dimension's collectives of one training step, estimated,
not overlapped). Solver: :func:`topodsl.solvers.collective.collective`; the model and the
proofs are in ``docs/workloads.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..units import BANDWIDTH, COUNT, SIZE, TIME
from .figures import Figure
from .jobs import explicit, figures_from, script_keys, workload_of, workload_param
from .registry import (
    CHOICE,
    FLAG,
    QUANTITY,
    SELECTION,
    Analysis,
    Field,
    Param,
    register,
    size_param,
)
from .run import ArgumentError

_OPS = ("allreduce", "allgather", "reducescatter", "alltoall", "sendrecv")
_ALGORITHMS = ("best", "ring", "bidirectional_ring", "tree", "hierarchical", "direct", "pipeline")


@dataclass(frozen=True)
class CollectiveAnswer:
    """The solver's result and where its question came from (a workload's dimension)."""

    result: Any
    workload: str | None = None
    dimension: str | None = None
    per_step: float | None = None
    formula: str | None = None
    algorithm: str = "best"


def _compute(solve, ctx, args) -> CollectiveAnswer:
    from ..workload import collectives, parallel_groups

    w = workload_of(ctx, args)
    dim = args.get("parallel")
    per_step = formula = None
    if w is not None:
        if "group" in args:
            raise ArgumentError("collective(): give a group or a workload, not both",
                                param="group")  # fmt: skip
        if dim is None:
            raise ArgumentError("collective() of a workload needs its parallel dimension",
                                "e.g. parallel = dp", param="parallel")  # fmt: skip
        if getattr(w.parallel, dim) < 2:
            raise ArgumentError(f"workload {w.name!r} has {dim} = 1: no {dim} groups",
                                param="parallel")  # fmt: skip
        groups = parallel_groups(w, dim)
        spec = next((c for c in collectives(w) if c.dimension == dim), None)
        op = args.get("op", spec.op if spec else "allreduce")
        size = explicit(args, "size", spec.size if spec else None,
                        f"a size (the workload does not give {dim}'s)")  # fmt: skip
        if spec is not None and op == spec.op and "size" not in args:
            per_step, formula = spec.count, spec.formula
    else:
        if dim is not None:
            raise ArgumentError("collective(): parallel = ... needs a workload", param="parallel")
        if "group" not in args:
            raise ArgumentError("collective() needs a group (or a workload and a dimension)",
                                "e.g. collective(node[0].gpu[*], size = 1 GB)")  # fmt: skip
        groups = [ctx.rows(args["group"], "group")]
        op = args.get("op", "allreduce")
        size = explicit(args, "size", None, "a size")
    algorithm = args.get("algorithm", "best")
    chosen = None if algorithm == "best" else (algorithm,)
    result = solve(ctx.topology, groups, op, size, algorithms=chosen,
                   network_reduction=args.get("network_reduction", False),
                   overhead=args.get("overhead", 0.0))  # fmt: skip
    if algorithm != "best" and not result.estimates:
        reason = "; ".join(result.skipped) or f"it does not apply to {op}"
        raise ArgumentError(f"collective(): no {algorithm} estimate: {reason}", param="algorithm")
    return CollectiveAnswer(result, w.name if w else None, dim, per_step, formula, algorithm)


def figure_map(answer: CollectiveAnswer, notes: tuple[str, ...] = ()) -> dict[str, Figure]:
    """The figures of a collective answer."""
    r = answer.result
    best = r.best
    notes = tuple(notes) + r.notes
    if answer.workload is not None:
        notes += (f"workload {answer.workload}: {len(r.groups)} {answer.dimension} groups of "
                  f"{r.members}, all at once",)  # fmt: skip
    top = r.certificates[0] if r.certificates else None
    cut = tuple(top.cut) if top is not None else ()
    bound_notes = notes + ((f"bound: {top.what}",) if top is not None else ())
    out = {
        "lower_bound_s": Figure.exact(r.lower_bound, TIME, cut=cut, notes=bound_notes),
        "bound_busbw": Figure.exact(r.busbw(r.lower_bound), BANDWIDTH, notes=bound_notes),
        "groups": Figure.exact(len(r.groups), COUNT, notes=notes),
    }
    if best is not None:
        est_notes = notes + (f"estimate: {best.algorithm}, {best.steps} steps",)
        bottleneck = tuple(x.cut_item() for x in best.bottleneck[:1])
        out |= {
            "estimate_s": Figure.exact(best.time, TIME, cut=bottleneck, notes=est_notes),
            "bandwidth_s": Figure.exact(best.bandwidth, TIME, cut=bottleneck, notes=est_notes),
            "latency_s": Figure.exact(best.latency, TIME, notes=est_notes),
            "algbw": Figure.exact(r.algbw(best.time), BANDWIDTH, notes=est_notes),
            "busbw": Figure.exact(r.busbw(best.time), BANDWIDTH, notes=est_notes),
        }
        if answer.per_step is not None:
            out["per_step_s"] = Figure.exact(answer.per_step * best.time, TIME,
                                             notes=est_notes + (answer.formula,))  # fmt: skip
    return out


def _text(answer: CollectiveAnswer) -> str:
    from ..report.workload import format_collective

    return format_collective(answer)


def _json(answer: CollectiveAnswer) -> dict:
    from ..report.workload import collective_to_dict

    keys = script_keys(figure_map(answer), {"lower_bound_s": "lower_bound_s",
                                            "estimate_s": "estimate_s",
                                            "bandwidth_s": "bandwidth_s"})  # fmt: skip
    return keys | collective_to_dict(answer)


register(
    Analysis(
        name="collective",
        signature="collective(GROUP, op = allreduce, size = SIZE)",
        help="a collective on a group (or on every group of a workload's parallel dimension, "
        "all at once): .lower_bound_s (proven: no algorithm is faster), .estimate_s (the best "
        "algorithm's alpha-beta estimate on the actual links), .bandwidth_s (its bandwidth term), "
        ".latency_s, .algbw, .busbw, .bound_busbw, .groups and, for a workload, .per_step_s",
        summary="A collective's proven lower bound and its estimates (ring, bidirectional ring, "
        "double binary tree, hierarchical, direct, pipeline) on --group, or on every group of "
        "a workload's --parallel dimension at once.\n\nThe lower bound is the largest of the "
        "cuts evaluated (each member's injection and reception, the members' total when data "
        "is combined at members only, halves of the groups through the flow core); estimates "
        "route every step over the shortest paths and take the busiest link or device. Sizes "
        "follow NCCL: the buffer of an all-reduce, the output of an all-gather. See "
        "docs/workloads.md.",
        params=(
            Param(
                "group",
                SELECTION,
                "The group's members in rank order, e.g. 'pod.node0.gpu*'.",
                position=0,
                metavar="SELECTOR",
                what="group selection",
                min_rows=1,
            ),
            Param(
                "op",
                CHOICE,
                "The collective (default: allreduce, or the workload's).",
                choices=_OPS,
            ),
            size_param("Bytes, NCCL's convention, e.g. '1GB' (default: the workload's)."),
            workload_param(),
            Param(
                "parallel",
                CHOICE,
                "The workload's parallel dimension: every group of it.",
                choices=("tp", "pp", "dp", "ep"),
            ),
            Param(
                "algorithm",
                CHOICE,
                "Estimate only this algorithm (default: the best).",
                default="best",
                choices=_ALGORITHMS,
            ),
            Param(
                "network_reduction",
                FLAG,
                "Switches reduce in the network (NVLink SHARP, "
                "InfiniBand SHARP): leave out the bounds that assume reduction at members.",
                default=False,
            ),
            Param(
                "overhead",
                QUANTITY,
                "Fixed time added per algorithm step (software), e.g. '5us'.",
                dim=TIME,
                default=0.0,
                metavar="TIME",
                what="the overhead per step",
            ),
        ),
        fields=(
            Field("lower_bound_s", TIME, "proven lower bound on the time", better="lower"),
            Field("estimate_s", TIME, "the best algorithm's estimate", better="lower"),
            Field("bandwidth_s", TIME, "the estimate's bandwidth term", better="lower"),
            Field("latency_s", TIME, "the estimate's latency term", better="lower"),
            Field("algbw", BANDWIDTH, "size / estimate", better="higher"),
            Field("busbw", BANDWIDTH, "NCCL bus bandwidth of the estimate", better="higher"),
            Field("bound_busbw", BANDWIDTH, "the most bus bandwidth the bound allows"),
            Field("groups", COUNT, "groups running at once"),
            Field(
                "per_step_s",
                TIME,
                "the dimension's collectives per training step, estimated",
                better="lower",
            ),
        ),
        compute=_compute,
        figures=figures_from(figure_map),
        solver="topodsl.solvers.collective:collective",
        text=_text,
        json=_json,
        common=("forwarding",),
    )
)

__all__ = ["CollectiveAnswer", "figure_map", "SIZE"]
