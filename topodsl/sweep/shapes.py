"""Points that share a graph shape share one elaboration: values change by array updates.

A sweep over ``NIC=400Gb/s,800Gb/s`` changes no component and no link, only numbers in the
bandwidth columns. Elaborating the file once per *shape* and writing the new numbers into
copies of those columns gives the same topology as elaborating each point, for the price of an
array copy. Reusing a shape wrongly would be a silent wrong answer, so reuse is decided in two
steps, each sound on its own:

1. **Static dependence** (:func:`classify`, on the syntax of every file read). A swept constant
   is a *value parameter* when every use of it, and of every top-level constant computed from
   it (its *taint*), is one of: the whole value of a component's ``bandwidth``,
   ``read_bandwidth``, ``write_bandwidth``, ``capacity`` or ``latency``; the whole value of a
   link's ``bandwidth`` or ``latency`` (in a ``link`` type or a ``connect`` block, of a type
   that no fabric or pattern uses and no expression names); the declaration of another
   top-level constant; an assertion. Anything else (an array size, an index, a lane count, a
   definition's argument, a fabric setting, ``meta``, a ``workload`` entry, ``2 * NIC`` as an
   attribute) makes it a *structure parameter*. So a value parameter reaches the topology only
   through the elaborator's attribute values: a node column entry is the constant's value, a
   link's bandwidth is the value times the link's lanes, and nothing else depends on it.
2. **A probe** (:func:`build_shape`, once per shape). The shape's first point is elaborated,
   and elaborated again with every tainted constant set to a different value. The two
   topologies must be identical except in entries that hold exactly ``value`` (or ``value *
   lanes``) of one tainted constant in the first and of the probe value in the second: those
   entries are recorded as the constant's places. Anything else that differs (a copy of a
   value the analysis did not foresee) and the shape is not reused.

A further point of the shape then costs an elaboration of the file's declarations only
(constants and link types, :func:`declarations`), which computes every constant's value exactly
as the full elaboration does, and the array updates (:meth:`Shape.apply`). A value the full
elaboration would refuse (zero, negative, infinite) is never written: the point is elaborated
in full instead, and gets the elaborator's own error. Points whose structure parameters differ
are elaborated separately. ``tests/test_sweep.py`` compares updated topologies with full
elaborations, array by array.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import ast
from ..errors import ElaborationError, TopoError
from ..topology import NODE_FIELDS, Topology

__all__ = [
    "Dependence",
    "Shape",
    "Sources",
    "classify",
    "build_shape",
    "declarations",
    "elaborate_point",
    "same_topology",
    "topology_for",
]

_NODE_VALUES = frozenset(NODE_FIELDS)
_LINK_VALUES = frozenset(("bandwidth", "latency"))
#: Cached properties of a Topology that depend only on its structure (ids, kinds, parents).
_STRUCTURAL_CACHES = ("_index", "children", "children_csr", "depth", "role_codes")


# -- 1. static dependence ------------------------------------------------------------------


@dataclass(frozen=True)
class Dependence:
    """Which swept constants only change values (``value``) and which may change the
    structure (``structure``, with the first use that makes them so in ``reasons``);
    ``probes`` are the top-level constants the value parameters reach."""

    value: frozenset[str]
    structure: frozenset[str]
    probes: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)


def _names(e: Any) -> set[str]:
    """The bare names an expression (or a path, an argument) refers to."""
    out: set[str] = set()
    stack = [e]
    while stack:
        x = stack.pop()
        if x is None or isinstance(x, ast.Number | ast.String | ast.SelectorLit | ast.Star):
            continue
        if isinstance(x, ast.Ref):
            if x.path.simple_name is not None:
                out.add(x.path.simple_name)
            stack.append(x.path)
        elif isinstance(x, ast.Path):
            stack += [s.index for s in x.segments]
        elif isinstance(x, ast.IndexRange):
            stack += [x.lo, x.hi]
        elif isinstance(x, ast.BinOp):
            stack += [x.left, x.right]
        elif isinstance(x, ast.Unary):
            stack.append(x.operand)
        elif isinstance(x, ast.Call | ast.Tuple):
            stack += list(x.args if isinstance(x, ast.Call) else x.items)
        elif isinstance(x, ast.Member):
            stack.append(x.value)
        elif isinstance(x, ast.Direction):
            stack += [x.source, x.target]
        elif isinstance(x, ast.KeywordArg):
            stack.append(x.value)
        else:  # a construct this analysis does not know: it depends on everything
            out.add("*")
    return out


@dataclass(frozen=True)
class _Use:
    """An expression and where it stands: ``"node"``/``"link"`` (a value attribute),
    ``"assert"``, ``"const"`` (a top-level constant's declaration) or ``"structure"``."""

    expr: Any
    where: str
    span: Any
    link_type: str | None = None  # the link type an attribute of a `link` declaration is of


def _uses(modules: Sequence[ast.Module]) -> tuple[list[_Use], dict[str, Any], set[str]]:
    """Every expression of ``modules`` with its place; top-level constants by name; link
    types that something other than ``connect ... via`` uses."""
    uses: list[_Use] = []
    consts: dict[str, Any] = {}
    structural_types: set[str] = set()

    def body(stmts: Iterable[Any]) -> None:
        for s in stmts:
            stmt(s)

    def structure(e: Any, span: Any) -> None:
        uses.append(_Use(e, "structure", span))

    def stmt(s: Any) -> None:
        if isinstance(s, ast.Const):
            structure(s.value, s.span)
        elif isinstance(s, ast.Attr):
            uses.append(_Use(s.value, "node" if s.name in _NODE_VALUES else "structure", s.span))
        elif isinstance(s, ast.Instance):
            for a in s.args:
                structure(a.value, a.span)
            if s.array is not None:
                structure(s.array.lo, s.array.span)
                structure(s.array.hi, s.array.span)
            body(s.body)
        elif isinstance(s, ast.Connect):
            structure(s.left, s.span)
            structure(s.right, s.span)
            if s.via is not None:
                structure(s.via.lanes, s.via.span)
            for a in s.attrs:
                if isinstance(a, ast.Attr) and a.name in _LINK_VALUES:
                    uses.append(_Use(a.value, "link", a.span))
                else:
                    stmt(a) if isinstance(a, ast.Meta) else structure(a.value, a.span)
        elif isinstance(s, ast.Pattern):
            for e in s.args:
                structure(e, s.span)
            if s.via is not None:
                structural_types.add(s.via.type_name)
                structure(s.via.lanes, s.via.span)
            for a in s.attrs:
                structure(getattr(a, "value", None), a.span)
        elif isinstance(s, ast.Fabric):
            for a in s.attrs:
                structure(getattr(a, "value", None), a.span)
        elif isinstance(s, ast.For):
            structure(s.lo, s.span)
            structure(s.hi, s.span)
            body(s.body)
        elif isinstance(s, ast.Assert):
            uses.append(_Use(s.left, "assert", s.span))
            uses.append(_Use(s.right, "assert", s.span))
        elif isinstance(s, ast.Meta):
            structure(s.path, s.span)
            for a in s.entries:
                structure(a.value, a.span)
        elif isinstance(s, ast.Workload):  # elaborated once with the shape, never updated
            for a in (*s.entries, *(e for sec in s.sections for e in sec.entries)):
                structure(a.value, a.span)
        else:
            uses.append(_Use(s, "structure", getattr(s, "span", None)))

    for m in modules:
        for item in m.items:
            if isinstance(item, ast.Import):
                continue
            if isinstance(item, ast.Const):
                consts[item.name] = item
                uses.append(_Use(item.value, "const", item.span))
            elif isinstance(item, ast.LinkDecl):
                for a in item.attrs:
                    where = "link" if a.name in _LINK_VALUES else "structure"
                    uses.append(_Use(a.value, where, a.span, item.name))
            elif isinstance(item, ast.Def):
                for p in item.params:
                    structure(p.default, p.span)
                body(item.body)
            else:
                stmt(item)
    return uses, consts, structural_types


def classify(modules: Sequence[ast.Module], swept: Sequence[str]) -> Dependence:
    """Which of the ``swept`` top-level constants are value parameters (see the module).

    >>> from topodsl.parser import parse
    >>> m = parse("const N = 2\\nconst BW = 50 GB/s\\nconst HALF = BW / 2\\n"
    ...           "link l { bandwidth = HALF }\\ncluster c { gpu g[N] { bandwidth = BW }\\n"
    ...           "connect g[0] -- g[1] via l\\nassert bw: flow(g[0] -> g[1]) >= BW }")
    >>> d = classify([m], ["N", "BW"])
    >>> sorted(d.value), sorted(d.structure), d.probes
    (['BW'], ['N'], ('BW', 'HALF'))
    >>> d.reasons["N"]
    '<string>:5:18: N is used in an array size, an index, a count or a setting'
    """
    uses, consts, structural_types = _uses(modules)
    # What a name's value flows into: a top-level constant from its declaration, a link type
    # from its attributes (a constant may name a link type: `const L = eth400`).
    deps: dict[str, set[str]] = {name: _names(c.value) for name, c in consts.items()}
    for u in uses:
        if u.where == "link" and u.link_type:
            deps.setdefault(u.link_type, set()).update(_names(u.expr))
    value: set[str] = set()
    structure: set[str] = set()
    reasons: dict[str, str] = {}
    probes: set[str] = set()
    for c in swept:
        tainted = {c}
        grew = True
        while grew:
            grew = False
            for name, refs in deps.items():
                if name not in tainted and refs & tainted:
                    tainted.add(name)
                    grew = True
        why = _structural_use(uses, tainted, structural_types)
        if why is None:
            value.add(c)
            probes |= tainted & consts.keys()  # constants; a link type is not probed itself
        else:
            structure.add(c)
            reasons[c] = why
    order = list(consts)
    return Dependence(
        frozenset(value),
        frozenset(structure),
        tuple(sorted(probes, key=lambda n: order.index(n) if n in order else len(order))),
        reasons,
    )


def _structural_use(uses: list[_Use], tainted: set[str], structural_types: set[str]) -> str | None:
    """The first use of a tainted name (a constant, or a link type whose attributes use one)
    that is not a whole value attribute, as text."""
    tainted_types = {u.link_type for u in uses if u.link_type and u.link_type in tainted}
    for u in uses:
        names = _names(u.expr)
        hit = names & tainted
        if "*" in names:
            hit = hit or {"*"}
        if not hit or u.where in ("assert", "const"):
            continue
        name = sorted(hit)[0]
        if u.where in ("node", "link"):
            bare = isinstance(u.expr, ast.Ref) and u.expr.path.simple_name in tainted
            if bare and not (u.link_type and u.link_type in structural_types):
                continue
            if u.link_type and u.link_type in structural_types:
                return f"{u.span}: the link type {u.link_type} is used by a fabric or pattern"
            return f"{u.span}: {name} is used in an expression, not as the whole value"
        if name in tainted_types:
            return f"{u.span}: the link type {name} is named in an expression"
        return f"{u.span}: {name} is used in an array size, an index, a count or a setting"
    return None


# -- reading the design --------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """The design a sweep elaborates: the file (an absolute path, so that any worker resolves
    its imports alike), how the user named it, and a digest of every file read, so that a
    worker reading other versions of them (a stale checkout on a cluster node) is refused."""

    file: str
    display: str
    allow_import_outside: bool = False
    overrides: tuple[str, ...] = ()  # the sweep's own -D, applied to every point
    digests: tuple[tuple[str, str], ...] = ()  # (file name, SHA-256), every file read

    def display_names(self) -> dict[str, str]:
        """Absolute file names -> the names the user would write (relative like the file)."""
        base, shown = os.path.dirname(self.file), os.path.dirname(self.display)
        return {
            name: os.path.normpath(os.path.join(shown, os.path.relpath(name, base)))
            for name, _ in self.digests
        }


def digest(text: str) -> str:
    """A file's digest (SHA-256 of its UTF-8 text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Reader:
    """The parsed design on one worker, and its shapes (a few, least recently used first)."""

    MAX_SHAPES = 4

    def __init__(self, sources: Sources):
        from ..api import UnreadableSource, read_source
        from ..limits import MAX_SOURCE_BYTES
        from ..parser import parse

        self.sources = sources
        path = Path(sources.file)
        self.root = Path(os.path.realpath(path.parent))
        try:  # as `load` reads a file: no FIFO, no link outside, a size cap
            self.text = read_source(
                path, sources.display, None if sources.allow_import_outside else self.root,
                MAX_SOURCE_BYTES,
            )  # fmt: skip
        except UnreadableSource as e:
            raise ElaborationError([e.diagnostic]) from None
        self.max_bytes = MAX_SOURCE_BYTES - len(self.text)
        self.module = parse(self.text, sources.file)
        decl_items = tuple(
            i for i in self.module.items if isinstance(i, ast.Import | ast.LinkDecl | ast.Const)
        )
        self.decl_module = ast.Module(self.module.file, decl_items)
        self.shapes: OrderedDict[Any, Shape | None] = OrderedDict()
        self.lock = threading.Lock()

    def elaborate(self, overrides: Sequence[str], declarations_only: bool = False) -> Topology:
        from ..elaborate import elaborate

        s = self.sources
        merged: dict[str, str] = {}  # a later setting of a name replaces an earlier one
        for text in (*s.overrides, *overrides):
            merged[text.split("=", 1)[0].strip()] = text
        topo = elaborate(
            self.decl_module if declarations_only else self.module,
            texts={s.file: self.text},
            root=self.root,
            allow_import_outside=s.allow_import_outside,
            max_bytes=self.max_bytes,
            overrides=tuple(merged.values()),
        )
        if s.digests:
            known = dict(s.digests)
            for name, text in topo.source_texts.items():
                if known.get(name, digest(text)) != digest(text):
                    shown = s.display_names().get(name, name)
                    raise ElaborationError(
                        f"{shown} differs from the file the sweep was planned with (a worker "
                        "with another checkout?)"
                    )
        return topo


