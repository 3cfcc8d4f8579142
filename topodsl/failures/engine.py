"""Failure analysis: any registered analysis under every combination of failures.

:func:`failure_analysis` asks one question of the registry (``bisection``, ``flow``,
``checkpoint``, ...) first of the healthy topology (the *baseline*), then under each *failure
case*: a set of at most ``k`` failure candidates (:mod:`.candidates`) failed together, applied
as a mask over the shared arrays (:mod:`.damage`). Cases are enumerated for ``k`` of 1 or 2,
and sampled (Monte Carlo, seeded) for larger ``k`` or when candidates fail with given
probabilities.

Three things keep the number of solves down, each proven (docs/failures.md):

* **pruning** by the baseline's load: an analysis that declares the loads its figures rest on
  (a max flow, the routed traffic) keeps its figures when what fails carries none of that load,
  so those cases take the baseline's figures without a solve; a pair whose second member
  carries nothing in the first member's solution takes that solution's figures;
* **symmetry**: cases that a verified automorphism maps onto each other have the same figures
  (:mod:`.symmetry`), so one is solved per class;
* **workers**: the remaining cases are solved on every core (:mod:`.executor`).

What a failed component means for the question's selections is a choice (``lost``): with
``"drop"`` (the default) endpoints that failed or were cut off from the rest are dropped from the
selection before the analysis runs (the job carries on without them); with ``"keep"`` they stay
in it and send and receive nothing, so a figure every endpoint takes part in (a uniform rate)
goes to 0. See :func:`topodsl.failures.damage.lost_endpoints` for "cut off".
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..analyses import ANALYSES, ArgumentError, Context, Figure, get, run
from ..analyses.registry import SELECTION, Analysis
from ..errors import SolverError
from ..executor import map_cases
from .candidates import CandidateError, CandidateSet, select_candidates
from .damage import NetworkCache, component_labels, damaged, lost_endpoints

__all__ = [
    "FailureResult",
    "CaseValue",
    "SizeStats",
    "MonteCarlo",
    "failure_analysis",
    "MAX_CASES",
    "LOST_MODES",
]

#: Most failure cases enumerated; beyond, Monte Carlo sampling is asked for.
MAX_CASES = 2_000_000
#: What becomes of an endpoint a failure removes or cuts off (see the module docstring).
LOST_MODES = ("drop", "keep")
# Samples of a Monte Carlo run when none is given.
DEFAULT_SAMPLES = 1000
_Z95 = 1.959963984540054


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseValue:
    """The figure under one failure case, or one class of cases with the same figure.

    ``failed`` are candidate indices (for a class: its first case in enumeration order),
    ``names`` their ids; ``lower``/``upper`` bound the figure; ``count`` is how many cases of
    the enumeration (or samples) it stands for; ``how`` is ``"solved"``, ``"pruned"`` (nothing
    that failed carried the baseline's load), ``"superset"`` (the last member carried nothing in
    the solution without it) or ``"empty"`` (a selection lost every endpoint); ``lost`` counts
    the endpoints dropped.
    """

    failed: tuple[int, ...]
    names: tuple[str, ...]
    lower: float
    upper: float
    count: int = 1
    how: str = "solved"
    cut: tuple = ()
    notes: tuple[str, ...] = ()
    lost: int = 0


@dataclass(frozen=True)
class SizeStats:
    """The distribution of the figure over the cases of one size (``k`` candidates failed):
    ``worst``, ``p1`` and ``p50`` as ``(lower, upper)`` pairs, worst first (for a figure where
    higher is better, ``p1`` is the 1st percentile: 1% of the cases are at or below it)."""

    k: int
    cases: int
    worst: tuple[float, float]
    p1: tuple[float, float]
    p50: tuple[float, float]
    best: tuple[float, float]


@dataclass(frozen=True)
class MonteCarlo:
    """What a Monte Carlo run estimates, with 95% confidence intervals (``(low, high)``)."""

    samples: int
    seed: int
    weighted: bool
    p1_ci: tuple[float, float]
    p50_ci: tuple[float, float]
    mean: float
    mean_ci: tuple[float, float]
    degraded: float
    degraded_ci: tuple[float, float]
    failures_per_sample: float


@dataclass(frozen=True)
class FailureResult:
    """An analysis under failures.

    Attributes
    ----------
    analysis, field : the question and the figure followed (``bisection``, ``value``).
    parameters : the question's parameters, JSON-ready.
    dim : the figure's dimension; ``worst_is`` ``"lowest"`` or ``"highest"``.
    candidates : the failure candidates; ``k`` the most failed at once; ``lost`` the endpoint
        rule; ``mode`` ``"enumerate"`` or ``"monte carlo"``.
    baseline : the figure of the healthy topology (with its cut).
    worst : the worst case (its figure, what failed, its witness cut); the figure ``worst``
        reports is ``worst_range``: the worst over all cases lies in it.
    distribution : per size of case.
    impact : single failures ranked worst first (classes of symmetric ones grouped).
    cases, distinct, solved, pruned : enumerated (or sampled) cases, classes after symmetry,
        solves run, classes pruned without a solve (``superset`` of them by the solution of
        a single failure rather than the baseline's).
    monte_carlo : the estimates of a Monte Carlo run.
    """

    analysis: str
    field: str
    parameters: Mapping[str, Any]
    dim: Any
    worst_is: str
    candidates: CandidateSet
    k: int
    lost: str
    mode: str
    baseline: Figure
    worst: CaseValue
    worst_range: tuple[float, float]
    percentiles: Mapping[str, tuple[float, float]]
    distribution: tuple[SizeStats, ...]
    impact: tuple[CaseValue, ...]
    cases: int
    distinct: int
    solved: int
    pruned: int
    symmetric: bool
    superset: int = 0
    monte_carlo: MonteCarlo | None = None
    seconds: float = 0.0
    case_list: tuple[tuple[int, ...], ...] | None = field(default=None, repr=False)
    case_values: np.ndarray | None = field(default=None, repr=False)
    question: Any = field(default=None, repr=False, compare=False)

    def solve(self, failed: Sequence[int]) -> CaseValue:
        """The figure, cut and notes of one case (candidate indices), solved on its own."""
        case = tuple(sorted(int(i) for i in failed))
        out = _solve(self.question, self.candidates.union(case))
        return CaseValue(
            case,
            tuple(self.candidates.names(case)),
            out.lower,
            out.upper,
            1,
            "empty" if out.empty else "solved",
            out.cut,
            out.notes,
            out.lost_count,
        )


# -- the question, as the workers see it ---------------------------------------------------------


@dataclass
class _Question:
    """Everything a worker needs to solve a case; sent to each worker once."""

    topology: Any
    cache: NetworkCache
    analysis: str
    field: str
    params: dict[str, Any]
    selections: tuple[str, ...]
    min_rows: dict[str, int]
    options: dict[str, Any]
    scope: str | None
    lost: str
    worst_is: str
    labels: np.ndarray | None
    want_loads: bool


@dataclass(frozen=True)
class _Outcome:
    lower: float
    upper: float
    cut: tuple
    notes: tuple[str, ...]
    lost: bytes = b""  # packed mask over the union of the selections' rows
    lost_count: int = 0
    links: np.ndarray | None = None  # loaded base links (packed bits)
    nodes: np.ndarray | None = None  # loaded components (packed bits)
    empty: bool = False


def _solve(q: _Question, case: tuple[tuple[int, ...], tuple[int, ...]]) -> _Outcome:
    """The figure under one failure case (component rows, link rows)."""
    comps, links = case
    d = damaged(q.topology, links, comps, cache=q.cache)
    params = dict(q.params)
    lost_mask, lost_n = b"", 0
    if q.lost == "drop" and q.selections:
        union = np.unique(np.concatenate([params[s] for s in q.selections]))
        lost = lost_endpoints(d, union, q.labels)
        lost_mask, lost_n = np.packbits(lost).tobytes(), int(lost.sum())
        if lost_n:
            gone = union[lost]
            for s in q.selections:
                rows = params[s]
                params[s] = rows[~np.isin(rows, gone)]
                if len(params[s]) < q.min_rows.get(s, 1):
                    lo = 0.0 if q.worst_is == "lowest" else math.inf
                    note = f"no {s} left: the failure cut off {lost_n} endpoint(s)"
                    return _Outcome(lo, lo, (), (note,), lost_mask, lost_n, empty=True)
    r = run(Context(d), q.analysis, scope=q.scope, options=q.options, **params)
    f = r.figures.get(q.field)
    if f is None:
        raise SolverError(f"{q.analysis}() has no figure {q.field!r} under this failure")
    loaded_links = loaded_nodes = None
    if q.want_loads:
        loaded_links, loaded_nodes = _loaded(d, ANALYSES[q.analysis], r.detail)
    return _Outcome(
        float(f.lower),
        float(f.upper),
        tuple(f.cut),
        tuple(f.notes),
        lost_mask,
        lost_n,
        loaded_links,
        loaded_nodes,
    )


def _loaded(topology, a: Analysis, raw) -> tuple[np.ndarray, np.ndarray]:
    """Packed masks of the original links and the components that carry load in ``raw``."""
    base = getattr(topology, "base", None) or topology
    kept = getattr(topology, "kept", None)
    links = np.zeros(base.num_links, dtype=bool)
    nodes = np.zeros(base.num_nodes, dtype=bool)
    for link_load, device_load in a.loads(raw):
        ll = np.asarray(link_load)
        busy = ll.reshape(len(ll), -1).max(axis=1) > 0 if len(ll) else np.zeros(0, bool)
        rows = np.flatnonzero(busy)
        links[kept[rows] if kept is not None else rows] = True
        if device_load is not None:
            nodes |= np.asarray(device_load) > 0
    return np.packbits(links), np.packbits(nodes)


# -- the analysis --------------------------------------------------------------------------------


def failure_analysis(
    target: Any,
    analysis: str,
    params: Mapping[str, Any] | None = None,
    *,
    field: str | None = None,
    options: Mapping[str, Any] | None = None,
    scope: str | None = None,
    links: str | None = None,
    devices: Any = None,
    risks: str | None = None,
    k: int = 1,
    samples: int = 0,
    seed: int = 0,
    probability: float | None = None,
    lost: str = "drop",
    keep_cases: bool = False,
    jobs: int | None = None,
) -> FailureResult:
    """Run analysis ``analysis`` with ``params`` under every combination of up to ``k``
    failures of the candidates ``links``, ``devices`` and ``risks`` (see
    :func:`~topodsl.failures.candidates.select_candidates`).

    Parameters
    ----------
    target : a Topology or a :class:`~topodsl.analyses.Context`.
    analysis, params, options, scope : the question, as for :func:`~topodsl.analyses.run`.
    field : the figure followed (default: the analysis's default figure).
    k : the most candidates failed at once; every combination of 1 to ``k`` is enumerated
        when ``samples`` is 0 and ``k`` is 1 or 2 (any ``k`` with ``keep_cases``).
    samples : Monte Carlo samples (default: enumerate for ``k <= 2``, else 1000): each sample
        fails ``k`` candidates drawn uniformly, or, when ``probability`` is given or every
        candidate has a declared probability (risk groups), each candidate independently.
    seed : the Monte Carlo seed (the same seed gives the same samples).
    probability : the chance a link or device candidate fails (weighted Monte Carlo).
    lost : ``"drop"`` or ``"keep"`` (see the module docstring).
    keep_cases : keep every case's figure (:attr:`FailureResult.case_values`), for assertions.
    jobs : worker processes (default: every core).

    Returns
    -------
    FailureResult

    Raises
    ------
    ArgumentError, CandidateError
        A meaningless question: an analysis of failures of failures, no candidate, too many
        cases to enumerate.

    Examples
    --------
    Two paths of 10 and 5 GB/s: losing the 10 GB/s one leaves 5.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> for name in ("s", "a", "b", "t"):
    ...     _ = b.add_node(name, "switch")
    >>> for x, y, bw in [("s", "a", 10e9), ("a", "t", 10e9), ("s", "b", 5e9), ("b", "t", 5e9)]:
    ...     _ = b.add_link(x, y, bw, type="l")
    >>> r = failure_analysis(b.build(), "flow", {"sources": "s", "sinks": "t"}, links="type:l")
    >>> r.baseline.lower / 1e9, r.worst.lower / 1e9, r.worst.names
    (15.0, 5.0, ('s -- a',))
    >>> r.cases, r.solved
    (4, 4)
    """
    started = time.perf_counter()
    ctx = target if isinstance(target, Context) else Context(target)
    t = ctx.topology
    a = get(analysis)
    if a.wraps is not None:
        raise ArgumentError(f"{a.name}() cannot be run under failures itself")
    if lost not in LOST_MODES:
        raise ArgumentError(f"lost must be one of {', '.join(LOST_MODES)}, got {lost!r}")
    k = _whole(k, "k", 1)
    samples = _whole(samples, "samples", 0)
    seed = _whole(seed, "seed", 0)
    options = dict(options or {})
    resolved, selections, min_rows = _resolve(ctx, a, dict(params or {}), scope)
    baseline = run(ctx, a.name, scope=scope, options=options, **resolved)
    field = _field(a, baseline, field)
    fdecl = a.field(field)
    inside = ctx.subtree([t.index(scope)]) if scope else None
    cands = select_candidates(
        t, links, devices, risks, probability=probability, inside=inside, scope=scope or ""
    )
    declared = not np.isnan(cands.probability).any()
    weighted = probability is not None or (samples > 0 and declared)
    sampled = samples > 0 or weighted or (k > 2 and not keep_cases)
    plan = _Plan(
        analysis=a,
        field=field,
        worst_is="highest" if fdecl is not None and fdecl.better == "lower" else "lowest",
        baseline=baseline,
        candidates=cands,
        k=k,
        lost=lost,
        mode="monte carlo" if sampled else "enumerate",
        samples=(samples or DEFAULT_SAMPLES) if sampled else 0,
        seed=seed,
        weighted=weighted,
    )
    if not weighted and k > len(cands):
        raise CandidateError(f"k = {k} is more than the {len(cands)} failure candidates")
    prunable = a.loads is not None and (a.load_fields is None or field in a.load_fields)
    q = _Question(
        t,
        NetworkCache(t),
        a.name,
        field,
        resolved,
        selections,
        min_rows,
        options,
        scope,
        lost,
        plan.worst_is,
        component_labels(t) if lost == "drop" and selections else None,
        prunable and k >= 2 and plan.mode == "enumerate",
    )
    sym = None
    if a.is_symmetric({p.name: resolved.get(p.name, p.default) for p in a.params}):
        from .symmetry import Symmetry

        scope_row = t.index(scope) if scope else None
        sym = Symmetry(t, [resolved[s] for s in selections], scope_row)
    case_list = _cases(plan)
    solver = _Cases(q, cands, sym, baseline, baseline.figures[field], prunable)
    classes, case_class = solver.run(case_list, jobs)
    result = _result(plan, case_list, classes, case_class, solver)
    if keep_cases:
        lo = np.array([c.outcome.lower for c in classes])[case_class]
        hi = np.array([c.outcome.upper for c in classes])[case_class]
        result = replace(result, case_list=tuple(case_list), case_values=np.column_stack([lo, hi]))
    return replace(result, seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class _Plan:
    """The checked question and how its cases are chosen."""

    analysis: Analysis
    field: str
    worst_is: str
    baseline: Any
    candidates: CandidateSet
    k: int
    lost: str
    mode: str
    samples: int
    seed: int
    weighted: bool

    @property
    def figure(self) -> Figure:
        """The baseline's figure followed."""
        return self.baseline.figures[self.field]


def _cases(plan: _Plan) -> list[tuple[int, ...]]:
    """Every combination of 1 to k candidates, or the Monte Carlo samples."""
    n, k = len(plan.candidates), plan.k
    if plan.mode == "monte carlo":
        return _sample(plan.candidates, k, plan.samples, plan.seed, plan.weighted)
    total = sum(math.comb(n, j) for j in range(1, k + 1))
    if total > MAX_CASES:
        raise CandidateError(
            f"{total:,} failure cases of up to {k} of {n:,} candidates are too many to "
            f"enumerate (at most {MAX_CASES:,}); sample them with samples = N"
        )
    return list(
        itertools.chain.from_iterable(itertools.combinations(range(n), j) for j in range(1, k + 1))
    )


def _whole(x: Any, name: str, least: int) -> int:
    v = float(x)
    if not v.is_integer() or v < least:
        raise ArgumentError(f"{name} must be a whole number of at least {least}, got {x!r}")
    return int(v)


def _resolve(ctx: Context, a: Analysis, params: dict, scope: str | None):
    """The question's parameters with every selection as rows (given ones, and omitted ones
    with a declared default): the rows the failure rule and the symmetry check act on."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        p = a.param(key)
        if p is None:
            names = ", ".join(q.spelling for q in a.params) or "none"
            raise ArgumentError(f"{a.name}() takes no parameter {key!r}", f"parameters: {names}")
        out[p.name] = value
    selections, min_rows = [], {}
    for p in a.params:
        if p.kind != SELECTION:
            continue
        value = out.get(p.name, p.default)
        if value is None:
            continue
        if isinstance(value, str):
            rows = ctx.rows(value, p.what or "selection", allow_empty=p.allow_empty)
            if scope:
                rows = ctx.in_scope(rows, scope)
        else:
            rows = ctx.rows(value)
        out[p.name] = rows
        selections.append(p.name)
        min_rows[p.name] = p.min_rows
    return out, tuple(selections), min_rows


def _field(a: Analysis, baseline, field: str | None) -> str:
    if field is None:
        field = a.default_field or (
            next(iter(baseline.figures)) if len(baseline.figures) == 1 else None
        )
        if field is None:
            raise ArgumentError(
                f"{a.name}() has several figures: name one with field = NAME",
                "figures: " + ", ".join(baseline.figures),
            )
    if field not in baseline.figures:
        raise ArgumentError(
            f"{a.name}() has no figure {field!r} here", "figures: " + ", ".join(baseline.figures)
        )
    return field


def _sample(cands: CandidateSet, k: int, samples: int, seed: int, weighted: bool) -> list:
    rng = np.random.default_rng(seed)
    n = len(cands)
    out: list[tuple[int, ...]] = []
    if not weighted:
        for _ in range(samples):
            out.append(tuple(sorted(rng.choice(n, size=k, replace=False).tolist())))
        return out
    p = cands.probability
    values, group = np.unique(p, return_inverse=True)
    members = [np.flatnonzero(group == g) for g in range(len(values))]
    for _ in range(samples):
        case: list[int] = []
        for g, pv in enumerate(values):
            m = rng.binomial(len(members[g]), pv)
            if m:
                case.extend(members[g][rng.choice(len(members[g]), size=m, replace=False)])
        out.append(tuple(sorted(int(i) for i in case)))
    return out


# -- solving the cases ---------------------------------------------------------------------------


@dataclass
class _Class:
    """One class of cases with the same figure (one case without symmetry)."""

    key: tuple[tuple[int, ...], tuple[int, ...]]
    first: tuple[int, ...]
    count: int = 0
    outcome: _Outcome | None = None
    how: str = "solved"


class _Cases:
    """Groups cases into classes, prunes what is proven, solves the rest on the workers."""

    def __init__(self, q: _Question, cands: CandidateSet, sym, baseline, base_fig, prunable):
        from .symmetry import _extents, _incidence

        self.q, self.cands, self.sym = q, cands, sym
        t = self.t = q.topology
        self.size, self.contiguous = _extents(t)
        self.incident = _incidence(t)
        self.base = _Outcome(
            float(base_fig.lower), float(base_fig.upper), tuple(base_fig.cut), tuple(base_fig.notes)
        )
        self.base_loads = None
        if prunable:
            links, nodes = _loaded(t, ANALYSES[q.analysis], baseline.detail)
            self.base_loads = (
                np.unpackbits(links, count=t.num_links).astype(bool),
                np.unpackbits(nodes, count=t.num_nodes).astype(bool),
            )
        self._bridges: np.ndarray | None = None
        self.solved = 0
        self.pruned = 0
        self.superset = 0
        self.singles: dict[int, _Class] = {}

    def key(self, case: tuple[int, ...]):
        elements = self.cands.union(case)
        return self.sym.canonical(*elements) if self.sym is not None else elements

    def run(self, case_list: Sequence[tuple[int, ...]], jobs: int | None):
        classes: dict[tuple, _Class] = {}
        case_class = np.empty(len(case_list), dtype=np.int64)
        order: list[_Class] = []
        index: dict[tuple, int] = {}
        for c, case in enumerate(case_list):
            key = self.key(case)
            cls = classes.get(key)
            if cls is None:
                cls = classes[key] = _Class(key, case)
                index[key] = len(order)
                order.append(cls)
            cls.count += 1
            case_class[c] = index[key]
            if len(case) == 1:
                self.singles.setdefault(case[0], cls)
        for size in sorted({len(c.first) for c in order}):
            todo = []
            for cls in order:
                if len(cls.first) != size:
                    continue
                if not cls.first:
                    cls.outcome, cls.how = self.base, "baseline"
                    continue
                got = self._proven(cls)
                if got is not None:
                    cls.outcome, cls.how = got
                    self.pruned += 1
                    self.superset += got[1] == "superset"
                else:
                    todo.append(cls)
            outcomes = map_cases(_solve, self.q, [c.key for c in todo], jobs=jobs)
            self.solved += len(todo)
            for cls, out in zip(todo, outcomes, strict=True):
                cls.outcome = out
                cls.how = "empty" if out.empty else "solved"
        return order, case_class

    # -- what is proven without a solve -------------------------------------------------------

    def _proven(self, cls: _Class) -> tuple[_Outcome, str] | None:
        if self.base_loads is None and not (len(cls.first) == 2 and self.q.want_loads):
            return None
        # Both prunings rest on a failure only taking capacity away. One that changes the path
        # rules (splits a fabric domain, unshares a CXL domain) can raise a figure: solved.
        if not self._keeps_rules(self.cands.union(cls.first)):
            return None
        if self.base_loads is not None:
            for elements in dict.fromkeys([cls.key, self.cands.union(cls.first)]):
                if not self._carries(elements, *self.base_loads) and not self._loses(elements):
                    return self.base, "pruned"
        if len(cls.first) == 2 and self.q.want_loads:
            for i, j in (cls.first, cls.first[::-1]):
                single = self.singles.get(i)
                own = self.cands.union((i,))
                out = single.outcome if single is not None else None
                if out is None or out.links is None or single.key != own or out.empty:
                    continue
                if not self._keeps_rules(own):
                    continue
                loads = (
                    np.unpackbits(out.links, count=self.t.num_links).astype(bool),
                    np.unpackbits(out.nodes, count=self.t.num_nodes).astype(bool),
                )
                if self._carries(self.cands.union((j,)), *loads):
                    continue
                if self.q.lost == "drop" and self._lost_mask(self.cands.union(cls.first)) != (
                    out.lost or self._lost_mask(own)
                ):
                    continue
                return out, "superset"
        return None

    def _keeps_rules(self, elements) -> bool:
        """Whether failing ``elements`` leaves every path rule as it was (see
        :meth:`~topodsl.failures.damage.DamagedTopology.keeps_rules`)."""
        comps, links = elements
        d = damaged(self.t, links, comps, cache=self.q.cache)
        ends = None  # every row, unless the selections name every endpoint of the question
        params = [p for p in ANALYSES[self.q.analysis].params if p.kind == SELECTION]
        if params and all(p.name in self.q.selections for p in params):
            ends = np.concatenate([self.q.params[s] for s in self.q.selections])
        return d.keeps_rules(self.q.options.get("forwarding", "hardware"), ends)

    def _carries(self, elements, loaded_links: np.ndarray, loaded_nodes: np.ndarray) -> bool:
        """Whether the failure of ``elements`` takes away any of these loads."""
        comps, links = elements
        if any(loaded_links[e] for e in links):
            return True
        ptr, inc = self.incident
        for r in comps:
            rows = self._subtree(r)
            if loaded_nodes[rows].any():
                return True
            at = np.concatenate([inc[ptr[x] : ptr[x + 1]] for x in rows.tolist()])
            if loaded_links[at].any():
                return True
        return False

    def _subtree(self, r: int) -> np.ndarray:
        if self.contiguous[r]:
            return np.arange(r, r + self.size[r])
        from ..analyses.common import subtree_mask

        return np.flatnonzero(subtree_mask(self.t, [r]))

    def _loses(self, elements) -> bool:
        """Whether the failure of ``elements`` drops an endpoint (``lost="drop"``)."""
        if self.q.lost != "drop" or not self.q.selections:
            return False
        comps, links = elements
        if not comps and len(links) == 1 and not self._is_bridge(links[0]):
            return False  # removing a link on a cycle disconnects nothing
        mask = self._lost_mask(elements)
        return any(mask)

    def _lost_mask(self, elements) -> bytes:
        comps, links = elements
        d = damaged(self.t, links, comps, cache=self.q.cache)
        union = np.unique(np.concatenate([self.q.params[s] for s in self.q.selections]))
        return np.packbits(lost_endpoints(d, union, self.q.labels)).tobytes()

    def _is_bridge(self, e: int) -> bool:
        if self._bridges is None:
            self._bridges = _bridges(self.t)
        return bool(self._bridges[e])


def _bridges(t) -> np.ndarray:
    """Per link: whether removing it alone disconnects its two ends (a bridge: no parallel
    twin, no other path). Tarjan's low-link on an iterative depth-first search."""
    L = t.links
    n = t.num_nodes
    m = len(L.src)
    src, dst = L.src.astype(np.int64), L.dst.astype(np.int64)
    ends = np.concatenate([src, dst])
    other = np.concatenate([dst, src]).tolist()
    edge = np.concatenate([np.arange(m), np.arange(m)])
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n), out=ptr[1:])
    adj_to = [other[i] for i in order.tolist()]
    adj_edge = edge[order].tolist()
    ptr_l = ptr.tolist()
    disc = [-1] * n
    low = [0] * n
    bridge = [False] * m
    clock = 0
    for root in range(n):
        if disc[root] >= 0 or ptr_l[root] == ptr_l[root + 1]:
            continue
        disc[root] = low[root] = clock
        clock += 1
        # Frames: (vertex, the link it was entered by, the next adjacency position).
        stack = [[root, -1, ptr_l[root]]]
        while stack:
            frame = stack[-1]
            v, via, i = frame
            if i < ptr_l[v + 1]:
                frame[2] = i + 1
                e = adj_edge[i]
                if e == via:
                    continue  # the link we came by (a parallel twin is another link)
                w = adj_to[i]
                if w == v:
                    continue
                if disc[w] < 0:
                    disc[w] = low[w] = clock
                    clock += 1
                    stack.append([w, e, ptr_l[w]])
                elif disc[w] < low[v]:
                    low[v] = disc[w]
            else:
                stack.pop()
                if stack:
                    u = stack[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                    if low[v] > disc[u]:
                        bridge[via] = True
    return np.array(bridge, dtype=bool)


# -- the result ----------------------------------------------------------------------------------

#: Single failures kept in :attr:`FailureResult.impact`, worst first.
IMPACT_ROWS = 100


def _rank(values: np.ndarray, weights: np.ndarray, p: float, worst_is: str) -> float:
    """The nearest-rank ``p`` quantile of ``values`` counted from the worst end, with weights."""
    order = np.argsort(values if worst_is == "lowest" else -values, kind="stable")
    cum = np.cumsum(weights[order])
    at = int(np.searchsorted(cum, p * cum[-1] - 1e-9 * cum[-1], side="left"))
    return float(values[order[min(at, len(order) - 1)]])


def _stats(lo, hi, w, worst_is: str) -> dict[str, tuple[float, float]]:
    pick = np.min if worst_is == "lowest" else np.max
    best = np.max if worst_is == "lowest" else np.min
    return {
        "worst": (float(pick(lo)), float(pick(hi))),
        "p1": (_rank(lo, w, 0.01, worst_is), _rank(hi, w, 0.01, worst_is)),
        "p50": (_rank(lo, w, 0.5, worst_is), _rank(hi, w, 0.5, worst_is)),
        "best": (float(best(lo)), float(best(hi))),
    }


def _result(
    plan: _Plan, case_list, classes: list[_Class], case_class: np.ndarray, solver: _Cases
) -> FailureResult:
    worst_is = plan.worst_is
    lo = np.array([c.outcome.lower for c in classes])[case_class]
    hi = np.array([c.outcome.upper for c in classes])[case_class]
    sizes = np.array([len(c) for c in case_list], dtype=np.int64)
    ones = np.ones(len(case_list))
    # The worst case: the worst guaranteed bound; ties go to the smaller, then the first case.
    at = int(np.argmin(lo) if worst_is == "lowest" else np.argmax(hi))
    worst = _case_value(solver, classes[case_class[at]], case_list[at], exact_cut=True)
    overall = _stats(lo, hi, ones, worst_is)
    distribution = []
    for size in sorted(set(sizes.tolist())):
        sel = sizes == size
        st = _stats(lo[sel], hi[sel], ones[sel], worst_is)
        distribution.append(
            SizeStats(size, int(sel.sum()), st["worst"], st["p1"], st["p50"], st["best"])
        )
    mc = None
    if plan.mode == "monte carlo":
        mc = _monte_carlo(lo, hi, sizes, plan)
    return FailureResult(
        analysis=plan.analysis.name,
        field=plan.field,
        parameters=dict(plan.baseline.parameters),
        dim=plan.figure.dim,
        worst_is=worst_is,
        candidates=plan.candidates,
        k=plan.k,
        lost=plan.lost,
        mode=plan.mode,
        baseline=plan.figure,
        worst=worst,
        worst_range=overall["worst"],
        percentiles={"p1": overall["p1"], "p50": overall["p50"]},
        distribution=tuple(distribution),
        impact=_impact(solver, classes, case_list, case_class, worst_is),
        cases=len(case_list),
        distinct=len(classes),
        solved=solver.solved,
        pruned=solver.pruned,
        symmetric=solver.sym is not None,
        superset=solver.superset,
        monte_carlo=mc,
        question=solver.q,
    )


def _case_value(solver: _Cases, cls: _Class, case: tuple[int, ...], exact_cut: bool) -> CaseValue:
    out = cls.outcome
    cut, notes = out.cut, out.notes
    own = solver.cands.union(case)
    if exact_cut and cls.how == "solved" and own != cls.key:
        # Solved as a symmetric image: solve this case itself for a cut in its own names.
        mine = _solve(solver.q, own)
        cut, notes = mine.cut, mine.notes
    return CaseValue(
        tuple(case),
        tuple(solver.cands.names(case)),
        out.lower,
        out.upper,
        cls.count,
        cls.how,
        cut,
        notes,
        out.lost_count,
    )


def _impact(solver, classes, case_list, case_class, worst_is) -> tuple[CaseValue, ...]:
    """Single failures, one row per class, worst first; ties by name."""
    rows = []
    seen = set()
    for c, case in enumerate(case_list):
        if len(case) != 1 or case_class[c] in seen:
            continue
        seen.add(case_class[c])
        rows.append((classes[case_class[c]], case))
    sign = 1.0 if worst_is == "lowest" else -1.0
    rows.sort(key=lambda r: (sign * r[0].outcome.lower, sign * r[0].outcome.upper, r[1]))
    return tuple(
        _case_value(solver, cls, case, exact_cut=False) for cls, case in rows[:IMPACT_ROWS]
    )


def _monte_carlo(lo, hi, sizes, plan: _Plan) -> MonteCarlo:
    from scipy.stats import binom

    base_fig, worst_is = plan.figure, plan.worst_is
    n = len(lo)
    ordered_lo = np.sort(lo if worst_is == "lowest" else -lo)
    ordered_hi = np.sort(hi if worst_is == "lowest" else -hi)
    sign = 1.0 if worst_is == "lowest" else -1.0

    def ci(p: float) -> tuple[float, float]:
        # Distribution-free: the p-quantile lies between these order statistics with 95%.
        a = int(binom.ppf(0.025, n, p))
        b = int(binom.ppf(0.975, n, p)) + 1
        a, b = max(a, 1), min(b, n)
        low = sign * ordered_lo[a - 1]
        high = sign * ordered_hi[b - 1]
        return (min(low, high), max(low, high))

    if np.all(np.isfinite(lo)):
        mean = float(lo.mean())
        sd = float(lo.std(ddof=1)) if n > 1 else 0.0
        half = _Z95 * sd / math.sqrt(n)
    else:  # a case where nothing flows makes a time infinite: so is its mean
        mean, half = (math.inf if worst_is == "highest" else float(lo.mean())), 0.0
    worse = hi < base_fig.lower if worst_is == "lowest" else lo > base_fig.upper
    x = int(worse.sum())
    return MonteCarlo(
        samples=n,
        seed=plan.seed,
        weighted=plan.weighted,
        p1_ci=ci(0.01),
        p50_ci=ci(0.5),
        mean=mean,
        mean_ci=(mean - half, mean + half),
        degraded=x / n,
        degraded_ci=_wilson(x, n),
        failures_per_sample=float(sizes.mean()) if n else 0.0,
    )


def _wilson(x: int, n: int) -> tuple[float, float]:
    """Wilson's 95% interval for a proportion of ``x`` in ``n``."""
    if n == 0:
        return (0.0, 1.0)
    p = x / n
    z2 = _Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))
