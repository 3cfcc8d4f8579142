"""Inference memory fit: where weights and KV cache live, and the decode rate memory allows.

Each of the ``n`` selected GPUs holds one shard of a replica of ``tp`` GPUs: ``need = (weights
+ kv) / tp`` bytes, where ``kv`` is one replica's KV cache (``kv_bytes_per_token * context *
concurrency``). The model, in three steps:

1. **Own memory first.** A GPU's own memory is what :func:`~topodsl.solvers.reach.
   memory_reach` puts in its ``local`` and ``same-package`` tiers; it takes ``min(need, own)``.
2. **Overflow, nearest first.** The rest goes to the memories the GPU reaches beyond its own
   (a peer's HBM, host DRAM, CXL memory, remote memory), except memories that are another
   workload GPU's own (they hold that GPU's shard). Memories reached by several GPUs are shared
   between them: the bytes are placed by a linear program (HiGHS, through
   :func:`scipy.optimize.linprog`) that minimises the bytes times the latency they are read at,
   with each memory's capacity as a constraint. What no memory can take is *unplaced*: the
   job does not fit.
3. **Decode-rate bound.** Every decode step (one token of every sequence) reads each GPU's
   whole shard, its weights and its sequences' KV at full context, once. Whatever the
   placement, in one step of ``T`` seconds each GPU reads from each tier at most its bandwidth
   to the whole tier times ``T`` (reach's per-tier max flow), from everything it reaches at most
   the max flow from all of it into the GPU, each memory gives at most its own bandwidth, and
   the GPUs reading a tier together get at most the max flow from its memories to them
   (:func:`~topodsl.solvers.dataflow.data_flow`, a real cut); a linear program finds the least
   ``T`` any placement allows: the step bound. Tokens per second per sequence are at most
   ``1 / step``; the whole job serves at most ``concurrency * n / tp`` times that. A target time
   per token below the step bound cannot be met; above it, memory bandwidth does not rule it
   out (compute and communication may). The tiers reported are those of the nearest-first
   placement, each with the time its reads take there.

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> _ = b.add_node("g", "gpu", bandwidth=2e12)
>>> _ = b.add_node("g.hbm", "hbm", parent="g", capacity=80e9, bandwidth=2e12, latency=1e-7)
>>> _ = b.add_node("cpu", "cpu")
>>> _ = b.add_node("dram", "dram", capacity=512e9, bandwidth=300e9, latency=1e-7)
>>> _ = b.add_link("g", "g.hbm", bandwidth=2e12); _ = b.add_link("g", "cpu", bandwidth=63e9)
>>> _ = b.add_link("cpu", "dram", bandwidth=300e9)
>>> r = inference_fit(b.build(), "kind:gpu", weights=70e9, kv=30e9)
>>> r.fits, r.fits_own, [(u.tier, u.bytes) for u in r.tiers]
(True, False, [('local', 80000000000.0), ('host', 20000000000.0)])
>>> round(r.step_time, 5), round(r.decode_rate, 3)   # 20 GB over the 63 GB/s PCIe link
(0.31746, 3.15)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SolverError
from ..topology import Topology
from .collective import flow_upper
from .dataflow import Selection, data_flow
from .reach import TIERS, ReachResult, memory_reach

__all__ = ["TierUse", "StepBound", "InferenceFit", "inference_fit"]

_OWN_TIERS = (TIERS.index("local"), TIERS.index("same-package"))


@dataclass(frozen=True, slots=True)
class TierUse:
    """What one tier holds for the job, placed nearest first: ``bytes`` over ``gpus`` GPUs in
    ``memories`` memories, the farthest of them (``latency``, s), and ``step``, the time its
    reads take in that placement (the slowest GPU at its bandwidth to the tier, or the GPUs
    together through the max flow from the tier: the longer), so ``rate``, the tokens/s per
    sequence that tier allows there."""

    tier: str
    bytes: float
    gpus: int
    memories: int
    latency: float
    step: float

    @property
    def rate(self) -> float:
        """Tokens per second per sequence that this tier's reads allow."""
        return 1.0 / self.step if self.step > 0 else math.inf


@dataclass(frozen=True, slots=True)
class StepBound:
    """A constraint that limits the decode step: ``bytes`` read through ``bandwidth`` B/s
    (``what`` says which) at the best placement, ``time = bytes / bandwidth``."""

    time: float
    bytes: float
    bandwidth: float
    what: str


