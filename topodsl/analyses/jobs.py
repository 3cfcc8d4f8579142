"""What the workload analyses share: the ``workload`` parameter, finding the workload, figures
of yes/no answers and of brackets, and JSON keys for scripts.

Each workload analysis takes its inputs either from a declared workload (``workload = NAME``;
the only one when the design declares one and the analysis needs one) or as parameters of its
own; a parameter given explicitly wins over the workload's entry.
"""

from __future__ import annotations

import math
from typing import Any

from ..units import COUNT, Dim
from .figures import Figure, json_float
from .registry import WORD, Param
from .run import ArgumentError

__all__ = [
    "workload_param",
    "workload_of",
    "bracket",
    "yes_no",
    "script_keys",
    "explicit",
    "figures_from",
]


def workload_param(help: str = "A workload the design declares, by name.") -> Param:
    """The ``workload`` parameter (``--workload NAME``, ``workload = NAME``)."""
    return Param("workload", WORD, help, metavar="NAME", what="the workload of {analysis}()")


def workload_of(ctx, args, required: bool = False):
    """The workload named by ``args`` (or the only one, when ``required`` and none is named);
    ``None`` when none is named and it is not required."""
    from ..workload import WorkloadError, find_workload

    name = args.get("workload")
    if name is None and not required:
        return None
    try:
        return find_workload(ctx.topology, name)
    except WorkloadError as e:
        raise ArgumentError(e.message, e.hint, param="workload") from None


def explicit(args, name: str, workload_value: Any, what: str, needed: bool = True) -> Any:
    """A parameter's value: given explicitly, else the workload's, else an error naming both
    ways (``needed``) or ``None``."""
    if name in args:
        return args[name]
    if workload_value is not None or not needed:
        return workload_value
    raise ArgumentError(f"{args.analysis}() needs {what}",
                        f"give {name} = ..., or a workload that states it", param=name)  # fmt: skip


def figures_from(figure_map):
    """The registry's ``figures`` callable of an analysis whose figures come from its raw
    result alone (``figure_map(raw, notes)``): the notes are the defaults the call used."""

    def figures(ctx, args, raw):
        return figure_map(raw, args.notes)

    return figures


def bracket(lo: float, hi: float, dim: Dim, cut: tuple = (), notes: tuple = ()) -> Figure:
    """A figure between ``lo`` and ``hi``, in either order."""
    a, b = (lo, hi) if lo <= hi else (hi, lo)
    return Figure(float(a), float(b), dim, cut, notes)


def yes_no(lo_ok: bool, hi_ok: bool, notes: tuple = ()) -> Figure:
    """A yes/no answer as a figure: 1 when it holds for the whole bracket, 0 when it fails for
    all of it, the interval [0, 1] when the bracket straddles the answer."""
    return Figure(float(lo_ok and hi_ok), float(lo_ok or hi_ok), COUNT, (), notes)


def script_keys(result_figures, names: dict[str, str]) -> dict[str, Any]:
    """Plain top-level JSON values for scripts: ``{key: figure}`` for the figures named (their
    conservative end when a bracket: the upper end of a time or a need, the lower of a rate;
    yes/no figures as true/false)."""
    out: dict[str, Any] = {}
    for key, spec in names.items():
        name, _, kind = spec.partition(":")
        f = result_figures.get(name)
        if f is None:
            out[key] = None
            continue
        if kind == "bool":
            out[key] = True if f.lower >= 1 else (False if f.upper <= 0 else None)
        elif kind == "low":
            out[key] = _plain(f.lower)
        else:
            out[key] = _plain(f.upper)
    return out


def _plain(x: float) -> Any:
    return json_float(x) if not math.isnan(x) else None
