"""The table a sweep writes: one row per point, one column per parameter, figure, assertion.

Columns, in order:

* ``point``: the row number (0, 1, ...), the point's place in the design space;
* one per parameter, named after the constant: its value in SI base units (text for a text
  constant);
* one per figure of each analysis, ``LABEL.FIELD`` (``bisection.value``, ``checkpoint.time``);
  a figure that may be a bound pair (bisection's) has two, ``LABEL.FIELD.lower`` and
  ``.upper``, whose interval holds the true value;
* one per assertion of the file (and ``--assert``), ``assert.NAME``: ``pass``, ``fail``,
  ``unproven`` or ``error``; then ``assertions``, the worst of them;
* ``pareto`` (with objectives): ``true`` on the Pareto front;
* ``status`` (``ok`` or ``error``) and ``error``, the first problem of a point that has one.

The header names each column with its unit in brackets (``bisection.value.lower [B/s]``; none
for plain numbers and text). Bandwidths are per direction. Numbers are written as JSON writes
them (whole numbers without a decimal point, ``inf`` for no limit); a figure a failed point does
not have is empty. CSV (RFC 4180, ``\\n`` line ends) and JSON hold the same rows; JSON adds what
the sweep was (the file, its ``-D``, the parameters, the analyses with their parameters, the
sampling, the objectives).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..analyses.figures import json_float

__all__ = ["Column", "SweepTable", "read_table", "is_sweep_table", "FORMAT_VERSION"]

#: ``topodsl_sweep`` in a JSON table: the version of this layout.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Column:
    """One column: its name, its unit (SI base unit text, ``""`` for none), its role
    (``point``, ``parameter``, ``figure``, ``assertion``, ``pareto``, ``status``) and, for a
    figure, the direction that is better (``higher``/``lower``) and the bound it is
    (``lower``/``upper`` of a bound pair, else ``None``)."""

    name: str
    unit: str = ""
    role: str = "figure"
    better: str | None = None
    bound: str | None = None

    @property
    def header(self) -> str:
        """``name [unit]``, or the name alone without a unit."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        out: dict[str, Any] = {"name": self.name, "unit": self.unit, "role": self.role}
        if self.better:
            out["better"] = self.better
        if self.bound:
            out["bound"] = self.bound
        return out


def _cell(v: Any) -> Any:
    """A value as JSON holds it."""
    if isinstance(v, float):
        return json_float(v) if math.isfinite(v) or math.isinf(v) else None
    return v


