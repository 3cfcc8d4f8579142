"""``flow(FROM -> TO)``: the maximum flow from one selection to another, per direction.

Storage sends at its read bandwidth and receives at its write bandwidth. The figure is exact
when the flow core proves it (a flow and a real cut that agree); otherwise it is the interval
between them. With a size (``flow(a -> b, size = 2 TB).time``), ``.time`` is
the time to move it at that flow.
Solver: :func:`topodsl.solvers.dataflow.data_flow`.

>>> from topodsl import loads
>>> from topodsl.analyses import run
>>> t = loads("link l { bandwidth = 50 GB/s }; node n { gpu g[2]; connect g[0] -- g[1] via l }")
>>> r = run(t, "flow", sources="n.g0", sinks="n.g1", size="1 TB")
>>> r.value.format(), r["time"].measure.format()
('50 GB/s', '20 s')
"""

from __future__ import annotations

import math

from ..units import BANDWIDTH, TIME, format_quantity
from .figures import Figure
from .registry import (
    CUT_ROWS_HELP,
    Analysis,
    Field,
    ReportOption,
    endpoint_param,
    register,
    size_param,
)


def flow_interval(r) -> tuple[float, float]:
    """A max-flow value as an interval: the flow found and the capacity of a real cut (equal
    when the flow core proved it exact)."""
    value = float(r.throughput)
    if r.flow.exact:
        return value, value
    return float(r.flow.lower), float(r.flow.upper)


def relay_notes(gain: float, relays: tuple[str, ...]) -> tuple[str, ...]:
    """A note when a figure depends on components relaying beyond the hardware defaults
    (``--forwarding ideal`` or ``relay = true``).

    >>> relay_notes(63e9, ("n.gpu1",))
    ('63 GB/s of it relayed through n.gpu1',)
    >>> relay_notes(0.0, ())
    ()
    """
    if gain <= 0:
        return ()
    shown = ", ".join(relays[:3]) + (f" and {len(relays) - 3} more" if len(relays) > 3 else "")
    return (f"{format_quantity(gain, BANDWIDTH)} of it relayed through {shown}",)


def fabric_notes(excluded: float, domains: tuple[str, ...]) -> tuple[str, ...]:
    """A note when the fabric rule took paths away from a figure (traffic between accelerators
    of one fabric domain kept on their fabric).

    >>> print(fabric_notes(63e9, ("dgx",))[0])
    fabric rule: peer traffic of dgx kept on its fabric (63 GB/s of other paths left out)
    """
    if excluded <= 0:
        return ()
    shown = ", ".join(domains)
    return (
        f"fabric rule: peer traffic of {shown} kept on its fabric "
        f"({format_quantity(excluded, BANDWIDTH)} of other paths left out)",
    )


def time_interval(size: float, lo: float, hi: float) -> tuple[float, float]:
    """The time to move ``size`` at a rate in ``[lo, hi]``: ``[size / hi, size / lo]``."""
    return (size / hi if hi > 0 else math.inf), (size / lo if lo > 0 else math.inf)


def _compute(solve, ctx, args):
    return solve(ctx.topology, args["sources"], args["sinks"], size=args.get("size"))


def _figures(ctx, args, r) -> dict[str, Figure]:
    lo, hi = flow_interval(r)
    cut = tuple(r.bottleneck)
    notes = tuple(args.notes) + relay_notes(r.relay_gain, r.relays)
    notes += fabric_notes(r.fabric_excluded, r.fabric)
    out = {"throughput": Figure(lo, hi, BANDWIDTH, cut, notes)}
    if "size" in args:
        t_lo, t_hi = time_interval(args["size"], lo, hi)
        out["time"] = Figure(t_lo, t_hi, TIME, cut, notes)
    return out


def _text(result, links: int | None = 20, cut_rows: int | None = 20) -> str:
    from ..report.flow import format_flow

    return format_flow(result, links=result.usage_count if links is None else links,
                       cut_rows=cut_rows)  # fmt: skip


def _json(result, links: int | None = 20, cut_rows: int | None = 20) -> dict:
    from ..report.flow import flow_to_dict

    return flow_to_dict(result, links=links or None, cut_rows=cut_rows)


register(
    Analysis(
        name="flow",
        signature="flow(FROM -> TO)",
        help="maximum flow from one selection to another, per direction (also flow(from A, to "
        "B)); storage sends at its read bandwidth and receives at its write bandwidth",
        summary="Max flow in FILE from --from to --to (B/s), its bottleneck and the busiest "
        "links.\n\nStorage devices are capped by their read bandwidth as sources and their write "
        "bandwidth as sinks. The bottleneck is a minimum cut: links and devices, each with its "
        "share.",
        params=(
            size_param("Bytes to move, e.g. '2TB'."),
            endpoint_param("sources", "from", "Where data starts.", required=True),
            endpoint_param("sinks", "to", "Where data goes.", required=True),
        ),
        fields=(
            Field("throughput", BANDWIDTH, "max flow, per direction", exact=False, better="higher"),
            Field("time", TIME, "time to move the size at that flow", exact=False, better="lower"),
        ),
        compute=_compute,
        figures=_figures,
        default_field="throughput",
        solver="topodsl.solvers.dataflow:data_flow",
        text=_text,
        json=_json,
        report_options=(
            ReportOption(
                "links",
                "--links",
                20,
                "Busiest links to list (text and JSON); 0 lists none in text and all in JSON; "
                "'all' for every one.",
            ),
            ReportOption("cut_rows", "--cut-rows", 20, CUT_ROWS_HELP),
        ),
        common=("forwarding",),
        disjoint=("sources", "sinks"),
        symmetric=True,
        loads=lambda r: [(r.flow.link_flow, r.flow.device_flow)],
    )
)
