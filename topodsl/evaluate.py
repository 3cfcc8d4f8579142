"""Expressions with units: the one evaluator of elaboration and assertions.

Every expression of a topology file is evaluated here, whether it sizes an array
(``gpu g[N / 2]``), indexes a whole grid of bindings at once (``pex[i / 2]``), sets an
attribute (``bandwidth = 1.8 TB/s / 18``) or states a promise (``bisection(x) / 2 >= 1 TB/s``).
A value is a :class:`Quantity`: an interval ``[lo, hi]`` in SI base units that holds the true
value, and its dimension. An exact value is the interval of one point (``lo`` is ``hi``): every
value elaboration makes is exact, a Python number or a numpy array over a grid of index
bindings; an analysis in an assertion may give a bound pair (a bisection between its
certificates), which arithmetic keeps a guarantee (``bisection(x) / 2`` of bounds is bounds).

The rules (the language guide's "Constants and arithmetic" says them for users)

* A literal is checked (:func:`topodsl.numeric.literal`: ``1e400`` is an error, not ``inf``)
  and scaled to SI base units, rounded to the 15 significant digits a literal has
  (``25.6 TB/s`` is 25.6e12, not 25600000000000.004). A number with a unit is a decimal.
* Whole numbers (``8``, ``i + 1``, ``floor(x)``) are ints or int64 arrays, and divide to whole
  numbers rounded down (``7 / 2`` is 3); a decimal on either side keeps the fraction. A bound
  pair is decimal, and so is every figure an analysis gives.
* ``+``, ``-``, ``%`` and ``min``, ``max`` need one dimension; ``*`` and ``/`` combine
  dimensions; ``**`` takes an exact whole exponent of 0 or more; ``%`` needs exact values.
* Division or ``%`` by zero, or by a bound pair that may be zero, is an error.
* Arithmetic goes through :mod:`topodsl.numeric`: whole numbers stay within ±10**18 (a
  product's bound is checked before an int64 array is multiplied) and decimals finite. An
  unlimited figure (``inf``: a checkpoint that never ends) passes through; a finite
  computation that overflows is an error at the expression.
* Functions: :data:`FUNCTIONS`. ``floor``, ``ceil`` and ``round`` give whole numbers (of a
  bound pair, decimal bounds); ``log2`` and ``sqrt`` take plain numbers in their domain.

What names mean belongs to the front end: :class:`Evaluator` asks its hooks (:meth:`~Evaluator.ref`
for a name, :meth:`~Evaluator.analysis` for a call of anything but :data:`FUNCTIONS`,
:meth:`~Evaluator.string`, :meth:`~Evaluator.components_hint`) and raises what
:meth:`~Evaluator.error` makes, so that elaboration records a diagnostic in its sink and an
assertion becomes a result with status ``"error"``, with the same message text.

>>> from topodsl.parser import parse
>>> e = parse("const X = 2 * 25 GB/s - 10 GB/s + 7 / 2 * 1 GB/s").items[0].value
>>> v = Evaluator().value(e, None)
>>> v.value, v.dim == BANDWIDTH
(43000000000.0, True)
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ast, numeric
from .errors import Diagnostic, Span, did_you_mean
from .units import BANDWIDTH, COUNT, Dim, dim_name, example_unit, format_quantity, parse_unit

__all__ = [
    "Quantity",
    "Record",
    "Evaluator",
    "EvaluationError",
    "FUNCTIONS",
    "scaled",
    "format_number",
    "path_text",
]

#: Functions every expression may call.
FUNCTIONS = ("min", "max", "abs", "floor", "ceil", "round", "log2", "sqrt")

_ = BANDWIDTH  # (used by the doctest)


class EvaluationError(Exception):
    """Stop evaluating this expression; the diagnostic says why and where."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


