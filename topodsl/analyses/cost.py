"""``cost()``: the design's purchase cost, from the ``cost`` attribute (a plain number, in one
currency throughout the design; a component's own figure covers everything inside it).

``.total``, ``.per_gpu``, ``.per_bisection`` (per B/s of the GPUs' bisection, a bracket when
the bisection is) and ``.uncovered`` (components with no cost figure, not in the total).
"""

from __future__ import annotations

from ..units import BANDWIDTH, COUNT
from .figures import Figure
from .jobs import figures_from, script_keys
from .power import per_bisection, totals_and_bisection, uncovered_notes
from .registry import FLAG, Analysis, Field, Param, register

PER_BISECTION = COUNT / BANDWIDTH


def _compute(solve, ctx, args):
    return totals_and_bisection(solve, ctx, args, "cost")


def figure_map(raw, notes: tuple[str, ...] = ()) -> dict[str, Figure]:
    """The figures of a cost analysis."""
    totals, bisection = raw
    notes = tuple(notes) + uncovered_notes(totals, "cost")
    out = {
        "total": Figure.exact(totals.total, COUNT, notes=notes),
        "uncovered": Figure.exact(sum(n for _, n in totals.uncovered), COUNT, notes=notes),
    }
    if totals.per_gpu is not None:
        out["per_gpu"] = Figure.exact(totals.per_gpu, COUNT, notes=notes)
    f = per_bisection(totals.total, bisection, PER_BISECTION, notes)
    if f is not None:
        out["per_bisection"] = f
    return out


def _text(raw) -> str:
    from ..report.workload import format_totals

    return format_totals(raw[0], figure_map(raw), unit=COUNT)


def _json(raw) -> dict:
    from ..report.workload import totals_to_dict

    return script_keys(figure_map(raw), {"total": "total"}) | totals_to_dict(raw[0])


register(
    Analysis(
        name="cost",
        signature="cost()",
        help="the design's cost from the cost attribute (one currency; a component's own figure "
        "covers everything inside it): .total, .per_gpu, .per_bisection (per B/s of the GPUs' "
        "bisection), .uncovered (components with no figure, not counted)",
        summary="Cost of FILE: totals of the cost attribute by container and by kind, per GPU "
        "and per TB/s of bisection.",
        params=(
            Param(
                "skip_bisection",
                FLAG,
                "Do not compute the figure per bisection bandwidth.",
                default=False,
            ),
        ),
        fields=(
            Field("total", COUNT, "purchase cost of the design", better="lower"),
            Field("uncovered", COUNT, "components with no cost figure", better="lower"),
            Field("per_gpu", COUNT, "cost per GPU", better="lower"),
            Field("per_bisection", PER_BISECTION, "cost per B/s of bisection", False, "lower"),
        ),
        compute=_compute,
        figures=figures_from(figure_map),
        default_field="total",
        solver="topodsl.solvers.power:attribute_totals",
        text=_text,
        json=_json,
    )
)
