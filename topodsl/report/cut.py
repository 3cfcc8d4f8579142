"""Cut rows grouped by array and definition: what a person upgrades, not one row per element.

A limiting cut at scale has thousands of elements that differ only in their array indices
(``pod.node3.nic5``, ``pod.node12.nic0``, ...). :func:`group_cut` puts together the elements
that share

* an **array pattern**: each dotted segment's trailing index becomes ``*`` where the members
  differ (``pod.node3.nic5`` and ``pod.node12.nic0`` are ``pod.node*.nic*``), and stays as it is
  where they agree (``pod.leaf*`` -> ``pod.spine0``);
* a **definition**: a link of one type between two patterns, in the direction the cut crosses
  it, or a device of one kind with one saturated limit;
* a **bandwidth**: every member of a group has the same one, so a group reads
  ``32 x pod.node*.nic* at 50 GB/s = 1.6 TB/s, 88.9% of the cut``.

Grouping is exact and deterministic: every element is in exactly one group, a group's bandwidth
is the sum of its members' (``math.fsum``), and the shares printed are rounded so that they add
up to 100.0% (largest remainder). Groups are sorted by their share of the cut, largest first,
ties in natural order of their patterns; the members of a group are in natural order
(:func:`topodsl.natural.natural_key`). A group of one element shows its ids as they are.

Text reports show the first ``N`` groups (``--cut-rows N``; 20 by default for ``analyze bisection``
and ``flow``, 10 for the storage scenarios, 8 per assertion in ``check``), then one line that sums
up the groups left out and names ``--cut-rows all``; JSON reports list the first ``N`` groups and
the first ``N`` elements group by group, with the totals (``cut_total``, ``cut_groups_total``).

>>> from topodsl.solvers.flow import CutItem
>>> items = [CutItem("link", k, f"leaf{k}", "spine0", 50e9, "eth400") for k in range(4)]
>>> items.append(CutItem("device", 9, "nic0", "nic0", 25e9))
>>> cut = group_cut(items)
>>> for line in cut_lines(cut):
...     print(line)
4 x leaf* -> spine0 (eth400) at 50 GB/s = 200 GB/s, 88.9% of the cut
nic0 (device limit): 25 GB/s, 11.1% of the cut
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..natural import natural_key
from ..units import BANDWIDTH, format_quantity
from .table import format_table

if TYPE_CHECKING:  # a report reads cut elements; it needs no solver
    from ..solvers.dataflow import Bottleneck
    from ..solvers.flow import CutItem

    Element = CutItem | Bottleneck

__all__ = [
    "CutGroup",
    "GroupedCut",
    "group_cut",
    "cut_table",
    "cut_lines",
    "cut_to_dict",
    "rows_shown",
    "ALL_ROWS_FLAG",
]

# An array index: the digits that end a dotted segment (``node12`` in ``pod.node12.nic3``).
_INDEX = re.compile(r"([0-9]+)(?=\.|$)")


@dataclass(frozen=True, slots=True)
class CutGroup:
    """Cut elements alike but for their array indices.

    Attributes
    ----------
    element : ``"link"`` or ``"device"``.
    source, target : id patterns (``*`` where the members' index differs); for a device both
        are the device's pattern.
    type : the link type (``None`` for devices and untyped links).
    kind : the device's kind, when the cut says it (flows and scenarios).
    limit : what a device saturates (``"bandwidth"``, ``"read_bandwidth"``,
        ``"write_bandwidth"``), when the cut says it.
    each : B/s of one member, in the direction crossed.
    bandwidth : B/s of the whole group: the ``math.fsum`` of its members'.
    share : the group's fraction of the cut's total bandwidth.
    members : the elements, in natural order.
    """

    element: str
    source: str
    target: str
    type: str | None
    kind: str | None
    limit: str | None
    each: float
    bandwidth: float
    share: float
    members: tuple[Element, ...]

    @property
    def count(self) -> int:
        """How many elements the group holds."""
        return len(self.members)

    @property
    def where(self) -> str:
        """``'pod.leaf* -> pod.spine0'`` for links, the device's pattern for devices."""
        return f"{self.source} -> {self.target}" if self.element == "link" else self.source

    @property
    def what(self) -> str:
        """What limits the members: the link type, or the device's kind and limit."""
        if self.element == "link":
            return self.type or "link"
        if self.limit is None:
            return "device limit"
        return f"{self.kind} {self.limit}" if self.kind else self.limit

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (B/s per direction, in the direction the cut is crossed)."""
        out: dict[str, Any] = {
            "count": self.count,
            "element": self.element,
            "from": self.source,
            "to": self.target,
        }
        for key in ("type", "kind", "limit"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out |= {"each": self.each, "bandwidth": self.bandwidth, "share": self.share}
        return out


@dataclass(frozen=True)
class GroupedCut:
    """A cut's groups, largest share first, with the cut's total.

    ``total`` is the ``math.fsum`` of every element's bandwidth (B/s) and ``count`` the number
    of elements; :meth:`tenths` gives each group's share in tenths of a percent, rounded so
    that they add up to exactly 1000.
    """

    groups: tuple[CutGroup, ...]
    total: float
    count: int

    def __len__(self) -> int:
        return len(self.groups)

    def tenths(self) -> tuple[int, ...]:
        """Each group's share of the cut in tenths of a percent, summing to 1000 (largest
        remainder; ties go to the earlier group). All zero for a cut of zero.

        >>> from topodsl.solvers.flow import CutItem
        >>> cut = group_cut([CutItem("device", k, f"d{k}x", f"d{k}x", 1.0) for k in range(3)])
        >>> cut.tenths()
        (334, 333, 333)
        """
        if not self.groups or not self.total > 0:
            return tuple(0 for _ in self.groups)
        raw = [1000.0 * g.bandwidth / self.total for g in self.groups]
        floor = [min(int(math.floor(r)), 1000) for r in raw]
        left = 1000 - sum(floor)
        order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floor[i]), i))
        for i in order[: max(left, 0)]:
            floor[i] += 1
        return tuple(floor)


def _member_order(entry: tuple[Element, list[str], list[str]]) -> tuple:
    """Natural order within a group, whose ids share the text between their indices: by the
    source's indices as numbers, then the target's (the text breaks ties: ``gpu01``, ``gpu1``)."""
    c, src, dst = entry
    return (tuple(map(int, src[1::2])), c.source, tuple(map(int, dst[1::2])), c.target, c.row)


def group_cut(cut: Sequence[Element]) -> GroupedCut:
    """Group the elements of a cut by array pattern, definition and bandwidth.

    Parameters
    ----------
    cut : the :class:`~topodsl.solvers.flow.CutItem`\\ s of a bisection or the
        :class:`~topodsl.solvers.dataflow.Bottleneck`\\ s of a flow or a scenario.

    Returns
    -------
    GroupedCut
        Largest share first; every element in exactly one group.

    Examples
    --------
    >>> from topodsl.solvers.flow import CutItem
    >>> items = [CutItem("device", 8 * n + k, f"pod.node{n}.nic{k}", f"pod.node{n}.nic{k}", 50e9)
    ...          for n in range(4) for k in range(8)]
    >>> items.append(CutItem("link", 0, "pod.leaf0", "pod.spine3", 200e9, "eth400"))
    >>> g = group_cut(items)
    >>> [(x.where, x.count, x.bandwidth) for x in g.groups]
    [('pod.node*.nic*', 32, 1600000000000.0), ('pod.leaf0 -> pod.spine3', 1, 200000000000.0)]
    >>> g.tenths()
    (889, 111)
    """
    buckets: dict[tuple, list[tuple[Element, list[str], list[str]]]] = {}
    for c in cut:
        device = c.element == "device"
        kind = getattr(c, "kind", None) if device else None
        limit = getattr(c, "limit", None) if device else None
        src = _INDEX.split(c.source)
        dst = src if device else _INDEX.split(c.target)
        # Ids alike but for their indices share their text between the indices.
        key = (c.element, c.type or "", kind or "", limit or "", float(c.bandwidth),
               tuple(src[0::2]), () if device else tuple(dst[0::2]))  # fmt: skip
        buckets.setdefault(key, []).append((c, src, dst))
    total = math.fsum(c.bandwidth for c in cut)
    groups = []
    for (element, type_, kind, limit, each, _, _), entries in buckets.items():
        entries.sort(key=_member_order)
        items = tuple(e[0] for e in entries)
        bandwidth = math.fsum(c.bandwidth for c in items)
        source = _pattern([e[1] for e in entries])
        target = source if element == "device" else _pattern([e[2] for e in entries])
        groups.append(
            CutGroup(
                element,
                source,
                target,
                type_ or None,
                kind or None,
                limit or None,
                each,
                bandwidth,
                bandwidth / total if total > 0 else 0.0,
                items,
            )
        )
    groups.sort(key=_group_order)
    return GroupedCut(tuple(groups), total, len(cut))


def _group_order(g: CutGroup) -> tuple:
    return (-g.bandwidth, natural_key(g.source), natural_key(g.target), g.element,
            g.type or "", g.kind or "", g.limit or "", g.each)  # fmt: skip


def _pattern(splits: Sequence[list[str]]) -> str:
    """The common pattern of ids split at their indices (``_INDEX.split``, equal text between
    the indices): an index that differs among them becomes ``*``.

    >>> _pattern([_INDEX.split("pod.node3.nic5"), _INDEX.split("pod.node12.nic5")])
    'pod.node*.nic5'
    """
    first = splits[0]
    out = list(first)
    for k in range(1, len(first), 2):
        if any(s[k] != first[k] for s in splits):
            out[k] = "*"
    return "".join(out)


# -- text ----------------------------------------------------------------------------------------


def _bw(x: float) -> str:
    return format_quantity(x, BANDWIDTH)


def _percent(tenths: int) -> str:
    return f"{tenths // 10}.{tenths % 10}%"


def rows_shown(rows: int | None, n: int) -> int:
    """How many of ``n`` rows a limit shows (``None``: all of them)."""
    return n if rows is None else min(max(int(rows), 0), n)


#: The option that lists every group, named on the line that sums up those left out.
ALL_ROWS_FLAG = "--cut-rows all"


def _more(cut: GroupedCut, shown: int, tenths: tuple[int, ...]) -> str:
    rest = cut.groups[shown:]
    n = sum(g.count for g in rest)
    return (
        f"... and {len(rest)} more group{'s' if len(rest) != 1 else ''} ({n} element"
        f"{'s' if n != 1 else ''}, {_bw(math.fsum(g.bandwidth for g in rest))}, "
        f"{_percent(sum(tenths[shown:]))} of the cut; {ALL_ROWS_FLAG} lists every group)"
    )


def cut_table(cut: GroupedCut, rows: int | None = 20) -> list[str]:
    """The groups as a table: count, element, limit, each, total and share of the cut.

    ``rows`` groups are listed (``None``: all); a last line sums up the others.

    >>> from topodsl.solvers.flow import CutItem
    >>> items = [CutItem("link", k, f"g{k}", f"h{k}", 25e9, "nvlink4") for k in range(6)]
    >>> print("\\n".join(cut_table(group_cut(items))))
    count  element   limit       each     total  share of cut
    -----  --------  -------  -------  --------  ------------
        6  g* -> h*  nvlink4  25 GB/s  150 GB/s        100.0%
    """
    tenths = cut.tenths()
    shown = rows_shown(rows, len(cut))
    table = [
        [g.count, g.where, g.what, _bw(g.each), _bw(g.bandwidth), _percent(t)]
        for g, t in zip(cut.groups[:shown], tenths, strict=False)
    ]
    out = []
    if table:
        headers = ["count", "element", "limit", "each", "total", "share of cut"]
        out.append(format_table(headers, table, "rllrrr"))
    if shown < len(cut):
        out.append(_more(cut, shown, tenths))
    return out


def group_line(g: CutGroup, tenths: int) -> str:
    """One group as a sentence: ``'32 x pod.node*.nic* (nic bandwidth) at 50 GB/s = 1.6
    TB/s, 88.9% of the cut'``; a group of one gives its element and bandwidth."""
    share = f"{_percent(tenths)} of the cut"
    if g.count == 1:
        return f"{g.where} ({g.what}): {_bw(g.bandwidth)}, {share}"
    return f"{g.count} x {g.where} ({g.what}) at {_bw(g.each)} = {_bw(g.bandwidth)}, {share}"


