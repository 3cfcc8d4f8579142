"""Selectors: name a set of components on the command line or in an assertion.

Grammar of a selector (spaces around ``,`` and ``&`` are optional)::

    selector := term ("," term)*          union
    term     := atom ("&" atom)*          intersection
    atom     := "kind:" NAME ("|" NAME)*  components of these kinds (aliases allowed)
              | "role:" NAME ("|" NAME)*  components of these roles (compute, memory, ...)
              | "in:" NAME ("|" NAME)*    components inside one of these kinds
              | PATTERN                   dotted ids, shell style

In a PATTERN, ``*`` matches within one dotted segment, ``**`` across segments, ``?`` one
character; ``name[*]`` matches every index of an array, ``name[3]`` one element and
``name[0..3]`` an inclusive range, so ``pod.node[*].gpu[*]`` and ``pod.node*.gpu*`` select the
same GPUs.

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> for n in range(3):
...     _ = b.add_node(f"node{n}", "node")
...     _ = b.add_node(f"node{n}.gpu0", "gpu", parent=f"node{n}")
>>> t = b.build()
>>> [t.nodes.ids[r] for r in select(t, "node[0..1].gpu[*]")]
['node0.gpu0', 'node1.gpu0']
>>> len(select(t, "kind:gpu & node2.**"))
1
>>> len(select(t, "kind:gpu & in:node")), len(select(t, "in:storage_node"))
(3, 0)
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .errors import SolverError
from .kinds import KIND_ALIASES, KIND_CODE, ROLES

__all__ = ["select", "pattern_regex", "SelectorError"]


class SelectorError(SolverError):
    """A selector is malformed or names an unknown kind or role."""


_BRACKET = re.compile(r"\[([^\]]*)\]")
_RANGE = re.compile(r"\[([^\]]*\.\.[^\]]*)\]")


@lru_cache(maxsize=256)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Compile a dotted-id pattern to a regex.

    >>> bool(pattern_regex("pod.rack*.node[2..3]").fullmatch("pod.rack1.node3"))
    True
    >>> bool(pattern_regex("pod.*").fullmatch("pod.rack1.node3"))
    False
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            j = pattern.find("]", i)
            if j < 0:
                raise SelectorError(f"unclosed '[' in selector {pattern!r}")
            out.append(_index_regex(pattern[i + 1 : j], pattern))
            i = j + 1
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^.]*")
        elif c == "?":
            out.append("[^.]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _index_regex(inner: str, pattern: str) -> str:
    inner = inner.strip()
    if inner == "*":
        return "[0-9]+"
    if ".." in inner:
        lo, _, hi = inner.partition("..")
        try:
            a, b = int(lo), int(hi)
        except ValueError:
            raise SelectorError(f"bad range [{inner}] in selector {pattern!r}") from None
        if b < a:
            raise SelectorError(f"empty range [{inner}] in selector {pattern!r}")
        if b - a > 100_000:
            raise SelectorError(f"range [{inner}] in selector {pattern!r} is too wide")
        return "(?:" + "|".join(str(k) for k in range(a, b + 1)) + ")"
    if inner.isdigit():
        return str(int(inner))
    raise SelectorError(
        f"bad index [{inner}] in selector {pattern!r}",
    )


def _atom(topology, atom: str) -> np.ndarray:
    atom = atom.strip()
    if not atom:
        raise SelectorError("empty selector term")
    if atom.startswith("kind:"):
        names = [KIND_ALIASES.get(k.strip(), k.strip()) for k in atom[5:].split("|")]
        for k in names:
            if k not in KIND_CODE:
                from difflib import get_close_matches

                close = get_close_matches(k, list(KIND_CODE), n=1)
                raise SelectorError(
                    f"unknown kind {k!r} in selector"
                    + (f"; did you mean {close[0]!r}?" if close else "")
                )
        return topology.rows_of_kind(*names)
    if atom.startswith("in:"):
        names = [KIND_ALIASES.get(k.strip(), k.strip()) for k in atom[3:].split("|")]
        for k in names:
            if k not in KIND_CODE:
                raise SelectorError(f"unknown kind {k!r} in selector")
        return _inside(topology, topology.rows_of_kind(*names))
    if atom.startswith("role:"):
        names = [r.strip() for r in atom[5:].split("|")]
        for r in names:
            if r not in ROLES:
                raise SelectorError(f"unknown role {r!r} in selector (roles: {', '.join(ROLES)})")
        return topology.rows_of_role(*names)
    if not any(ch in atom for ch in "*?["):
        # A plain id: exact lookup, no scan.
        if atom in topology:
            return np.array([topology.index(atom)], dtype=np.int64)
        return np.zeros(0, dtype=np.int64)
    segments = _split_segments(atom)
    if segments is not None:
        return _walk(topology, segments)
    rx, bounds = _range_matcher(atom)
    match = rx.fullmatch
    ids = topology.nodes.ids
    if not bounds:
        return np.fromiter((i for i, s in enumerate(ids) if match(s)), dtype=np.int64)
    # Ranges are captured as digits and compared as numbers: an alternation of every index in
    # a wide range (node[0..51199]) makes the regex thousands of times slower.
    if len(bounds) == 1:
        ((lo, hi),) = bounds
        hits = [i for i, s in enumerate(ids) if (m := match(s)) and lo <= int(m[1]) <= hi]
    else:
        hits = [
            i
            for i, s in enumerate(ids)
            if (m := match(s))
            and all(lo <= int(v) <= hi for v, (lo, hi) in zip(m.groups(), bounds, strict=True))
        ]
    return np.array(hits, dtype=np.int64)


def _inside(topology, holders: np.ndarray) -> np.ndarray:
    """Rows strictly inside any of ``holders`` (ascending)."""
    inside = np.zeros(topology.num_nodes, dtype=bool)
    ptr, child = topology.children_csr
    rows = holders
    while len(rows):
        starts, counts = ptr[rows], ptr[rows + 1] - ptr[rows]
        first = np.repeat(starts - np.cumsum(counts) + counts, counts)
        rows = child[first + np.arange(int(counts.sum()))]
        rows = rows[~inside[rows]]
        inside[rows] = True
    return np.flatnonzero(inside)


def _split_segments(pattern: str) -> list[str] | None:
    """The dotted segments of ``pattern`` (dots inside brackets kept), or ``None`` when a
    segment holds ``**`` and the pattern can only be matched against whole ids."""
    segments, depth, start = [], 0, 0
    for i, ch in enumerate(pattern):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "." and depth == 0:
            segments.append(pattern[start:i])
            start = i + 1
    segments.append(pattern[start:])
    if any("**" in seg or not seg for seg in segments):
        return None
    return segments


def _segment_matches(topology, rows: np.ndarray, segment: str) -> np.ndarray:
    """The rows among ``rows`` whose own name (last dotted part) matches ``segment``."""
    ids = topology.nodes.ids
    rx, bounds = _range_matcher(segment)
    match = rx.fullmatch

    def matches(name: str) -> bool:
        m = match(name)
        return bool(m) and all(
            lo <= int(v) <= hi for v, (lo, hi) in zip(m.groups(), bounds, strict=True)
        )

    # Names repeat (gpu0..gpu7 under every server): each distinct one is matched once.
    seen: dict[str, bool] = {}
    keep = []
    for r in rows.tolist():
        name = ids[r].rpartition(".")[2]
        hit = seen.get(name)
        if hit is None:
            hit = seen[name] = matches(name)
        if hit:
            keep.append(r)
    return np.array(keep, dtype=np.int64)


def _walk(topology, segments: list[str]) -> np.ndarray:
    """Match a pattern segment by segment down the containment tree.

    Only the children of matches are looked at, so ``c.su[*].node[0].gpu[*]`` over 890,000
    components reads a few thousand names instead of every id.
    """
    ptr, child = topology.children_csr
    rows = np.flatnonzero(topology.nodes.parent < 0)
    for k, segment in enumerate(segments):
        rows = _segment_matches(topology, rows, segment)
        if k + 1 < len(segments) and len(rows):
            starts, ends = ptr[rows], ptr[rows + 1]
            rows = np.concatenate(
                [child[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
            )
    return np.sort(rows)


@lru_cache(maxsize=256)
def _range_matcher(pattern: str) -> tuple[re.Pattern[str], tuple[tuple[int, int], ...]]:
    """``pattern`` as a regex with one capturing group per ``[a..b]`` range, and the bounds.

    A captured index must also be written without leading zeros, as ids are. Where a range
    touches a wildcard or another bracket (``node*[1..3]``), the digits could be split more than
    one way, so the exact alternation of :func:`pattern_regex` is used instead (no bounds).

    >>> rx, bounds = _range_matcher("pod.node[2..300].gpu[*]")
    >>> m = rx.fullmatch("pod.node17.gpu3"); int(m.group(1)), bounds
    (17, ((2, 300),))
    >>> _range_matcher("node*[1..3]")[1]
    ()
    """
    bounds: list[tuple[int, int]] = []
    parts: list[str] = []
    rest = pattern
    while True:
        m = _RANGE.search(rest)
        if m is None:
            break
        _index_regex(m.group(1), pattern)  # the same checks and messages as pattern_regex
        before, after = rest[m.start() - 1 : m.start()], rest[m.end() : m.end() + 1]
        if before in ("", "*", "?", "]") or after not in ("", "."):
            return pattern_regex(pattern), ()
        lo, _, hi = m.group(1).partition("..")
        bounds.append((int(lo), int(hi)))
        parts.append(pattern_regex(rest[: m.start()]).pattern + "(0|[1-9][0-9]*)")
        rest = rest[m.end() :]
    return re.compile("".join(parts) + pattern_regex(rest).pattern), tuple(bounds)


def select(topology, selector: str) -> np.ndarray:
    """Rows of ``topology`` matched by ``selector``, ascending and without repeats.

    Raises :class:`SelectorError` for a malformed selector. An empty result is not an error
    here; a solver that needs a non-empty set says so.
    """
    if not selector or not selector.strip():
        raise SelectorError("empty selector")
    result: np.ndarray | None = None
    for term in selector.split(","):
        rows: np.ndarray | None = None
        for atom in term.split("&"):
            got = _atom(topology, atom)
            rows = got if rows is None else np.intersect1d(rows, got)
        result = rows if result is None else np.union1d(result, rows)
    assert result is not None
    # Every atom gives ascending rows without repeats and union1d/intersect1d keep that.
    return result.astype(np.int64, copy=False)
