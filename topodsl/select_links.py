"""Link selectors: name a set of links on the command line, in an assertion or a risk group.

Grammar (spaces around ``,`` and ``&`` are optional)::

    links := term ("," term)*             union
    term  := atom ("&" atom)*             intersection
    atom  := "type:" NAME ("|" NAME)*     links of these link types
           | "end:" COMPONENTS            links with an end at one of these components
           | "tier:" N ["-" M]            links between switch tiers (see below)
           | "*"                          every link

``COMPONENTS`` is one term of a component selector (:mod:`topodsl.select`): a dotted-id pattern,
``kind:...`` or ``role:...`` (``end:su[0].leaf[*]``, ``end:kind:nic``, ``end:su0.**`` for every
link touching anything inside ``su0``). ``end:A & end:B`` is the links with an end in ``A`` and
an end in ``B``.

Tiers are :func:`topodsl.analyses.oversubscription.switch_tiers`: a switch's hop distance from
the nearest host (leaves 1, spines 2, ...), 0 for every component that is not a switch.
``tier:1-2`` selects the links between a tier-1 and a tier-2 switch (leaf to spine, either
way round), ``tier:0-1`` the host links of the leaves, and ``tier:2`` every link with an end at
a tier-2 switch.

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> for name, kind in [("h", "nic"), ("leaf", "switch"), ("spine", "switch")]:
...     _ = b.add_node(name, kind)
>>> _ = b.add_link("h", "leaf", 1.0, type="eth"); _ = b.add_link("leaf", "spine", 1.0, type="eth")
>>> t = b.build()
>>> select_links(t, "tier:1-2").tolist(), select_links(t, "type:eth & end:h").tolist()
([1], [0])
"""

from __future__ import annotations

import difflib
import re

import numpy as np

from .select import SelectorError, select
from .topology import Topology

__all__ = ["select_links", "link_names"]

_TIER = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


def select_links(topology: Topology, selector: str, scope: str = "") -> np.ndarray:
    """Link rows of ``topology`` matched by ``selector``, ascending and without repeats.
    With ``scope`` (an assertion's component), an ``end:`` pattern is read relative to it
    first, as an assertion's paths are, then from the top level.

    Raises :class:`~topodsl.select.SelectorError` for a malformed selector or an unknown link
    type. An empty result is not an error here.
    """
    if not selector or not selector.strip():
        raise SelectorError("empty link selector")
    n = topology.num_links
    result = np.zeros(n, dtype=bool)
    for term in selector.split(","):
        keep = np.ones(n, dtype=bool)
        for atom in term.split("&"):
            keep &= _atom(topology, atom.strip(), scope)
        result |= keep
    return np.flatnonzero(result)


def _atom(t: Topology, atom: str, scope: str = "") -> np.ndarray:
    L = t.links
    if atom == "*":
        return np.ones(t.num_links, dtype=bool)
    if atom.startswith("type:"):
        names = [x.strip() for x in atom[5:].split("|")]
        known = list(dict.fromkeys([*t.link_types, *t.link_type_names]))
        codes = []
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                raise SelectorError(
                    f"no link type {name!r} in this topology"
                    + (f"; did you mean {close[0]!r}?" if close else "")
                )
            if name in t.link_type_names:
                codes.append(t.link_type_names.index(name))
        return np.isin(L.type, codes)
    if atom.startswith("end:"):
        pattern = atom[4:].strip()
        rows = np.zeros(0, dtype=np.int64)
        if scope and not pattern.startswith(("kind:", "role:")):
            rows = select(t, f"{scope}.{pattern}")
        if len(rows) == 0:
            rows = select(t, pattern)
        at = np.zeros(t.num_nodes, dtype=bool)
        at[rows] = True
        return at[L.src] | at[L.dst]
    if atom.startswith("tier:"):
        m = _TIER.fullmatch(atom[5:])
        if m is None:
            raise SelectorError(f"bad tier {atom!r} (expected e.g. 'tier:1-2' or 'tier:2')")
        from .analyses.oversubscription import switch_tiers

        tier = switch_tiers(t)
        a, b = tier[L.src], tier[L.dst]
        lo = int(m.group(1))
        if m.group(2) is None:
            return (a == lo) | (b == lo)
        hi = int(m.group(2))
        lo, hi = min(lo, hi), max(lo, hi)
        return (np.minimum(a, b) == lo) & (np.maximum(a, b) == hi)
    raise SelectorError(
        f"cannot read {atom!r} as links (expected type:NAME, end:COMPONENTS, tier:N-M or *)"
    )


def link_names(topology: Topology, rows: np.ndarray) -> list[str]:
    """A readable id for each link row: ``"a -- b"`` (``"a -> b"`` one-way), with ``#k``
    appended when several links join the same two components (``k`` counts them in row order).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("a", "gpu"); _ = b.add_node("b", "gpu")
    >>> for _ in range(2):
    ...     _ = b.add_link("a", "b", 1.0)
    >>> link_names(b.build(), np.array([0, 1]))
    ['a -- b', 'a -- b #2']
    """
    L = topology.links
    ids = topology.nodes.ids
    rows = np.asarray(rows, dtype=np.int64)
    n = topology.num_nodes
    pair = np.minimum(L.src, L.dst).astype(np.int64) * n + np.maximum(L.src, L.dst)
    # The rank of each link among the links joining the same two components, in row order.
    order = np.argsort(pair, kind="stable")
    sorted_pair = pair[order]
    start = np.r_[True, sorted_pair[1:] != sorted_pair[:-1]] if len(order) else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first
    out = []
    for e in rows.tolist():
        op = "->" if L.simplex[e] else "--"
        name = f"{ids[int(L.src[e])]} {op} {ids[int(L.dst[e])]}"
        out.append(name if rank[e] == 0 else f"{name} #{rank[e] + 1}")
    return out
