"""Structural checks: ids that would name two components, link ends, ports, lonely devices.

* **Id clashes** (:func:`check_id_clash`, when a member is declared): element 10 of ``t1[20]``
  and element 0 of ``t11[5]`` would both be ``t110``; both declarations are reported.
* **Link ends** (:func:`check_link_ends`, for every statement that adds links): a container
  (a node, a rack) cannot be an end, and a component cannot be linked to itself.
* **Ports** (:func:`check_ports`, once the topology is assembled): a component with declared
  ``ports`` cannot have more lanes connected to it.
* **Unconnected** (:func:`unconnected`): a warning per statement whose compute elements have
  no link at all (a package whose chiplets carry the links counts as connected).

>>> shared_id(("t1", 0, 20, True), ("t11", 0, 5, True))
't110'
>>> shared_id(("t1", 0, 5, True), ("t11", 0, 5, True)) is None
True
"""

from __future__ import annotations

import numpy as np

from ..errors import Diagnostic, Span
from ..kinds import KIND_CODE, KINDS, ROLE_OF
from ..topology import LinkTable, NodeTable
from .blocks import BodyBuilder, digits_start
from .state import Abort, Elaboration

__all__ = ["check_id_clash", "shared_id", "check_link_ends", "check_ports", "unconnected"]

_CONTAINER_CODES = np.array([KIND_CODE[k] for k, r in ROLE_OF.items() if r == "container"])
_COMPUTE_CODES = np.array([KIND_CODE[k] for k, r in ROLE_OF.items() if r == "compute"])


# -- ids -----------------------------------------------------------------------------------------


def check_id_clash(
    el: Elaboration, b: BodyBuilder, name: str, lo: int, count: int, is_array: bool, span: Span
) -> None:
    """Refuse a member whose ids would repeat another's: element 10 of ``t1[20]`` and
    element 0 of ``t11[5]`` are both ``t110``. Both declarations are reported."""
    new = (name, lo, count, is_array)
    prefixes = (name[:i] for i in range(digits_start(name), len(name)))
    others = [b.members[p] for p in prefixes if p in b.members]
    others += [b.members[n] for n in b.stems.get(name, ())]
    for m in others:
        old = (m.name, m.lo, m.count, m.is_array)
        shorter, longer = (old, new) if len(m.name) < len(name) else (new, old)
        clash = shared_id(shorter, longer)
        if clash is None:
            continue
        el.sink.error(
            span,
            f"{clash!r} would name two components: {_element(new, clash)} and "
            f"{_element(old, clash)}",
            f"rename one of them, e.g. {longer[0]} to {longer[0]}_, so that no array's "
            "name followed by an index spells another name",
        )
        el.sink.errors.append(
            el.sink.make(
                m.span, f"{m.name!r} is declared here; it also names {clash!r}", None, "note"
            )
        )
        raise Abort()


def shared_id(shorter: tuple, longer: tuple) -> str | None:
    """An id that both members make, or ``None``. Each is ``(name, lo, count, is_array)``; an
    array ``t1[lo..]`` makes ``t1`` followed by each index, a single component its name."""
    a_name, a_lo, a_count, a_array = shorter
    b_name, b_lo, b_count, b_array = longer
    if not a_array or not b_name.startswith(a_name):
        return None
    stem = b_name[len(a_name) :]
    if not stem.isdigit() or not stem.isascii():
        return None
    a_hi = a_lo + a_count - 1
    if not b_array:
        if stem == str(int(stem)) and a_lo <= int(stem) <= a_hi:
            return b_name
        return None
    if stem[0] == "0":
        return None  # "t1" + "05": an index is never written with a leading zero
    # ids b_name + str(j) = a_name + str(S * 10**d + j), d the number of digits of j
    S, b_hi = int(stem), b_lo + b_count - 1
    for d in range(len(str(b_lo)), len(str(b_hi)) + 1):
        j1 = max(b_lo, 10 ** (d - 1) if d > 1 else 0)
        j2 = min(b_hi, 10**d - 1)
        lo = max(S * 10**d + j1, a_lo)
        if j1 <= j2 and lo <= min(S * 10**d + j2, a_hi):
            return f"{b_name}{lo - S * 10**d}"
    return None