@dataclass(frozen=True)
class InferenceFit:
    """Where an inference job's memory lives and the decode rate it allows.

    Attributes
    ----------
    gpus : node rows of the GPUs; ``tp`` GPUs per replica, ``replicas = len(gpus) / tp``.
    need : bytes each GPU holds (its shard of weights and KV cache); ``weights``, ``kv``: the
        model's weights and one replica's KV cache, in bytes.
    own : bytes of its own memory per GPU (local and same-package tiers).
    fits_own : every GPU's shard fits in its own memory.
    fits : everything found a place; ``unplaced`` bytes did not (over all GPUs).
    tiers : :class:`TierUse` per tier holding bytes, nearest first.
    farthest : the farthest tier holding bytes; ``overflow_latency`` the latency of the
        farthest memory holding overflow (``None`` when nothing overflows).
    step_time : seconds a decode step takes at least, whatever the placement; ``bounds`` the
        constraints that limit it there (the first is the bottleneck).
    sequences : sequences each replica serves at once.
    target_latency : the time per token asked for, or ``None``.
    placement : ``(gpu row, memory row, bytes)`` of every placement.
    """

    gpus: np.ndarray
    tp: int
    weights: float
    kv: float
    need: float
    own: np.ndarray
    fits_own: bool
    fits: bool
    unplaced: float
    tiers: tuple[TierUse, ...]
    farthest: str
    overflow_latency: float | None
    step_time: float
    bounds: tuple[StepBound, ...]
    sequences: int
    target_latency: float | None
    placement: tuple[tuple[int, int, float], ...]

    @property
    def replicas(self) -> int:
        """Replicas of the model the GPUs serve."""
        return len(self.gpus) // self.tp

    @property
    def decode_rate(self) -> float:
        """Tokens per second per sequence, at most."""
        return 1.0 / self.step_time if self.step_time > 0 else math.inf

    @property
    def throughput(self) -> float:
        """Tokens per second over every sequence of every replica, at most."""
        return self.decode_rate * self.sequences * self.replicas

    @property
    def target_possible(self) -> bool | None:
        """Whether memory bandwidth leaves the target time per token possible."""
        if self.target_latency is None:
            return None
        return self.step_time <= self.target_latency * (1 + 1e-12)


def inference_fit(
    topology: Topology,
    gpus: Selection = "kind:gpu",
    *,
    weights: float,
    kv: float = 0.0,
    tp: int = 1,
    sequences: int = 1,
    target_latency: float | None = None,
    forwarding: str = "hardware",
) -> InferenceFit:
    """Fit an inference job's weights and KV cache in the memory its GPUs reach.

    Parameters
    ----------
    topology : Topology
    gpus : the GPUs serving (selector or rows), ``tp`` per replica, in order.
    weights : bytes of the model's weights.
    kv : bytes of one replica's KV cache (all its sequences at full context).
    tp : GPUs per replica; each holds ``1 / tp`` of the weights and the KV cache.
    sequences : sequences each replica serves at once (for the throughput).
    target_latency : time per output token the service must meet (optional).
    forwarding : the forwarding model of reach and the flows.

    Returns
    -------
    InferenceFit

    Raises
    ------
    SolverError
        Sizes that are not positive, or GPUs that ``tp`` does not divide.
    """
    if not (math.isfinite(weights) and weights > 0) or not (math.isfinite(kv) and kv >= 0):
        raise SolverError("the weights must be more than zero bytes and the KV cache zero or more")
    rows = topology.select(gpus) if isinstance(gpus, str) else np.asarray(gpus, dtype=np.int64)
    rows = np.unique(rows)
    if len(rows) == 0:
        raise SolverError("the GPU selection is empty")
    if tp < 1 or len(rows) % tp:
        raise SolverError(f"{len(rows)} GPUs do not divide into replicas of tp = {tp}")
    need = (weights + kv) / tp
    flow_options = {"forwarding": forwarding}
    reach = memory_reach(topology, rows, **flow_options)
    pos = np.searchsorted(reach.sources, reach.source)
    is_own = np.isin(reach.tier, _OWN_TIERS)
    own = np.bincount(pos[is_own], weights=reach.capacity[is_own], minlength=len(rows))
    own_memories = set(reach.memory[is_own].tolist())
    overflow = np.maximum(need - own, 0.0)
    placed_own = np.minimum(need, own)
    # Candidate (GPU, memory) pairs for overflow: memories beyond the GPU's own, not another
    # workload GPU's own.
    cand = np.flatnonzero(~is_own & ~np.isin(reach.memory, list(own_memories)))
    cand = cand[overflow[pos[cand]] > 0]
    x, unplaced = _place(topology, reach, pos, cand, overflow)
    placement: list[tuple[int, int, float]] = []
    for g in range(len(rows)):
        mine = np.flatnonzero(is_own & (pos == g))
        left = float(placed_own[g])
        for i in mine.tolist():  # own memories, nearest first, up to the need
            take = min(left, float(reach.capacity[i]))
            if take > 0:
                placement.append((int(rows[g]), int(reach.memory[i]), take))
            left -= take
    for k, i in enumerate(cand.tolist()):
        if x[k] > 0:
            placement.append((int(reach.source[i]), int(reach.memory[i]), float(x[k])))
    tiers, far_latency = _tiers(topology, reach, placement, flow_options)
    used_tiers = [t.tier for t in tiers]
    if unplaced > need * 1e-12:
        step, bounds = math.inf, (StepBound(math.inf, unplaced, 0.0, "the job does not fit"),)
    else:
        step, bounds = _decode_bound(topology, reach, rows, need, flow_options)
    return InferenceFit(
        gpus=rows, tp=int(tp), weights=float(weights), kv=float(kv), need=float(need),
        own=own, fits_own=bool(np.all(overflow <= 0)), fits=unplaced <= need * 1e-12,
        unplaced=float(unplaced), tiers=tiers,
        farthest=used_tiers[-1] if used_tiers else "local",
        overflow_latency=far_latency, step_time=float(step),
        bounds=tuple(bounds)[:8],
        sequences=int(sequences), target_latency=target_latency, placement=tuple(placement),
    )  # fmt: skip


