"""Text and JSON reports of the workload analyses: collectives, placement, the checkpoint
lifecycle, ingest, inference fit, power and cost.

Every JSON document is in SI base units (s, B, B/s, W); the analyses put the figures scripts
read most at the top level too (``lower_bound_s``, ``write_s``, ``it_power``...).
"""

from __future__ import annotations

import math
from typing import Any

from ..analyses.figures import json_float
from ..units import BANDWIDTH, COUNT, POWER, SIZE, TIME, Dim, format_quantity
from .table import format_table

__all__ = [
    "format_collective",
    "collective_to_dict",
    "format_placement",
    "placement_to_dict",
    "format_checkpoint_cycle",
    "checkpoint_cycle_to_dict",
    "format_ingest_need",
    "format_inference_fit",
    "inference_fit_to_dict",
    "format_totals",
    "totals_to_dict",
]


_LONG_TIMES = ((2 * 86400.0, 86400.0, "days"), (2 * 3600.0, 3600.0, "h"), (120.0, 60.0, "min"))


def _t(x: float) -> str:
    """A time for people: minutes, hours and days beyond two minutes."""
    if not math.isfinite(x):
        return "never (no path)"
    for above, unit, name in _LONG_TIMES:
        if abs(x) >= above:
            return f"{x / unit:.4g} {name}"
    return format_quantity(x, TIME)


def _bw(x: float) -> str:
    return format_quantity(x, BANDWIDTH)


def _b(x: float) -> str:
    return format_quantity(x, SIZE)


def _n(x: Any) -> Any:
    return json_float(float(x)) if x is not None else None


def _shown(f, unit: Dim) -> str:
    lo, hi = f.lower, f.upper
    if unit == COUNT:
        text = f"{lo:.4g}" if lo == hi else f"{lo:.4g} .. {hi:.4g}"
    elif unit == TIME:
        a, b = _t(lo), _t(hi)
        text = a if a == b else f"{a} .. {b}"
    else:
        a, b = format_quantity(lo, unit), format_quantity(hi, unit)
        text = a if a == b else f"{a} .. {b}"
    return text


# -- collectives ------------------------------------------------------------------------------


def format_collective(answer) -> str:
    """The text report of a collective: the bound, its certificates, the estimates."""
    r = answer.result
    if answer.workload:
        where = (f"{len(r.groups)} {answer.dimension} groups of workload {answer.workload} "
                 f"({r.members} members each, all at once)")  # fmt: skip
    else:
        where = f"a group of {r.members}"
    lines = [f"{r.op} of {_b(r.size)} on {where}"]
    if r.lower_bound == 0 and not r.certificates:
        return "\n".join(lines + [f"  {n}" for n in r.notes])
    best = r.best
    lines.append(f"lower bound (proven): {_t(r.lower_bound)}  "
                 f"(bus bandwidth at most {_bw(r.busbw(r.lower_bound))})")  # fmt: skip
    if best is not None:
        lines.append(f"estimate ({best.algorithm}): {_t(best.time)} = {_t(best.latency)} latency "
                     f"+ {_t(best.bandwidth)} bandwidth  (algbw {_bw(r.algbw(best.time))}, busbw "
                     f"{_bw(r.busbw(best.time))})")  # fmt: skip
    if answer.per_step is not None and best is not None:
        lines.append(f"per training step: {answer.per_step:g} x {_t(best.time)} = "
                     f"{_t(answer.per_step * best.time)} (estimate, not overlapped; "
                     f"{answer.formula})")  # fmt: skip
    lines += [f"  {n}" for n in r.notes]
    lines += ["", "bounds (largest first; alike ones counted once):"]
    alike: dict[tuple, list] = {}
    for c in r.certificates:
        key = (c.kind, f"{c.time:.9g}", f"{c.bytes:.9g}", f"{c.bandwidth:.9g}")
        alike.setdefault(key, []).append(c)
    rows = [[c[0].kind, len(c), _t(c[0].time), _b(c[0].bytes), _bw(c[0].bandwidth),
             c[0].what + (" (and alike)" if len(c) > 1 else "")]
            for c in list(alike.values())[:6]]  # fmt: skip
    lines.append(format_table(["bound", "of", "time", "bytes", "through", "why"], rows,
                              "lrrrrl"))  # fmt: skip
    if len(alike) > 6:
        lines.append(f"... and {len(alike) - 6} more kinds")
    if r.estimates:
        lines += ["", "estimates (alpha-beta on the placed links, fastest first):"]
        rows = []
        for e in r.estimates:
            b = e.bottleneck[0] if e.bottleneck else None
            where = "" if b is None else (f"{b.source} -> {b.target}" if b.element == "link"
                                          else f"{b.source} ({b.direction})")  # fmt: skip
            rows.append([e.algorithm, e.steps, _t(e.time), _t(e.latency), _t(e.bandwidth),
                         _bw(r.busbw(e.time)), where])  # fmt: skip
        lines.append(format_table(["algorithm", "steps", "time", "latency", "bandwidth",
                                   "busbw", "bottleneck"], rows, "lrrrrrl"))  # fmt: skip
    for s in r.skipped:
        lines.append(f"  not estimated: {s}")
    return "\n".join(lines)


