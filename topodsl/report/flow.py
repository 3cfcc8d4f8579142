"""``topodsl analyze flow`` and the scenario commands: results as text or JSON-ready dicts.

Units in JSON: throughput and bandwidth in B/s (in the direction of the flow), sizes in bytes,
times in seconds (``null`` when no size was given or nothing can flow).
"""

from __future__ import annotations

import math
from typing import Any

from ..solvers.dataflow import (
    DataFlowResult,
    ScenarioResult,
    UniformFlowResult,
)
from ..units import BANDWIDTH, SIZE, TIME, format_quantity
from .cut import GroupedCut, cut_table, cut_to_dict, group_cut
from .table import format_table

__all__ = ["flow_to_dict", "format_flow", "scenario_to_dict", "format_scenario", "format_time"]


def format_time(seconds: float | None) -> str:
    """A duration for people: seconds, with minutes or hours alongside when long.

    >>> format_time(40.0), format_time(7560.0), format_time(float("inf"))
    ('40 s', '7560 s (2.1 h)', 'never (nothing flows)')
    """
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "never (nothing flows)"
    text = format_quantity(seconds, TIME)
    if seconds >= 3600:
        text += f" ({seconds / 3600:.3g} h)"
    elif seconds >= 120:
        text += f" ({seconds / 60:.3g} min)"
    return text


def _json_time(t: float | None) -> float | None:
    return None if t is None or math.isinf(t) else t


def flow_to_dict(
    result: DataFlowResult, links: int | None = 20, cut_rows: int | None = None
) -> dict[str, Any]:
    """JSON-ready form of a :class:`~topodsl.solvers.dataflow.DataFlowResult`.

    Keys: ``throughput`` (B/s), ``unit``, ``sources``/``sinks`` (counts), ``size`` (bytes or
    null), ``time`` (s or null), ``resolution``, ``cut`` (the bottleneck, group by group: the
    first ``cut_rows`` elements, all when None; ``from``, ``to``, ``bandwidth``, ``share``,
    ``element``, ``limit``, ``group``; a device limit names the device in both ``from`` and
    ``to``), ``cut_total``, ``cut_groups`` (see :func:`topodsl.report.cut.cut_to_dict`),
    ``links`` (the ``links`` busiest link directions and devices: ``from``, ``to``, ``flow``,
    ``bandwidth``, ``utilisation``; all when ``links`` is None) and ``links_total``.

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.dataflow import data_flow
    >>> b = TopologyBuilder(); _ = b.add_node("g", "gpu")
    >>> _ = b.add_node("s", "ssd", write_bandwidth=4e9); _ = b.add_link("g", "s", bandwidth=8e9)
    >>> d = flow_to_dict(data_flow(b.build(), "g", "s", size=8e9))
    >>> d["throughput"], d["time"], d["cut"][0]["from"], d["cut"][0]["limit"]
    (4000000000.0, 2.0, 's', 'write_bandwidth')
    """
    usage = result.usage(links)
    return {
        "throughput": result.throughput,
        "unit": "B/s, sources to sinks",
        "sources": len(result.sources),
        "sinks": len(result.sinks),
        "size": result.size,
        "time": _json_time(result.time),
        "resolution": result.resolution,
        "exact": result.flow.exact,
        "lower": result.flow.lower,
        "upper": result.flow.upper,
        "forwarding": result.forwarding,
        "relay_gain": result.relay_gain,
        "relays": list(result.relays),
        "fabric": list(result.fabric),
        "fabric_excluded": result.fabric_excluded,
        **cut_to_dict(group_cut(result.bottleneck), cut_rows),
        "links": [u.to_dict() for u in usage],
        "links_total": result.usage_count,
    }


def _relay_line(
    gain: float, relays: tuple[str, ...], forwarding: str, indent: str = ""
) -> list[str]:
    """A line saying a figure depends on relaying through components that do not forward under
    the hardware defaults (none when it does not)."""
    if gain <= 0:
        return []
    shown = ", ".join(relays[:4]) + (f" and {len(relays) - 4} more" if len(relays) > 4 else "")
    return [
        f"{indent}depends on relaying: {format_quantity(gain, BANDWIDTH)} of it passes through "
        f"{shown or 'components'} (forwarding={forwarding})"
    ]


