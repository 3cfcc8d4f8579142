"""The passes over a body, and where each statement goes.

A body (the top level, a definition's, an instance's own) is elaborated in three passes, so
that a connection may name a component declared below it and reach into a fabric's switches:

1. constants, attributes and components, in order (:mod:`.scopes`, :mod:`.attributes`,
   :mod:`.components`);
2. fabrics, which add switch components (:mod:`.patterns`);
3. connections, patterns and ``for`` loops of them (:mod:`.connections`, :mod:`.patterns`),
   ``meta`` blocks, and the statements recorded for later: assertions (:data:`RECORDED`).

A statement that fails records its diagnostic and is skipped (:class:`~.state.Abort`); the
others still run, so one elaboration reports every problem of a file. A new kind of statement
adds its room: a module with its function, and a line in the pass it belongs to here.

>>> from topodsl import loads
>>> t = loads("link l { bandwidth = 1 GB/s }\\n"
...           "node n { connect a -- b via l\\n gpu a; gpu b }")  # pass 3 sees pass 1's
>>> t.num_links
1
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ast
from ..evaluate import Quantity
from ..units import COUNT
from .attributes import add_meta, set_attribute
from .blocks import Block, BodyBuilder, finish
from .components import add_instance
from .connections import connect
from .patterns import add_fabric, add_pattern
from .scopes import Scope, declare_const, visible_constants
from .state import Abort, Elaboration

__all__ = ["build_block", "run_body", "RECORDED"]

#: Statements kept with the constants visible where they stand, once per instance of the
#: body (they are evaluated after elaboration, on the Topology): assertions.
#: Workloads travel with the assertions to learn where they were declared.
RECORDED: tuple[type, ...] = (ast.Assert, ast.Workload)


def build_block(
    el: Elaboration,
    kind: str,
    bodies: list[tuple[tuple, Scope]],
    origin: int,
    template: int,
) -> Block:
    """The block of a component of ``kind`` whose body is ``bodies`` (a definition's, then
    the instance's own), each ``(statements, scope)``."""
    b = BodyBuilder(kind, origin, template)
    for stmts, scope in bodies:
        run_body(el, b, stmts, scope)
    return finish(b)


def run_body(el: Elaboration, b: BodyBuilder, stmts: tuple, scope: Scope) -> None:
    """Elaborate ``stmts`` into ``b`` in the three passes."""
    local = scope.child()
    # Pass 1: constants, attributes, components, in order.
    for s in stmts:
        try:
            if isinstance(s, ast.Const):
                declare_const(el, s, local)
            elif isinstance(s, ast.Attr):
                set_attribute(el, b, s, local)
            elif isinstance(s, ast.Instance):
                add_instance(el, b, s, local)
        except Abort:
            pass
    # Pass 2: fabrics (they add switches).
    for s in stmts:
        try:
            if isinstance(s, ast.Fabric):
                add_fabric(el, b, s, local)
        except Abort:
            pass
    # Pass 3: links, meta blocks, and what is recorded for later.
    for s in stmts:
        try:
            if isinstance(s, ast.Connect | ast.Pattern | ast.For):
                link_statement(el, b, s, local)
            elif isinstance(s, RECORDED):
                b.asserts.append((s, np.zeros(1, dtype=np.int64), visible_constants(local)))
            elif isinstance(s, ast.Meta):
                add_meta(el, b, s, local)
        except Abort:
            pass


def link_statement(el: Elaboration, b: BodyBuilder, s: Any, scope: Scope) -> None:
    """A connection, a pattern, or a ``for`` loop of them."""
    if isinstance(s, ast.For):
        loop(el, b, s, scope)
    elif isinstance(s, ast.Connect):
        connect(el, b, s, scope)
    else:
        add_pattern(el, b, s, scope)


def loop(el: Elaboration, b: BodyBuilder, s: ast.For, scope: Scope) -> None:
    """``for VAR in LO..HI { ... }``: its connections once per value, in a scope of their own."""
    lo = el.whole(s.lo, scope, "a loop start")
    hi = el.whole(s.hi, scope, "a loop end")
    for body_stmt in s.body:
        if not isinstance(body_stmt, ast.Connect | ast.Pattern | ast.For | ast.Const):
            raise el.error(body_stmt.span, "a for loop holds connections only")
    # Charged before the first iteration: an inner loop charges again each time it runs, so
    # nested loops are bounded by their product, not each by itself.
    el.charge_steps(max(0, hi - lo + 1) * max(1, len(s.body)), s.span)
    for i in range(lo, hi + 1):
        inner = scope.child({s.var: Quantity.exact(i, COUNT)})
        for body_stmt in s.body:
            if isinstance(body_stmt, ast.Const):
                declare_const(el, body_stmt, inner)
            else:
                link_statement(el, b, body_stmt, inner)