def collective_to_dict(answer) -> dict[str, Any]:
    """The JSON detail of a collective."""
    r = answer.result
    out: dict[str, Any] = {
        "op": r.op,
        "size": _n(r.size),
        "members": r.members,
        "groups": len(r.groups),
        "workload": answer.workload,
        "dimension": answer.dimension,
        "network_reduction": r.network_reduction,
        "lower_bound": _n(r.lower_bound),
        "certificates": [
            {"kind": c.kind, "time": _n(c.time), "bytes": _n(c.bytes),
             "bandwidth": _n(c.bandwidth), "what": c.what,
             "cut": [x.to_dict() for x in c.cut]}
            for c in r.certificates
        ],
        "estimates": [
            {"algorithm": e.algorithm, "steps": e.steps, "time": _n(e.time),
             "latency": _n(e.latency), "bandwidth": _n(e.bandwidth),
             "algbw": _n(r.algbw(e.time)), "busbw": _n(r.busbw(e.time)),
             "phases": [{"name": n, "steps": k, "bytes": _n(b)} for n, k, b in e.phases],
             "bottleneck": [{"element": b.element, "from": b.source, "to": b.target,
                             "bytes": _n(b.bytes), "capacity": _n(b.capacity),
                             "direction": b.direction or None} for b in e.bottleneck]}
            for e in r.estimates
        ],
        "skipped": list(r.skipped),
        "notes": list(r.notes),
        "units": {"time": "s", "size": "B", "bandwidth": "B/s"},
    }  # fmt: skip
    if answer.per_step is not None:
        out["per_step"] = {"count": _n(answer.per_step), "formula": answer.formula}
    return out


# -- placement --------------------------------------------------------------------------------


def format_placement(r) -> str:
    """The text report of the placement lints."""
    checked = ", ".join(f"{n} {d} groups" for d, n in r.groups.items()) or "no parallel groups"
    head = f"placement of workload {r.workload}: {len(r.findings)} finding(s) ({checked})"
    if not r.findings:
        return head
    rows = [[f.lint, f.dimension, f.group, f.element] for f in r.findings]
    lines = [head, format_table(["lint", "dim", "group", "where"], rows, "llrl")]
    lines += [f"  {f.message}" for f in r.findings[:10]]
    return "\n".join(lines)


def placement_to_dict(r) -> dict[str, Any]:
    """The JSON detail of the placement lints."""
    return {
        "workload": r.workload,
        "groups": dict(r.groups),
        "findings": [{"lint": f.lint, "dimension": f.dimension, "group": f.group,
                      "element": f.element, "message": f.message} for f in r.findings],
    }  # fmt: skip


# -- checkpoint lifecycle ---------------------------------------------------------------------


def format_checkpoint_cycle(c, figures) -> str:
    """The text report of a checkpoint lifecycle."""
    f = figures
    rows = [
        ["write (GPUs -> SSD tier, the stall)", _shown(f["write_s"], TIME),
         f"{_shown(f['stall_fraction'], COUNT)} of the interval"],
        ["drain (SSD tier -> HDD tier)", _shown(f["drain_s"], TIME),
         f"utilisation {_shown(f['drain_utilisation'], COUNT)}: {_verdict(f['drain_keeps_up'])}"],
        ["SSD tier needed", _b(c.ssd_needed),
         f"{c.keep} kept + 1 being written, of {_b(c.ssd_capacity)}"],
        ["HDD tier retains", _t(c.archive_retention),
         f"{c.archive_checkpoints} checkpoints of {_b(c.archive_capacity)}"],
    ]  # fmt: skip
    if c.young_daly is not None:
        rows.append(["Young/Daly interval", _shown(f["young_daly_s"], TIME),
                     f"goodput {_shown(f['goodput_young_daly'], COUNT)} there, "
                     f"{_shown(f['goodput'], COUNT)} at the interval"])  # fmt: skip
    head = (f"checkpoint lifecycle: {_b(c.size)} every {_t(c.interval)}, {c.keep} kept on SSD"
            + (f", MTBF {_t(c.mtbf)}" if c.mtbf else ""))  # fmt: skip
    lines = [head, format_table(["", "time / size", ""], rows, "lrl")]
    for label, leg in (("write", c.write_leg), ("drain", c.drain_leg)):
        b = leg.uniform.bottleneck
        if b:
            first = b[0]
            where = (f"{first.source} -> {first.target}" if first.element == "link"
                     else f"{first.source} ({first.limit})")  # fmt: skip
            lines.append(f"  {label} bottleneck: {where} ({len(b)} elements, "
                         f"{leg.uniform.behind} {leg.uniform.even} behind it)")  # fmt: skip
    if c.shared:
        lines.append("  the write and the drain share a link direction or a device: the drain "
                     "has the interval less the write")  # fmt: skip
    return "\n".join(lines)


