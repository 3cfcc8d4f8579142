"""A training job's storage: the checkpoint lifecycle, and ingest against what the loop needs.

:func:`checkpoint_cycle` follows one checkpoint of ``size`` bytes through its life on the real
data paths of the design: the GPUs write it to the SSD tier (:func:`~topodsl.solvers.dataflow.
checkpoint_write`: every GPU an equal shard at once, SSD write bandwidth applying; the job
stalls while it writes), then it is drained to the HDD tier (:func:`~topodsl.solvers.dataflow.
checkpoint_drain`), once per ``interval``. From those two flows:

* ``stall_fraction = write / interval``: the share of training time spent writing;
* the drain keeps up when it finishes before the next checkpoint needs the path: its
  utilisation is ``drain / window``, where the window is the interval, or the interval less the
  write when the two flows share a link direction or a limited device in one direction (then
  they cannot run at full rate together; a device's limit is taken per direction, the
  direction told by the type of the links traffic enters it through, as for a full-duplex NIC);
* the SSD tier must hold ``(keep + 1) * size``: the ``keep`` newest checkpoints plus the one
  being written (the oldest is deleted only once the new one is complete);
* the HDD tier retains ``floor(capacity / size)`` checkpoints, ``interval`` apart;
* Young's interval ``sqrt(2 * write * mtbf)`` balances the time spent writing against the work
  lost to a failure (half an interval on average); the goodput it gives, in Young's first-order
  model (no restart time), is ``1 - write / tau - tau / (2 * mtbf) = 1 - sqrt(2 * write /
  mtbf)``, and at the stated interval ``1 - write / interval - interval / (2 * mtbf)``.

Every time is an interval when the flow's rate is (see :class:`~topodsl.solvers.dataflow.
UniformFlowResult`); the figures derived from it keep the bracket.

:func:`ingest_check` compares the read bandwidth a training loop needs with the rate storage
delivers to every GPU at once (:func:`~topodsl.solvers.dataflow.ingest`).

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> _ = b.add_node("g", "gpu"); _ = b.add_node("sw", "switch")
>>> _ = b.add_node("ssd", "ssd", capacity=4e12, write_bandwidth=4e9, read_bandwidth=8e9)
>>> _ = b.add_node("hdd", "hdd", capacity=20e12, write_bandwidth=1e9, read_bandwidth=1e9)
>>> for a in ("g", "ssd", "hdd"):
...     _ = b.add_link(a, "sw", bandwidth=50e9)
>>> c = checkpoint_cycle(b.build(), 400e9, 3600.0, keep=2, ssd="kind:ssd", mtbf=86400.0)
>>> c.write, c.drain, c.ssd_needed, c.archive_checkpoints, c.shared
((100.0, 100.0), (400.0, 400.0), 1200000000000.0, 50, False)
>>> round(c.young_daly[0], 1), round(c.goodput_young_daly[0], 4)
(4156.9, 0.9519)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SolverError
from ..topology import Topology
from .dataflow import (
    SSD_TIER,
    ScenarioLeg,
    Selection,
    checkpoint_drain,
    checkpoint_write,
    ingest,
)

__all__ = ["CheckpointCycle", "IngestCheck", "checkpoint_cycle", "ingest_check"]

Bracket = tuple[float, float]


@dataclass(frozen=True)
class CheckpointCycle:
    """One checkpoint's life, every time a ``(lower, upper)`` bracket in seconds.

    Attributes
    ----------
    size, interval, keep, mtbf : what was asked (``mtbf`` may be ``None``).
    write : time for the GPUs to write it to the SSD tier (the stall of a synchronous save).
    drain : time to move it from the SSD tier to the HDD tier.
    shared : whether the write and the drain share a link direction or a limited device.
    window : time the drain has per interval (the interval, less the write when shared).
    ssd_needed : bytes the SSD tier must hold, ``(keep + 1) * size``.
    ssd_capacity, archive_capacity : bytes of the two tiers.
    archive_checkpoints : whole checkpoints the HDD tier holds.
    young_daly : Young's interval ``sqrt(2 * write * mtbf)`` (``None`` without an MTBF).
    goodput, goodput_young_daly : useful share of time at the stated interval and at Young's
        (``None`` without an MTBF); lower and upper bounds.
    write_leg, drain_leg : the two flows (rates, bottlenecks).
    """

    size: float
    interval: float
    keep: int
    mtbf: float | None
    write: Bracket
    drain: Bracket
    shared: bool
    window: Bracket
    ssd_needed: float
    ssd_capacity: float
    archive_capacity: float
    archive_checkpoints: int
    young_daly: Bracket | None
    goodput: Bracket | None
    goodput_young_daly: Bracket | None
    write_leg: ScenarioLeg
    drain_leg: ScenarioLeg

    @property
    def stall_fraction(self) -> Bracket:
        """Share of the interval spent writing."""
        return self.write[0] / self.interval, self.write[1] / self.interval

    @property
    def drain_utilisation(self) -> Bracket:
        """Share of the drain's window it needs; above 1 it falls behind."""
        lo = self.drain[0] / self.window[1] if self.window[1] > 0 else math.inf
        hi = self.drain[1] / self.window[0] if self.window[0] > 0 else math.inf
        return lo, hi

    @property
    def archive_retention(self) -> float:
        """Seconds of history the HDD tier holds: its whole checkpoints, an interval apart."""
        return self.archive_checkpoints * self.interval


