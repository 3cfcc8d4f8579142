"""Planning a sweep, running it on an executor, and assembling its table.

:func:`plan_sweep` checks everything that can be checked before a point runs (the parameters
are top-level constants of the file, each value has the constant's dimension, the analyses and
their parameters exist, the objectives name columns), classifies the parameters
(:func:`~topodsl.sweep.shapes.classify`) and lists the points. :func:`run_sweep` runs them on
an :class:`~topodsl.executor.Executor`, points of one shape one after the other so that each
worker reuses its shape, and :func:`assemble` builds the :class:`~topodsl.sweep.table.SweepTable`
in point order, whatever the order of completion.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, ElaborationError
from ..executor import Executor, Outcome, run_all
from ..units import COUNT, Dim
from .pareto import Objective, pareto_front, parse_objectives
from .point import PointResult, PointTask, SweepJob, evaluate_point
from .shapes import Dependence, Sources, classify, declarations, digest
from .spec import (
    AnalysisSpec,
    ParamSpec,
    Point,
    RangeValues,
    grid_points,
    parse_analyses,
    parse_param,
    sample_unit,
)
from .table import Column, SweepTable

__all__ = ["SweepPlan", "SweepStats", "plan_sweep", "run_sweep", "assemble"]

_STATUS_ORDER = ("pass", "unproven", "fail", "error")


@dataclass(frozen=True)
class ParamInfo:
    """A swept constant: its name, its dimension (``None`` for text) and how it was given.
    (The table holds the value each point used, which may depend on another swept constant.)"""

    name: str
    dim: Dim | None
    spec: ParamSpec


@dataclass(frozen=True)
class SweepPlan:
    """A sweep ready to run: the job every worker receives, the points, the tasks in the
    order they are submitted, and what the table will say of them."""

    job: SweepJob
    points: tuple[Point, ...]
    tasks: tuple[PointTask, ...]
    params: tuple[ParamInfo, ...]
    dependence: Dependence
    objectives: tuple[Objective, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def shapes(self) -> int:
        """How many distinct shapes the points have (each elaborated once per worker)."""
        keys = {t.shape_key for t in self.tasks if t.shape_key is not None}
        return len(keys) + sum(1 for t in self.tasks if t.shape_key is None)


@dataclass(frozen=True)
class SweepStats:
    """How a run went (for a report on stderr; never in the table): how the points'
    topologies were made, their CPU seconds, the failures."""

    points: int
    errors: int
    elaborated: int
    probed: int
    updated: int
    cpu: float


def _fail(message: str, hint: str | None = None) -> ElaborationError:
    return ElaborationError(Diagnostic(None, "error", message, hint))


def plan_sweep(
    file: str,
    params: Sequence[str],
    analyses: Sequence[str] = (),
    *,
    assertions: bool = True,
    extra_assertions: Sequence[str] = (),
    overrides: Sequence[str] = (),
    options: Mapping[str, str] | None = None,
    samples: int = 0,
    seed: int = 0,
    sampling: str = "lhs",
    pareto: str | None = None,
    allow_import_outside: bool = False,
    reuse: bool = True,
) -> SweepPlan:
    """Check a sweep and list its points.

    Parameters
    ----------
    file : the ``.topo`` file.
    params : ``NAME=V1,V2,...`` or ``NAME=LO..HI`` texts (see :mod:`topodsl.sweep.spec`).
    analyses : ``NAME[:PARAM=VALUE,...]`` texts.
    assertions : check the file's assertions at every point.
    extra_assertions : more assertions as text (``--assert``).
    overrides : ``-D`` texts applied to every point.
    options : common analysis options (``{"forwarding": "ideal"}``).
    samples, seed, sampling : how ranges are sampled (``"lhs"`` or ``"random"``).
    pareto : objectives, ``"COL:max,COL:min"`` (see :mod:`topodsl.sweep.pareto`).
    reuse : reuse shapes (:mod:`topodsl.sweep.shapes`); ``False`` elaborates every point.

    Raises
    ------
    TopoError
        Anything wrong with the sweep itself (as opposed to one of its points).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.topo").write_text("const N = 2\\nconst BW = 50 GB/s\\n"
    ...     "link l { bandwidth = BW }\\ncluster c { gpu g[N]; connect g[0] -- g[1] via l }")
    >>> plan = plan_sweep(str(d / "p.topo"), ["N=2,3", "BW=50GB/s,100GB/s"], ["bisection"])
    >>> len(plan.points), sorted(plan.dependence.value), plan.shapes
    (4, ['BW'], 2)
    """
    from ..analyses import ANALYSES
    from ..check import parse_assertion

    specs = [parse_param(p) for p in params]
    names = [s.name for s in specs]
    for n in names:
        if names.count(n) > 1:
            raise _fail(f"--param {n} is given twice", "list its values in one --param")
    fixed = {o.split("=", 1)[0].strip() for o in overrides}
    for n in names:
        if n in fixed:
            raise _fail(f"{n} is both swept (--param) and set (-D)", f"leave out -D {n}")
    if not specs:
        raise _fail("a sweep needs at least one --param NAME=V1,V2,...")
    path = os.path.abspath(file)
    if not path.lower().endswith(".topo"):
        raise _fail(f"{file}: a sweep sets constants of a .topo file")
    sources = Sources(path, file, allow_import_outside, tuple(overrides))
    base = declarations(sources, ())
    sources = Sources(
        path, file, allow_import_outside, tuple(overrides),
        tuple((name, digest(text)) for name, text in base.source_texts.items()),
    )  # fmt: skip
    infos, ranges = [], []
    for s in specs:
        info, rng = _param_info(sources, s)
        infos.append(info)
        if rng is not None:
            ranges.append(rng)
    points = grid_points(specs, ranges, samples, seed, sampling)
    specs_a: tuple[AnalysisSpec, ...] = parse_analyses(analyses)
    for k, text in enumerate(extra_assertions, start=1):
        parse_assertion(text, f"<assert {k}>")
    dependence = Dependence(frozenset(), frozenset(names))
    if reuse:
        from ..parser import parse

        modules = [parse(text, name) for name, text in base.source_texts.items()]
        dependence = classify(modules, names)
    tasks = _tasks(points, dependence)
    job = SweepJob(
        sources,
        specs_a,
        assertions,
        tuple(extra_assertions),
        dict(options or {}),
        dependence.probes if dependence.value else (),
    )
    objectives: tuple[Objective, ...] = ()
    if pareto:
        try:
            objectives = parse_objectives(pareto, _resolver(infos, specs_a, ANALYSES))
        except (ValueError, KeyError) as e:
            raise _fail(f"--pareto {pareto!r}: {e.args[0]}") from None
    meta = {
        "file": file,
        "overrides": {o.name: o.to_dict() for o in base.overrides},
        "parameters": [_param_meta(i) for i in infos],
        "samples": {"n": samples, "seed": seed, "method": sampling} if ranges else None,
        "analyses": [
            {"label": a.label, "analysis": a.name, "text": a.text, "parameters": _jsonable(a)}
            for a in specs_a
        ],
        "assertions": assertions,
        "extra_assertions": list(extra_assertions),
        "options": dict(options or {}),
        "pareto": [o.text for o in objectives],
    }
    return SweepPlan(job, tuple(points), tasks, tuple(infos), dependence, objectives, meta)


def _param_info(sources: Sources, s: ParamSpec) -> tuple[ParamInfo, RangeValues | None]:
    """Evaluate each value of ``s`` as the file would, alone (errors: an unknown name, a
    dimension); a range's ends give the range."""
    values: dict[str, Any] = {}
    dims = set()
    texts = list(s.values) if not s.is_range else [s.low, s.high]
    for text in texts:
        topo = declarations(sources, [f"{s.name}={text}"])
        if s.name in topo.constants:
            v, dim = topo.constants[s.name]
            values[text] = v
            dims.add(dim)
        else:
            setting = next(x for x in topo.overrides if x.name == s.name)
            values[text] = setting.value if isinstance(setting.value, str) else setting.text
            dims.add(None)
    dim = dims.pop() if len(dims) == 1 else None
    if not s.is_range:
        return ParamInfo(s.name, dim, s), None
    lo, hi = values[s.low], values[s.high]
    unit = sample_unit(dim) if dim is not None else None
    if unit is None or not isinstance(lo, float):
        raise _fail(
            f"--param {s.name}: only numbers with a unit such as B/s, B or s can be sampled"
        )
    if not lo < hi:
        raise _fail(f"--param {s.name}={s.low}..{s.high}: the range is empty")
    integral = dim == COUNT and float(lo).is_integer() and float(hi).is_integer()
    return ParamInfo(s.name, dim, s), RangeValues(s.name, lo, hi, unit, integral)


