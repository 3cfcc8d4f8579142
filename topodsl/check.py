"""Design assertions: check a topology's ``assert`` statements against the solvers.

An assertion states a promise about a design and is kept in the ``.topo`` file beside it::

    assert bisection(pod.node[*].gpu[*]) >= 25.6 TB/s
    assert ingest_rate: flow(storage[*].ssd[*] -> pod.node[*].gpu[*]) >= 1 TB/s
    assert checkpoint(2 TB, from pod.node[*].gpu[*], to storage[*].ssd[*]) <= 60 s
    assert reach(pod.node[0].gpu[0], within 1 us).capacity >= 1 TiB
    assert count(kind:gpu) == NODES * 8

:func:`check` evaluates every assertion of a :class:`~topodsl.topology.Topology` (plus ad-hoc
ones given as text) and returns a :class:`CheckReport`: for each assertion the measured value,
the threshold, the status and, for a flow or a bisection, the limiting cut.

The functions an assertion calls are the registered analyses
(:data:`topodsl.analyses.ANALYSES`); :mod:`topodsl.analyses.assertion` binds their arguments
and resolves names relative to the component the assertion is written in. Arithmetic is
:mod:`topodsl.evaluate`, the evaluator elaboration uses too. This module compares and reports.

Uncertain figures
-----------------
Every measured figure is an interval ``[lower, upper]`` that contains the true value (a point
when exact), and arithmetic keeps the guarantee (``bisection(x) / 2``). Bisection bandwidth is
the case that matters: a ``>=`` promise is *proven* only by the lower bound and *refuted* only
by the upper bound; in between the status is ``"unproven"``.

Names in an assertion
---------------------
Bare names are the file's top-level constants and, inside a definition, its parameters. An
assertion written in a definition holds for every instance; the report shows the worst one.
Above :data:`MAX_INSTANCES` instances only one instance per distinct definition-and-arguments
is evaluated (they are built identically), and the result says so.

Examples
--------
>>> from topodsl import loads
>>> t = loads('''
... link l { bandwidth = 50 GB/s }
... cluster c {
...     gpu g[2]
...     connect g[0] -- g[1] via l
...     assert flow(g[0] -> g[1]) >= 40 GB/s
... }''')
>>> report = check(t, ["count(kind:gpu) == 3"])
>>> [(r.text, r.status) for r in report.results]
[('flow(g[0] -> g[1]) >= 40 GB/s', 'pass'), ('count(kind:gpu) == 3', 'fail')]
>>> report.results[0].measured.format()
'50 GB/s'
>>> report.exit_code()
1
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import ast
from .analyses import ANALYSES, Context
from .analyses.assertion import AssertionCalls, path_text
from .analyses.figures import Measure, unit_of
from .errors import Diagnostic, ElaborationError, Span, TopoError, source_line
from .evaluate import EvaluationError, Evaluator, Quantity, Record
from .progress import Progress
from .progress import report as report_progress
from .topology import Topology
from .units import BANDWIDTH, REL_TOL, Dim, digits_apart, dim_name, example_unit

if TYPE_CHECKING:
    from .solvers.dataflow import Bottleneck
    from .solvers.flow import CutItem

__all__ = [
    "Measure",
    "AssertionResult",
    "CheckReport",
    "CheckError",
    "check",
    "compare",
    "parse_assertion",
    "unit_of",
    "ANALYSES",
    "MAX_INSTANCES",
    "STATUSES",
]

#: Above this many instances of an assertion written in a definition, one instance per distinct
#: definition-and-arguments (``Topology.nodes.template``) is evaluated.
MAX_INSTANCES = 64

#: Every status a result can have, best first.
STATUSES = ("pass", "unproven", "fail", "error")

#: Relative tolerance of comparisons (25.6 TB/s as written equals 25.6e12 B/s summed from links).
_RTOL = REL_TOL


_MIRROR = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}


class CheckError(ElaborationError):
    """An assertion cannot be evaluated: unknown analysis, units that do not compare, an empty
    selection... Each diagnostic points at the assertion's ``file:line:col``."""


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssertionResult:
    """The outcome of one assertion.

    Attributes
    ----------
    name : the assertion's name, or its source text when it has none.
    text : its source text (whitespace normalised), without ``assert`` and the name.
    span : where it is written (``None`` never, but a command-line assertion has a pseudo file).
    status : ``"pass"``, ``"fail"``, ``"unproven"`` (an uncertain figure straddles the
        threshold) or ``"error"`` (it could not be evaluated; see :attr:`diagnostics`).
    op : the comparison, oriented so that :attr:`measured` is on its left.
    measured, threshold : the two sides, in SI base units (``None`` on error).
    analysis : the analysis on the measured side (``"bisection"``, ``"flow"``, ``"count"``...).
    cut : for a flow or a bisection (and the scenarios built on a flow), the links and devices
        of the limiting cut: what to upgrade to raise the figure. Bandwidths per direction.
        :class:`~topodsl.solvers.flow.CutItem` (bisection) or
        :class:`~topodsl.solvers.dataflow.Bottleneck` (flows and scenarios, which also say
        which limit of a device is saturated and each element's share).
    scope : the component the reported instance was evaluated in (``""`` = top level).
    instances, evaluated : how many instances the assertion has (one unless it is written in a
        definition) and how many were evaluated.
    notes : extra facts worth showing (bounds, the worst component, sampling).
    origin : ``"file"`` or ``"command line"``.
    """

    name: str
    text: str
    span: Span | None
    status: str
    op: str
    measured: Measure | None
    threshold: Measure | None
    analysis: str | None = None
    cut: tuple[CutItem | Bottleneck, ...] = ()
    scope: str = ""
    instances: int = 1
    evaluated: int = 1
    notes: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    origin: str = "file"

    def message(self) -> str:
        """One line: what was measured against what, e.g.
        ``'measured 12.5 GB/s, expected >= 50 GB/s'``."""
        if self.status == "error":
            return "; ".join(d.message for d in self.diagnostics) or "cannot be evaluated"
        assert self.measured is not None and self.threshold is not None
        per = " per direction" if self.measured.dim == BANDWIDTH else ""
        m, t = self.measured, self.threshold
        # Enough digits that figures the comparison tells apart do not look the same.
        digits = digits_apart((m.lower, m.upper, t.lower, t.upper), _RTOL)
        text = f"measured {m.format(digits)}{per}, expected {self.op} {t.format(digits)}"
        if self.status == "unproven":
            text += " (unproven: the bounds straddle the threshold)"
        return text

    def to_dict(self, cut_rows: int | None = None) -> dict:
        """JSON-ready form (SI base units). A limiting cut gives ``cut`` (its elements, group by
        group: the first ``cut_rows``, every one when ``None``), ``cut_total`` and
        ``cut_groups`` (see :func:`topodsl.report.cut.cut_to_dict`)."""
        out: dict[str, Any] = {
            "name": self.name,
            "text": self.text,
            "status": self.status,
            "file": self.span.file if self.span else None,
            "line": self.span.line if self.span else None,
            "col": self.span.col if self.span else None,
            "origin": self.origin,
        }
        if self.status == "error":
            out["errors"] = [d.to_dict() for d in self.diagnostics]
            return out
        assert self.measured is not None and self.threshold is not None
        out.update(
            analysis=self.analysis,
            op=self.op,
            measured=self.measured.to_dict(),
            threshold=self.threshold.to_dict(),
            scope=self.scope,
            instances=self.instances,
            evaluated=self.evaluated,
            notes=list(self.notes),
        )
        from .report.cut import cut_to_dict, group_cut

        out.update(cut_to_dict(group_cut(self.cut), cut_rows))
        return out


