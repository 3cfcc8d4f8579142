"""Attributes and meta blocks: the values a component, a link type or a connection declares.

An attribute (``bandwidth = 3.35 TB/s``) has a declared dimension (``topodsl.kinds``
``ATTRIBUTES`` and ``LINK_ATTRIBUTES``), must be zero or more (positive where zero means
nothing, a bandwidth) and lie within 1e-30..1e30 in SI base units (:mod:`topodsl.numeric`), so
that sums and ratios over the largest topology stay finite. A ``meta { key = value }`` block
holds free-form text or plain numbers that travel with a component or a link to the JSON.

>>> from topodsl.parser import parse
>>> from topodsl.elaborate.state import Elaboration
>>> from topodsl.kinds import LINK_ATTRIBUTES
>>> from pathlib import Path
>>> el = Elaboration({}, Path("."), allow_outside=False, max_nodes=100)
>>> a = parse("link l { latency = 100 ns }").items[0].attrs[0]
>>> attribute_value(el, a, LINK_ATTRIBUTES["latency"], el.globals)
1e-07
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ast, numeric
from ..evaluate import Quantity
from ..kinds import ATTRIBUTES
from ..limits import MAX_PORTS
from ..topology import NODE_FIELDS
from ..units import COUNT, dim_name, format_quantity, format_si
from .blocks import BodyBuilder
from .paths import resolve
from .scopes import Scope
from .state import Elaboration

__all__ = ["attribute_value", "set_attribute", "meta_entries", "add_meta"]


def attribute_value(el: Elaboration, a: ast.Attr, spec, scope: Scope) -> Any:
    """The value of attribute ``a`` as ``spec`` declares it: a flag, text, or a number in SI
    base units of the declared dimension, in range."""
    if spec.flag:
        word = a.value.path.simple_name if isinstance(a.value, ast.Ref) else None
        if word not in ("true", "false"):
            raise el.error(a.value.span, f"{a.name} must be true or false")
        return word == "true"
    v = el.eval(a.value, scope)
    if spec.dim is None:
        if not isinstance(v, str):
            raise el.error(a.value.span, f"{a.name} must be text in double quotes")
        return v
    if not isinstance(v, Quantity) or isinstance(v.lo, np.ndarray):
        raise el.error(
            a.value.span, f"{a.name} must be {dim_name(spec.dim)}, got {el.values.describe(v)}"
        )
    el.values.expect_dim(v, spec.dim, a.name, a.value.span, example=f"{a.name} = ")
    x = float(v.value)
    shown = format_quantity(x, spec.dim) if spec.dim != COUNT else f"{x:g}"
    if not math.isfinite(x) or x < 0 or (spec.positive and x == 0):
        raise el.error(
            a.value.span,
            f"{a.name} must be {'positive' if spec.positive else 'zero or more'}, got {shown}",
        )
    why = numeric.check_quantity(x)
    if why is not None:
        raise el.error(
            a.value.span,
            f"{a.name} of {format_si(x, spec.dim)} {why}",
            "attributes lie between 1e-30 and 1e30 in SI base units; is a unit wrong?",
        )
    return x


def set_attribute(el: Elaboration, b: BodyBuilder, a: ast.Attr, scope: Scope) -> None:
    """An attribute of the component whose body ``b`` is."""
    specs = ATTRIBUTES[b.kind]
    if b.origin < 0:
        raise el.error(
            a.span,
            "attributes belong inside a component",
            "e.g. gpu g { bandwidth = 3.35 TB/s }",
        )
    spec = specs.get(a.name)
    if spec is None:
        hint = el.did_you_mean(a.name, specs) or (f"a {b.kind} accepts: {', '.join(sorted(specs))}")
        raise el.error(a.name_span, f"unknown attribute {a.name!r} for a {b.kind}", hint)
    value = attribute_value(el, a, spec, scope)
    if a.name == "ports":
        if not float(value).is_integer():
            raise el.error(a.value.span, "ports must be a whole number")
        if value > MAX_PORTS:
            raise el.error(
                a.value.span,
                f"ports = {int(value):,} is more than the limit of {MAX_PORTS:,}",
                "a port count is stored as a 32-bit number",
            )
        b.ports = int(value)
    elif a.name in NODE_FIELDS:
        b.attrs[a.name] = value
    else:
        b.extra[a.name] = value


def meta_entries(el: Elaboration, m: ast.Meta, scope: Scope) -> dict[str, Any]:
    """The ``key = value`` entries of a ``meta { }`` block: text or plain numbers."""
    out: dict[str, Any] = {}
    for a in m.entries:
        if not isinstance(a, ast.Attr):
            raise el.error(a.span, "a meta block holds only key = value entries")
        if a.name in out:
            raise el.error(a.name_span, f"meta key {a.name!r} is given twice")
        v = el.eval(a.value, scope)
        if isinstance(v, Quantity) and v.dim == COUNT and not isinstance(v.lo, np.ndarray):
            v = v.value
        elif not isinstance(v, str):
            raise el.error(
                a.value.span,
                f"meta values are text or plain numbers, got {el.values.describe(v)}",
                'quote it: key = "25 GB/s"',
            )
        out[a.name] = v
    return out


def add_meta(el: Elaboration, b: BodyBuilder, m: ast.Meta, scope: Scope) -> None:
    """``meta { }`` for the enclosing component, ``meta PATH { }`` for members of it."""
    entries = meta_entries(el, m, scope)
    if m.path is None:
        if b.origin < 0:
            raise el.error(
                m.span,
                "a meta block at the top level needs a path",
                'e.g. meta node[0].gpu[3] { serial = "..." }',
            )
        b.extra["meta"] = {**b.extra.get("meta", {}), **entries}
        return
    (rows,), _ = resolve(el, b, [m.path], scope)
    if np.any(rows == 0):
        raise el.error(m.path.span, "write meta { } without a path for the component itself")
    b.member_metas.append((rows, entries))
