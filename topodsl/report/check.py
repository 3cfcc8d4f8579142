"""Reports of ``topodsl check``: text, JSON, JUnit XML and GitHub workflow commands.

Every function takes the :class:`~topodsl.check.CheckReport` of each file checked, in order, and
the ``unproven`` policy (``"fail"`` or ``"pass"``), and returns the whole report as a string.
Output is deterministic: no clocks, no host names, results in source order.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..check import STATUSES, AssertionResult, CheckReport
from ..errors import Diagnostic
from ..params import format_settings
from ..units import BANDWIDTH, format_quantity

if TYPE_CHECKING:  # the report reads cut elements; it needs no solver
    from ..solvers.dataflow import Bottleneck
    from ..solvers.flow import CutItem

__all__ = [
    "CutGroup",
    "group_cut",
    "format_text",
    "format_json",
    "format_junit",
    "format_github",
    "FORMATS",
    "run_exit_code",
]

#: Cut groups shown in text; the JSON report always lists every cut element.
MAX_CUT_GROUPS = 8

# The text report's line for an assertion with an input error: its message is on stderr.
_NOT_EVALUATED = "not evaluated (input error, on stderr)"

_LABEL = {"pass": "pass", "fail": "FAIL", "unproven": "UNPROVEN", "error": "ERROR"}
_COLOUR = {"pass": "green", "fail": "red", "unproven": "yellow", "error": "red"}


def run_exit_code(reports: Sequence[CheckReport], unproven: str = "fail") -> int:
    """Exit code of a run: 2 if any file had an input error, else 1 if any assertion failed
    (or is unproven, when ``unproven == "fail"``), else 0."""
    return max((r.exit_code(unproven) for r in reports), default=0)


# -- cuts ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CutGroup:
    """Cut elements alike but for their indices: ``8 x link eth400 pod.leaf* -> pod.spine0``.

    ``source``/``target`` are id patterns where an index that differs within the group is ``*``;
    ``bandwidth`` is the group's total (B/s, in the direction crossed), ``each`` the bandwidth of
    one element when they are all equal (else ``None``).
    """

    element: str
    type: str | None
    source: str
    target: str
    count: int
    bandwidth: float
    each: float | None
    limit: str | None = None

    def describe(self) -> str:
        """``'8 x link eth400 a* -> b0, 50 GB/s each = 400 GB/s'``; a device saturated by its
        read or write bandwidth says so: ``'device st*.ssd* (write_bandwidth)'``."""
        what = self.element + (f" {self.type}" if self.type else "")
        where = self.source if self.element == "device" else f"{self.source} -> {self.target}"
        if self.limit in ("read_bandwidth", "write_bandwidth"):
            where += f" ({self.limit})"
        total = format_quantity(self.bandwidth, BANDWIDTH)
        if self.count == 1:
            return f"{what} {where}: {total}"
        each = f"{format_quantity(self.each, BANDWIDTH)} each = " if self.each is not None else ""
        return f"{self.count} x {what} {where}: {each}{total}"


_DIGITS = re.compile(r"(\d+)")


def _pattern(ids: Sequence[str]) -> str:
    parts = [_DIGITS.split(i) for i in ids]
    out = []
    for k, token in enumerate(parts[0]):
        if k % 2 == 1 and any(p[k] != token for p in parts):
            out.append("*")
        else:
            out.append(token)
    return "".join(out)


def group_cut(cut: Sequence[CutItem | Bottleneck]) -> tuple[CutGroup, ...]:
    """Group cut elements that differ only in their indices; largest total bandwidth first.

    >>> from topodsl.solvers.flow import CutItem
    >>> items = [CutItem("link", k, f"leaf{k}", "spine0", 50e9, "eth400") for k in range(4)]
    >>> [g.describe() for g in group_cut(items)]
    ['4 x link eth400 leaf* -> spine0: 50 GB/s each = 200 GB/s']
    """
    groups: dict[tuple, list[CutItem]] = {}
    for c in cut:
        limit = getattr(c, "limit", None) or ""
        key = (c.element, c.type or "", _DIGITS.sub("#", c.source), _DIGITS.sub("#", c.target),
               limit)  # fmt: skip
        groups.setdefault(key, []).append(c)
    out = []
    for (element, type_, _, _, limit), items in groups.items():
        bws = [c.bandwidth for c in items]
        each = bws[0] if all(b == bws[0] for b in bws) else None
        out.append(
            CutGroup(
                element,
                type_ or None,
                _pattern([c.source for c in items]),
                _pattern([c.target for c in items]),
                len(items),
                float(sum(bws)),
                each,
                limit or None,
            )
        )
    out.sort(key=lambda g: (-g.bandwidth, g.element, g.type or "", g.source, g.target))
    return tuple(out)


def cut_lines(result: AssertionResult, limit: int = MAX_CUT_GROUPS) -> list[str]:
    """The limiting cut of a result as text lines (empty when it has none)."""
    if not result.cut:
        return []
    total = format_quantity(sum(c.bandwidth for c in result.cut), BANDWIDTH)
    n = len(result.cut)
    head = (
        f"limiting cut: {total} per direction across {n} element{'s' if n != 1 else ''}"
        " (raise these to raise the figure):"
    )
    groups = group_cut(result.cut)
    lines = [head] + ["  " + g.describe() for g in groups[:limit]]
    if len(groups) > limit:
        lines.append(f"  ... and {len(groups) - limit} more groups")
    return lines


# -- text ----------------------------------------------------------------------------------------


def _title(r: AssertionResult) -> str:
    return r.text if r.name == r.text else f"{r.name}: {r.text}"


def _where(r: AssertionResult) -> str:
    return f"{r.span}: " if r.span else ""


def _details(r: AssertionResult) -> list[str]:
    lines = []
    if r.instances > 1:
        lines.append(f"shown: {r.scope}, the worst of {r.instances} instances")
    lines += list(r.notes)
    if r.status != "pass":
        lines += cut_lines(r)
    return lines


def format_text(reports: Sequence[CheckReport], unproven: str = "fail", color: bool = False) -> str:
    """Human-readable report; ``color`` adds ANSI colours to the status words.

    A file that could not be read contributes nothing here (its diagnostics belong on stderr);
    an assertion that cannot be evaluated gets one ``ERROR`` line that points there, so its
    message is printed once (``topodsl check`` writes every diagnostic to stderr).
    """

    def paint(status: str, text: str) -> str:
        if not color:
            return text
        import click

        return click.style(text, fg=_COLOUR[status], bold=True if status != "pass" else None)

    out: list[str] = []
    for rep in reports:
        if rep.errors:
            continue  # its diagnostics are on stderr; nothing was checked
        line = f"{rep.source}: ok ({rep.components} components, {rep.links} links)"
        if rep.settings:
            line += f" with {format_settings(rep.settings)} (-D)"
        out.append(line)
        for r in rep.results:
            label = paint(r.status, _LABEL[r.status])
            if r.status == "error":
                out.append(f"{_where(r)}{label}: {_title(r)}: {_NOT_EVALUATED}")
                continue
            out.append(f"{_where(r)}{label}: {_title(r)}: {r.message()}")
            out += ["    " + line for line in _details(r)]
    results = [r for rep in reports for r in rep.results]
    if results:
        counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
        parts = [
            f"{counts['pass']} passed",
            f"{counts['fail']} failed",
            f"{counts['unproven']} unproven",
        ]
        if counts["error"]:
            parts.append(f"{counts['error']} with errors")
        policy = "counted as failed" if unproven == "fail" else "not counted as failed"
        line = f"{len(results)} assertion{'s' if len(results) != 1 else ''}: " + ", ".join(parts)
        if counts["unproven"]:
            line += f" (unproven {policy})"
        out.append(line)
    return "\n".join(out) + "\n" if out else ""


# -- json ----------------------------------------------------------------------------------------


def format_json(reports: Sequence[CheckReport], unproven: str = "fail") -> str:
    """One JSON document for the whole run (SI base units: bytes, B/s per direction, s)."""
    results = [r for rep in reports for r in rep.results]
    doc = {
        "tool": "topodsl check",
        "unproven": unproven,
        "exit_code": run_exit_code(reports, unproven),
        "summary": {s: sum(1 for r in results if r.status == s) for s in STATUSES}
        | {"assertions": len(results), "files": len(reports)},
        "files": [rep.to_dict() for rep in reports],
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


# -- junit ---------------------------------------------------------------------------------------


def _diag_text(ds: Sequence[Diagnostic]) -> str:
    return "\n".join(d.render() for d in ds)


def _failure_body(r: AssertionResult) -> str:
    lines = [f"{_where(r)}{r.message()}"] + _details(r)
    return "\n".join(lines)


def format_junit(reports: Sequence[CheckReport], unproven: str = "fail") -> str:
    """JUnit XML: one ``<testsuite>`` per file, one ``<testcase>`` per assertion.

    A failed assertion is a ``<failure>``; an unproven one a ``<failure type="unproven">`` or,
    with ``unproven="pass"``, ``<skipped>``; an assertion or file that cannot be evaluated an
    ``<error>``.
    """
    root = ET.Element("testsuites", name="topodsl check")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for rep in reports:
        suite = ET.SubElement(root, "testsuite", name=rep.source)
        if rep.settings:
            props = ET.SubElement(suite, "properties")
            for s in rep.settings:
                ET.SubElement(props, "property", name=f"-D {s.name}", value=s.shown())
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if rep.errors:
            counts["tests"] += 1
            counts["errors"] += 1
            case = ET.SubElement(suite, "testcase", classname=rep.source, name="load")
            err = ET.SubElement(case, "error", type="input-error", message=rep.errors[0].message)
            err.text = _diag_text(rep.errors)
        for r in rep.results:
            counts["tests"] += 1
            attrs = {"classname": rep.source, "name": _title(r)}
            if r.span:
                attrs |= {"file": r.span.file, "line": str(r.span.line)}
            case = ET.SubElement(suite, "testcase", attrs)
            if r.status == "error":
                counts["errors"] += 1
                el = ET.SubElement(case, "error", type="input-error", message=r.message())
                el.text = _diag_text(r.diagnostics)
            elif r.status == "fail" or (r.status == "unproven" and unproven == "fail"):
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", type=r.status, message=r.message())
                el.text = _failure_body(r)
            elif r.status == "unproven":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=r.message())
            else:
                out = ET.SubElement(case, "system-out")
                out.text = _failure_body(r)
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


# -- github --------------------------------------------------------------------------------------


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _rel(path: str) -> str:
    """A path as GitHub wants it: relative to the working directory (the checkout)."""
    if os.path.isabs(path):
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return path.replace(os.sep, "/")


def _command(level: str, span, title: str, message: str) -> str:
    props = []
    if span is not None:
        props += [
            f"file={_escape_property(_rel(span.file))}",
            f"line={span.line}",
            f"col={span.col}",
        ]
        if span.end_line == span.line and span.end_col > span.col:
            props += [f"endLine={span.end_line}", f"endColumn={span.end_col}"]
    props.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def format_github(reports: Sequence[CheckReport], unproven: str = "fail") -> str:
    """GitHub Actions workflow commands, one per problem, so it annotates the pull request.

    Failed assertions and input errors are ``::error``; unproven ones ``::error`` or, with
    ``unproven="pass"``, ``::warning``. Passing assertions print nothing; a last plain line
    sums the run up.
    """
    out: list[str] = []
    for rep in reports:
        for d in rep.errors:
            out.append(_command("error", d.span, "topodsl: input error", d.message))
        for r in rep.results:
            if r.status == "pass":
                continue
            if r.status == "error":
                for d in r.diagnostics:
                    msg = d.message + (f" (hint: {d.hint})" if d.hint else "")
                    out.append(_command("error", d.span or r.span, "topodsl: input error", msg))
                continue
            level = "warning" if r.status == "unproven" and unproven == "pass" else "error"
            title = f"topodsl: assertion {'unproven' if r.status == 'unproven' else 'failed'}"
            body = "\n".join([f"{_title(r)}: {r.message()}"] + _details(r))
            out.append(_command(level, r.span, title, body))
    results = [r for rep in reports for r in rep.results]
    counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
    errors = counts["error"] + sum(1 for rep in reports if rep.errors)
    settings = dict.fromkeys(s.format() for rep in reports for s in rep.settings)
    out.append(
        f"topodsl check: {len(reports)} file(s), {len(results)} assertion(s): "
        f"{counts['pass']} passed, {counts['fail']} failed, {counts['unproven']} unproven, "
        f"{errors} input error(s)" + (f" with {', '.join(settings)} (-D)" if settings else "")
    )
    return "\n".join(out) + "\n"


FORMATS = {
    "text": format_text,
    "json": format_json,
    "junit": format_junit,
    "github": format_github,
}
