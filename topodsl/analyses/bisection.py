"""``bisection(ENDPOINTS)``: bisection bandwidth over the endpoints, per direction.

A bound pair from :func:`topodsl.solvers.bisection.bisection`: a ``>=`` promise is proven by
the lower bound and refuted by the upper bound; ``.lower`` and ``.upper`` are the bounds
themselves. The default endpoints are every GPU (inside the assertion's component).
"""

from __future__ import annotations

from ..units import BANDWIDTH, format_quantity
from .figures import Figure
from .registry import CUT_ROWS_HELP, SELECTION, Analysis, Field, Param, ReportOption, register


def _compute(solve, ctx, args):
    return solve(ctx.topology, args.get("endpoints"))


def _figures(ctx, args, r) -> dict[str, Figure]:
    lo, hi = float(r.lower_bound), float(r.upper_bound)
    if r.exact:
        how = r.upper_method
        if r.lower_method != r.upper_method:
            how = f"{r.upper_method} split, {r.lower_method} bound"
        notes: tuple[str, ...] = (f"exact ({how}), {r.endpoints} endpoints",)
    else:
        notes = (
            f"lower bound {format_quantity(lo, BANDWIDTH)} ({r.lower_method}), upper bound "
            f"{format_quantity(hi, BANDWIDTH)} ({r.upper_method}), {r.endpoints} endpoints",
        )
    cut = tuple(r.cut)
    return {
        "value": Figure(lo, hi, BANDWIDTH, cut, notes),
        "lower": Figure.exact(lo, BANDWIDTH, notes=notes),
        "upper": Figure.exact(hi, BANDWIDTH, cut=cut, notes=notes),
    }


def _text(result, max_cut_rows: int | None = 20) -> str:
    from ..report.bisection import format_bisection

    return format_bisection(result, max_cut_rows=max_cut_rows)


def _json(result, max_cut_rows: int | None = 20) -> dict:
    from ..report.bisection import bisection_to_dict

    return bisection_to_dict(result, cut_rows=max_cut_rows)


register(
    Analysis(
        name="bisection",
        signature="bisection(ENDPOINTS)",
        help="bisection bandwidth over the endpoints (default: every GPU in the assertion's "
        "component), per direction; a bound pair, so '>=' is proven by the lower bound and "
        "refuted by the upper bound; .lower and .upper are the bounds themselves",
        summary="Bisection bandwidth of FILE over the endpoints, per direction, in B/s.\n\n"
        "Reports a lower and an upper bound, 'exact' when they meet, the witness split and the "
        "links it cuts. The bidirectional figure (both directions added) is labelled as such.",
        params=(
            Param(
                "endpoints",
                SELECTION,
                "Components to split in half (default: every gpu), e.g. 'kind:gpu' or "
                "'pod.node*.gpu*'.",
                default="kind:gpu",
                position=0,
                metavar="SELECTOR",
                what="endpoint selection",
                min_rows=2,
                too_few="bisection needs at least two endpoints, got {n}",
                too_few_hint="name them, e.g. bisection(kind:gpu) or bisection(node[*].gpu[*])",
            ),
        ),
        fields=(
            Field(
                "value",
                BANDWIDTH,
                "bisection bandwidth, per direction, as a bound pair",
                exact=False,
                better="higher",
            ),
            Field("lower", BANDWIDTH, "the proven lower bound", better="higher"),
            Field("upper", BANDWIDTH, "the best cut found (upper bound)", better="higher"),
        ),  # fmt: skip
        compute=_compute,
        figures=_figures,
        default_field="value",
        solver="topodsl.solvers.bisection:bisection",
        text=_text,
        json=_json,
        report_options=(ReportOption("max_cut_rows", "--cut-rows", 20, CUT_ROWS_HELP),),
        common=("forwarding",),
        diff_fields=("value",),
        diff_default=True,
    )
)
