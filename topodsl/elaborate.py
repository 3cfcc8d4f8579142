"""AST to :class:`~topodsl.topology.Topology`: imports, definitions, arrays, patterns, units.

How it stays fast at 100,000 GPUs
---------------------------------
A definition is elaborated once per distinct argument list into a :class:`_Block`: numpy
arrays for its components (row 0 is the component itself) and its links, in local row numbers.
Instantiating ``DGX node[12500]`` tiles those arrays 12,500 times with numpy; only the dotted ids
are Python strings. Connections are resolved on a grid of index bindings, with every index
expression evaluated on numpy arrays at once, so ``node[*].nic[r] -- leaf[r]`` costs a few
array operations, not a Python loop per link.

Meaning checked here (each at its ``file:line:col``): unknown kinds, types, attributes, link
types and names (with "did you mean"); duplicate names; unit and dimension mismatches;
non-positive bandwidths and capacities; indices out of range; imports not found, outside the
root directory, or in a cycle; recursive definitions; ports over-subscribed; expansions above the
cap.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from . import ast, numeric
from .api import UnreadableSource, read_source
from .errors import (
    MAX_DIAGNOSTICS,
    DiagnosticSink,
    LimitExceeded,
    Span,
    TopoError,
)
from .kinds import (
    ATTRIBUTES,
    KIND_ALIASES,
    KIND_CODE,
    KINDS,
    LINK_ATTRIBUTES,
    ROLE_OF,
)
from .limits import (
    LINKS_PER_COMPONENT,
    MAX_LANES,
    MAX_NODES,
    MAX_PORTS,
    MAX_SOURCE_BYTES,
    MAX_STEPS,
)
from .params import ConstantHook
from .topology import NODE_FIELDS, FabricInfo, LinkTable, LinkType, NodeTable, Topology
from .units import (
    BANDWIDTH,
    COUNT,
    Dim,
    apply_scale,
    dim_name,
    example_unit,
    format_quantity,
    format_si,
    parse_unit,
)

__all__ = ["elaborate", "AssertSpec"]

_FIELDS = tuple(NODE_FIELDS)
_CONTAINER_CODES = np.array([KIND_CODE[k] for k, r in ROLE_OF.items() if r == "container"])
_COMPUTE_CODES = np.array([KIND_CODE[k] for k, r in ROLE_OF.items() if r == "compute"])
_GROUP = KIND_CODE["group"]
_CAP_HINT = "the cap protects memory (docs/security.md); topodsl.load(..., max_nodes=N) raises it"


class _Abort(Exception):
    """Stop elaborating the current statement; the diagnostic is already recorded."""


@dataclass(frozen=True)
class AssertSpec:
    """An ``assert`` statement and the components it was declared in.

    ``scopes`` are the dotted ids of the components whose body holds the assertion (``""`` for
    the top level); an assertion in a definition applies once per instance. ``constants`` are
    the numbers visible where it stands (constants, a definition's parameters, loop variables)
    as ``(name, value in SI base units, Dim)``, sorted by name; a definition used with other
    arguments gives another spec.
    """

    node: ast.Assert
    scopes: tuple[str, ...]
    constants: tuple[tuple[str, float, Dim], ...] = ()


# -- values --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Q:
    """A quantity: ``value`` (int, float or numpy array) in SI base units, and its dimension."""

    value: Any
    dim: Dim

    @property
    def integral(self) -> bool:
        v = self.value
        if isinstance(v, np.ndarray):
            return np.issubdtype(v.dtype, np.integer)
        return isinstance(v, int | np.integer) and not isinstance(v, bool)


@dataclass(frozen=True, slots=True)
class _LinkTypeVal:
    """A link type named in an expression (``link = eth400`` in a fabric)."""

    type: LinkType


class _Scope:
    """Names visible while elaborating a body: constants, parameters, loop and index variables."""

    __slots__ = ("values", "parent")

    def __init__(self, parent: _Scope | None = None, values: dict | None = None):
        self.parent = parent
        self.values: dict[str, Any] = values if values is not None else {}

    def lookup(self, name: str) -> Any:
        s: _Scope | None = self
        while s is not None:
            if name in s.values:
                return s.values[name]
            s = s.parent
        raise KeyError(name)

    def names(self) -> list[str]:
        out: list[str] = []
        s: _Scope | None = self
        while s is not None:
            out += list(s.values)
            s = s.parent
        return out

    def child(self, values: dict | None = None) -> _Scope:
        return _Scope(self, values or {})


# -- blocks --------------------------------------------------------------------------------------


@dataclass
class _Member:
    """A named child of a block: one component or an array of them, all alike."""

    name: str
    lo: int
    count: int
    is_array: bool
    offsets: np.ndarray  # local row of each element's own component
    block: _Block
    span: Span


_LINK_COLS = (
    "src", "dst", "bandwidth", "latency", "lanes", "type", "simplex", "half", "origin", "meta",
)  # fmt: skip
_LINK_DTYPES = (
    np.int64,
    np.int64,
    np.float64,
    np.float64,
    np.float64,
    np.int32,
    bool,
    bool,
    np.int32,
    np.int32,  # index into _Elaborator.link_metas, -1 for none
)


@dataclass
class _Block:
    """An elaborated component and everything inside it, in local row numbers (root = row 0)."""

    names: list[str]
    kind: np.ndarray
    parent: np.ndarray
    fields: dict[str, np.ndarray]
    ports: np.ndarray
    origin: np.ndarray
    template: np.ndarray
    extra: dict[int, dict[str, Any]]
    links: dict[str, np.ndarray]
    members: dict[str, _Member]
    fabrics: list[tuple[FabricInfo, np.ndarray, np.ndarray, np.ndarray]]
    asserts: list[tuple[ast.Assert, np.ndarray, tuple]]

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def num_links(self) -> int:
        return len(self.links["src"])


def _empty_links() -> dict[str, list]:
    return {c: [] for c in _LINK_COLS}


class _BodyBuilder:
    """Accumulates one component's body: its own attributes, members, links."""

    def __init__(self, kind: str, origin: int, template: int):
        self.kind = kind
        self.attrs: dict[str, float] = {}
        self.ports = -1
        self.extra: dict[str, Any] = {}
        self.origin = origin
        self.template = template
        self.members: dict[str, _Member] = {}
        # name[:i] -> member names that continue it with digits only (for id clashes).
        self.stems: dict[str, list[str]] = {}
        self.parts: list[_Block | None] = []  # member blocks in layout order (tiled)
        self.part_counts: list[int] = []
        self.cursor = 1
        self.link_parts: list[dict[str, np.ndarray]] = []
        self.part_links = 0  # links in link_parts
        self._codes: tuple[int, np.ndarray] | None = None
        self.fabrics: list[tuple[FabricInfo, np.ndarray, np.ndarray, np.ndarray]] = []
        self.asserts: list[tuple[ast.Assert, np.ndarray, tuple]] = []
        self.member_metas: list[tuple[np.ndarray, dict[str, Any]]] = []  # `meta PATH { }`
        self.num_links = 0

    def kind_codes(self) -> np.ndarray:
        """Kind code of every local row laid out so far (kept until a member is added, so a
        loop that connects one pair at a time does not rebuild it every time)."""
        if self._codes is None or self._codes[0] != len(self.parts):
            parts = [np.array([KIND_CODE[self.kind]], dtype=np.uint8)]
            for blk, count in zip(self.parts, self.part_counts, strict=True):
                parts.append(np.tile(blk.kind, count))
            self._codes = (len(self.parts), np.concatenate(parts))
        return self._codes[1]


# -- the elaborator ------------------------------------------------------------------------------


class _Elaborator:
    def __init__(
        self,
        texts: dict[str, str],
        root: FsPath,
        allow_outside: bool,
        max_nodes: int,
        max_steps: int = MAX_STEPS,
        max_bytes: int = MAX_SOURCE_BYTES,
        overrides: Iterable = (),
    ):
        self.sink = DiagnosticSink(texts)
        self.top_constants = ConstantHook(overrides, self.sink)  # -D NAME=VALUE, recorded values
        self.texts = texts
        self.root = root.resolve()
        self.allow_outside = allow_outside
        self.max_nodes = max_nodes
        self.max_links = LINKS_PER_COMPONENT * max_nodes
        self.max_steps = max_steps
        self.steps = 0
        self.max_bytes = max_bytes  # for imports: what the main file left of the budget
        self.bytes_read = 0
        self.link_types: dict[str, LinkType] = {}
        self.type_names: list[str] = []
        self.type_index: dict[str, int] = {}
        self.defs: dict[str, ast.Def] = {}
        self.def_spans: dict[str, Span] = {}
        self.spans: list[Span] = []
        self.span_index: dict[Span, int] = {}
        self.templates: list[str] = []
        self.template_index: dict[str, int] = {}
        self.cache: dict[tuple, _Block] = {}
        self.def_stack: list[str] = []
        self.globals = _Scope()
        self.global_spans: dict[str, Span] = {}
        self.total_nodes = 0
        self.imported: set[str] = set()
        self.resolved: dict[str, FsPath] = {}
        self.broken_link_types: set[str] = set()
        self.link_metas: list[dict[str, Any]] = []  # one per connection with a meta block

    # -- bookkeeping ----------------------------------------------------------------------------

    def charge_steps(self, n: int, span: Span) -> None:
        """Count ``n`` statement executions against the file's work budget, before they run."""
        self.steps += n
        if self.steps > self.max_steps:
            raise LimitExceeded(
                self.sink.make(
                    span,
                    f"this would run more than {self.max_steps:,} statements in loops "
                    f"({self.steps:,} so far, this one included)",
                    "a connection over an index, connect a[i] -- b[i], makes all its links "
                    "in one statement; or topodsl.load(..., max_steps=N) raises the limit",
                )
            )

    def span_id(self, span: Span | None) -> int:
        if span is None:
            return -1
        i = self.span_index.get(span)
        if i is None:
            i = self.span_index[span] = len(self.spans)
            self.spans.append(span)
        return i

    def template_id(self, name: str) -> int:
        i = self.template_index.get(name)
        if i is None:
            i = self.template_index[name] = len(self.templates)
            self.templates.append(name)
        return i

    def error(self, span: Span | None, message: str, hint: str | None = None) -> _Abort:
        self.sink.error(span, message, hint)
        return _Abort()

    def did_you_mean(self, name: str, options) -> str | None:
        close = difflib.get_close_matches(name, sorted(set(options)), n=1, cutoff=0.6)
        return f"did you mean {close[0]!r}?" if close else None

    # -- imports and declarations ---------------------------------------------------------------

    def load_module(self, module: ast.Module, stack: tuple[str, ...]) -> list:
        """Collect declarations from ``module`` and its imports; return its statements."""
        stmts: list = []
        for item in module.items:
            try:
                if isinstance(item, ast.Import):
                    self.do_import(item, module.file, stack)
                elif isinstance(item, ast.LinkDecl):
                    self.declare_link(item)
                elif isinstance(item, ast.Def):
                    self.declare_def(item)
                elif isinstance(item, ast.Const):
                    # Top-level constants are global: definitions and link types see them.
                    self.declare_const(item, self.globals)
                else:
                    stmts.append(item)
            except _Abort:
                pass
        return stmts

    def do_import(self, item: ast.Import, importer: str, stack: tuple[str, ...]) -> None:
        from .parser import parse

        if "\x00" in item.path:
            raise self.error(item.span, "an import path cannot contain a NUL character")
        if importer in self.resolved:
            base = self.resolved[importer].parent
        else:
            # Beside the file as it was named: a symbolic link does not move its imports.
            base = FsPath(os.path.abspath(importer)).parent if importer != "<string>" else self.root
        target = (base / item.path).resolve()
        if not self.allow_outside and not target.is_relative_to(self.root):
            raise self.error(
                item.span,
                f"import {item.path!r} leaves the directory of the file being checked",
                "imports may not reach outside it unless --allow-import-outside is given",
            )
        key = str(target)
        if key in stack:
            chain = " -> ".join(FsPath(s).name for s in (*stack[stack.index(key) :], key))
            raise self.error(item.span, f"import cycle: {chain}")
        if key in self.imported:
            return
        if not target.exists():
            raise self.error(
                item.span,
                f"import not found: {item.path!r}",
                "imports are resolved relative to the importing file",
            )
        # Name the imported file as the user would: beside the importer's name as written
        # (topologies/parts/nvidia.topo), never an absolute path of this machine.
        rel = (
            os.path.normpath(os.path.join(os.path.dirname(importer), item.path))
            if importer != "<string>"
            else item.path
        )
        try:
            left = self.max_bytes - self.bytes_read
            text = read_source(target, rel, None, left, "what the file's imports may still read")
        except UnreadableSource as e:
            d = e.diagnostic
            if d.span is not None:  # not UTF-8: the place in the imported file says it all
                self.sink.errors.append(d)
                raise _Abort() from None
            raise self.error(
                item.span, f"cannot import {item.path!r}: {d.message}", d.hint
            ) from None
        self.bytes_read += len(text)
        self.imported.add(key)
        self.resolved[rel] = target
        self.texts[rel] = text
        self.sink.texts[rel] = text
        try:
            sub = parse(text, rel)
        except TopoError as e:
            self.sink.errors.extend(e.diagnostics)
            raise _Abort() from None
        rest = self.load_module(sub, (*stack, key))
        for stmt in rest:
            if not isinstance(stmt, ast.Const):
                self.sink.warning(
                    getattr(stmt, "span", None),
                    "an imported file contributes only definitions, link types and constants; "
                    "this statement is ignored",
                )

    def declare_link(self, decl: ast.LinkDecl) -> None:
        try:
            self._declare_link(decl)
        except _Abort:
            # Its own error is reported; uses of the type would only repeat it.
            self.broken_link_types.add(decl.name)
            raise

    def _declare_link(self, decl: ast.LinkDecl) -> None:
        if decl.name in self.link_types:
            prev = self.link_types[decl.name].span
            raise self.error(
                decl.span,
                f"link type {decl.name!r} is declared twice",
                f"first declared at {prev}" if prev else None,
            )
        values: dict[str, Any] = {}
        for a in decl.attrs:
            if not isinstance(a, ast.Attr):
                raise self.error(a.span, "a link type holds only attributes")
            spec = LINK_ATTRIBUTES.get(a.name)
            if spec is None:
                raise self.error(
                    a.name_span,
                    f"unknown link attribute {a.name!r}",
                    self.did_you_mean(a.name, LINK_ATTRIBUTES)
                    or f"link attributes: {', '.join(LINK_ATTRIBUTES)}",
                )
            values[a.name] = self.attr_value(a, spec, self.globals)
        if "bandwidth" not in values:
            raise self.error(
                decl.span,
                f"link type {decl.name!r} needs a bandwidth",
                "e.g. link nvlink4 { bandwidth = 25 GB/s, latency = 100 ns }",
            )
        duplex = values.get("duplex", "full")
        if duplex not in ("full", "half"):
            raise self.error(decl.span, f'duplex must be "full" or "half", not {duplex!r}')
        self.link_types[decl.name] = LinkType(
            decl.name,
            values["bandwidth"],
            values.get("latency", 0.0),
            duplex == "half",
            values.get("model"),
            decl.span,
        )

    def declare_def(self, d: ast.Def) -> None:
        kind = KIND_ALIASES.get(d.kind, d.kind)
        if kind not in KIND_CODE:
            raise self.error(
                d.kind_span,
                f"unknown kind {d.kind!r}",
                self.did_you_mean(d.kind, KINDS) or f"kinds: {', '.join(KINDS)}",
            )
        if d.name in KIND_CODE or d.name in KIND_ALIASES:
            raise self.error(d.span, f"a definition may not be named like the kind {d.name!r}")
        if d.name in self.defs:
            raise self.error(
                d.span,
                f"definition {d.name!r} is declared twice",
                f"first declared at {self.def_spans[d.name]}",
            )
        self.defs[d.name] = d
        self.def_spans[d.name] = d.span

    def declare_const(self, c: ast.Const, scope: _Scope) -> None:
        if c.name in scope.values:
            raise self.error(c.span, f"constant {c.name!r} is declared twice")
        value = self.eval(c.value, scope)
        if scope is self.globals:
            value = self.top_constants.declared(self, c, value, scope)
        scope.values[c.name] = value

    # -- expressions ----------------------------------------------------------------------------

    def eval(self, e: ast.Expr, scope: _Scope) -> Any:
        """Evaluate an expression to ``_Q``, ``str``, ``tuple`` or ``_LinkTypeVal``."""
        if isinstance(e, ast.Number):
            with self.numeric(e.span):
                value = numeric.literal(e.value, e.integral)
                if e.unit is None:
                    return _Q(value, COUNT)
                scale, dim = parse_unit(e.unit)
                return _Q(numeric.literal(apply_scale(value, scale), False), dim)
        if isinstance(e, ast.String):
            return e.value
        if isinstance(e, ast.Ref):
            name = e.path.simple_name
            if name is None:
                raise self.error(
                    e.span,
                    "a path of components is not a value here",
                    "paths are used in connect statements and fabric hosts",
                )
            try:
                return scope.lookup(name)
            except KeyError:
                pass
            if name in self.link_types:
                return _LinkTypeVal(self.link_types[name])
            raise self.error(
                e.span,
                f"unknown name {name!r}",
                self.did_you_mean(name, scope.names() + list(self.link_types)),
            )
        if isinstance(e, ast.Unary):
            v = self.number(e.operand, scope)
            with self.numeric(e.span):
                return _Q(numeric.sub(0, v.value), v.dim)
        if isinstance(e, ast.BinOp):
            return self.binop(e, scope)
        if isinstance(e, ast.Tuple):
            return tuple(self.eval(i, scope) for i in e.items)
        if isinstance(e, ast.Call):
            return self.call(e, scope)
        if isinstance(e, ast.SelectorLit):
            raise self.error(e.span, f"a selector ({e.text}) is only meaningful in an assertion")
        raise self.error(getattr(e, "span", None), "unsupported expression")  # pragma: no cover

    def number(self, e: ast.Expr, scope: _Scope) -> _Q:
        v = self.eval(e, scope)
        if not isinstance(v, _Q):
            raise self.error(getattr(e, "span", None), f"expected a number, got {_describe(v)}")
        return v

    def binop(self, e: ast.BinOp, scope: _Scope) -> _Q:
        a, b = self.number(e.left, scope), self.number(e.right, scope)
        op = e.op
        with self.numeric(e.span):
            if op in ("+", "-", "%"):
                if a.dim != b.dim:
                    raise self.error(
                        e.span,
                        f"cannot {'add' if op == '+' else 'combine'} "
                        f"{dim_name(a.dim)} and {dim_name(b.dim)}",
                    )
                if op == "+":
                    return _Q(numeric.add(a.value, b.value), a.dim)
                if op == "-":
                    return _Q(numeric.sub(a.value, b.value), a.dim)
                if np.any(np.asarray(b.value) == 0):
                    raise self.error(e.span, "modulo by zero")
                return _Q(numeric.mod(a.value, b.value), a.dim)
            if op == "*":
                return _Q(numeric.mul(a.value, b.value), a.dim * b.dim)
            if op == "/":
                if np.any(np.asarray(b.value) == 0):
                    raise self.error(e.span, "division by zero")
                return _Q(numeric.div(a.value, b.value), a.dim / b.dim)
            if op == "**":
                if b.dim != COUNT or not b.integral or isinstance(b.value, np.ndarray):
                    raise self.error(
                        e.right.span if hasattr(e.right, "span") else e.span,
                        "an exponent must be a whole number",
                    )
                if b.value < 0:
                    raise self.error(e.span, "negative exponents are not supported")
                return _Q(numeric.power(a.value, int(b.value)), a.dim ** int(b.value))
        raise self.error(e.span, f"unknown operator {op}")  # pragma: no cover

    @contextmanager
    def numeric(self, span: Span):
        """Turn a :class:`~topodsl.numeric.NumericError` into a diagnostic at ``span``."""
        try:
            yield
        except numeric.NumericError as err:
            raise self.error(span, err.message, err.hint) from None

    _FUNCS = ("min", "max", "floor", "ceil", "round", "abs", "log2", "sqrt")

    def call(self, e: ast.Call, scope: _Scope) -> _Q:
        f = e.func
        if f not in self._FUNCS:
            raise self.error(
                e.span,
                f"unknown function {f!r}",
                self.did_you_mean(f, self._FUNCS) or f"functions: {', '.join(self._FUNCS)}",
            )
        args = [self.number(a, scope) for a in e.args]
        if f in ("min", "max"):
            if not args:
                raise self.error(e.span, f"{f}() needs at least one argument")
            if any(a.dim != args[0].dim for a in args):
                raise self.error(e.span, f"{f}() needs arguments of one dimension")
            fn = np.minimum if f == "min" else np.maximum
            v = args[0].value
            for a in args[1:]:
                v = fn(v, a.value)
            return _Q(v, args[0].dim)
        if len(args) != 1:
            raise self.error(e.span, f"{f}() takes one argument")
        a = args[0]
        if f in ("floor", "ceil", "round"):
            with self.numeric(e.span):
                return _Q(numeric.to_whole(f, a.value), a.dim)
        if f == "abs":
            return _Q(abs(a.value), a.dim)
        if a.dim != COUNT:
            raise self.error(e.span, f"{f}() needs a plain number")
        if np.any(np.asarray(a.value) <= 0 if f == "log2" else np.asarray(a.value) < 0):
            raise self.error(e.span, f"{f}() of a value out of its domain")
        return _Q((np.log2 if f == "log2" else np.sqrt)(a.value), COUNT)

    def count(self, e: ast.Expr, scope: _Scope, what: str) -> int:
        v = self.number(e, scope)
        if v.dim != COUNT or isinstance(v.value, np.ndarray):
            raise self.error(e.span, f"{what} must be a plain whole number, got {_describe(v)}")
        x = v.value
        if not v.integral and not float(x).is_integer():
            raise self.error(e.span, f"{what} must be a whole number, got {x:g}")
        if abs(x) > numeric.MAX_WHOLE:
            raise self.error(
                e.span, f"{what} of {x:g} is too large", "whole numbers are limited to 10**18"
            )
        return int(x)

    def attr_value(self, a: ast.Attr, spec, scope: _Scope) -> Any:
        if spec.flag:
            word = a.value.path.simple_name if isinstance(a.value, ast.Ref) else None
            if word not in ("true", "false"):
                raise self.error(a.value.span, f"{a.name} must be true or false")
            return word == "true"
        v = self.eval(a.value, scope)
        if spec.dim is None:
            if not isinstance(v, str):
                raise self.error(a.value.span, f"{a.name} must be text in double quotes")
            return v
        if not isinstance(v, _Q) or isinstance(v.value, np.ndarray):
            raise self.error(
                a.value.span, f"{a.name} must be {dim_name(spec.dim)}, got {_describe(v)}"
            )
        if v.dim != spec.dim:
            unit = example_unit(spec.dim)
            hint = None
            if unit:
                hint = (
                    f"write it with a unit, e.g. {a.name} = {_fmt_num(v.value)} {unit}"
                    if v.dim == COUNT
                    else f"{a.name} takes a unit such as {unit}"
                )
            raise self.error(
                a.value.span, f"{a.name} must be {dim_name(spec.dim)}, got {dim_name(v.dim)}", hint
            )
        x = float(v.value)
        shown = format_quantity(x, spec.dim) if spec.dim != COUNT else f"{x:g}"
        if not math.isfinite(x) or x < 0 or (spec.positive and x == 0):
            raise self.error(
                a.value.span,
                f"{a.name} must be {'positive' if spec.positive else 'zero or more'}, got {shown}",
            )
        why = numeric.check_quantity(x)
        if why is not None:
            raise self.error(
                a.value.span,
                f"{a.name} of {format_si(x, spec.dim)} {why}",
                "attributes lie between 1e-30 and 1e30 in SI base units; is a unit wrong?",
            )
        return x

    # -- bodies ---------------------------------------------------------------------------------

    def build_block(
        self,
        kind: str,
        stmts_scopes: list[tuple[tuple, _Scope]],
        origin: int,
        template: int,
    ) -> _Block:
        b = _BodyBuilder(kind, origin, template)
        for stmts, scope in stmts_scopes:
            self.run_body(b, stmts, scope)
        return self.finish(b)

    def run_body(self, b: _BodyBuilder, stmts: tuple, scope: _Scope) -> None:
        local = scope.child()
        # Pass 1: constants, attributes, components, in order.
        for s in stmts:
            try:
                if isinstance(s, ast.Const):
                    self.declare_const(s, local)
                elif isinstance(s, ast.Attr):
                    self.set_attr(b, s, local)
                elif isinstance(s, ast.Instance):
                    self.add_instance(b, s, local)
            except _Abort:
                pass
        # Pass 2: fabrics (they add switches). Pass 3: links and assertions.
        for s in stmts:
            try:
                if isinstance(s, ast.Fabric):
                    self.add_fabric(b, s, local)
            except _Abort:
                pass
        for s in stmts:
            try:
                if isinstance(s, ast.Connect | ast.Pattern | ast.For):
                    self.add_links_stmt(b, s, local)
                elif isinstance(s, ast.Assert):
                    b.asserts.append((s, np.zeros(1, dtype=np.int64), _constants(local)))
                elif isinstance(s, ast.Meta):
                    self.add_meta(b, s, local)
            except _Abort:
                pass

    def meta_entries(self, m: ast.Meta, scope: _Scope) -> dict[str, Any]:
        """The ``key = value`` entries of a ``meta { }`` block: text or plain numbers."""
        out: dict[str, Any] = {}
        for a in m.entries:
            if not isinstance(a, ast.Attr):
                raise self.error(a.span, "a meta block holds only key = value entries")
            if a.name in out:
                raise self.error(a.name_span, f"meta key {a.name!r} is given twice")
            v = self.eval(a.value, scope)
            if isinstance(v, _Q) and v.dim == COUNT and not isinstance(v.value, np.ndarray):
                v = v.value
            elif not isinstance(v, str):
                raise self.error(
                    a.value.span,
                    f"meta values are text or plain numbers, got {_describe(v)}",
                    'quote it: key = "25 GB/s"',
                )
            out[a.name] = v
        return out

    def add_meta(self, b: _BodyBuilder, m: ast.Meta, scope: _Scope) -> None:
        """``meta { }`` for the enclosing component, ``meta PATH { }`` for members of it."""
        entries = self.meta_entries(m, scope)
        if m.path is None:
            if b.origin < 0:
                raise self.error(
                    m.span,
                    "a meta block at the top level needs a path",
                    'e.g. meta node[0].gpu[3] { serial = "..." }',
                )
            b.extra["meta"] = {**b.extra.get("meta", {}), **entries}
            return
        (rows,), _ = self.resolve(b, [m.path], scope)
        if np.any(rows == 0):
            raise self.error(m.path.span, "write meta { } without a path for the component itself")
        b.member_metas.append((rows, entries))

    def set_attr(self, b: _BodyBuilder, a: ast.Attr, scope: _Scope) -> None:
        specs = ATTRIBUTES[b.kind]
        if b.origin < 0:
            raise self.error(
                a.span,
                "attributes belong inside a component",
                "e.g. gpu g { bandwidth = 3.35 TB/s }",
            )
        spec = specs.get(a.name)
        if spec is None:
            hint = self.did_you_mean(a.name, specs) or (
                f"a {b.kind} accepts: {', '.join(sorted(specs))}"
            )
            raise self.error(a.name_span, f"unknown attribute {a.name!r} for a {b.kind}", hint)
        value = self.attr_value(a, spec, scope)
        if a.name == "ports":
            if not float(value).is_integer():
                raise self.error(a.value.span, "ports must be a whole number")
            if value > MAX_PORTS:
                raise self.error(
                    a.value.span,
                    f"ports = {int(value):,} is more than the limit of {MAX_PORTS:,}",
                    "a port count is stored as a 32-bit number",
                )
            b.ports = int(value)
        elif a.name in NODE_FIELDS:
            b.attrs[a.name] = value
        else:
            b.extra[a.name] = value

    def add_instance(self, b: _BodyBuilder, inst: ast.Instance, scope: _Scope) -> None:
        if inst.name in b.members:
            raise self.error(
                inst.name_span,
                f"{inst.name!r} is declared twice in this body",
                f"first declared at {b.members[inst.name].span}",
            )
        if inst.name == "self":
            raise self.error(inst.name_span, "'self' names the enclosing component")
        # The array first: a huge count must fail before anything is built.
        lo, count, is_array = 0, 1, False
        if inst.array is not None:
            is_array = True
            hi = self.count(inst.array.hi, scope, "an array size")
            if inst.array.lo is None:
                count = hi
                if count < 1:
                    raise self.error(
                        inst.array.span, f"an array needs at least one element, got {count}"
                    )
            else:
                lo = self.count(inst.array.lo, scope, "a range start")
                if lo < 0 or hi < lo:
                    raise self.error(inst.array.span, f"empty or negative range [{lo}..{hi}]")
                count = hi - lo + 1
            if count > self.max_nodes:
                raise LimitExceeded(
                    self.sink.make(
                        inst.array.span,
                        f"{inst.name}[{count}] would create {count:,} components; "
                        f"the limit is {self.max_nodes:,}",
                        _CAP_HINT,
                    )
                )
        self.check_id_clash(b, inst.name, lo, count, is_array, inst.name_span)
        block = self.instance_block(inst, scope)
        new_rows = count * block.size
        self.total_nodes += new_rows
        if b.cursor + new_rows > self.max_nodes or self.total_nodes > 4 * self.max_nodes:
            raise LimitExceeded(
                self.sink.make(
                    inst.span,
                    f"this would make the topology larger than {self.max_nodes:,} components",
                    _CAP_HINT,
                )
            )
        offsets = b.cursor + block.size * np.arange(count, dtype=np.int64)
        self.add_member(b, _Member(inst.name, lo, count, is_array, offsets, block, inst.name_span))
        b.parts.append(block)
        b.part_counts.append(count)
        b.cursor += new_rows
        b.num_links += count * block.num_links

    def add_member(self, b: _BodyBuilder, m: _Member) -> None:
        b.members[m.name] = m
        for i in range(_digits_start(m.name), len(m.name)):
            b.stems.setdefault(m.name[:i], []).append(m.name)

    def check_id_clash(
        self, b: _BodyBuilder, name: str, lo: int, count: int, is_array: bool, span: Span
    ) -> None:
        """Refuse a member whose ids would repeat another's: element 10 of ``t1[20]`` and
        element 0 of ``t11[5]`` are both ``t110``. Both declarations are reported."""
        new = (name, lo, count, is_array)
        prefixes = (name[:i] for i in range(_digits_start(name), len(name)))
        others = [b.members[p] for p in prefixes if p in b.members]
        others += [b.members[n] for n in b.stems.get(name, ())]
        for m in others:
            old = (m.name, m.lo, m.count, m.is_array)
            shorter, longer = (old, new) if len(m.name) < len(name) else (new, old)
            clash = _shared_id(shorter, longer)
            if clash is None:
                continue
            self.sink.error(
                span,
                f"{clash!r} would name two components: {_element(new, clash)} and "
                f"{_element(old, clash)}",
                f"rename one of them, e.g. {longer[0]} to {longer[0]}_, so that no array's "
                "name followed by an index spells another name",
            )
            self.sink.errors.append(
                self.sink.make(
                    m.span, f"{m.name!r} is declared here; it also names {clash!r}", None, "note"
                )
            )
            raise _Abort()

    def instance_block(self, inst: ast.Instance, scope: _Scope) -> _Block:
        name = inst.type_name
        origin = self.span_id(inst.name_span)
        if name in self.defs:
            d = self.defs[name]
            if name in self.def_stack:
                chain = " -> ".join((*self.def_stack[self.def_stack.index(name) :], name))
                raise self.error(
                    inst.type_span,
                    f"recursive definition: {chain}",
                    "a component cannot contain itself",
                )
            def_scope = self.globals.child()
            given = {}
            for a in inst.args:
                if a.name not in {p.name for p in d.params}:
                    raise self.error(
                        a.span,
                        f"{name} has no parameter {a.name!r}",
                        self.did_you_mean(a.name, [p.name for p in d.params]),
                    )
                if a.name in given:
                    raise self.error(a.span, f"parameter {a.name!r} is given twice")
                given[a.name] = self.eval(a.value, scope)
            for p in d.params:
                if p.name in given:
                    def_scope.values[p.name] = given[p.name]
                elif p.default is not None:
                    def_scope.values[p.name] = self.eval(p.default, def_scope)
                else:
                    raise self.error(
                        inst.type_span,
                        f"{name} needs parameter {p.name!r}",
                        f"e.g. {name}({p.name} = ...) {inst.name}",
                    )
            key_args = tuple(sorted((k, _hashable(v)) for k, v in def_scope.values.items()))
            kind = KIND_ALIASES.get(d.kind, d.kind)
            template_name = name + (
                "(" + ", ".join(f"{k}={v}" for k, v in key_args) + ")" if key_args else ""
            )
            key = (name, key_args) if not inst.body else (name, key_args, id(inst))
            hit = self.cache.get(key)
            if hit is not None and not inst.body:
                return self._with_origin(hit, origin)
            self.def_stack.append(name)
            try:
                todo = [(d.body, def_scope)]
                if inst.body:
                    todo.append((inst.body, scope))
                    template_name += f"@{inst.span}"
                block = self.build_block(kind, todo, origin, self.template_id(template_name))
            finally:
                self.def_stack.pop()
            if not inst.body:
                self.cache[key] = block
            return block
        kind = KIND_ALIASES.get(name, name)
        if kind not in KIND_CODE:
            options = list(KINDS) + list(self.defs)
            raise self.error(
                inst.type_span,
                f"unknown kind or definition {name!r}",
                self.did_you_mean(name, options) or f"kinds: {', '.join(KINDS)}",
            )
        if inst.args:
            raise self.error(
                inst.args[0].span,
                f"the built-in kind {kind!r} takes no arguments",
                "arguments go to definitions (def ...)",
            )
        template_name = kind if not inst.body else f"{kind}@{inst.span}"
        return self.build_block(kind, [(inst.body, scope)], origin, self.template_id(template_name))

    def _with_origin(self, block: _Block, origin: int) -> _Block:
        if block.origin[0] == origin:
            return block
        new_origin = block.origin.copy()
        new_origin[0] = origin
        return _Block(
            block.names,
            block.kind,
            block.parent,
            block.fields,
            block.ports,
            new_origin,
            block.template,
            block.extra,
            block.links,
            block.members,
            block.fabrics,
            block.asserts,
        )

    # -- finishing a block ----------------------------------------------------------------------

    def finish(self, b: _BodyBuilder) -> _Block:
        names = [""]
        kind = [np.array([KIND_CODE[b.kind]], dtype=np.uint8)]
        parent = [np.array([-1], dtype=np.int64)]
        fields = {f: [np.array([b.attrs.get(f, NODE_FIELDS[f])])] for f in _FIELDS}
        ports = [np.array([b.ports], dtype=np.int32)]
        origin = [np.array([b.origin], dtype=np.int32)]
        template = [np.array([b.template], dtype=np.int32)]
        extra: dict[int, dict[str, Any]] = {0: dict(b.extra)} if b.extra else {}
        links = {c: [] for c in _LINK_COLS}
        asserts: list = list(b.asserts)
        members_by_start = sorted(b.members.values(), key=lambda m: int(m.offsets[0]))
        for m in members_by_start:
            blk, count = m.block, m.count
            offs = m.offsets
            prefixes = [f"{m.name}{m.lo + k}" for k in range(count)] if m.is_array else [m.name]
            child_names = blk.names
            names.extend(p if n == "" else f"{p}.{n}" for p in prefixes for n in child_names)
            kind.append(np.tile(blk.kind, count))
            par = np.where(blk.parent < 0, -1, blk.parent)
            tiled = (par[None, :] + offs[:, None]).ravel()
            tiled[np.tile(blk.parent < 0, count)] = 0
            parent.append(tiled)
            for f in _FIELDS:
                fields[f].append(np.tile(blk.fields[f], count))
            ports.append(np.tile(blk.ports, count))
            origin.append(np.tile(blk.origin, count))
            template.append(np.tile(blk.template, count))
            if blk.extra:
                for off in offs.tolist():
                    for r, d in blk.extra.items():
                        extra[off + r] = d
            if blk.num_links:
                for c in _LINK_COLS:
                    col = blk.links[c]
                    if c in ("src", "dst"):
                        links[c].append((col[None, :] + offs[:, None]).ravel())
                    else:
                        links[c].append(np.tile(col, count))
            for a, rows, consts in blk.asserts:
                asserts.append((a, (rows[None, :] + offs[:, None]).ravel(), consts))
        for rows, entries in b.member_metas:
            for r in rows.tolist():
                d = extra.get(r, {})
                extra[r] = {**d, "meta": {**d.get("meta", {}), **entries}}
        n_child_links = sum(len(x) for x in links["src"])
        fabrics = self._relocate_fabrics(members_by_start)
        for part in b.link_parts:
            for c in _LINK_COLS:
                links[c].append(part[c])
        for info, hosts, switches, start, n in b.fabrics:
            fabrics.append(
                (info, hosts, switches, np.arange(n_child_links + start, n_child_links + start + n))
            )
        return _Block(
            names=names,
            kind=np.concatenate(kind),
            parent=np.concatenate(parent),
            fields={f: np.concatenate(v).astype(np.float64) for f, v in fields.items()},
            ports=np.concatenate(ports),
            origin=np.concatenate(origin),
            template=np.concatenate(template),
            extra=extra,
            links={
                c: (np.concatenate(links[c]).astype(dt) if links[c] else np.zeros(0, dtype=dt))
                for c, dt in zip(_LINK_COLS, _LINK_DTYPES, strict=True)
            },
            members=b.members,
            fabrics=fabrics,
            asserts=asserts,
        )

    def _relocate_fabrics(self, members: list[_Member]) -> list:
        """Fabric records of every member copy, in this block's rows and link rows."""
        out = []
        link_base = 0
        for m in members:
            blk = m.block
            for k, off in enumerate(m.offsets.tolist()):
                lb = link_base + k * blk.num_links
                for info, hosts, switches, lrows in blk.fabrics:
                    out.append((info, hosts + off, switches + off, lrows + lb))
            link_base += m.count * blk.num_links
        return out

    # -- resolving paths ------------------------------------------------------------------------

    def resolve(
        self, b: _BodyBuilder, paths: list[ast.Path], scope: _Scope
    ) -> tuple[list[np.ndarray], int]:
        """Rows (local to ``b``) of each path, on a shared grid of index bindings."""
        var_domains: dict[str, tuple[int, int, Span]] = {}
        anon = 0
        plans = []
        for path in paths:
            plan = []
            members = b.members
            for i, seg in enumerate(path.segments):
                if seg.name == "self" and i == 0:
                    if seg.index is not None or len(path.segments) > 1:
                        raise self.error(
                            seg.span,
                            "'self' is the enclosing component itself; name its children directly",
                        )
                    plan.append(("self", None, None))
                    break
                m = members.get(seg.name)
                if m is None:
                    where = "here" if members is b.members else "inside it"
                    raise self.error(
                        seg.span,
                        f"no component named {seg.name!r} {where}",
                        self.did_you_mean(seg.name, members),
                    )
                if m.is_array and seg.index is None:
                    raise self.error(
                        seg.span,
                        f"{seg.name} is an array of {m.count}; "
                        f"say which: {seg.name}[*], {seg.name}[i] or {seg.name}[0]",
                    )
                if not m.is_array and seg.index is not None:
                    raise self.error(seg.span, f"{seg.name} is a single component, not an array")
                idx = seg.index
                if idx is None:
                    plan.append((m, None, None))
                elif isinstance(idx, ast.Star):
                    v = f"*{anon}"
                    anon += 1
                    var_domains[v] = (m.lo, m.lo + m.count - 1, seg.span)
                    plan.append((m, "var", v))
                elif isinstance(idx, ast.IndexRange):
                    lo = self.count(idx.lo, scope, "a range start")
                    hi = self.count(idx.hi, scope, "a range end")
                    if lo < m.lo or hi > m.lo + m.count - 1 or hi < lo:
                        raise self.error(
                            idx.span,
                            f"range [{lo}..{hi}] is outside "
                            f"{seg.name}[{m.lo}..{m.lo + m.count - 1}]",
                        )
                    v = f"*{anon}"
                    anon += 1
                    var_domains[v] = (lo, hi, seg.span)
                    plan.append((m, "var", v))
                elif (
                    isinstance(idx, ast.Ref)
                    and idx.path.simple_name is not None
                    and not _in_scope(scope, idx.path.simple_name)
                ):
                    v = idx.path.simple_name
                    dom = (m.lo, m.lo + m.count - 1, seg.span)
                    if v in var_domains and var_domains[v][:2] != dom[:2]:
                        prev = var_domains[v]
                        raise self.error(
                            seg.span,
                            f"index {v} ranges over {prev[0]}..{prev[1]} at {prev[2]} but over "
                            f"{dom[0]}..{dom[1]} here",
                            "use a for loop or an explicit range to say which indices to pair",
                        )
                    var_domains.setdefault(v, dom)
                    plan.append((m, "var", v))
                else:
                    plan.append((m, "expr", idx))
                members = m.block.members
            plans.append(plan)
        sizes = [hi - lo + 1 for lo, hi, _ in var_domains.values()]
        total = int(np.prod(sizes, dtype=np.float64)) if sizes else 1
        if total > self.max_links:
            raise LimitExceeded(
                self.sink.make(
                    paths[0].span,
                    f"this connection would make {total:,} links; the limit is {self.max_links:,}",
                    "check for an all-to-all ([*] on both sides) by mistake",
                )
            )
        grids = np.indices(sizes, dtype=np.int64).reshape(len(sizes), -1) if sizes else None
        env = {}
        for k, (v, (lo, _hi, _s)) in enumerate(var_domains.items()):
            env[v] = _Q(grids[k] + lo if grids is not None else lo, COUNT)
        var_scope = scope.child({k: v for k, v in env.items() if not k.startswith("*")})
        rows_out = []
        for plan in plans:
            rows = np.zeros(total, dtype=np.int64)
            for m, how, what in plan:
                if m == "self":
                    break
                if how is None:
                    rows = rows + int(m.offsets[0])
                    continue
                if how == "var":
                    idx = env[what].value
                else:
                    q = self.number(what, var_scope)
                    if q.dim != COUNT or not q.integral:
                        if q.dim == COUNT and np.all(np.asarray(q.value) % 1 == 0):
                            with self.numeric(what.span):
                                q = _Q(numeric.to_whole("round", np.asarray(q.value)), COUNT)
                        else:
                            raise self.error(what.span, "an index must be a whole number")
                    idx = np.broadcast_to(np.asarray(q.value, dtype=np.int64), (total,))
                    bad = (idx < m.lo) | (idx > m.lo + m.count - 1)
                    if np.any(bad):
                        k = int(np.flatnonzero(bad)[0])
                        binding = ", ".join(
                            f"{v} = {int(np.broadcast_to(q2.value, (total,))[k])}"
                            for v, q2 in env.items()
                            if not v.startswith("*")
                        )
                        raise self.error(
                            what.span,
                            f"index {int(idx[k])} is out of range for {m.name}"
                            f"[{m.lo}..{m.lo + m.count - 1}]"
                            + (f" (when {binding})" if binding else ""),
                            "use % to wrap around, or a for loop over the valid indices",
                        )
                rows = rows + m.offsets[np.asarray(idx) - m.lo]
                # Descend: later segments index into this member's block.
            rows_out.append(rows)
        return rows_out, total

    # -- links ----------------------------------------------------------------------------------

    def link_props(self, via: ast.Via | None, attrs: tuple, scope: _Scope, span: Span):
        """(bandwidth per lane, latency, lanes, type index, half duplex) of a connection."""
        lt = None
        if via is not None:
            lt = self.link_types.get(via.type_name)
            if lt is None and via.type_name in self.broken_link_types:
                raise _Abort()
            if lt is None:
                raise self.error(
                    via.span,
                    f"unknown link type {via.type_name!r}",
                    self.did_you_mean(via.type_name, self.link_types)
                    or "declare it: link NAME { bandwidth = ..., latency = ... }",
                )
        bw = lt.bandwidth if lt else None
        lat = lt.latency if lt else 0.0
        half = lt.half_duplex if lt else False
        for a in attrs:
            if not isinstance(a, ast.Attr):
                raise self.error(a.span, "a connection's block holds only link attributes")
            spec = LINK_ATTRIBUTES.get(a.name)
            if spec is None:
                raise self.error(
                    a.name_span,
                    f"unknown link attribute {a.name!r}",
                    self.did_you_mean(a.name, LINK_ATTRIBUTES),
                )
            v = self.attr_value(a, spec, scope)
            if a.name == "bandwidth":
                bw = v
            elif a.name == "latency":
                lat = v
            elif a.name == "duplex":
                if v not in ("full", "half"):
                    raise self.error(a.value.span, 'duplex must be "full" or "half"')
                half = v == "half"
        if bw is None:
            raise self.error(
                span,
                "this link has no bandwidth",
                "give it a type (via nvlink4) or { bandwidth = 50 GB/s }",
            )
        lanes = 1.0
        if via is not None and via.lanes is not None:
            q = self.number(via.lanes, scope)
            if q.dim != COUNT or isinstance(q.value, np.ndarray) or q.value <= 0:
                hint = None
                if isinstance(via.lanes, ast.BinOp) and via.lanes.op == "/" and q.integral:
                    hint = (
                        "whole numbers divide to whole numbers, rounded down; for a "
                        "fraction of a lane write a decimal, e.g. x(16.0 / 32)"
                    )
                shown = _fmt_num(q.value) if not isinstance(q.value, np.ndarray) else "an array"
                raise self.error(
                    via.lanes.span, f"a lane count must be a positive number, got {shown}", hint
                )
            lanes = float(q.value)
            if lanes < numeric.MIN_QUANTITY:
                raise self.error(
                    via.lanes.span,
                    f"a lane count of {_fmt_num(q.value)} is smaller than the limit of 1e-30",
                )
            if lanes > MAX_LANES:
                raise self.error(
                    via.lanes.span,
                    f"a lane count of {_fmt_num(q.value)} is more than the limit of {MAX_LANES:,}",
                )
        t = self.link_type_index(lt) if lt is not None else -1
        return bw, lat, lanes, t, half

    def add_links(
        self,
        b: _BodyBuilder,
        src: np.ndarray,
        dst: np.ndarray,
        props,
        simplex: bool,
        span: Span,
        meta: int = -1,
    ) -> int:
        bw, lat, lanes, t, half = props
        if len(src) == 0:
            return 0
        if b.num_links + len(src) > self.max_links:
            raise LimitExceeded(
                self.sink.make(
                    span,
                    f"the topology would have more than {self.max_links:,} links",
                    _CAP_HINT,
                )
            )
        codes = b.kind_codes()
        for rows, side in ((src, "left"), (dst, "right")):
            bad = np.isin(codes[rows], _CONTAINER_CODES)
            if np.any(bad):
                k = int(np.flatnonzero(bad)[0])
                kind = KINDS[codes[rows[k]]]
                raise self.error(
                    span,
                    f"cannot connect a container (the {side} end is a {kind})",
                    "connect one of the devices inside it, e.g. node[0].nic[0]",
                )
        loops = src == dst
        if np.any(loops):
            raise self.error(
                span,
                "a component cannot be linked to itself",
                "check the index expressions on both ends",
            )
        lanes_arr = np.broadcast_to(np.asarray(lanes, dtype=np.float64), src.shape)
        bandwidth = bw * lanes_arr
        for extreme in (bandwidth.max(), bandwidth.min()):
            why = numeric.check_quantity(float(extreme))
            if why is not None:
                raise self.error(
                    span,
                    f"a link's bandwidth of {format_si(float(extreme), BANDWIDTH)} "
                    f"(lanes included) {why}",
                    "check the lane count and the link type's bandwidth",
                )
        part = {
            "src": src.astype(np.int64),
            "dst": dst.astype(np.int64),
            "bandwidth": bandwidth,
            "latency": np.full(len(src), lat),
            "lanes": lanes_arr.copy(),
            "type": np.full(len(src), t, dtype=np.int32),
            "simplex": np.full(len(src), simplex),
            "half": np.full(len(src), half),
            "origin": np.full(len(src), self.span_id(span), dtype=np.int32),
            "meta": np.full(len(src), meta, dtype=np.int32),
        }
        start = b.part_links
        b.part_links += len(src)
        b.link_parts.append(part)
        b.num_links += len(src)
        return start

    def add_links_stmt(self, b: _BodyBuilder, s, scope: _Scope) -> None:
        if isinstance(s, ast.For):
            lo = self.count(s.lo, scope, "a loop start")
            hi = self.count(s.hi, scope, "a loop end")
            for body_stmt in s.body:
                if not isinstance(body_stmt, ast.Connect | ast.Pattern | ast.For | ast.Const):
                    raise self.error(body_stmt.span, "a for loop holds connections only")
            # Charged before the first iteration: an inner loop charges again each time it
            # runs, so nested loops are bounded by their product, not each by itself.
            self.charge_steps(max(0, hi - lo + 1) * max(1, len(s.body)), s.span)
            for i in range(lo, hi + 1):
                inner = scope.child({s.var: _Q(i, COUNT)})
                for body_stmt in s.body:
                    if isinstance(body_stmt, ast.Const):
                        self.declare_const(body_stmt, inner)
                    else:
                        self.add_links_stmt(b, body_stmt, inner)
            return
        if isinstance(s, ast.Connect):
            metas = [a for a in s.attrs if isinstance(a, ast.Meta)]
            attrs = tuple(a for a in s.attrs if not isinstance(a, ast.Meta))
            props = self.link_props(s.via, attrs, scope, s.span)
            meta = -1
            for m in metas:
                if m.path is not None:
                    raise self.error(m.path.span, "a connection's meta block takes no path")
                meta = len(self.link_metas)
                self.link_metas.append(self.meta_entries(m, scope))
            (src, dst), _ = self.resolve(b, [s.left, s.right], scope)
            self.add_links(b, src, dst, props, s.op == "->", s.span, meta)
            return
        self.add_pattern(b, s, scope)

    def add_pattern(self, b: _BodyBuilder, p: ast.Pattern, scope: _Scope) -> None:
        from .fabrics import plan_fabric

        first = p.args[0]
        if not isinstance(first, ast.Ref):
            raise self.error(
                first.span, f"{p.name}() takes the components to connect first, e.g. ring(gpu[*])"
            )
        (rows,), _ = self.resolve(b, [first.path], scope)
        args: dict[str, Any] = {}
        dims = []
        for a in p.args[1:]:
            v = self.eval(a, scope)
            items = v if isinstance(v, tuple) else (v,)
            for item in items:
                if not isinstance(item, _Q) or item.dim != COUNT or not item.integral:
                    raise self.error(a.span, f"{p.name}() dimensions are whole numbers")
                dims.append(int(item.value))
        if dims:
            args["dims"] = tuple(dims)
        props = self.link_props(p.via, p.attrs, scope, p.span)
        try:
            plan = plan_fabric(p.name, len(rows), args)
        except ValueError as e:
            raise self.error(p.name_span, str(e)) from None
        if plan.groups:
            raise self.error(
                p.name_span,
                f"{p.name} builds switches; write it as a fabric",
                f"fabric {p.name} NAME {{ hosts = ..., ... }}",
            )
        src, dst = rows[plan.a], rows[plan.b]
        bw, lat, _lanes, t, half = props
        start = self.add_links(
            b, src, dst, (bw, lat, props[2] * plan.lanes, t, half), False, p.span
        )
        info = FabricInfo(
            p.name,
            p.name,
            dict(plan.params, link_bandwidth=bw * props[2]),
            rows,
            np.zeros(0, dtype=np.int64),
            np.zeros(0),
            p.span,
        )
        b.fabrics.append((info, rows, np.zeros(0, dtype=np.int64), start, len(src)))

    def add_fabric(self, b: _BodyBuilder, f: ast.Fabric, scope: _Scope) -> None:
        from .fabrics import GENERATORS, plan_fabric

        if f.generator not in GENERATORS:
            raise self.error(
                f.generator_span,
                f"unknown fabric generator {f.generator!r}",
                self.did_you_mean(f.generator, GENERATORS)
                or f"generators: {', '.join(sorted(GENERATORS))}",
            )
        if f.name in b.members:
            raise self.error(f.name_span, f"{f.name!r} is declared twice in this body")
        self.check_id_clash(b, f.name, 0, 1, False, f.name_span)
        hosts = None
        link = uplink = None
        args: dict[str, Any] = {}
        for a in f.attrs:
            if not isinstance(a, ast.Attr):
                raise self.error(a.span, "a fabric's block holds only its settings")
            if a.name == "hosts":
                if not isinstance(a.value, ast.Ref):
                    raise self.error(a.value.span, "hosts are a path such as node[*].nic[*]")
                (hosts,), _ = self.resolve(b, [a.value.path], scope)
            elif a.name in ("link", "uplink"):
                v = self.eval(a.value, scope)
                if not isinstance(v, _LinkTypeVal):
                    raise self.error(a.value.span, f"{a.name} must name a link type")
                if a.name == "link":
                    link = v.type
                else:
                    uplink = v.type
            else:
                v = self.eval(a.value, scope)
                items = v if isinstance(v, tuple) else (v,)
                if not all(
                    isinstance(x, _Q) and x.dim == COUNT and not isinstance(x.value, np.ndarray)
                    for x in items
                ):
                    what = "plain numbers" if isinstance(v, tuple) else "a plain number"
                    raise self.error(a.value.span, f"{a.name} must be {what}")
                plain = tuple(int(x.value) if x.integral else float(x.value) for x in items)
                args[a.name] = plain if isinstance(v, tuple) else plain[0]
        if hosts is None:
            raise self.error(f.span, "a fabric needs hosts = PATH (the components it connects)")
        if link is None:
            raise self.error(f.span, "a fabric needs link = LINK_TYPE for its host links")
        uplink = uplink or link
        args["link_bandwidth"] = link.bandwidth
        args["uplink_bandwidth"] = uplink.bandwidth
        try:
            plan = plan_fabric(f.generator, len(hosts), args)
        except ValueError as e:
            raise self.error(f.generator_span, str(e)) from None
        n_sw = sum(c for _, c in plan.groups)
        if b.cursor + 1 + n_sw > self.max_nodes:
            raise LimitExceeded(
                self.sink.make(f.span, "this fabric is larger than the cap", _CAP_HINT)
            )
        # The fabric is a container member holding one array member per switch group.
        origin = self.span_id(f.name_span)
        switch_block = self.build_block(
            "switch", [], origin, self.template_id(f"{f.generator}-switch")
        )
        inner = _BodyBuilder("group", origin, self.template_id(f"fabric:{f.generator}"))
        for gname, count in plan.groups:
            offs = inner.cursor + np.arange(count, dtype=np.int64)
            inner.members[gname] = _Member(gname, 0, count, True, offs, switch_block, f.span)
            inner.parts.append(switch_block)
            inner.part_counts.append(count)
            inner.cursor += count
        fab_block = self.finish(inner)
        base = b.cursor
        self.add_member(b, _Member(f.name, 0, 1, False, np.array([base]), fab_block, f.name_span))
        b.parts.append(fab_block)
        b.part_counts.append(1)
        b.cursor += fab_block.size
        # Combined index space: hosts first, then the switches in group order.
        switch_rows = base + 1 + np.arange(n_sw, dtype=np.int64)
        space = np.concatenate([hosts, switch_rows])
        src, dst = space[plan.a], space[plan.b]
        tier = np.asarray(plan.tier)
        start = None
        count_links = 0
        for tier_value, lt in ((0, link), (1, uplink)):
            sel = tier == tier_value
            if not np.any(sel):
                continue
            t = self.link_type_index(lt)
            s0 = self.add_links(
                b,
                src[sel],
                dst[sel],
                (lt.bandwidth, lt.latency, plan.lanes[sel], t, lt.half_duplex),
                False,
                f.span,
            )
            start = s0 if start is None else start
            count_links += int(sel.sum())
        info = FabricInfo(
            f.name, f.generator, dict(plan.params), hosts, switch_rows, np.zeros(0), f.span
        )
        b.fabrics.append((info, hosts, switch_rows, start or 0, count_links))

    def link_type_index(self, lt: LinkType) -> int:
        if lt.name not in self.type_index:
            self.type_index[lt.name] = len(self.type_names)
            self.type_names.append(lt.name)
        return self.type_index[lt.name]


def _digits_start(name: str) -> int:
    """Where the run of digits that ends ``name`` starts (``len(name)`` if there is none)."""
    i = len(name)
    while i > 1 and name[i - 1].isdigit():
        i -= 1
    return i


def _shared_id(shorter: tuple, longer: tuple) -> str | None:
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


def _constants(scope: _Scope) -> tuple[tuple[str, float, Dim], ...]:
    """The scalar numbers visible in ``scope`` (inner names hide outer ones), sorted."""
    seen: dict[str, tuple[float, Dim]] = {}
    s: _Scope | None = scope
    while s is not None:
        for name, v in s.values.items():
            if name not in seen and isinstance(v, _Q) and not isinstance(v.value, np.ndarray):
                seen[name] = (float(v.value), v.dim)
        s = s.parent
    return tuple((n, v, d) for n, (v, d) in sorted(seen.items()))


def _in_scope(scope: _Scope, name: str) -> bool:
    try:
        scope.lookup(name)
    except KeyError:
        return False
    return True


def _hashable(v: Any) -> Any:
    if isinstance(v, _Q):
        return (float(v.value), v.dim)
    if isinstance(v, tuple):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, _LinkTypeVal):
        return ("link", v.type.name)
    return v


