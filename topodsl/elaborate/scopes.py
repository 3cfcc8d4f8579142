"""Scopes and constants: which names a body sees, and what they are worth.

A :class:`Scope` maps names to values and has a parent: the top level (the file's constants,
which definitions and link types see too), a definition's parameters, a body's own constants,
a loop variable, the index variables of one connection. :class:`Values` is the language's one
evaluator (:mod:`topodsl.evaluate`) with the names of a scope, and link type names as values
(``link = eth400`` in a fabric); its errors are recorded in the elaboration's sink.

>>> from topodsl.parser import parse
>>> from topodsl.elaborate.state import Elaboration
>>> from pathlib import Path
>>> el = Elaboration({}, Path("."), allow_outside=False, max_nodes=100)
>>> for c in parse("const N = 8\\nconst HALF = N / 3").items:
...     declare_const(el, c, el.globals)
>>> el.globals.lookup("HALF").value, visible_constants(el.globals)[0][:2]
(2, ('HALF', 2))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import ast
from ..evaluate import Evaluator, Quantity
from ..topology import LinkType
from ..units import Dim

if TYPE_CHECKING:
    from .state import Abort, Elaboration

__all__ = [
    "Scope",
    "LinkTypeValue",
    "Values",
    "declare_const",
    "visible_constants",
    "in_scope",
    "hashable",
]


class Scope:
    """Names visible while elaborating a body: constants, parameters, loop and index variables."""

    __slots__ = ("values", "parent")

    def __init__(self, parent: Scope | None = None, values: dict | None = None):
        self.parent = parent
        self.values: dict[str, Any] = values if values is not None else {}

    def lookup(self, name: str) -> Any:
        """The value of ``name`` here or in an enclosing scope (``KeyError`` if none)."""
        s: Scope | None = self
        while s is not None:
            if name in s.values:
                return s.values[name]
            s = s.parent
        raise KeyError(name)

    def names(self) -> list[str]:
        """Every name visible here (for "did you mean")."""
        out: list[str] = []
        s: Scope | None = self
        while s is not None:
            out += list(s.values)
            s = s.parent
        return out

    def child(self, values: dict | None = None) -> Scope:
        """A scope inside this one."""
        return Scope(self, values or {})


def in_scope(scope: Scope, name: str) -> bool:
    """Whether ``name`` is visible in ``scope``."""
    try:
        scope.lookup(name)
    except KeyError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class LinkTypeValue:
    """A link type named in an expression (``link = eth400`` in a fabric)."""

    type: LinkType

    @property
    def described(self) -> str:
        return f"the link type {self.type.name!r}"


class Values(Evaluator):
    """The evaluator of :mod:`topodsl.evaluate` with the names of a :class:`Scope`."""

    def __init__(self, el: Elaboration):
        self.el = el

    def error(self, span, message: str, hint: str | None = None) -> Abort:
        return self.el.error(span, message, hint)

    def components_hint(self, text: str) -> str:
        return "components are named in connections and fabric hosts, selectors in assertions"

    def ref(self, e: ast.Ref, scope: Scope) -> Any:
        name = e.path.simple_name
        if name is None:
            return super().ref(e, scope)
        try:
            return scope.lookup(name)
        except KeyError:
            pass
        link_types = self.el.link_types
        if name in link_types:
            return LinkTypeValue(link_types[name])
        raise self.unknown_name(e, name, scope.names() + list(link_types))


def declare_const(el: Elaboration, c: ast.Const, scope: Scope) -> None:
    """``const NAME = EXPR`` in ``scope``."""
    if c.name in scope.values:
        raise el.error(c.span, f"constant {c.name!r} is declared twice")
    value = el.eval(c.value, scope)
    if scope is el.globals:  # a top-level constant: -D may set it, and the Topology records it
        value = el.top_constants.declared(el, c, value, scope)
    scope.values[c.name] = value


def visible_constants(scope: Scope) -> tuple[tuple[str, int | float, Dim], ...]:
    """The numbers visible in ``scope`` (inner names hide outer ones), sorted by name: what an
    assertion written there may use. Whole numbers stay ints, as they divide differently."""
    seen: dict[str, tuple[int | float, Dim]] = {}
    s: Scope | None = scope
    while s is not None:
        for name, v in s.values.items():
            if name not in seen and isinstance(v, Quantity) and not isinstance(v.lo, np.ndarray):
                seen[name] = (int(v.lo) if v.integral else float(v.lo), v.dim)
        s = s.parent
    return tuple((n, v, d) for n, (v, d) in sorted(seen.items()))


def hashable(v: Any) -> Any:
    """A definition's argument as its block's template name shows it: whole numbers apart from
    decimals (``n = 2`` and ``n = 2.0`` divide differently, so they build different blocks)."""
    if isinstance(v, Quantity):
        return (int(v.lo) if v.integral else float(v.lo), v.dim)
    if isinstance(v, tuple):
        return tuple(hashable(x) for x in v)
    if isinstance(v, LinkTypeValue):
        return ("link", v.type.name)
    return v
