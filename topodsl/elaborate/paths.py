"""Paths and index grids: the rows that ``node[*].nic[r]`` names, for every binding at once.

A connection ``connect node[*].nic[r] -- leaf[r] via eth400`` is resolved on a grid of index
bindings: every ``[*]`` (and every range ``[2..5]``) is an independent variable, every bare
name used as an index (``r``) that is not a constant is one variable shared by all its uses
(its ranges must agree), and other index expressions (``pcie[i / 2]``, ``gpu[(i + 1) % 8]``)
are evaluated by :mod:`topodsl.evaluate` on numpy arrays over the whole grid at once. Row
numbers come from adding member offsets down the path. An index out of range is reported with
the binding that caused it; a grid above the link cap is refused before it is built.

>>> from topodsl import loads
>>> t = loads("link l { bandwidth = 1 GB/s }\\n"
...           "node n { gpu g[4]; cpu c[2]; connect g[i] -- c[i / 2] via l }")
>>> [(t.nodes.ids[s], t.nodes.ids[d]) for s, d in zip(t.links.src, t.links.dst)][1:3]
[('n.g1', 'n.c0'), ('n.g2', 'n.c1')]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ast, numeric
from ..errors import Span
from ..evaluate import Quantity
from ..units import COUNT
from .blocks import BodyBuilder, Member
from .scopes import Scope, in_scope
from .state import Elaboration

__all__ = ["resolve"]

# One step of a path: (member, how, what) with how None (a single component), "var" (what
# is the grid variable) or "expr" (what is the index expression); ("self", None, None).
_Step = tuple[Any, str | None, Any]


def resolve(
    el: Elaboration, b: BodyBuilder, paths: list[ast.Path], scope: Scope
) -> tuple[list[np.ndarray], int]:
    """Rows (local to ``b``) of each path, on a shared grid of index bindings, and the number
    of bindings."""
    domains: dict[str, tuple[int, int, Span]] = {}
    plans = [_plan(el, b, path, scope, domains) for path in paths]
    sizes = [hi - lo + 1 for lo, hi, _ in domains.values()]
    total = int(np.prod(sizes, dtype=np.float64)) if sizes else 1
    if total > el.max_links:
        raise el.limit(
            paths[0].span,
            f"this connection would make {total:,} links; the limit is {el.max_links:,}",
            "check for an all-to-all ([*] on both sides) by mistake",
        )
    grids = np.indices(sizes, dtype=np.int64).reshape(len(sizes), -1) if sizes else None
    env = {}
    for k, (v, (lo, _hi, _s)) in enumerate(domains.items()):
        env[v] = Quantity.exact(grids[k] + lo if grids is not None else lo, COUNT)
    var_scope = scope.child({k: v for k, v in env.items() if not k.startswith("*")})
    return [_rows(el, plan, env, var_scope, total) for plan in plans], total


def _plan(
    el: Elaboration,
    b: BodyBuilder,
    path: ast.Path,
    scope: Scope,
    domains: dict[str, tuple[int, int, Span]],
) -> list[_Step]:
    """The members a path descends through and how each is indexed; grid variables (and
    their ranges) are added to ``domains``."""
    plan: list[_Step] = []
    members = b.members
    for i, seg in enumerate(path.segments):
        if seg.name == "self" and i == 0:
            if seg.index is not None or len(path.segments) > 1:
                raise el.error(
                    seg.span,
                    "'self' is the enclosing component itself; name its children directly",
                )
            plan.append(("self", None, None))
            break
        m = members.get(seg.name)
        if m is None:
            where = "here" if members is b.members else "inside it"
            raise el.error(
                seg.span,
                f"no component named {seg.name!r} {where}",
                el.did_you_mean(seg.name, members),
            )
        if m.is_array and seg.index is None:
            raise el.error(
                seg.span,
                f"{seg.name} is an array of {m.count}; "
                f"say which: {seg.name}[*], {seg.name}[i] or {seg.name}[0]",
            )
        if not m.is_array and seg.index is not None:
            raise el.error(seg.span, f"{seg.name} is a single component, not an array")
        plan.append(_step(el, m, seg, scope, domains))
        members = m.block.members
    return plan


def _step(el: Elaboration, m: Member, seg: ast.Segment, scope: Scope, domains: dict) -> _Step:
    idx = seg.index
    last = m.lo + m.count - 1
    if idx is None:
        return (m, None, None)
    if isinstance(idx, ast.Star):
        v = f"*{len(domains)}"
        domains[v] = (m.lo, last, seg.span)
        return (m, "var", v)
    if isinstance(idx, ast.IndexRange):
        lo = el.whole(idx.lo, scope, "a range start")
        hi = el.whole(idx.hi, scope, "a range end")
        if lo < m.lo or hi > last or hi < lo:
            raise el.error(idx.span, f"range [{lo}..{hi}] is outside {seg.name}[{m.lo}..{last}]")
        v = f"*{len(domains)}"
        domains[v] = (lo, hi, seg.span)
        return (m, "var", v)
    name = idx.path.simple_name if isinstance(idx, ast.Ref) else None
    if name is not None and not in_scope(scope, name):
        dom = (m.lo, last, seg.span)
        if name in domains and domains[name][:2] != dom[:2]:
            prev = domains[name]
            raise el.error(
                seg.span,
                f"index {name} ranges over {prev[0]}..{prev[1]} at {prev[2]} but over "
                f"{dom[0]}..{dom[1]} here",
                "use a for loop or an explicit range to say which indices to pair",
            )
        domains.setdefault(name, dom)
        return (m, "var", name)
    return (m, "expr", idx)


def _rows(
    el: Elaboration, plan: list[_Step], env: dict[str, Quantity], var_scope: Scope, total: int
) -> np.ndarray:
    """The row of the path's last component for every binding of the grid."""
    rows = np.zeros(total, dtype=np.int64)
    for m, how, what in plan:
        if m == "self":
            break
        if how is None:
            rows = rows + int(m.offsets[0])
            continue
        idx = env[what].value if how == "var" else _index(el, m, what, env, var_scope, total)
        rows = rows + m.offsets[np.asarray(idx) - m.lo]
        # Descend: later segments index into this member's block.
    return rows


def _index(
    el: Elaboration, m: Member, e: Any, env: dict[str, Quantity], var_scope: Scope, total: int
) -> np.ndarray:
    """An index expression over the grid: whole numbers within the member's range."""
    q = el.number(e, var_scope)
    if q.dim != COUNT or not q.integral:
        if q.dim == COUNT and q.is_exact and np.all(np.asarray(q.value) % 1 == 0):
            try:
                q = Quantity.exact(numeric.to_whole("round", np.asarray(q.value)), COUNT)
            except numeric.NumericError as err:
                raise el.error(e.span, err.message, err.hint) from None
        else:
            raise el.error(e.span, "an index must be a whole number")
    idx = np.broadcast_to(np.asarray(q.value, dtype=np.int64), (total,))
    last = m.lo + m.count - 1
    bad = (idx < m.lo) | (idx > last)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        binding = ", ".join(
            f"{v} = {int(np.broadcast_to(q2.value, (total,))[k])}"
            for v, q2 in env.items()
            if not v.startswith("*")
        )
        raise el.error(
            e.span,
            f"index {int(idx[k])} is out of range for {m.name}[{m.lo}..{last}]"
            + (f" (when {binding})" if binding else ""),
            "use % to wrap around, or a for loop over the valid indices",
        )
    return idx
