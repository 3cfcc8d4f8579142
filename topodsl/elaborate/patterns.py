"""Patterns and fabrics: ``connect ring(gpu[*]) via l`` and ``fabric fat_tree NAME { ... }``.

Both are planned by :mod:`topodsl.fabrics` (index arrays: which element links to which, with
how many lanes) and recorded as a :class:`~topodsl.topology.FabricInfo`, so that the bisection
solver can recognise what was built and use its closed form. A pattern links existing
components; a fabric also builds its switches, as a container member holding one array of
switches per tier, laid out in the second pass so that connections may reach into it.

>>> from topodsl import loads
>>> t = loads("link l { bandwidth = 1 GB/s }\\nnode n { gpu g[4]\\n connect ring(g[*]) via l }")
>>> t.num_links, t.fabrics[0].generator
(4, 'ring')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ast
from ..evaluate import Quantity
from ..topology import FabricInfo
from ..units import COUNT
from .blocks import BodyBuilder, Member, add_member, finish
from .checks import check_id_clash
from .connections import add_links, link_props
from .paths import resolve
from .scopes import LinkTypeValue, Scope
from .state import Elaboration

__all__ = ["add_pattern", "add_fabric"]


def add_pattern(el: Elaboration, b: BodyBuilder, p: ast.Pattern, scope: Scope) -> None:
    """``NAME(COMPONENTS, DIMS...) via TYPE { ... }``: links among existing components."""
    from ..fabrics import plan_fabric

    first = p.args[0]
    if not isinstance(first, ast.Ref):
        raise el.error(
            first.span, f"{p.name}() takes the components to connect first, e.g. ring(gpu[*])"
        )
    (rows,), _ = resolve(el, b, [first.path], scope)
    args: dict[str, Any] = {}
    dims = []
    for a in p.args[1:]:
        v = el.eval(a, scope)
        items = v if isinstance(v, tuple) else (v,)
        for item in items:
            if not isinstance(item, Quantity) or item.dim != COUNT or not item.integral:
                raise el.error(a.span, f"{p.name}() dimensions are whole numbers")
            dims.append(int(item.value))
    if dims:
        args["dims"] = tuple(dims)
    props = link_props(el, p.via, p.attrs, scope, p.span)
    try:
        plan = plan_fabric(p.name, len(rows), args)
    except ValueError as e:
        raise el.error(p.name_span, str(e)) from None
    if plan.groups:
        raise el.error(
            p.name_span,
            f"{p.name} builds switches; write it as a fabric",
            f"fabric {p.name} NAME {{ hosts = ..., ... }}",
        )
    src, dst = rows[plan.a], rows[plan.b]
    bw, lat, lanes, t, half = props
    start = add_links(el, b, src, dst, (bw, lat, lanes * plan.lanes, t, half), False, p.span)
    info = FabricInfo(
        p.name,
        p.name,
        dict(plan.params, link_bandwidth=bw * lanes),
        rows,
        np.zeros(0, dtype=np.int64),
        np.zeros(0),
        p.span,
    )
    b.fabrics.append((info, rows, np.zeros(0, dtype=np.int64), start, len(src)))


def add_fabric(el: Elaboration, b: BodyBuilder, f: ast.Fabric, scope: Scope) -> None:
    """``fabric GENERATOR NAME { hosts = PATH, link = TYPE, ... }``: switches and links."""
    from ..fabrics import GENERATORS, plan_fabric

    if f.generator not in GENERATORS:
        raise el.error(
            f.generator_span,
            f"unknown fabric generator {f.generator!r}",
            el.did_you_mean(f.generator, GENERATORS)
            or f"generators: {', '.join(sorted(GENERATORS))}",
        )
    if f.name in b.members:
        raise el.error(f.name_span, f"{f.name!r} is declared twice in this body")
    check_id_clash(el, b, f.name, 0, 1, False, f.name_span)
    hosts, link, uplink, args = _settings(el, b, f, scope)
    args["link_bandwidth"] = link.bandwidth
    args["uplink_bandwidth"] = uplink.bandwidth
    try:
        plan = plan_fabric(f.generator, len(hosts), args)
    except ValueError as e:
        raise el.error(f.generator_span, str(e)) from None
    n_sw = sum(c for _, c in plan.groups)
    if b.cursor + 1 + n_sw > el.max_nodes:
        raise el.limit(f.span, "this fabric is larger than the cap")
    # The fabric is a container member holding one array member per switch group.
    origin = el.span_id(f.name_span)
    switch_block = finish(BodyBuilder("switch", origin, el.template_id(f"{f.generator}-switch")))
    inner = BodyBuilder("group", origin, el.template_id(f"fabric:{f.generator}"))
    for gname, count in plan.groups:
        offs = inner.cursor + np.arange(count, dtype=np.int64)
        add_member(inner, Member(gname, 0, count, True, offs, switch_block, f.span), parts=count)
    fab_block = finish(inner)
    base = b.cursor
    add_member(b, Member(f.name, 0, 1, False, np.array([base]), fab_block, f.name_span), parts=1)
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
        t = el.link_type_index(lt)
        props = (lt.bandwidth, lt.latency, plan.lanes[sel], t, lt.half_duplex)
        s0 = add_links(el, b, src[sel], dst[sel], props, False, f.span)
        start = s0 if start is None else start
        count_links += int(sel.sum())
    info = FabricInfo(
        f.name, f.generator, dict(plan.params), hosts, switch_rows, np.zeros(0), f.span
    )
    b.fabrics.append((info, hosts, switch_rows, start or 0, count_links))


def _settings(el: Elaboration, b: BodyBuilder, f: ast.Fabric, scope: Scope) -> tuple:
    """A fabric's hosts (rows of ``b``), host and uplink types, and the generator's numbers."""
    hosts = None
    link = uplink = None
    args: dict[str, Any] = {}
    for a in f.attrs:
        if not isinstance(a, ast.Attr):
            raise el.error(a.span, "a fabric's block holds only its settings")
        if a.name == "hosts":
            if not isinstance(a.value, ast.Ref):
                raise el.error(a.value.span, "hosts are a path such as node[*].nic[*]")
            (hosts,), _ = resolve(el, b, [a.value.path], scope)
        elif a.name in ("link", "uplink"):
            v = el.eval(a.value, scope)
            if not isinstance(v, LinkTypeValue):
                raise el.error(a.value.span, f"{a.name} must name a link type")
            if a.name == "link":
                link = v.type
            else:
                uplink = v.type
        else:
            v = el.eval(a.value, scope)
            items = v if isinstance(v, tuple) else (v,)
            if not all(
                isinstance(x, Quantity) and x.dim == COUNT and not isinstance(x.lo, np.ndarray)
                for x in items
            ):
                what = "plain numbers" if isinstance(v, tuple) else "a plain number"
                raise el.error(a.value.span, f"{a.name} must be {what}")
            plain = tuple(int(x.value) if x.integral else float(x.value) for x in items)
            args[a.name] = plain if isinstance(v, tuple) else plain[0]
    if hosts is None:
        raise el.error(f.span, "a fabric needs hosts = PATH (the components it connects)")
    if link is None:
        raise el.error(f.span, "a fabric needs link = LINK_TYPE for its host links")
    return hosts, link, uplink or link, args
