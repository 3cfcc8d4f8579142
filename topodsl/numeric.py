"""Overflow-safe arithmetic for the expressions of a topology file.

Every number an expression makes stays inside a documented range, so nothing downstream can
overflow, wrap or turn into ``inf`` or ``NaN``:

* a **whole number** (``8``, ``i + 1``, an index, a loop bound, ``floor(x)``) lies within
  ``±MAX_WHOLE`` (10**18). Whole numbers are exact Python ints or int64 arrays; every bound is
  checked *before* the operation, so an int64 array never wraps round;
* a **decimal** (``2.5``, ``25 GB/s`` in SI units, ``x / 3.0``) is finite;
* an **attribute** (a bandwidth, capacity, latency, lane count) is zero or lies between
  ``MIN_QUANTITY`` and ``MAX_QUANTITY`` (1e-30 .. 1e30 in SI base units), so that a sum over
  every component of the largest topology, or the ratio of two attributes, is still finite.

The functions raise :class:`NumericError` with a message and a hint; the caller adds the place
in the file. They work on Python numbers and numpy arrays alike (an index expression is
evaluated on the whole grid of bindings at once).

>>> add(2, 3)
5
>>> mul(10**10, 10**10)
Traceback (most recent call last):
...
topodsl.numeric.NumericError: the result is too large for a whole number (limit 10**18)
>>> to_whole("floor", 2.7)
2
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "MAX_WHOLE",
    "MAX_QUANTITY",
    "MIN_QUANTITY",
    "NumericError",
    "is_whole",
    "WHOLE_HINT",
    "literal",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "power",
    "to_whole",
    "check_quantity",
]

#: Largest magnitude of a whole number in an expression.
MAX_WHOLE = 10**18
#: Largest attribute value in SI base units (1e30 B/s is a trillion EB/s).
MAX_QUANTITY = 1e30
#: Smallest non-zero attribute value in SI base units.
MIN_QUANTITY = 1e-30

#: The hint of every error about the range of whole numbers.
WHOLE_HINT = "whole numbers (counts, indices, loop bounds) are limited to 10**18"


class NumericError(ArithmeticError):
    """A number outside the documented range; ``hint`` says what the limit is."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def is_whole(v: Any) -> bool:
    """Whether ``v`` is a whole number: a Python or numpy int, or an int array (not a bool).

    >>> is_whole(3), is_whole(3.0), is_whole(np.arange(2))
    (True, False, True)
    """
    if isinstance(v, np.ndarray):
        return np.issubdtype(v.dtype, np.integer)
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _max_abs(v: Any) -> int | float:
    """Largest magnitude in ``v`` (a Python int for whole numbers, so it cannot overflow)."""
    if isinstance(v, np.ndarray):
        if v.size == 0:
            return 0
        if np.issubdtype(v.dtype, np.integer):
            return max(abs(int(v.max())), abs(int(v.min())))
        return float(np.max(np.abs(v)))
    return abs(int(v)) if is_whole(v) else abs(float(v))


def _checked(v: Any) -> Any:
    """``v`` itself when it is in range; a NumericError otherwise."""
    if is_whole(v):
        if _max_abs(v) > MAX_WHOLE:
            raise NumericError(
                "the result is too large for a whole number (limit 10**18)", WHOLE_HINT
            )
        return v
    finite = np.all(np.isfinite(v)) if isinstance(v, np.ndarray) else math.isfinite(v)
    if not finite:
        raise NumericError(
            "the result is too large to represent",
            "numbers must stay below about 1.8e308; check the magnitudes and units",
        )
    return v


def literal(value: int | float, integral: bool) -> int | float:
    """A number as written in the file, checked: ``10**40`` written out, or ``1e400``, is an
    error at the literal rather than an ``inf`` later.

    >>> literal(8, True), literal(2.5, False)
    (8, 2.5)
    >>> literal(float("inf"), False)
    Traceback (most recent call last):
    ...
    topodsl.numeric.NumericError: this number is too large to represent
    """
    if integral:
        if not isinstance(value, int) or abs(value) > MAX_WHOLE:
            raise NumericError("this whole number is too large (limit 10**18)", WHOLE_HINT)
        return value
    if not math.isfinite(value):
        raise NumericError(
            "this number is too large to represent",
            "the largest number is about 1.8e308; attributes are limited to 1e30",
        )
    return value