def _describe(v: Any) -> str:
    if isinstance(v, _Q):
        return dim_name(v.dim)
    if isinstance(v, str):
        return "text"
    if isinstance(v, tuple):
        return "a tuple"
    if isinstance(v, _LinkTypeVal):
        return f"the link type {v.type.name!r}"
    return type(v).__name__


def _fmt_num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# -- entry point ---------------------------------------------------------------------------------


def elaborate(
    module: ast.Module,
    *,
    texts: Mapping[str, str] | None = None,
    root: FsPath | None = None,
    allow_import_outside: bool = False,
    max_nodes: int = MAX_NODES,
    max_steps: int = MAX_STEPS,
    max_bytes: int = MAX_SOURCE_BYTES,
    overrides: Iterable = (),
) -> Topology:
    """Give a parsed module its meaning: a :class:`~topodsl.topology.Topology`.

    Parameters
    ----------
    module : the parsed file.
    texts : source text by file name, for diagnostics.
    root : directory imports must stay inside (default: the module file's directory).
    allow_import_outside : lift that restriction.
    max_nodes : cap on components (links: twice as many).
    max_steps : cap on statements run by ``for`` loops.
    max_bytes : cap on the bytes of source its imports may add.
    overrides : ``"NAME=VALUE"`` texts (or :class:`~topodsl.params.Override`) setting top-level
        constants, as ``-D`` does (see :mod:`topodsl.params`).

    Raises
    ------
    ElaborationError
        Every problem found, each with its ``file:line:col``.

    Examples
    --------
    >>> from topodsl.parser import parse
    >>> m = parse('link l { bandwidth = 10 GB/s }\\n'
    ...           'node n { gpu g[2]\\n connect g[0] -- g[1] via l x2 }')
    >>> t = elaborate(m)
    >>> t.nodes.ids, float(t.links.bandwidth[0])
    (['n', 'n.g0', 'n.g1'], 20000000000.0)
    """
    texts = dict(texts or {})
    if root is None:
        root = FsPath(module.file).resolve().parent if module.file != "<string>" else FsPath.cwd()
    el = _Elaborator(
        texts, FsPath(root), allow_import_outside, max_nodes, max_steps, max_bytes, overrides
    )
    stmts = el.load_module(module, (str(FsPath(module.file).resolve()),))
    el.top_constants.check_used()
    top = _BodyBuilder("group", -1, el.template_id("<top>"))
    try:
        el.run_body(top, tuple(stmts), el.globals)
        el.sink.raise_if_errors()
        block = el.finish(top)
    except _Abort:  # pragma: no cover - run_body catches these
        el.sink.raise_if_errors()
        raise
    topo = _assemble(el, block, module.file)
    el.sink.raise_if_errors()
    return topo


