"""Shared-risk groups: what fails together, declared in the language.

::

    def pod Rack {
        DGX node[4]
        switch tor
        risk pdu { members = node[*], tor; probability = 0.001 }        # one power feed
    }
    cluster c {
        Rack rack[8]
        switch spine[4]
        connect rack[*].tor -- spine[*] via eth400
        risk tray0 { members = rack[0..3].tor -- spine[*] }             # one cable tray
        risk optics { members = type:eth400_batch7 }                    # one batch of optics
    }

A ``risk`` statement stands where components do (at the top level or in any body; in a
definition it makes one group per instance) and names its members:

* a path (``node[*]``, ``tor``), read from the component it is written in, or a ``kind:`` /
  ``role:`` selector or a quoted selector, restricted to it: those components fail, each with
  everything inside it;
* ``type:NAME``: every link of that type with both ends inside the component;
* ``A -- B``: the links between the components ``A`` and ``B`` select;
* ``links = "SELECTOR"`` (a link selector, :mod:`topodsl.select_links`): those links, kept to
  the ones with both ends inside the component.

``probability`` (a number from 0 to 1) is the chance the group fails, for weighted Monte Carlo
failure analysis. A group's id is its component's id and its name (``c.rack3.pdu``); it must
not be the id of a component, nor of another group.

This module elaborates the statements (:func:`risk_groups`, called once by
:mod:`topodsl.elaborate` with the statements it collected) and carries groups through JSON
(:func:`risks_to_json`, :func:`with_risks_from_json`).

>>> from topodsl import loads
>>> t = loads('''link l { bandwidth = 1 GB/s }
... cluster c { switch s[3]; connect s[0] -- s[1] via l; connect s[1] -- s[2] via l
...             risk feed { members = s[0], s[1] -- s[2]; probability = 0.01 } }''')
>>> g = t.risks[0]
>>> g.name, [t.nodes.ids[r] for r in g.components], g.links.tolist(), g.probability
('c.feed', ['c.s0'], [1], 0.01)
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from . import ast
from .errors import Diagnostic, DiagnosticSink, ElaborationError, Span
from .interval import EvaluationError, Interval, IntervalEvaluator
from .select import SelectorError, select
from .select_links import select_links
from .topology import RiskGroup, Topology
from .units import COUNT

__all__ = [
    "risk_groups",
    "risks_to_json",
    "with_risks_from_json",
    "RISK_ATTRIBUTES",
    "MAX_RISK_GROUPS",
]

#: What a risk group takes.
RISK_ATTRIBUTES = ("members", "links", "probability")
#: Most risk groups a topology may declare (a group in a definition counts once per instance).
MAX_RISK_GROUPS = 100_000


def risk_groups(topology: Topology, specs: Sequence[Any], sink: DiagnosticSink) -> Topology:
    """``topology`` with the risk groups of ``specs`` (``(ast.Risk, scopes, constants)``: the
    statements and the components they were declared in); problems go to ``sink``."""
    total = sum(len(scopes) for _, scopes, _ in specs)
    if total > MAX_RISK_GROUPS:
        node = max(specs, key=lambda s: len(s[1]))[0]
        sink.error(
            node.span,
            f"{total:,} risk groups; the limit is {MAX_RISK_GROUPS:,}",
            "declare groups per rack or per row, not per component",
        )
        return topology
    ids = set(topology.nodes.ids)
    groups: list[RiskGroup] = []
    seen: dict[str, Span] = {}
    for node, scopes, constants in specs:
        consts = {name: (value, dim) for name, value, dim in constants}
        for scope in scopes:
            name = f"{scope}.{node.name}" if scope else node.name
            if name in ids:
                sink.error(
                    node.name_span,
                    f"risk group {name!r} has the id of a component",
                    "give the group a name of its own, e.g. " + node.name + "_risk",
                )
                continue
            if name in seen:
                sink.error(node.name_span, f"risk group {name!r} is declared twice")
                continue
            seen[name] = node.span
            try:
                groups.append(_group(topology, node, name, scope, consts, sink))
            except _Skip:
                continue
    return replace(topology, risks=tuple(groups))


class _Skip(Exception):
    """The group has an error; it is recorded."""


class _Numbers(IntervalEvaluator):
    """Index and probability expressions: numbers and the constants visible where the group
    stands."""

    def __init__(self, consts: Mapping[str, tuple[float, Any]], sink: DiagnosticSink):
        self.consts = consts
        self.sink = sink

    def error(self, span, message, hint=None):
        return EvaluationError(self.sink.make(span, message, hint))

    def ref(self, e: ast.Ref, scope: str) -> Interval:
        name = e.path.simple_name
        if name in self.consts:
            value, dim = self.consts[name]
            return Interval.exact(value, dim)
        raise self.error(
            e.span,
            f"unknown name {name!r} in a risk group",
            "indices and probabilities are numbers or constants",
        )


def _group(t: Topology, node: ast.Risk, name: str, scope: str, consts, sink) -> RiskGroup:
    numbers = _Numbers(consts, sink)
    inside = _inside(t, scope)
    comps: list[np.ndarray] = []
    links: list[np.ndarray] = []
    probability = None
    given: set[str] = set()
    for attr in node.attrs:
        if attr.name not in RISK_ATTRIBUTES:
            close = difflib.get_close_matches(attr.name, RISK_ATTRIBUTES, n=1)
            sink.error(
                attr.span,
                f"a risk group has no attribute {attr.name!r}",
                f"did you mean {close[0]!r}?"
                if close
                else "it takes " + ", ".join(RISK_ATTRIBUTES),
            )
            raise _Skip
        if attr.name in given:
            sink.error(attr.span, f"{attr.name} is given twice in risk group {node.name!r}")
            raise _Skip
        given.add(attr.name)
        try:
            if attr.name == "probability":
                probability = _probability(attr, numbers, sink)
                continue
            for value in attr.values:
                if attr.name == "links":
                    links.append(_link_selector(t, value, inside, sink))
                elif isinstance(value, ast.Direction):
                    links.append(_between(t, value, scope, inside, numbers, sink))
                elif isinstance(value, ast.SelectorLit) and value.text.startswith("type:"):
                    links.append(_link_selector(t, value, inside, sink))
                else:
                    comps.append(_components(t, value, scope, inside, numbers, sink))
        except EvaluationError as err:
            sink.errors.append(err.diagnostic)
            raise _Skip from None
    if "members" not in given and "links" not in given:
        sink.error(
            node.span,
            f"risk group {node.name!r} has no members",
            "name what fails together, e.g. members = node[*], tor",
        )
        raise _Skip
    c = np.unique(np.concatenate(comps)) if comps else np.zeros(0, dtype=np.int64)
    e = np.unique(np.concatenate(links)) if links else np.zeros(0, dtype=np.int64)
    return RiskGroup(name, c.astype(np.int64), e.astype(np.int64), probability, node.span)


def _inside(t: Topology, scope: str) -> np.ndarray | None:
    if not scope:
        return None
    from .analyses.common import subtree_mask

    return subtree_mask(t, [t.index(scope)])


def _probability(attr: ast.RiskAttr, numbers: _Numbers, sink) -> float:
    if len(attr.values) != 1 or isinstance(attr.values[0], ast.Direction):
        sink.error(attr.span, "probability is one number from 0 to 1")
        raise _Skip
    v = numbers.value(attr.values[0], "")
    if v.dim != COUNT or v.lo != v.hi or not 0.0 <= v.lo <= 1.0:
        sink.error(
            attr.values[0].span,
            "probability is a plain number from 0 to 1",
            "e.g. probability = 0.001",
        )
        raise _Skip
    return float(v.lo)


def _pattern(path: ast.Path, numbers: _Numbers) -> str:
    parts = []
    for seg in path.segments:
        if seg.index is None:
            parts.append(seg.name)
        elif isinstance(seg.index, ast.Star):
            parts.append(f"{seg.name}[*]")
        elif isinstance(seg.index, ast.IndexRange):
            lo, hi = _index(seg.index.lo, numbers), _index(seg.index.hi, numbers)
            parts.append(f"{seg.name}[{lo}..{hi}]")
        else:
            parts.append(f"{seg.name}[{_index(seg.index, numbers)}]")
    return ".".join(parts)


def _index(e: Any, numbers: _Numbers) -> int:
    v = numbers.value(e, "")
    if v.dim != COUNT or v.lo != v.hi or not float(v.lo).is_integer() or v.lo < 0:
        raise numbers.error(e.span, "an index must be a whole number >= 0")
    return int(v.lo)


def _components(t, value, scope: str, inside, numbers: _Numbers, sink) -> np.ndarray:
    prefix = scope + "." if scope else ""
    try:
        if isinstance(value, ast.Ref):
            what = _pattern(value.path, numbers)
            rows = select(t, prefix + what)
            if len(rows) == 0 and value.path.simple_name is not None:
                rows = select(t, prefix + what + "[*]")  # `node` for every node[k]
        elif isinstance(value, ast.SelectorLit | ast.String):
            what = value.text if isinstance(value, ast.SelectorLit) else value.value
            rows = select(t, what)
            if inside is not None:
                rows = rows[inside[rows]]
        else:
            sink.error(
                getattr(value, "span", None),
                "a risk group's members are components "
                "(node[*], kind:switch), links of a type (type:NAME) or links a -- b",
            )
            raise _Skip
    except SelectorError as err:
        sink.error(value.span, err.diagnostics[0].message)
        raise _Skip from None
    if len(rows) == 0:
        where = f" in {scope}" if scope else ""
        sink.error(
            value.span,
            f"risk group member {what} matches no component{where}",
            "paths are read from the component the group is written in",
        )
        raise _Skip
    return rows


def _between(t, d: ast.Direction, scope: str, inside, numbers, sink) -> np.ndarray:
    if d.op != "--":
        sink.error(d.span, "write the links between two selections as a -- b")
        raise _Skip
    a = np.zeros(t.num_nodes, dtype=bool)
    b = np.zeros(t.num_nodes, dtype=bool)
    a[_components(t, d.source, scope, inside, numbers, sink)] = True
    b[_components(t, d.target, scope, inside, numbers, sink)] = True
    L = t.links
    rows = np.flatnonzero((a[L.src] & b[L.dst]) | (b[L.src] & a[L.dst]))
    if len(rows) == 0:
        sink.error(d.span, "no link joins these two selections")
        raise _Skip
    return rows


def _link_selector(t, value, inside, sink) -> np.ndarray:
    if isinstance(value, ast.SelectorLit | ast.String):
        text = value.text if isinstance(value, ast.SelectorLit) else value.value
    else:
        sink.error(getattr(value, "span", None), 'links takes a link selector, e.g. "type:eth"')
        raise _Skip
    try:
        rows = select_links(t, text)
    except SelectorError as err:
        sink.error(value.span, err.diagnostics[0].message)
        raise _Skip from None
    if inside is not None:
        rows = rows[inside[t.links.src[rows]] & inside[t.links.dst[rows]]]
    if len(rows) == 0:
        sink.error(value.span, f"{text} matches no link here")
        raise _Skip
    return rows


# -- JSON ----------------------------------------------------------------------------------------


def risks_to_json(topology: Topology) -> list[dict[str, Any]]:
    """The risk groups for ``graph.risks`` of the node-link JSON: members by component id, links
    by their position in the file's ``links`` list."""
    ids = topology.nodes.ids
    out = []
    for g in topology.risks:
        entry: dict[str, Any] = {
            "name": g.name,
            "components": [ids[int(r)] for r in g.components],
            "links": [int(e) for e in g.links],
        }
        if g.probability is not None:
            entry["probability"] = g.probability
        out.append(entry)
    return out


