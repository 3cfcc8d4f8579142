"""``topodsl analyze failures``: a failure analysis as text or a JSON-ready dict.

Figures are in the wrapped analysis's unit (B/s per direction for bisection and flows, seconds
for times), in SI base units in JSON, each with ``lower``/``upper`` bounds and ``value`` when
they agree (the registry's convention).
"""

from __future__ import annotations

import math
from typing import Any

from ..analyses.figures import Measure, format_figure, json_float
from ..failures.engine import CaseValue, FailureResult
from ..units import BANDWIDTH
from .table import format_table

__all__ = ["failures_to_dict", "format_failures", "summary_line"]


def _measure(r: FailureResult, lo: float, hi: float) -> Measure:
    return Measure(lo, hi, r.dim)


def _shown(r: FailureResult, lo: float, hi: float) -> str:
    text = _measure(r, lo, hi).format()
    return text + (" per direction" if r.dim == BANDWIDTH else "")


def _interval(r: FailureResult, lo: float, hi: float) -> dict[str, Any]:
    return _measure(r, lo, hi).to_dict()


def _candidates_text(r: FailureResult) -> str:
    c = r.candidates
    parts = []
    for n, what in (
        (len(c.links), "link"),
        (len(c.devices), "device"),
        (len(c.risks), "risk group"),
    ):
        if n:
            parts.append(f"{n:,} {what}{'s' if n != 1 else ''}")
    return ", ".join(parts)


def summary_line(r: FailureResult) -> str:
    """``'up to 1 of 64 links failed: 64 cases, 4 classes by symmetry, 2 solved, 2 pruned'``."""
    how = f"up to {r.k} of {_candidates_text(r)} failed"
    if r.mode == "monte carlo":
        mc = r.monte_carlo
        kind = "weighted" if mc.weighted else f"{r.k} at a time"
        how = (
            f"Monte Carlo over {_candidates_text(r)} ({kind}, {mc.samples:,} samples, "
            f"seed {mc.seed})"
        )
        cases = f"{r.distinct:,} distinct cases"
    else:
        cases = f"{r.cases:,} cases"
        if r.distinct != r.cases:
            cases += f", {r.distinct:,} class{'es' if r.distinct != 1 else ''}"
            cases += " by symmetry" if r.symmetric else ""
    return f"{how}: {cases}, {r.solved:,} solved, {r.pruned:,} pruned, lost endpoints: {r.lost}"


def _cut_dicts(cut) -> list[dict]:
    return [c.to_dict() for c in cut]


def _case_dict(r: FailureResult, c: CaseValue, with_cut: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "failed": list(c.names),
        "kinds": [r.candidates.kind(i) for i in c.failed],
        **_interval(r, c.lower, c.upper),
        "cases": c.count,
        "how": c.how,
    }
    if c.lost:
        out["lost"] = c.lost
    if with_cut:
        out["cut"] = _cut_dicts(c.cut)
    out["notes"] = list(c.notes)
    return out


def failures_to_dict(r: FailureResult, top: int = 10) -> dict[str, Any]:
    """The JSON detail of a failure analysis (after the registry's ``figures``)."""
    b = r.baseline
    worst = {**_interval(r, *r.worst_range), **_case_dict(r, r.worst)}
    worst["case"] = _interval(r, r.worst.lower, r.worst.upper)
    doc: dict[str, Any] = {
        "of": {"analysis": r.analysis, "field": r.field},
        "baseline": {
            **_interval(r, b.lower, b.upper),
            "cut": _cut_dicts(b.cut),
            "notes": list(b.notes),
        },
        "worst": worst,
        "worst_is": r.worst_is,
        "mode": r.mode,
        "k": r.k,
        "lost": r.lost,
        "candidates": {
            "links": len(r.candidates.links),
            "devices": len(r.candidates.devices),
            "risks": len(r.candidates.risks),
        },
        "cases": {
            "total": r.cases,
            "classes": r.distinct,
            "solved": r.solved,
            "pruned": r.pruned,
            "pruned_by_a_single_failure": r.superset,
            "symmetry": r.symmetric,
        },
        "distribution": [
            {
                "k": s.k,
                "cases": s.cases,
                "worst": _interval(r, *s.worst),
                "p1": _interval(r, *s.p1),
                "p50": _interval(r, *s.p50),
                "best": _interval(r, *s.best),
            }
            for s in r.distribution
        ],
        "impact": [_case_dict(r, c, with_cut=False) for c in r.impact[:top]],
        "monte_carlo": None,
    }
    mc = r.monte_carlo
    if mc is not None:
        doc["monte_carlo"] = {
            "samples": mc.samples,
            "seed": mc.seed,
            "weighted": mc.weighted,
            "failures_per_sample": mc.failures_per_sample,
            "confidence": 0.95,
            "p1": [json_float(x) for x in mc.p1_ci],
            "p50": [json_float(x) for x in mc.p50_ci],
            "mean": json_float(mc.mean),
            "mean_ci": [json_float(x) for x in mc.mean_ci],
            "degraded": mc.degraded,
            "degraded_ci": list(mc.degraded_ci),
        }
    return doc


