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

Uncertain figures
-----------------
Every measured figure is an interval ``[lower, upper]`` that contains the true value (a point
when exact). Bisection bandwidth is the case that matters: a ``>=`` promise is *proven* only by
the lower bound and *refuted* only by the upper bound; in between the status is ``"unproven"``.
Arithmetic on figures is interval arithmetic, so ``bisection(x) / 2 >= 1 TB/s`` keeps the same
guarantee.

Names in an assertion
---------------------
Selections are resolved against the component ids relative to the component the assertion is
written in: inside ``cluster pod { ... }``, ``node[*].gpu[*]`` means ``pod.node*.gpu*``. A
path that matches nothing there is looked up one level further out, up to the top level. A bare
kind name (``count(gpu)``) or a ``kind:``/``role:`` selector selects within the assertion's
component. A quoted string is a selector in the command-line language (``"pod.node*.gpu*"``,
``"kind:gpu & pod.**"``), read from the top level and restricted to the assertion's component.
Other bare names are the file's top-level constants.

An assertion written in a definition holds for every instance; the report shows the worst one.
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

import difflib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import ast
from .errors import Diagnostic, ElaborationError, Span, TopoError, source_line
from .kinds import KIND_ALIASES, KIND_CODE, ROLES
from .solvers.flow import REL_TOL, CutItem
from .topology import Topology

if TYPE_CHECKING:
    from .solvers.dataflow import Bottleneck
from .units import (
    BANDWIDTH,
    COUNT,
    SIZE,
    TIME,
    Dim,
    digits_apart,
    dim_name,
    example_unit,
    format_quantity,
)

__all__ = [
    "Measure",
    "AssertionResult",
    "CheckReport",
    "CheckError",
    "check",
    "parse_assertion",
    "ANALYSES",
    "MAX_INSTANCES",
    "STATUSES",
]

#: Above this many instances of an assertion written in a definition, one instance per distinct
#: definition-and-arguments (``Topology.nodes.template``) is evaluated.
MAX_INSTANCES = 64

#: Every status a result can have, best first.
STATUSES = ("pass", "unproven", "fail", "error")

# Relative tolerance of comparisons: 25.6 TB/s written in a file and 25.6e12 B/s computed from
# link sums must compare equal.
_RTOL = REL_TOL  # one tolerance for every figure, set in the solver layer

_MIRROR = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}

_SWITCH_KINDS = ("switch", "nvswitch", "pcie_switch", "cxl_switch")


class CheckError(ElaborationError):
    """An assertion cannot be evaluated: unknown analysis, units that do not compare, an empty
    selection... Each diagnostic points at the assertion's ``file:line:col``."""


# -- results -------------------------------------------------------------------------------------


_BASE_UNITS = ((COUNT, ""), (SIZE, "B"), (BANDWIDTH, "B/s"), (TIME, "s"))


def unit_of(dim: Dim) -> str:
    """The SI base unit a value of ``dim`` is stored in, as text (``""`` for plain numbers).

    >>> unit_of(BANDWIDTH), unit_of(Dim(byte=1, second=-2))
    ('B/s', 'B s^-2')
    """
    for d, u in _BASE_UNITS:
        if d == dim:
            return u
    parts = []
    for name, exp in (("B", dim.byte), ("s", dim.second), ("FLOP", dim.flop), ("W", dim.watt)):
        if exp:
            parts.append(name if exp == 1 else f"{name}^{exp}")
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Measure:
    """A figure in SI base units whose true value lies in ``[lower, upper]`` (equal if exact).

    >>> Measure(2e12, 2e12, BANDWIDTH).format()
    '2 TB/s'
    >>> Measure(1.8e12, 2.4e12, BANDWIDTH).format()
    '1.8 TB/s .. 2.4 TB/s'
    """

    lower: float
    upper: float
    dim: Dim

    @property
    def exact(self) -> bool:
        """Whether the figure is known exactly."""
        return self.lower == self.upper

    @property
    def unit(self) -> str:
        """The SI base unit of :attr:`lower` and :attr:`upper`."""
        return unit_of(self.dim)

    def format(self, digits: int = 4) -> str:
        """The figure for people: ``'50 GB/s'``, or ``'lower .. upper'`` when uncertain (and the
        bounds differ in the ``digits`` significant digits shown)."""
        lo, hi = _format(self.lower, self.dim, digits), _format(self.upper, self.dim, digits)
        return lo if lo == hi else f"{lo} .. {hi}"

    def to_dict(self) -> dict:
        """JSON-ready form: ``value`` (``None`` unless exact), ``lower``, ``upper``, ``unit``."""
        return {
            "value": _json_float(self.lower) if self.exact else None,
            "lower": _json_float(self.lower),
            "upper": _json_float(self.upper),
            "unit": self.unit,
        }


def _json_float(x: float) -> float | int | str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if float(x).is_integer() and abs(x) < 2**53:
        return int(x)
    return float(x)


def _format(x: float, dim: Dim, digits: int = 4) -> str:
    if dim == COUNT:
        if math.isinf(x):
            return "inf"
        if float(x).is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.{digits}g}"
    if dim in (SIZE, BANDWIDTH, TIME) or dim_name(dim) != f"a quantity of dimension {dim}":
        return format_quantity(x, dim, digits)
    return f"{x:.{digits}g} {unit_of(dim)}"


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

    def to_dict(self) -> dict:
        """JSON-ready form (SI base units)."""
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
            cut=[c.to_dict() for c in self.cut],
        )
        return out


