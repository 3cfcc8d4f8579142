"""Traffic patterns: who sends to whom, as a demand matrix over a set of endpoints.

A :class:`Demand` holds the endpoints (node rows, in id order) and a weight for each ordered
pair (source, sink): how much that pair sends relative to the others. The routed throughput
(:mod:`topodsl.solvers.routing`) is then the rate every unit of weight gets.

Patterns over the endpoints ``E[0..n-1]`` (in row order):

``all-to-all``
    every endpoint to every other, weight 1 (``n (n - 1)`` pairs);
``permutation``
    a uniform random permutation ``p`` of the endpoints (seeded): ``E[i] -> E[p(i)]``, fixed
    points dropped;
``shift`` / ``shift:K``
    ``E[i] -> E[(i + K) mod n]`` (``K = 1`` by default);
``ring``
    each endpoint to both ring neighbours, ``E[i] -> E[i + 1]`` and ``E[i] -> E[i - 1]``;
``rail``
    rail-aligned: the endpoints are grouped by the component that holds them (a server's
    GPUs), and GPU ``i`` of every server sends to GPU ``i`` of every other server (``i`` counts
    the selected endpoints of a server in row order);
``csv:FILE``
    a matrix read from a CSV file, one ``source,target[,weight]`` line per pair (ids; weight 1
    when left out; ``#`` starts a comment; a first line ``source,target,...`` is a header).

>>> from topodsl import loads
>>> t = loads("cluster c { gpu g[4] }")
>>> d = make_demand(t, "shift:2", t.select("kind:gpu"))
>>> d.pairs().tolist()
[[0, 2], [1, 3], [2, 0], [3, 1]]
>>> make_demand(t, "all-to-all", t.select("kind:gpu")).total_weight
12.0
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .errors import SolverError
from .topology import Topology

__all__ = ["Demand", "make_demand", "demand_from_csv", "PATTERNS", "PatternError"]

#: The built-in patterns (``csv:FILE`` reads a file).
PATTERNS = ("all-to-all", "permutation", "shift", "ring", "rail")

# Largest CSV matrix read (lines); a traffic matrix of a 100k-GPU permutation fits.
_MAX_CSV_LINES = 2_000_000


class PatternError(SolverError):
    """A traffic pattern that cannot be built: an unknown name, a bad CSV line."""


@dataclass(frozen=True)
class Demand:
    """Relative traffic between endpoints.

    ``endpoints`` are node rows (ascending); ``matrix[t, s]`` is the weight from endpoint ``s``
    to endpoint ``t`` (indices into ``endpoints``), or ``matrix`` is ``None`` for all-to-all
    (weight 1 from every endpoint to every other). ``name`` is the pattern as written.
    """

    name: str
    endpoints: np.ndarray
    matrix: sp.csr_array | None

    @property
    def n(self) -> int:
        """Number of endpoints."""
        return len(self.endpoints)

    @property
    def uniform(self) -> bool:
        """All-to-all with weight 1."""
        return self.matrix is None

    @property
    def total_weight(self) -> float:
        """Sum of the weights over every pair."""
        if self.matrix is None:
            return float(self.n * (self.n - 1))
        return float(self.matrix.sum())

    @property
    def num_pairs(self) -> int:
        """Pairs with a positive weight."""
        return self.n * (self.n - 1) if self.matrix is None else int(self.matrix.nnz)

    def out_weight(self) -> np.ndarray:
        """Total weight each endpoint sends."""
        if self.matrix is None:
            return np.full(self.n, self.n - 1, dtype=np.float64)
        return np.asarray(self.matrix.sum(axis=0)).ravel().astype(np.float64)

    def in_weight(self) -> np.ndarray:
        """Total weight each endpoint receives."""
        if self.matrix is None:
            return np.full(self.n, self.n - 1, dtype=np.float64)
        return np.asarray(self.matrix.sum(axis=1)).ravel().astype(np.float64)

    def sinks(self) -> np.ndarray:
        """Indices of the endpoints that receive anything."""
        if self.matrix is None:
            return np.arange(self.n) if self.n > 1 else np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.diff(self.matrix.indptr) > 0)

    def senders_to(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """``(source indices, weights)`` of the pairs that send to endpoint ``t``."""
        if self.matrix is None:
            src = np.delete(np.arange(self.n), t)
            return src, np.ones(len(src))
        m = self.matrix
        lo, hi = m.indptr[t], m.indptr[t + 1]
        return m.indices[lo:hi].astype(np.int64), m.data[lo:hi].astype(np.float64)

    def pairs(self) -> np.ndarray:
        """Every pair with a positive weight as ``[source, sink]`` endpoint indices, by source.
        (All-to-all at scale has ``n (n - 1)`` of them: use :meth:`senders_to` instead.)"""
        if self.matrix is None:
            s, t = np.meshgrid(np.arange(self.n), np.arange(self.n), indexing="ij")
            keep = s != t
            return np.column_stack([s[keep], t[keep]])
        coo = self.matrix.tocoo()
        order = np.lexsort((coo.row, coo.col))
        return np.column_stack([coo.col[order], coo.row[order]]).astype(np.int64)

    def weights(self) -> np.ndarray:
        """The weight of each pair of :meth:`pairs`, in the same order."""
        if self.matrix is None:
            return np.ones(self.n * (self.n - 1))
        coo = self.matrix.tocoo()
        order = np.lexsort((coo.row, coo.col))
        return coo.data[order].astype(np.float64)


def _matrix(n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None):
    keep = src != dst
    src, dst = src[keep], dst[keep]
    w = np.ones(len(src)) if w is None else np.asarray(w, dtype=np.float64)[keep]
    m = sp.csr_array((w, (dst, src)), shape=(n, n))
    m.sum_duplicates()
    return m


def make_demand(
    topology: Topology, pattern: str, endpoints: np.ndarray, *, seed: int = 0
) -> Demand:
    """The demand of ``pattern`` (see the module docstring) over the rows ``endpoints``.
    ``csv:FILE`` is read by :func:`demand_from_csv`, not here.

    Raises
    ------
    PatternError
        An unknown pattern, or one that needs more endpoints than it has.
    """
    E = np.unique(np.asarray(endpoints, dtype=np.int64))
    n = len(E)
    name = pattern.strip()
    if n < 2:
        raise PatternError(f"the traffic pattern {name!r} needs at least two endpoints, got {n}")
    idx = np.arange(n)
    if name == "all-to-all":
        return Demand(name, E, None)
    if name == "permutation":
        perm = np.random.default_rng(seed).permutation(n)
        return Demand(name, E, _matrix(n, idx, perm))
    m = re.fullmatch(r"shift(?::(-?\d+))?", name)
    if m:
        k = int(m.group(1) or 1)
        if k % n == 0:
            raise PatternError(f"{name}: a shift by a multiple of {n} sends nothing")
        return Demand(name, E, _matrix(n, idx, (idx + k) % n))
    if name == "ring":
        src = np.concatenate([idx, idx])
        dst = np.concatenate([(idx + 1) % n, (idx - 1) % n])
        m2 = _matrix(n, src, dst)
        m2.data[:] = 1.0  # two endpoints are each other's both neighbours: one pair each way
        return Demand(name, E, m2)
    if name == "rail":
        return Demand(name, E, _rail(topology, E))
    if name.startswith("csv:"):
        raise PatternError("csv: patterns are read with demand_from_csv")
    raise PatternError(
        f"unknown traffic pattern {name!r} (patterns: {', '.join(PATTERNS)}, csv:FILE)"
    )


def _rail(t: Topology, E: np.ndarray) -> sp.csr_array:
    parent = t.nodes.parent[E].astype(np.int64)
    # Rail index: the position of an endpoint among the selected endpoints of its holder.
    order = np.lexsort((E, parent))
    p_sorted = parent[order]
    start = np.r_[True, p_sorted[1:] != p_sorted[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(E)), 0))
    rail = np.empty(len(E), dtype=np.int64)
    rail[order] = np.arange(len(E)) - first
    if len(np.unique(parent)) < 2:
        raise PatternError("rail: the endpoints are all in one component; rails join servers")
    src, dst = [], []
    for r in np.unique(rail).tolist():
        members = np.flatnonzero(rail == r)
        s, d = np.meshgrid(members, members, indexing="ij")
        keep = parent[s] != parent[d]
        src.append(s[keep])
        dst.append(d[keep])
    return _matrix(len(E), np.concatenate(src), np.concatenate(dst))


def demand_from_csv(topology: Topology, text: str, name: str = "csv") -> Demand:
    """A demand read from CSV text: ``source,target[,weight]`` per line (component ids).

    >>> from topodsl import loads
    >>> t = loads("cluster c { gpu g[3] }")
    >>> d = demand_from_csv(t, "source,target,weight\\nc.g0,c.g2,2\\nc.g1,c.g2\\n")
    >>> d.endpoints.tolist(), d.pairs().tolist(), d.weights().tolist()
    ([1, 2, 3], [[0, 2], [1, 2]], [2.0, 1.0])
    """
    rows: list[tuple[int, int, float]] = []
    reader = csv.reader(io.StringIO(text))
    for lineno, fields in enumerate(reader, start=1):
        if lineno > _MAX_CSV_LINES:
            raise PatternError(f"{name}: more than {_MAX_CSV_LINES:,} lines")
        fields = [f.strip() for f in fields]
        if not fields or not fields[0] or fields[0].startswith("#"):
            continue
        if lineno == 1 and fields[0].lower() == "source":
            continue
        if len(fields) not in (2, 3):
            raise PatternError(f"{name}:{lineno}: expected source,target[,weight]")
        a, b = fields[0], fields[1]
        for x in (a, b):
            if x not in topology:
                raise PatternError(f"{name}:{lineno}: no component {x[:80]!r}")
        w = 1.0
        if len(fields) == 3:
            try:
                w = float(fields[2])
            except ValueError:
                raise PatternError(f"{name}:{lineno}: the weight must be a number") from None
            if not math.isfinite(w) or w < 0:
                raise PatternError(f"{name}:{lineno}: the weight must be a number >= 0")
        if a == b:
            raise PatternError(f"{name}:{lineno}: a component does not send to itself")
        rows.append((topology.index(a), topology.index(b), w))
    if not rows:
        raise PatternError(f"{name}: no traffic in the file")
    src = np.array([r[0] for r in rows], dtype=np.int64)
    dst = np.array([r[1] for r in rows], dtype=np.int64)
    w = np.array([r[2] for r in rows])
    E, inv = np.unique(np.concatenate([src, dst]), return_inverse=True)
    m = _matrix(len(E), inv[: len(src)], inv[len(src) :], w)
    m.eliminate_zeros()
    return Demand(name, E, m)
