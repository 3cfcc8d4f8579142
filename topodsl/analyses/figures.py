"""Figures: the values an analysis produces, each with its dimension, as a proven interval.

A :class:`Measure` is a figure in SI base units whose true value lies in ``[lower, upper]``
(equal when exact); a :class:`Figure` is a measure with what explains it: the limiting cut and
notes. The JSON convention for every figure of every analysis is :meth:`Measure.to_dict`:
``value`` (``null`` unless exact), ``lower``, ``upper`` and ``unit``, in SI base units.

>>> m = Measure(1.8e12, 2.4e12, BANDWIDTH)
>>> m.format(), m.to_dict()["unit"], m.exact
('1.8 TB/s .. 2.4 TB/s', 'B/s', False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..units import BANDWIDTH, COUNT, SIZE, TIME, Dim, dim_name, format_quantity

__all__ = ["Measure", "Figure", "unit_of", "json_float", "format_figure"]

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


def json_float(x: float) -> float | int | str:
    """A number for JSON: whole numbers as ints, infinities as ``"inf"``/``"-inf"``.

    >>> json_float(2.0), json_float(0.5), json_float(math.inf)
    (2, 0.5, 'inf')
    """
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if float(x).is_integer() and abs(x) < 2**53:
        return int(x)
    return float(x)


def format_figure(x: float, dim: Dim, digits: int = 4) -> str:
    """One number for people, with a readable unit: ``'50 GB/s'``, ``'8'``, ``'2.5 s'``, to
    ``digits`` significant digits.

    >>> format_figure(50e9, BANDWIDTH), format_figure(8.0, COUNT), format_figure(0.5, COUNT)
    ('50 GB/s', '8', '0.5')
    """
    if dim == COUNT:
        if math.isinf(x):
            return "inf"
        if float(x).is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.{digits}g}"
    if dim in (SIZE, BANDWIDTH, TIME) or dim_name(dim) != f"a quantity of dimension {dim}":
        return format_quantity(x, dim, digits)
    return f"{x:.{digits}g} {unit_of(dim)}"


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
        lo = format_figure(self.lower, self.dim, digits)
        hi = format_figure(self.upper, self.dim, digits)
        return lo if lo == hi else f"{lo} .. {hi}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``value`` (``None`` unless exact), ``lower``, ``upper``, ``unit``."""
        return {
            "value": json_float(self.lower) if self.exact else None,
            "lower": json_float(self.lower),
            "upper": json_float(self.upper),
            "unit": self.unit,
        }


@dataclass(frozen=True)
class Figure:
    """One figure of an analysis result: a :class:`Measure` and what explains it.

    ``cut`` lists the links and devices that limit the figure (what to upgrade to raise it),
    ``notes`` facts worth showing beside it (bounds, the worst component, defaults used).

    >>> f = Figure.exact(8, COUNT, notes=("8 GPUs",))
    >>> f.measure.format(), f.notes
    ('8', ('8 GPUs',))
    """

    lower: float
    upper: float
    dim: Dim
    cut: tuple = ()
    notes: tuple[str, ...] = ()

    @staticmethod
    def exact(x: float, dim: Dim, **kw: Any) -> Figure:
        """A figure known exactly."""
        return Figure(float(x), float(x), dim, **kw)

    @property
    def measure(self) -> Measure:
        """The figure without its explanation."""
        return Measure(self.lower, self.upper, self.dim)
