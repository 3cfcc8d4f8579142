"""Collectives on placed groups: proven lower bounds from cuts, alpha-beta estimates on links."""

from __future__ import annotations

import math

__all__ = ["flow_upper"]


def flow_upper(r) -> float:
    """An upper bound (B/s) on a max flow: the capacity of a real cut, whatever the backend
    had to round (``FlowResult.upper`` where the flow core gives it, else the cut's capacity)."""
    upper = getattr(r, "upper", math.nan)
    return float(upper) if not math.isnan(upper) else float(r.cut_capacity)
