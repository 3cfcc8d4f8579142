"""Interval arithmetic with units over the expression AST: how assertions compute.

A figure in an assertion is an :class:`Interval` ``[lo, hi]`` that contains the true value (a
point when exact) and carries its dimension; ``+ - * / % **``, unary minus and ``min``,
``max``, ``abs`` keep the guarantee (``bisection(x) / 2`` of a bound pair is a bound pair).
:class:`IntervalEvaluator` evaluates numbers and arithmetic; what names mean (constants,
analyses, ``.field``) is left to a subclass (:class:`topodsl.check` has the one for
assertions).

This is one of two evaluators of expressions with units: elaboration has its own over exact
values (``topodsl.elaborate._Q``). Issue 12 merges them; this module is kept free of anything
assertion-specific so that the merge replaces it whole: the hooks a caller supplies are
:meth:`IntervalEvaluator.ref`, :meth:`~IntervalEvaluator.analysis` and
:meth:`~IntervalEvaluator.member`, and errors come from :meth:`~IntervalEvaluator.error`.

>>> from topodsl.parser import parse
>>> e = parse("assert 2 * 25 GB/s - 10 GB/s >= 0 B/s").items[0].left
>>> v = IntervalEvaluator().value(e, "")
>>> v.lo, v.dim == BANDWIDTH
(40000000000.0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import ast
from .errors import Diagnostic, Span
from .units import BANDWIDTH, COUNT, Dim, dim_name, parse_unit

__all__ = ["Interval", "Record", "IntervalEvaluator", "EvaluationError", "MATH_FUNCTIONS"]

#: Functions of figures the evaluator knows itself.
MATH_FUNCTIONS = ("min", "max", "abs")

_ = BANDWIDTH  # (used by the doctest)


class EvaluationError(Exception):
    """Stop evaluating this expression; the diagnostic says why and where."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class Interval:
    """A figure during evaluation: an interval, its dimension, and where it came from
    (the analysis, its limiting cut, notes worth showing)."""

    lo: float
    hi: float
    dim: Dim
    analysis: str | None = None
    cut: tuple = ()
    notes: tuple[str, ...] = ()

    @staticmethod
    def exact(x: float, dim: Dim, **kw: Any) -> Interval:
        """A point interval."""
        return Interval(float(x), float(x), dim, **kw)


@dataclass(frozen=True)
class Record:
    """An analysis result with several figures: ``reach(...).capacity``. ``default`` is the
    figure used when the expression names none (``None``: it must name one)."""

    analysis: str
    fields: dict[str, Interval]
    default: str | None = None


def _merge(a: Interval, b: Interval) -> dict:
    return {
        "analysis": a.analysis or b.analysis,
        "cut": a.cut or b.cut,
        "notes": a.notes + tuple(n for n in b.notes if n not in a.notes),
    }


def scaled(value: float, scale: float) -> float:
    """``value * scale`` rounded to 15 significant digits, which every literal has, so that
    thresholds equal the sums they are compared with (``25.6 * 1e12`` is
    ``25600000000000.004`` in binary floating point)."""
    x = float(value) * scale
    return float(f"{x:.15g}") if x else 0.0


