"""Connections: ``connect A -- B via TYPE xN { ... }`` and ``A -> B``, and the links they add.

A connection's ends are resolved on one grid of index bindings (:mod:`.paths`), so that
``connect gpu[i] -- pex[i / 2]`` makes all its links in one statement; its properties come
from the link type, overridden by the connection's own block, times the lane count (a
fraction of a lane is fine: ``x(16.0 / 32)``). Links are appended to the body as one array
part per statement (:func:`add_links`, which patterns and fabrics use too), after the checks
of their ends (:func:`~topodsl.elaborate.checks.check_link_ends`) and of their bandwidth.

>>> from topodsl import loads
>>> t = loads("link l { bandwidth = 25 GB/s }\\nnode n { gpu g[2]; connect g[0] -> g[1] via l x4 }")
>>> float(t.links.bandwidth[0]), bool(t.links.simplex[0])
(100000000000.0, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ast, numeric
from ..errors import Span
from ..evaluate import format_number
from ..kinds import LINK_ATTRIBUTES
from ..limits import MAX_LANES
from ..topology import LinkType
from ..units import BANDWIDTH, COUNT, format_si
from .attributes import attribute_value, meta_entries
from .blocks import BodyBuilder
from .checks import check_link_ends
from .paths import resolve
from .scopes import Scope
from .state import Abort, Elaboration

__all__ = ["connect", "link_props", "add_links", "LinkProps"]

#: (bandwidth per lane, latency, lanes (a number or one per link), type index, half duplex)
LinkProps = tuple[float, float, Any, int, bool]


def connect(el: Elaboration, b: BodyBuilder, s: ast.Connect, scope: Scope) -> None:
    """``connect A -- B via TYPE xN { ... }`` (``A -> B``: one way)."""
    metas = [a for a in s.attrs if isinstance(a, ast.Meta)]
    attrs = tuple(a for a in s.attrs if not isinstance(a, ast.Meta))
    props = link_props(el, s.via, attrs, scope, s.span)
    meta = -1
    for m in metas:
        if m.path is not None:
            raise el.error(m.path.span, "a connection's meta block takes no path")
        meta = len(el.link_metas)
        el.link_metas.append(meta_entries(el, m, scope))
    (src, dst), _ = resolve(el, b, [s.left, s.right], scope)
    add_links(el, b, src, dst, props, s.op == "->", s.span, meta)


def link_props(
    el: Elaboration, via: ast.Via | None, attrs: tuple, scope: Scope, span: Span
) -> LinkProps:
    """(bandwidth per lane, latency, lanes, type index, half duplex) of a connection."""
    lt = _link_type(el, via)
    bw = lt.bandwidth if lt else None
    lat = lt.latency if lt else 0.0
    half = lt.half_duplex if lt else False
    for a in attrs:
        if not isinstance(a, ast.Attr):
            raise el.error(a.span, "a connection's block holds only link attributes")
        spec = LINK_ATTRIBUTES.get(a.name)
        if spec is None:
            raise el.error(
                a.name_span,
                f"unknown link attribute {a.name!r}",
                el.did_you_mean(a.name, LINK_ATTRIBUTES),
            )
        v = attribute_value(el, a, spec, scope)
        if a.name == "bandwidth":
            bw = v
        elif a.name == "latency":
            lat = v
        elif a.name == "duplex":
            if v not in ("full", "half"):
                raise el.error(a.value.span, 'duplex must be "full" or "half"')
            half = v == "half"
    if bw is None:
        raise el.error(
            span,
            "this link has no bandwidth",
            "give it a type (via nvlink4) or { bandwidth = 50 GB/s }",
        )
    lanes = 1.0 if via is None or via.lanes is None else _lanes(el, via.lanes, scope)
    t = el.link_type_index(lt) if lt is not None else -1
    return bw, lat, lanes, t, half


def _link_type(el: Elaboration, via: ast.Via | None) -> LinkType | None:
    if via is None:
        return None
    lt = el.link_types.get(via.type_name)
    if lt is None and via.type_name in el.broken_link_types:
        raise Abort()  # its declaration's error says it all
    if lt is None:
        raise el.error(
            via.span,
            f"unknown link type {via.type_name!r}",
            el.did_you_mean(via.type_name, el.link_types)
            or "declare it: link NAME { bandwidth = ..., latency = ... }",
        )
    return lt


def _lanes(el: Elaboration, e: ast.Expr, scope: Scope) -> float:
    """``x18`` or ``x(expr)``: a positive number of lanes, fractions allowed."""
    q = el.number(e, scope)
    if q.dim != COUNT or isinstance(q.lo, np.ndarray) or q.value <= 0:
        hint = None
        if isinstance(e, ast.BinOp) and e.op == "/" and q.integral:
            hint = (
                "whole numbers divide to whole numbers, rounded down; for a "
                "fraction of a lane write a decimal, e.g. x(16.0 / 32)"
            )
        shown = format_number(q.value) if not isinstance(q.lo, np.ndarray) else "an array"
        raise el.error(e.span, f"a lane count must be a positive number, got {shown}", hint)
    lanes = float(q.value)
    if lanes < numeric.MIN_QUANTITY:
        raise el.error(
            e.span, f"a lane count of {format_number(q.value)} is smaller than the limit of 1e-30"
        )
    if lanes > MAX_LANES:
        raise el.error(
            e.span,
            f"a lane count of {format_number(q.value)} is more than the limit of {MAX_LANES:,}",
        )
    return lanes


def add_links(
    el: Elaboration,
    b: BodyBuilder,
    src: np.ndarray,
    dst: np.ndarray,
    props: LinkProps,
    simplex: bool,
    span: Span,
    meta: int = -1,
) -> int:
    """Append links ``src[k] -- dst[k]`` to ``b``; their first row among ``b``'s own links."""
    bw, lat, lanes, t, half = props
    if len(src) == 0:
        return 0
    if b.num_links + len(src) > el.max_links:
        raise el.limit(span, f"the topology would have more than {el.max_links:,} links")
    check_link_ends(el, b, src, dst, span)
    lanes_arr = np.broadcast_to(np.asarray(lanes, dtype=np.float64), src.shape)
    bandwidth = bw * lanes_arr
    for extreme in (bandwidth.max(), bandwidth.min()):
        why = numeric.check_quantity(float(extreme))
        if why is not None:
            raise el.error(
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
        "origin": np.full(len(src), el.span_id(span), dtype=np.int32),
        "meta": np.full(len(src), meta, dtype=np.int32),
    }
    start = b.part_links
    b.part_links += len(src)
    b.link_parts.append(part)
    b.num_links += len(src)
    return start