def _quiet(fn, *args):
    with np.errstate(all="ignore"):
        try:
            return fn(*args)
        except OverflowError:
            raise NumericError(
                "the result is too large to represent",
                "numbers must stay below about 1.8e308; check the magnitudes and units",
            ) from None


def add(a: Any, b: Any) -> Any:
    """``a + b``; whole inputs are within 10**18, so their sum cannot wrap an int64."""
    return _checked(_quiet(lambda: a + b))


def sub(a: Any, b: Any) -> Any:
    """``a - b``, checked like :func:`add`."""
    return _checked(_quiet(lambda: a - b))


def mul(a: Any, b: Any) -> Any:
    """``a * b``; for whole numbers the product's bound is checked before multiplying."""
    if is_whole(a) and is_whole(b) and _max_abs(a) * _max_abs(b) > MAX_WHOLE:
        raise NumericError("the result is too large for a whole number (limit 10**18)", WHOLE_HINT)
    return _checked(_quiet(lambda: a * b))


def div(a: Any, b: Any) -> Any:
    """``a / b``: whole numbers divide to whole numbers, rounded down (``pcie[i / 2]``).
    The caller has checked that ``b`` has no zero."""
    if is_whole(a) and is_whole(b):
        return _checked(_quiet(lambda: a // b))
    return _checked(_quiet(lambda: a / b))


def mod(a: Any, b: Any) -> Any:
    """``a % b`` (``b`` has no zero)."""
    return _checked(_quiet(lambda: a % b))


def power(a: Any, n: int) -> Any:
    """``a ** n`` for a whole ``n >= 0``; the size of the result is bounded first, from
    ``n * log10(max |a|)``, so ``10 ** 10 ** 10`` never starts computing."""
    base = _max_abs(a)
    limit = math.log10(MAX_WHOLE) if is_whole(a) else 308.0
    if base > 1 and n * math.log10(base) > limit:
        if is_whole(a):
            raise NumericError("this number is too large (more than 10**18)", WHOLE_HINT)
        raise NumericError(
            "the result is too large to represent",
            "numbers must stay below about 1.8e308; check the magnitudes and units",
        )
    return _checked(_quiet(lambda: a**n))


def to_whole(fn: str, v: Any) -> Any:
    """``floor``, ``ceil`` or ``round`` of ``v`` as a whole number (int or int64 array).

    >>> to_whole("round", 2.5), to_whole("ceil", 2.1)
    (2, 3)
    >>> to_whole("floor", 1e300)
    Traceback (most recent call last):
    ...
    topodsl.numeric.NumericError: floor() of 1e+300 is too large for a whole number (limit 10**18)
    """
    f = {"floor": np.floor, "ceil": np.ceil, "round": np.round}[fn]
    out = f(v)
    big = _max_abs(out)
    if not math.isfinite(big) or big > MAX_WHOLE:
        shown = f"{float(big):g}" if isinstance(v, np.ndarray) else f"{float(v):g}"
        raise NumericError(
            f"{fn}() of {shown} is too large for a whole number (limit 10**18)", WHOLE_HINT
        )
    return out.astype(np.int64) if isinstance(out, np.ndarray) else int(out)


def check_quantity(x: float) -> str | None:
    """Why the attribute value ``x`` (SI base units, already >= 0) is out of range, or ``None``.

    >>> check_quantity(50e9) is None, check_quantity(0.0) is None
    (True, True)
    >>> check_quantity(1e308)
    'is larger than the limit of 1e30 in SI base units'
    """
    if x > MAX_QUANTITY:
        return "is larger than the limit of 1e30 in SI base units"
    if 0 < x < MIN_QUANTITY:
        return "is smaller than the limit of 1e-30 in SI base units (use 0 for none)"
    return None
