"""``traffic(PATTERN, between = ENDPOINTS)``: a traffic pattern routed by shortest-path ECMP.

``.rate`` is what every flow gets when all run at once (B/s per unit of weight: per flow for
the built-in patterns), ``.throughput`` the total, ``.ceiling`` the most any routing could
carry for the same demand (the maximum concurrent flow, a bracket: exact by a linear program
on small inputs, else a cut bound) and ``.efficiency`` routed over ceiling; ``.fair`` the sum of
max-min fair rates (with ``fair = true``). Solver: :func:`topodsl.solvers.traffic.traffic`;
definitions: docs/traffic.md.

>>> from topodsl import loads
>>> from topodsl.analyses import run
>>> t = loads('''link l { bandwidth = 10 GB/s }
... cluster c { switch s[6]; connect ring(s[*]) via l }''')
>>> r = run(t, "traffic", pattern="shift:2", between="kind:switch")
>>> r["rate"].measure.format(), r["efficiency"].measure.format()
('5 GB/s', '0.6667')
"""

from __future__ import annotations

from pathlib import Path

from ..units import BANDWIDTH, COUNT
from .figures import Figure
from .registry import (
    CHOICE,
    FLAG,
    QUANTITY,
    SELECTION,
    TEXT,
    Analysis,
    Field,
    Param,
    ReportOption,
    register,
)
from .run import ArgumentError

# Largest CSV traffic matrix read (bytes).
_MAX_CSV_BYTES = 256 * 1024 * 1024


def _pattern_name(args) -> str:
    """The pattern as written; ``all_to_all`` (a name an assertion can write bare) is
    ``all-to-all``."""
    text = str(args.get("pattern", "all-to-all")).strip()
    return text if text.startswith("csv:") else text.replace("_", "-")


def _pattern(ctx, args):
    """The pattern for the solver: its name, or a matrix read from a CSV file."""
    from ..patterns import PatternError, demand_from_csv

    pattern = _pattern_name(args)
    if not pattern.startswith("csv:"):
        return pattern
    if args.scope is not None:
        raise ArgumentError(
            "a csv: traffic matrix is read on the command line only",
            "run topodsl analyze traffic FILE --pattern csv:MATRIX.csv",
            param="pattern",
        )
    try:
        return demand_from_csv(ctx.topology, _read(pattern[4:]), pattern)
    except PatternError as e:
        raise ArgumentError(e.diagnostics[0].message, param="pattern") from None


def _read(path: str) -> str:
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_CSV_BYTES:
            raise ArgumentError(f"{path}: the traffic matrix is larger than 256 MB")
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ArgumentError(f"cannot read the traffic matrix {path!r}: {e}") from None


def _compute(solve, ctx, args):
    from ..patterns import PatternError

    kw = args.kw(between="between", metric="metric", fair="fair", ceiling="ceiling")
    try:
        return solve(ctx.topology, _pattern(ctx, args), seed=int(args.get("seed", 0)), **kw)
    except PatternError as e:
        raise ArgumentError(e.diagnostics[0].message, param="pattern") from None


def _figures(ctx, args, r) -> dict[str, Figure]:
    routed, c = r.routed, r.ceiling
    w = routed.demand.total_weight
    cut = tuple(routed.bottleneck)
    note = f"{routed.demand.num_pairs:,} pairs, {routed.metric} ECMP"
    if routed.unrouted:
        note += f"; {routed.unrouted:,} pairs have no route"
    ceiling_note = (f"ceiling: {c.method}" + (f" ({c.sets})" if c.sets else ""),)
    lo, hi = r.efficiency
    out = {
        "rate": Figure.exact(routed.rate, BANDWIDTH, cut=cut, notes=(note,)),
        "throughput": Figure.exact(routed.rate * w, BANDWIDTH, cut=cut, notes=(note,)),
        "ceiling": Figure(c.lower * w, c.upper * w, BANDWIDTH, tuple(c.cut), ceiling_note),
        "efficiency": Figure(lo, hi, COUNT, (), ceiling_note),
    }
    if routed.fair is not None:
        out["fair"] = Figure.exact(float(routed.fair.sum()), BANDWIDTH, notes=(note,))
    return out


