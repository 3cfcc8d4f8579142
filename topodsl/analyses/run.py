"""Running an analysis: the one entry point every front end calls.

:func:`run` takes a topology (or a :class:`Context`, a topology prepared once for many calls),
an analysis name and its parameters as Python values, checks them against the declaration,
fills in defaults, calls the solver and returns an
:class:`~topodsl.analyses.result.AnalysisResult`. The command line, the assertion evaluator,
``diff`` and (later) failure analysis and sweeps all go through it.

Calls are memoised on the context: the same question asked twice (two assertions on one
checkpoint, a sweep point that repeats) is solved once.

>>> from topodsl import loads
>>> t = loads("link l { bandwidth = 50 GB/s }; node n { gpu g[2]; connect g[0] -- g[1] via l }")
>>> ctx = Context(t)
>>> run(ctx, "flow", sources="n.g0", sinks="n.g1").value.format()
'50 GB/s'
>>> run(ctx, "count", components="kind:gpu").value.format()
'2'
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import Diagnostic, ElaborationError
from ..units import format_quantity
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
    Param,
    parse_link_types,
    resolve,
)
from .result import AnalysisResult, describe_value

if TYPE_CHECKING:
    from ..progress import Progress
    from ..topology import Topology

__all__ = ["Context", "Arguments", "ArgumentError", "run", "get"]


class ArgumentError(ElaborationError):
    """An analysis was asked something meaningless: an unknown parameter, a size of zero, a
    default selection with nothing in it...

    ``param`` names the parameter at fault (``None``: the call as a whole), so that the
    assertion evaluator can point at the argument in the source.
    """

    def __init__(self, message: str, hint: str | None = None, param: str | None = None):
        super().__init__(Diagnostic(None, "error", message, hint))
        self.message, self.hint, self.param = message, hint, param


class Context:
    """A topology prepared for many analyses: caches that every call shares.

    ``memo`` holds results by question; ``cached(key, build)`` holds structures analyses
    derive from the topology (switch tiers, lanes per component), built on first use. A
    context is picklable, so a process pool or a Dask worker can receive it once.
    """

    def __init__(self, topology: Topology):
        self.topology = topology
        self.memo: dict[tuple, AnalysisResult] = {}
        self._cache: dict[Any, Any] = {}

    def cached(self, key: Any, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per context."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def in_scope(self, rows: np.ndarray, scope: str) -> np.ndarray:
        """The ``rows`` inside component ``scope`` (``""``: all of them)."""
        if not scope:
            return rows
        sub = self.cached(("subtree", scope), lambda: self.subtree([self.topology.index(scope)]))
        return rows[sub[rows]]

    def subtree(self, roots) -> np.ndarray:
        """Boolean mask over rows: the ``roots`` and everything inside them."""
        from .common import subtree_mask

        return subtree_mask(self.topology, roots)

    def rows(self, value: Any, what: str = "selection", allow_empty: bool = False) -> np.ndarray:
        """Node rows of a selection value: selector text (an error if it matches nothing,
        unless ``allow_empty`` and it names a kind or role) or rows as they are."""
        if not isinstance(value, str):
            return np.asarray(value, dtype=np.int64)
        rows = self.topology.select(value)
        if len(rows) == 0 and not (allow_empty and _is_kind_selector(value)):
            raise ArgumentError(f"the {what} {value!r} matches no component")
        return rows


@dataclass(frozen=True)
class Arguments:
    """The checked parameters of one call.

    ``values`` holds what the solver gets: selections as selector text or node rows (a
    selection that was omitted in an unscoped call is absent, and the solver's default
    applies), quantities in SI base units, choices, flags. ``notes`` name the defaults used;
    ``options`` the common options given (``forwarding``).
    """

    analysis: str
    values: Mapping[str, Any]
    notes: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    scope: str | None = None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default`` when it was not given."""
        return self.values.get(name, default)

    def kw(self, **names: str) -> dict[str, Any]:
        """Keyword arguments for a solver: ``kw(elements="sources")`` maps the parameter
        ``elements`` to the solver's ``sources``, leaving out what was not given."""
        return {solver_name: self.values[p] for p, solver_name in names.items() if p in self}

    def key(self) -> tuple:
        """A hashable identity of the question, for memoisation."""
        vals = tuple(sorted((k, _key(v)) for k, v in self.values.items()))
        return (self.analysis, vals, self.notes, tuple(sorted(self.options.items())))