_READERS: OrderedDict[Sources, _Reader] = OrderedDict()
_READERS_LOCK = threading.Lock()


def _reader(sources: Sources) -> _Reader:
    with _READERS_LOCK:
        r = _READERS.get(sources)
        if r is None:
            r = _READERS[sources] = _Reader(sources)
            while len(_READERS) > 2:
                _READERS.popitem(last=False)
        else:
            _READERS.move_to_end(sources)
        return r


def elaborate_point(sources: Sources, overrides: Sequence[str]) -> Topology:
    """The whole design elaborated with ``overrides`` (``NAME=VALUE`` texts)."""
    return _reader(sources).elaborate(overrides)


def declarations(sources: Sources, overrides: Sequence[str]) -> Topology:
    """Only the declarations (imports, constants, link types) elaborated with ``overrides``:
    every top-level constant's value and every link type, as the full elaboration has them."""
    return _reader(sources).elaborate(overrides, declarations_only=True)


# -- 2. the probe and the array updates ----------------------------------------------------


@dataclass
class Shape:
    """A topology and the places where each probed constant's value stands in it."""

    base: Topology
    probes: tuple[str, ...]
    node_places: dict[str, list[tuple[str, np.ndarray]]]  # node column -> (constant, rows)
    link_bandwidth: list[tuple[str, np.ndarray]]  # (constant, link rows): value * lanes
    link_latency: list[tuple[str, np.ndarray]]
    assert_places: list[tuple[int, int, str]]  # (assertion, its constant, the constant)

    def apply(self, decl: Topology) -> Topology | None:
        """The shape with the constants' values of ``decl`` (see :func:`declarations`);
        ``None`` when a value is one the elaborator would refuse (then elaborate in full)."""
        base = self.base
        values: dict[str, float] = {}
        for name in self.probes:
            got, own = decl.constants.get(name), base.constants.get(name)
            if got is None or own is None or got[1] != own[1] or not math.isfinite(got[0]):
                return None
            values[name] = got[0]
        # What the elaborator accepts of an attribute: a latency >= 0, anything else > 0.
        for col, places in (*self.node_places.items(), ("bandwidth", self.link_bandwidth),
                            ("latency", self.link_latency)):  # fmt: skip
            for name, _rows in places:
                if values[name] < 0 or (values[name] == 0 and col != "latency"):
                    return None
        fields = {}
        for col, places in self.node_places.items():
            arr = getattr(base.nodes, col).copy()
            for name, rows in places:
                arr[rows] = values[name]
            fields[col] = arr
        links = {}
        if self.link_bandwidth:
            bw = base.links.bandwidth.copy()
            for name, rows in self.link_bandwidth:
                bw[rows] = np.float64(values[name]) * base.links.lanes[rows]
            links["bandwidth"] = bw
        if self.link_latency:
            lat = base.links.latency.copy()
            for name, rows in self.link_latency:
                lat[rows] = values[name]
            links["latency"] = lat
        assertions = list(base.assertions)
        for a, k, name in self.assert_places:
            spec = assertions[a]
            consts = list(spec.constants)
            consts[k] = (consts[k][0], values[name], consts[k][2])
            assertions[a] = replace(spec, constants=tuple(consts))
        topo = replace(
            base,
            nodes=replace(base.nodes, **fields) if fields else base.nodes,
            links=replace(base.links, **links) if links else base.links,
            link_types=decl.link_types,
            assertions=tuple(assertions),
            constants=decl.constants,
            overrides=decl.overrides,
        )
        for name in _STRUCTURAL_CACHES:  # the structure's derived tables, shared
            if name in base.__dict__:
                topo.__dict__[name] = base.__dict__[name]
        return topo


