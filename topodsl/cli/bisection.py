"""``topodsl analyze bisection``: bisection bandwidth with its bounds and the limiting cut."""

from __future__ import annotations

import click

from ..errors import TopoError
from .common import (
    analyze,
    emit_json,
    fail,
    file_options,
    forwarding_option,
    load_or_exit,
    selection,
)


@analyze.command("bisection")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--endpoints",
    metavar="SELECTOR",
    default=None,
    help="Components to split in half (default: every gpu), e.g. 'kind:gpu' or 'pod.node*.gpu*'.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option(
    "--cut-rows",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Cut links to list in the text report.",
)
@forwarding_option
@file_options
def bisection_command(
    file: str,
    endpoints: str | None,
    as_json: bool,
    cut_rows: int,
    forwarding: str,
    allow_import_outside: bool,
) -> None:
    """Bisection bandwidth of FILE over the endpoints, per direction, in B/s.

    Reports a lower and an upper bound, 'exact' when they meet, the witness split and the
    links it cuts. The bidirectional figure (both directions added) is labelled as such.
    """
    from ..report.bisection import bisection_to_dict, format_bisection
    from ..solvers.bisection import bisection

    topo = load_or_exit(file, allow_import_outside)
    rows = selection(topo, endpoints, "endpoint selection") if endpoints else None
    try:
        result = bisection(topo, rows, forwarding=forwarding)
    except TopoError as e:
        fail(e)
    if as_json:
        emit_json(bisection_to_dict(result))
    else:
        click.echo(format_bisection(result, max_cut_rows=cut_rows))
