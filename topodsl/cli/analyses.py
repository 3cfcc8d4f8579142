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
    fail,
    file_options,
    load_or_exit,
    settings_note,
    with_settings,
)
from .progress import terminal_progress, wanted

__all__ = ["analysis_command"]

_JSON_HELP = "Print one JSON object instead of text."


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
    params += [_option(p) for p in a.params]
    params += [
        click.Option([o.flag, o.name], type=ROWS, default=o.default, show_default=True,
                     help=o.help)
        for o in a.report_options
    ]  # fmt: skip
    params += common_option_params(a.common)
    params.append(click.Option(["--json", "as_json"], is_flag=True, help=_JSON_HELP))

    def callback(file: str, as_json: bool, allow_import_outside: bool, **values: Any) -> None:
        report = {o.name: values.pop(o.name) for o in a.report_options}
        options = {n: v for n in a.common if (v := values.pop(n)) is not None}
        topo = load_or_exit(file, allow_import_outside)
        from ..analyses import run

        try:
            with terminal_progress(wanted(as_json)) as progress:
                result = run(topo, a.name, options=options, progress=progress, **values)
        except TopoError as e:
            fail(e)
        if as_json:
            emit_json(with_settings(result.to_dict(**report), topo, after="parameters"))
        else:
            note = settings_note(topo)
            click.echo((f"{note}\n" if note else "") + result.format(**report))

    first, _, rest = a.summary.partition("\n\n")
    command = click.Command(name or a.name, params=params, callback=callback, help=a.summary,
                            short_help=first, hidden=name is not None)  # fmt: skip
    return file_options(command)


for _analysis in ANALYSES.values():
    analyze.add_command(analysis_command(_analysis))
    for _alias in _analysis.aliases:
        analyze.add_command(analysis_command(_analysis, _alias))
