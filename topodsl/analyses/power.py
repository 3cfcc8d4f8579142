"""``power(pue = X, rack_limit = POWER)``: the design's power, from the ``power`` attribute.

``.it_power`` (W: a component's own figure covers everything inside it; see
:mod:`topodsl.solvers.power`), ``.facility_power`` (``it_power x pue``; the default PUE, 1.58,
is the Uptime Institute's 2023 industry average), ``.per_gpu``, ``.per_bisection`` (W per B/s
of the GPUs' bisection, a bracket when the bisection is), ``.rack_max`` (the densest rack) and
``.racks_over`` (racks above ``rack_limit``), ``.uncovered`` (components with no power figure,
left out of the total). ``cost()`` is the same over the ``cost`` attribute.
"""

from __future__ import annotations

from ..units import BANDWIDTH, COUNT, POWER, Dim
from .figures import Figure
from .jobs import figures_from, script_keys
from .registry import FLAG, QUANTITY, Analysis, Field, Param, register

#: Uptime Institute Global Data Center Survey 2023: the industry's average PUE.
DEFAULT_PUE = 1.58
PER_BISECTION = POWER / BANDWIDTH


def totals_and_bisection(solve, ctx, args, attribute: str):
    """The totals of ``attribute`` and, unless skipped, the GPUs' bisection (memoised)."""
    from .run import run

    totals = solve(ctx.topology, attribute)
    bisection = None
    if not args.get("skip_bisection", False) and totals.gpus >= 2:
        bisection = run(ctx, "bisection", endpoints="kind:gpu")["value"]
    return totals, bisection


def per_bisection(total: float, bisection, dim: Dim, notes: tuple) -> Figure | None:
    """``total`` per B/s of bisection: a bracket from the bisection's bounds."""
    if bisection is None or bisection.upper <= 0:
        return None
    lo = total / bisection.upper
    hi = total / bisection.lower if bisection.lower > 0 else float("inf")
    return Figure(lo, hi, dim, (), notes + (f"bisection of the GPUs: {bisection.measure.format()}"
                                           " per direction",))  # fmt: skip


def uncovered_notes(totals, what: str) -> tuple[str, ...]:
    if not totals.uncovered:
        return ()
    shown = ", ".join(f"{n} {k}" for k, n in totals.uncovered[:6])
    return (f"no {what} figure for: {shown} (not in the total)",)


def _compute(solve, ctx, args):
    totals, bisection = totals_and_bisection(solve, ctx, args, "power")
    return totals, bisection, args.get("pue", DEFAULT_PUE), args.get("rack_limit")


def figure_map(raw, notes: tuple[str, ...] = ()) -> dict[str, Figure]:
    """The figures of a power analysis."""
    totals, bisection, pue, limit = raw
    notes = tuple(notes) + uncovered_notes(totals, "power")
    it = totals.total
    out = {
        "it_power": Figure.exact(it, POWER, notes=notes),
        "facility_power": Figure.exact(
            it * pue,
            POWER,
            notes=notes
            + (
                f"PUE {pue:g}"
                + (" (default: Uptime Institute 2023 average)" if pue == DEFAULT_PUE else ""),
            ),
        ),
        "pue": Figure.exact(pue, COUNT),
        "uncovered": Figure.exact(sum(n for _, n in totals.uncovered), COUNT, notes=notes),
    }
    if totals.per_gpu is not None:
        out["per_gpu"] = Figure.exact(totals.per_gpu, POWER, notes=notes)
    f = per_bisection(it, bisection, PER_BISECTION, notes)
    if f is not None:
        out["per_bisection"] = f
    if totals.racks:
        densest = totals.racks[0]
        out["rack_max"] = Figure.exact(
            densest.total, POWER, notes=notes + (f"densest rack: {densest.id}",)
        )
        if limit is not None:
            over = [r.id for r in totals.racks if r.total > limit * (1 + 1e-12)]
            out["racks_over"] = Figure.exact(
                len(over), COUNT, notes=notes + tuple(f"over the limit: {r}" for r in over[:3])
            )
    return out


def _text(raw) -> str:
    from ..report.workload import format_totals

    return format_totals(raw[0], figure_map(raw), unit=POWER)


def _json(raw) -> dict:
    from ..report.workload import totals_to_dict

    keys = script_keys(figure_map(raw), {"it_power": "it_power",
                                         "facility_power": "facility_power"})  # fmt: skip
    return keys | totals_to_dict(raw[0])


register(
    Analysis(
        name="power",
        signature="power(pue = X, rack_limit = POWER)",
        help="the design's power from the power attribute (a component's own figure covers "
        "everything inside it): .it_power (W), .facility_power (it_power x pue, default PUE "
        "1.58), .per_gpu, .per_bisection (W per B/s of the GPUs' bisection), .rack_max, "
        ".racks_over (above rack_limit), .uncovered (components with no figure, not counted)",
        summary="Power of FILE: totals of the power attribute by container and by kind, "
        "facility power with a PUE, rack density against a limit, per GPU and per TB/s of "
        "bisection.\n\nA component's own power figure covers everything inside it (a server's "
        "wall power includes its GPUs); components with no figure anywhere above them are "
        "listed and left out of the total. Default PUE 1.58 (Uptime Institute 2023 average; "
        "about 1.7 with air cooling, 1.2 with liquid).",
        params=(
            Param(
                "pue",
                QUANTITY,
                f"Power usage effectiveness: facility over IT power (default {DEFAULT_PUE}).",
                dim=COUNT,
                positive=True,
                metavar="X",
                what="the PUE",
            ),
            Param(
                "rack_limit",
                QUANTITY,
                "Most power a rack may draw, e.g. '40kW'.",
                dim=POWER,
                positive=True,
                metavar="POWER",
                what="the rack power limit",
            ),
            Param(
                "skip_bisection",
                FLAG,
                "Do not compute the figure per bisection bandwidth.",
                default=False,
            ),
        ),
        fields=(
            Field("it_power", POWER, "power of the IT equipment, W", better="lower"),
            Field("facility_power", POWER, "it_power x pue, W", better="lower"),
            Field("pue", COUNT, "the PUE used"),
            Field("uncovered", COUNT, "components with no power figure", better="lower"),
            Field("per_gpu", POWER, "it_power per GPU", better="lower"),
            Field("per_bisection", PER_BISECTION, "it_power per B/s of bisection", False, "lower"),
            Field("rack_max", POWER, "power of the densest rack", better="lower"),
            Field("racks_over", COUNT, "racks above rack_limit", better="lower"),
        ),
        compute=_compute,
        figures=figures_from(figure_map),
        default_field="it_power",
        solver="topodsl.solvers.power:attribute_totals",
        text=_text,
        json=_json,
    )
)