class IntervalEvaluator:
    """Evaluate expressions to :class:`Interval` (or :class:`Record`) values.

    ``scope`` is passed through to the hooks untouched (the assertion evaluator resolves
    names relative to it).
    """

    def error(self, span: Span | None, message: str, hint: str | None = None) -> Exception:
        """The exception to raise for a meaningless expression (override to add source lines)."""
        return EvaluationError(Diagnostic(span, "error", message, hint))

    # -- hooks -----------------------------------------------------------------------------------

    def ref(self, e: ast.Ref, scope: str) -> Interval:
        """The value of a name (a constant)."""
        raise self.error(e.span, f"unknown name {e.path.simple_name or '...'!r}")

    def analysis(self, e: ast.Call, scope: str) -> Interval | Record:
        """The value of a call that is not a math function (an analysis)."""
        raise self.error(e.span, f"unknown function {e.func!r}")

    def member(self, e: ast.Member, scope: str) -> Interval:
        """The value of ``call(...).name``."""
        raise self.error(e.name_span, f"{e.value.func}(...) has no figure {e.name!r}")

    # -- evaluation ------------------------------------------------------------------------------

    def value(self, e: ast.Expr, scope: str) -> Interval:
        """One figure: a record's default field, or an error naming the fields to pick from."""
        v = self.eval(e, scope)
        if isinstance(v, Record):
            if v.default is not None:
                return v.fields[v.default]
            fields = ", ".join("." + f for f in v.fields)
            raise self.error(
                e.span, f"{v.analysis}(...) gives several figures; pick one of {fields}",
                f"e.g. {v.analysis}(...).{next(iter(v.fields))}",
            )  # fmt: skip
        return v

    def eval(self, e: Any, scope: str) -> Interval | Record:
        """The value of any expression."""
        if isinstance(e, ast.Number):
            return self.number(e)
        if isinstance(e, ast.BinOp):
            return self.binop(e, scope)
        if isinstance(e, ast.Unary):
            v = self.value(e.operand, scope)
            return Interval(-v.hi, -v.lo, v.dim, v.analysis, v.cut, v.notes)
        if isinstance(e, ast.Call):
            if e.func in MATH_FUNCTIONS:
                return self.math(e, scope)
            return self.analysis(e, scope)
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

    def number(self, e: ast.Number) -> Interval:
        """A literal, in SI base units."""
        if e.unit is None:
            return Interval.exact(e.value, COUNT)
        scale, dim = parse_unit(e.unit)
        return Interval.exact(scaled(e.value, scale), dim)

    def binop(self, e: ast.BinOp, scope: str) -> Interval:
        """``a OP b`` over intervals, dimensions checked."""
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
                return Interval(a.lo + b.lo, a.hi + b.hi, a.dim, **meta)
            return Interval(a.lo - b.hi, a.hi - b.lo, a.dim, **meta)
        if op == "*":
            p = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
            p = [x for x in p if not math.isnan(x)] or [math.nan]
            return Interval(min(p), max(p), a.dim * b.dim, **meta)
        if op == "/":
            if b.lo <= 0 <= b.hi:
                raise self.error(e.span, "division by zero (or by a figure that may be zero)")
            q = [a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi]
            return Interval(min(q), max(q), a.dim / b.dim, **meta)
        if op == "%":
            if a.lo != a.hi or b.lo != b.hi or a.dim != b.dim or b.lo == 0:
                raise self.error(e.span, "'%' needs two exact figures of one dimension, not zero")
            return Interval.exact(a.lo % b.lo, a.dim, **meta)
        if op == "**":
            if b.dim != COUNT or b.lo != b.hi or not float(b.lo).is_integer():
                raise self.error(e.span, "an exponent must be an exact whole number")
            n = int(b.lo)
            ends = [a.lo**n, a.hi**n]
            lo, hi = min(ends), max(ends)
            if n % 2 == 0 and a.lo < 0 < a.hi:
                lo = 0.0
            return Interval(lo, hi, a.dim**n, **meta)
        raise self.error(e.span, f"unknown operator {op!r}")  # pragma: no cover

    def math(self, e: ast.Call, scope: str) -> Interval:
        """``min``, ``max`` and ``abs`` of figures."""
        args = []
        for a in e.args:
            if isinstance(a, ast.Direction | ast.KeywordArg):
                what = "a direction 'a -> b'" if isinstance(a, ast.Direction) else f"'{a.name} ...'"
                raise self.error(a.span, f"{e.func}() takes figures, not {what}")
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
            return Interval(lo, max(abs(a.lo), abs(a.hi)), a.dim, **meta)
        pick = min if e.func == "min" else max
        return Interval(pick(a.lo for a in args), pick(a.hi for a in args), args[0].dim, **meta)
