"""Components: ``KIND NAME[N] { ... }`` and ``DEF(ARGS) NAME[N]``, one block per definition.

An instance names a built-in kind or a definition. A definition is elaborated once per
distinct argument list (its parameters bound in a scope of their own, below the top level,
defaults evaluated there) and the block is cached; an instance with a body of its own gets a
block of its own. The array's size is checked against the caps *before* its block is built or
tiled, so ``gpu g[10**12]`` fails at once; its ids are checked for clashes with its siblings'.

>>> from topodsl import loads
>>> t = loads("def node S(n = 2) { gpu g[n] }\\ncluster c { S a; S(n = 3) b; S c }")
>>> len(t.rows_of_kind("gpu")), len(set(t.nodes.template.tolist()))
(7, 4)
"""

from __future__ import annotations

import numpy as np

from .. import ast
from ..kinds import KIND_ALIASES, KIND_CODE, KINDS
from .blocks import Block, BodyBuilder, Member, add_member
from .checks import check_id_clash
from .scopes import Scope, hashable
from .state import Elaboration

__all__ = ["add_instance", "instance_block"]


def add_instance(el: Elaboration, b: BodyBuilder, inst: ast.Instance, scope: Scope) -> None:
    """A member of ``b``: one component or an array of them."""
    if inst.name in b.members:
        raise el.error(
            inst.name_span,
            f"{inst.name!r} is declared twice in this body",
            f"first declared at {b.members[inst.name].span}",
        )
    if inst.name == "self":
        raise el.error(inst.name_span, "'self' names the enclosing component")
    # The array first: a huge count must fail before anything is built.
    lo, count, is_array = 0, 1, False
    if inst.array is not None:
        is_array = True
        lo, count = _array(el, inst, scope)
    check_id_clash(el, b, inst.name, lo, count, is_array, inst.name_span)
    block = instance_block(el, inst, scope)
    new_rows = count * block.size
    el.total_nodes += new_rows
    if b.cursor + new_rows > el.max_nodes or el.total_nodes > 4 * el.max_nodes:
        raise el.limit(
            inst.span, f"this would make the topology larger than {el.max_nodes:,} components"
        )
    offsets = b.cursor + block.size * np.arange(count, dtype=np.int64)
    member = Member(inst.name, lo, count, is_array, offsets, block, inst.name_span)
    add_member(b, member, parts=count)


def _array(el: Elaboration, inst: ast.Instance, scope: Scope) -> tuple[int, int]:
    """The first index and the size of ``NAME[N]`` or ``NAME[LO..HI]``, within the cap."""
    arr = inst.array
    hi = el.whole(arr.hi, scope, "an array size")
    lo = 0
    if arr.lo is None:
        count = hi
        if count < 1:
            raise el.error(arr.span, f"an array needs at least one element, got {count}")
    else:
        lo = el.whole(arr.lo, scope, "a range start")
        if lo < 0 or hi < lo:
            raise el.error(arr.span, f"empty or negative range [{lo}..{hi}]")
        count = hi - lo + 1
    if count > el.max_nodes:
        raise el.limit(
            arr.span,
            f"{inst.name}[{count}] would create {count:,} components; "
            f"the limit is {el.max_nodes:,}",
        )
    return lo, count


def instance_block(el: Elaboration, inst: ast.Instance, scope: Scope) -> Block:
    """The block of one element of ``inst``: a definition's (cached per argument list) or a
    built-in kind's, with the instance's own body added."""
    # The passes run the bodies of definitions, which declare components: a cycle of
    # imports, closed here at call time.
    from .passes import build_block

    name = inst.type_name
    origin = el.span_id(inst.name_span)
    if name in el.defs:
        return _definition_block(el, inst, scope, origin)
    kind = KIND_ALIASES.get(name, name)
    if kind not in KIND_CODE:
        options = list(KINDS) + list(el.defs)
        raise el.error(
            inst.type_span,
            f"unknown kind or definition {name!r}",
            el.did_you_mean(name, options) or f"kinds: {', '.join(KINDS)}",
        )
    if inst.args:
        raise el.error(
            inst.args[0].span,
            f"the built-in kind {kind!r} takes no arguments",
            "arguments go to definitions (def ...)",
        )
    template_name = kind if not inst.body else f"{kind}@{inst.span}"
    return build_block(el, kind, [(inst.body, scope)], origin, el.template_id(template_name))


def _definition_block(el: Elaboration, inst: ast.Instance, scope: Scope, origin: int) -> Block:
    from .passes import build_block

    name = inst.type_name
    d = el.defs[name]
    if name in el.def_stack:
        chain = " -> ".join((*el.def_stack[el.def_stack.index(name) :], name))
        raise el.error(
            inst.type_span, f"recursive definition: {chain}", "a component cannot contain itself"
        )
    def_scope = _arguments(el, inst, d, scope)
    key_args = tuple(sorted((k, hashable(v)) for k, v in def_scope.values.items()))
    kind = KIND_ALIASES.get(d.kind, d.kind)
    template_name = name + (
        "(" + ", ".join(f"{k}={v}" for k, v in key_args) + ")" if key_args else ""
    )
    # Keyed by the text: ``n=(2, ...)`` and ``n=(2.0, ...)`` are different blocks.
    key = (template_name,) if not inst.body else (template_name, id(inst))
    hit = el.cache.get(key)
    if hit is not None and not inst.body:
        return hit.with_origin(origin)
    el.def_stack.append(name)
    try:
        todo = [(d.body, def_scope)]
        if inst.body:
            todo.append((inst.body, scope))
            template_name += f"@{inst.span}"
        block = build_block(el, kind, todo, origin, el.template_id(template_name))
    finally:
        el.def_stack.pop()
    if not inst.body:
        el.cache[key] = block
    return block


def _arguments(el: Elaboration, inst: ast.Instance, d: ast.Def, scope: Scope) -> Scope:
    """The scope of a definition's body: its parameters, given or defaulted."""
    name = inst.type_name
    def_scope = el.globals.child()
    params = [p.name for p in d.params]
    given = {}
    for a in inst.args:
        if a.name not in params:
            raise el.error(
                a.span, f"{name} has no parameter {a.name!r}", el.did_you_mean(a.name, params)
            )
        if a.name in given:
            raise el.error(a.span, f"parameter {a.name!r} is given twice")
        given[a.name] = el.eval(a.value, scope)
    for p in d.params:
        if p.name in given:
            def_scope.values[p.name] = given[p.name]
        elif p.default is not None:
            def_scope.values[p.name] = el.eval(p.default, def_scope)
        else:
            raise el.error(
                inst.type_span,
                f"{name} needs parameter {p.name!r}",
                f"e.g. {name}({p.name} = ...) {inst.name}",
            )
    return def_scope
