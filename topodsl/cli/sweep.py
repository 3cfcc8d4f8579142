"""``topodsl sweep FILE --param NAME=V1,V2 ... --analysis NAME ...``: a design space, one row
per point, on every core or on a Dask cluster (see docs/sweeps.md)."""

from __future__ import annotations

import itertools
import os
import sys
import time

import click

from ..errors import TopoError
from ..progress import report as report_progress
from .common import (
    EXIT_FAILED,
    EXIT_INPUT,
    common_options,
    fail,
    file_options,
    given_options,
    given_overrides,
    main,
)
from .progress import terminal_progress, wanted

_FORMATS = ("csv", "json")
_STAGE = "sweep"  # the progress bar's label: "sweep: 12/40 [...]"


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--param",
    "params",
    multiple=True,
    required=True,
    metavar="NAME=V1,V2,...|NAME=LO..HI",
    help="A top-level constant to sweep (repeatable): its values, with units "
    "(--param NIC=400Gb/s,800Gb/s), or a range to sample with --samples "
    "(--param NIC=100Gb/s..800Gb/s).",
)
@click.option(
    "--analysis",
    "analyses",
    multiple=True,
    metavar="NAME[:PARAM=VALUE,...]",
    help="An analysis to run at every point (repeatable): 'bisection', 'checkpoint:size=2TB'. "
    "Each figure becomes a column (LABEL.FIELD).",
)
@click.option(
    "--assertions/--no-assertions",
    default=True,
    show_default=True,
    help="Check the file's assertions at every point (a column each).",
)
@click.option("--assert", "extra", multiple=True, metavar="EXPR", help="Also check this assertion.")
@click.option("--samples", type=click.IntRange(min=1), help="Sample the ranges N times.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples.")
@click.option(
    "--sampling",
    type=click.Choice(["lhs", "random"]),
    default="lhs",
    show_default=True,
    help="Latin-hypercube or independent uniform samples.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    help="Table format (default: from the suffix of -o, else csv).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the table here.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Worker processes on this machine (default: every core; 1 runs in this process).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Run on this Dask distributed scheduler (pip install 'topodsl[dask]').",
)
@click.option(
    "--pareto",
    metavar="COL:max,COL:min",
    help="Mark the Pareto front of these objectives in a 'pareto' column, e.g. "
    "'bisection:max,SPINES:min' (a parameter, LABEL or LABEL.FIELD).",
)
@click.option("--chart", metavar="X,Y", help="Chart column Y against column X (matplotlib).")
@click.option(
    "--chart-output",
    type=click.Path(dir_okay=False),
    help="Where to write the chart (.png, .svg, .pdf; default: the table's name with .png).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["never", "error", "assertion"]),
    default="never",
    show_default=True,
    help="Exit 1 when a point failed (error) or when a point failed or broke an assertion.",
)
@click.option(
    "--no-reuse",
    is_flag=True,
    help="Elaborate every point in full (no shape reuse; for comparison).",
)
@common_options
@file_options
def sweep(
    file: str,
    params: tuple[str, ...],
    analyses: tuple[str, ...],
    assertions: bool,
    extra: tuple[str, ...],
    samples: int | None,
    seed: int,
    sampling: str,
    fmt: str | None,
    output: str | None,
    jobs: int | None,
    scheduler: str | None,
    pareto: str | None,
    chart: str | None,
    chart_output: str | None,
    fail_on: str,
    no_reuse: bool,
    allow_import_outside: bool,
    **common: str | None,
) -> None:
    """Evaluate FILE at every point of a design space; write one table, one row per point.

    The points are every combination of the --param values (the last one varying fastest),
    crossed with --samples samples of the ranges. Each row holds the parameters, every figure
    of every --analysis (SI base units, the unit in the header), each assertion's status, the
    Pareto mark, and the point's error if it failed (a failed point never stops the others).
    The table is the same, byte for byte, whether it ran in one process, on a pool or on Dask.

    Exit codes: 0 the table was written; 1 with --fail-on; 2 the sweep itself is wrong (an
    unknown constant, a value of the wrong dimension, an unknown analysis).
    """
    from ..executor import ExecutorError, make_executor
    from ..sweep import plan_sweep, run_sweep

    fmt = fmt or ("json" if output and output.lower().endswith(".json") else "csv")
    if chart and not (output or chart_output):
        raise click.UsageError("--chart needs --chart-output or -o (the chart goes beside it)")
    try:
        plan = plan_sweep(
            file,
            params,
            analyses,
            assertions=assertions,
            extra_assertions=extra,
            overrides=[f"{o.name}={o.text}" for o in given_overrides()],
            options=given_options(common),
            samples=samples or 0,
            seed=seed,
            sampling=sampling,
            pareto=pareto,
            allow_import_outside=allow_import_outside,
            reuse=not no_reuse,
        )
    except TopoError as e:
        fail(e)
    chart_axes = _chart_axes(plan, chart) if chart else None
    try:
        executor = make_executor(jobs, scheduler, preload=("topodsl.sweep.warm",))
    except ExecutorError as e:
        hint = "pip install 'topodsl[dask]'" if "not installed" in str(e) else None
        fail(f"{e}" + (f"\n  hint: {hint}" if hint else ""))
    start = time.perf_counter()
    # A bar only for a person watching: JSON on the screen is for a program (cli/progress.py).
    bars = terminal_progress(wanted(as_json=fmt == "json" and not output), units={_STAGE: "point"})
    with executor, bars as progress:
        finished = itertools.count(1)
        report_progress(progress, _STAGE, 0, len(plan.tasks))
        table, stats = run_sweep(
            plan,
            executor,
            on_done=lambda _: report_progress(progress, _STAGE, next(finished), len(plan.tasks)),
        )
    wall = time.perf_counter() - start
    text = table.to_json() if fmt == "json" else table.to_csv()
    if output:
        with open(output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    if chart_axes is not None:
        from ..sweep.chart import ChartError, render_chart

        target = chart_output or os.path.splitext(output or "sweep")[0] + ".png"
        try:
            render_chart(table, *chart_axes, target)
        except ChartError as e:
            fail(str(e))
        click.echo(f"{target}: {chart_axes[1]} against {chart_axes[0]}", err=True)
    click.echo(_summary(file, plan, stats, executor.description, wall), err=True)
    code = 0
    if fail_on == "error" and stats.errors:
        code = EXIT_FAILED
    if fail_on == "assertion" and (stats.errors or _broken(table)):
        code = EXIT_FAILED
    sys.exit(code)


def _chart_axes(plan, chart: str) -> tuple[str, str]:
    from ..sweep.run import chart_columns

    try:
        return chart_columns(plan, chart)
    except (KeyError, ValueError) as e:
        fail(f"--chart {chart!r}: {e.args[0]}")
    raise AssertionError  # pragma: no cover


def _broken(table) -> bool:
    if not any(c.name == "assertions" for c in table.columns):
        return False
    return any(v not in (None, "pass") for v in table.column("assertions"))


def _summary(file: str, plan, stats, where: str, wall: float) -> str:
    # A probe is two full elaborations: the shape's first point, and the point probed.
    made = stats.elaborated + 2 * stats.probed
    reuse = f", {stats.updated} by array updates" if stats.updated else ""
    failed = f", {stats.errors} failed" if stats.errors else ""
    return (
        f"{file}: {stats.points} points{failed} on {where}: {plan.shapes} shapes, "
        f"{made} full elaborations{reuse}; {wall:.2f} s wall, {stats.cpu:.2f} s CPU in the points"
    )


__all__ = ["sweep", "EXIT_INPUT"]