def _place(topology, reach: ReachResult, pos: np.ndarray, cand: np.ndarray, overflow):
    """Bytes per candidate pair and what no memory could take.

    Two linear programs: the first fills tiers nearest first (the bytes each GPU puts in each
    tier); the second spreads each tier's bytes over its memories so that the busiest memory
    (bytes over its own bandwidth) is as idle as it can be, capacities respected.
    """
    total = float(overflow.sum())
    if total <= 0 or len(cand) == 0:
        return np.zeros(len(cand)), max(total, 0.0)
    gpus = np.flatnonzero(overflow > 0)
    gpu_index = np.full(len(overflow), -1)
    gpu_index[gpus] = np.arange(len(gpus))
    mems, mem_index = np.unique(reach.memory[cand], return_inverse=True)
    cap = _capacities(reach, mems) / total  # in units of the total overflow: well conditioned
    g_of = gpu_index[pos[cand]]
    tier = reach.tier[cand].astype(np.int64)
    # 1. Nearest tier first: cost grows geometrically with the tier, so no byte moves out.
    k, g = len(cand), len(gpus)
    rank = np.unique(tier, return_inverse=True)[1]
    tier_cost = (2.0 * len(gpus) + 1) ** rank
    cost = np.concatenate([tier_cost, np.full(g, 10.0 * tier_cost.max())])
    x = _lp(cost, g_of, mem_index, cap, overflow[gpus] / total, k, g, len(mems))
    unplaced = float(x[k:].sum()) * total
    x = x[:k]
    # 2. Within each tier, spread over the memories by their bandwidth.
    bw = _memory_bandwidth(topology, reach, cand, mems, mem_index)
    out = np.zeros(k)
    for t in np.unique(tier).tolist():
        sel = np.flatnonzero(tier == t)
        need = np.bincount(g_of[sel], weights=x[sel], minlength=g)
        if need.sum() <= 0:
            continue
        out[sel] = _spread(g_of[sel], mem_index[sel], need, cap, bw, len(mems))
        cap = cap - np.bincount(mem_index[sel], weights=out[sel], minlength=len(mems))
    return out * total, unplaced


