"""Reports of ``topodsl check``: text, JSON, JUnit XML and GitHub workflow commands.

Every function takes the :class:`~topodsl.check.CheckReport` of each file checked, in order, and
the ``unproven`` policy (``"fail"`` or ``"pass"``), and returns the whole report as a string.
Output is deterministic: no clocks, no host names, results in source order.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ..check import STATUSES, AssertionResult, CheckReport
from ..errors import Diagnostic
from ..params import format_settings
from ..units import BANDWIDTH, format_quantity
from .cut import cut_lines, group_cut

__all__ = [
    "format_text",
    "format_json",
    "format_junit",
    "format_github",
    "FORMATS",
    "run_exit_code",
    "MAX_CUT_GROUPS",
]

#: Cut groups shown per assertion in text, JUnit and GitHub reports (``topodsl check
#: --cut-rows``); in JSON, the cut groups and elements listed per assertion.
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


def _cut_lines(result: AssertionResult, rows: int | None) -> list[str]:
    """The limiting cut of a result as text lines (empty when it has none): a head line, then
    its elements grouped by array pattern (:mod:`topodsl.report.cut`), ``rows`` groups
    (``None``: all)."""
    if not result.cut:
        return []
    cut = group_cut(result.cut)
    n = cut.count
    groups = f" in {len(cut)} groups" if len(cut) > 1 else ""
    head = (
        f"limiting cut: {format_quantity(cut.total, BANDWIDTH)} per direction across {n} "
        f"element{'s' if n != 1 else ''}{groups} (raise these to raise the figure):"
    )
    return [head] + ["  " + line for line in cut_lines(cut, rows)]


# -- text ----------------------------------------------------------------------------------------


def _title(r: AssertionResult) -> str:
    return r.text if r.name == r.text else f"{r.name}: {r.text}"


def _where(r: AssertionResult) -> str:
    return f"{r.span}: " if r.span else ""


def _details(r: AssertionResult, cut_rows: int | None) -> list[str]:
    lines = []
    if r.instances > 1:
        lines.append(f"shown: {r.scope}, the worst of {r.instances} instances")
    lines += list(r.notes)
    if r.status != "pass":
        lines += _cut_lines(r, cut_rows)
    return lines


def format_text(
    reports: Sequence[CheckReport],
    unproven: str = "fail",
    color: bool = False,
    cut_rows: int | None = MAX_CUT_GROUPS,
) -> str:
    """Human-readable report; ``color`` adds ANSI colours to the status words.

    A failing or unproven flow or bisection shows its limiting cut, grouped by array pattern:
    ``cut_rows`` groups (``None``: all).

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
            out += ["    " + line for line in _details(r, cut_rows)]
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


def format_json(
    reports: Sequence[CheckReport], unproven: str = "fail", cut_rows: int | None = MAX_CUT_GROUPS
) -> str:
    """One JSON document for the whole run (SI base units: bytes, B/s per direction, s).

    Each assertion with a limiting cut lists its first ``cut_rows`` groups and elements
    (``None``: all); see :meth:`topodsl.check.AssertionResult.to_dict`.
    """
    results = [r for rep in reports for r in rep.results]
    doc = {
        "tool": "topodsl check",
        "unproven": unproven,
        "exit_code": run_exit_code(reports, unproven),
        "summary": {s: sum(1 for r in results if r.status == s) for s in STATUSES}
        | {"assertions": len(results), "files": len(reports)},
        "files": [rep.to_dict(cut_rows) for rep in reports],
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


# -- junit ---------------------------------------------------------------------------------------


def _diag_text(ds: Sequence[Diagnostic]) -> str:
    return "\n".join(d.render() for d in ds)


def _failure_body(r: AssertionResult, cut_rows: int | None) -> str:
    lines = [f"{_where(r)}{r.message()}"] + _details(r, cut_rows)
    return "\n".join(lines)


def format_junit(
    reports: Sequence[CheckReport], unproven: str = "fail", cut_rows: int | None = MAX_CUT_GROUPS
) -> str:
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
                el.text = _failure_body(r, cut_rows)
            elif r.status == "unproven":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=r.message())
            else:
                out = ET.SubElement(case, "system-out")
                out.text = _failure_body(r, cut_rows)
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


def format_github(
    reports: Sequence[CheckReport], unproven: str = "fail", cut_rows: int | None = MAX_CUT_GROUPS
) -> str:
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
            body = "\n".join([f"{_title(r)}: {r.message()}"] + _details(r, cut_rows))
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
