"""Units and dimensions.

Inside topodsl every quantity is a plain ``float`` in SI base units: bytes, bytes per second,
seconds, FLOP/s, watts. Units exist only at the edges: :func:`parse_unit` turns the unit text of
a literal (``GB/s``, ``400 Gb/s``, ``150 ns``) into a scale factor and a :class:`Dim`, and
:func:`format_quantity` prints a value back for people.

Bits are converted to bytes on the way in (``400 Gb/s`` is 50e9 B/s). Prefixes follow SI
(k = 1e3, M = 1e6, G = 1e9, T = 1e12, P = 1e15) and IEC (Ki = 2**10, Mi, Gi, Ti, Pi).

Examples
--------
>>> parse_unit("Gb/s")
(125000000.0, Dim(byte=1, second=-1, flop=0, watt=0))
>>> format_quantity(1.8e12, BANDWIDTH)
'1.8 TB/s'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "REL_TOL",
    "Dim",
    "COUNT",
    "SIZE",
    "BANDWIDTH",
    "TIME",
    "FLOPS",
    "POWER",
    "UNITS",
    "UNIT_PATTERN",
    "parse_unit",
    "dim_name",
    "format_quantity",
    "digits_apart",
    "parse_quantity",
    "apply_scale",
    "format_si",
]


#: Relative tolerance to which two figures are the same: a flow is exact when its value and the
#: capacity of a real cut agree to it, and assertions compare with it (``topodsl.check``).
#: Sums of the same capacities in another order differ in the last bits of a float; hardware
#: figures have at most a dozen significant digits.
REL_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class Dim:
    """Exponents over the base units byte, second, FLOP and watt.

    >>> SIZE / TIME == BANDWIDTH
    True
    """

    byte: int = 0
    second: int = 0
    flop: int = 0
    watt: int = 0

    def __mul__(self, other: Dim) -> Dim:
        return Dim(
            self.byte + other.byte,
            self.second + other.second,
            self.flop + other.flop,
            self.watt + other.watt,
        )

    def __truediv__(self, other: Dim) -> Dim:
        return Dim(
            self.byte - other.byte,
            self.second - other.second,
            self.flop - other.flop,
            self.watt - other.watt,
        )

    def __pow__(self, n: int) -> Dim:
        return Dim(self.byte * n, self.second * n, self.flop * n, self.watt * n)


COUNT = Dim()
SIZE = Dim(byte=1)
BANDWIDTH = Dim(byte=1, second=-1)
TIME = Dim(second=1)
FLOPS = Dim(flop=1, second=-1)
POWER = Dim(watt=1)

_DIM_NAMES = {
    COUNT: "a plain number",
    SIZE: "a size",
    BANDWIDTH: "a bandwidth",
    TIME: "a latency or time",
    FLOPS: "a compute rate",
    POWER: "a power",
}

_EXAMPLE_UNIT = {
    SIZE: "GB",
    BANDWIDTH: "GB/s",
    TIME: "ns",
    FLOPS: "TFLOP/s",
    POWER: "W",
}


def dim_name(dim: Dim) -> str:
    """Name a dimension the way an error message should.

    >>> dim_name(BANDWIDTH)
    'a bandwidth'
    """
    return _DIM_NAMES.get(dim, f"a quantity of dimension {dim}")


def example_unit(dim: Dim) -> str | None:
    """A unit to suggest in a hint for ``dim`` (``None`` for plain numbers).

    >>> example_unit(SIZE)
    'GB'
    """
    return _EXAMPLE_UNIT.get(dim)


_SI = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_IEC = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}


def _build_units() -> dict[str, tuple[float, Dim]]:
    units: dict[str, tuple[float, Dim]] = {}
    for prefixes in (_SI, _IEC):
        for p, f in prefixes.items():
            units[f"{p}B"] = (f, SIZE)
            units[f"{p}B/s"] = (f, BANDWIDTH)
            units[f"{p}Bps"] = (f, BANDWIDTH)
            units[f"{p}b"] = (f / 8, SIZE)
            units[f"{p}bit"] = (f / 8, SIZE)
            units[f"{p}b/s"] = (f / 8, BANDWIDTH)
            units[f"{p}bit/s"] = (f / 8, BANDWIDTH)
            units[f"{p}bps"] = (f / 8, BANDWIDTH)
    for p, f in _SI.items():
        if p in ("", "k", "M", "G", "T", "P", "E"):
            units[f"{p}FLOP/s"] = (f, FLOPS)
            units[f"{p}FLOPS"] = (f, FLOPS)
            units[f"{p}W"] = (f, POWER)
    # "kb" and "Kb" are both kilobit; a lone "K" prefix is accepted for bytes as in "KB".
    units.update(
        {
            "h": (3600.0, TIME),
            "min": (60.0, TIME),
            "s": (1.0, TIME),
            "ms": (1e-3, TIME),
            "us": (1e-6, TIME),
            "µs": (1e-6, TIME),
            "ns": (1e-9, TIME),
            "ps": (1e-12, TIME),
        }
    )
    return units


UNITS: dict[str, tuple[float, Dim]] = _build_units()

# Longest first, so that the regex alternation prefers "GB/s" over "GB".
UNIT_PATTERN = (
    "(?:"
    + "|".join(re.escape(u) for u in sorted(UNITS, key=lambda u: (-len(u), u)))
    + ")(?![A-Za-z0-9_])"
)


def apply_scale(value: float, scale: float) -> float:
    """``value * scale``, dividing by the inverse for sub-unit scales so that ``100 ns`` is
    exactly ``1e-07`` (``100 * 1e-9`` is ``1.0000000000000001e-07``).

    >>> apply_scale(100, 1e-9)
    1e-07
    """
    if scale < 1.0:
        inverse = round(1.0 / scale)
        if abs(inverse * scale - 1.0) < 1e-12:
            return float(value) / inverse
    return float(value) * scale


def parse_unit(text: str) -> tuple[float, Dim]:
    """Return ``(scale, dim)`` for a unit's text; ``KeyError`` for an unknown unit.

    >>> parse_unit("GiB")
    (1073741824.0, Dim(byte=1, second=0, flop=0, watt=0))
    >>> parse_unit("us")[0]
    1e-06
    """
    return UNITS[text]


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


def parse_quantity(text: str, expected: Dim | None = None) -> float:
    """Parse a quantity written on a command line, such as ``2TB`` or ``1 us``.

    Raises ``ValueError`` with a readable message on a bad value or a wrong dimension.

    >>> parse_quantity("2 TB", SIZE)
    2000000000000.0
    >>> parse_quantity("400 Gb/s")
    50000000000.0
    """
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(f"cannot read {text!r} as a quantity (expected e.g. '2 TB' or '1 us')")
    value, unit = float(m.group(1)), m.group(2)
    if unit:
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r} in {text!r}")
        scale, dim = UNITS[unit]
    else:
        scale, dim = 1.0, COUNT
    if expected is not None and dim != expected:
        hint = example_unit(expected)
        raise ValueError(
            f"{text!r} is {dim_name(dim)}, expected {dim_name(expected)}"
            + (f" (e.g. with unit {hint})" if hint else "")
        )
    return apply_scale(value, scale)


_FORMAT_UNITS = {
    SIZE: ("B", [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]),
    BANDWIDTH: ("B/s", [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]),
    FLOPS: ("FLOP/s", [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G")]),
    POWER: ("W", [(1e6, "M"), (1e3, "k")]),
}


def format_quantity(value: float, dim: Dim, digits: int = 4) -> str:
    """Format ``value`` (SI base units) with the largest prefix that keeps it >= 1.

    Uses decimal prefixes (GB, TB/s); ``digits`` significant digits, trailing zeros trimmed.

    >>> format_quantity(50e9, BANDWIDTH)
    '50 GB/s'
    >>> format_quantity(2.5e-7, TIME)
    '250 ns'
    >>> format_quantity(float("inf"), BANDWIDTH)
    'unlimited'
    """
    if math.isinf(value):
        return "unlimited"
    if math.isnan(value):
        return "n/a"
    if dim == TIME:
        for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"), (1e-12, "ps")):
            if abs(value) >= scale or scale == 1e-12:
                return f"{_num(value / scale, digits)} {unit}" if value else "0 s"
    if dim in _FORMAT_UNITS:
        base, prefixes = _FORMAT_UNITS[dim]
        for scale, p in prefixes:
            if abs(value) >= scale:
                return f"{_num(value / scale, digits)} {p}{base}"
        return f"{_num(value, digits)} {base}"
    return _num(value, digits)


_SI_UNIT = {SIZE: "B", BANDWIDTH: "B/s", TIME: "s", FLOPS: "FLOP/s", POWER: "W"}


def format_si(value: float, dim: Dim) -> str:
    """``value`` in SI base units with the base unit, for values too far out of range for
    :func:`format_quantity`'s prefixes.

    >>> format_si(1e308, BANDWIDTH)
    '1e+308 B/s'
    """
    unit = _SI_UNIT.get(dim)
    return f"{value:.4g} {unit}" if unit else f"{value:.4g}"


def digits_apart(values, rel: float = 0.0, digits: int = 4, most: int = 15) -> int:
    """Fewest significant digits, at least ``digits``, at which any two of ``values`` that
    differ by more than ``rel`` (relative to the larger) also differ once rounded: so that a
    measured 999.96 GB/s is not shown as 1000 GB/s next to an expected 1 TB/s.

    >>> digits_apart([999.96e9, 1e12]), digits_apart([400e9, 400e9 * (1 - 1e-12)], rel=1e-9)
    (5, 4)
    >>> format_quantity(999.96e9, BANDWIDTH, digits_apart([999.96e9, 1e12]))
    '999.96 GB/s'
    """
    xs = sorted({float(v) for v in values if math.isfinite(v)})
    pairs = [(a, b) for a, b in zip(xs, xs[1:], strict=False) if b - a > rel * max(abs(a), abs(b))]
    for d in range(digits, most + 1):
        if all(float(f"{a:.{d}g}") != float(f"{b:.{d}g}") for a, b in pairs):
            return d
    return most


def _num(x: float, digits: int) -> str:
    text = f"{x:.{digits}g}"
    if "e" in text:
        return text
    return text