def _verdict(f) -> str:
    if f.lower >= 1:
        return "keeps up"
    return "falls behind" if f.upper <= 0 else "undecided"


def checkpoint_cycle_to_dict(c) -> dict[str, Any]:
    """The JSON detail of a checkpoint lifecycle (brackets as ``[lower, upper]``)."""

    def pair(x):
        return None if x is None else [_n(x[0]), _n(x[1])]

    return {
        "size": _n(c.size), "interval": _n(c.interval), "keep": c.keep, "mtbf": _n(c.mtbf),
        "write": pair(c.write), "drain": pair(c.drain), "shared_path": c.shared,
        "drain_window": pair(c.window), "drain_utilisation": pair(c.drain_utilisation),
        "ssd_capacity": _n(c.ssd_capacity), "archive_capacity": _n(c.archive_capacity),
        "archive_checkpoints": c.archive_checkpoints,
        "young_daly": pair(c.young_daly), "goodput": pair(c.goodput),
        "goodput_young_daly": pair(c.goodput_young_daly),
        "write_bottleneck": [b.to_dict() for b in c.write_leg.uniform.bottleneck],
        "drain_bottleneck": [b.to_dict() for b in c.drain_leg.uniform.bottleneck],
        "units": {"time": "s", "size": "B"},
    }  # fmt: skip


# -- ingest ------------------------------------------------------------------------------------


def format_ingest_need(r, figures) -> str:
    """The text report of an ingest check."""
    f = figures
    verdict = _verdict(f["keeps_up"]).replace("falls behind", "falls short")
    lines = [
        f"ingest: the job needs {_bw(r.need)} ({_shown(f['per_gpu_need'], BANDWIDTH)} per GPU); "
        f"storage gives {_shown(f['available'], BANDWIDTH)} "
        f"({_shown(f['per_gpu_rate'], BANDWIDTH)} per GPU, all at once)",
        f"headroom {_shown(f['headroom'], COUNT)}: {verdict}",
    ]
    b = r.leg.uniform.bottleneck
    if b:
        first = b[0]
        where = (f"{first.source} -> {first.target}" if first.element == "link"
                 else f"{first.source} ({first.limit})")  # fmt: skip
        lines.append(f"  bottleneck: {where} ({len(b)} elements)")
    return "\n".join(lines)


# -- inference fit ----------------------------------------------------------------------------


def format_inference_fit(r, figures) -> str:
    """The text report of an inference fit."""
    n = len(r.gpus)
    lines = [
        f"inference fit: {n} GPUs, {r.replicas} replica(s) of tp = {r.tp}; each GPU holds "
        f"{_b(r.need)} ({_b(r.weights / r.tp)} of weights, {_b(r.kv / r.tp)} of KV cache)",
        ("fits in the GPUs' own memory" if r.fits_own else
         (f"overflows to the {r.farthest} tier" + (
             f" (farthest memory at {_t(r.overflow_latency)})" if r.overflow_latency else "")
          if r.fits else f"does not fit: {_b(r.unplaced)} find no place")),
        f"decode step at least {_t(r.step_time)}: at most {r.decode_rate:.4g} tokens/s per "
        f"sequence, {r.throughput:.4g} tokens/s over {r.sequences * r.replicas} sequences",
    ]  # fmt: skip
    if r.target_latency is not None:
        lines.append(f"target {_t(r.target_latency)} per token: " + (
            "not ruled out by memory bandwidth" if r.target_possible else
            "cannot be met (memory bandwidth alone)"))  # fmt: skip
    rows = [[u.tier, _b(u.bytes), u.gpus, u.memories, _t(u.latency), _t(u.step),
             f"{u.rate:.4g}"] for u in r.tiers]  # fmt: skip
    lines += ["", format_table(["tier", "holds", "GPUs", "memories", "latency", "read time",
                                "tokens/s"], rows, "lrrrrrr")]  # fmt: skip
    if r.bounds:
        lines.append(f"  step bound: {r.bounds[0].what}: {_b(r.bounds[0].bytes)} over "
                     f"{_bw(r.bounds[0].bandwidth)}")  # fmt: skip
    return "\n".join(lines)