def _param_meta(info: ParamInfo) -> dict[str, Any]:
    from ..analyses.figures import unit_of

    out: dict[str, Any] = {"name": info.name, "unit": unit_of(info.dim) if info.dim else ""}
    if info.spec.is_range:
        out["range"] = [info.spec.low, info.spec.high]
    else:
        out["values"] = list(info.spec.values)
    return out


def _jsonable(a: AnalysisSpec) -> dict[str, Any]:
    from ..analyses import ANALYSES
    from ..analyses.result import describe_value

    decl = ANALYSES[a.name]
    return {p.name: describe_value(p, a.params[p.name]) for p in decl.params if p.name in a.params}


def _tasks(points: Sequence[Point], dep: Dependence) -> tuple[PointTask, ...]:
    """Tasks in submission order: points of one shape together (in order of first
    appearance), so that a worker finds the shape it just built."""
    if not dep.value:
        return tuple(PointTask(p) for p in points)
    keys = [tuple((n, v) for n, v in p.settings if n in dep.structure) for p in points]
    count: dict[tuple, int] = {}
    for k in keys:
        count[k] = count.get(k, 0) + 1
    first: dict[tuple, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    order = sorted(range(len(points)), key=lambda i: (first[keys[i]], i))
    return tuple(PointTask(points[i], keys[i] if count[keys[i]] > 1 else None) for i in order)


def _resolver(infos: Sequence[ParamInfo], analyses: Sequence[AnalysisSpec], registry):
    """``resolve(name, sense)`` for objectives: a parameter, ``LABEL``, ``LABEL.FIELD`` or a
    bound column ``LABEL.FIELD.lower``; a bound pair resolves to its guaranteed bound."""

    def resolve(name: str, sense: str) -> str:
        if any(i.name == name for i in infos):
            return name
        label, _, rest = name.partition(".")
        spec = next((a for a in analyses if a.label == label), None)
        if spec is None:
            known = [i.name for i in infos] + [a.label for a in analyses]
            raise KeyError(f"no column {name!r} (columns: {', '.join(known)}, LABEL.FIELD)")
        decl = registry[spec.name]
        fname, _, bound = rest.partition(".")
        fname = fname or decl.default_field or decl.fields[0].name
        f = decl.field(fname)
        if f is None:
            raise KeyError(
                f"{spec.label} has no figure {fname!r} "
                f"(figures: {', '.join(x.name for x in decl.fields)})"
            )
        if f.exact:
            return f"{spec.label}.{fname}"
        bound = bound or ("lower" if sense == "max" else "upper")
        return f"{spec.label}.{fname}.{bound}"

    return resolve


# -- running ------------------------------------------------------------------------------


def run_sweep(
    plan: SweepPlan,
    executor: Executor,
    on_done: Callable[[Outcome], None] | None = None,
) -> tuple[SweepTable, SweepStats]:
    """Run every point of ``plan`` on ``executor``; the table and how it went."""
    outcomes = run_all(executor, evaluate_point, plan.job, plan.tasks, on_done=on_done)
    results: dict[int, PointResult] = {}
    for task, o in zip(plan.tasks, outcomes, strict=True):
        i = task.point.index
        if o.ok:
            results[i] = o.value
        else:  # the task itself broke (a bug, a worker that died): said in the row
            results[i] = PointResult(i, error=f"internal error: {o.error}")
    ordered = [results[p.index] for p in plan.points]
    table = assemble(plan, ordered)
    stats = SweepStats(
        len(ordered),
        sum(1 for r in ordered if r.error is not None),
        sum(1 for r in ordered if r.how == "elaborated"),
        sum(1 for r in ordered if r.how == "probed"),
        sum(1 for r in ordered if r.how == "updated"),
        sum(r.cpu for r in ordered),
    )
    return table, stats


def assemble(plan: SweepPlan, results: Sequence[PointResult]) -> SweepTable:
    """The table of ``results`` (one per point, in point order)."""
    from ..analyses import ANALYSES
    from ..analyses.figures import unit_of

    columns: list[Column] = [Column("point", role="point")]
    for info in plan.params:
        columns.append(Column(info.name, unit_of(info.dim) if info.dim else "", "parameter"))
    figure_cols: list[tuple[Column, str, str, str | None]] = []  # column, label, field, bound
    for spec in plan.job.analyses:
        decl = ANALYSES[spec.name]
        present = {f for r in results for (lab, f, *_rest) in r.figures if lab == spec.label}
        wanted = decl.diff_fields or tuple(f.name for f in decl.fields)
        fields = [f for f in decl.fields if f.name in wanted and (f.name in present or not present)]
        fields.sort(key=lambda f: f.name != decl.default_field)
        for f in fields:
            unit = unit_of(f.dim) if f.dim != COUNT else ""
            name = f"{spec.label}.{f.name}"
            if f.exact:
                figure_cols.append(
                    (Column(name, unit, "figure", f.better), spec.label, f.name, None)
                )
            else:
                for bound in ("lower", "upper"):
                    col = Column(f"{name}.{bound}", unit, "figure", f.better, bound)
                    figure_cols.append((col, spec.label, f.name, bound))
    columns += [c for c, *_ in figure_cols]
    assert_names: list[str] = []
    for r in results:
        for a in r.assertions:
            if a[0] not in assert_names:
                assert_names.append(a[0])
    columns += [Column(f"assert.{n}", role="assertion") for n in assert_names]
    if assert_names:
        columns.append(Column("assertions", role="assertion"))
    rows = []
    for point, r in zip(plan.points, results, strict=True):
        row: list[Any] = [point.index]
        values = dict(r.values)
        row += [values.get(info.name) for info in plan.params]
        figs = {(lab, f): (lo, hi) for lab, f, lo, hi, _ in r.figures}
        for _col, label, fname, bound in figure_cols:
            got = figs.get((label, fname))
            if got is None:
                row.append(None)
            else:
                row.append(got[0] if bound in (None, "lower") else got[1])
        statuses = {a[0]: a[1] for a in r.assertions}
        row += [statuses.get(n) for n in assert_names]
        if assert_names:
            worst = max(statuses.values(), key=_STATUS_ORDER.index, default=None)
            row.append(worst)
        rows.append(row)
    table = SweepTable(tuple(columns), tuple(tuple(r) for r in rows), dict(plan.meta))
    if plan.objectives:
        k = [table.index(o.column) for o in plan.objectives]
        values = [
            [_num(row[j]) if r.error is None else float("nan") for j in k]
            for row, r in zip(table.rows, results, strict=True)
        ]
        front = pareto_front(values, [o.sense for o in plan.objectives])
        table = table.with_column(Column("pareto", role="pareto"), [bool(x) for x in front])
    status = ["ok" if r.error is None else "error" for r in results]
    table = table.with_column(Column("status", role="status"), status)
    return table.with_column(Column("error", role="status"), [r.error for r in results])


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else float("nan")


def chart_columns(plan: SweepPlan, text: str) -> tuple[str, str]:
    """The two columns ``--chart X,Y`` names (as objectives name them; a bound pair is drawn
    by its lower bound)."""
    from ..analyses import ANALYSES

    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError("write two columns, X,Y, e.g. --chart SPINES,bisection")
    resolve = _resolver(plan.params, plan.job.analyses, ANALYSES)
    return resolve(parts[0], "max"), resolve(parts[1], "max")