# -- values --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value with units: ``[lo, hi]`` in SI base units holds it, ``dim`` is its dimension.

    Exact when ``lo`` is ``hi`` (:meth:`exact`); then ``lo`` may be a numpy array (one value
    per index binding of a connection). ``analysis``, ``cut`` and ``notes`` say where a figure
    came from in an assertion (the analysis, its limiting cut, notes worth showing).

    >>> Quantity.exact(8, COUNT).integral, Quantity(1.5e12, 2e12, BANDWIDTH).is_exact
    (True, False)
    """

    lo: Any
    hi: Any
    dim: Dim
    analysis: str | None = None
    cut: tuple = ()
    notes: tuple[str, ...] = ()

    @staticmethod
    def exact(x: Any, dim: Dim, **kw: Any) -> Quantity:
        """The exact value ``x`` (a number or an array), unchanged."""
        return Quantity(x, x, dim, **kw)

    @property
    def is_exact(self) -> bool:
        """Whether this is one value rather than a bound pair."""
        lo = self.lo
        return lo is self.hi or (not isinstance(lo, np.ndarray) and lo == self.hi)

    @property
    def value(self) -> Any:
        """The exact value; a bound pair has none (``ValueError``)."""
        if not self.is_exact:
            raise ValueError(f"a bound pair [{self.lo:g}, {self.hi:g}] has no single value")
        return self.lo

    @property
    def integral(self) -> bool:
        """Whether this is an exact whole number (or an array of them)."""
        return numeric.is_whole(self.lo) and self.is_exact


@dataclass(frozen=True)
class Record:
    """An analysis result with several figures: ``reach(...).capacity``. ``default`` is the
    figure used when the expression names none (``None``: it must name one)."""

    analysis: str
    fields: dict[str, Quantity]
    default: str | None = None


def scaled(value: float, scale: float) -> float:
    """``value * scale`` rounded to 15 significant digits, which every literal has, so that
    ``25.6 TB/s`` is the number nearest 25.6e12 (the product is ``25600000000000.004`` in
    binary floating point) and ``100 ns`` is ``1e-07``.

    >>> scaled(25.6, 1e12), scaled(100, 1e-9)
    (25600000000000.0, 1e-07)
    """
    x = float(value) * scale
    return float(f"{x:.15g}") if x else 0.0


def format_number(x: Any) -> str:
    """A plain number as messages show it: ``8``, ``2.5``.

    >>> format_number(8), format_number(0.25)
    ('8', '0.25')
    """
    return f"{x:g}" if isinstance(x, float | np.floating) else str(x)


# -- arithmetic on numbers and bounds ------------------------------------------------------------

_UNDEFINED = (
    "the result is undefined (it combines unlimited figures, e.g. unlimited minus unlimited)"
)
_PLAIN = {
    numeric.add: operator.add,
    numeric.sub: operator.sub,
    numeric.mul: operator.mul,
    numeric.div: operator.truediv,
    numeric.mod: operator.mod,
    numeric.power: operator.pow,
}


class _Undefined(numeric.NumericError):
    pass


def _finite(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return numeric.is_whole(x) or bool(np.all(np.isfinite(x)))
    return numeric.is_whole(x) or math.isfinite(x)


def _arith(fn, a: Any, b: Any) -> Any:
    """``fn(a, b)`` of :mod:`topodsl.numeric`, except that an unlimited operand (``inf``, which
    only an analysis's figure can be) passes through instead of counting as an overflow."""
    try:
        return fn(a, b)
    except numeric.NumericError:
        if _finite(a) and _finite(b):
            raise
    with np.errstate(all="ignore"):
        x = _PLAIN[fn](a, b)
    if np.any(np.isnan(x)):
        raise _Undefined(_UNDEFINED)
    return x


def _bounds(fn, pairs: list[tuple[Any, Any]]) -> tuple[float, float]:
    """The least and greatest of ``fn(x, y)`` over ``pairs`` (the corners of a product or a
    quotient of intervals); an undefined corner (``0 * inf``) gives no bound of its own."""
    out = []
    for x, y in pairs:
        try:
            out.append(float(_arith(fn, x, y)))
        except _Undefined:
            continue
    if not out:
        raise _Undefined(_UNDEFINED)
    return min(out), max(out)


def _meta(*vs: Quantity) -> dict[str, Any]:
    """Where a figure made from ``vs`` comes from: the first analysis and cut, every note."""
    if not any(v.analysis or v.cut or v.notes for v in vs):
        return {}
    return {
        "analysis": next((v.analysis for v in vs if v.analysis), None),
        "cut": next((v.cut for v in vs if v.cut), ()),
        "notes": tuple(dict.fromkeys(n for v in vs for n in v.notes)),
    }


def _pair(lo: Any, hi: Any, dim: Dim, meta: dict[str, Any]) -> Quantity:
    """A bound pair (decimal; exact when the bounds meet)."""
    return Quantity(float(lo), float(hi), dim, **meta)


def _describe_args(a: Any) -> str:
    if isinstance(a, ast.Direction):
        return "a direction 'a -> b'"
    return f"'{a.name} ...'"


# -- the evaluator -------------------------------------------------------------------------------


class Evaluator:
    """Evaluate expressions to :class:`Quantity` values (or :class:`Record`, text, tuples).

    ``scope`` is passed through to the hooks untouched (elaboration's is the names visible in
    a body, an assertion's the component it is written in).
    """

    #: What a value is called in messages (an assertion's are figures).
    value_noun = "a number"

    # -- hooks -----------------------------------------------------------------------------------

    def error(self, span: Span | None, message: str, hint: str | None = None) -> Exception:
        """The exception to raise for a meaningless expression (override to record it)."""
        return EvaluationError(Diagnostic(span, "error", message, hint))

    def ref(self, e: ast.Ref, scope: Any) -> Any:
        """The value of a name (the base knows none)."""
        name = e.path.simple_name
        if name is None:
            raise self.components(e, path_text(e.path))
        raise self.unknown_name(e, name, ())

    def rounded_division(self, e: ast.BinOp, a: Quantity, b: Quantity) -> None:
        """Called before two whole numbers that do not divide exactly are divided (rounded
        down, the language's rule: ``7 / 2`` is 3); a front end may refuse it."""

    def analysis(self, e: ast.Call, scope: Any) -> Any:
        """The value of a call of something other than :data:`FUNCTIONS`: in an assertion an
        analysis; the base knows none."""
        raise self.unknown_function(e)

    def string(self, e: ast.String, scope: Any) -> Any:
        """The value of ``"text"``: the text."""
        return e.value

    def components_hint(self, text: str) -> str | None:
        """Where components (``text``: a path, a selector) may be named instead."""
        return None

    # -- messages shared by the front ends ------------------------------------------------------

    def components(self, e: Any, text: str) -> Exception:
        """Components named where a number is needed."""
        message = f"{text} names components, not {self.value_noun}"
        return self.error(e.span, message, self.components_hint(text))

    def unknown_name(
        self, e: ast.Ref, name: str, options: Any, hint: str | None = None
    ) -> Exception:
        """A name nothing declares, with the closest of ``options``."""
        return self.error(e.span, f"unknown name {name!r}", did_you_mean(name, options) or hint)

    def unknown_function(self, e: ast.Call, analyses: Any = ()) -> Exception:
        """A call of something that is neither a function nor one of ``analyses`` (where
        analyses may be called, the message says an analysis is unknown)."""
        hint = did_you_mean(e.func, (*FUNCTIONS, *analyses))
        if hint is None:
            hint = f"functions: {', '.join(FUNCTIONS)}"
            if analyses:
                hint = f"analyses: {', '.join(sorted(analyses))}; {hint}"
        what = "analysis" if analyses else "function"
        return self.error(e.span, f"unknown {what} {e.func!r}", hint)

    def describe(self, v: Any) -> str:
        """What a value is, for messages: ``'a bandwidth'``, ``'text'``."""
        if isinstance(v, Quantity):
            return dim_name(v.dim)
        if isinstance(v, str):
            return "text"
        if isinstance(v, tuple):
            return "a tuple"
        if isinstance(v, Record):
            return f"the figures of {v.analysis}(...)"
        return getattr(v, "described", type(v).__name__)

    def expect_dim(
        self, v: Quantity, dim: Dim, what: str, span: Span | None, example: str = ""
    ) -> None:
        """Raise unless ``v`` has dimension ``dim``; the hint shows the unit to write."""
        if v.dim == dim:
            return
        unit = example_unit(dim)
        hint = None
        if unit:
            hint = (
                f"write it with a unit, e.g. {example}{format_number(v.lo)} {unit}"
                if v.dim == COUNT and v.is_exact and not isinstance(v.lo, np.ndarray)
                else f"{what} takes a unit such as {unit}"
            )
        raise self.error(span, f"{what} must be {dim_name(dim)}, got {dim_name(v.dim)}", hint)

    # -- evaluation ------------------------------------------------------------------------------

    def eval(self, e: Any, scope: Any) -> Any:
        """The value of any expression."""
        t = type(e)
        if t is ast.Number:
            return self.literal(e)
        if t is ast.BinOp:
            return self.binop(e, scope)
        if t is ast.Ref:
            return self.ref(e, scope)
        if t is ast.Unary:
            return self.negate(e, scope)
        if t is ast.Call:
            if e.func in FUNCTIONS:
                return self.function(e, scope)
            return self.analysis(e, scope)
        if t is ast.Member:
            return self.member(e, scope)
        if t is ast.String:
            return self.string(e, scope)
        if t is ast.Tuple:
            return tuple(self.eval(i, scope) for i in e.items)
        if t is ast.SelectorLit:
            raise self.components(e, e.text)
        if t is ast.Direction or t is ast.KeywordArg:
            raise self.error(e.span, f"{_describe_args(e)} is an argument of an analysis")
        raise self.error(getattr(e, "span", None), "this expression has no value")

    def value(self, e: Any, scope: Any) -> Quantity:
        """One number: a record's default figure, or an error naming the figures to pick."""
        v = self.eval(e, scope)
        if type(v) is Quantity:
            return v
        if isinstance(v, Record):
            if v.default is not None:
                return v.fields[v.default]
            fields = ", ".join("." + f for f in v.fields)
            raise self.error(
                e.span, f"{v.analysis}(...) gives several figures; pick one of {fields}",
                f"e.g. {v.analysis}(...).{next(iter(v.fields))}",
            )  # fmt: skip
        raise self.error(getattr(e, "span", None), f"expected a number, got {self.describe(v)}")

    def whole(self, e: Any, scope: Any, what: str) -> int:
        """An exact whole number without a unit (an array size, a loop bound, an index)."""
        v = self.value(e, scope)
        if v.dim != COUNT or isinstance(v.lo, np.ndarray):
            raise self.error(e.span, f"{what} must be a plain whole number, got {self.describe(v)}")
        if not v.is_exact:
            raise self.error(e.span, f"{what} must be an exact whole number, not a bound pair")
        x = v.lo
        if not v.integral and not float(x).is_integer():
            raise self.error(e.span, f"{what} must be a whole number, got {x:g}")
        if abs(x) > numeric.MAX_WHOLE:
            raise self.error(e.span, f"{what} of {x:g} is too large", numeric.WHOLE_HINT)
        return int(x)

    def quantity(self, e: Any, scope: Any, dim: Dim, what: str) -> float:
        """An exact value of dimension ``dim`` (an analysis's size or budget), in SI units."""
        v = self.value(e, scope)
        self.expect_dim(v, dim, what, e.span)
        if not v.is_exact:
            raise self.error(e.span, f"{what} must be an exact value, not a bound pair")
        return float(v.lo)

    def literal(self, e: ast.Number) -> Quantity:
        """A number as written, checked, in SI base units."""
        try:
            value = numeric.literal(e.value, e.integral)
            if e.unit is None:
                return Quantity(value, value, COUNT)
            scale, dim = parse_unit(e.unit)
            x = numeric.literal(scaled(value, scale), False)
            return Quantity(x, x, dim)
        except numeric.NumericError as err:
            raise self.error(e.span, err.message, err.hint) from None

    def negate(self, e: ast.Unary, scope: Any) -> Quantity:
        """``-x``."""
        v = self.value(e.operand, scope)
        if v.is_exact:
            try:
                return Quantity.exact(_arith(numeric.sub, 0, v.lo), v.dim, **_meta(v))
            except numeric.NumericError as err:
                raise self.error(e.span, err.message, err.hint) from None
        return _pair(-v.hi, -v.lo, v.dim, _meta(v))

    def binop(self, e: ast.BinOp, scope: Any) -> Quantity:
        """``a OP b``, dimensions checked, over exact values or bounds."""
        a, b = self.value(e.left, scope), self.value(e.right, scope)
        try:
            return self._binop(e, a, b)
        except numeric.NumericError as err:
            raise self.error(e.span, err.message, err.hint) from None

    def _binop(self, e: ast.BinOp, a: Quantity, b: Quantity) -> Quantity:
        op = e.op
        exact = a.is_exact and b.is_exact
        if op in ("+", "-", "%") and a.dim != b.dim:
            x, y = dim_name(a.dim), dim_name(b.dim)
            verb = {"+": f"add {x} and {y}", "-": f"subtract {y} from {x}"}.get(op)
            raise self.error(e.span, f"cannot {verb or f'take the remainder of {x} by {y}'}")
        meta = _meta(a, b)
        if op == "+":
            if exact:
                return Quantity.exact(_arith(numeric.add, a.lo, b.lo), a.dim, **meta)
            lo, hi = _arith(numeric.add, a.lo, b.lo), _arith(numeric.add, a.hi, b.hi)
            return _pair(lo, hi, a.dim, meta)
        if op == "-":
            if exact:
                return Quantity.exact(_arith(numeric.sub, a.lo, b.lo), a.dim, **meta)
            lo, hi = _arith(numeric.sub, a.lo, b.hi), _arith(numeric.sub, a.hi, b.lo)
            return _pair(lo, hi, a.dim, meta)
        if op == "*":
            dim = a.dim * b.dim
            if exact:
                return Quantity.exact(_arith(numeric.mul, a.lo, b.lo), dim, **meta)
            corners = [(a.lo, b.lo), (a.lo, b.hi), (a.hi, b.lo), (a.hi, b.hi)]
            return _pair(*_bounds(numeric.mul, corners), dim, meta)
        if op == "/":
            self._no_zero(e, b, "division by zero")
            dim = a.dim / b.dim
            if exact:
                if a.integral and b.integral and np.any(np.asarray(a.lo) % np.asarray(b.lo)):
                    self.rounded_division(e, a, b)
                return Quantity.exact(_arith(numeric.div, a.lo, b.lo), dim, **meta)
            corners = [(a.lo, b.lo), (a.lo, b.hi), (a.hi, b.lo), (a.hi, b.hi)]
            return _pair(*_bounds(numeric.div, corners), dim, meta)
        if op == "%":
            if not exact:
                raise self.error(e.span, "'%' needs exact values, not a bound pair")
            self._no_zero(e, b, "modulo by zero")
            return Quantity.exact(_arith(numeric.mod, a.lo, b.lo), a.dim, **meta)
        if op == "**":
            return self._power(e, a, b, meta)
        raise self.error(e.span, f"unknown operator {op!r}")  # pragma: no cover

    def _no_zero(self, e: ast.BinOp, b: Quantity, message: str) -> None:
        if b.is_exact:
            if np.any(np.asarray(b.lo) == 0):
                raise self.error(e.span, message)
        elif b.lo <= 0 <= b.hi:
            shown = f"{format_quantity(b.lo, b.dim)} .. {format_quantity(b.hi, b.dim)}"
            raise self.error(e.span, message, f"the divisor lies in {shown}, which includes 0")

    def _power(self, e: ast.BinOp, a: Quantity, b: Quantity, meta: dict) -> Quantity:
        if b.dim != COUNT or not b.integral or isinstance(b.lo, np.ndarray):
            raise self.error(e.right.span, "an exponent must be a whole number")
        if b.lo < 0:
            raise self.error(e.span, "negative exponents are not supported")
        n = int(b.lo)
        if a.is_exact:
            return Quantity.exact(_arith(numeric.power, a.lo, n), a.dim**n, **meta)
        ends = [float(_arith(numeric.power, a.lo, n)), float(_arith(numeric.power, a.hi, n))]
        lo, hi = min(ends), max(ends)
        if n % 2 == 0 and a.lo < 0 < a.hi:
            lo = 0.0
        return _pair(lo, hi, a.dim**n, meta)

    def function(self, e: ast.Call, scope: Any) -> Quantity:
        """``min``, ``max``, ``abs``, ``floor``, ``ceil``, ``round``, ``log2``, ``sqrt``."""
        f = e.func
        for a in e.args:
            if isinstance(a, ast.Direction | ast.KeywordArg):
                raise self.error(a.span, f"{f}() takes numbers, not {_describe_args(a)}")
        args = [self.value(a, scope) for a in e.args]
        if f in ("min", "max"):
            if not args:
                raise self.error(e.span, f"{f}() needs at least one argument")
            if any(a.dim != args[0].dim for a in args):
                raise self.error(e.span, f"{f}() needs arguments of one dimension")
            return _extreme(f, args)
        if len(args) != 1:
            raise self.error(e.span, f"{f}() takes one argument")
        (a,) = args
        meta = _meta(a)
        if f == "abs":
            if a.is_exact:
                return Quantity.exact(abs(a.lo), a.dim, **meta)
            lo = 0.0 if a.lo <= 0 <= a.hi else min(abs(a.lo), abs(a.hi))
            return _pair(lo, max(abs(a.lo), abs(a.hi)), a.dim, meta)
        if f in ("floor", "ceil", "round"):
            if not a.is_exact:  # a bound pair stays one, its bounds rounded
                fn = {"floor": math.floor, "ceil": math.ceil, "round": round}[f]
                ends = [x if math.isinf(x) else fn(x) for x in (a.lo, a.hi)]
                return _pair(*ends, a.dim, meta)
            try:
                return Quantity.exact(numeric.to_whole(f, a.lo), a.dim, **meta)
            except numeric.NumericError as err:
                raise self.error(e.span, err.message, err.hint) from None
        if a.dim != COUNT:
            raise self.error(e.span, f"{f}() needs a plain number")
        if np.any(np.asarray(a.lo) <= 0 if f == "log2" else np.asarray(a.lo) < 0):
            raise self.error(e.span, f"{f}() of a value out of its domain")
        fn = np.log2 if f == "log2" else np.sqrt
        if a.is_exact:
            return Quantity.exact(fn(a.lo), COUNT, **meta)
        return _pair(fn(a.lo), fn(a.hi), COUNT, meta)

    def member(self, e: ast.Member, scope: Any) -> Quantity:
        """``call(...).name``: one figure of a record."""
        v = self.eval(e.value, scope)
        func = e.value.func
        if not isinstance(v, Record):
            raise self.error(
                e.name_span, f"{func}(...) is a single figure; it has no .{e.name}",
                f"use {func}(...) itself",
            )  # fmt: skip
        if e.name not in v.fields:
            fields = ", ".join("." + f for f in v.fields)
            raise self.error(
                e.name_span, f"{func}(...) has no figure {e.name!r}",
                did_you_mean(e.name, v.fields) or f"it has {fields}",
            )  # fmt: skip
        return v.fields[e.name]


def _extreme(f: str, args: list[Quantity]) -> Quantity:
    meta = _meta(*args)
    if all(a.is_exact for a in args):
        fn = np.minimum if f == "min" else np.maximum
        v = args[0].lo
        for a in args[1:]:
            v = fn(v, a.lo)
        return Quantity.exact(v, args[0].dim, **meta)
    pick = min if f == "min" else max
    return _pair(pick(a.lo for a in args), pick(a.hi for a in args), args[0].dim, meta)


def path_text(p: ast.Path) -> str:
    """A path as written, indices other than ``*`` shown as ``[...]`` (for messages)."""
    out = []
    for s in p.segments:
        if s.index is None:
            out.append(s.name)
        elif isinstance(s.index, ast.Star):
            out.append(f"{s.name}[*]")
        else:
            out.append(f"{s.name}[...]")
    return ".".join(out)