def _bottleneck_head(cut: GroupedCut) -> str:
    """``'16 elements in 2 groups, 800 GB/s'``."""
    n = cut.count
    text = f"{n} element{'s' if n != 1 else ''}"
    if len(cut) > 1:
        text += f" in {len(cut)} groups"
    return f"{text}, {format_quantity(cut.total, BANDWIDTH)}"


def format_flow(result: DataFlowResult, links: int = 20, cut_rows: int | None = 20) -> str:
    """The result as text: throughput and time, the bottleneck (its elements grouped by array
    pattern, ``cut_rows`` groups; ``None``: all), the busiest links.

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.dataflow import data_flow
    >>> b = TopologyBuilder(); _ = b.add_node("g", "gpu")
    >>> _ = b.add_node("n", "nic", bandwidth=50e9); _ = b.add_node("sw", "switch")
    >>> _ = b.add_link("g", "n", bandwidth=63e9, type="pcie5_x16")
    >>> _ = b.add_link("n", "sw", bandwidth=100e9)
    >>> print(format_flow(data_flow(b.build(), "g", "sw", size=1e12)))
    max flow from 1 source to 1 sink: 50 GB/s
    time to move 1 TB: 20 s
    <BLANKLINE>
    bottleneck (minimum cut, 1 element, 50 GB/s):
    count  element  limit             each    total  share of cut
    -----  -------  -------------  -------  -------  ------------
        1  n        nic bandwidth  50 GB/s  50 GB/s        100.0%
    <BLANKLINE>
    busiest at the max flow (3 carrying flow):
    from  to  type          flow  bandwidth  utilisation
    ----  --  ---------  -------  ---------  -----------
    n     n              50 GB/s    50 GB/s       100.0%
    g     n   pcie5_x16  50 GB/s    63 GB/s        79.4%
    n     sw             50 GB/s   100 GB/s        50.0%
    """
    ns, nt = len(result.sources), len(result.sinks)
    parts = [
        f"max flow from {ns} source{'s' if ns != 1 else ''} to {nt} sink{'s' if nt != 1 else ''}"
        f": {format_quantity(result.throughput, BANDWIDTH)}"
    ]
    if not result.flow.exact:
        parts[0] += (
            f" (between {format_quantity(result.flow.lower, BANDWIDTH)} and "
            f"{format_quantity(result.flow.upper, BANDWIDTH)})"
        )
    if result.size is not None:
        parts.append(
            f"time to move {format_quantity(result.size, SIZE)}: {format_time(result.time)}"
        )
    parts += _relay_line(result.relay_gain, result.relays, result.forwarding)
    if result.fabric_excluded > 0:
        parts.append(
            f"fabric rule: traffic between the accelerators of {', '.join(result.fabric)} stays "
            f"on their fabric; {format_quantity(result.fabric_excluded, BANDWIDTH)} of paths out "
            "of it and back left out (--forwarding ideal counts them)"
        )
    if result.throughput <= 0:
        parts.append("nothing can flow: no path with capacity joins the sources to the sinks")
        return "\n".join(parts)
    cut = group_cut(result.bottleneck)
    parts.append("")
    parts.append(f"bottleneck (minimum cut, {_bottleneck_head(cut)}):")
    parts += cut_table(cut, cut_rows)
    if links > 0:
        usage = result.usage(links)
        parts.append("")
        parts.append(f"busiest at the max flow ({result.usage_count} carrying flow):")
        parts.append(
            format_table(
                ["from", "to", "type", "flow", "bandwidth", "utilisation"],
                [
                    [
                        u.source,
                        u.target,
                        u.type or "",
                        format_quantity(u.flow, BANDWIDTH),
                        format_quantity(u.bandwidth, BANDWIDTH),
                        f"{100 * u.utilisation:.1f}%",
                    ]
                    for u in usage
                ],
                "lllrrr",
            )
        )
    return "\n".join(parts)


