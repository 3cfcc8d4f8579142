"""The assertion function of every analysis: ``checkpoint(2 TB, from gpu[*]).rate``.

:class:`AssertionCalls` binds the arguments of a call in an assertion to the analysis's
declared parameters (plain arguments by position; ``from``, ``to``, ``within``; ``a -> b``;
``name = value``), resolves selections relative to the component the assertion is written in,
runs the analysis through :func:`~topodsl.analyses.run` and gives its figures to the
assertion evaluator (:mod:`topodsl.check`) as intervals.

Names in a selection
--------------------
A path is read relative to the assertion's component: inside ``cluster pod { ... }``,
``node[*].gpu[*]`` means ``pod.node*.gpu*``; a path that matches nothing there is looked up one
level further out, up to the top level. A bare kind name (``count(gpu)``) or a ``kind:``/
``role:`` selector selects within the assertion's component. A quoted string is a selector in
the command-line language, read from the top level and restricted to the component.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import ast
from ..evaluate import Quantity, Record, path_text
from ..kinds import KIND_ALIASES, KIND_CODE, ROLES
from .registry import (
    ANALYSES,
    CHOICE,
    COMMON_OPTIONS,
    FLAG,
    LINK_TYPES,
    QUANTITY,
    SELECTION,
    WORD,
    Analysis,
    CommonOption,
    Param,
    parse_link_types,
)
from .result import AnalysisResult
from .run import ArgumentError, Context, run

if TYPE_CHECKING:
    from ..check import _Evaluator

__all__ = ["AssertionCalls", "as_value"]

_WORDS = {"true": True, "false": False}


class AssertionCalls:
    """Analysis calls inside assertions, for one evaluator (its errors, values and constants).

    ``options`` are common options for every call (``check --forwarding ideal``); a call's
    own ``forwarding = ...`` wins.
    """

    def __init__(self, ev: _Evaluator, ctx: Context, options: Mapping[str, Any]):
        self.ev = ev
        self.ctx = ctx
        self.t = ctx.topology
        self.options = dict(options)
        self.progress = None  # a topodsl.progress.Progress for the solvers, set by check()

    def call(self, e: ast.Call, scope: str) -> Quantity | Record:
        """The figures of ``e``, an analysis call."""
        a = ANALYSES[e.func]
        params, options, spans = self.bind(a, e, scope)
        common = {k: v for k, v in self.options.items() if k in a.common}
        try:
            result = run(self.ctx, a.name, scope=scope, options=common | options,
                         progress=self.progress, **params)  # fmt: skip
        except ArgumentError as err:
            raise self.ev.error(spans.get(err.param, e.span), err.message, err.hint) from None
        return as_value(result)

    # -- arguments ------------------------------------------------------------------------------

    def bind(self, a: Analysis, e: ast.Call, scope: str) -> tuple[dict, dict, dict]:
        """Match ``e``'s arguments to ``a``'s parameters and evaluate them: parameter values,
        common options, and the span of each argument (for messages)."""
        ev = self.ev
        usage = f"usage: {a.signature}"
        positional = a.positional
        bound: dict[str, tuple[Param | CommonOption, Any]] = {}
        pos = [x for x in e.args if not isinstance(x, ast.KeywordArg | ast.Direction)]
        if len(pos) > len(positional):
            raise ev.error(
                pos[len(positional)].span,
                f"{e.func}() takes at most {len(positional)} plain argument(s)",
                usage,
            )
        for p, x in zip(positional, pos, strict=False):
            bound[p.name] = (p, x)
        for x in e.args:
            if isinstance(x, ast.Direction):
                ends = _keyword(a, "from"), _keyword(a, "to")
                if None in ends:
                    raise ev.error(x.span, f"{e.func}() takes no 'a -> b' argument", usage)
                if x.op != "->":
                    raise ev.error(x.span, "write a flow's direction with '->'", usage)
                if any(p.name in bound for p in ends):
                    raise ev.error(x.span, "the direction is given twice", usage)
                bound[ends[0].name] = (ends[0], x.source)
                bound[ends[1].name] = (ends[1], x.target)
            elif isinstance(x, ast.KeywordArg):
                p = _keyword(a, x.name) or next((q for q in a.params if q.name == x.name), None)
                if p is None and x.name in a.common:
                    p = COMMON_OPTIONS[x.name]
                if p is None:
                    raise ev.error(x.span, f"{e.func}() takes no '{x.name}' argument", usage)
                if p.name in bound:
                    raise ev.error(x.span, f"'{x.name}' is given twice", usage)
                bound[p.name] = (p, x.value)
        for p in positional:
            if p.required and p.name not in bound:
                raise ev.error(e.span, f"{e.func}() needs {p.name}", usage)
        params: dict[str, Any] = {}
        options: dict[str, Any] = {}
        spans = {name: x.span for name, (_, x) in bound.items()}
        order = [p.name for p in a.params]
        for name, (p, x) in sorted(bound.items(), key=lambda kv: _rank(order, kv[0])):
            if isinstance(p, CommonOption):
                options[name] = self.word(x, scope, p.choices, name)
            else:
                params[name] = self.argument(a, p, x, scope)
        return params, options, spans

    def argument(self, a: Analysis, p: Param, x: Any, scope: str) -> Any:
        """The value of one argument, of the parameter's kind."""
        if p.kind == SELECTION:
            return self.rows(x, scope, p.what or "selection", p.allow_empty)
        if p.kind == QUANTITY:
            assert p.dim is not None
            return self.ev.quantity(x, scope, p.dim, p.described(a.name))
        if p.kind == CHOICE:
            return self.word(x, scope, p.choices, p.spelling)
        if p.kind == FLAG:
            return _WORDS[self.word(x, scope, tuple(_WORDS), p.spelling)]
        if p.kind == LINK_TYPES:
            return self.link_types(x)
        if p.kind == WORD:
            return self.name(x, p.spelling)
        raise AssertionError(p.kind)  # pragma: no cover

    def name(self, x: Any, what: str) -> str:
        """A bare name or a string (``workload = pretrain``)."""
        if isinstance(x, ast.String):
            return x.value
        if isinstance(x, ast.Ref) and x.path.simple_name is not None:
            return x.path.simple_name
        raise self.ev.error(getattr(x, "span", None), f"{what} is a name, e.g. {what} = NAME")

    def word(self, x: Any, scope: str, choices: tuple[str, ...], what: str) -> str:
        """A bare word or a string among ``choices`` (``forwarding = ideal``)."""
        text = None
        if isinstance(x, ast.String):
            text = x.value
        elif isinstance(x, ast.Ref) and x.path.simple_name is not None:
            text = x.path.simple_name
        if text not in choices:
            got = f" {text!r}" if text is not None else ""
            raise self.ev.error(
                getattr(x, "span", None),
                f"{what} is one of {', '.join(choices)}, not{got or ' this'}",
                _did_you_mean(text, choices) if text else f"e.g. {what} = {choices[0]}",
            )
        return text

    def link_types(self, x: Any) -> tuple[str, ...]:
        """``type:nvlink4|nvlink5``, ``"type:nvlink4"`` or a bare link type name."""
        if isinstance(x, ast.SelectorLit | ast.String):
            text = x.text if isinstance(x, ast.SelectorLit) else x.value
            if not text.startswith("type:") and isinstance(x, ast.SelectorLit):
                raise self.ev.error(
                    x.span,
                    f"{text} selects components, not links",
                    "name link types as type:NAME, e.g. links(type:nvlink4)",
                )
            try:
                return parse_link_types(text)
            except ValueError as err:
                raise self.ev.error(x.span, str(err)) from None
        if isinstance(x, ast.Ref) and x.path.simple_name is not None:
            return (x.path.simple_name,)
        raise self.ev.error(getattr(x, "span", None), "expected link types, e.g. type:nvlink4")

    # -- selections -----------------------------------------------------------------------------

    def rows(
        self, e: Any, scope: str, what: str = "selection", allow_empty: bool = False
    ) -> np.ndarray:
        """Rows selected by an analysis argument (a path, a selector or a string).

        A selection that matches nothing is an input error (a misspelt path), except with
        ``allow_empty`` for a kind or role (``count(kind:hbm) == 0`` is a fair promise).
        """
        rows = self._rows(e, scope)
        if len(rows) == 0 and not (allow_empty and _is_kind_selection(e)):
            where = f" in {scope}" if scope else ""
            raise self.ev.error(
                e.span, f"the {what} {_expr_text(e)} matches no component{where}",
                "paths are relative to the component the assertion is written in",
            )  # fmt: skip
        return rows

    def _rows(self, e: Any, scope: str) -> np.ndarray:
        from ..select import SelectorError, select

        if isinstance(e, ast.SelectorLit) and e.text.startswith("type:"):
            raise self.ev.error(
                e.span, f"{e.text} names links, not components",
                f"count links with links({e.text})",
            )  # fmt: skip
        try:
            if isinstance(e, ast.SelectorLit):
                return self.ctx.in_scope(select(self.t, e.text), scope)
            if isinstance(e, ast.String):
                return self.ctx.in_scope(select(self.t, e.value), scope)
            if isinstance(e, ast.Ref):
                return self._path_rows(e.path, scope)
        except SelectorError as err:
            raise self.ev.error(e.span, err.diagnostics[0].message) from None
        if isinstance(e, ast.Direction | ast.KeywordArg):
            what = "a direction 'a -> b'" if isinstance(e, ast.Direction) else f"'{e.name} ...'"
            raise self.ev.error(e.span, f"expected components here, not {what}")
        raise self.ev.error(
            getattr(e, "span", None), f"expected components (a path such as node[*].gpu[*], or "
            f"kind:gpu), got {_expr_text(e)}",
        )  # fmt: skip

    def _path_rows(self, path: ast.Path, scope: str) -> np.ndarray:
        from ..select import select

        pattern = ".".join(self._segment(s, scope) for s in path.segments)
        bare = path.simple_name
        for level in _scope_chain(scope):
            prefix = level + "." if level else ""
            for pat in (pattern, pattern + "[*]") if bare else (pattern,):
                rows = select(self.t, prefix + pat)
                if len(rows):
                    return rows
        if bare is not None:
            kind = KIND_ALIASES.get(bare, bare)
            if kind in KIND_CODE:
                return self.ctx.in_scope(self.t.rows_of_kind(kind), scope)
            if bare in ROLES:
                return self.ctx.in_scope(self.t.rows_of_role(bare), scope)
        return np.zeros(0, dtype=np.int64)

    def _segment(self, seg: ast.Segment, scope: str) -> str:
        if seg.index is None:
            return seg.name
        if isinstance(seg.index, ast.Star):
            return f"{seg.name}[*]"
        if isinstance(seg.index, ast.IndexRange):
            lo = self._index(seg.index.lo, scope)
            hi = self._index(seg.index.hi, scope)
            return f"{seg.name}[{lo}..{hi}]"
        return f"{seg.name}[{self._index(seg.index, scope)}]"

    def _index(self, e: Any, scope: str) -> int:
        i = self.ev.whole(e, scope, "an index")
        if i < 0:
            raise self.ev.error(e.span, f"an index must be 0 or more, got {i}")
        return i


