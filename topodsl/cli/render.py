"""``render``: draw a topology (``render diagram``, the default) or its memory reach
(``render reach``).

``topodsl render FILE -o OUT`` is short for ``topodsl render diagram FILE -o OUT``.
"""

from __future__ import annotations

import click

from ..errors import TopoError
from .common import fail, file_options, load_or_exit, main, settings_note


class _DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``diagram``."""

    default_command = "diagram"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@main.group(cls=_DefaultGroup)
def render() -> None:
    """Draw FILE as a diagram (the default) or chart its memory reach.

    \b
      topodsl render FILE -o OUT.svg [--depth N] [--focus PATH] [--highlight WHAT]
      topodsl render reach FILE -o reach.svg [--from SELECTOR]
    """


@render.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write; the suffix picks the format: .svg, .png, .pdf (Graphviz), .dot, "
    "or .html (the interactive view, one self-contained file).",
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    help="Draw components at this containment depth (0 = top level) as single boxes. "
    "Default: the deepest depth that stays readable (80 shapes, 60 edges).",
)
@click.option("--focus", metavar="PATH", help="Draw this component (a dotted id) in detail.")
@click.option(
    "--highlight",
    metavar="WHAT",
    help="Draw a limiting cut in red: 'bisection' or 'flow:SOURCES->SINKS' (selectors).",
)
@click.option(
    "--no-fold",
    is_flag=True,
    help="Never fold arrays into one box: neither alike devices nor identical parts.",
)
@file_options
def diagram(
    file: str,
    output: str,
    depth: int | None,
    focus: str | None,
    highlight: str | None,
    no_fold: bool,
    allow_import_outside: bool,
) -> None:
    """Draw FILE's topology: nested containers, kinds by shape and colour, links labelled
    with type, lanes and bandwidth per direction."""
    from ..render import render as draw

    topo = load_or_exit(file, allow_import_outside)
    try:
        view = draw(topo, output, depth=depth, focus=focus, highlight=highlight, fold=not no_fold)
    except TopoError as e:
        fail(e)
    for note in view.notes:
        click.echo(f"warning: Graphviz: {note}", err=True)
    note = settings_note(topo)
    if output.lower().endswith(".html"):
        shown = f", {note}" if note else ""
        click.echo(f"{output}: interactive view of {topo.num_nodes:,} components{shown}")
        return
    what = "full detail" if view.depth is None else f"depth {view.depth}"
    if view.auto and view.focus is None:
        what += " (automatic)"
    click.echo(
        f"{output}: {what}, {len(view.boxes)} boxes, {len(view.clusters)} containers, "
        f"{len(view.edges)} edges" + (f", {note}" if note else "")
    )


@render.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write; the suffix picks the format: .svg, .png or .pdf.",
)
@click.option(
    "--from",
    "sources",
    metavar="SELECTOR",
    help="Compute elements to chart (default: the first GPU, or its first compute chiplet).",
)
@click.option("--storage", is_flag=True, help="Also count SSDs and HDDs as reachable capacity.")
@file_options
def reach(
    file: str, output: str, sources: str | None, storage: bool, allow_import_outside: bool
) -> None:
    """Chart capacity reachable against latency (the memory-reach staircase), tiers labelled.

    Needs matplotlib: pip install 'topodsl[charts]'.
    """
    from ..render.chart import render_reach

    topo = load_or_exit(file, allow_import_outside)
    try:
        stairs = render_reach(topo, output, sources=sources, storage=storage)
    except TopoError as e:
        fail(e)
    n = sum(len(s.elements) for s in stairs)
    note = settings_note(topo)
    click.echo(
        f"{output}: {len(stairs)} distinct staircase(s) for {n} element(s)"
        + (f", {note}" if note else "")
    )