def _uniform_to_dict(u: UniformFlowResult, cut_rows: int | None) -> dict[str, Any]:
    return {
        "even": u.even,
        "endpoints": u.endpoints,
        "rate": u.rate,
        "rate_bound": u.rate_bound,
        "exact": u.exact,
        "total": u.total,
        "max_throughput": u.max_throughput,
        "behind": u.behind,
        "forwarding": u.forwarding,
        "relay_gain": u.relay_gain,
        "relays": list(u.relays),
        **cut_to_dict(group_cut(u.bottleneck), cut_rows),
    }


def scenario_to_dict(result: ScenarioResult, cut_rows: int | None = None) -> dict[str, Any]:
    """JSON-ready form of a :class:`~topodsl.solvers.dataflow.ScenarioResult`.

    Keys: ``scenario``, ``description``, ``size`` (bytes or null) and ``legs``, each with
    ``label``, ``from``, ``to``, ``time`` (s, every endpoint moving an equal share; null without
    a size), ``best_time`` (s, if shares could be rebalanced), ``rate`` (B/s per endpoint),
    ``throughput`` (B/s, all endpoints at the uniform rate), ``max_throughput``, ``cut`` (the
    bottleneck's first ``cut_rows`` elements, all when None), ``cut_total``, ``cut_groups``
    and the rest of the uniform-flow result; ``units`` names the unit of each.
    """
    legs = []
    for leg in result.legs:
        u = _uniform_to_dict(leg.uniform, cut_rows)
        legs.append(
            {
                "label": leg.label,
                "from": leg.sources,
                "to": leg.sinks,
                "time": _json_time(leg.time),
                "best_time": _json_time(leg.best_time),
                "rate": u.pop("rate"),
                "throughput": u.pop("total"),
                **u,
            }
        )
    return {
        "scenario": result.name,
        "description": result.description,
        "size": result.size,
        "legs": legs,
        "units": _SCENARIO_UNITS,
    }


#: The unit of every figure of a scenario's JSON (``units`` in the document).
_SCENARIO_UNITS = {
    "size": "B",
    "time": "s",
    "best_time": "s",
    "rate": "B/s per endpoint",
    "rate_bound": "B/s per endpoint",
    "throughput": "B/s",
    "max_throughput": "B/s",
    "cut.bandwidth": "B/s",
    "cut_groups.each": "B/s",
    "cut_groups.bandwidth": "B/s",
}


_ENDPOINT = {"sources": ("source", "sends"), "sinks": ("sink", "receives")}


def format_scenario(result: ScenarioResult, cut_rows: int | None = 10) -> str:
    """The scenario as text: per leg the time or rate and the named bottleneck, its elements
    grouped by array pattern (``cut_rows`` groups; ``None``: all)."""
    parts = [result.description]
    if result.size is not None:
        parts[0] += f" ({format_quantity(result.size, SIZE)})"
    for leg in result.legs:
        u = leg.uniform
        noun, verb = _ENDPOINT[u.even]
        parts.append("")
        parts.append(f"{leg.label}: {leg.sources} -> {leg.sinks}")
        approx = ""
        if format_quantity(u.rate_bound, BANDWIDTH) != format_quantity(u.rate, BANDWIDTH):
            approx = f" (optimum at most {format_quantity(u.rate_bound, BANDWIDTH)})"
        parts.append(
            f"  each of {u.endpoints} {noun}s {verb} {format_quantity(u.rate, BANDWIDTH)}"
            f"{approx}; together {format_quantity(u.total, BANDWIDTH)}"
        )
        parts += _relay_line(u.relay_gain, u.relays, u.forwarding, "  ")
        if leg.time is not None:
            parts.append(f"  time with equal shares: {format_time(leg.time)}")
            if leg.best_time is not None and leg.best_time < leg.time * (1 - 1e-9):
                parts.append(
                    f"  time if shares were rebalanced (max flow "
                    f"{format_quantity(u.max_throughput, BANDWIDTH)}): {format_time(leg.best_time)}"
                )
        if u.rate <= 0:
            parts.append("  nothing can flow for some endpoint")
        if not u.bottleneck:
            continue
        cut = group_cut(u.bottleneck)
        parts.append(
            f"  bottleneck: {_bottleneck_head(cut)}, shared by {u.behind} {noun}"
            f"{'s' if u.behind != 1 else ''}"
        )
        parts += ["  " + line for line in "\n".join(cut_table(cut, cut_rows)).split("\n")]
    return "\n".join(parts)
