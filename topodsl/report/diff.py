"""Reports of ``topodsl diff``: a text table, a Markdown table for a pull request, JSON."""

from __future__ import annotations

import json

from ..diff import SECTIONS, DesignDiff, DiffRow
from .table import format_table

__all__ = ["format_diff_text", "format_diff_markdown", "format_diff_json", "DIFF_FORMATS"]

_HEADERS = ["", "old", "new", "change"]


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


def format_diff_text(diff: DesignDiff, all_rows: bool = True) -> str:
    """The diff as text tables, one per section; ``all_rows=False`` keeps changed rows only.

    Bandwidths are per direction; an uncertain figure prints as ``lower .. upper``.
    """
    out = [f"old: {diff.old}", f"new: {diff.new}"]
    for section in SECTIONS:
        rows = _rows(diff, section, all_rows)
        if not rows:
            continue
        out += ["", format_table([section, *_HEADERS[1:]], rows, "lrrr")]
    n = len(diff.changed)
    out += ["", f"{n} figure{'s' if n != 1 else ''} changed" if n else "no figure changed"]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def format_diff_markdown(diff: DesignDiff, all_rows: bool = True) -> str:
    """The diff as GitHub-flavoured Markdown tables, for a pull-request comment."""
    out = [f"### topodsl design diff: `{_md(diff.old)}` → `{_md(diff.new)}`", ""]
    out.append("Bandwidths per direction; `a .. b` is a lower .. upper bound.")
    for section in SECTIONS:
        rows = _rows(diff, section, all_rows)
        if not rows:
            continue
        out += ["", f"| {section} | old | new | change |", "|---|---:|---:|---:|"]
        for r in rows:
            name = f"`{_md(r[0])}`" if section == "assertions" else _md(r[0])
            out.append(f"| {name} | {_md(r[1])} | {_md(r[2])} | {_md(r[3])} |")
    n = len(diff.changed)
    out += ["", f"{n} figure{'s' if n != 1 else ''} changed." if n else "No figure changed."]
    return "\n".join(out) + "\n"


def format_diff_json(diff: DesignDiff, all_rows: bool = True) -> str:
    """The diff as one JSON document (SI base units)."""
    doc = diff.to_dict()
    if not all_rows:
        doc["rows"] = [r.to_dict() for r in diff.changed]
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


DIFF_FORMATS = {
    "text": format_diff_text,
    "markdown": format_diff_markdown,
    "json": format_diff_json,
}