def _element(member: tuple, node_id: str) -> str:
    """How ``node_id`` comes from ``member``: ``element 10 of t1[20]`` or ``t110 itself``."""
    name, lo, count, is_array = member
    if not is_array:
        return f"the component {name}"
    shown = f"{name}[{count}]" if lo == 0 else f"{name}[{lo}..{lo + count - 1}]"
    return f"element {node_id[len(name) :]} of {shown}"


# -- links ---------------------------------------------------------------------------------------


def check_link_ends(
    el: Elaboration, b: BodyBuilder, src: np.ndarray, dst: np.ndarray, span: Span
) -> None:
    """Links ``src[k] -- dst[k]`` (rows of ``b``) join two devices, never a container or a
    component and itself."""
    codes = b.kind_codes()
    for rows, side in ((src, "left"), (dst, "right")):
        bad = np.isin(codes[rows], _CONTAINER_CODES)
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            kind = KINDS[codes[rows[k]]]
            raise el.error(
                span,
                f"cannot connect a container (the {side} end is a {kind})",
                "connect one of the devices inside it, e.g. node[0].nic[0]",
            )
    if np.any(src == dst):
        raise el.error(
            span,
            "a component cannot be linked to itself",
            "check the index expressions on both ends",
        )


def check_ports(el: Elaboration, nodes: NodeTable, links: LinkTable) -> None:
    """An error per statement whose components have more lanes connected than ports."""
    declared = nodes.ports >= 0
    if not np.any(declared) or len(links.src) == 0:
        return
    n = len(nodes.ids)
    used = np.bincount(links.src, weights=links.lanes, minlength=n) + np.bincount(
        links.dst, weights=links.lanes, minlength=n
    )
    over = np.flatnonzero(declared & (used > nodes.ports + 1e-9))
    seen: set[int] = set()
    for r in over.tolist():
        o = int(nodes.origin[r])
        if o in seen:
            continue
        seen.add(o)
        same = int(np.sum(nodes.origin[over] == o))
        more = f" (and {same - 1} more like it)" if same > 1 else ""
        span = el.spans[o] if o >= 0 else None
        el.sink.error(
            span,
            f"{nodes.ids[r]} has {int(nodes.ports[r])} ports but "
            f"{used[r]:g} lanes are connected to it{more}",
            "raise ports, or connect fewer lanes to it",
        )


def unconnected(el: Elaboration, nodes: NodeTable, links: LinkTable) -> list[Diagnostic]:
    """A warning per statement whose compute elements have no link."""
    n = len(nodes.ids)
    deg = np.bincount(links.src, minlength=n) + np.bincount(links.dst, minlength=n)
    lonely = np.flatnonzero(np.isin(nodes.kind, _COMPUTE_CODES) & (deg == 0))
    if len(lonely):
        # A package whose chiplets carry the links (a GPU made of dies) is connected too.
        linked = deg > 0
        cur = np.flatnonzero(linked)
        while len(cur):
            up = nodes.parent[cur]
            up = np.unique(up[up >= 0])
            cur = up[~linked[up]]
            linked[cur] = True
        lonely = lonely[~linked[lonely]]
    out = []
    for o in sorted(set(nodes.origin[lonely].tolist())):
        rows = lonely[nodes.origin[lonely] == o]
        span = el.spans[o] if o >= 0 else None
        what = nodes.ids[int(rows[0])]
        more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
        out.append(
            el.sink.make(
                span,
                f"{what}{more} is not connected to anything",
                "a compute element without links cannot take part in any flow",
                severity="warning",
            )
        )
    return out
