"""The one evaluator of expressions with units (topodsl.evaluate), used by elaboration and by
assertions: its rules tested once, and through both front ends where they must agree."""

from __future__ import annotations

import math

import pytest

import topodsl
from topodsl import ast, numeric
from topodsl.check import CheckError, check
from topodsl.errors import ElaborationError
from topodsl.evaluate import EvaluationError, Evaluator, Quantity
from topodsl.parser import parse
from topodsl.units import BANDWIDTH, COUNT

POD = "node n { gpu g[2]  connect g[0] -- g[1] { bandwidth = 1 GB/s } }\n"


def value(text: str) -> Quantity:
    return Evaluator().value(parse(f"const X = {text}").items[0].value, None)


def error(text: str) -> str:
    with pytest.raises(EvaluationError) as e:
        value(text)
    return e.value.diagnostic.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7 / 2", 3),  # whole numbers divide to whole numbers, rounded down
        ("-7 / 2", -4),
        ("7.0 / 2", 3.5),  # a decimal keeps the fraction
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("floor(2.5) + ceil(2.5) + round(2.5)", 7),
        ("min(3, 1, 2) * max(3, 1, 2)", 3),
        ("abs(-4)", 4),
        ("log2(1024)", 10.0),
        ("sqrt(16)", 4.0),
    ],
)
def test_plain_arithmetic(text: str, expected: float) -> None:
    v = value(text)
    assert v.dim == COUNT and v.value == expected
    assert numeric.is_whole(v.value) == isinstance(expected, int)  # 7 / 2 stays whole


def test_units_are_si_and_literals_keep_their_fifteen_digits() -> None:
    v = value("25.6 TB/s")
    assert v.dim == BANDWIDTH and v.value == 25.6e12
    assert value("2 * 25 GB/s - 10 GB/s").value == 40e9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e400", "too large to represent"),
        ("1e308 * 1e308", "too large to represent"),
        ("10 ** 400", "too large"),
        ("10 ** 10 * 10 ** 10", "too large for a whole number"),
        ("1 / 0", "division by zero"),
        ("1 % 0", "modulo by zero"),
        ("1 GB/s + 1 s", "cannot add"),
        ("2 ** -1", "negative exponents"),
        ("log2(0)", "out of its domain"),
        ("floor(1e308 * 10)", "too large to represent"),
        ("frobnicate(1)", "unknown function 'frobnicate'"),
    ],
)
def test_meaningless_or_overflowing_expressions_are_errors(text: str, message: str) -> None:
    assert message in error(text)


def test_bound_pairs_stay_bounds_through_arithmetic() -> None:
    a = Quantity(1.0, 3.0, COUNT)
    e = parse("const X = a * -2 + 1").items[0].value

    class Named(Evaluator):
        def ref(self, r: ast.Ref, scope):
            return a

    v = Named().value(e, None)
    assert (v.lo, v.hi) == (-5.0, -1.0) and not v.is_exact
    with pytest.raises(ValueError):
        _ = v.value


def test_an_unlimited_figure_passes_through_but_inf_minus_inf_is_an_error() -> None:
    inf = Quantity.exact(math.inf, COUNT)

    class Named(Evaluator):
        def ref(self, r: ast.Ref, scope):
            return inf

    ev = Named()
    assert ev.value(parse("const X = u * 2").items[0].value, None).value == math.inf
    with pytest.raises(EvaluationError, match="undefined"):
        ev.value(parse("const X = u - u").items[0].value, None)


@pytest.mark.parametrize(
    "threshold", ["1e400", "1e308 * 1e308", "1e308 * 10 - 1e308 * 10", "10 ** 400"]
)
def test_a_threshold_that_overflows_is_an_error_never_a_silent_pass(threshold: str) -> None:
    t = topodsl.loads(POD)
    for op in ("<=", ">="):
        with pytest.raises(CheckError) as e:
            check(t, [f"assert count(kind:gpu) {op} {threshold}"])
        assert "too large" in e.value.diagnostics[0].message


def test_a_product_that_overflows_in_an_assertion_is_an_error() -> None:
    t = topodsl.loads(POD)
    with pytest.raises(CheckError, match="too large to represent"):
        check(t, ["assert count(kind:gpu) * 1e308 * 1e308 >= 1"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7 / 0", "division by zero"),
        ("1e308 * 1e308", "too large to represent"),
        ("1 GB/s + 1 s", "cannot add"),
        ("frobnicate(1)", "unknown function 'frobnicate'"),
    ],
)
def test_elaboration_and_assertions_give_the_same_errors(text: str, message: str) -> None:
    with pytest.raises(ElaborationError) as e:
        topodsl.loads(f"const X = {text}\n" + POD)
    assert message in e.value.diagnostics[0].message
    t = topodsl.loads(POD)
    with pytest.raises(CheckError) as c:
        check(t, [f"assert count(kind:gpu) >= {text}"])
    assert message.replace("function", "analysis") in c.value.diagnostics[0].message


def test_assertion_constants_keep_whole_and_decimal_through_json() -> None:
    from topodsl.io import dumps_json, loads_json

    src = ("const N = 8\nconst Q = N / 3\nconst R = 2.0\nconst M = 186 GB\n" + POD
           + "assert count(kind:gpu) >= Q + R / 4\n")  # fmt: skip
    t = topodsl.loads(src)
    text = dumps_json(t)
    assert '"value": 186000000000,' in text  # a figure is written as every figure is
    back = loads_json(text)
    assert back.assertions[0].constants == t.assertions[0].constants
    (r,) = check(back).results
    assert r.threshold.lower == 2.5  # 8 / 3 is 2 (whole), 2.0 / 4 is 0.5 (decimal)


@pytest.mark.parametrize(("text", "rounded"), [("1 / 100", "0"), ("N / 3", "2")])
def test_a_rounded_division_in_an_assertion_is_an_error_not_a_silent_threshold(
    text: str, rounded: str
) -> None:
    # 1 / 100 written as a stall threshold used to be 0 after the evaluators were merged: a
    # threshold nobody meant, failing (or passing) silently.
    t = topodsl.loads("const N = 8\n" + POD)
    with pytest.raises(CheckError) as e:
        check(t, [f"assert count(kind:gpu) >= {text}"])
    d = e.value.diagnostics[0]
    assert f"rounds down to {rounded}" in d.message and "1.0 / 100" in d.hint
    for fine, value in (("8 / 2", 4), ("1.0 / 100", 0.01), ("N * 1.0 / 3", 8 / 3)):
        (r,) = check(t, [f"assert count(kind:gpu) >= {fine}"]).results
        assert r.threshold.lower == pytest.approx(value)