def _probe_values(base: Topology, probes: Sequence[str]) -> dict[str, tuple[float, float]] | None:
    out = {}
    for k, name in enumerate(probes):
        got = base.constants.get(name)
        if got is None:
            return None
        v = got[0]
        p = v * (k + 2) if v != 0 else float(k + 2)
        if not (math.isfinite(p) and p > 0):
            return None
        out[name] = (v, p)
    return out


def build_shape(sources: Sources, overrides: Sequence[str], probes: Sequence[str]):
    """``(topology, shape)``: the point elaborated, and its :class:`Shape` (``None`` when the
    probe finds anything it cannot account for)."""
    from .spec import sample_unit

    base = elaborate_point(sources, overrides)
    pv = _probe_values(base, probes)
    if pv is None:
        return base, None
    probe_texts = []
    for name, (_, p) in pv.items():
        unit = sample_unit(base.constants[name][1])
        if unit is None:
            return base, None
        probe_texts.append(f"{name}={p!r} {unit}".rstrip())
    try:
        probe = elaborate_point(sources, [*overrides, *probe_texts])
        decl = declarations(sources, overrides)
    except TopoError:
        return base, None
    if decl.constants != base.constants or not _same_link_types(decl, base):
        return base, None
    return base, _compare(base, probe, pv)


