"""The abstract syntax tree: frozen dataclasses, each with the source :class:`Span` it came from.

The parser (:mod:`topodsl.parser`) builds these from lark's tree and checks nothing about their
meaning; :mod:`topodsl.elaborate` gives them meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .errors import Span

__all__ = [
    "Number", "String", "Ref", "BinOp", "Unary", "Call", "Tuple", "SelectorLit", "Expr",
    "Member", "Direction", "KeywordArg", "CallArg",
    "Star", "IndexRange", "Index", "Segment", "Path",
    "Attr", "Param", "Arg", "ArraySpec", "Instance", "Connect", "Pattern", "Fabric", "For",
    "Const", "Assert", "Meta", "WorkloadSection", "Workload", "Stmt", "LinkDecl", "Def",
    "Import", "Module",
]  # fmt: skip


# -- expressions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    """A number with an optional unit, as written: ``25 GB/s`` is ``Number(25.0, "GB/s")``."""

    value: float
    unit: str | None
    integral: bool
    span: Span
    unit_span: Span | None = None


@dataclass(frozen=True, slots=True)
class String:
    """A double-quoted string."""

    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Ref:
    """A name or a path used as a value: a constant, a parameter, an index variable, a link type,
    or a selection of components (``node[*].nic[*]``)."""

    path: Path
    span: Span


@dataclass(frozen=True, slots=True)
class BinOp:
    """``left op right`` with op one of ``+ - * / % **``."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    """``-operand``."""

    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """``func(args...)``: a built-in function or, in assertions, an analysis."""

    func: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Tuple:
    """``(a, b, ...)``, e.g. torus dimensions."""

    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class SelectorLit:
    """``kind:gpu``, ``role:memory`` or ``type:nvlink4`` (links of a type) written in an
    expression."""

    text: str
    span: Span


# -- paths ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Star:
    """``[*]``: every index of an array."""

    span: Span


@dataclass(frozen=True, slots=True)
class IndexRange:
    """``[lo..hi]``: an inclusive range of indices."""

    lo: Expr
    hi: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Segment:
    """One dotted part of a path: ``gpu[i]`` is ``Segment("gpu", Ref(i))``."""

    name: str
    index: Index | None
    span: Span


@dataclass(frozen=True, slots=True)
class Path:
    """A dotted path such as ``node[*].nic[r]``."""

    segments: tuple[Segment, ...]
    span: Span

    @property
    def simple_name(self) -> str | None:
        """The name if the path is one segment without an index, else ``None``."""
        if len(self.segments) == 1 and self.segments[0].index is None:
            return self.segments[0].name
        return None


@dataclass(frozen=True, slots=True)
class Member:
    """``call(...).name``: one figure of a call's result, e.g.
    ``reach(gpu[0], within 1 us).capacity``."""

    value: Call
    name: str
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Direction:
    """``a -> b`` as a call argument: from the components ``a`` to the components ``b``
    (``op`` is ``"->"``; ``"--"`` parses too and is rejected where it has no meaning)."""

    source: Expr
    op: str
    target: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class KeywordArg:
    """``from X``, ``to X``, ``within X`` or ``name = X`` as a call argument."""

    name: str
    value: Expr
    span: Span


Expr = Union[Number, String, Ref, BinOp, Unary, Call, Tuple, SelectorLit, Member]  # noqa: UP007
CallArg = Union[Expr, Direction, KeywordArg]  # noqa: UP007
Index = Union[Star, IndexRange, Expr]  # noqa: UP007


# -- statements ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attr:
    """``name = value``: an attribute of the enclosing component, link type or fabric."""

    name: str
    value: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Param:
    """A definition's parameter, with its default value if it has one."""

    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Arg:
    """``name = value`` passed to a definition."""

    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """``[n]`` (``lo`` is ``None``: indices 0..n-1) or ``[lo..hi]`` (inclusive)."""

    lo: Expr | None
    hi: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Instance:
    """``TYPE(args) name[array] { body }``: components of a built-in kind or a definition."""

    type_name: str
    type_span: Span
    args: tuple[Arg, ...]
    name: str
    name_span: Span
    array: ArraySpec | None
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Via:
    """``via TYPE xN``."""

    type_name: str
    span: Span
    lanes: Expr | None


@dataclass(frozen=True, slots=True)
class Connect:
    """``connect left -- right via TYPE xN { attrs }`` (``->`` for a one-way link)."""

    left: Path
    op: str
    right: Path
    via: Via | None
    attrs: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Pattern:
    """``connect ring(gpu[*]) via TYPE``: a standard pattern of links among components."""

    name: str
    name_span: Span
    args: tuple[Expr, ...]
    via: Via | None
    attrs: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Fabric:
    """``fabric GENERATOR name { attrs }``: a generated switch fabric."""

    generator: str
    generator_span: Span
    name: str
    name_span: Span
    attrs: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class For:
    """``for var in lo..hi { body }`` (inclusive)."""

    var: str
    lo: Expr
    hi: Expr
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Const:
    """``const NAME = value``."""

    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Assert:
    """``assert [name:] left OP right``: a design promise, checked by ``topodsl check``."""

    name: str | None
    left: Expr
    op: str
    right: Expr
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Meta:
    """``meta [path] { key = value, ... }``: free-form metadata (text or plain numbers) for the
    enclosing component or connection, or for the members ``path`` names."""

    path: Path | None
    entries: tuple[Attr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class WorkloadSection:
    """``parallel { tp = 8, dp = 4 }``: one section of a workload, its ``name = value`` entries."""

    name: str
    name_span: Span
    entries: tuple[Attr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Workload:
    """``workload NAME { ... }`` (or ``job NAME { ... }``): a job that runs on the design, its
    top-level entries and its sections; :mod:`topodsl.workload` gives it meaning."""

    keyword: str
    name: str
    name_span: Span
    entries: tuple[Attr, ...]
    sections: tuple[WorkloadSection, ...]
    span: Span


Stmt = Union[Const, Instance, Attr, Connect, Pattern, Fabric, For, Assert, Meta, Workload]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class LinkDecl:
    """``link NAME { bandwidth = ..., latency = ... }``: a link type."""

    name: str
    attrs: tuple[Attr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Def:
    """``def KIND NAME(params) { body }``: a reusable component definition."""

    kind: str
    kind_span: Span
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Import:
    """``import "file.topo"``."""

    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Module:
    """A whole file."""

    file: str
    items: tuple[Import | LinkDecl | Def | Stmt, ...]