@dataclass(frozen=True)
class CheckReport:
    """Every assertion of one topology, in source order (command-line ones last)."""

    source: str
    components: int
    links: int
    results: tuple[AssertionResult, ...] = ()
    errors: tuple[Diagnostic, ...] = ()
    settings: tuple[Any, ...] = ()  # the -D overrides (topodsl.params.Setting) it was built with

    @classmethod
    def input_error(cls, source: str, error: TopoError) -> CheckReport:
        """The report of a file that could not be read (nothing was checked)."""
        return cls(source, 0, 0, (), tuple(error.diagnostics))

    def count(self, status: str) -> int:
        """Number of results with ``status``."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Every input error: the file's own, then those found evaluating assertions."""
        return self.errors + tuple(d for r in self.results for d in r.diagnostics)

    def failing(self, unproven: str = "fail") -> tuple[AssertionResult, ...]:
        """Results that make the check fail; ``unproven`` says whether unproven ones do."""
        bad = ("fail", "unproven") if unproven == "fail" else ("fail",)
        return tuple(r for r in self.results if r.status in bad)

    def exit_code(self, unproven: str = "fail") -> int:
        """0 all pass, 1 an assertion failed (or is unproven, by default), 2 an input error."""
        if self.errors or self.count("error"):
            return 2
        return 1 if self.failing(unproven) else 0

    def to_dict(self, cut_rows: int | None = None) -> dict:
        """JSON-ready form; ``cut_rows`` caps each limiting cut's element list, ``overrides``
        only when ``-D`` set any."""
        from .params import settings_to_dict

        out: dict[str, Any] = {
            "source": self.source,
            "components": self.components,
            "links": self.links,
        }
        if self.settings:
            out["overrides"] = settings_to_dict(self.settings)
        return out | {
            "summary": {s: self.count(s) for s in STATUSES},
            "assertions": [r.to_dict(cut_rows) for r in self.results],
            "errors": [d.to_dict() for d in self.errors],
        }