@dataclass(frozen=True)
class CheckReport:
    """Every assertion of one topology, in source order (command-line ones last)."""

    source: str
    components: int
    links: int
    results: tuple[AssertionResult, ...] = ()
    errors: tuple[Diagnostic, ...] = ()

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

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "source": self.source,
            "components": self.components,
            "links": self.links,
            "summary": {s: self.count(s) for s in STATUSES},
            "assertions": [r.to_dict() for r in self.results],
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
    topology: Topology,
    assertions: Iterable[str | ast.Assert] = (),
    *,
    raise_errors: bool = True,
    max_instances: int = MAX_INSTANCES,
    forwarding: str = "hardware",
) -> CheckReport:
    """Evaluate the assertions declared in ``topology`` plus ``assertions``.

    Parameters
    ----------
    topology : Topology
        Its :attr:`~topodsl.topology.Topology.assertions` are checked in source order.
    assertions : extra assertions, as text (``"bisection() >= 1 TB/s"``, evaluated at the top
        level and reported from the pseudo file ``<assert N>``) or parsed nodes.
    raise_errors : raise :class:`CheckError` when an assertion cannot be evaluated (default);
        with ``False`` such assertions come back with status ``"error"`` instead.
    max_instances : see :data:`MAX_INSTANCES`.
    forwarding : the forwarding model of every analysis, ``"hardware"`` (default) or
        ``"ideal"`` (see :mod:`topodsl.solvers.forwarding`).

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
    ev = _Evaluator(topology, forwarding)
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
    results = tuple(ev.run(node, scopes, origin, max_instances) for node, scopes, origin in specs)
    report = CheckReport(topology.source, topology.num_nodes, topology.num_links, results)
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


# -- values during evaluation --------------------------------------------------------------------


class _Abort(Exception):
    """Stop evaluating this assertion; the diagnostic is recorded."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class _Val:
    """A figure during evaluation: an interval, its dimension, where it came from."""

    lo: float
    hi: float
    dim: Dim
    analysis: str | None = None
    cut: tuple[CutItem | Bottleneck, ...] = ()
    notes: tuple[str, ...] = ()

    @staticmethod
    def exact(x: float, dim: Dim, **kw: Any) -> _Val:
        return _Val(float(x), float(x), dim, **kw)


@dataclass(frozen=True)
class _Record:
    """An analysis result with several figures: ``reach(...).capacity``."""

    analysis: str
    fields: dict[str, _Val]
    default: str | None = None


def _merge(a: _Val, b: _Val) -> dict:
    return {
        "analysis": a.analysis or b.analysis,
        "cut": a.cut or b.cut,
        "notes": a.notes + tuple(n for n in b.notes if n not in a.notes),
    }


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


# -- analyses ------------------------------------------------------------------------------------

Handler = Callable[["_Evaluator", ast.Call, str], "_Val | _Record"]


@dataclass(frozen=True)
class Analysis:
    """An analysis usable in an assertion: its signature (for messages and docs) and help."""

    name: str
    signature: str
    help: str
    handler: Handler = field(repr=False)


#: Analyses by name; filled below. :mod:`topodsl.report.check` and ``docs/ci.md`` list them.
ANALYSES: dict[str, Analysis] = {}


def _analysis(signature: str, help: str):
    def register(fn: Handler) -> Handler:
        name = signature.split("(", 1)[0]
        ANALYSES[name] = Analysis(name, signature, help, fn)
        return fn

    return register


_MATH = ("min", "max", "abs")


# -- the evaluator -------------------------------------------------------------------------------