def as_value(result: AnalysisResult) -> Quantity | Record:
    """An analysis result as the evaluator sees it: one figure, or a record of several."""
    fields = {
        k: Quantity(f.lower, f.upper, f.dim, result.analysis, f.cut, f.notes)
        for k, f in result.figures.items()
    }
    if len(fields) == 1:
        return next(iter(fields.values()))
    return Record(result.analysis, fields, result.default)


def _keyword(a: Analysis, keyword: str) -> Param | None:
    return next((p for p in a.params if p.keyword == keyword), None)


def _rank(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def _is_kind_selection(e: Any) -> bool:
    if isinstance(e, ast.SelectorLit):
        return True
    if isinstance(e, ast.Ref) and e.path.simple_name is not None:
        name = e.path.simple_name
        return KIND_ALIASES.get(name, name) in KIND_CODE or name in ROLES
    return False


def _scope_chain(scope: str) -> list[str]:
    if not scope:
        return [""]
    parts = scope.split(".")
    return [".".join(parts[:k]) for k in range(len(parts), 0, -1)] + [""]


def _did_you_mean(name: str, options) -> str | None:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def _expr_text(e: Any) -> str:
    if isinstance(e, ast.Ref):
        return path_text(e.path)
    if isinstance(e, ast.SelectorLit):
        return e.text
    if isinstance(e, ast.String):
        return repr(e.value)
    return "this"