@dataclass(frozen=True)
class IngestCheck:
    """The read bandwidth a training loop needs against what storage delivers.

    ``need`` (B/s, all GPUs together); ``available`` the ``(lower, upper)`` bracket of the
    rate storage gives every reader at once, times the readers; ``leg`` the flow itself.
    """

    need: float
    available: Bracket
    leg: ScenarioLeg

    @property
    def headroom(self) -> Bracket:
        """``available / need``: above 1 the storage keeps the GPUs fed."""
        return self.available[0] / self.need, self.available[1] / self.need


def checkpoint_cycle(
    topology: Topology,
    size: float,
    interval: float,
    *,
    keep: int = 1,
    sources: Selection = "kind:gpu",
    ssd: Selection = SSD_TIER,
    archive: Selection = "kind:hdd",
    mtbf: float | None = None,
    forwarding: str = "hardware",
) -> CheckpointCycle:
    """The lifecycle of a checkpoint of ``size`` bytes written every ``interval`` seconds.

    Parameters
    ----------
    topology : Topology
    size : bytes per checkpoint (all GPUs together).
    interval : seconds between checkpoints.
    keep : checkpoints kept on the SSD tier.
    sources, ssd, archive : who writes, the SSD tier, the HDD tier (selectors or rows).
    mtbf : mean time between failures (s), for Young's interval; optional.
    forwarding : the forwarding model of the flows (see :mod:`topodsl.solvers.forwarding`).

    Returns
    -------
    CheckpointCycle

    Raises
    ------
    SolverError
        A size, interval, keep or MTBF that is not positive, or a selection the flows refuse.
    """
    for name, v in (("size", size), ("interval", interval), ("keep", keep)):
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise SolverError(f"the checkpoint {name} must be more than zero, got {v!r}")
    if mtbf is not None and not (math.isfinite(mtbf) and mtbf > 0):
        raise SolverError(f"the MTBF must be more than zero, got {mtbf!r}")
    fwd = {"forwarding": forwarding}
    w = checkpoint_write(topology, size, sources, ssd, **fwd).legs[0]
    d = checkpoint_drain(topology, size, ssd, archive, **fwd).legs[0]
    write, drain = _time(w, size), _time(d, size)
    shared = _share_a_path(topology, w, d)
    window = (interval - write[1], interval - write[0]) if shared else (interval, interval)
    window = (max(window[0], 0.0), max(window[1], 0.0))
    ssd_rows, archive_rows = (_rows(topology, x) for x in (ssd, archive))
    ssd_capacity = float(topology.nodes.capacity[ssd_rows].sum())
    archive_capacity = float(topology.nodes.capacity[archive_rows].sum())
    young = goodput = goodput_young = None
    if mtbf is not None:
        young = (math.sqrt(2 * write[0] * mtbf), math.sqrt(2 * write[1] * mtbf))
        goodput = (_goodput(write[1], interval, mtbf), _goodput(write[0], interval, mtbf))
        goodput_young = (1 - math.sqrt(2 * write[1] / mtbf), 1 - math.sqrt(2 * write[0] / mtbf))
    return CheckpointCycle(
        size=float(size), interval=float(interval), keep=int(keep), mtbf=mtbf,
        write=write, drain=drain, shared=shared, window=window,
        ssd_needed=(keep + 1) * float(size), ssd_capacity=ssd_capacity,
        archive_capacity=archive_capacity,
        archive_checkpoints=int(math.floor(archive_capacity / size * (1 + 1e-12))),
        young_daly=young, goodput=goodput, goodput_young_daly=goodput_young,
        write_leg=w, drain_leg=d,
    )  # fmt: skip