def _loss(r: FailureResult, c: CaseValue) -> str:
    b = r.baseline
    # The loss a case surely causes: from the guaranteed bound of each side.
    if r.worst_is == "lowest":
        lo, hi = b.lower - c.upper, b.upper - c.lower
    else:
        lo, hi = c.lower - b.upper, c.upper - b.lower
    lo = max(lo, 0.0)
    hi = max(hi, 0.0)
    if math.isinf(hi) or math.isinf(lo):
        return "all"
    if r.dim is None:
        return f"{lo:.4g}"
    a, z = format_figure(lo, r.dim), format_figure(hi, r.dim)
    return a if a == z else f"{a} .. {z}"


def format_failures(r: FailureResult, top: int = 10) -> str:
    """The text report of a failure analysis."""
    lines = [f"{r.analysis}.{r.field} under failures: {summary_line(r)}"]
    b = r.baseline
    lines.append(f"baseline: {_shown(r, b.lower, b.upper)}")
    w = r.worst
    more = ""
    if w.count > 1 and r.mode == "monte carlo":
        more = f" (in {w.count:,} samples)"
    elif w.count > 1:
        more = f" (and {w.count - 1:,} symmetric case{'s' if w.count > 2 else ''})"
    verb = "fails" if len(w.names) == 1 else "fail"
    lines.append(f"worst:    {_shown(r, *r.worst_range)} when {', '.join(w.names)} {verb}{more}")
    if w.lost:
        lines.append(f"          {w.lost} endpoint(s) lost (dropped from the selections)")
    for note in w.notes:
        lines.append(f"          {note}")
    if w.cut:
        from .check import group_cut

        total = format_figure(sum(c.bandwidth for c in w.cut), BANDWIDTH)
        lines.append(f"witness cut of the worst case: {total} per direction")
        lines += ["  " + g.describe() for g in group_cut(w.cut)[:8]]
    rows = []
    for s in r.distribution:
        rows.append(
            [str(s.k), f"{s.cases:,}", _shown(r, *s.worst), _shown(r, *s.p1), _shown(r, *s.p50)]
        )
    lines += ["", format_table(["failed", "cases", "worst", "p1", "p50"], rows, "rrrrr")]
    mc = r.monte_carlo
    if mc is not None:
        lines.append("")
        lines.append(
            f"Monte Carlo estimates, 95% confidence: p1 in "
            f"[{_shown(r, *mc.p1_ci)}], p50 in [{_shown(r, *mc.p50_ci)}]; degraded in "
            f"{100 * mc.degraded:.3g}% of samples [{100 * mc.degraded_ci[0]:.3g}%, "
            f"{100 * mc.degraded_ci[1]:.3g}%]"
        )
    if r.impact and top:
        lines += ["", "single failures, worst first:"]
        rows = []
        for c in r.impact[:top]:
            like = f"{c.count:,}" if c.count > 1 else "1"
            rows.append([_shown(r, c.lower, c.upper), _loss(r, c), ", ".join(c.names), like, c.how])
        lines.append(format_table(["figure", "loss", "failed", "cases", "how"], rows, "rrlrl"))
    return "\n".join(lines)