def _same_link_types(a: Topology, b: Topology) -> bool:
    return dict(a.link_types) == dict(b.link_types) and a.overrides == b.overrides


def _places(
    old: np.ndarray, new: np.ndarray, pv: Mapping[str, tuple[float, float]], scale=None
) -> list[tuple[str, np.ndarray]] | None:
    """Rows where ``old`` and ``new`` differ, attributed to the one constant whose base and
    probe values (times ``scale``) they hold; ``None`` if a row matches no constant or two."""
    differ = np.flatnonzero(old != new)
    if len(differ) == 0:
        return []
    owner = np.full(len(differ), -1)
    names = list(pv)
    for k, name in enumerate(names):
        v, p = pv[name]
        s = 1.0 if scale is None else scale[differ]
        hit = (old[differ] == np.float64(v) * s) & (new[differ] == np.float64(p) * s)
        if np.any(hit & (owner >= 0)):
            return None
        owner[hit] = k
    if np.any(owner < 0):
        return None
    return [(names[k], differ[owner == k]) for k in range(len(names)) if np.any(owner == k)]


def _compare(base: Topology, probe: Topology, pv: Mapping[str, tuple[float, float]]):
    bn, pn = base.nodes, probe.nodes
    if bn.ids != pn.ids or bn.extra != pn.extra:
        return None
    for col in ("kind", "parent", "ports", "origin", "template"):
        if not np.array_equal(getattr(bn, col), getattr(pn, col)):
            return None
    node_places = {}
    for col in NODE_FIELDS:
        places = _places(getattr(bn, col), getattr(pn, col), pv)
        if places is None:
            return None
        if places:
            node_places[col] = places
    bl, pl = base.links, probe.links
    for col in ("src", "dst", "lanes", "type", "simplex", "half_duplex", "origin"):
        if not np.array_equal(getattr(bl, col), getattr(pl, col)):
            return None
    if bl.extra != pl.extra:
        return None
    link_bandwidth = _places(bl.bandwidth, pl.bandwidth, pv, scale=bl.lanes)
    link_latency = _places(bl.latency, pl.latency, pv)
    if link_bandwidth is None or link_latency is None:
        return None
    same = (
        base.link_type_names == probe.link_type_names
        and set(base.link_types) == set(probe.link_types)
        and base.spans == probe.spans
        and base.templates == probe.templates
        and base.source == probe.source
        and [w.render() for w in base.warnings] == [w.render() for w in probe.warnings]
        and dict(base.source_texts) == dict(probe.source_texts)
        and _same_fabrics(base, probe)
        and len(base.assertions) == len(probe.assertions)
    )
    if not same:
        return None
    for name, lt in base.link_types.items():
        other = probe.link_types[name]
        if (lt.half_duplex, lt.model, lt.span) != (other.half_duplex, other.model, other.span):
            return None
    assert_places = []
    for a, (sa, sp) in enumerate(zip(base.assertions, probe.assertions, strict=True)):
        if sa.node != sp.node or sa.scopes != sp.scopes or len(sa.constants) != len(sp.constants):
            return None
        for k, (ca, cp) in enumerate(zip(sa.constants, sp.constants, strict=True)):
            if ca[0] != cp[0] or ca[2] != cp[2]:
                return None
            if ca[1] == cp[1]:
                continue
            owner = [n for n, (v, p) in pv.items() if n == ca[0] and (ca[1], cp[1]) == (v, p)]
            if len(owner) != 1:
                return None
            assert_places.append((a, k, owner[0]))
    return Shape(base, tuple(pv), node_places, link_bandwidth, link_latency, assert_places)


