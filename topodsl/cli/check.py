"""``check`` (validate files and evaluate their assertions) and ``diff`` (compare two designs)."""

from __future__ import annotations

import os
import sys

import click

from ..errors import TopoError
from .common import (
    EXIT_FAILED,
    EXIT_INPUT,
    ROWS,
    common_options,
    file_options,
    given_options,
    given_overrides,
    main,
    settings_note,
)
from .progress import terminal_progress, wanted


def _load(path: str, allow_import_outside: bool):
    """Load ``path`` (with ``-D``); return ``(topology, None)`` or ``(None, error)``. Warnings
    go to stderr."""
    from ..api import load
    from ..errors import ElaborationError

    try:
        topo = load(path, allow_import_outside=allow_import_outside, overrides=given_overrides())
    except TopoError as e:
        return None, e
    except RecursionError:
        return None, ElaborationError(f"{path}: the file nests too deeply to elaborate")
    for w in topo.warnings:
        click.echo(w.render(), err=True)
    return topo, None


def _write(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--assert",
    "extra",
    multiple=True,
    metavar="EXPR",
    help="Also check this assertion (repeatable), e.g. --assert 'bisection() >= 1.8 TB/s'. "
    "Paths are read from the top level of each file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "junit", "github"]),
    default="text",
    show_default=True,
    help="text (colour only on a terminal), json (one document), junit (XML, one testcase per "
    "assertion) or github (workflow commands that annotate a pull request).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the report here; the text report still goes to stdout.",
)
@click.option(
    "--unproven",
    type=click.Choice(["fail", "pass"]),
    default="fail",
    show_default=True,
    help="Whether an assertion the solvers can neither prove nor refute (a bisection threshold "
    "between its lower and upper bound) fails the check.",
)
@click.option(
    "--cut-rows",
    type=ROWS,
    default=8,
    show_default=True,
    help="Rows of each limiting cut: groups of alike elements in text, JUnit and GitHub "
    "reports, groups and elements in JSON; 'all' for every one.",
)
@click.option(
    "--as-built",
    "as_built",
    metavar="MACHINE.xml",
    help="Also compare each design with this machine (hwloc or NCCL/RCCL XML, or any topology "
    "file): missing GPUs or NICs, narrower PCIe links, missing NVLinks, slower NICs, smaller "
    "memory; exit 1 when the machine falls short.",
)
@click.option(
    "--server", metavar="SEL", help="With --as-built: the server of the design to compare."
)
@common_options
@file_options
def check(
    files: tuple[str, ...],
    extra: tuple[str, ...],
    fmt: str,
    output: str | None,
    unproven: str,
    allow_import_outside: bool,
    cut_rows: int | None = 8,
    as_built: str | None = None,
    server: str | None = None,
    **common: str | None,
) -> None:
    """Validate FILES and check their assertions.

    Each file is parsed and elaborated; then every `assert` in it, and every --assert, is
    evaluated with the solvers. Each result shows the measured value, the threshold and, for a
    failing flow or bisection, the limiting cut.

    Exit codes: 0 every assertion passed, 1 an assertion failed (or is unproven, unless
    --unproven pass), 2 an input error (a file or an assertion that cannot be read; the
    diagnostics go to stderr).
    """
    from ..check import CheckReport, parse_assertion
    from ..check import check as run_checks
    from ..report.check import FORMATS, format_text, run_exit_code

    # A command-line assertion that does not parse is one error, not one per file.
    for k, text in enumerate(extra, start=1):
        try:
            parse_assertion(text, f"<assert {k}>")
        except TopoError as e:
            click.echo(e.render(), err=True)
            sys.exit(EXIT_INPUT)

    reports: list[CheckReport] = []
    for path in files:
        topo, err = _load(path, allow_import_outside)
        if err is None:
            options = given_options(common)
            with terminal_progress(wanted(as_json=fmt != "text")) as progress:
                report = run_checks(topo, extra, raise_errors=False, options=options,
                                    progress=progress)  # fmt: skip
            reports.append(report)
        if err is not None:
            click.echo(err.render(), err=True)
            reports.append(CheckReport.input_error(path, err))
            continue
        for d in reports[-1].diagnostics:
            click.echo(d.render(), err=True)

    if fmt == "text":
        colour = _use_colour() and not output
        _write(format_text(reports, unproven, color=colour, cut_rows=cut_rows), output)
    else:
        _write(FORMATS[fmt](reports, unproven, cut_rows=cut_rows), output)
        if output:
            sys.stdout.write(format_text(reports, unproven, _use_colour(), cut_rows))
    code = run_exit_code(reports, unproven)
    if as_built:
        from .interop import as_built_exit_code

        code = max(code, as_built_exit_code(files, as_built, server, allow_import_outside, fmt))
    sys.exit(code)


