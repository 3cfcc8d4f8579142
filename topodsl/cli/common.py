"""What every command shares: the click groups, loading with friendly errors, JSON output.

Exit codes: 0 success, 1 a check or assertion failed, 2 the input could not be checked (a
diagnostic on stderr). Nothing else, and never a traceback: an exception nobody expected is a
bug in topodsl, reported as one line that says so, with exit code 2, so a CI gate fails
without claiming that the design missed its figures (see docs/security.md).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .. import __version__
from ..errors import TopoError

if TYPE_CHECKING:
    from ..topology import Topology

__all__ = [
    "main",
    "analyze",
    "load_or_exit",
    "fail",
    "emit_json",
    "file_options",
    "common_options",
    "common_option_params",
    "given_options",
    "ROWS",
    "given_overrides",
    "settings_note",
    "with_settings",
]

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


class _GuardedGroup(click.Group):
    """The top-level group: whatever a command raises ends in a message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except TopoError as e:
            fail(e)
        except RecursionError:
            fail("the input nests too deeply to analyse")
        except MemoryError:
            fail(
                "out of memory: this input needs more memory than the machine has free; "
                "the limits in docs/security.md bound elaboration, not every analysis"
            )
        except BrokenPipeError:
            _quiet_stdout()
            sys.exit(EXIT_INPUT)
        except Exception as e:  # noqa: BLE001 - the promise is a message, never a traceback
            internal_error(e)


def internal_error(e: BaseException) -> NoReturn:
    """Report an unexpected exception as a bug, in one paragraph, and exit 2.

    ``TOPODSL_TRACEBACK=1`` prints the traceback as well, for whoever fixes it.
    """
    import traceback  # only an internal error needs it

    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if f"{os.sep}topodsl{os.sep}" in f.filename] or frames
    where = ""
    if ours:
        f = ours[-1]
        where = f" (at {f.filename.rsplit(os.sep + 'topodsl' + os.sep, 1)[-1]}:{f.lineno})"
    message = " ".join(str(e).split())[:300]
    click.echo(
        f"error: internal error: {type(e).__name__}: {message}{where}\n"
        "  hint: this is a bug in topodsl, not a fault of the input; please report it with the "
        "input file (docs/security.md, 'Reporting a problem'); TOPODSL_TRACEBACK=1 shows the "
        "traceback",
        err=True,
    )
    if os.environ.get("TOPODSL_TRACEBACK"):
        traceback.print_exception(e, file=sys.stderr)
    sys.exit(EXIT_INPUT)


def _quiet_stdout() -> None:
    """After the reader of stdout went away: point stdout at /dev/null so that Python's final
    flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(
    cls=_GuardedGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(version=__version__, prog_name="topodsl")
def main() -> None:
    """topodsl: describe AI-cluster hardware topologies and analyse them.

    Bandwidths are printed per direction unless a column says otherwise.
    """


@main.group()
def analyze() -> None:
    """Run an analysis of FILE: one subcommand per analysis, each with --json.

    The same analyses are the functions of assertions (topodsl check); see docs/ci.md.
    """


class _Rows(click.ParamType):
    """A number of report rows, or ``all`` (given to the report as ``None``)."""

    name = "rows"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "N|all"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if value is None or isinstance(value, int):
            return value
        if str(value).strip().lower() == "all":
            return None
        try:
            n = int(value)
        except ValueError:
            self.fail(f"{value!r} is not a number of rows or 'all'", param, ctx)
        if n < 0:
            self.fail(f"{value!r} is negative; give a number of rows or 'all'", param, ctx)
        return n


#: The type of every option that caps a report's rows (``--cut-rows``, ``--links``).
ROWS = _Rows()


def fail(error: TopoError | str) -> NoReturn:
    """Print diagnostics to stderr and exit with code 2 (bad input)."""
    text = error.render() if isinstance(error, TopoError) else f"error: {error}"
    click.echo(text, err=True)
    sys.exit(EXIT_INPUT)


def file_options(f):
    """Options every command that reads a topology file takes.

    ``-D NAME=VALUE`` is read when the command line is (a value that does not parse exits 2
    there) and kept on the click context; :func:`load_or_exit` applies it, so a command needs no
    parameter for it.
    """
    f = click.option(
        "--allow-import-outside",
        is_flag=True,
        help="Allow reading files outside the directory of the file named on the command line: "
        "imports that leave it, and a named file that is a symbolic link leading elsewhere.",
    )(f)
    f = click.option(
        "-D",
        "--set",
        "overrides",
        multiple=True,
        metavar="NAME=VALUE",
        expose_value=False,
        callback=_keep_overrides,
        help="Set a top-level constant of the file (repeatable), with units: -D NIC=800Gb/s. "
        "Checked like the file's own value (an unknown name or a wrong dimension exits 2).",
    )(f)
    return f


def _keep_overrides(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    from ..params import parse_overrides

    try:
        ctx.meta[_OVERRIDES] = parse_overrides(value)
    except TopoError as e:
        fail(e)


_OVERRIDES = "topodsl.overrides"


def given_overrides() -> tuple:
    """The ``-D`` overrides of the command being run (parsed), or ``()``."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_OVERRIDES, ()) if ctx is not None else ()


