"""What a sweep asks: its parameters, its analyses, and the points of its design space.

``--param NAME=V1,V2,...`` lists values of a top-level constant (each one a value of the
language, as ``-D`` takes it: ``400Gb/s``, ``SERVERS / 4``); ``--param NAME=LO..HI`` gives a
range to sample (``--samples N``, random or Latin-hypercube, seeded). The points are the
Cartesian product of the lists, in the order the parameters were given (the last one varies
fastest), each crossed with the samples of the ranges: a deterministic order, the row order of
the table.

>>> [p.name for p in (parse_param("SPINES=4,8"), parse_param("NIC = 400Gb/s, 2*400Gb/s"))]
['SPINES', 'NIC']
>>> parse_param("NIC = 400Gb/s, 2*400Gb/s").values
('400Gb/s', '2*400Gb/s')
>>> r = parse_param("BW=100 Gb/s..800 Gb/s")
>>> (r.low, r.high, r.is_range)
('100 Gb/s', '800 Gb/s', True)
>>> [p.overrides for p in grid_points([parse_param("A=1,2"), parse_param("B=x,y")])]
[('A=1', 'B=x'), ('A=1', 'B=y'), ('A=2', 'B=x'), ('A=2', 'B=y')]
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ElaborationError

__all__ = [
    "ParamSpec",
    "AnalysisSpec",
    "Point",
    "RangeValues",
    "parse_param",
    "parse_analyses",
    "split_values",
    "grid_points",
    "sample_unit",
    "MAX_POINTS",
    "RESERVED_COLUMNS",
    "SAMPLING",
]

#: The most points one sweep may have (a cap, like the elaborator's, checked before anything
#: is built).
MAX_POINTS = 1_000_000

#: Column names of a sweep table that are not parameters (a constant may not be called so).
RESERVED_COLUMNS = ("point", "assertions", "pareto", "status", "error")

#: Ways to sample ranges: independent uniform draws, or a Latin hypercube (each range cut into
#: N equal strata, one sample in each, strata paired at random across parameters).
SAMPLING = ("lhs", "random")

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _error(message: str, hint: str | None = None) -> ElaborationError:
    from ..errors import Diagnostic

    return ElaborationError(Diagnostic(None, "error", message, hint))


@dataclass(frozen=True)
class ParamSpec:
    """One ``--param``: a constant's name and its values (override texts) or a range."""

    name: str
    values: tuple[str, ...] = ()
    low: str | None = None
    high: str | None = None

    @property
    def is_range(self) -> bool:
        """Whether the values are sampled from ``low..high``."""
        return self.low is not None


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` at the commas outside parentheses and double quotes.

    >>> split_values('max(1, 2), 3, "a,b"')
    ['max(1, 2)', '3', '"a,b"']
    """
    out, depth, quoted, cur = [], 0, False, []
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_param(text: str) -> ParamSpec:
    """Read ``NAME=V1,V2,...`` or ``NAME=LO..HI``.

    Raises
    ------
    ElaborationError
        No ``=``, a bad name, an empty value, a value given twice.
    """
    name, eq, rest = text.partition("=")
    name = name.strip()
    if not eq or not _NAME.fullmatch(name):
        raise _error(
            f"--param {text!r}: write NAME=V1,V2,... or NAME=LO..HI",
            "e.g. --param SPINES=4,8,16 --param NIC=400Gb/s,800Gb/s",
        )
    if name in RESERVED_COLUMNS:
        raise _error(f"--param {name}: {name!r} names a column of the table; it cannot be swept")
    if ".." in rest and "," not in rest:
        low, _, high = rest.partition("..")
        if not low.strip() or not high.strip():
            raise _error(f"--param {text!r}: a range needs both ends, e.g. {name}=1..8")
        return ParamSpec(name, low=low.strip(), high=high.strip())
    values = split_values(rest)
    if any(not v for v in values):
        raise _error(f"--param {text!r}: an empty value", "separate the values with commas")
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise _error(f"--param {name}: the value {v!r} is given twice")
        seen.add(v)
    return ParamSpec(name, tuple(values))


@dataclass(frozen=True)
class AnalysisSpec:
    """One ``--analysis``: the registered analysis, its parameters, the label of its columns.

    The label is the analysis's name, or ``NAME#2``, ``NAME#3`` for the second and third
    request of the same analysis (with other parameters).
    """

    label: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""


def parse_analyses(texts: Sequence[str]) -> tuple[AnalysisSpec, ...]:
    """Read each ``NAME[:PARAM=VALUE,...]`` (as ``topodsl diff --analysis`` does).

    >>> [(a.label, a.params) for a in parse_analyses(["count:select=kind:gpu", "count"])]
    [('count', {'components': 'kind:gpu'}), ('count#2', {})]
    """
    from ..diff import parse_analysis_spec

    out: list[AnalysisSpec] = []
    seen: dict[str, int] = {}
    for text in texts:
        name, params = parse_analysis_spec(text)
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}#{seen[name]}"
        if any(a.name == name and dict(a.params) == params for a in out):
            raise _error(f"--analysis {text!r} is asked twice")
        out.append(AnalysisSpec(label, name, params, text))
    return tuple(out)


@dataclass(frozen=True)
class Point:
    """One point of the design space: its row number and ``(constant, value text)`` pairs."""

    index: int
    settings: tuple[tuple[str, str], ...]

    @property
    def overrides(self) -> tuple[str, ...]:
        """The point as ``-D`` texts: ``('SPINES=8', 'NIC=800Gb/s')``."""
        return tuple(f"{n}={v}" for n, v in self.settings)


@dataclass(frozen=True)
class RangeValues:
    """A range to sample, its ends evaluated: ``low``/``high`` in SI base units; ``integral``
    when both ends are whole plain numbers (the samples then are whole numbers too)."""

    name: str
    low: float
    high: float
    unit: str
    integral: bool


#: The unit text a sampled value is written with, by dimension (SI base units).
def sample_unit(dim) -> str | None:
    """The unit a sampled value of ``dim`` is written in (``None``: not samplable).

    >>> from topodsl.units import BANDWIDTH, COUNT
    >>> sample_unit(BANDWIDTH), sample_unit(COUNT)
    ('B/s', '')
    """
    from ..units import BANDWIDTH, COUNT, FLOPS, POWER, SIZE, TIME

    units = {COUNT: "", SIZE: "B", BANDWIDTH: "B/s", TIME: "s", FLOPS: "FLOP/s", POWER: "W"}
    return units.get(dim)


def _sample_text(x: float, r: RangeValues) -> str:
    if r.integral:
        return str(int(x))
    text = repr(float(x))
    return f"{text} {r.unit}" if r.unit else text


def _unit_samples(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``n`` points in ``[0, 1)^d``."""
    rng = np.random.Generator(np.random.PCG64(seed))
    if method == "random":
        return rng.random((n, d))
    # Latin hypercube: in each dimension one sample in each of the n strata [k/n, (k+1)/n).
    u = np.empty((n, d))
    for j in range(d):
        u[:, j] = (rng.permutation(n) + rng.random(n)) / n
    return u


def grid_points(
    params: Sequence[ParamSpec],
    ranges: Sequence[RangeValues] = (),
    samples: int = 0,
    seed: int = 0,
    method: str = "lhs",
) -> list[Point]:
    """Every point: the product of the listed values (last parameter fastest), each crossed
    with ``samples`` samples of the ``ranges`` (in the order of ``params``).

    Raises
    ------
    ElaborationError
        More than :data:`MAX_POINTS` points, ranges without ``samples`` or the reverse.

    >>> r = RangeValues("N", 1, 8, "", True)
    >>> [p.settings for p in grid_points([ParamSpec("N", low="1", high="8")], [r], 3, seed=1)]
    [(('N', '1'),), (('N', '6'),), (('N', '7'),)]
    """
    listed = [p for p in params if not p.is_range]
    if ranges and samples <= 0:
        raise _error(
            f"--param {ranges[0].name} is a range: give --samples N to sample it",
            "or list its values: --param NAME=V1,V2,...",
        )
    if samples and not ranges:
        raise _error("--samples needs a range to sample, e.g. --param NIC=100Gb/s..800Gb/s")
    if method not in SAMPLING:
        raise _error(f"unknown sampling {method!r}", f"use one of {', '.join(SAMPLING)}")
    size = math.prod(len(p.values) for p in listed) * (samples if ranges else 1)
    if size > MAX_POINTS:
        raise _error(
            f"the sweep has {size:,} points; the limit is {MAX_POINTS:,}",
            "sample the space instead: --param NAME=LO..HI --samples N",
        )
    sampled: list[tuple[tuple[str, str], ...]] = [()]
    if ranges:
        u = _unit_samples(method, samples, len(ranges), seed)
        rows = []
        for k in range(samples):
            row = []
            for j, r in enumerate(ranges):
                if r.integral:
                    x = min(r.high, r.low + math.floor(u[k, j] * (r.high - r.low + 1)))
                else:
                    x = r.low + u[k, j] * (r.high - r.low)
                row.append((r.name, _sample_text(x, r)))
            rows.append(tuple(row))
        sampled = rows
    order = [p.name for p in params]
    points = []
    for combo in itertools.product(*[[(p.name, v) for v in p.values] for p in listed]):
        for extra in sampled:
            by_name = dict(combo) | dict(extra)
            settings = tuple((n, by_name[n]) for n in order)
            points.append(Point(len(points), settings))
    return points