def with_risks_from_json(
    topology: Topology, entries: Any, file: str, error: Any = None
) -> Topology:
    """``topology`` with the risk groups of a JSON file's ``graph.risks``, checked; ``error``
    makes the exception for a message (placed at ``graph.risks`` by the JSON reader)."""

    def bad(message: str) -> ElaborationError:
        if error is not None:
            return error(message)
        return ElaborationError(Diagnostic(Span(file, 1, 1, 1, 2), "error", message))

    if not isinstance(entries, list):
        raise bad("graph.risks must be a list of risk groups")
    if len(entries) > MAX_RISK_GROUPS:
        raise bad(f"{len(entries):,} risk groups; the limit is {MAX_RISK_GROUPS:,}")
    groups = []
    names: set[str] = set()
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise bad(f"risk group {k} needs a name")
        name = entry["name"]
        if name in names or name in topology:
            raise bad(f"risk group {name!r} is declared twice or has a component's id")
        names.add(name)
        comps = entry.get("components", [])
        links = entry.get("links", [])
        if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
            raise bad(f"risk group {name!r}: components must be a list of ids")
        missing = [c for c in comps if c not in topology]
        if missing:
            raise bad(f"risk group {name!r}: no component {missing[0]!r}")
        ok = all(isinstance(e, int) and not isinstance(e, bool) for e in links)
        if not isinstance(links, list) or not ok:
            raise bad(f"risk group {name!r}: links must be a list of link positions")
        if any(e < 0 or e >= topology.num_links for e in links):
            raise bad(f"risk group {name!r}: a link position is out of range")
        p = entry.get("probability")
        if p is not None and (
            isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1
        ):
            raise bad(f"risk group {name!r}: probability must be a number from 0 to 1")
        rows = np.array(sorted(topology.index(c) for c in comps), dtype=np.int64)
        groups.append(
            RiskGroup(
                name, rows, np.array(sorted(links), dtype=np.int64), None if p is None else float(p)
            )
        )
    return replace(topology, risks=tuple(groups))
