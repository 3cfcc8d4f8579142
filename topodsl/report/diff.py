"""Reports of ``topodsl diff``: a text table, a Markdown table for a pull request, JSON.

Each takes the :class:`~topodsl.diff.DesignDiff`, ``all_rows`` (``False`` keeps changed rows
only) and, when the run gates on regressions, ``regressions`` (from
:meth:`~topodsl.diff.DesignDiff.regressions`) and the ``tolerance`` they were judged with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..diff import DesignDiff, DiffRow
from .table import format_table

__all__ = ["format_diff_text", "format_diff_markdown", "format_diff_json", "DIFF_FORMATS"]

_HEADERS = ["", "old", "new", "change"]

Regressions = Sequence[tuple[DiffRow, str]] | None


def _cell(row: DiffRow, side: str) -> str:
    m = row.old if side == "old" else row.new
    status = row.old_status if side == "old" else row.new_status
    if m is None:
        return status or "-"
    text = m.format()
    return f"{text} ({status})" if status else text


def _rows(diff: DesignDiff, section: str, all_rows: bool) -> list[list[str]]:
    rows = [r for r in diff.rows if r.section == section and (all_rows or r.changed)]
    return [[r.name, _cell(r, "old"), _cell(r, "new"), r.change()] for r in rows]


def _percent(tolerance: float) -> str:
    return f"{tolerance * 100:.3g}%"


def _regression_lines(regressions: Regressions, tolerance: float) -> list[str]:
    if regressions is None:
        return []
    if not regressions:
        return ["", f"no regression (tolerance {_percent(tolerance)})"]
    n = len(regressions)
    lines = ["", f"{n} regression{'s' if n != 1 else ''} (tolerance {_percent(tolerance)}):"]
    return lines + [f"  {r.section}: {r.name}: {why}" for r, why in regressions]


def format_diff_text(
    diff: DesignDiff, all_rows: bool = True, regressions: Regressions = None, tolerance: float = 0
) -> str:
    """The diff as text tables, one per section; ``all_rows=False`` keeps changed rows only.

    Bandwidths are per direction; an uncertain figure prints as ``lower .. upper``.
    """
    out = [f"old: {diff.old}", f"new: {diff.new}"]
    for section in diff.sections:
        rows = _rows(diff, section, all_rows)
        if not rows:
            continue
        out += ["", format_table([section, *_HEADERS[1:]], rows, "lrrr")]
    n = len(diff.changed)
    out += ["", f"{n} figure{'s' if n != 1 else ''} changed" if n else "no figure changed"]
    out += _regression_lines(regressions, tolerance)
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def format_diff_markdown(
    diff: DesignDiff, all_rows: bool = True, regressions: Regressions = None, tolerance: float = 0
) -> str:
    """The diff as GitHub-flavoured Markdown tables, for a pull-request comment."""
    out = [f"### topodsl design diff: `{_md(diff.old)}` → `{_md(diff.new)}`", ""]
    out.append("Bandwidths per direction; `a .. b` is a lower .. upper bound.")
    for section in diff.sections:
        rows = _rows(diff, section, all_rows)
        if not rows:
            continue
        out += ["", f"| {section} | old | new | change |", "|---|---:|---:|---:|"]
        for r in rows:
            name = f"`{_md(r[0])}`" if section == "assertions" else _md(r[0])
            out.append(f"| {name} | {_md(r[1])} | {_md(r[2])} | {_md(r[3])} |")
    n = len(diff.changed)
    out += ["", f"{n} figure{'s' if n != 1 else ''} changed." if n else "No figure changed."]
    out += _markdown_regressions(regressions, tolerance)
    return "\n".join(out) + "\n"


def _markdown_regressions(regressions: Regressions, tolerance: float) -> list[str]:
    """The regressions as Markdown lines (none when the run does not gate)."""
    if regressions is None:
        return []
    if not regressions:
        return ["", f"No regression (tolerance {_percent(tolerance)})."]
    out = ["", f"**{len(regressions)} regression(s)** (tolerance {_percent(tolerance)}):"]
    return out + [f"- {r.section}: `{_md(r.name)}`: {_md(why)}" for r, why in regressions]


def format_diff_json(
    diff: DesignDiff, all_rows: bool = True, regressions: Regressions = None, tolerance: float = 0
) -> str:
    """The diff as one JSON document (SI base units); ``regressions`` add a list of them."""
    doc = diff.to_dict()
    if not all_rows:
        doc["rows"] = [r.to_dict() for r in diff.changed]
    if regressions is not None:
        doc["tolerance"] = tolerance
        doc["regressions"] = [
            {"section": r.section, "name": r.name, "why": why} for r, why in regressions
        ]
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


DIFF_FORMATS = {
    "text": format_diff_text,
    "markdown": format_diff_markdown,
    "json": format_diff_json,
}
