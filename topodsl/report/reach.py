"""``topodsl analyze reach``: the memory-reach result as text or as a JSON-ready dict.

Units in JSON: latency in seconds, bandwidth in B/s (in the data's direction: memory to element
for ``"read"``), capacity in bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..kinds import KINDS
from ..solvers.reach import TIERS, ReachResult
from ..units import BANDWIDTH, SIZE, TIME, format_quantity
from .table import format_table

__all__ = ["reach_to_dict", "reach_to_lines", "format_reach"]


def reach_to_dict(result: ReachResult) -> dict[str, Any]:
    """JSON-ready form of a :class:`~topodsl.solvers.reach.ReachResult`.

    Keys: ``direction``, ``units``, ``within`` (s, or null), ``elements`` (one entry per
    selected element: ``from``, ``memories``, ``capacity``), ``rows`` (``from``, ``memory``,
    ``kind``, ``tier``, ``latency``, ``bandwidth``, ``capacity``, ``hops``; sorted by element,
    latency, memory) and ``tiers`` (``from``, ``tier``, ``count``, ``capacity``, ``latency`` of
    the nearest, ``bandwidth`` to all of the tier at once).

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.reach import memory_reach
    >>> b = TopologyBuilder(); _ = b.add_node("c", "cpu")
    >>> _ = b.add_node("d", "dram", capacity=64e9, latency=1e-7, bandwidth=1e11)
    >>> _ = b.add_link("c", "d", bandwidth=1e11)
    >>> d = reach_to_dict(memory_reach(b.build()))
    >>> row = d["rows"][0]
    >>> row["from"], row["memory"], row["kind"], row["tier"], row["latency"], row["hops"]
    ('c', 'd', 'dram', 'local', 1e-07, 1)
    >>> row["bandwidth"], row["capacity"]
    (100000000000.0, 64000000000.0)
    """
    names = result.names
    src = result.source.tolist()
    mem = result.memory.tolist()
    kind = result.kind.tolist()
    tier = result.tier.tolist()
    lat = result.latency.tolist()
    bw = result.bandwidth.tolist()
    cap = result.capacity.tolist()
    hops = result.hops.tolist()
    relayed = result.relayed.tolist()
    rows = [
        {
            "from": names[src[i]],
            "memory": names[mem[i]],
            "kind": KINDS[kind[i]],
            "tier": TIERS[tier[i]],
            "latency": lat[i],
            "bandwidth": bw[i],
            "capacity": cap[i],
            "hops": hops[i],
            "relayed": relayed[i],
        }
        for i in range(len(src))
    ]
    t = result.tiers
    tiers = [
        {
            "from": names[s],
            "tier": TIERS[c],
            "count": n,
            "capacity": cp,
            "latency": la,
            "bandwidth": b,
            "relayed": x,
        }
        for s, c, n, cp, la, b, x in zip(
            t.source.tolist(),
            t.tier.tolist(),
            t.count.tolist(),
            t.capacity.tolist(),
            t.latency.tolist(),
            t.bandwidth.tolist(),
            t.relayed.tolist(),
            strict=True,
        )
    ]
    counts, caps = _per_element(result)
    return {
        **_head(result),
        "elements": [
            {"from": names[s], "memories": int(n), "capacity": float(c)}
            for s, n, c in zip(result.sources.tolist(), counts, caps, strict=True)
        ],
        "rows": rows,
        "tiers": tiers,
    }


def _head(result: ReachResult) -> dict[str, Any]:
    return {
        "direction": result.direction,
        "forwarding": result.forwarding,
        "units": {"latency": "s", "bandwidth": "B/s", "capacity": "B"},
        "within": None if math.isinf(result.within) else result.within,
    }


#: The tables of :func:`reach_to_dict` that ``--jsonl`` writes a line per row of.
TABLES = ("elements", "rows", "tiers")
_CHUNK = 65_536  # rows formatted per piece of output


def reach_to_lines(result: ReachResult) -> tuple[dict[str, Any], Iterator[str]]:
    """The ``--jsonl`` form of :func:`reach_to_dict`: the document without its tables (with
    ``tables``, their row counts, in their place), and the text of one compact JSON line per
    row, ``{"table": "rows", "from": ...}``, with the keys and values of the dict form.

    The rows of every GPU of a large cluster are millions of lines: each is formatted from
    the columns with the names JSON-quoted once each, in pieces of 65,536 rows, so neither the
    dicts of :func:`reach_to_dict` nor one long string of the whole answer are ever built.

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.reach import memory_reach
    >>> b = TopologyBuilder(); _ = b.add_node("c", "cpu")
    >>> _ = b.add_node("d", "dram", capacity=64e9, latency=1e-7, bandwidth=1e11)
    >>> _ = b.add_link("c", "d", bandwidth=1e11)
    >>> head, lines = reach_to_lines(memory_reach(b.build()))
    >>> head["tables"]
    {'elements': 1, 'rows': 1, 'tiers': 1}
    >>> print("".join(lines), end="")  # doctest: +NORMALIZE_WHITESPACE
    {"table":"elements","from":"c","memories":1,"capacity":64000000000.0}
    {"table":"rows","from":"c","memory":"d","kind":"dram","tier":"local","latency":1e-07,\
"bandwidth":100000000000.0,"capacity":64000000000.0,"hops":1,"relayed":false}
    {"table":"tiers","from":"c","tier":"local","count":1,"capacity":64000000000.0,\
"latency":1e-07,"bandwidth":100000000000.0,"relayed":false}
    """
    head = _head(result)
    t = result.tiers
    head["tables"] = {"elements": len(result.sources), "rows": len(result), "tiers": len(t.source)}
    return head, _lines(result)


def _quoted(values: list[str]) -> list[str]:
    return [json.dumps(v) for v in values]


def _number(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError(f"Out of range float values are not JSON compliant: {x!r}")
    return repr(x)


def _lines(result: ReachResult) -> Iterator[str]:
    names = result.names
    q: dict[int, str] = {}  # node row -> its id, JSON-quoted, for the rows that appear

    def name(rows: np.ndarray) -> list[str]:
        for r in np.unique(rows).tolist():
            if r not in q:
                q[r] = json.dumps(names[r])
        return [q[r] for r in rows.tolist()]

    kinds, tiers = _quoted(list(KINDS)), _quoted(list(TIERS))
    counts, caps = _per_element(result)
    for f in (result.latency, result.bandwidth, result.capacity, caps):
        if not np.isfinite(f).all():
            _number(float(f[~np.isfinite(f)][0]))
    yield "".join(
        f'{{"table":"elements","from":{s},"memories":{n},"capacity":{c!r}}}\n'
        for s, n, c in zip(name(result.sources), counts.tolist(), caps.tolist(), strict=True)
    )
    flag = ("false", "true")
    for lo in range(0, len(result), _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        cols = zip(
            name(result.source[sl]), name(result.memory[sl]), result.kind[sl].tolist(),
            result.tier[sl].tolist(), result.latency[sl].tolist(),
            result.bandwidth[sl].tolist(), result.capacity[sl].tolist(),
            result.hops[sl].tolist(), result.relayed[sl].tolist(), strict=True,
        )  # fmt: skip
        yield "".join(
            f'{{"table":"rows","from":{s},"memory":{m},"kind":{kinds[k]},"tier":{tiers[c]},'
            f'"latency":{la!r},"bandwidth":{b!r},"capacity":{cp!r},"hops":{h},'
            f'"relayed":{flag[x]}}}\n'
            for s, m, k, c, la, b, cp, h, x in cols
        )
    t = result.tiers
    for f in (t.capacity, t.latency, t.bandwidth):
        if not np.isfinite(f).all():
            _number(float(f[~np.isfinite(f)][0]))
    cols = zip(
        name(t.source), t.tier.tolist(), t.count.tolist(), t.capacity.tolist(),
        t.latency.tolist(), t.bandwidth.tolist(), t.relayed.tolist(), strict=True,
    )  # fmt: skip
    yield "".join(
        f'{{"table":"tiers","from":{s},"tier":{tiers[c]},"count":{n},"capacity":{cp!r},'
        f'"latency":{la!r},"bandwidth":{b!r},"relayed":{flag[x]}}}\n'
        for s, c, n, cp, la, b, x in cols
    )


def _mark(relayed) -> str:
    return " *" if relayed else ""


def _per_element(result: ReachResult) -> tuple[np.ndarray, np.ndarray]:
    pos = np.searchsorted(result.sources, result.source)
    counts = np.bincount(pos, minlength=len(result.sources))
    caps = np.bincount(pos, weights=result.capacity, minlength=len(result.sources))
    return counts, caps.astype(np.float64)


def _direction_text(result: ReachResult) -> str:
    if result.direction == "read":
        return "read: bandwidth from the memory to the element"
    return "write: bandwidth from the element to the memory"


def format_reach(result: ReachResult, max_rows: int = 20, max_detailed: int = 8) -> str:
    """The result as text: per element a line, its tiers, and its nearest memories.

    ``max_rows`` memories are listed per element (0: none), for at most ``max_detailed``
    elements; every element gets its tier table.

    >>> from topodsl.topology import TopologyBuilder
    >>> from topodsl.solvers.reach import memory_reach
    >>> b = TopologyBuilder(); _ = b.add_node("c", "cpu")
    >>> _ = b.add_node("d", "dram", capacity=64e9, latency=1e-7, bandwidth=1e11)
    >>> _ = b.add_link("c", "d", bandwidth=1e11, type="ddr5")
    >>> print(format_reach(memory_reach(b.build())))
    memory reach of 1 element (read: bandwidth from the memory to the element, per direction)
    <BLANKLINE>
    c: 1 memory, 64 GB
    tier   memories  capacity  nearest  bandwidth (all at once)
    -----  --------  --------  -------  -----------------------
    local         1     64 GB   100 ns                100 GB/s
    <BLANKLINE>
    memory  kind  tier   latency  bandwidth  capacity  hops
    ------  ----  -----  -------  ---------  --------  ----
    d       dram  local   100 ns   100 GB/s     64 GB     1
    """
    names = result.names
    n_el = len(result.sources)
    head = (
        f"memory reach of {n_el} element{'s' if n_el != 1 else ''} "
        f"({_direction_text(result)}, per direction)"
    )
    if not math.isinf(result.within):
        head += f", within {format_quantity(result.within, TIME)}"
    parts = [head]
    counts, caps = _per_element(result)
    t = result.tiers
    t_lo = np.searchsorted(t.source, result.sources, side="left")
    t_hi = np.searchsorted(t.source, result.sources, side="right")
    detailed = n_el <= max_detailed and max_rows > 0
    for i, s in enumerate(result.sources.tolist()):
        parts.append("")
        n = int(counts[i])
        parts.append(
            f"{names[s]}: {n} memor{'y' if n == 1 else 'ies'}, {format_quantity(caps[i], SIZE)}"
        )
        if n == 0:
            parts.append(
                "  (no memory reachable"
                + ("" if math.isinf(result.within) else " within the budget")
                + ")"
            )
            continue
        rows = []
        for j in range(int(t_lo[i]), int(t_hi[i])):
            rows.append(
                [
                    TIERS[int(t.tier[j])],
                    int(t.count[j]),
                    format_quantity(float(t.capacity[j]), SIZE),
                    format_quantity(float(t.latency[j]), TIME),
                    format_quantity(float(t.bandwidth[j]), BANDWIDTH) + _mark(t.relayed[j]),
                ]
            )
        parts.append(
            format_table(
                ["tier", "memories", "capacity", "nearest", "bandwidth (all at once)"],
                rows,
                "lrrrr",
            )
        )
        if not detailed:
            continue
        sl = result.rows_of(s)
        idx = range(sl.start, min(sl.stop, sl.start + max_rows))
        table = [
            [
                names[int(result.memory[k])],
                KINDS[int(result.kind[k])],
                TIERS[int(result.tier[k])],
                format_quantity(float(result.latency[k]), TIME),
                format_quantity(float(result.bandwidth[k]), BANDWIDTH) + _mark(result.relayed[k]),
                format_quantity(float(result.capacity[k]), SIZE),
                int(result.hops[k]),
            ]
            for k in idx
        ]
        parts.append("")
        parts.append(
            format_table(
                ["memory", "kind", "tier", "latency", "bandwidth", "capacity", "hops"],
                table,
                "lllrrrr",
            )
        )
        more = (sl.stop - sl.start) - len(table)
        if more > 0:
            parts.append(f"... and {more} more (nearest first; --json lists every one)")
    if result.relayed.any() or result.tiers.relayed.any():
        parts.append("")
        parts.append(
            f"* nearer, faster or reachable only by relaying through components that do not\n"
            f"  forward under the hardware defaults (forwarding={result.forwarding})"
        )
    if n_el > max_detailed and max_rows > 0:
        parts.append("")
        parts.append(
            f"(per-memory rows are listed for up to {max_detailed} elements: narrow --from, "
            "or use --json)"
        )
    return "\n".join(parts)
