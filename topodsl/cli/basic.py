"""``show`` and ``export``: read a file and say what it holds (``check`` is in :mod:`.check`)."""

from __future__ import annotations

import sys

import click

from ..report.summary import format_summary, summarize
from .common import emit_json, file_options, load_or_exit, main, settings_note, with_settings
from .interop import TOOL_FORMATS, export_for_tool


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@file_options
def show(file: str, as_json: bool, allow_import_outside: bool) -> None:
    """Summarise FILE: counts per kind, total memory by kind, links by type."""
    topo = load_or_exit(file, allow_import_outside)
    summary = summarize(topo)
    if as_json:
        emit_json(with_settings(summary.to_dict(), topo, after="source"))
    else:
        note = settings_note(topo)
        click.echo(format_summary(summary) + (f"\n{note}" if note else ""))


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "graphml", "dot", *TOOL_FORMATS]),
    default="json",
    show_default=True,
    help="json, graphml, dot: the whole graph; nccl: an NCCL_TOPO_FILE for one server; "
    "infragraph: an InfraGraph infrastructure; astra-sim: ASTRA-sim's network configuration.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.option("--server", metavar="SEL", help="For --format nccl: the server to write.")
@file_options
def export(
    file: str, fmt: str, output: str | None, server: str | None, allow_import_outside: bool
) -> None:
    """Export FILE's graph for other tools (SI units unless the format says otherwise).

    JSON keeps FILE's assertions (checking the exported file checks them); the other formats
    have no place for them and say so on stderr.
    """
    from ..io import dumps_json, write_graphml

    topo = load_or_exit(file, allow_import_outside)
    if note := settings_note(topo):
        click.echo(f"note: exported {note}", err=True)
    if fmt != "json" and topo.assertions:
        n = len({(s.node.span, s.node.text) for s in topo.assertions})
        click.echo(
            f"note: {fmt} has no place for assertions; the {n} assertion{'s' if n != 1 else ''} "
            f"of {file} are not exported (--format json keeps them)",
            err=True,
        )
    if fmt in TOOL_FORMATS:
        text = export_for_tool(topo, fmt, server)
    elif fmt == "json":
        text = dumps_json(topo)
    elif fmt == "graphml":
        import io

        buf = io.BytesIO()
        write_graphml(topo, buf)
        text = buf.getvalue().decode("utf-8")
    else:
        from ..render import to_dot

        # An export is the whole graph for other tools: every component, nothing folded.
        full = int(topo.depth.max()) + 1 if topo.num_nodes else 0
        text = to_dot(topo, depth=full, fold=False)
    if output:
        with open(output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
