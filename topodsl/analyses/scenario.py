"""What the storage scenarios share (checkpoint, drain, ingest, spill): parameters, figures of a
leg, reports.

Each scenario moves data in equal shares (every GPU writes its own shard; every GPU reads its
own batches), so its figures come from the uniform rate of
:func:`topodsl.solvers.dataflow.uniform_flow`: the rate per endpoint lies between the rate a
flow achieves and the rate no schedule can beat (equal unless the flow backend had to round).
"""

from __future__ import annotations

from ..units import BANDWIDTH, TIME, format_quantity
from .figures import Figure, format_figure
from .flow import relay_notes, time_interval
from .registry import CUT_ROWS_HELP, Field, Param, ReportOption, endpoint_param, size_param

__all__ = ["scenario_params", "leg_fields", "leg_field_decls", "text", "json", "REPORT_OPTIONS"]

#: The report options every scenario takes: ``--cut-rows``.
REPORT_OPTIONS = (ReportOption("cut_rows", "--cut-rows", 10, CUT_ROWS_HELP),)


def scenario_params(
    size_help: str,
    size_required: bool,
    sources: tuple[str, str],
    sinks: tuple[str, str],
) -> tuple[Param, ...]:
    """The size and the two selections (``from``, ``to``), each ``(default, help)``."""
    return (
        size_param(size_help, position=0, required=size_required),
        endpoint_param("sources", "from", sources[1], default=sources[0], note_default=True),
        endpoint_param("sinks", "to", sinks[1], default=sinks[0], note_default=True),
    )


def leg_field_decls(prefix: str = "", who: str = "endpoint") -> tuple[Field, ...]:
    """The declared fields of one leg: ``rate``, ``throughput`` and (with a size) ``time``."""
    return (
        Field(prefix + "rate", BANDWIDTH, f"rate per {who}, all at once", False, "higher"),
        Field(prefix + "throughput", BANDWIDTH, "total rate, all at once", False, "higher"),
        Field(prefix + "time", TIME, "time to move the size in equal shares", False, "lower"),
    )


def leg_fields(leg, size: float | None, prefix: str, notes: tuple[str, ...]) -> dict[str, Figure]:
    """Rate per endpoint, total throughput and (with a size) time of one scenario leg, each an
    interval between the achievable rate and the rate no schedule can beat."""
    u = leg.uniform
    cut = tuple(u.bottleneck)
    n = u.endpoints
    lo, hi = float(u.rate), float(max(u.rate_bound, u.rate))
    notes = (
        tuple(notes)
        + (
            f"{n} {'sources' if u.even == 'sources' else 'sinks'} in equal shares; "
            f"{u.behind} behind the bottleneck",
        )
        + relay_notes(u.relay_gain * n, u.relays)
    )
    if format_figure(lo, BANDWIDTH) != format_figure(hi, BANDWIDTH):
        notes += (
            f"rate between {format_quantity(lo, BANDWIDTH)} and "
            f"{format_quantity(hi, BANDWIDTH)} per endpoint",
        )
    out = {
        prefix + "rate": Figure(lo, hi, BANDWIDTH, cut, notes),
        prefix + "throughput": Figure(n * lo, n * hi, BANDWIDTH, cut, notes),
    }
    if size is not None:
        t_lo, t_hi = time_interval(size, n * lo, n * hi)
        out[prefix + "time"] = Figure(t_lo, t_hi, TIME, cut, notes)
    return out


def one_leg_figures(ctx, args, result) -> dict[str, Figure]:
    """The figures of a one-leg scenario (checkpoint, drain, ingest)."""
    return leg_fields(result.legs[0], args.get("size"), "", args.notes)


def text(result, cut_rows: int | None = 10) -> str:
    """The text report of a scenario."""
    from ..report.flow import format_scenario

    return format_scenario(result, cut_rows=cut_rows)


def json(result, cut_rows: int | None = 10) -> dict:
    """The JSON detail of a scenario."""
    from ..report.flow import scenario_to_dict

    return scenario_to_dict(result, cut_rows=cut_rows)
