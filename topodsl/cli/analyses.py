"""``topodsl analyze NAME FILE``: one subcommand per registered analysis, built from its
declaration (:mod:`topodsl.analyses`): its options, its help, its text and JSON reports.

Nothing here knows any particular analysis; a new one appears here by being registered.
"""

from __future__ import annotations

from typing import Any

import click

from ..analyses import ANALYSES, Analysis, Param
from ..analyses.registry import CHOICE, FLAG, SELECTION
from ..errors import TopoError
from .common import (
    ROWS,
    analyze,
    common_option_params,
    emit_json,
    emit_jsonl,
    fail,
    file_options,
    load_or_exit,
    settings_note,
    with_settings,
)
from .progress import terminal_progress, wanted

__all__ = ["analysis_command"]

_JSON_HELP = "Print one JSON object instead of text."
_SCHEDULER_HELP = "Solve the cases on this Dask scheduler, tcp://HOST:PORT (topodsl[dask])."
_JSONL_HELP = (
    "Print JSON Lines instead of text: the --json document without its tables first, then "
    'one compact line per table row, {"table": NAME, ...}; streams large answers.'
)


def _from_text(p: Param):
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return p.from_text(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None

    return convert


def _option(p: Param) -> click.Option:
    """The click option of one parameter. An option left out gives ``None`` (not given)."""
    decls = [p.cli_flag, p.name]
    if p.flag_value is not None:
        return click.Option(decls, flag_value=p.flag_value, help=p.help)
    if p.kind == FLAG:
        return click.Option(decls, is_flag=True, help=p.help)
    if p.kind == CHOICE:
        shown = str(p.default) if p.default is not None else False
        return click.Option(decls, type=click.Choice(p.choices), help=p.help, show_default=shown)
    extra: dict[str, Any] = {}
    # A selection's default is the solver's too, so passing it is the same as leaving it out.
    if p.kind == SELECTION and p.default is not None and "(default" not in p.help:
        extra = {"default": p.default, "show_default": True}
    return click.Option(
        decls,
        metavar=p.metavar,
        required=p.required,
        callback=None if p.kind == SELECTION else _from_text(p),
        help=p.help,
        **extra,
    )


def analysis_command(a: Analysis, name: str | None = None) -> click.Command:
    """The ``analyze`` subcommand of ``a`` (under another ``name``: an alias, hidden)."""
    params: list[click.Parameter] = [click.Argument(["file"], type=click.Path(dir_okay=False))]
    params += [_option(p) if p.name != a.wraps else _wrapped_option(p) for p in a.params]
    params += [
        click.Option([o.flag, o.name], type=ROWS, default=o.default, show_default=True,
                     help=o.help)
        for o in a.report_options
    ]  # fmt: skip
    params += common_option_params(a.common)
    params.append(click.Option(["--json", "as_json"], is_flag=True, help=_JSON_HELP))
    extra: dict[str, Any] = {}
    if a.wraps is not None:
        # The wrapped analysis's own options come after ours, read against its declaration.
        params.append(
            click.Argument(
                ["wrapped"], nargs=-1, type=click.UNPROCESSED, metavar="[ITS OPTIONS]..."
            )
        )
        params.append(click.Option(["--jobs"], type=click.IntRange(min=1),
                                   help="Worker processes (default: every core)."))  # fmt: skip
        params.append(click.Option(["--scheduler"], metavar="ADDRESS", help=_SCHEDULER_HELP))
        extra = {"context_settings": {"ignore_unknown_options": True}}
    params.append(click.Option(["--jsonl", "as_lines"], is_flag=True, help=_JSONL_HELP))

    def callback(
        file: str, as_json: bool, as_lines: bool, allow_import_outside: bool, **values: Any
    ) -> None:
        report = {o.name: values.pop(o.name) for o in a.report_options}
        options = {n: v for n in a.common if (v := values.pop(n)) is not None}
        if as_json and as_lines:
            raise click.UsageError("--json and --jsonl are two forms of the same report: give one")
        jobs, scheduler = values.pop("jobs", None), values.pop("scheduler", None)
        if a.wraps is not None:
            values.update(_wrapped_values(a, values, values.pop("wrapped")))
        topo = load_or_exit(file, allow_import_outside)
        from ..analyses import run
        from ..executor import ExecutorError, executor_settings

        try:
            with (
                executor_settings(jobs, scheduler),
                terminal_progress(wanted(as_json or as_lines)) as progress,
            ):
                result = run(topo, a.name, options=options, progress=progress, **values)
        except TopoError as e:
            fail(e)
        except ExecutorError as e:
            hint = "pip install 'topodsl[dask]'" if "not installed" in str(e) else None
            fail(f"{e}" + (f"\n  hint: {hint}" if hint else ""))
        if as_lines:
            head, lines = result.to_lines(**report)
            emit_jsonl(with_settings(head, topo, after="parameters"), lines)
        elif as_json:
            emit_json(with_settings(result.to_dict(**report), topo, after="parameters"))
        else:
            note = settings_note(topo)
            click.echo((f"{note}\n" if note else "") + result.format(**report))

    first, _, rest = a.summary.partition("\n\n")
    command = click.Command(name or a.name, params=params, callback=callback, help=a.summary,
                            short_help=first, hidden=name is not None, **extra)  # fmt: skip
    return file_options(command)


def _wrapped_option(p: Param) -> click.Option:
    """The option naming the wrapped analysis: ``NAME`` or ``NAME:PARAM=VALUE,...``."""
    names = ", ".join(n for n in p.choices)
    return click.Option([p.cli_flag, p.name], required=p.required, metavar="NAME",
                        help=f"{p.help} Analyses: {names}.")  # fmt: skip


def _wrapped_values(a: Analysis, values: dict[str, Any], args: tuple[str, ...]) -> dict:
    """The wrapped analysis's parameters, from ``--analysis NAME:P=V,...`` and from the
    options after ours (``--from A --to B``), each read against its declaration."""
    from ..analyses import ArgumentError, get
    from ..diff import parse_analysis_spec

    spec = values[a.wraps]
    try:
        name, params = parse_analysis_spec(spec)
        inner = get(name)
    except ArgumentError as e:
        raise click.BadParameter(e.message, param_hint="--" + a.wraps) from None
    if name not in a.param(a.wraps).choices:
        raise click.BadParameter(f"{name} cannot be run under {a.name}", param_hint="--analysis")
    out: dict[str, Any] = {a.wraps: name}
    out.update(params)
    i = 0
    while i < len(args):
        flag, eq, text = args[i].partition("=")
        p = inner.param(flag) if flag.startswith("--") else None
        if p is None:
            hint = ", ".join(q.cli_flag for q in inner.params) or "none"
            raise click.UsageError(f"{name} takes no option {flag!r} (its options: {hint})")
        if p.kind == FLAG and not eq:
            out[p.name] = p.flag_value if p.flag_value is not None else True
            i += 1
            continue
        if p.flag_value is not None and not eq:
            out[p.name] = p.flag_value
            i += 1
            continue
        if not eq:
            if i + 1 >= len(args):
                raise click.UsageError(f"option {flag} of {name} needs a value")
            text = args[i + 1]
            i += 1
        i += 1
        try:
            out[p.name] = text if p.kind == SELECTION else p.from_text(text)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint=flag) from None
    return out


for _analysis in ANALYSES.values():
    analyze.add_command(analysis_command(_analysis))
    for _alias in _analysis.aliases:
        analyze.add_command(analysis_command(_analysis, _alias))
