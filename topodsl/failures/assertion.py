"""Assertions under failures: a promise that must hold in every failure case.

::

    assert bisection(kind:gpu) >= 300 GB/s under failures(links = type:uplink, k = 1)
    assert ckpt: checkpoint(2 TB) <= 60 s under failures(devices = kind:switch, lost = keep)

The condition takes the parameters of :func:`~topodsl.failures.engine.failure_analysis` as
keywords (``links``, ``devices``, ``risks``, ``k``, ``lost``, ``field``). Every analysis call of
the assertion is run under every combination of up to ``k`` failures (enumerated: sampling can
refute a promise but never prove it, so ``samples`` and ``probability`` are refused here), and
the whole comparison is evaluated case by case with each call's figure in that case. The
assertion passes when it is proven in every case (and in the healthy topology), fails when it
is refuted in one (the report names what failed), and is unproven otherwise. The measured
figure shown is that of the case that decides the status.

>>> from topodsl import loads
>>> from topodsl.check import check
>>> t = loads('''link l { bandwidth = 50 GB/s }
... cluster c { gpu g[2]; switch s[2]; connect g[*] -- s[*] via l }''')
>>> r = check(t, ["flow(c.g[0] -> c.g[1]) >= 60 GB/s under failures(devices = c.s[*])"])
>>> r.results[0].status, r.results[0].measured.format(), r.results[0].notes[0]
('fail', '50 GB/s', 'worst case: c.s0 failed')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import ast
from ..analyses import ANALYSES
from ..analyses.figures import Measure
from ..evaluate import Quantity, Record
from ..units import BANDWIDTH
from .engine import failure_analysis

if TYPE_CHECKING:
    from ..check import _Evaluator

__all__ = ["under_failures"]

# Keywords of the condition that only sampling uses: an assertion is enumerated.
_SAMPLING = ("samples", "seed", "probability")
_RANK = {"pass": 0, "unproven": 1, "fail": 2}


def under_failures(ev: _Evaluator, node: ast.Assert, scope: str) -> tuple:
    """Evaluate ``node`` (with its ``under failures(...)``) in component ``scope``; returns what
    :meth:`topodsl.check._Evaluator.one` does."""
    from ..check import _MIRROR, compare

    cond = node.under
    if cond.func != "failures":
        raise ev.error(
            cond.span,
            f"unknown condition {cond.func!r}",
            "assertions hold under failures(links = ..., devices = ..., k = K)",
        )
    spec, options, _ = ev.calls.bind(ANALYSES["failures"], cond, scope)
    for x in cond.args:
        name = getattr(x, "name", None)
        if name in _SAMPLING or name == "analysis":
            why = (
                "sampling can refute a promise but not prove it; the cases are enumerated"
                if name != "analysis"
                else "the analyses are the assertion's own calls"
            )
            raise ev.error(x.span, f"an assertion under failures takes no '{name}'", why)
    calls = list(_calls(node.left)) + list(_calls(node.right))
    if not calls:
        raise ev.error(
            node.span,
            "nothing here can fail: the assertion calls no analysis",
            "compare an analysis, e.g. bisection(kind:gpu) >= 300 GB/s under ...",
        )
    runs = []
    for call, field in calls:
        a = ANALYSES[call.func]
        if a.wraps is not None:
            raise ev.error(call.span, f"{call.func}(...) is a condition, not a figure")
        params, opts, _ = ev.calls.bind(a, call, scope)
        common = {k: v for k, v in ev.calls.options.items() if k in a.common}
        result = failure_analysis(
            ev.calls.ctx,
            a.name,
            params,
            field=field,
            options=common | options | opts,
            scope=scope,
            links=spec.get("links"),
            devices=spec.get("devices"),
            risks=spec.get("risks"),
            k=spec.get("k", 1),
            lost=spec.get("lost", "drop"),
            keep_cases=True,
        )
        runs.append((call, result))
    cases = runs[0][1].case_list
    # Every call enumerates the same candidates in the same order: case c is one failure set.
    assert all(r.case_list == cases for _, r in runs)
    decided: tuple | None = None
    seen: dict[tuple, tuple] = {}
    for c in [-1, *range(len(cases))]:
        values = tuple(_value(r, c) for _, r in runs)
        if values in seen:
            continue
        for (call, r), (lo, hi) in zip(runs, values, strict=True):
            figure = Quantity(lo, hi, r.dim, call.func)
            ev.overrides[id(call)] = Record(call.func, {r.field: figure}, r.field)
        try:
            left, right = ev.value(node.left, scope), ev.value(node.right, scope)
        finally:
            for call, _ in runs:
                ev.overrides.pop(id(call), None)
        op = node.op
        if left.analysis is None and right.analysis is not None:
            left, right, op = right, left, _MIRROR[op]
        measured = Measure(left.lo, left.hi, left.dim)
        threshold = Measure(right.lo, right.hi, right.dim)
        status = compare(op, measured, threshold)
        seen[values] = (status, c)
        key = (_RANK[status], -_margin(op, measured, threshold))
        if decided is None or key > decided[0]:
            decided = (key, status, c, op, measured, threshold, left.analysis)
    assert decided is not None
    _, status, c, op, measured, threshold, analysis = decided
    first = runs[0][1]
    notes: list[str] = []
    cut: tuple = ()
    if c < 0:
        notes.append("decided by the healthy topology")
        cut = tuple(first.baseline.cut)
    else:
        names = first.candidates.names(cases[c])
        notes.append(f"worst case: {', '.join(names)} failed")
        cut = _cut_of(first, cases[c])
    per = " per direction" if first.dim == BANDWIDTH else ""
    notes.append(f"healthy: {first.baseline.measure.format()}{per}")
    from ..report.failures import summary_line

    notes.append(f"under failures: {summary_line(first)}")
    return status, op, measured, threshold, analysis, cut, tuple(notes)


def _calls(e: Any):
    """The analysis calls of an expression, with the field each is read at (None: default)."""
    if isinstance(e, ast.Member) and e.value.func in ANALYSES:
        yield e.value, e.name
    elif isinstance(e, ast.Call) and e.func in ANALYSES:
        yield e, None
    elif isinstance(e, ast.Call):
        for x in e.args:
            yield from _calls(x)
    elif isinstance(e, ast.BinOp):
        yield from _calls(e.left)
        yield from _calls(e.right)
    elif isinstance(e, ast.Unary):
        yield from _calls(e.operand)
    elif isinstance(e, ast.Tuple):
        for x in e.items:
            yield from _calls(x)


def _value(r, c: int) -> tuple[float, float]:
    if c < 0:
        return float(r.baseline.lower), float(r.baseline.upper)
    lo, hi = r.case_values[c]
    return float(lo), float(hi)


def _margin(op: str, measured: Measure, threshold: Measure) -> float:
    """How far the measured side is from failing (smaller is worse), to pick the case shown."""
    if op in (">=", ">"):
        return measured.lower - threshold.upper
    if op in ("<=", "<"):
        return threshold.lower - measured.upper
    return 0.0


def _cut_of(r, case: tuple[int, ...]) -> tuple:
    if r.worst.failed == case:
        return tuple(r.worst.cut)
    return tuple(r.solve(case).cut)