def _same_fabrics(a: Topology, b: Topology) -> bool:
    if len(a.fabrics) != len(b.fabrics):
        return False
    for fa, fb in zip(a.fabrics, b.fabrics, strict=True):
        if (fa.name, fa.generator, fa.span) != (fb.name, fb.generator, fb.span):
            return False
        if _plain(fa.params) != _plain(fb.params):
            return False
        for col in ("hosts", "switches", "links"):
            if not np.array_equal(getattr(fa, col), getattr(fb, col)):
                return False
    return True


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, list | tuple):
        return tuple(_plain(x) for x in v)
    return v


def same_topology(a: Topology, b: Topology) -> bool:
    """Whether two topologies are the same, array by array (the test of :meth:`Shape.apply`
    against a full elaboration). Spans, warnings and source texts included.

    >>> from topodsl import loads
    >>> same_topology(loads("cluster c { gpu g[2] }"), loads("cluster c { gpu g[2] }"))
    True
    """
    an, bn = a.nodes, b.nodes
    if an.ids != bn.ids or an.extra != bn.extra:
        return False
    for col in ("kind", "parent", "ports", "origin", "template", *NODE_FIELDS):
        x, y = getattr(an, col), getattr(bn, col)
        if x.dtype != y.dtype or x.tobytes() != y.tobytes():
            return False
    al, bl = a.links, b.links
    cols = ("src", "dst", "bandwidth", "latency", "lanes", "type", "simplex", "half_duplex")
    for col in (*cols, "origin"):
        x, y = getattr(al, col), getattr(bl, col)
        if x.dtype != y.dtype or x.tobytes() != y.tobytes():
            return False
    return (
        al.extra == bl.extra
        and a.link_type_names == b.link_type_names
        and dict(a.link_types) == dict(b.link_types)
        and a.spans == b.spans
        and a.templates == b.templates
        and a.source == b.source
        and [w.render() for w in a.warnings] == [w.render() for w in b.warnings]
        and a.assertions == b.assertions
        and _same_fabrics(a, b)
        and dict(a.source_texts) == dict(b.source_texts)
        and dict(a.constants) == dict(b.constants)
        and a.overrides == b.overrides
        and a.workloads == b.workloads
    )


