"""``topodsl analyze traffic``: a routed pattern as text or a JSON-ready dict.

Rates are B/s per unit of weight (per flow for the built-in patterns), throughputs and the
ceiling B/s in all, loads B/s in the direction named, utilisation a fraction of capacity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analyses.figures import json_float
from ..solvers.traffic import TrafficResult
from ..units import BANDWIDTH, format_quantity
from .table import format_table

__all__ = ["traffic_to_dict", "format_traffic"]


def _bw(x: float) -> str:
    return format_quantity(x, BANDWIDTH)


def traffic_to_dict(r: TrafficResult, links: int = 10) -> dict[str, Any]:
    """The JSON detail of a routed pattern (after the registry's ``figures``)."""
    routed, c = r.routed, r.ceiling
    d = routed.demand
    lo, hi = r.efficiency
    out: dict[str, Any] = {
        "pattern": d.name,
        "endpoints": d.n,
        "pairs": d.num_pairs,
        "unrouted": routed.unrouted,
        "metric": routed.metric,
        "forwarding": routed.forwarding,
        "rate": json_float(routed.rate),
        "throughput": json_float(routed.throughput),
        "ceiling": {
            "rate": {"lower": json_float(c.lower), "upper": json_float(c.upper)},
            "throughput": {
                "lower": json_float(c.lower * d.total_weight),
                "upper": json_float(c.upper * d.total_weight),
            },
            "method": c.method,
            "sets": c.sets or None,
            "cut": [x.to_dict() for x in c.cut],
        },
        "efficiency": {"lower": lo, "upper": hi},
        "bottleneck": [b.to_dict() for b in routed.bottleneck],
        "busiest": [b.to_dict() for b in routed.busiest[:links] if links] if links else [],
        "fair": None,
    }
    if routed.fair is not None:
        f = routed.fair
        out["fair"] = {
            "total": json_float(float(f.sum())),
            "min": json_float(float(f.min())),
            "median": json_float(float(np.median(f))),
            "max": json_float(float(f.max())),
        }
    return out


def format_traffic(r: TrafficResult, links: int = 10) -> str:
    """The text report of a routed pattern."""
    routed, c = r.routed, r.ceiling
    d = routed.demand
    w = d.total_weight
    lines = [
        f"traffic {d.name} among {d.n:,} endpoints ({d.num_pairs:,} pairs), {routed.metric} "
        f"ECMP, forwarding {routed.forwarding}:"
    ]
    if routed.unrouted:
        lines.append(f"  {routed.unrouted:,} pairs have no route: nothing flows for every pair")
    lines.append(f"  rate per flow, all at once:  {_bw(routed.rate)} per direction")
    lines.append(f"  routed throughput:           {_bw(routed.rate * w)}")
    ceiling = _bw(c.upper * w)
    if c.exact:
        lines.append(f"  ceiling (any routing):       {ceiling} (exact: {c.method})")
    else:
        lines.append(f"  ceiling (any routing):       at most {ceiling} ({c.method}: {c.sets})")
    lo, hi = r.efficiency
    eff = (
        f"{100 * lo:.1f}%"
        if f"{100 * lo:.1f}" == f"{100 * hi:.1f}"
        else (f"{100 * lo:.1f}% .. {100 * hi:.1f}%")
    )
    lines.append(f"  routed / ceiling:            {eff}")
    if routed.fair is not None:
        f = routed.fair
        lines.append(
            f"  max-min fair rates:          {_bw(float(f.min()))} .. "
            f"{_bw(float(f.max()))} per flow, {_bw(float(f.sum()))} in all"
        )
    if routed.bottleneck:
        rows = [
            [
                b.element,
                f"{b.source} -> {b.target}" if b.element != "device" else b.source,
                b.type or "",
                _bw(b.bandwidth),
            ]
            for b in routed.bottleneck[: links or None]
        ]
        lines += [
            "",
            "saturated first:",
            format_table(["element", "where", "type", "capacity"], rows, "lllr"),
        ]
        if len(routed.bottleneck) > len(rows):
            lines.append(f"... and {len(routed.bottleneck) - len(rows)} more")
    if links and routed.busiest:
        rows = [
            [
                f"{b.source} -> {b.target}" if b.element != "device" else b.source,
                b.type or b.element,
                _bw(b.load),
                f"{100 * b.utilisation:.1f}%",
            ]
            for b in routed.busiest[:links]
        ]
        lines += [
            "",
            "most loaded:",
            format_table(["where", "type", "load", "of capacity"], rows, "llrr"),
        ]
    return "\n".join(lines)
