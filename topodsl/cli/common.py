"""What every command shares: the click groups, loading with friendly errors, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from .. import __version__
from ..errors import TopoError
from ..topology import Topology

__all__ = [
    "main",
    "analyze",
    "load_or_exit",
    "fail",
    "emit_json",
    "file_options",
    "forwarding_option",
    "selection",
]

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(version=__version__, prog_name="topodsl")
def main() -> None:
    """topodsl: describe AI-cluster hardware topologies and analyse them.

    Bandwidths are printed per direction unless a column says otherwise.
    """


@main.group()
def analyze() -> None:
    """Run an analysis: bisection, reach, flow."""


def fail(error: TopoError | str) -> NoReturn:
    """Print diagnostics to stderr and exit with code 2 (bad input)."""
    text = error.render() if isinstance(error, TopoError) else f"error: {error}"
    click.echo(text, err=True)
    sys.exit(EXIT_INPUT)


def file_options(f):
    """Options every command that reads a topology file takes."""
    f = click.option(
        "--allow-import-outside",
        is_flag=True,
        help="Allow imports that leave the directory of the file named on the command line.",
    )(f)
    return f


def forwarding_option(f):
    """``--forwarding hardware|ideal``: which components traffic may pass through."""
    return click.option(
        "--forwarding",
        type=click.Choice(["hardware", "ideal"]),
        default="hardware",
        show_default=True,
        help="hardware: GPUs and packages do not relay, CXL switches route host<->device only "
        "(docs/solvers.md); ideal: every component but memory and storage forwards, the "
        "optimistic ceiling.",
    )(f)


def load_or_exit(path: str, allow_import_outside: bool = False) -> Topology:
    """Load ``path`` or exit 2 with its diagnostics; warnings go to stderr."""
    from ..api import load

    try:
        topo = load(path, allow_import_outside=allow_import_outside)
    except TopoError as e:
        fail(e)
    except RecursionError:
        fail(f"{path}: the file nests too deeply to elaborate")
    for w in topo.warnings:
        click.echo(w.render(), err=True)
    return topo


def selection(topology: Topology, selector: str, what: str = "selection"):
    """Rows matched by ``selector``, or exit 2 when it is malformed or matches nothing."""
    try:
        rows = topology.select(selector)
    except TopoError as e:
        fail(e)
    if len(rows) == 0:
        fail(f"the {what} {selector!r} matches no component")
    return rows


def emit_json(obj: Any) -> None:
    """Print ``obj`` as deterministic JSON (keys in the order built, floats as repr)."""
    click.echo(json.dumps(obj, indent=2, allow_nan=False, default=_default))


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot serialise {type(o).__name__}")
