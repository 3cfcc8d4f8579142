"""One point of a sweep, evaluated where a worker runs it: the task of the executor.

:func:`evaluate_point` is ``fn(shared, item)`` of :mod:`topodsl.executor`: the shared
:class:`SweepJob` (the design's sources, the analyses, the options) reaches each worker once;
each :class:`PointTask` is a point's settings and the key of its shape. It returns a
:class:`PointResult` of plain numbers, small to send back. A point whose file does not
elaborate, or whose analysis is refused, comes back with its error (the diagnostics' text, with
the file names the user wrote) and the figures it had; it never stops the others.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import TopoError
from ..units import Dim
from .shapes import Sources, topology_for
from .spec import AnalysisSpec, Point

__all__ = ["SweepJob", "PointTask", "PointResult", "evaluate_point", "error_text"]


@dataclass(frozen=True)
class SweepJob:
    """What every point needs, sent to each worker once.

    ``probes`` are the constants the value parameters reach (empty: every point is elaborated
    in full); ``assertions`` whether the file's assertions are checked; ``extra_assertions``
    more of them as text (``--assert``); ``options`` the common analysis options.
    """

    sources: Sources
    analyses: tuple[AnalysisSpec, ...] = ()
    assertions: bool = True
    extra_assertions: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    probes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PointTask:
    """One point and the key of its shape (``None``: elaborate it in full)."""

    point: Point
    shape_key: tuple | None = None


@dataclass(frozen=True)
class PointResult:
    """What one point gave.

    ``values`` are the swept constants' values as elaborated at this point (SI base units, or
    text; a value may use another swept constant); ``figures`` are ``(label, field, lower,
    upper, dim)`` in SI base units; ``assertions``
    ``(name, status, lower, upper, dim)`` (no figure for one that could not be evaluated);
    ``error`` the first problem, as one line of text, or ``None``. ``how`` says whether the
    topology was ``"elaborated"``, ``"probed"`` or ``"updated"`` (see
    :func:`~topodsl.sweep.shapes.topology_for`) and ``cpu`` the CPU seconds the point took:
    neither reaches the table, whose bytes must not depend on where a point ran.
    """

    index: int
    values: tuple[tuple[str, Any], ...] = ()
    figures: tuple[tuple[str, str, float, float, Dim], ...] = ()
    assertions: tuple[tuple[str, str, float | None, float | None, Dim | None], ...] = ()
    error: str | None = None
    how: str = "elaborated"
    cpu: float = 0.0


def error_text(error: TopoError, names: Mapping[str, str]) -> str:
    """The first diagnostic of ``error`` on one line, files named as the user wrote them:
    ``'design.topo:12:5: error: ... (hint: ...)'``, ``' (and 2 more)'`` when there are more.

    >>> from topodsl.errors import Diagnostic, Span
    >>> e = TopoError([Diagnostic(Span("/abs/d.topo", 3, 5, 3, 9), "error", "bad", "fix it")])
    >>> error_text(e, {"/abs/d.topo": "d.topo"})
    'd.topo:3:5: error: bad (hint: fix it)'
    """
    if not error.diagnostics:
        return str(error)
    d = error.diagnostics[0]
    where = ""
    if d.span is not None:
        where = f"{names.get(d.span.file, d.span.file)}:{d.span.line}:{d.span.col}: "
    text = f"{where}{d.severity}: {d.message}"
    if d.hint:
        text += f" (hint: {d.hint})"
    if len(error.diagnostics) > 1:
        text += f" (and {len(error.diagnostics) - 1} more)"
    return text


def evaluate_point(job: SweepJob, task: PointTask) -> PointResult:
    """Elaborate (or update) the point's topology, run every analysis and the assertions."""
    from ..analyses import Context, run
    from ..check import check

    start = time.thread_time()
    point = task.point
    names = job.sources.display_names()
    figures: list[tuple[str, str, float, float, Dim]] = []
    asserts: list[tuple[str, str, float | None, float | None, Dim | None]] = []
    how = "elaborated"
    error: str | None = None
    values: tuple[tuple[str, Any], ...] = ()
    try:
        try:
            topo, how = topology_for(job.sources, point.overrides, task.shape_key, job.probes)
        except TopoError:
            values = _values(job, point)
            raise
        values = _settings(topo.overrides, point)
        ctx = Context(topo)
        for spec in job.analyses:
            try:
                r = run(ctx, spec.name, options=_options(spec.name, job.options), **spec.params)
            except TopoError as e:
                raise TopoError([_labelled(d, spec.label) for d in e.diagnostics]) from None
            for name, f in r.figures.items():
                figures.append((spec.label, name, float(f.lower), float(f.upper), f.dim))
        if job.assertions or job.extra_assertions:
            report = check(
                ctx,
                job.extra_assertions,
                raise_errors=False,
                options=dict(job.options),
            )
            results = report.results
            if not job.assertions:  # only the --assert ones, which come last
                results = results[len(results) - len(job.extra_assertions) :]
            for a in results:
                m = a.measured
                figure = (m.lower, m.upper, m.dim) if m is not None else (None, None, None)
                asserts.append((a.name, a.status, *figure))
                if a.status == "error" and error is None:
                    error = error_text(TopoError(list(a.diagnostics)), names)
    except TopoError as e:
        error = error_text(e, names)
    except RecursionError:
        error = f"{job.sources.display}: the file nests too deeply to elaborate"
    return PointResult(
        point.index, values, tuple(figures), tuple(asserts), error, how,
        time.thread_time() - start,
    )  # fmt: skip


def _settings(settings, point: Point) -> tuple[tuple[str, Any], ...]:
    by_name = {s.name: s.value for s in settings}
    return tuple((n, by_name[n]) for n, _ in point.settings if n in by_name)


def _values(job: SweepJob, point: Point) -> tuple[tuple[str, Any], ...]:
    """The point's values from its declarations alone (when the whole file does not
    elaborate); none when even those fail."""
    from .shapes import declarations

    try:
        return _settings(declarations(job.sources, point.overrides).overrides, point)
    except TopoError:
        return ()


def _options(name: str, options: Mapping[str, str]) -> dict[str, Any]:
    from ..analyses import ANALYSES

    return {k: v for k, v in options.items() if k in ANALYSES[name].common}


def _labelled(d, label: str):
    from ..errors import Diagnostic

    return Diagnostic(d.span, d.severity, f"{label}: {d.message}", d.hint, d.source_line)