def inference_fit_to_dict(r) -> dict[str, Any]:
    """The JSON detail of an inference fit."""
    return {
        "gpus": len(r.gpus), "tp": r.tp, "replicas": r.replicas, "weights": _n(r.weights),
        "kv": _n(r.kv), "need": _n(r.need), "fits_own": r.fits_own, "fits": r.fits,
        "unplaced": _n(r.unplaced), "farthest": r.farthest,
        "overflow_latency": _n(r.overflow_latency), "step_time": _n(r.step_time),
        "decode_rate": _n(r.decode_rate), "throughput": _n(r.throughput),
        "target_latency": _n(r.target_latency), "target_possible": r.target_possible,
        "tiers": [{"tier": u.tier, "bytes": _n(u.bytes), "gpus": u.gpus,
                   "memories": u.memories, "latency": _n(u.latency), "read_time": _n(u.step),
                   "rate": _n(u.rate)} for u in r.tiers],
        "step_bounds": [{"time": _n(b.time), "bytes": _n(b.bytes),
                         "bandwidth": _n(b.bandwidth), "what": b.what} for b in r.bounds],
        "units": {"time": "s", "size": "B", "bandwidth": "B/s", "rate": "tokens/s"},
    }  # fmt: skip


# -- power and cost ---------------------------------------------------------------------------


def format_totals(totals, figures, unit: Dim, max_rows: int = 12) -> str:
    """The text report of power or cost totals."""
    fmt = (lambda x: format_quantity(x, POWER)) if unit == POWER else (lambda x: f"{x:,.0f}")
    what = totals.attribute
    lines = [f"{what}: {fmt(totals.total)} over {totals.counted} components with a {what} "
             "figure"]  # fmt: skip
    skip = {"it_power", "total", "uncovered", "pue"}
    for name, f in figures.items():
        if name in skip:
            continue
        if name == "per_bisection":
            scale = 1e12  # per TB/s, the way people say it
            lo, hi = f.lower * scale, f.upper * scale
            text = (f"{fmt(lo)}" if lo == hi else f"{fmt(lo)} .. {fmt(hi)}") + " per TB/s"
        elif f.dim == COUNT:
            text = _shown(f, COUNT)
        else:
            text = fmt(f.lower) if f.lower == f.upper else f"{fmt(f.lower)} .. {fmt(f.upper)}"
        lines.append(f"  {name}: {text}")
    if totals.uncovered:
        shown = ", ".join(f"{n} {k}" for k, n in totals.uncovered)
        lines.append(f"  no {what} figure (not in the total): {shown}")
    rows = [[k.kind, k.components, k.declared, fmt(k.declared_total), fmt(k.counted_total)]
            for k in totals.by_kind if k.declared]  # fmt: skip
    if rows:
        lines += ["", format_table(["kind", "components", f"with {what}", "declared",
                                    "in the total"], rows, "lrrrr")]  # fmt: skip
    rows = [[c.id, c.kind, fmt(c.total)] for c in totals.by_container[:max_rows]]
    if rows:
        lines += ["", format_table(["component", "kind", what], rows, "llr")]
        if len(totals.by_container) > max_rows:
            lines.append(f"... and {len(totals.by_container) - max_rows} more")
    if totals.racks:
        rows = [[c.id, fmt(c.total)] for c in totals.racks[:max_rows]]
        lines += ["", format_table(["rack", what], rows, "lr")]
    return "\n".join(lines)


def totals_to_dict(totals) -> dict[str, Any]:
    """The JSON detail of power or cost totals."""
    return {
        "attribute": totals.attribute, "total": _n(totals.total), "counted": totals.counted,
        "uncovered": {k: n for k, n in totals.uncovered},
        "by_kind": [{"kind": k.kind, "components": k.components, "declared": k.declared,
                     "declared_total": _n(k.declared_total),
                     "counted_total": _n(k.counted_total), "uncovered": k.uncovered}
                    for k in totals.by_kind],
        "by_container": [{"id": c.id, "kind": c.kind, "total": _n(c.total),
                          "declared": c.declared} for c in totals.by_container],
        "racks": [{"id": c.id, "total": _n(c.total)} for c in totals.racks],
        "units": {"power": "W"} if totals.attribute == "power" else {},
    }  # fmt: skip