def common_option_params(names) -> list[click.Option]:
    """The click options of the analyses' common options (``--forwarding``) named."""
    from ..analyses import COMMON_OPTIONS

    return [
        click.Option([c.flag, c.name], type=click.Choice(c.choices), help=c.help)
        for c in (COMMON_OPTIONS[n] for n in names)
    ]


def common_options(f):
    """Every common option any analysis takes, for a command that runs many analyses
    (``check``, ``diff``): each reaches every analysis that takes it. Collect them with
    :func:`given_options`."""
    from ..analyses import ANALYSES

    names = dict.fromkeys(n for a in ANALYSES.values() for n in a.common)
    f.__click_params__ = getattr(f, "__click_params__", []) + common_option_params(names)
    return f


def given_options(values: dict[str, Any]) -> dict[str, str]:
    """The common options a user gave, from a command's keyword arguments."""
    from ..analyses import COMMON_OPTIONS

    return {k: v for k, v in values.items() if k in COMMON_OPTIONS and v is not None}


def load_or_exit(path: str, allow_import_outside: bool = False) -> Topology:
    """Load ``path`` or exit 2 with its diagnostics; warnings go to stderr."""
    from ..api import load

    try:
        topo = load(path, allow_import_outside=allow_import_outside, overrides=given_overrides())
    except TopoError as e:
        fail(e)
    except RecursionError:
        fail(f"{path}: the file nests too deeply to elaborate")
    for w in topo.warnings:
        click.echo(w.render(), err=True)
    return topo


def settings_note(topology: Topology) -> str | None:
    """``'with NIC = 100 GB/s, SPINES = 8 (-D)'`` for a text report, when ``-D`` set any."""
    from ..params import format_settings

    if not topology.overrides:
        return None
    return f"with {format_settings(topology.overrides)} (-D)"


def with_settings(doc: dict[str, Any], topology: Topology, after: str) -> dict[str, Any]:
    """``doc`` with an ``overrides`` key (placed after key ``after``) when ``-D`` set any."""
    from ..params import settings_to_dict

    if not topology.overrides:
        return doc
    out: dict[str, Any] = {}
    for k, v in doc.items():
        out[k] = v
        if k == after:
            out["overrides"] = settings_to_dict(topology.overrides)
    out.setdefault("overrides", settings_to_dict(topology.overrides))
    return out


def emit_jsonl(head: dict[str, Any], lines: Iterable[str]) -> None:
    """Print ``head`` as one compact JSON line, then each piece of ``lines`` as it comes
    (JSON Lines: a large answer streams instead of being built whole)."""
    from ..analyses.result import json_line

    out = click.get_text_stream("stdout")
    out.write(json_line(head))
    for piece in lines:
        out.write(piece)
    out.flush()


def emit_json(obj: Any) -> None:
    """Print ``obj`` as deterministic JSON (keys in the order built, floats as repr)."""
    click.echo(json.dumps(obj, indent=2, allow_nan=False, default=_default))


def _default(o: Any) -> Any:
    from ..analyses.result import json_default

    return json_default(o)
