"""Imports and declarations: what a file and its imports make known before any body runs.

:func:`load_module` reads a module's items in order: ``import`` brings another file's
declarations (resolved beside the importing file, kept inside the root directory unless
``--allow-import-outside``, read within the byte budget, cycles refused), ``link NAME { }``
declares a link type, ``def KIND NAME(...) { }`` a definition, and a top-level ``const`` a
global constant that definitions and link types see too. Everything else is a statement of the
top-level body, returned for the passes (:mod:`topodsl.elaborate.passes`).

>>> from topodsl.parser import parse
>>> from topodsl.elaborate.state import Elaboration
>>> from pathlib import Path
>>> el = Elaboration({}, Path("."), allow_outside=False, max_nodes=100)
>>> rest = load_module(el, parse("link l { bandwidth = 25 GB/s }\\nnode n { gpu g }"), ())
>>> el.link_types["l"].bandwidth, [type(s).__name__ for s in rest]
(25000000000.0, ['Instance'])
"""

from __future__ import annotations

import os
from pathlib import Path as FsPath
from typing import Any

from .. import ast
from ..api import UnreadableSource, read_source
from ..errors import TopoError
from ..kinds import KIND_ALIASES, KIND_CODE, KINDS, LINK_ATTRIBUTES
from ..topology import LinkType
from .attributes import attribute_value
from .scopes import declare_const
from .state import Abort, Elaboration

__all__ = ["load_module", "declare_link", "declare_def"]


def load_module(el: Elaboration, module: ast.Module, stack: tuple[str, ...]) -> list:
    """Collect declarations from ``module`` and its imports; return its statements."""
    stmts: list = []
    for item in module.items:
        try:
            if isinstance(item, ast.Import):
                _import(el, item, module.file, stack)
            elif isinstance(item, ast.LinkDecl):
                declare_link(el, item)
            elif isinstance(item, ast.Def):
                declare_def(el, item)
            elif isinstance(item, ast.Const):
                # Top-level constants are global: definitions and link types see them.
                declare_const(el, item, el.globals)
            else:
                stmts.append(item)
        except Abort:
            pass
    return stmts


def _import(el: Elaboration, item: ast.Import, importer: str, stack: tuple[str, ...]) -> None:
    from ..parser import parse

    if "\x00" in item.path:
        raise el.error(item.span, "an import path cannot contain a NUL character")
    if importer in el.resolved:
        base = el.resolved[importer].parent
    else:
        # Beside the file as it was named: a symbolic link does not move its imports.
        base = FsPath(os.path.abspath(importer)).parent if importer != "<string>" else el.root
    target = (base / item.path).resolve()
    if not el.allow_outside and not target.is_relative_to(el.root):
        raise el.error(
            item.span,
            f"import {item.path!r} leaves the directory of the file being checked",
            "imports may not reach outside it unless --allow-import-outside is given",
        )
    key = str(target)
    if key in stack:
        chain = " -> ".join(FsPath(s).name for s in (*stack[stack.index(key) :], key))
        raise el.error(item.span, f"import cycle: {chain}")
    if key in el.imported:
        return
    if not target.exists():
        raise el.error(
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
        left = el.max_bytes - el.bytes_read
        text = read_source(target, rel, None, left, "what the file's imports may still read")
    except UnreadableSource as e:
        d = e.diagnostic
        if d.span is not None:  # not UTF-8: the place in the imported file says it all
            el.sink.errors.append(d)
            raise Abort() from None
        raise el.error(item.span, f"cannot import {item.path!r}: {d.message}", d.hint) from None
    el.bytes_read += len(text)
    el.imported.add(key)
    el.resolved[rel] = target
    el.texts[rel] = text
    el.sink.texts[rel] = text
    try:
        sub = parse(text, rel)
    except TopoError as e:
        el.sink.errors.extend(e.diagnostics)
        raise Abort() from None
    rest = load_module(el, sub, (*stack, key))
    for stmt in rest:
        if not isinstance(stmt, ast.Const):
            el.sink.warning(
                getattr(stmt, "span", None),
                "an imported file contributes only definitions, link types and constants; "
                "this statement is ignored",
            )


def declare_link(el: Elaboration, decl: ast.LinkDecl) -> None:
    """``link NAME { bandwidth = ..., latency = ..., duplex = ..., model = ... }``."""
    try:
        _declare_link(el, decl)
    except Abort:
        # Its own error is reported; uses of the type would only repeat it.
        el.broken_link_types.add(decl.name)
        raise


def _declare_link(el: Elaboration, decl: ast.LinkDecl) -> None:
    if decl.name in el.link_types:
        prev = el.link_types[decl.name].span
        raise el.error(
            decl.span,
            f"link type {decl.name!r} is declared twice",
            f"first declared at {prev}" if prev else None,
        )
    values: dict[str, Any] = {}
    for a in decl.attrs:
        if not isinstance(a, ast.Attr):
            raise el.error(a.span, "a link type holds only attributes")
        spec = LINK_ATTRIBUTES.get(a.name)
        if spec is None:
            raise el.error(
                a.name_span,
                f"unknown link attribute {a.name!r}",
                el.did_you_mean(a.name, LINK_ATTRIBUTES)
                or f"link attributes: {', '.join(LINK_ATTRIBUTES)}",
            )
        values[a.name] = attribute_value(el, a, spec, el.globals)
    if "bandwidth" not in values:
        raise el.error(
            decl.span,
            f"link type {decl.name!r} needs a bandwidth",
            "e.g. link nvlink4 { bandwidth = 25 GB/s, latency = 100 ns }",
        )
    duplex = values.get("duplex", "full")
    if duplex not in ("full", "half"):
        raise el.error(decl.span, f'duplex must be "full" or "half", not {duplex!r}')
    el.link_types[decl.name] = LinkType(
        decl.name,
        values["bandwidth"],
        values.get("latency", 0.0),
        duplex == "half",
        values.get("model"),
        decl.span,
    )


def declare_def(el: Elaboration, d: ast.Def) -> None:
    """``def KIND NAME(PARAMS) { BODY }``: kept until an instance uses it."""
    kind = KIND_ALIASES.get(d.kind, d.kind)
    if kind not in KIND_CODE:
        raise el.error(
            d.kind_span,
            f"unknown kind {d.kind!r}",
            el.did_you_mean(d.kind, KINDS) or f"kinds: {', '.join(KINDS)}",
        )
    if d.name in KIND_CODE or d.name in KIND_ALIASES:
        raise el.error(d.span, f"a definition may not be named like the kind {d.name!r}")
    if d.name in el.defs:
        raise el.error(
            d.span,
            f"definition {d.name!r} is declared twice",
            f"first declared at {el.def_spans[d.name]}",
        )
    el.defs[d.name] = d
    el.def_spans[d.name] = d.span