def _lp(cost, g_of, mem_index, cap, demand, k, g, m):
    """min cost.x with each GPU's demand placed (or left unplaced) and capacities kept."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_array

    eq_rows = np.concatenate([g_of, np.arange(g)])
    a_eq = coo_array((np.ones(k + g), (eq_rows, np.arange(k + g))), shape=(g, k + g))
    a_ub = coo_array((np.ones(k), (mem_index, np.arange(k))), shape=(m, k + g))
    res = linprog(cost, A_ub=a_ub.tocsr(), b_ub=cap, A_eq=a_eq.tocsr(), b_eq=demand,
                  bounds=(0, None), method="highs")  # fmt: skip
    if res.status != 0:
        raise SolverError(f"the placement of the KV cache failed: {res.message}")
    return np.maximum(res.x, 0.0)


def _spread(g_of, mem_index, need, cap, bw, m):
    """Place each GPU's ``need`` over its candidate memories minimising the most any memory
    holds per unit of its bandwidth (the time to read it), capacities kept."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_array

    k = len(g_of)
    used = np.unique(mem_index)
    # Variables: x (one per pair), then the largest read time T.
    cost = np.zeros(k + 1)
    cost[-1] = 1.0
    g = len(need)
    a_eq = coo_array((np.ones(k), (g_of, np.arange(k))), shape=(g, k + 1)).tocsr()
    scale = 1.0 / bw[used].max()
    rows_cap = coo_array((np.ones(k), (mem_index, np.arange(k))), shape=(m, k + 1)).tocsr()
    time_rows = coo_array(
        (np.concatenate([1.0 / (bw[mem_index] * scale), -np.ones(len(used))]),
         (np.concatenate([mem_index, used]), np.concatenate([np.arange(k), np.full(len(used),
                                                                                   k)]))),
        shape=(m, k + 1),
    ).tocsr()  # fmt: skip
    from scipy.sparse import vstack

    a_ub = vstack([rows_cap, time_rows]).tocsr()
    b_ub = np.concatenate([np.maximum(cap, 0.0), np.zeros(m)])
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=need, bounds=(0, None),
                  method="highs")  # fmt: skip
    if res.status != 0:  # keep the first placement rather than fail the whole answer
        raise SolverError(f"the placement of the KV cache failed: {res.message}")
    return np.maximum(res.x[:k], 0.0)


def _memory_bandwidth(topology, reach, cand, mems, mem_index) -> np.ndarray:
    """Each memory's own bandwidth; where it has none, the most any GPU reads it at."""
    own = topology.nodes.bandwidth[mems].astype(np.float64)
    seen = np.zeros(len(mems))
    np.maximum.at(seen, mem_index, reach.bandwidth[cand])
    return np.where(np.isfinite(own), own, np.maximum(seen, 1.0))


def _capacities(reach: ReachResult, mems: np.ndarray) -> np.ndarray:
    first = {}
    for m, c in zip(reach.memory.tolist(), reach.capacity.tolist(), strict=True):
        first.setdefault(m, c)
    return np.array([first[m] for m in mems.tolist()], dtype=np.float64)


def _tiers(topology, reach, placement, flow_options):
    """Bytes per tier of a placement, and the time each tier's reads take in it: the slowest
    GPU at its bandwidth to the tier, or all of them together through the max flow from the
    tier's memories holding bytes, whichever is longer."""
    index = {}
    for i, (s, m) in enumerate(zip(reach.source.tolist(), reach.memory.tolist(), strict=True)):
        index[(s, m)] = i
    per: dict[tuple[int, int], float] = {}  # (gpu row, tier) -> bytes
    mem_of: dict[int, set[int]] = {}
    latency: dict[int, float] = {}
    for g, m, b in placement:
        i = index[(g, m)]
        t = int(reach.tier[i])
        per[(g, t)] = per.get((g, t), 0.0) + b
        mem_of.setdefault(t, set()).add(m)
        latency[t] = max(latency.get(t, 0.0), float(reach.latency[i]))
    tiers_bw = {}
    tt = reach.tiers
    for s, t, bw in zip(tt.source.tolist(), tt.tier.tolist(), tt.bandwidth.tolist(), strict=True):
        tiers_bw[(s, t)] = bw
    out = []
    for t in sorted({t for _, t in per}):
        gs = [g for g, u in per if u == t]
        total = sum(per[(g, t)] for g in gs)
        slowest = max(per[(g, t)] / tiers_bw.get((g, t), math.inf) for g in gs)
        if len(gs) > 1 and t not in _OWN_TIERS:
            cap = flow_upper(data_flow(topology, sorted(mem_of[t]), sorted(gs),
                                       **flow_options).flow)  # fmt: skip
            slowest = max(slowest, total / cap if cap > 0 else math.inf)
        out.append(TierUse(TIERS[t], total, len(gs), len(mem_of[t]), latency[t], slowest))
    over = [latency[t] for t in latency if t not in _OWN_TIERS]
    return tuple(out), (max(over) if over else None)