# -- entry points --------------------------------------------------------------------------------


def parse_assertion(text: str, file: str = "<assert>") -> ast.Assert:
    """Parse one assertion written on its own, e.g. on the command line.

    The leading ``assert`` is optional; ``name: expr OP expr`` names it.

    >>> a = parse_assertion("gpus: count(kind:gpu) == 8")
    >>> a.name, a.text, a.op
    ('gpus', 'count(kind:gpu) == 8', '==')

    Raises
    ------
    TopoSyntaxError
        When the text does not parse; the caret points into ``assert <text>``.
    CheckError
        When the text holds something other than one assertion.
    """
    from .parser import parse

    body = text.strip()
    if not re.match(r"assert\b", body):
        body = "assert " + body
    module = parse(body, file)
    items = module.items
    if len(items) != 1 or not isinstance(items[0], ast.Assert):
        span = Span(file, 1, 1, 1, len(body) + 1)
        raise CheckError(
            Diagnostic(
                span,
                "error",
                f"expected one assertion, got {text.strip()!r}",
                "write it as 'EXPR OP EXPR', e.g. 'count(kind:gpu) == 8'",
                body,
            )
        )
    return items[0]


def check(
    topology: Topology | Context,
    assertions: Iterable[str | ast.Assert] = (),
    *,
    raise_errors: bool = True,
    max_instances: int = MAX_INSTANCES,
    options: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    """Evaluate the assertions declared in ``topology`` plus ``assertions``.

    Parameters
    ----------
    topology : Topology or Context
        Its :attr:`~topodsl.topology.Topology.assertions` are checked in source order. A
        :class:`~topodsl.analyses.Context` shares solver results with other calls.
    assertions : extra assertions, as text (``"bisection() >= 1 TB/s"``, evaluated at the top
        level and reported from the pseudo file ``<assert N>``) or parsed nodes.
    raise_errors : raise :class:`CheckError` when an assertion cannot be evaluated (default);
        with ``False`` such assertions come back with status ``"error"`` instead.
    max_instances : see :data:`MAX_INSTANCES`.
    options : common analysis options for every assertion (``{"forwarding": "ideal"}``),
        given to each analysis that takes them; an assertion's own ``forwarding = ...`` wins.
    progress : a :data:`topodsl.progress.Progress` callback: told how many assertions are
        done (stage ``"checking assertions"``) and given to the solvers that report.

    Returns
    -------
    CheckReport

    Raises
    ------
    CheckError, TopoSyntaxError
        An assertion is malformed or meaningless (each diagnostic at its ``file:line:col``).

    Examples
    --------
    >>> from topodsl import loads
    >>> t = loads("cluster c { gpu g[4]; hbm m[4] { capacity = 80 GB } }")
    >>> r = check(t, ["capacity(kind:hbm) >= 320 GB", "count(c.g[*]) == 4"])
    >>> [x.status for x in r.results], r.exit_code()
    (['pass', 'pass'], 0)
    >>> check(t, ["count(kind:gpu) >= 1 TB"])
    Traceback (most recent call last):
    ...
    topodsl.check.CheckError: <assert 1>:1:8: error: cannot compare a plain number with a size
    ...
    """
    ctx = topology if isinstance(topology, Context) else Context(topology)
    topology = ctx.topology
    ev = _Evaluator(ctx, options or {})
    # One assertion written in a definition used with different arguments comes as several
    # specs (one per variant); it is one promise, checked in every instance.
    grouped: dict[tuple, tuple[ast.Assert, list[str]]] = {}
    for spec in topology.assertions:
        # Source order, the file named on the command line first, then imported files.
        elsewhere = spec.node.span is not None and spec.node.span.file != topology.source
        key = (elsewhere, _span_key(spec.node.span), spec.node.text)
        grouped.setdefault(key, (spec.node, []))[1].extend(spec.scopes)
        for s in spec.scopes:
            ev.scope_constants[s] = {name: (v, d) for name, v, d in spec.constants}
    specs: list[tuple[ast.Assert, tuple[str, ...], str]] = []
    for key in sorted(grouped):
        node, scopes = grouped[key]
        order = sorted(set(scopes), key=lambda s: topology.index(s) if s else -1)
        specs.append((node, tuple(order), "file"))
    for k, item in enumerate(assertions, start=1):
        if isinstance(item, ast.Assert):
            node = item
        else:
            file = f"<assert {k}>"
            body = item.strip() if re.match(r"\s*assert\b", item) else "assert " + item.strip()
            ev.texts[file] = body
            node = parse_assertion(item, file)
        specs.append((node, ("",), "command line"))
    ev.calls.progress = progress
    results = []
    for k, (node, scopes, origin) in enumerate(specs):
        report_progress(progress, "checking assertions", k, len(specs))
        results.append(ev.run(node, scopes, origin, max_instances))
    report_progress(progress, "checking assertions", len(specs), len(specs))
    report = CheckReport(
        topology.source, topology.num_nodes, topology.num_links, tuple(results),
        settings=tuple(topology.overrides),
    )  # fmt: skip
    if raise_errors and report.count("error"):
        raise CheckError(list(report.diagnostics))
    return report


def _comparison_span(node: ast.Assert) -> Span:
    a, b = node.left.span, node.right.span
    return Span(a.file, a.line, a.col, b.end_line, b.end_col)


def _span_key(span: Span | None) -> tuple:
    if span is None:
        return ("", 0, 0)
    return (span.file, span.line, span.col)


def _tol(*xs: float) -> float:
    finite = [abs(x) for x in xs if math.isfinite(x)]
    return _RTOL * max(finite, default=0.0)


def compare(op: str, a: Measure, b: Measure) -> str:
    """``"pass"``, ``"fail"`` or ``"unproven"`` for ``a OP b`` over uncertain figures.

    A promise is proven when it holds for every value in both intervals and refuted when it
    fails for every one; otherwise it is unproven.

    >>> lo_hi = Measure(20e12, 28e12, BANDWIDTH)
    >>> [compare(">=", lo_hi, Measure(t, t, BANDWIDTH)) for t in (20e12, 25e12, 29e12)]
    ['pass', 'unproven', 'fail']
    """
    t = _tol(a.lower, a.upper, b.lower, b.upper)
    if op in ("<=", "<"):
        return compare(_MIRROR[op], b, a)
    if op == ">=":
        if a.lower >= b.upper - t:
            return "pass"
        return "fail" if a.upper < b.lower - t else "unproven"
    if op == ">":
        if a.lower > b.upper + t:
            return "pass"
        return "fail" if a.upper <= b.lower + t else "unproven"
    disjoint = a.upper < b.lower - t or a.lower > b.upper + t
    same = max(a.upper, b.upper) - min(a.lower, b.lower) <= t
    if op == "==":
        return "pass" if same else "fail" if disjoint else "unproven"
    if op == "!=":
        return "pass" if disjoint else "fail" if same else "unproven"
    raise ValueError(f"unknown comparison {op!r}")


# -- the evaluator -------------------------------------------------------------------------------


class _Evaluator(Evaluator):
    """Assertions: the arithmetic of :class:`~topodsl.evaluate.Evaluator`, plus constants and
    analyses (:class:`~topodsl.analyses.assertion.AssertionCalls`)."""

    value_noun = "a figure"

    def __init__(self, ctx: Context, options: Mapping[str, str]):
        self.t = ctx.topology
        self.texts: dict[str, str] = dict(self.t.source_texts)
        self._consts: dict[str, ast.Const] | None = None
        self._const_values: dict[str, Quantity] = {}
        self._const_stack: list[str] = []
        # Numbers visible where an assertion stands (a definition's parameters...), by scope.
        self.scope_constants: dict[str, dict[str, tuple[float, Dim]]] = {}
        self.calls = AssertionCalls(self, ctx, options)

    def rounded_division(self, e: ast.BinOp, a: Quantity, b: Quantity) -> None:
        """In an assertion's own expression a rounded-down division is an error, not a silent
        ``1 / 100 == 0`` threshold (a constant's definition keeps the language's rule)."""
        if self._const_stack:
            return
        if isinstance(a.lo, int) and isinstance(b.lo, int):
            what = f"{a.lo} / {b.lo} divides two whole numbers: it rounds down to {a.lo // b.lo}"
        else:
            what = "this divides whole numbers that do not divide exactly: it rounds down"
        raise self.error(
            e.span,
            f"{what} (the language's rule), which an assertion does not do silently",
            "write a decimal for a fraction (1.0 / 100 is 0.01), or floor(1.0 * a / b) to "
            "round down on purpose",
        )

    def error(self, span: Span | None, message: str, hint: str | None = None) -> EvaluationError:
        line = None
        if span is not None:
            line = source_line(span.file, span.line, self.texts.get(span.file))
        return EvaluationError(Diagnostic(span, "error", message, hint, line))

    # -- one assertion --------------------------------------------------------------------------

    def run(
        self, node: ast.Assert, scopes: tuple[str, ...], origin: str, max_instances: int
    ) -> AssertionResult:
        name = node.name or node.text
        evaluated = self._instances(scopes, max_instances)
        worst: tuple | None = None
        try:
            for scope in evaluated:
                got = self.one(node, scope)
                rank = STATUSES.index(got[0])
                if worst is None or rank > STATUSES.index(worst[0]):
                    worst = (*got, scope)
        except (EvaluationError, TopoError) as e:
            # A meaningless expression, or a solver that refused the question (e.g. an
            # unbounded flow): an input error here.
            diags = (
                (e.diagnostic,) if isinstance(e, EvaluationError)
                else tuple(_at(d, node.span, self.texts) for d in e.diagnostics)
            )  # fmt: skip
            return AssertionResult(
                name, node.text, node.span, "error", node.op, None, None,
                diagnostics=diags, origin=origin,
            )  # fmt: skip
        assert worst is not None
        status, op, measured, threshold, analysis, cut, notes, scope = worst
        notes = tuple(notes)
        if len(evaluated) < len(scopes):
            notes += (f"evaluated on {len(evaluated)} of {len(scopes)} instances: one per "
                      "distinct definition and arguments",)  # fmt: skip
        return AssertionResult(
            name, node.text, node.span, status, op, measured, threshold, analysis, cut, scope,
            len(scopes), len(evaluated), notes, (), origin,
        )  # fmt: skip

    def _instances(self, scopes: tuple[str, ...], cap: int) -> tuple[str, ...]:
        if len(scopes) <= cap:
            return scopes
        seen: dict[int, str] = {}
        for s in scopes:
            tpl = int(self.t.nodes.template[self.t.index(s)]) if s else -1
            seen.setdefault(tpl, s)
        return tuple(seen.values())

    def one(self, node: ast.Assert, scope: str) -> tuple:
        left = self.value(node.left, scope)
        right = self.value(node.right, scope)
        op = node.op
        if left.analysis is None and right.analysis is not None:
            left, right, op = right, left, _MIRROR[op]
        if left.dim != right.dim:
            unit = example_unit(left.dim)
            raise self.error(
                _comparison_span(node),
                f"cannot compare {dim_name(left.dim)} with {dim_name(right.dim)}",
                f"write the threshold as {dim_name(left.dim)}"
                + (f", e.g. in {unit}" if unit else ", without a unit"),
            )
        measured = Measure(float(left.lo), float(left.hi), left.dim)
        threshold = Measure(float(right.lo), float(right.hi), right.dim)
        status = compare(op, measured, threshold)
        return status, op, measured, threshold, left.analysis, left.cut, left.notes

    # -- names and calls ------------------------------------------------------------------------

    def components_hint(self, text: str) -> str:
        return f"pass it to an analysis, e.g. count({text})"

    def string(self, e: ast.String, scope: str) -> Quantity:
        raise self.components(e, f'"{e.value}"')

    def ref(self, e: ast.Ref, scope: str = "") -> Quantity:
        name = e.path.simple_name
        if name is None:
            raise self.components(e, path_text(e.path))
        local = self.scope_constants.get(scope, {})
        if name in local:
            value, dim = local[name]
            return Quantity.exact(value, dim)
        consts = self.constants()
        if name not in consts:
            hint = (
                f"to select components write e.g. count({name}[*]); constants used in "
                "assertions are 'const' declarations and a definition's parameters"
            )
            raise self.unknown_name(e, name, [*consts, *local, *ANALYSES], hint)
        return self.constant(name, e.span)

    def analysis(self, e: ast.Call, scope: str) -> Quantity | Record:
        if e.func in ANALYSES:
            return self.calls.call(e, scope)
        raise self.unknown_function(e, ANALYSES)

    # -- constants ------------------------------------------------------------------------------

    def constants(self) -> dict[str, ast.Const]:
        """Top-level constants of every file the topology was read from (the main file wins)."""
        if self._consts is None:
            from .parser import parse

            consts: dict[str, ast.Const] = {}
            files = sorted(self.t.source_texts, key=lambda f: (f == self.t.source, f))
            for file in files:
                try:
                    module = parse(self.t.source_texts[file], file)
                except TopoError:
                    continue
                for item in module.items:
                    if isinstance(item, ast.Const):
                        consts[item.name] = item
            self._consts = consts
        return self._consts

    def constant(self, name: str, span: Span) -> Quantity:
        if name in self._const_values:
            return self._const_values[name]
        if name in self._const_stack:
            raise self.error(span, f"constant {name!r} is defined in terms of itself")
        elaborated = self.t.constants.get(name)  # the value used, a -D override included
        self._const_stack.append(name)
        try:
            v = self.value(self.constants()[name].value, "") if name in self.constants() else None
        except EvaluationError:
            if elaborated is None:
                raise
            v = None
        finally:
            self._const_stack.pop()
        if elaborated is not None:  # kept as a float: a whole number stays one (7 / 2 is 3)
            whole = v is not None and v.integral and float(elaborated[0]).is_integer()
            v = Quantity.exact(int(elaborated[0]) if whole else elaborated[0], elaborated[1])
        v = self._const_values[name] = Quantity(v.lo, v.hi, v.dim)
        return v


def _at(d: Diagnostic, span: Span | None, texts: dict[str, str]) -> Diagnostic:
    """A solver's diagnostic, placed at the assertion that asked the question."""
    if d.span is not None or span is None:
        return d
    line = source_line(span.file, span.line, texts.get(span.file))
    return Diagnostic(span, d.severity, d.message, d.hint, line)