# -- what a worker does for one point ------------------------------------------------------


def topology_for(
    sources: Sources, overrides: Sequence[str], shape_key: Any, probes: Sequence[str]
) -> tuple[Topology, str]:
    """The point's topology and how it was made: ``"elaborated"`` (in full), ``"probed"``
    (in full, and its shape recorded) or ``"updated"`` (its shape's arrays, new values).

    ``shape_key`` names the point's shape (its structure parameters' values; ``None``: do not
    reuse); ``probes`` the constants to probe (:attr:`Dependence.probes`).
    """
    if shape_key is None or not probes:
        return elaborate_point(sources, overrides), "elaborated"
    r = _reader(sources)
    with r.lock:
        known = shape_key in r.shapes
        shape = r.shapes.get(shape_key)
        if known:
            r.shapes.move_to_end(shape_key)
    if known and shape is None:
        return elaborate_point(sources, overrides), "elaborated"
    if shape is not None:
        try:
            decl = declarations(sources, overrides)
        except TopoError:
            decl = None
        topo = shape.apply(decl) if decl is not None else None
        if topo is not None:
            return topo, "updated"
        return elaborate_point(sources, overrides), "elaborated"
    topo, shape = build_shape(sources, overrides, probes)
    with r.lock:
        r.shapes[shape_key] = shape
        while len(r.shapes) > r.MAX_SHAPES:
            r.shapes.popitem(last=False)
    return topo, "probed"