def ingest_check(
    topology: Topology,
    need: float,
    sources: Selection = "role:storage",
    sinks: Selection = "kind:gpu",
    forwarding: str = "hardware",
) -> IngestCheck:
    """The read bandwidth ``need`` (B/s, all readers together) against the rate storage gives
    every reader at once (equal shares).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("g", "gpu"); _ = b.add_node("h", "gpu")
    >>> _ = b.add_node("ssd", "ssd", read_bandwidth=10e9); _ = b.add_node("sw", "switch")
    >>> for a in ("g", "h", "ssd"):
    ...     _ = b.add_link(a, "sw", bandwidth=50e9)
    >>> ingest_check(b.build(), 4e9).headroom
    (2.5, 2.5)
    """
    if not (math.isfinite(need) and need > 0):
        raise SolverError(f"the ingest need must be more than zero, got {need!r}")
    fwd = {"forwarding": forwarding}
    leg = ingest(topology, sources, sinks, **fwd).legs[0]
    u = leg.uniform
    return IngestCheck(float(need), (u.total, u.endpoints * max(u.rate_bound, u.rate)), leg)


def _time(leg: ScenarioLeg, size: float) -> Bracket:
    """Time to move ``size`` in equal shares: between the bound's rate and the achieved one."""
    u = leg.uniform
    best = u.endpoints * max(u.rate_bound, u.rate)
    lo = size / best if best > 0 else math.inf
    hi = size / u.total if u.total > 0 else math.inf
    return lo, hi


def _share_a_path(topology: Topology, a: ScenarioLeg, b: ScenarioLeg) -> bool:
    """Whether two legs' flows use one link in the same direction, or one limited device in
    the same direction: entering it through links of one type (a device's limit is taken per
    direction, as for full-duplex NICs; see docs/workloads.md)."""
    fa, fb = a.uniform.flow.flow, b.uniform.flow.flow
    if np.any((fa.link_flow > 0) & (fb.link_flow > 0)):
        return True
    both = np.flatnonzero((fa.device_flow > 0) & (fb.device_flow > 0))
    return any(_entering_types(topology, fa, r) & _entering_types(topology, fb, r) for r in both)


def _entering_types(topology: Topology, flow, row: int) -> set[int]:
    """Types of the links carrying flow into component ``row``."""
    L = topology.links
    into = ((L.dst == row) & (flow.link_flow[:, 0] > 0)) | ((L.src == row) & (
        flow.link_flow[:, 1] > 0))  # fmt: skip
    return set(L.type[into].tolist())


def _goodput(write: float, interval: float, mtbf: float) -> float:
    return 1.0 - write / interval - interval / (2.0 * mtbf)


def _rows(topology: Topology, sel: Selection) -> np.ndarray:
    if isinstance(sel, str):
        return topology.select(sel)
    return np.unique(np.asarray(sel, dtype=np.int64))