def _csv_cell(v: Any) -> str:
    v = _cell(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


@dataclass(frozen=True)
class SweepTable:
    """Columns, rows (one tuple of cells per point, in point order) and what the sweep was."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def index(self, name: str) -> int:
        """The position of column ``name``."""
        for k, c in enumerate(self.columns):
            if c.name == name:
                return k
        raise KeyError(name)

    def column(self, name: str) -> list[Any]:
        """Every row's value of column ``name``."""
        k = self.index(name)
        return [r[k] for r in self.rows]

    @property
    def parameters(self) -> tuple[Column, ...]:
        """The parameter columns."""
        return tuple(c for c in self.columns if c.role == "parameter")

    def with_column(self, col: Column, values: Sequence[Any], before: str | None = None):
        """A copy with ``col`` added (before column ``before``, else at the end)."""
        k = self.index(before) if before is not None else len(self.columns)
        cols = (*self.columns[:k], col, *self.columns[k:])
        rows = tuple((*r[:k], v, *r[k:]) for r, v in zip(self.rows, values, strict=True))
        return replace(self, columns=cols, rows=rows)

    def to_csv(self) -> str:
        """The table as CSV: a header row, then one row per point."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([c.header for c in self.columns])
        for r in self.rows:
            w.writerow([_csv_cell(v) for v in r])
        return buf.getvalue()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: ``topodsl_sweep``, what the sweep was, ``columns``, ``rows`` (one
        object per point, keyed by column name)."""
        names = [c.name for c in self.columns]
        return {
            "topodsl_sweep": FORMAT_VERSION,
            **self.meta,
            "columns": [c.to_dict() for c in self.columns],
            "rows": [dict(zip(names, map(_cell, r), strict=True)) for r in self.rows],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as text (deterministic)."""
        return json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"


# -- reading a table back (for diff) -------------------------------------------------------


def is_sweep_table(path: str) -> bool:
    """Whether ``path`` holds a sweep table: a ``.csv`` file whose header starts with
    ``point``, or a JSON object with ``topodsl_sweep``."""
    lower = path.lower()
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    if lower.endswith(".csv"):
        return head.split(",", 1)[0].strip() == "point"
    if lower.endswith(".json"):
        return '"topodsl_sweep"' in head[:200]
    return False


def _parse_header(text: str) -> tuple[str, str]:
    name, _, unit = text.partition(" [")
    return name, unit[:-1] if unit.endswith("]") else ""


def _number(text: str) -> Any:
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    if text in ("inf", "-inf"):
        return float(text)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _role(name: str) -> str:
    from .spec import RESERVED_COLUMNS

    if name == "point":
        return "point"
    if name in ("status", "error"):
        return "status"
    if name == "pareto":
        return "pareto"
    if name == "assertions" or name.startswith("assert."):
        return "assertion"
    if "." in name:
        return "figure"
    return "parameter" if name not in RESERVED_COLUMNS else "status"


def _figure_column(name: str, unit: str) -> Column:
    """A figure column read from a CSV header: its better direction from the registry."""
    from ..analyses import ANALYSES

    parts = name.split(".")
    bound = parts[-1] if len(parts) == 3 and parts[-1] in ("lower", "upper") else None
    a = ANALYSES.get(parts[0].split("#")[0])
    f = a.field(parts[1]) if a is not None and len(parts) > 1 else None
    return Column(name, unit, "figure", f.better if f else None, bound)


def read_table(path: str) -> SweepTable:
    """A table written by ``topodsl sweep`` (CSV or JSON).

    >>> import os, tempfile
    >>> t = SweepTable((Column("point", role="point"), Column("N", role="parameter"),
    ...                 Column("count.value"), Column("status", role="status")),
    ...                ((0, 2, 16, "ok"), (1, 4, 32, "ok")))
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(path, "w").write(t.to_csv())
    >>> is_sweep_table(path), read_table(path).rows == t.rows
    (True, True)

    Raises
    ------
    ElaborationError
        Not a sweep table, or one that cannot be read.
    """
    from ..errors import ElaborationError

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read(MAX_TABLE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as e:
        raise ElaborationError(f"cannot read {path}: {e}") from None
    if len(text) > MAX_TABLE_BYTES:
        raise ElaborationError(f"{path} is larger than {MAX_TABLE_BYTES // 2**20} MiB")
    if path.lower().endswith(".json"):
        try:
            return _from_json(json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ElaborationError(f"{path}: not a topodsl sweep table ({e})") from None
    try:
        return _from_csv(path, list(csv.reader(io.StringIO(text))))
    except csv.Error as e:
        raise ElaborationError(f"{path}: not a readable CSV table ({e})") from None


#: The largest table :func:`read_table` reads (tables arrive in pull requests).
MAX_TABLE_BYTES = 256 * 2**20

_CELL = (str, int, float, bool, type(None))


def _from_json(doc: Any) -> SweepTable:
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), list):
        raise ValueError("no 'columns' list")
    cols = []
    for c in doc["columns"]:
        fields = (c["name"], c.get("unit", ""), c["role"], c.get("better"), c.get("bound"))
        if not all(isinstance(x, str | type(None)) for x in fields) or not fields[0]:
            raise ValueError("a column description is not text")
        cols.append(Column(*fields))
    rows = []
    for r in doc.get("rows", []):
        cells = tuple(r.get(c.name) for c in cols)
        if not all(isinstance(v, _CELL) for v in cells):
            raise ValueError("a cell is neither a number nor text")
        rows.append(cells)
    meta = {k: v for k, v in doc.items() if k not in ("topodsl_sweep", "columns", "rows")}
    return SweepTable(tuple(cols), tuple(rows), meta)


def _from_csv(path: str, records: list[list[str]]) -> SweepTable:
    from ..errors import ElaborationError

    if not records:
        raise ElaborationError(f"{path}: empty file, not a sweep table")
    header, body = records[0], records[1:]
    if not header or header[0] != "point":
        raise ElaborationError(f"{path}: not a topodsl sweep table (no 'point' column first)")
    cols = []
    for h in header:
        name, unit = _parse_header(h)
        role = _role(name)
        cols.append(_figure_column(name, unit) if role == "figure" else Column(name, unit, role))
    rows = []
    for k, r in enumerate(body, start=2):
        if len(r) != len(cols):
            raise ElaborationError(f"{path}:{k}: {len(r)} cells, the header has {len(cols)}")
        rows.append(
            tuple(
                (v or None) if c.role in ("status", "assertion") else _number(v)
                for c, v in zip(cols, r, strict=True)
            )
        )
    return SweepTable(tuple(cols), tuple(rows), {"file": None})