def _text(result, links: int = 10) -> str:
    from ..report.traffic import format_traffic

    return format_traffic(result, links=links)


def _json(result, links: int = 10) -> dict:
    from ..report.traffic import traffic_to_dict

    return traffic_to_dict(result, links=links)


def _loads(r):
    return [(r.routed.link_load, r.routed.device_load)]


register(
    Analysis(
        name="traffic",
        signature="traffic(PATTERN, between = ENDPOINTS)",
        help="a traffic pattern (all-to-all, permutation, shift, ring, rail) routed by "
        "shortest-path ECMP: .rate per flow when all run at once, .throughput in all, .ceiling "
        "(the most any routing could carry, a bound) and .efficiency (routed over ceiling)",
        summary="Route a traffic --pattern among --between (default: every GPU) with "
        "shortest-path ECMP, and compare it with the max-flow ceiling.\n\n"
        "Reports the rate every flow gets when all run at once (the largest uniform rate before "
        "some link saturates), the bottleneck and the most loaded links, the ceiling of the same "
        "demand under any routing (a linear program on small inputs, else a cut bound: labelled "
        "as such) and the ratio. Patterns: all-to-all, permutation (--seed), shift or shift:K, "
        "ring, rail, csv:FILE (source,target[,weight] per line). See docs/traffic.md.",
        params=(
            Param(
                "pattern",
                TEXT,
                "all-to-all (default), permutation, shift, shift:K, ring, rail or csv:FILE.",
                default="all-to-all",
                position=0,
                metavar="PATTERN",
            ),
            Param(
                "between",
                SELECTION,
                "The endpoints (default: every gpu), e.g. 'kind:gpu' or 'pod.node*.gpu*'.",
                default="kind:gpu",
                metavar="SELECTOR",
                what="'between' selection",
                min_rows=2,
                too_few="traffic needs at least two endpoints, got {n}",
            ),
            Param(
                "metric",
                CHOICE,
                "Path cost: hops (default) or latency (links and components entered).",
                default="hops",
                choices=("hops", "latency"),
            ),
            Param(
                "seed",
                QUANTITY,
                "Seed of the random permutation (default 0).",
                dim=COUNT,
                default=0,
                metavar="SEED",
            ),
            Param("fair", FLAG, "Also the max-min fair rates on the same routes.", default=False),
            Param(
                "ceiling",
                CHOICE,
                "How the ceiling is found: auto (a linear program when small, else a cut "
                "bound), lp or cut.",
                default="auto",
                choices=("auto", "lp", "cut"),
            ),
        ),
        fields=(
            Field("rate", BANDWIDTH, "rate per flow when every flow runs at once", better="higher"),
            Field("throughput", BANDWIDTH, "total routed rate", better="higher"),
            Field(
                "ceiling",
                BANDWIDTH,
                "the most any routing carries for the demand (bound)",
                exact=False,
                better="higher",
            ),
            Field(
                "efficiency",
                COUNT,
                "routed throughput over the ceiling",
                exact=False,
                better="higher",
            ),
            Field("fair", BANDWIDTH, "sum of the max-min fair rates", better="higher"),
        ),
        compute=_compute,
        figures=_figures,
        default_field="rate",
        solver="topodsl.solvers.traffic:traffic",
        text=_text,
        json=_json,
        report_options=(ReportOption("links", "--links", 10, "Most loaded links to list."),),
        common=("forwarding",),
        symmetric=lambda args: _pattern_name(args) == "all-to-all",
        loads=_loads,
        load_fields=("rate", "throughput", "fair"),
    )
)
