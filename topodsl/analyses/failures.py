"""``failures``: any analysis under every combination of up to K failures.

``run(t, "failures", analysis="bisection", links="type:uplink", k=1)`` asks the wrapped
analysis (``analysis``, with its own parameters given alongside: ``sources=...``) of the healthy
topology and under each failure case, and reports the baseline, the worst case (what failed and
its witness cut), the distribution and the impact of each single failure. In an assertion it is
written ``bisection(kind:gpu) >= 300 GB/s under failures(links = type:uplink, k = 1)``
(:mod:`topodsl.failures.assertion`). Engine: :func:`topodsl.failures.engine.failure_analysis`;
definitions and proofs: docs/failures.md.

>>> from topodsl import loads
>>> from topodsl.analyses import run
>>> t = loads('''link l { bandwidth = 50 GB/s }
... cluster c { gpu g[2]; switch s[2]
...             connect g[*] -- s[*] via l }''')
>>> r = run(t, "failures", analysis="flow", sources="c.g0", sinks="c.g1", devices="c.s*")
>>> r["baseline"].measure.format(), r["worst"].measure.format()
('100 GB/s', '50 GB/s')
"""

from __future__ import annotations

from ..units import COUNT
from .figures import Figure
from .registry import (
    ANALYSES,
    CHOICE,
    QUANTITY,
    SELECTION,
    TEXT,
    Analysis,
    Field,
    Param,
    ReportOption,
    register,
)

LOST_HELP = (
    "What becomes of an endpoint that fails or is cut off from the rest: 'drop' removes it from "
    "the analysis's selections (the job carries on without it), 'keep' leaves it in, sending and "
    "receiving nothing (a figure every endpoint takes part in goes to 0)."
)


def _compute(solve, ctx, args):
    from ..failures.engine import failure_analysis

    return failure_analysis(
        ctx,
        args["analysis"],
        dict(args.inner),
        field=args.get("field"),
        options=args.options,
        scope=args.scope,
        links=args.get("links"),
        devices=args.get("devices"),
        risks=args.get("risks"),
        k=args.get("k", 1),
        samples=args.get("samples", 0),
        seed=args.get("seed", 0),
        probability=args.get("probability"),
        lost=args.get("lost", "drop"),
    )


def _figures(ctx, args, r) -> dict[str, Figure]:
    from ..report.failures import summary_line

    notes = (summary_line(r),)
    worst = r.worst
    w_notes = notes + (f"worst case: {', '.join(worst.names)} failed",)
    b = r.baseline
    out = {
        "baseline": Figure(b.lower, b.upper, r.dim, tuple(b.cut), notes),
        "worst": Figure(*r.worst_range, r.dim, tuple(worst.cut), w_notes),
    }
    for name, (lo, hi) in r.percentiles.items():
        out[name] = Figure(lo, hi, r.dim, (), notes)
    return out


def _text(result, top: int = 10) -> str:
    from ..report.failures import format_failures

    return format_failures(result, top=top)


def _json(result, top: int = 10) -> dict:
    from ..report.failures import failures_to_dict

    return failures_to_dict(result, top=top)


register(
    Analysis(
        name="failures",
        signature="failures(links = LINKS, devices = DEVICES, risks = GROUPS, k = K)",
        help="the worst figure of an analysis under every combination of up to k failures of "
        "the links, devices and risk groups named (.baseline, .worst, .p1, .p50), each case "
        "solved or proven; in an assertion, write the analysis and 'under failures(...)'",
        summary="Run --analysis NAME (with its own options) on FILE healthy and under every "
        "combination of up to --k failures.\n\n"
        "Failure candidates: --links (type:NAME, end:COMPONENTS, tier:1-2, *), --devices (a "
        "component selector; each fails with everything inside it) and --risks (shared-risk "
        "groups declared with 'risk NAME { ... }'). Prints the baseline, the worst case with "
        "what failed and its witness cut, the distribution, and the single failures that cost "
        "most. k = 1 and 2 are enumerated; larger k, --samples or --probability sample cases "
        "(Monte Carlo, --seed) with confidence intervals. See docs/failures.md.",
        params=(
            Param(
                "analysis",
                CHOICE,
                "The analysis to run under failures; give its own options alongside, or "
                "write NAME:PARAM=VALUE,...",
                required=True,
                choices=tuple(n for n in ANALYSES),
                metavar="NAME",
            ),
            Param(
                "field",
                TEXT,
                "The figure to follow (default: the analysis's own).",
                metavar="FIELD",
            ),
            Param(
                "links",
                TEXT,
                "Links that may fail, e.g. 'type:uplink', 'tier:1-2', 'end:leaf[*]' or '*'.",
                metavar="SELECTOR",
            ),
            Param(
                "devices",
                SELECTION,
                "Components that may fail (each with everything inside it), e.g. "
                "'kind:switch' or 'rack[*]'.",
                metavar="SELECTOR",
                what="device selection",
            ),
            Param(
                "risks",
                TEXT,
                "Shared-risk groups that may fail, by id pattern ('*': all).",
                metavar="PATTERN",
            ),
            Param(
                "k",
                QUANTITY,
                "Most candidates failed at once (default 1).",
                dim=COUNT,
                default=1,
                metavar="K",
            ),
            Param(
                "samples",
                QUANTITY,
                "Monte Carlo samples (default: enumerate for k <= 2, else 1000).",
                dim=COUNT,
                metavar="N",
            ),
            Param("seed", QUANTITY, "Monte Carlo seed (default 0).", dim=COUNT, metavar="SEED"),
            Param(
                "probability",
                QUANTITY,
                "Chance that each link or device fails, for a weighted Monte Carlo run (a "
                "risk group's own declared probability wins).",
                dim=COUNT,
                metavar="P",
            ),
            Param("lost", CHOICE, LOST_HELP, default="drop", choices=("drop", "keep")),
        ),
        fields=(
            Field("baseline", None, "the figure of the healthy topology", exact=False),
            Field("worst", None, "the worst figure over every failure case", exact=False),
            Field("p1", None, "1% of the failure cases are at this level or worse", exact=False),
            Field("p50", None, "the median over the failure cases", exact=False),
        ),
        compute=_compute,
        figures=_figures,
        default_field="worst",
        text=_text,
        json=_json,
        report_options=(ReportOption("top", "--top", 10, "Single failures listed, worst first."),),
        common=("forwarding",),
        wraps="analysis",
    )
)