def cut_lines(cut: GroupedCut, rows: int | None = 8) -> list[str]:
    """The groups as sentences (:func:`group_line`), ``rows`` of them (``None``: all), then a
    line that sums up the others."""
    tenths = cut.tenths()
    shown = rows_shown(rows, len(cut))
    out = [group_line(g, t) for g, t in zip(cut.groups[:shown], tenths, strict=False)]
    if shown < len(cut):
        out.append(_more(cut, shown, tenths))
    return out


# -- json ----------------------------------------------------------------------------------------


def cut_to_dict(cut: GroupedCut, rows: int | None = None) -> dict[str, Any]:
    """JSON-ready keys of a cut: ``cut`` (the elements group by group, each with the index of
    its ``group``; the first ``rows`` of them, all when ``None``), ``cut_total`` (how many
    elements the cut has), ``cut_groups`` (the first ``rows`` groups, all when ``None``:
    ``count``, ``element``, ``from``, ``to``, ``type``/``kind``/``limit`` when known, ``each``,
    ``bandwidth``, ``share``) and, only when some groups were left out, ``cut_groups_total``
    (how many groups the cut has). The elements listed are in the groups listed.

    >>> from topodsl.solvers.flow import CutItem
    >>> items = [CutItem("link", k, f"g{k}", f"h{k}", 25e9, "nvlink4") for k in range(6)]
    >>> d = cut_to_dict(group_cut(items), rows=2)
    >>> [c["from"] for c in d["cut"]], d["cut_total"], d["cut_groups"][0]["bandwidth"]
    (['g0', 'g1'], 6, 150000000000.0)
    >>> items = [CutItem("device", k, f"d{k}x", f"d{k}x", 1e9) for k in range(3)]
    >>> d = cut_to_dict(group_cut(items), rows=2)
    >>> len(d["cut_groups"]), d["cut_groups_total"], [c["group"] for c in d["cut"]]
    (2, 3, [0, 1])
    """
    limit = cut.count if rows is None else max(int(rows), 0)
    elements: list[dict[str, Any]] = []
    for i, g in enumerate(cut.groups):
        for c in g.members[: limit - len(elements)]:
            elements.append(c.to_dict() | {"group": i})
        if len(elements) >= limit:
            break
    shown = rows_shown(rows, len(cut))
    out: dict[str, Any] = {
        "cut": elements,
        "cut_total": cut.count,
        "cut_groups": [g.to_dict() for g in cut.groups[:shown]],
    }
    if shown < len(cut):
        out["cut_groups_total"] = len(cut)
    return out
