"""What may fail: failure candidates chosen with selectors.

A *candidate* is one thing that fails as a unit: a link, a component (with everything inside
it: a switch, a NIC, a server, a rack), or a shared-risk group declared in the language (its
components and links fail together). :func:`select_candidates` builds the set from a link
selector (:mod:`topodsl.select_links`: ``type:NAME``, ``end:...``, ``tier:1-2``), a component
selector (:mod:`topodsl.select`) and a pattern over risk-group ids.

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> for name in ("a", "b", "c"):
...     _ = b.add_node(name, "switch")
>>> _ = b.add_link("a", "b", 1e9, type="up"); _ = b.add_link("b", "c", 1e9, type="down")
>>> c = select_candidates(b.build(), links="type:up", devices="c")
>>> len(c), [c.name(i) for i in range(len(c))], c.kinds()
(2, ['a -- b', 'c'], ['link', 'device'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import SolverError
from ..select import pattern_regex, select
from ..select_links import link_names, select_links
from ..topology import RiskGroup, Topology

__all__ = ["CandidateSet", "select_candidates", "CandidateError"]


class CandidateError(SolverError):
    """The failure candidates cannot be chosen: a selector that matches nothing, no candidate
    at all, a risk pattern naming no group."""


@dataclass(frozen=True)
class CandidateSet:
    """Failure candidates in order: links, then components, then risk groups.

    ``links`` and ``devices`` are rows; ``risks`` the groups; ``probability`` the chance each
    candidate fails in a weighted Monte Carlo run (``nan`` where none is known).
    """

    topology: Topology
    links: np.ndarray
    devices: np.ndarray
    risks: tuple[RiskGroup, ...] = ()
    probability: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.links) + len(self.devices) + len(self.risks)

    def kind(self, i: int) -> str:
        """``"link"``, ``"device"`` or ``"risk"``."""
        if i < len(self.links):
            return "link"
        return "device" if i < len(self.links) + len(self.devices) else "risk"

    def kinds(self) -> list[str]:
        """The kind of every candidate."""
        return [self.kind(i) for i in range(len(self))]

    def elements(self, i: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(component rows, link rows)`` that fail with candidate ``i``."""
        nl, nd = len(self.links), len(self.devices)
        if i < nl:
            return (), (int(self.links[i]),)
        if i < nl + nd:
            return (int(self.devices[i - nl]),), ()
        g = self.risks[i - nl - nd]
        return tuple(int(r) for r in g.components), tuple(int(e) for e in g.links)

    def union(self, case: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The component and link rows that fail when the candidates ``case`` fail together."""
        comps: set[int] = set()
        links: set[int] = set()
        for i in case:
            c, e = self.elements(i)
            comps.update(c)
            links.update(e)
        return tuple(sorted(comps)), tuple(sorted(links))

    def name(self, i: int) -> str:
        """A candidate's id: ``"a -- b"`` for a link, the component's id, the group's id."""
        nl, nd = len(self.links), len(self.devices)
        if i < nl:
            return link_names(self.topology, self.links[i : i + 1])[0]
        if i < nl + nd:
            return self.topology.nodes.ids[int(self.devices[i - nl])]
        return self.risks[i - nl - nd].name

    def names(self, case: Sequence[int]) -> list[str]:
        """The ids of the candidates ``case``."""
        nl = len(self.links)
        links = [i for i in case if i < nl]
        named = dict(zip(links, link_names(self.topology, self.links[links]), strict=True))
        return [named[i] if i in named else self.name(i) for i in case]


def select_candidates(
    topology: Topology,
    links: str | None = None,
    devices: str | Sequence[int] | np.ndarray | None = None,
    risks: str | None = None,
    *,
    probability: float | None = None,
    inside: np.ndarray | None = None,
    scope: str = "",
) -> CandidateSet:
    """The failure candidates: the links ``links`` selects, the components ``devices``
    selects (a selector or rows) and the risk groups whose id matches ``risks`` (a dotted-id
    pattern, ``c.rack*.pdu``; ``*`` alone names every group). ``inside`` (a mask over rows)
    keeps only links with both ends inside and components inside (an assertion's component).
    ``probability`` is the chance a link or component fails; a group's own declared
    probability wins. With ``scope`` (an assertion's component), ``end:`` patterns and risk
    patterns are read relative to it first, then from the top level.

    Raises
    ------
    CandidateError
        A selector that matches nothing, or no selector at all.
    """
    t = topology
    if links is None and devices is None and risks is None:
        raise CandidateError("no failure candidates: name links, devices or risk groups")
    link_rows = np.zeros(0, dtype=np.int64)
    if links is not None:
        link_rows = select_links(t, links, scope)
        if inside is not None:
            link_rows = link_rows[inside[t.links.src[link_rows]] & inside[t.links.dst[link_rows]]]
        if len(link_rows) == 0:
            raise CandidateError(f"the link selector {links!r} matches no link")
    device_rows = np.zeros(0, dtype=np.int64)
    if devices is not None:
        if isinstance(devices, str):
            device_rows = select(t, devices)
        else:
            device_rows = np.unique(np.asarray(devices, dtype=np.int64))
        if inside is not None:
            device_rows = device_rows[inside[device_rows]]
        if len(device_rows) == 0:
            raise CandidateError(f"the device selector {devices!r} matches no component")
    groups: tuple[RiskGroup, ...] = ()
    if risks is not None:
        pattern = "**" if risks.strip() == "*" else risks.strip()
        groups = ()
        if scope and pattern != "**":
            rx = pattern_regex(f"{scope}.{pattern}")
            groups = tuple(g for g in t.risks if rx.fullmatch(g.name))
        if not groups:
            rx = pattern_regex(pattern)
            groups = tuple(g for g in t.risks if rx.fullmatch(g.name))
        if inside is not None:
            groups = tuple(g for g in groups if _within(t, g, inside))
        if not groups:
            known = ", ".join(g.name for g in t.risks[:5]) or "none declared"
            raise CandidateError(f"the risk pattern {risks!r} names no risk group ({known})")
    p = np.full(len(link_rows) + len(device_rows), np.nan if probability is None else probability)
    declared = [np.nan if g.probability is None else g.probability for g in groups]
    fallback = np.nan if probability is None else probability
    p = np.concatenate([p, [fallback if np.isnan(x) else x for x in declared]])
    return CandidateSet(t, link_rows, device_rows, groups, p.astype(np.float64))


def _within(t: Topology, g: RiskGroup, inside: np.ndarray) -> bool:
    L = t.links
    links = np.asarray(g.links, dtype=np.int64)
    return bool(
        inside[np.asarray(g.components, dtype=np.int64)].all()
        and (inside[L.src[links]] & inside[L.dst[links]]).all()
    )
