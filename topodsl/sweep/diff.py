"""Two sweep tables compared: what a change did across the whole design space.

Points are matched by their parameter values (a point only one table has is listed). For each
figure column and each matched point the old and new figures are compared as
:class:`~topodsl.diff.DiffRow`, so a sweep diff judges regressions exactly as ``topodsl diff``
does: a figure with a better direction that got worse by more than the tolerance, judged by its
guaranteed bound (a bound pair's lower bound where more is better), an assertion that passed
and no longer does, a point that evaluated and now fails.

>>> from topodsl.sweep.table import Column, SweepTable
>>> cols = (Column("point", role="point"), Column("N", role="parameter"),
...         Column("bisection.value.lower", "B/s", "figure", "higher", "lower"),
...         Column("bisection.value.upper", "B/s", "figure", "higher", "upper"),
...         Column("status", role="status"), Column("error", role="status"))
>>> old = SweepTable(cols, ((0, 1, 8e12, 8e12, "ok", None), (1, 2, 8e12, 8e12, "ok", None)))
>>> new = SweepTable(cols, ((0, 1, 8e12, 8e12, "ok", None), (1, 2, 4e12, 4e12, "ok", None)))
>>> d = diff_tables(old, new)
>>> [(r.section, r.name, why) for r, why in d.regressions()]
[('bisection.value', 'N=2', '8 TB/s -> 4 TB/s, -4 TB/s (-50%)')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..analyses.figures import Measure, format_figure
from ..diff import DesignDiff, DiffRow
from ..units import COUNT, UNITS, Dim
from .table import Column, SweepTable

__all__ = ["SweepDiff", "diff_tables"]


@dataclass(frozen=True)
class SweepDiff(DesignDiff):
    """Every compared cell: ``rows`` (one :class:`~topodsl.diff.DiffRow` per figure, assertion
    or status and matched point, its ``section`` the column, its ``name`` the point; the
    columns in table order are :attr:`sections`), and the points only one side has."""

    parameters: tuple[str, ...] = ()
    points: int = 0
    only_old: tuple[str, ...] = ()
    only_new: tuple[str, ...] = ()

    def _gone(self) -> list[tuple[DiffRow, str]]:
        return [(DiffRow("points", p, None, None), "only in the old table") for p in self.only_old]

    def changes(self) -> tuple[tuple[DiffRow, str], ...]:
        """Every changed cell and every point only one table has."""
        added = [(DiffRow("points", p, None, None), "only in the new table") for p in self.only_new]
        return super().changes() + tuple(self._gone() + added)

    def regressions(self, tolerance: float = 0.0) -> tuple[tuple[DiffRow, str], ...]:
        """Every cell that got worse, with why; a point that disappeared counts too."""
        out = [(r, why) for r in self.rows if (why := _regression(r, tolerance)) is not None]
        return tuple(out + self._gone())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "old": self.old,
            "new": self.new,
            "parameters": list(self.parameters),
            "points": self.points,
            "only_old": list(self.only_old),
            "only_new": list(self.only_new),
            "changed": len(self.changed),
            "rows": [_row_dict(r) for r in self.changed],
        }


def _regression(r: DiffRow, tolerance: float) -> str | None:
    if r.section == "status":
        if r.old_status == "ok" and r.new_status != "ok":
            return f"the point evaluated and now fails: {r.new_status}"
        return None
    return r.regression(tolerance)


def _row_dict(r: DiffRow) -> dict[str, Any]:
    out = r.to_dict()
    out["column"], out["point"] = out.pop("section"), out.pop("name")
    if r.section in ("status",) or r.section.startswith("assert"):
        out |= {"old_status": r.old_status, "new_status": r.new_status}
    return out


def _dim(unit: str) -> Dim:
    return UNITS[unit][1] if unit in UNITS else COUNT


def _label(params: Sequence[Column], key: tuple) -> str:
    parts = []
    for c, v in zip(params, key, strict=True):
        shown = format_figure(float(v), _dim(c.unit)) if isinstance(v, int | float) else str(v)
        parts.append(f"{c.name}={shown}")
    return ", ".join(parts)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None or v == "":
        return None
    return float(v) if isinstance(v, int | float) else None


def _figures(table: SweepTable) -> list[tuple[str, Column, int, int]]:
    """``(name, column, k_lower, k_upper)`` per figure: a bound pair's two columns as one."""
    out: dict[str, list] = {}
    for k, c in enumerate(table.columns):
        if c.role != "figure":
            continue
        base = c.name.rsplit(".", 1)[0] if c.bound else c.name
        entry = out.setdefault(base, [c, k, k])
        if c.bound == "upper":
            entry[2] = k
        elif c.bound == "lower":
            entry[1] = k
    return [(name, c, lo, hi) for name, (c, lo, hi) in out.items()]


def diff_tables(
    old: SweepTable, new: SweepTable, old_name: str = "old", new_name: str = "new"
) -> SweepDiff:
    """Compare two sweep tables point by point (matched by their parameters' values).

    Raises
    ------
    ElaborationError
        The tables sweep different parameters.
    """
    from ..errors import ElaborationError

    po, pn = old.parameters, new.parameters
    if [c.name for c in po] != [c.name for c in pn]:
        raise ElaborationError(
            f"the tables sweep different parameters: {', '.join(c.name for c in po)} "
            f"and {', '.join(c.name for c in pn)}"
        )

    def keyed(t: SweepTable) -> dict[tuple, tuple]:
        ks = [t.index(c.name) for c in t.parameters]
        return {tuple(r[k] for k in ks): r for r in t.rows}

    ro, rn = keyed(old), keyed(new)
    both = [k for k in ro if k in rn]
    rows: list[DiffRow] = []
    fo = {name: (c, lo, hi) for name, c, lo, hi in _figures(old)}
    for name, c, lo, hi in _figures(new):
        if name not in fo:
            continue
        oc, olo, ohi = fo[name]
        dim = _dim(c.unit)
        for key in both:
            a, b = ro[key], rn[key]
            ma = _measure(a[olo], a[ohi], dim)
            mb = _measure(b[lo], b[hi], dim)
            if ma is None and mb is None:
                continue
            rows.append(DiffRow(name, _label(pn, key), ma, mb, better=c.better or oc.better))
    for c in new.columns:
        if c.role != "assertion" and c.name != "status":
            continue
        if not any(x.name == c.name for x in old.columns):
            continue
        ko, kn = old.index(c.name), new.index(c.name)
        section = "status" if c.name == "status" else c.name
        for key in both:
            a, b = ro[key][ko] or None, rn[key][kn] or None
            if a is None and b is None:
                continue
            rows.append(DiffRow(section, _label(pn, key), None, None, a, b))
    rows.sort(key=lambda r: _order(new, r.section))
    return SweepDiff(
        old_name,
        new_name,
        tuple(rows),
        parameters=tuple(c.name for c in pn),
        points=len(both),
        only_old=tuple(_label(po, k) for k in ro if k not in rn),
        only_new=tuple(_label(pn, k) for k in rn if k not in ro),
    )


def _order(table: SweepTable, section: str) -> int:
    for k, c in enumerate(table.columns):
        if c.name == section or (c.bound and c.name.rsplit(".", 1)[0] == section):
            return k
    return len(table.columns)


def _measure(lo: Any, hi: Any, dim: Dim) -> Measure | None:
    a, b = _num(lo), _num(hi)
    if a is None or b is None:
        return None
    return Measure(a, b, dim)
