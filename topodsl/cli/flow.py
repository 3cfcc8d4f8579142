"""``topodsl analyze flow`` and the storage scenarios: checkpoint, drain, ingest, spill."""

from __future__ import annotations

import click

from ..errors import TopoError
from ..solvers.dataflow import SSD_TIER
from ..units import SIZE, parse_quantity
from .common import analyze, emit_json, fail, file_options, forwarding_option, load_or_exit


def parse_size(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """Click callback: ``"2TB"`` -> 2e12 bytes (a usage error, exit 2, when malformed)."""
    if value is None:
        return None
    try:
        size = parse_quantity(value, SIZE)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if not size > 0:
        raise click.BadParameter(f"{value!r} is not a positive size")
    return size


_JSON = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of text."
)


@analyze.command("flow")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--from", "sources", metavar="SELECTOR", required=True, help="Where data starts.")
@click.option("--to", "sinks", metavar="SELECTOR", required=True, help="Where data goes.")
@click.option("--size", metavar="SIZE", callback=parse_size, help="Bytes to move, e.g. '2TB'.")
@click.option(
    "--links",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Busiest links to list (text and JSON); 0 lists none in text and all in JSON.",
)
@_JSON
@forwarding_option
@file_options
def flow_command(
    file: str,
    sources: str,
    sinks: str,
    size: float | None,
    links: int,
    as_json: bool,
    forwarding: str,
    allow_import_outside: bool,
) -> None:
    """Max flow in FILE from --from to --to (B/s), its bottleneck and the busiest links.

    Storage devices are capped by their read bandwidth as sources and their write bandwidth as
    sinks. The bottleneck is a minimum cut: links and devices, each with its share.
    """
    from ..report.flow import flow_to_dict, format_flow
    from ..solvers.dataflow import data_flow

    topo = load_or_exit(file, allow_import_outside)
    try:
        result = data_flow(topo, sources, sinks, size=size, forwarding=forwarding)
    except TopoError as e:
        fail(e)
    if as_json:
        emit_json(flow_to_dict(result, links=links or None))
    else:
        click.echo(format_flow(result, links=links))


def _run_scenario(file, allow_import_outside, as_json, call) -> None:
    from ..report.flow import format_scenario, scenario_to_dict

    topo = load_or_exit(file, allow_import_outside)
    try:
        result = call(topo)
    except TopoError as e:
        fail(e)
    if as_json:
        emit_json(scenario_to_dict(result))
    else:
        click.echo(format_scenario(result))


def _endpoints(default_from: str, default_to: str, what_from: str, what_to: str):
    def wrap(f):
        f = click.option(
            "--to",
            "sinks",
            metavar="SELECTOR",
            default=default_to,
            show_default=True,
            help=what_to,
        )(f)
        f = click.option(
            "--from",
            "sources",
            metavar="SELECTOR",
            default=default_from,
            show_default=True,
            help=what_from,
        )(f)
        return f

    return wrap


@analyze.command("checkpoint")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--size", metavar="SIZE", callback=parse_size, required=True, help="Checkpoint size, e.g. 2TB."
)
@_endpoints(
    "kind:gpu",
    SSD_TIER,
    "GPUs holding the state.",
    "The SSD tier written to: the SSDs of storage nodes (name node-local NVMe with kind:ssd).",
)
@_JSON
@forwarding_option
@file_options
def checkpoint_command(
    file, size, sources, sinks, as_json, forwarding, allow_import_outside
) -> None:
    """Time to write a checkpoint of --size (all GPUs together, equal shards) to the SSD tier."""
    from ..solvers.dataflow import checkpoint_write

    _run_scenario(
        file,
        allow_import_outside,
        as_json,
        lambda t: checkpoint_write(t, size, sources, sinks, forwarding=forwarding),
    )


@analyze.command("drain")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--size", metavar="SIZE", callback=parse_size, required=True, help="Data to move, e.g. 20TB."
)
@_endpoints(SSD_TIER, "kind:hdd", "The SSD tier holding it.", "The HDD tier it goes to.")
@_JSON
@forwarding_option
@file_options
def drain_command(file, size, sources, sinks, as_json, forwarding, allow_import_outside) -> None:
    """Time to drain --size spread evenly over the SSD tier to the HDD tier."""
    from ..solvers.dataflow import checkpoint_drain

    _run_scenario(
        file,
        allow_import_outside,
        as_json,
        lambda t: checkpoint_drain(t, size, sources, sinks, forwarding=forwarding),
    )


@analyze.command("ingest")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--size", metavar="SIZE", callback=parse_size, help="Data set read once by all GPUs (epoch)."
)
@_endpoints("role:storage", "kind:gpu", "Storage read from.", "GPUs that read.")
@_JSON
@forwarding_option
@file_options
def ingest_command(file, size, sources, sinks, as_json, forwarding, allow_import_outside) -> None:
    """Training-data ingest: the rate every GPU can read from storage at the same time."""
    from ..solvers.dataflow import ingest

    _run_scenario(
        file,
        allow_import_outside,
        as_json,
        lambda t: ingest(t, sources, sinks, size, forwarding=forwarding),
    )


@analyze.command("spill")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--size", metavar="SIZE", callback=parse_size, help="Total spilled by all GPUs.")
@_endpoints("kind:gpu", "kind:cxl_memory", "GPUs that spill.", "CXL memory spilled to.")
@_JSON
@forwarding_option
@file_options
def spill_command(file, size, sources, sinks, as_json, forwarding, allow_import_outside) -> None:
    """Spill to CXL memory and fetch back: per-GPU rate each way, times and bottlenecks."""
    from ..solvers.dataflow import cxl_spill

    _run_scenario(
        file,
        allow_import_outside,
        as_json,
        lambda t: cxl_spill(t, size, sources, sinks, forwarding=forwarding),
    )