class _Evaluator:
    def __init__(self, topology: Topology, forwarding: str = "hardware"):
        self.t = topology
        self.forwarding = forwarding
        self.texts: dict[str, str] = dict(topology.source_texts)
        self._consts: dict[str, ast.Const] | None = None
        self._const_values: dict[str, _Val] = {}
        self._const_stack: list[str] = []
        self._subtree: dict[str, np.ndarray] = {}
        # Numbers visible where an assertion stands (a definition's parameters...), by scope.
        self.scope_constants: dict[str, dict[str, tuple[float, Dim]]] = {}
        self.memo: dict[tuple, Any] = {}

    # diagnostics
    def error(self, span: Span | None, message: str, hint: str | None = None) -> _Abort:
        line = None
        if span is not None:
            line = source_line(span.file, span.line, self.texts.get(span.file))
        return _Abort(Diagnostic(span, "error", message, hint, line))

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
        except _Abort as a:
            return AssertionResult(
                name, node.text, node.span, "error", node.op, None, None,
                diagnostics=(a.diagnostic,), origin=origin,
            )  # fmt: skip
        except TopoError as e:
            # A solver refused the question (e.g. an unbounded flow): an input error here.
            diags = tuple(_at(d, node.span, self.texts) for d in e.diagnostics)
            return AssertionResult(
                name, node.text, node.span, "error", node.op, None, None,
                diagnostics=diags, origin=origin,
            )  # fmt: skip
        assert worst is not None
        status, op, measured, threshold, analysis, cut, notes, scope = worst
        notes = tuple(notes)
        if len(evaluated) < len(scopes):
            notes += (
                f"evaluated on {len(evaluated)} of {len(scopes)} instances: one per distinct "
                "definition and arguments",
            )
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
        measured = Measure(left.lo, left.hi, left.dim)
        threshold = Measure(right.lo, right.hi, right.dim)
        status = compare(op, measured, threshold)
        return status, op, measured, threshold, left.analysis, left.cut, left.notes

    # -- expressions ----------------------------------------------------------------------------

    def value(self, e: ast.Expr, scope: str) -> _Val:
        v = self.eval(e, scope)
        if isinstance(v, _Record):
            if v.default is not None:
                return v.fields[v.default]
            fields = ", ".join("." + f for f in v.fields)
            raise self.error(
                e.span, f"{v.analysis}(...) gives several figures; pick one of {fields}",
                f"e.g. {v.analysis}(...).{next(iter(v.fields))}",
            )  # fmt: skip
        return v

    def eval(self, e: Any, scope: str) -> _Val | _Record:
        if isinstance(e, ast.Number):
            return self.number(e)
        if isinstance(e, ast.BinOp):
            return self.binop(e, scope)
        if isinstance(e, ast.Unary):
            v = self.value(e.operand, scope)
            return _Val(-v.hi, -v.lo, v.dim, v.analysis, v.cut, v.notes)
        if isinstance(e, ast.Call):
            return self.call(e, scope)
        if isinstance(e, ast.Member):
            return self.member(e, scope)
        if isinstance(e, ast.Ref):
            return self.ref(e, scope)
        if isinstance(e, ast.SelectorLit):
            raise self.error(
                e.span, f"a selector ({e.text}) names components, not a figure",
                f"pass it to an analysis, e.g. count({e.text})",
            )  # fmt: skip
        if isinstance(e, ast.String):
            raise self.error(
                e.span, "a string names components, not a figure",
                f'pass it to an analysis, e.g. count("{e.value}")',
            )  # fmt: skip
        raise self.error(getattr(e, "span", None), "this expression has no value in an assertion")

    def number(self, e: ast.Number) -> _Val:
        if e.unit is None:
            return _Val.exact(e.value, COUNT)
        from .units import parse_unit

        scale, dim = parse_unit(e.unit)
        return _Val.exact(_scaled(e.value, scale), dim)

    def binop(self, e: ast.BinOp, scope: str) -> _Val:
        a, b = self.value(e.left, scope), self.value(e.right, scope)
        op = e.op
        meta = _merge(a, b)
        if op in ("+", "-"):
            if a.dim != b.dim:
                raise self.error(
                    e.span, f"cannot {'add' if op == '+' else 'subtract'} {dim_name(a.dim)} "
                    f"and {dim_name(b.dim)}",
                )  # fmt: skip
            if op == "+":
                return _Val(a.lo + b.lo, a.hi + b.hi, a.dim, **meta)
            return _Val(a.lo - b.hi, a.hi - b.lo, a.dim, **meta)
        if op == "*":
            p = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
            p = [x for x in p if not math.isnan(x)] or [math.nan]
            return _Val(min(p), max(p), a.dim * b.dim, **meta)
        if op == "/":
            if b.lo <= 0 <= b.hi:
                raise self.error(e.span, "division by zero (or by a figure that may be zero)")
            q = [a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi]
            return _Val(min(q), max(q), a.dim / b.dim, **meta)
        if op == "%":
            if a.lo != a.hi or b.lo != b.hi or a.dim != b.dim or b.lo == 0:
                raise self.error(e.span, "'%' needs two exact figures of one dimension, not zero")
            return _Val.exact(a.lo % b.lo, a.dim, **meta)
        if op == "**":
            if b.dim != COUNT or b.lo != b.hi or not float(b.lo).is_integer():
                raise self.error(e.span, "an exponent must be an exact whole number")
            n = int(b.lo)
            ends = [a.lo**n, a.hi**n]
            lo, hi = min(ends), max(ends)
            if n % 2 == 0 and a.lo < 0 < a.hi:
                lo = 0.0
            return _Val(lo, hi, a.dim**n, **meta)
        raise self.error(e.span, f"unknown operator {op!r}")  # pragma: no cover

    def ref(self, e: ast.Ref, scope: str = "") -> _Val:
        name = e.path.simple_name
        if name is None:
            text = _path_text(e.path)
            raise self.error(
                e.span, f"{text} names components, not a figure",
                f"pass it to an analysis, e.g. count({text})",
            )  # fmt: skip
        local = self.scope_constants.get(scope, {})
        if name in local:
            value, dim = local[name]
            return _Val.exact(value, dim)
        consts = self.constants()
        if name not in consts:
            hint = _did_you_mean(name, list(consts) + list(local) + list(ANALYSES))
            if hint is None:
                hint = (
                    f"to select components write e.g. count({name}[*]); constants used in "
                    "assertions are 'const' declarations and a definition's parameters"
                )
            raise self.error(e.span, f"unknown name {name!r}", hint)
        return self.constant(name, e.span)

    def call(self, e: ast.Call, scope: str) -> _Val | _Record:
        if e.func in ANALYSES:
            return ANALYSES[e.func].handler(self, e, scope)
        if e.func in _MATH:
            return self.math(e, scope)
        hint = _did_you_mean(e.func, list(ANALYSES) + list(_MATH))
        raise self.error(
            e.span, f"unknown analysis {e.func!r}",
            hint or "analyses: " + ", ".join(sorted(ANALYSES)),
        )  # fmt: skip

    def math(self, e: ast.Call, scope: str) -> _Val:
        args = []
        for a in e.args:
            if isinstance(a, ast.Direction | ast.KeywordArg):
                raise self.error(a.span, f"{e.func}() takes figures, not {_arg_kind(a)}")
            args.append(self.value(a, scope))
        if not args or (e.func == "abs" and len(args) != 1):
            raise self.error(e.span, f"{e.func}() needs {'one' if e.func == 'abs' else 'a'} figure")
        if any(a.dim != args[0].dim for a in args):
            raise self.error(e.span, f"{e.func}() needs figures of one dimension")
        meta = {
            "analysis": next((a.analysis for a in args if a.analysis), None),
            "cut": next((a.cut for a in args if a.cut), ()),
            "notes": tuple(dict.fromkeys(n for a in args for n in a.notes)),
        }
        if e.func == "abs":
            a = args[0]
            lo = 0.0 if a.lo <= 0 <= a.hi else min(abs(a.lo), abs(a.hi))
            return _Val(lo, max(abs(a.lo), abs(a.hi)), a.dim, **meta)
        pick = min if e.func == "min" else max
        return _Val(pick(a.lo for a in args), pick(a.hi for a in args), args[0].dim, **meta)

    def member(self, e: ast.Member, scope: str) -> _Val:
        v = self.eval(e.value, scope)
        func = e.value.func
        if not isinstance(v, _Record):
            raise self.error(
                e.name_span,
                f"{func}(...) is a single figure; it has no .{e.name}",
                f"compare {func}(...) itself",
            )
        if e.name not in v.fields:
            fields = ", ".join("." + f for f in v.fields)
            raise self.error(
                e.name_span,
                f"{func}(...) has no figure {e.name!r}",
                _did_you_mean(e.name, list(v.fields)) or f"it has {fields}",
            )
        return v.fields[e.name]

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

    def constant(self, name: str, span: Span) -> _Val:
        if name in self._const_values:
            return self._const_values[name]
        if name in self._const_stack:
            raise self.error(span, f"constant {name!r} is defined in terms of itself")
        self._const_stack.append(name)
        try:
            v = self.value(self.constants()[name].value, "")
        finally:
            self._const_stack.pop()
        v = _Val(v.lo, v.hi, v.dim)
        self._const_values[name] = v
        return v

    # -- selections -----------------------------------------------------------------------------

    def rows(
        self, e: Any, scope: str, what: str = "selection", allow_empty: bool = False
    ) -> np.ndarray:
        """Rows selected by an analysis argument (a path, a selector or a string).

        A selection that matches nothing is an input error (a misspelt path), except with
        ``allow_empty`` for a kind or role (``count(kind:hbm) == 0`` is a fair promise).
        """
        rows = self._rows(e, scope)
        if len(rows) == 0 and not (allow_empty and self._is_kind_selection(e)):
            where = f" in {scope}" if scope else ""
            raise self.error(
                e.span, f"the {what} {_expr_text(e)} matches no component{where}",
                "paths are relative to the component the assertion is written in",
            )  # fmt: skip
        return rows

    @staticmethod
    def _is_kind_selection(e: Any) -> bool:
        if isinstance(e, ast.SelectorLit):
            return True
        if isinstance(e, ast.Ref) and e.path.simple_name is not None:
            name = e.path.simple_name
            return KIND_ALIASES.get(name, name) in KIND_CODE or name in ROLES
        return False

    def _rows(self, e: Any, scope: str) -> np.ndarray:
        from .select import SelectorError, select

        try:
            if isinstance(e, ast.SelectorLit):
                return self._in_scope(select(self.t, e.text), scope)
            if isinstance(e, ast.String):
                return self._in_scope(select(self.t, e.value), scope)
            if isinstance(e, ast.Ref):
                return self._path_rows(e.path, scope)
        except SelectorError as err:
            raise self.error(e.span, err.diagnostics[0].message) from None
        if isinstance(e, ast.Direction | ast.KeywordArg):
            raise self.error(e.span, f"expected components here, not {_arg_kind(e)}")
        raise self.error(
            getattr(e, "span", None), f"expected components (a path such as node[*].gpu[*], or "
            f"kind:gpu), got {_expr_text(e)}",
        )  # fmt: skip

    def _path_rows(self, path: ast.Path, scope: str) -> np.ndarray:
        from .select import select

        pattern = ".".join(self._segment(s, scope) for s in path.segments)
        bare = path.simple_name
        levels = _scope_chain(scope)
        for level in levels:
            prefix = level + "." if level else ""
            for pat in (pattern, pattern + "[*]") if bare else (pattern,):
                rows = select(self.t, prefix + pat)
                if len(rows):
                    return rows
        if bare is not None:
            kind = KIND_ALIASES.get(bare, bare)
            if kind in KIND_CODE:
                return self._in_scope(self.t.rows_of_kind(kind), scope)
            if bare in ROLES:
                return self._in_scope(self.t.rows_of_role(bare), scope)
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
        v = self.value(e, scope)
        if v.dim != COUNT or v.lo != v.hi or not float(v.lo).is_integer() or v.lo < 0:
            raise self.error(e.span, "an index must be a whole number >= 0")
        return int(v.lo)

    def _in_scope(self, rows: np.ndarray, scope: str) -> np.ndarray:
        if not scope:
            return rows
        sub = self._subtree.get(scope)
        if sub is None:
            sub = self._subtree[scope] = subtree_mask(self.t, [self.t.index(scope)])
        return rows[sub[rows]]

    # -- shared argument handling ---------------------------------------------------------------

    def bind(
        self,
        e: ast.Call,
        positional: Sequence[str],
        keywords: Sequence[str] = (),
        required: int | None = None,
    ) -> dict[str, Any]:
        """Match ``e``'s arguments to names: positional ones in order, then ``from``/``to``/
        ``within``; a ``a -> b`` argument binds ``from`` and ``to``."""
        out: dict[str, Any] = {}
        pos = [a for a in e.args if not isinstance(a, ast.KeywordArg | ast.Direction)]
        usage = f"usage: {ANALYSES[e.func].signature}" if e.func in ANALYSES else None
        if len(pos) > len(positional):
            raise self.error(
                pos[len(positional)].span,
                f"{e.func}() takes at most {len(positional)} plain argument(s)",
                usage,
            )
        for name, a in zip(positional, pos, strict=False):
            out[name] = a
        for a in e.args:
            if isinstance(a, ast.Direction):
                if "from" not in keywords:
                    raise self.error(a.span, f"{e.func}() takes no 'a -> b' argument", usage)
                if a.op != "->":
                    raise self.error(a.span, "write a flow's direction with '->'", usage)
                if "from" in out or "to" in out:
                    raise self.error(a.span, "the direction is given twice", usage)
                out["from"], out["to"] = a.source, a.target
            elif isinstance(a, ast.KeywordArg):
                if a.name not in keywords:
                    raise self.error(a.span, f"{e.func}() takes no '{a.name}' argument", usage)
                if a.name in out:
                    raise self.error(a.span, f"'{a.name}' is given twice", usage)
                out[a.name] = a.value
        need = positional[: required if required is not None else len(positional)]
        for name in need:
            if name not in out:
                raise self.error(e.span, f"{e.func}() needs {name}", usage)
        return out

    def endpoints(
        self,
        e: ast.Call,
        args: dict[str, Any],
        scope: str,
        default_from: str | None,
        default_to: str | None,
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Source and sink rows of a flow-like analysis, with notes naming defaults used."""
        notes = []
        usage = f"usage: {ANALYSES[e.func].signature}"
        out = []
        for key, default in (("from", default_from), ("to", default_to)):
            if key in args:
                out.append(self.rows(args[key], scope, f"'{key}' selection"))
                continue
            if default is None:
                raise self.error(e.span, f"{e.func}() needs '{key}' components", usage)
            rows = self._in_scope(self.t.select(default), scope)
            if len(rows) == 0:
                where = f" in {scope}" if scope else ""
                raise self.error(
                    e.span,
                    f"{e.func}() defaults '{key}' to {default}, and there is none{where}",
                    usage,
                )
            notes.append(f"{key} {default} ({len(rows)})")
            out.append(rows)
        src, dst = out
        if len(np.intersect1d(src, dst)):
            raise self.error(e.span, f"{e.func}(): the 'from' and 'to' selections overlap")
        return src, dst, notes

    def quantity(self, e: Any, scope: str, dim: Dim, what: str) -> float:
        v = self.value(e, scope)
        if v.dim != dim:
            unit = example_unit(dim)
            raise self.error(
                e.span,
                f"{what} must be {dim_name(dim)}, got {dim_name(v.dim)}",
                f"e.g. with unit {unit}" if unit else None,
            )
        if v.lo != v.hi:
            raise self.error(e.span, f"{what} must be an exact figure")
        return v.lo


# -- helpers -------------------------------------------------------------------------------------


def _scaled(value: float, scale: float) -> float:
    # 25.6 * 1e12 is 25600000000000.004 in binary floating point; round to 15 significant
    # digits, which every literal has, so thresholds equal the sums they are compared with.
    x = float(value) * scale
    return float(f"{x:.15g}") if x else 0.0


def _scope_chain(scope: str) -> list[str]:
    if not scope:
        return [""]
    parts = scope.split(".")
    return [".".join(parts[:k]) for k in range(len(parts), 0, -1)] + [""]


def subtree_mask(topology: Topology, roots: Sequence[int] | np.ndarray) -> np.ndarray:
    """Boolean mask over rows: the ``roots`` and everything inside them.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("n", "node"); _ = b.add_node("n.g", "gpu", "n")
    >>> _ = b.add_node("m", "node")
    >>> subtree_mask(b.build(), [0]).tolist()
    [True, True, False]
    """
    parent = topology.nodes.parent
    mask = np.zeros(topology.num_nodes, dtype=bool)
    mask[np.asarray(roots, dtype=np.int64)] = True
    has_parent = parent >= 0
    while True:
        grown = mask.copy()
        grown[has_parent] |= mask[parent[has_parent]]
        if np.array_equal(grown, mask):
            return mask
        mask = grown


def _at(d: Diagnostic, span: Span | None, texts: dict[str, str]) -> Diagnostic:
    """A solver's diagnostic, placed at the assertion that asked the question."""
    if d.span is not None or span is None:
        return d
    line = source_line(span.file, span.line, texts.get(span.file))
    return Diagnostic(span, d.severity, d.message, d.hint, line)


def _did_you_mean(name: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def _arg_kind(a: Any) -> str:
    if isinstance(a, ast.Direction):
        return "a direction 'a -> b'"
    return f"'{a.name} ...'"


def _path_text(p: ast.Path) -> str:
    out = []
    for s in p.segments:
        if s.index is None:
            out.append(s.name)
        elif isinstance(s.index, ast.Star):
            out.append(f"{s.name}[*]")
        else:
            out.append(f"{s.name}[...]")
    return ".".join(out)


def _expr_text(e: Any) -> str:
    if isinstance(e, ast.Ref):
        return _path_text(e.path)
    if isinstance(e, ast.SelectorLit):
        return e.text
    if isinstance(e, ast.String):
        return repr(e.value)
    return "this"


def _flow_interval(r) -> tuple[float, float]:
    """A max-flow value as an interval: the flow found and the capacity of a real cut."""
    value = float(r.throughput)
    if r.flow.exact:
        return value, value
    return float(r.flow.lower), float(r.flow.upper)


# -- structural analyses -------------------------------------------------------------------------


@_analysis("count(SELECTION)", "number of components selected")
def _count(ev: _Evaluator, e: ast.Call, scope: str) -> _Val:
    args = ev.bind(e, ["components"])
    rows = ev.rows(args["components"], scope, allow_empty=True)
    return _Val.exact(len(rows), COUNT, analysis="count")


@_analysis(
    "capacity(SELECTION)",
    "total bytes held by the selected components and everything inside them",
)
def _capacity(ev: _Evaluator, e: ast.Call, scope: str) -> _Val:
    args = ev.bind(e, ["components"])
    rows = ev.rows(args["components"], scope, allow_empty=True)
    mask = subtree_mask(ev.t, rows)
    total = float(ev.t.nodes.capacity[mask].sum())
    return _Val.exact(total, SIZE, analysis="capacity")


def _lanes_used(t: Topology) -> np.ndarray:
    L = t.links
    n = t.num_nodes
    return np.bincount(L.src, weights=L.lanes, minlength=n) + np.bincount(
        L.dst, weights=L.lanes, minlength=n
    )


@_analysis("ports_used(SELECTION)", "most link lanes connected to any one selected component")
def _ports_used(ev: _Evaluator, e: ast.Call, scope: str) -> _Val:
    args = ev.bind(e, ["components"])
    rows = ev.rows(args["components"], scope)
    used = _lanes_used(ev.t)[rows]
    k = int(np.argmax(used))
    note = f"most used: {ev.t.nodes.ids[int(rows[k])]} ({used[k]:g} lanes)"
    return _Val.exact(float(used[k]), COUNT, analysis="ports_used", notes=(note,))


@_analysis(
    "ports_free(SELECTION)",
    "fewest declared ports left unused on any selected component that declares ports",
)
def _ports_free(ev: _Evaluator, e: ast.Call, scope: str) -> _Val:
    args = ev.bind(e, ["components"])
    rows = ev.rows(args["components"], scope)
    ports = ev.t.nodes.ports[rows]
    rows = rows[ports >= 0]
    if len(rows) == 0:
        raise ev.error(
            args["components"].span,
            "none of the selected components declares ports",
            "declare them, e.g. switch leaf[8] { ports = 64 }",
        )
    free = ev.t.nodes.ports[rows] - _lanes_used(ev.t)[rows]
    k = int(np.argmin(free))
    note = f"fullest: {ev.t.nodes.ids[int(rows[k])]} ({free[k]:g} free)"
    return _Val.exact(float(free[k]), COUNT, analysis="ports_free", notes=(note,))


def switch_tiers(topology: Topology) -> np.ndarray:
    """Tier of every switch row: its hop distance from the nearest host; 0 for non-switches,
    -1 for a switch no host reaches.

    Hosts are the components that are neither switches nor storage and do not sit in a
    ``storage_node``: storage attached to a spine must not make the spine look like a leaf.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for name, kind in (("h", "nic"), ("leaf", "switch"), ("spine", "switch"),
    ...                    ("st", "storage_node"), ("st.nic", "nic")):
    ...     _ = b.add_node(name, kind, parent="st" if name == "st.nic" else None)
    >>> for a, z in (("h", "leaf"), ("leaf", "spine"), ("spine", "st.nic")):
    ...     _ = b.add_link(a, z, 1.0)
    >>> switch_tiers(b.build()).tolist()
    [0, 1, 2, 0, 0]
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import shortest_path

    t = topology
    n = t.num_nodes
    is_switch = np.isin(t.nodes.kind, [KIND_CODE[k] for k in _SWITCH_KINDS])
    tiers = np.where(is_switch, -1, 0).astype(np.int64)
    if not is_switch.any():
        return tiers
    storage_nodes = np.flatnonzero(t.nodes.kind == KIND_CODE["storage_node"])
    hosts = ~is_switch & (t.role_codes != ROLES.index("storage"))
    if len(storage_nodes):
        hosts &= ~subtree_mask(t, storage_nodes)
    if not hosts.any():
        hosts = ~is_switch
    L = t.links
    # A virtual root joined to every host; a switch's tier is its distance to it, minus one.
    h = np.flatnonzero(hosts)
    rows = np.concatenate([L.src, L.dst, np.full(len(h), n)])
    cols = np.concatenate([L.dst, L.src, h])
    g = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1))
    dist = shortest_path(g, directed=False, unweighted=True, indices=n)[:n]
    reach = is_switch & np.isfinite(dist)
    tiers[reach] = dist[reach].astype(np.int64) - 1
    return tiers


@_analysis(
    "oversubscription(SWITCHES, to UPLINKED)",
    "worst ratio of downlink to uplink bandwidth over the selected switches. Without 'to', a "
    "switch's uplinks go to switches of its tier or above (tier: hops from the nearest host) "
    "and switches without uplinks, the top tier, are skipped; with 'to', uplinks are the links "
    "to those components",
)
def _oversubscription(ev: _Evaluator, e: ast.Call, scope: str) -> _Val:
    args = ev.bind(e, ["switches"], ["to"])
    rows = ev.rows(args["switches"], scope)
    t = ev.t
    L = t.links
    n = t.num_nodes
    is_switch = np.isin(t.nodes.kind, [KIND_CODE[k] for k in _SWITCH_KINDS])
    if "to" in args:
        upward = np.zeros(n, dtype=bool)
        upward[ev.rows(args["to"], scope, "'to' selection")] = True

        def is_up(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return upward[b]
    else:
        if ("tiers",) not in ev.memo:
            ev.memo[("tiers",)] = switch_tiers(t)
        tier = ev.memo[("tiers",)]

        def is_up(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return is_switch[b] & (tier[b] >= tier[a])

    down = np.zeros(n)
    up = np.zeros(n)
    for a, b in ((L.src, L.dst), (L.dst, L.src)):
        u = is_up(a, b)
        np.add.at(up, a, np.where(u, L.bandwidth, 0.0))
        np.add.at(down, a, np.where(u, 0.0, L.bandwidth))
    ok = is_switch[rows] & (up[rows] > 0) & (down[rows] > 0)
    rows = rows[ok]
    if len(rows) == 0:
        raise ev.error(
            args["switches"].span,
            "none of the selected components is a switch with both downlinks and uplinks",
            "select the lower tiers of a fabric, e.g. oversubscription(leaf[*]), or name the "
            "uplinked tier: oversubscription(leaf[*], to spine[*])",
        )
    ratio = down[rows] / up[rows]
    k = int(np.argmax(ratio))
    r = int(rows[k])
    note = (
        f"worst: {t.nodes.ids[r]}, {format_quantity(down[r], BANDWIDTH)} down / "
        f"{format_quantity(up[r], BANDWIDTH)} up"
    )
    return _Val.exact(float(ratio[k]), COUNT, analysis="oversubscription", notes=(note,))


# -- flow analyses -------------------------------------------------------------------------------


@_analysis(
    "flow(FROM -> TO)",
    "maximum flow from one selection to another, per direction (also flow(from A, to B)); "
    "storage sends at its read bandwidth and receives at its write bandwidth",
)
def _flow(ev: _Evaluator, e: ast.Call, scope: str) -> _Val:
    args = ev.bind(e, [], ["from", "to"])
    src, dst, notes = ev.endpoints(e, args, scope, None, None)
    key = ("flow", src.tobytes(), dst.tobytes())
    if key not in ev.memo:
        from .solvers.dataflow import data_flow

        ev.memo[key] = data_flow(ev.t, src, dst, forwarding=ev.forwarding)
    r = ev.memo[key]
    lo, hi = _flow_interval(r)
    notes = tuple(notes) + _relay_notes(r.relay_gain, r.relays)
    return _Val(lo, hi, BANDWIDTH, "flow", tuple(r.bottleneck), notes)


def _relay_notes(gain: float, relays: tuple[str, ...]) -> tuple[str, ...]:
    """A note when a figure depends on components relaying beyond the hardware defaults."""
    if gain <= 0:
        return ()
    shown = ", ".join(relays[:3]) + (f" and {len(relays) - 3} more" if len(relays) > 3 else "")
    return (f"{format_quantity(gain, BANDWIDTH)} of it relayed through {shown}",)


# -- storage scenarios (topodsl.solvers.dataflow) --------------------------------------------------


def _scenario(ev: _Evaluator, e: ast.Call, scope: str, name: str, size_required: bool):
    """Run a data-path scenario; returns the solver's ScenarioResult, the size and notes."""
    from .solvers.dataflow import SCENARIOS

    fn, default_from, default_to = SCENARIOS[name]
    args = ev.bind(e, ["size"], ["from", "to"], required=1 if size_required else 0)
    size = None
    if "size" in args:
        size = ev.quantity(args["size"], scope, SIZE, f"the size to move in {name}()")
        if not size > 0:
            raise ev.error(args["size"].span, "the size must be more than 0 B")
    src, dst, notes = ev.endpoints(e, args, scope, default_from, default_to)
    key = (name, src.tobytes(), dst.tobytes(), size)
    if key not in ev.memo:
        if name == "ingest":
            ev.memo[key] = fn(ev.t, src, dst, size, forwarding=ev.forwarding)
        else:
            ev.memo[key] = fn(ev.t, size, src, dst, forwarding=ev.forwarding)
    return ev.memo[key], size, notes


def _leg_fields(leg, size: float | None, prefix: str, analysis: str, notes) -> dict[str, _Val]:
    """Rate per endpoint, total throughput and (with a size) time of one scenario leg, each an
    interval between the achievable rate and the rate no schedule can beat."""
    u = leg.uniform
    cut = tuple(u.bottleneck)
    kw = {"analysis": analysis, "cut": cut}
    n = u.endpoints
    lo, hi = float(u.rate), float(max(u.rate_bound, u.rate))
    extra = (
        f"{n} {'sources' if u.even == 'sources' else 'sinks'} in equal shares; "
        f"{u.behind} behind the bottleneck",
    )
    notes = tuple(notes) + extra + _relay_notes(u.relay_gain * n, u.relays)
    if _format(lo, BANDWIDTH) != _format(hi, BANDWIDTH):
        notes += (
            f"rate between {format_quantity(lo, BANDWIDTH)} and "
            f"{format_quantity(hi, BANDWIDTH)} per endpoint",
        )
    out = {
        prefix + "rate": _Val(lo, hi, BANDWIDTH, notes=notes, **kw),
        prefix + "throughput": _Val(n * lo, n * hi, BANDWIDTH, notes=notes, **kw),
    }
    if size is not None:
        t_lo = size / (n * hi) if hi > 0 else math.inf
        t_hi = size / (n * lo) if lo > 0 else math.inf
        out[prefix + "time"] = _Val(t_lo, t_hi, TIME, notes=notes, **kw)
    return out


@_analysis(
    "checkpoint(SIZE, from GPUS, to SSDS)",
    "time for the GPUs (default: every GPU here) to write SIZE in equal shards to the SSDs "
    "(default: every SSD here) at once, SSD write bandwidth applying; also .rate (per GPU) and "
    ".throughput",
)
def _checkpoint(ev: _Evaluator, e: ast.Call, scope: str) -> _Record:
    r, size, notes = _scenario(ev, e, scope, "checkpoint", True)
    return _Record("checkpoint", _leg_fields(r.legs[0], size, "", "checkpoint", notes), "time")


@_analysis(
    "drain(SIZE, from SSDS, to HDDS)",
    "time to move SIZE spread evenly over the SSDs (default: every SSD here) to the HDDs "
    "(default: every HDD here); also .rate (per SSD) and .throughput",
)
def _drain(ev: _Evaluator, e: ast.Call, scope: str) -> _Record:
    r, size, notes = _scenario(ev, e, scope, "drain", True)
    return _Record("drain", _leg_fields(r.legs[0], size, "", "drain", notes), "time")


@_analysis(
    "ingest(SIZE, from STORAGE, to GPUS)",
    "rate every GPU (default: every GPU here) can read from storage (default: every SSD and HDD "
    "here) at the same time, per GPU; also .throughput and, with the optional SIZE (a data set "
    "read once in equal shares), .time",
)
def _ingest(ev: _Evaluator, e: ast.Call, scope: str) -> _Record:
    r, size, notes = _scenario(ev, e, scope, "ingest", False)
    return _Record("ingest", _leg_fields(r.legs[0], size, "", "ingest", notes), "rate")


@_analysis(
    "spill(SIZE, from GPUS, to CXL_MEMORY)",
    "rate per GPU spilling to CXL memory (default: every GPU and CXL memory here) with every GPU "
    "at once; .fetch_rate the way back; .throughput, .fetch_throughput and, with the optional "
    "SIZE, .time and .fetch_time",
)
def _spill(ev: _Evaluator, e: ast.Call, scope: str) -> _Record:
    r, size, notes = _scenario(ev, e, scope, "spill", False)
    fields = _leg_fields(r.legs[0], size, "", "spill", notes)
    fields |= _leg_fields(r.legs[1], size, "fetch_", "spill", notes)
    return _Record("spill", fields, "rate")


# -- bisection -----------------------------------------------------------------------------------


@_analysis(
    "bisection(ENDPOINTS)",
    "bisection bandwidth over the endpoints (default: every GPU in the assertion's component), "
    "per direction; a bound pair, so '>=' is proven by the lower bound and refuted by the upper "
    "bound; .lower and .upper are the bounds themselves",
)
def _bisection(ev: _Evaluator, e: ast.Call, scope: str) -> _Record:
    args = ev.bind(e, ["endpoints"], required=0)
    if "endpoints" in args:
        rows = ev.rows(args["endpoints"], scope, "endpoint selection")
    else:
        rows = ev._in_scope(ev.t.rows_of_kind("gpu"), scope)
    if len(rows) < 2:
        raise ev.error(
            e.span, f"bisection needs at least two endpoints, got {len(rows)}",
            "name them, e.g. bisection(kind:gpu) or bisection(node[*].gpu[*])",
        )  # fmt: skip
    key = ("bisection", rows.tobytes())
    if key not in ev.memo:
        from .solvers.bisection import bisection

        ev.memo[key] = bisection(ev.t, rows, forwarding=ev.forwarding)
    r = ev.memo[key]
    lo, hi = float(r.lower_bound), float(r.upper_bound)
    if r.exact:
        how = r.upper_method
        if r.lower_method != r.upper_method:
            how = f"{r.upper_method} split, {r.lower_method} bound"
        notes: tuple[str, ...] = (f"exact ({how}), {r.endpoints} endpoints",)
    else:
        notes = (
            f"lower bound {format_quantity(lo, BANDWIDTH)} ({r.lower_method}), upper bound "
            f"{format_quantity(hi, BANDWIDTH)} ({r.upper_method}), {r.endpoints} endpoints",
        )
    cut = tuple(r.cut)
    fields = {
        "value": _Val(lo, hi, BANDWIDTH, "bisection", cut, notes),
        "lower": _Val.exact(lo, BANDWIDTH, analysis="bisection", notes=notes),
        "upper": _Val.exact(hi, BANDWIDTH, analysis="bisection", cut=cut, notes=notes),
    }
    return _Record("bisection", fields, default="value")


# -- memory reach --------------------------------------------------------------------------------


@_analysis(
    "reach(ELEMENTS, within LATENCY)",
    "memory the selected compute elements reach within a latency budget: .capacity (bytes) and "
    ".memories (count); over several elements, the least any of them reaches",
)
def _reach(ev: _Evaluator, e: ast.Call, scope: str) -> _Record:
    args = ev.bind(e, ["elements"], ["within"], required=0)
    if "elements" in args:
        rows = ev.rows(args["elements"], scope, "element selection")
    else:
        rows = ev._in_scope(ev.t.rows_of_role("compute"), scope)
        if len(rows) == 0:
            raise ev.error(e.span, "reach() found no compute element here to start from")
    within = None
    if "within" in args:
        within = ev.quantity(args["within"], scope, TIME, "the latency budget")
    key = ("reach", rows.tobytes(), within)
    if key not in ev.memo:
        from .solvers.reach import memory_reach

        ev.memo[key] = memory_reach(ev.t, rows, within=within, forwarding=ev.forwarding)
    r = ev.memo[key]
    budget = np.inf if within is None else within
    capacity = r.capacity_within(budget)
    pos = np.searchsorted(r.sources, r.source)
    ok = r.latency <= budget * (1 + 1e-9)
    memories = np.bincount(pos[ok], minlength=len(r.sources))
    k = int(np.argmin(capacity))
    notes = ()
    if len(r.sources) > 1:
        notes = (f"least: {ev.t.nodes.ids[int(r.sources[k])]} of {len(r.sources)} elements",)
    fields = {
        "capacity": _Val.exact(float(capacity[k]), SIZE, analysis="reach", notes=notes),
        "memories": _Val.exact(float(memories.min()), COUNT, analysis="reach", notes=notes),
    }
    return _Record("reach", fields)