def _decode_bound(topology, reach, rows, need: float, flow_options):
    """The least time a decode step can take, over every placement of the shards: a linear
    program. Its constraints are each necessary: every GPU holds its shard somewhere it
    reaches; no memory holds more than its capacity; in one step each GPU reads from each tier
    at most its bandwidth to the whole tier, from all its memories at most the max flow from
    them into it, each memory gives at most its own bandwidth, and the GPUs reading one tier
    get together at most the max flow from its memories to them. So no placement beats it."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_array

    ids = topology.nodes.ids
    pos = np.searchsorted(reach.sources, reach.source)
    k, g = len(reach.source), len(rows)
    unit = need  # bytes in units of a shard, T in seconds
    eq = coo_array((np.ones(k), (pos, np.arange(k))), shape=(g, k + 1))
    rows_ub: list[tuple[np.ndarray, float, float, str]] = []  # (pairs, bandwidth, cap, what)
    mems, inverse = np.unique(reach.memory, return_inverse=True)
    caps = _capacities(reach, mems)
    for j, m in enumerate(mems.tolist()):
        pairs = np.flatnonzero(inverse == j)
        bw = float(topology.nodes.bandwidth[m])
        rows_ub.append((pairs, np.inf, caps[j], f"{ids[m]}'s capacity"))
        if np.isfinite(bw):
            rows_ub.append((pairs, bw, np.inf, f"{ids[m]}'s own bandwidth"))
    tt = reach.tiers
    for s, t, bw in zip(tt.source.tolist(), tt.tier.tolist(), tt.bandwidth.tolist(), strict=True):
        pairs = np.flatnonzero((reach.source == s) & (reach.tier == t))
        rows_ub.append((pairs, bw, np.inf, f"{ids[s]} reading its {TIERS[t]} tier"))
    for j, s in enumerate(rows.tolist()):
        pairs = np.flatnonzero(pos == j)
        cap = flow_upper(data_flow(topology, np.unique(reach.memory[pairs]), [s],
                                   **flow_options).flow)  # fmt: skip
        rows_ub.append((pairs, cap, np.inf, f"{ids[s]} reading all it reaches"))
    for t in np.unique(reach.tier).tolist():
        pairs = np.flatnonzero(reach.tier == t)
        readers = np.unique(reach.source[pairs])
        if t in _OWN_TIERS or len(readers) < 2:
            continue
        cap = flow_upper(data_flow(topology, np.unique(reach.memory[pairs]), readers,
                                   **flow_options).flow)  # fmt: skip
        rows_ub.append((pairs, cap, np.inf, f"{len(readers)} GPUs reading the {TIERS[t]} "
                        "tier together"))  # fmt: skip
    r_i, c_i, v_i, b_ub = [], [], [], []
    for n, (pairs, bw, cap, _) in enumerate(rows_ub):
        r_i += [n] * len(pairs)
        c_i += pairs.tolist()
        v_i += [1.0] * len(pairs)
        if np.isfinite(bw):
            r_i.append(n)
            c_i.append(k)
            v_i.append(-bw / unit)
        b_ub.append(cap / unit if np.isfinite(cap) else 0.0)
    a_ub = coo_array((v_i, (r_i, c_i)), shape=(len(rows_ub), k + 1))
    cost = np.zeros(k + 1)
    cost[-1] = 1.0
    res = linprog(cost, A_ub=a_ub.tocsr(), b_ub=np.array(b_ub), A_eq=eq.tocsr(),
                  b_eq=np.ones(g), bounds=(0, None), method="highs")  # fmt: skip
    if res.status != 0:
        raise SolverError(f"the decode-rate bound failed: {res.message}")
    # The solver's optimum is exact to its tolerance; a part in a million below it stays a bound.
    step = float(res.x[-1]) * (1 - 1e-6)
    x = res.x[:k] * unit
    bounds = []
    for pairs, bw, _, what in rows_ub:
        if not np.isfinite(bw) or bw <= 0:
            continue
        held = float(x[pairs].sum())
        if held >= bw * step * (1 - 1e-5) and held > 0:
            bounds.append(StepBound(held / bw, held, bw, what))
    bounds.sort(key=lambda b: (-b.time, b.what))
    return step, bounds
