"""``import`` (hwloc or NCCL/RCCL XML to ``.topo``), the ``export`` formats for other tools
(``nccl``, ``infragraph``, ``astra-sim``) and ``check --as-built``: thin wrappers over
:mod:`topodsl.interop`."""

from __future__ import annotations

import sys

import click

from ..errors import TopoError
from .common import EXIT_FAILED, EXIT_INPUT, EXIT_OK, fail, given_overrides, main

__all__ = ["import_xml", "export_for_tool", "as_built", "as_built_exit_code"]

#: ``export --format`` values this module writes.
TOOL_FORMATS = ("nccl", "infragraph", "astra-sim")


def _read_machine(path: str):
    from ..interop import MAX_XML_BYTES, read_machine

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_XML_BYTES + 1)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror or e}")
    if len(data) > MAX_XML_BYTES:
        fail(f"{path} is larger than {MAX_XML_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})")
    try:
        return read_machine(text, path)
    except TopoError as e:
        fail(e)


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.option(
    "--meta/--no-meta",
    default=True,
    show_default=True,
    help="Keep what the file says of each component (PCI bus ids, ranks, serials) as meta lines.",
)
def import_xml(file: str, output: str | None, meta: bool) -> None:
    """Write FILE (hwloc XML or an NCCL/RCCL topology, told apart by content) as a .topo file.

    Components that repeat become arrays; what the file does not say is filled from the table
    of known parts and marked assumed, or reported in a warning (on stderr). Every command
    also reads the .xml file directly, as exactly this text.
    """
    from ..api import loads
    from ..interop import machine_text

    machine = _read_machine(file)
    if not meta:
        for part in machine.parts:
            part.meta = {k: v for k, v in part.meta.items() if k == "assumed"}
    text = machine_text(machine)
    for w in machine.warnings:
        click.echo(w.render(), err=True)
    try:  # what is written must read back: a failure here is a bug, said plainly
        loads(text, file=output or f"{file} (imported)")
    except TopoError as e:
        fail(e)
    if output:
        with open(output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)


def export_for_tool(topo, fmt: str, server: str | None) -> str:
    """The text of ``export --format nccl|infragraph|astra-sim`` for ``topo``; exits 2 with
    the reason when the design cannot be written in that format."""
    from ..interop.export import ExportError, to_astra_sim, to_infragraph, to_nccl

    try:
        if fmt == "nccl":
            text, notes = to_nccl(topo, server)
        elif fmt == "infragraph":
            text, notes = to_infragraph(topo)
        else:
            text, notes = to_astra_sim(topo)
    except ExportError as e:
        fail(str(e))
    except TopoError as e:
        fail(e)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    return text


def as_built_exit_code(
    files, machine_path: str, server: str | None, allow_import_outside: bool, fmt: str
) -> int:
    """``check --as-built``: compare every design in ``files`` with the machine; the exit code
    (2 when a file cannot be read, else 1 when the machine falls short of a design)."""
    from ..api import load

    code = EXIT_OK
    for path in files:
        try:
            design = load(
                path, allow_import_outside=allow_import_outside, overrides=given_overrides()
            )
        except TopoError:
            return EXIT_INPUT  # already reported by check
        code = max(code, as_built(design, path, machine_path, server, fmt))
    return code


def as_built(design, design_path: str, machine_path: str, server: str | None, fmt: str) -> int:
    """Compare ``design`` with the machine described by ``machine_path``; print the findings;
    return the exit code (1 when the machine falls short of the design)."""
    from ..api import load
    from ..interop.asbuilt import compare_as_built, format_findings

    try:
        machine = load(machine_path)
    except TopoError as e:
        click.echo(e.render(), err=True)
        return EXIT_INPUT
    for w in machine.warnings:
        click.echo(w.render(), err=True)
    try:
        report = compare_as_built(design, machine, server=server)
    except TopoError as e:
        click.echo(e.render(), err=True)
        return EXIT_INPUT
    if fmt == "json":
        import json

        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(format_findings(report, design_path, machine_path))
    return EXIT_FAILED if report.short else EXIT_OK