@main.command()
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--rev",
    metavar="REV",
    help="Compare OLD as it was at this git revision (e.g. HEAD~1, main) with the working copy; "
    "NEW must then be omitted.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown suits a pull-request comment.",
)
@click.option("--changed-only", is_flag=True, help="Show only figures that changed.")
@click.option("--no-bisection", is_flag=True, help="Skip the bisection bandwidth (faster).")
@click.option(
    "--analysis",
    "analyses",
    multiple=True,
    metavar="NAME[:PARAM=VALUE,...]",
    help="Also compare every figure of this analysis (repeatable), e.g. "
    "'checkpoint:size=2TB' or 'reach:from=kind:cpu,within=1us'.",
)
@click.option(
    "--assert",
    "extra",
    multiple=True,
    metavar="EXPR",
    help="Also compare this assertion's value (repeatable).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["never", "regression", "change"]),
    default="never",
    show_default=True,
    help="Exit 1 on a regression (an assertion that passed and no longer does, or a figure that "
    "got worse by more than --tolerance) or on any change; the report lists them.",
)
@click.option(
    "--tolerance",
    default="0%",
    show_default=True,
    callback=lambda ctx, param, value: _fraction(value),
    metavar="PERCENT",
    help="How much worse a figure may get before it is a regression, e.g. '2%' or '0.02'.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@common_options
@file_options
def diff(
    old: str,
    new: str | None,
    rev: str | None,
    fmt: str,
    changed_only: bool,
    no_bisection: bool,
    analyses: tuple[str, ...],
    extra: tuple[str, ...],
    fail_on: str,
    tolerance: float,
    output: str | None,
    allow_import_outside: bool,
    **common: str | None,
) -> None:
    """Compare two designs: OLD and NEW, or OLD at --rev REV and OLD now.

    Shows component counts per kind, total memory, bisection bandwidth (and any --analysis)
    and every assertion's value, old beside new, with the change. Two tables written by
    `topodsl sweep` (CSV or JSON) are compared point by point instead. Exit code 0; 1 with
    --fail-on when there is a regression (or a change); 2 on an input error.
    """
    from ..diff import checkout_revision, diff_topologies
    from ..report.diff import DIFF_FORMATS

    if (rev is None) == (new is None):
        raise click.UsageError("give either two files, OLD NEW, or one file with --rev REV")
    from ..sweep.table import is_sweep_table

    if new is not None and is_sweep_table(old) and is_sweep_table(new):
        _diff_sweeps(old, new, fmt, changed_only, fail_on, tolerance, output)
        return
    import tempfile  # only diff needs it: not loaded by every start of the command line

    with tempfile.TemporaryDirectory(prefix="topodsl-diff-") as tmp:
        if rev is not None:
            try:
                old_path = str(checkout_revision(old, rev, tmp))
            except TopoError as e:
                click.echo(e.render(), err=True)
                sys.exit(EXIT_INPUT)
            new_path, old_name, new_name = old, f"{old}@{rev}", old
        else:
            assert new is not None
            old_path, new_path, old_name, new_name = old, new, old, new
        topos = []
        for path in (old_path, new_path):
            topo, err = _load(path, allow_import_outside)
            if err is not None:
                click.echo(err.render(), err=True)
                sys.exit(EXIT_INPUT)
            topos.append(topo)
        old_name, new_name = (
            f"{name} {note}" if (note := settings_note(t)) else name
            for name, t in zip((old_name, new_name), topos, strict=True)
        )
        try:
            result = diff_topologies(
                topos[0], topos[1], old_name=old_name, new_name=new_name,
                bisection=not no_bisection, assertions=extra, analyses=analyses,
                options=given_options(common),
            )  # fmt: skip
        except TopoError as e:
            click.echo(e.render(), err=True)
            sys.exit(EXIT_INPUT)
    _gate(result, DIFF_FORMATS[fmt], changed_only, fail_on, tolerance, output)


def _gate(result, report, changed_only: bool, fail_on: str, tolerance: float, output) -> None:
    """Write ``report`` of a diff (a design's or a sweep's) and exit 1 on what ``--fail-on``
    names: a regression (judged with ``tolerance``) or any change."""
    regressions = None
    if fail_on == "regression":
        regressions = result.regressions(tolerance)
    elif fail_on == "change":
        regressions = result.changes()
    text = report(result, all_rows=not changed_only, regressions=regressions, tolerance=tolerance)
    _write(text, output)
    if regressions:
        sys.exit(EXIT_FAILED)


def _diff_sweeps(
    old: str, new: str, fmt: str, changed_only: bool, fail_on: str, tolerance: float, output
) -> None:
    """``diff`` of two sweep tables (see :mod:`topodsl.sweep.diff`)."""
    from ..report.sweep import SWEEP_DIFF_FORMATS
    from ..sweep import diff_tables, read_table

    try:
        result = diff_tables(read_table(old), read_table(new), old, new)
    except TopoError as e:
        click.echo(e.render(), err=True)
        sys.exit(EXIT_INPUT)
    _gate(result, SWEEP_DIFF_FORMATS[fmt], changed_only, fail_on, tolerance, output)


def _fraction(text: str) -> float:
    """``'2%'`` or ``'0.02'`` -> 0.02 (a usage error, exit 2, when malformed)."""
    body = text.strip()
    try:
        value = float(body[:-1]) / 100 if body.endswith("%") else float(body)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a fraction such as '2%' or '0.02'") from None
    if not 0 <= value < float("inf"):
        raise click.BadParameter(f"{text!r} must be zero or more")
    return value
