"""``topodsl analyze bisection``: the bisection result as text or as a JSON-ready dict.

Every bandwidth is per direction unless labelled "bidirectional" (both directions added).
"""

from __future__ import annotations

from ..solvers.bisection import BisectionResult
from ..units import BANDWIDTH, format_quantity
from .cut import cut_table, cut_to_dict, group_cut
from .table import format_table

__all__ = ["bisection_to_dict", "format_bisection"]


def bisection_to_dict(
    result: BisectionResult, halves: bool = True, cut_rows: int | None = None
) -> dict:
    """JSON-ready form (B/s, per direction, unless a key says ``bidirectional``).

    Keys: ``endpoints`` (count), ``unit``, ``lower_bound``, ``upper_bound``, ``exact``,
    ``lower_method``, ``upper_method``, ``bidirectional`` (``lower_bound``, ``upper_bound``,
    ``lower_method``),
    ``cut`` (``{from, to, bandwidth, element, type, group}``, first half to second, group by
    group: the first ``cut_rows`` elements, every one when ``None``), ``cut_total`` (elements
    in the cut), ``cut_groups`` (the first ``cut_rows`` groups, with ``cut_groups_total`` when
    some are left out; see :func:`topodsl.report.cut.cut_to_dict`),
    ``halves`` (two lists of endpoint ids, unless ``halves=False``), ``lower_bounds`` and
    ``upper_bounds`` (every method tried).

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.bisection import bisection
    >>> b = TopologyBuilder()
    >>> _ = b.add_node("a", "gpu"); _ = b.add_node("b", "gpu")
    >>> _ = b.add_link("a", "b", bandwidth=50e9)
    >>> d = bisection_to_dict(bisection(b.build()))
    >>> d["endpoints"], d["upper_bound"], d["exact"], d["cut"][0]["from"]
    (2, 50000000000.0, True, 'a')
    """
    out: dict = {
        "endpoints": result.endpoints,
        "unit": "B/s per direction",
        "lower_bound": result.lower_bound,
        "upper_bound": result.upper_bound,
        "exact": result.exact,
        "lower_method": result.lower_method,
        "upper_method": result.upper_method,
        "bidirectional": {
            "lower_bound": result.bidirectional_lower_bound,
            "upper_bound": result.bidirectional_upper_bound,
            "lower_method": result.bidirectional_lower_method,
        },
        **cut_to_dict(group_cut(result.cut), cut_rows),
    }
    if halves:
        out["halves"] = [list(result.halves[0]), list(result.halves[1])]
    out["lower_bounds"] = [b.to_dict() for b in result.lower_bounds]
    out["upper_bounds"] = [b.to_dict() for b in result.upper_bounds]
    return out


def _bw(x: float) -> str:
    return format_quantity(x, BANDWIDTH)


def _sample(ids: tuple[str, ...], k: int = 4) -> str:
    if len(ids) <= k:
        return ", ".join(ids)
    return ", ".join(ids[:k]) + f", ... ({len(ids)} in all)"


def format_bisection(result: BisectionResult, max_cut_rows: int | None = 20) -> str:
    """The result as text: the bounds with their methods, then the cut, its elements grouped
    by array pattern (:func:`topodsl.report.cut.group_cut`), ``max_cut_rows`` groups of it
    (``None``: all).

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.bisection import bisection
    >>> b = TopologyBuilder()
    >>> for i in range(4):
    ...     _ = b.add_node(f"g{i}", "gpu")
    >>> for i in range(4):
    ...     _ = b.add_link(f"g{i}", f"g{(i + 1) % 4}", bandwidth=25e9, type="nvlink4")
    >>> print(format_bisection(bisection(b.build())))  # doctest: +NORMALIZE_WHITESPACE
    bisection bandwidth over 4 endpoints: 50 GB/s per direction (exact)
    <BLANKLINE>
    bound                         per direction  method
    ----------------------------  -------------  ----------------------------
    lower bound                         50 GB/s  exhaustive
    upper bound                         50 GB/s  exhaustive
    bidirectional (both, summed)       100 GB/s  witness cut, both directions
      exhaustive: all 3 balanced splits measured
    <BLANKLINE>
    halves: g0, g1 | g2, g3
    <BLANKLINE>
    cut: 2 links, 50 GB/s per direction, from the first half to the second
    count  element   limit       each    total  share of cut
    -----  --------  -------  -------  -------  ------------
        2  g* -> g*  nvlink4  25 GB/s  50 GB/s        100.0%
    """
    r = result
    if r.exact:
        head = f"{_bw(r.upper_bound)} per direction (exact)"
    else:
        head = (
            f"between {_bw(r.lower_bound)} and {_bw(r.upper_bound)} per direction "
            "(bounds; not exact)"
        )
    lines = [f"bisection bandwidth over {r.endpoints} endpoints: {head}", ""]
    rows = [
        ["lower bound", _bw(r.lower_bound), r.lower_method],
        ["upper bound", _bw(r.upper_bound), r.upper_method],
    ]
    if r.bidirectional_lower_bound == r.bidirectional_upper_bound:
        both = ["bidirectional (both, summed)", _bw(r.bidirectional_upper_bound)]
        rows.append(both + ["witness cut, both directions"])
    else:
        low = _bw(r.bidirectional_lower_bound)
        rows.append(["bidirectional lower bound", low, r.bidirectional_lower_method])
        rows.append(
            [
                "bidirectional upper bound",
                _bw(r.bidirectional_upper_bound),
                "witness cut, both directions",
            ]
        )
    lines.append(format_table(["bound", "per direction", "method"], rows, "lrl"))
    notes = [b for b in r.lower_bounds if b.note and b.method == r.lower_method][:1]
    for b in notes:
        lines.append(f"  {b.method}: {b.note}")
    lines += ["", f"halves: {_sample(r.halves[0])} | {_sample(r.halves[1])}", ""]
    n_links = sum(1 for c in r.cut if c.element == "link")
    n_dev = len(r.cut) - n_links
    what = f"{n_links} links" + (f" and {n_dev} devices" if n_dev else "")
    cut = group_cut(r.cut)
    if len(cut) > 1:
        what += f" in {len(cut)} groups"
    lines.append(
        f"cut: {what}, {_bw(r.upper_bound)} per direction, from the first half to the second"
    )
    lines += cut_table(cut, max_cut_rows)
    return "\n".join(lines)
