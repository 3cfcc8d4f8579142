"""Reports of a sweep diff (``topodsl diff OLD.csv NEW.csv``): text, Markdown, JSON.

A sweep has many points, so the report leads with one line per column (how many points it
changed at, how many got better or worse, the largest change), then the regressions, then,
unless ``all_rows`` is off, every changed cell.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..diff import DiffRow
from ..sweep.diff import SweepDiff
from .diff import _markdown_regressions, _md, _regression_lines
from .table import format_table

__all__ = ["SWEEP_DIFF_FORMATS"]

Regressions = Sequence[tuple[DiffRow, str]] | None


def _direction(r: DiffRow) -> str | None:
    """``"better"``, ``"worse"`` or ``None`` (no direction, or unchanged)."""
    if not r.changed:
        return None
    if r.old_status is not None or r.new_status is not None:
        good = ("pass", "ok")
        if r.old_status in good and r.new_status not in good:
            return "worse"
        if r.new_status in good and r.old_status not in good:
            return "better"
        return None
    if r.better is None or r.old is None or r.new is None:
        return None
    # Judged by the guaranteed bound: the lower where more is better, the upper where less is.
    d = r.new.lower - r.old.lower if r.better == "higher" else r.old.upper - r.new.upper
    return "better" if d > 0 else "worse" if d < 0 else None


def _largest(rows: list[DiffRow]) -> str:
    best, size = None, -1.0
    for r in rows:
        if r.old is None or r.new is None or not r.changed:
            continue
        base = abs(r.old.lower) or 1.0
        rel = abs(r.new.lower - r.old.lower) / base
        if rel > size:
            best, size = r, rel
    if best is None:
        return ""
    return f"{best.change()} at {best.name}"


def _cell(r: DiffRow, side: str) -> str:
    m = r.old if side == "old" else r.new
    status = r.old_status if side == "old" else r.new_status
    if m is None:
        return status or "-"
    return m.format()


def _summary_rows(diff: SweepDiff) -> list[list[str]]:
    out = []
    for section in diff.sections:
        rows = [r for r in diff.rows if r.section == section]
        changed = [r for r in rows if r.changed]
        dirs = [_direction(r) for r in changed]
        out.append([
            section, str(len(changed)), str(dirs.count("better")), str(dirs.count("worse")),
            _largest(changed),
        ])  # fmt: skip
    return out


def _head(diff: SweepDiff) -> list[str]:
    lines = [f"old: {diff.old}", f"new: {diff.new}"]
    lines.append(
        f"{diff.points} points in both ({', '.join(diff.parameters)}); "
        f"{len(diff.only_old)} only in the old table, {len(diff.only_new)} only in the new"
    )
    return lines


def format_sweep_diff_text(
    diff: SweepDiff, all_rows: bool = True, regressions: Regressions = None, tolerance: float = 0
) -> str:
    """The diff as text: a line per column, the regressions, the changed cells."""
    out = _head(diff)
    headers = ["column", "points changed", "better", "worse", "largest change"]
    out += ["", format_table(headers, _summary_rows(diff), "lrrrl")]
    for what, pts in (("only in the old table", diff.only_old), ("only in new", diff.only_new)):
        out += [f"  {what}: {p}" for p in pts]
    n = len(diff.changed)
    out += ["", f"{n} cell{'s' if n != 1 else ''} changed" if n else "no cell changed"]
    out += _regression_lines(regressions, tolerance)
    if all_rows and diff.changed:
        rows = [[r.section, r.name, _cell(r, "old"), _cell(r, "new"), r.change() or "status"]
                for r in diff.changed]  # fmt: skip
        out += ["", format_table(["column", "point", "old", "new", "change"], rows, "llrrr")]
    return "\n".join(out) + "\n"


def format_sweep_diff_markdown(
    diff: SweepDiff, all_rows: bool = True, regressions: Regressions = None, tolerance: float = 0
) -> str:
    """The diff as GitHub-flavoured Markdown, for a pull-request comment."""
    out = [f"### topodsl sweep diff: `{_md(diff.old)}` → `{_md(diff.new)}`", ""]
    out += [_md(_head(diff)[2]) + ". Bandwidths per direction.", ""]
    out += [
        "| column | points changed | better | worse | largest change |",
        "|---|---:|---:|---:|---|",
    ]
    out += [f"| {' | '.join(_md(x) for x in row)} |" for row in _summary_rows(diff)]
    out += _markdown_regressions(regressions, tolerance)
    if all_rows and diff.changed:
        out += ["", "<details><summary>changed cells</summary>", ""]
        out += ["| column | point | old | new | change |", "|---|---|---:|---:|---:|"]
        for r in diff.changed:
            cells = (r.section, r.name, _cell(r, "old"), _cell(r, "new"), r.change() or "status")
            out.append(f"| {' | '.join(_md(c) for c in cells)} |")
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def format_sweep_diff_json(
    diff: SweepDiff, all_rows: bool = True, regressions: Regressions = None, tolerance: float = 0
) -> str:
    """The diff as one JSON document (SI base units)."""
    doc = diff.to_dict()
    doc["summary"] = [
        dict(zip(("column", "changed", "better", "worse", "largest"), row, strict=True))
        for row in _summary_rows(diff)
    ]
    if not all_rows:
        doc.pop("rows")
    if regressions is not None:
        doc["tolerance"] = tolerance
        doc["regressions"] = [
            {"column": r.section, "point": r.name, "why": why} for r, why in regressions
        ]
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


SWEEP_DIFF_FORMATS = {
    "text": format_sweep_diff_text,
    "markdown": format_sweep_diff_markdown,
    "json": format_sweep_diff_json,
}