def _key(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return ("rows", v.dtype.str, v.tobytes())
    return v


def get(name: str) -> Analysis:
    """The analysis called ``name``; an :class:`ArgumentError` naming the close ones if none."""
    if name in ANALYSES:
        return ANALYSES[name]
    for a in ANALYSES.values():
        if name in a.aliases:
            return a
    close = difflib.get_close_matches(name, list(ANALYSES), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "analyses: " + ", ".join(ANALYSES)
    raise ArgumentError(f"unknown analysis {name!r}", hint)


def run(
    target: Topology | Context,
    name: str,
    *,
    scope: str | None = None,
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    **params: Any,
) -> AnalysisResult:
    """Run analysis ``name`` on a topology and return its figures and the solver's result.

    Parameters
    ----------
    target : a Topology, or a :class:`Context` to share caches across calls.
    name : a registered analysis (:data:`~topodsl.analyses.ANALYSES`).
    scope : the dotted id of the component the question is asked in (an assertion's). Given,
        selections given as text are restricted to it (rows are taken as they are) and omitted
        ones default to the declared default inside it; ``None`` (the default) leaves omitted
        selections to the solver.
    options : common options (``{"forwarding": "ideal"}``), passed to the solver.
    progress : a :data:`topodsl.progress.Progress` callback, given to the solver when it takes
        one (a long search reports as it goes); it changes nothing in the result.
    **params : the analysis's parameters by name (or assertion keyword): selections as
        selector text or node rows, quantities in SI base units or as text with a unit
        (``size="2 TB"``), choices as text, flags as booleans. ``None`` means not given.

    Returns
    -------
    AnalysisResult
        Picklable; :meth:`~AnalysisResult.without_detail` drops the solver's result to send
        only the figures between processes.

    Raises
    ------
    ArgumentError
        An unknown analysis or parameter, a value of the wrong kind, an empty default.
    TopoError
        The solver refused the question (e.g. a selector that matches nothing).

    Examples
    --------
    >>> from topodsl import loads
    >>> t = loads("cluster c { gpu g[4]; hbm m[4] { capacity = 80 GB } }")
    >>> r = run(t, "capacity", components="kind:hbm")
    >>> r.value.format(), r.parameters["components"]
    ('320 GB', 'kind:hbm')
    >>> run(t, "capacity", component="kind:hbm")
    Traceback (most recent call last):
    ...
    topodsl.analyses.run.ArgumentError: error: capacity() takes no parameter 'component'
      hint: did you mean 'components'?
    """
    ctx = target if isinstance(target, Context) else Context(target)
    analysis = get(name)
    args = _arguments(ctx, analysis, params, scope, dict(options or {}))
    key = args.key()
    hit = ctx.memo.get(key)
    if hit is not None:
        return hit
    raw = analysis.compute(_solver(analysis, args, progress), ctx, args)
    figures = dict(analysis.figures(ctx, args, raw))
    result = AnalysisResult(
        analysis.name, _parameters(analysis, args), figures, analysis.default_field, raw
    )
    ctx.memo[key] = result
    return result


# -- checking and completing the parameters --------------------------------------------------


def _arguments(
    ctx: Context, a: Analysis, params: Mapping[str, Any], scope: str | None, options: dict
) -> Arguments:
    given: dict[str, Any] = {}
    for key, value in params.items():
        p = a.param(key)
        if p is None:
            names = [p.name for p in a.params] + [p.keyword for p in a.params if p.keyword]
            close = difflib.get_close_matches(key, names, n=1)
            raise ArgumentError(
                f"{a.name}() takes no parameter {key!r}",
                f"did you mean {close[0]!r}?" if close else f"usage: {a.signature}",
            )
        if p.name in given:
            raise ArgumentError(f"'{p.spelling}' is given twice", param=p.name)
        if value is not None:
            given[p.name] = value
    for key, value in options.items():
        if key not in a.common:
            raise ArgumentError(f"{a.name}() takes no option {key!r}")
        choices = COMMON_OPTIONS[key].choices
        if value not in choices:
            raise ArgumentError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    values: dict[str, Any] = {}
    notes: list[str] = []
    for p in a.params:
        if p.name in given:
            values[p.name] = _value(ctx, a, p, given[p.name], scope)
        elif p.required:
            what = f"'{p.spelling}' components" if p.keyword else p.name
            raise ArgumentError(f"{a.name}() needs {what}", f"usage: {a.signature}")
        elif p.kind == SELECTION:
            if scope is not None and p.default is not None:
                values[p.name] = _default_rows(ctx, a, p, scope, notes)
        elif p.default is not None:
            values[p.name] = p.default
    if a.disjoint:
        x, y = (values.get(n) for n in a.disjoint)
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and len(np.intersect1d(x, y)):
            px, py = (a.param(n) for n in a.disjoint)
            raise ArgumentError(
                f"{a.name}(): the '{px.spelling}' and '{py.spelling}' selections overlap"
            )
    return Arguments(a.name, values, tuple(notes), options, scope)


def _value(ctx: Context, a: Analysis, p: Param, value: Any, scope: str | None) -> Any:
    try:
        if isinstance(value, str) and p.kind != SELECTION:
            value = p.from_text(value)
    except ValueError as e:
        raise ArgumentError(f"{p.described(a.name)}: {e}", param=p.name) from None
    if p.kind == QUANTITY:
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ArgumentError(f"{p.described(a.name)} must be a number", param=p.name)
        value = float(value)
        if p.positive and not value > 0:
            zero = format_quantity(0.0, p.dim) if p.dim else "0"
            raise ArgumentError(f"the {p.name} must be more than {zero}", param=p.name)
        return value
    if p.kind == CHOICE:
        if value not in p.choices:
            raise ArgumentError(
                f"{p.spelling} must be one of {', '.join(p.choices)}, got {value!r}", param=p.name
            )
        return value
    if p.kind == FLAG:
        return bool(value)
    if p.kind == LINK_TYPES:
        return parse_link_types(value) if isinstance(value, str) else tuple(value)
    if p.kind == WORD:
        if not isinstance(value, str) or not value:
            raise ArgumentError(f"{p.described(a.name)} must be a name", param=p.name)
        return value
    return _selection(ctx, a, p, value, scope)


def _selection(ctx: Context, a: Analysis, p: Param, value: Any, scope: str | None) -> Any:
    t = ctx.topology
    if isinstance(value, str):
        if scope is None:
            return value  # the solver selects, and names it in its report
        rows = ctx.in_scope(t.select(value), scope)
        if len(rows) == 0 and not (p.allow_empty and _is_kind_selector(value)):
            where = f" in {scope}" if scope else ""
            raise ArgumentError(
                f"the {p.what or 'selection'} {value!r} matches no component{where}", param=p.name
            )
    else:
        items = list(value) if not isinstance(value, np.ndarray) else value
        if len(items) and isinstance(items[0], str):
            rows = np.array([t.index(s) for s in items], dtype=np.int64)
        else:
            rows = np.asarray(items, dtype=np.int64).ravel()
        if len(rows) and (rows.min() < 0 or rows.max() >= t.num_nodes):
            raise ArgumentError(f"the {p.what or 'selection'} holds a row outside the topology")
    _enough(p, rows)
    return rows


def _default_rows(ctx: Context, a: Analysis, p: Param, scope: str, notes: list[str]):
    rows = ctx.in_scope(ctx.topology.select(p.default), scope)
    if len(rows) == 0 and p.too_few is None:
        if p.none_here:
            raise ArgumentError(p.none_here)
        where = f" in {scope}" if scope else ""
        raise ArgumentError(
            f"{a.name}() defaults '{p.spelling}' to {p.default}, and there is none{where}",
            f"usage: {a.signature}",
        )
    _enough(p, rows)
    if p.note_default:
        notes.append(f"{p.spelling} {p.default} ({len(rows)})")
    return rows


def _enough(p: Param, rows: np.ndarray) -> None:
    if len(rows) < p.min_rows and p.too_few is not None:
        raise ArgumentError(p.too_few.format(n=len(rows)), p.too_few_hint)


def _is_kind_selector(text: str) -> bool:
    return re.fullmatch(r"\s*(kind|role):[\w|]+\s*", text) is not None


def _solver(
    a: Analysis, args: Arguments, progress: Progress | None = None
) -> Callable[..., Any] | None:
    """The solver with the common options bound (an error names an option it does not take),
    and the progress callback when the solver takes one."""
    if a.solver is None:
        return None
    fn = resolve(a.solver)
    extra = {"progress": progress} if progress is not None else {}
    if not args.options and not extra:
        return fn
    accepted = inspect.signature(fn).parameters
    for key in args.options:
        if key not in accepted:
            raise ArgumentError(
                f"{a.name}: this version's solver ({a.solver}) has no {key!r} option",
                f"leave out {key} until the solver takes it",
            )
    if "progress" not in accepted:
        extra = {}  # a quick solver reports nothing
    return functools.partial(fn, **args.options, **extra)


def _parameters(a: Analysis, args: Arguments) -> dict[str, Any]:
    """JSON-ready parameters: what was used, defaults included."""
    out: dict[str, Any] = {}
    for p in a.params:
        out[p.name] = describe_value(p, args.values.get(p.name, p.default))
    out.update(args.options)
    return out
