"""``topodsl analyze reach``: what memory each compute element reaches, how far and how fast."""

from __future__ import annotations

import click

from ..errors import TopoError
from ..units import TIME, parse_quantity
from .common import analyze, emit_json, fail, file_options, forwarding_option, load_or_exit


def parse_latency(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """Click callback: ``"1 us"`` -> 1e-6 seconds (a usage error, exit 2, when malformed)."""
    if value is None:
        return None
    try:
        return parse_quantity(value, TIME)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@analyze.command("reach")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--from",
    "selector",
    metavar="SELECTOR",
    default="role:compute",
    show_default=True,
    help="Compute elements to start from (gpu, chiplet, cpu), e.g. 'pod.node0.gpu[*]'.",
)
@click.option(
    "--within",
    metavar="LATENCY",
    callback=parse_latency,
    help="Only memories at most this far, e.g. '1 us' (keeps large clusters fast).",
)
@click.option("--storage", is_flag=True, help="Also list SSDs and HDDs.")
@click.option(
    "--write",
    is_flag=True,
    help="Bandwidth from the element to the memory (default: reading, memory to element).",
)
@click.option(
    "--rows",
    "max_rows",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Memories listed per element in the text report (nearest first).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@forwarding_option
@file_options
def reach_command(
    file: str,
    selector: str,
    within: float | None,
    storage: bool,
    write: bool,
    max_rows: int,
    as_json: bool,
    forwarding: str,
    allow_import_outside: bool,
) -> None:
    """Memory reach in FILE: for each element, every memory it reaches.

    Per memory: latency (s; links plus the latency of every component entered, the memory's
    access latency included), bandwidth (B/s, max flow inside the smallest component holding
    both), capacity (bytes), hops and tier (local, same-package, peer, host, cxl, storage,
    remote). Per tier: the bandwidth to all of it at once.
    """
    from ..report.reach import format_reach, reach_to_dict
    from ..solvers.reach import memory_reach

    topo = load_or_exit(file, allow_import_outside)
    try:
        result = memory_reach(
            topo,
            selector,
            within=within,
            storage=storage,
            direction="write" if write else "read",
            forwarding=forwarding,
        )
    except TopoError as e:
        fail(e)
    if as_json:
        emit_json(reach_to_dict(result))
    else:
        click.echo(format_reach(result, max_rows=max_rows))