def _assemble(el: _Elaborator, block: _Block, source: str) -> Topology:
    # Drop the virtual top-level row 0: everything shifts down by one.
    n = block.size - 1
    parent = block.parent[1:] - 1
    parent[parent < 0] = -1
    nodes = NodeTable(
        ids=block.names[1:],
        kind=block.kind[1:].astype(np.uint8),
        parent=parent.astype(np.int32),
        ports=block.ports[1:].astype(np.int32),
        origin=block.origin[1:].astype(np.int32),
        template=block.template[1:].astype(np.int32),
        extra={r - 1: d for r, d in block.extra.items() if r > 0},
        **{f: block.fields[f][1:] for f in _FIELDS},
    )
    L = block.links
    links = LinkTable(
        src=(L["src"] - 1).astype(np.int32),
        dst=(L["dst"] - 1).astype(np.int32),
        bandwidth=L["bandwidth"],
        latency=L["latency"],
        lanes=L["lanes"],
        type=L["type"],
        simplex=L["simplex"],
        half_duplex=L["half"],
        origin=L["origin"],
        extra={e: {"meta": el.link_metas[m]} for e, m in enumerate(L["meta"].tolist()) if m >= 0},
    )
    _check_ports(el, nodes, links)
    warnings = el.sink.all_warnings() + _unconnected(el, nodes, links)[:MAX_DIAGNOSTICS]
    fabrics = tuple(
        FabricInfo(
            info.name,
            info.generator,
            info.params,
            hosts - 1,
            switches - 1,
            np.asarray(lrows, dtype=np.int64),
            info.span,
        )
        for info, hosts, switches, lrows in block.fabrics
    )
    ids = nodes.ids
    asserts = []
    for a, rows, consts in block.asserts:
        scopes = tuple("" if r == 0 else ids[r - 1] for r in rows.tolist())
        asserts.append(AssertSpec(a, scopes, consts))
    if n == 0:
        el.sink.warning(None, "the file declares no components")
        warnings = el.sink.all_warnings()
    return Topology(
        nodes=nodes,
        links=links,
        link_type_names=tuple(el.type_names),
        link_types=dict(el.link_types),
        spans=tuple(el.spans),
        templates=tuple(el.templates),
        source=source,
        warnings=tuple(warnings),
        assertions=tuple(asserts),
        fabrics=fabrics,
        source_texts=dict(el.texts),
        constants=el.top_constants.constants(),
        overrides=el.top_constants.settings(),
    )


def _check_ports(el: _Elaborator, nodes: NodeTable, links: LinkTable) -> None:
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


def _unconnected(el: _Elaborator, nodes: NodeTable, links: LinkTable) -> list:
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
