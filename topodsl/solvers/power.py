"""Power and cost: totals of the ``power`` (or ``cost``) attribute by container and by kind.

A figure declared on a component covers everything inside it: ``power = 10.2 kW`` on a DGX
H100 server is what it draws at the wall, GPUs included, so the 700 W of each of its GPUs is a
breakdown, not an addition. The total of a component is therefore its own figure when it has
one, else the sum of its children's totals; the design's total (IT power) is the sum over the
top-level components. A component is *counted* when it has a figure and no component around it
has one; *uncovered* when neither it nor anything around it has one (a switch without a power
figure: the total leaves it out, and the result says how many there are of each kind).

>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder()
>>> _ = b.add_node("rack", "rack")
>>> _ = b.add_node("rack.srv", "node", parent="rack", power=10200.0)
>>> _ = b.add_node("rack.srv.gpu", "gpu", parent="rack.srv", power=700.0)
>>> _ = b.add_node("rack.sw", "switch", parent="rack")
>>> r = attribute_totals(b.build())
>>> r.total, r.counted, r.uncovered, [(c.id, c.total) for c in r.racks]
(10200.0, 1, (('switch', 1),), [('rack', 10200.0)])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SolverError
from ..kinds import KINDS, ROLE_OF
from ..topology import Topology

__all__ = ["KindTotal", "ContainerTotal", "TotalsResult", "attribute_totals", "ATTRIBUTES"]

#: The attributes totalled: name -> what they measure.
ATTRIBUTES = {"power": "power draw (W)", "cost": "purchase cost"}

_CONTAINER_KINDS = tuple(k for k, r in ROLE_OF.items() if r == "container")


@dataclass(frozen=True, slots=True)
class KindTotal:
    """The figures declared on components of one kind: ``declared`` components carry one,
    summing to ``declared_total``; ``counted_total`` is what of it enters the design's total
    (the rest is inside a component whose own figure covers it); ``uncovered`` components of
    the kind have no figure at all."""

    kind: str
    components: int
    declared: int
    declared_total: float
    counted_total: float
    uncovered: int


@dataclass(frozen=True, slots=True)
class ContainerTotal:
    """The total of one component: its own figure, or its children's totals summed."""

    id: str
    kind: str
    total: float
    declared: bool


@dataclass(frozen=True)
class TotalsResult:
    """Totals of one attribute over a topology.

    Attributes
    ----------
    attribute : ``"power"`` (watts) or ``"cost"`` (a plain number in the design's currency).
    total : the design's total (the sum of the counted components' figures).
    counted : how many components' figures make up the total.
    uncovered : ``(kind, count)`` of the non-container components that have no figure and sit
        in no component that has one, most first.
    by_kind : one :class:`KindTotal` per kind present.
    by_container : the top-level components and the containers directly inside them.
    racks : the total of every rack (components of kind ``rack``), highest first.
    gpus : how many GPUs the design has (for figures per GPU).
    """

    attribute: str
    total: float
    counted: int
    uncovered: tuple[tuple[str, int], ...]
    by_kind: tuple[KindTotal, ...]
    by_container: tuple[ContainerTotal, ...]
    racks: tuple[ContainerTotal, ...]
    gpus: int

    @property
    def per_gpu(self) -> float | None:
        """The total divided by the GPUs (``None`` without GPUs)."""
        return self.total / self.gpus if self.gpus else None


def attribute_totals(topology: Topology, attribute: str = "power") -> TotalsResult:
    """Totals of ``attribute`` (``"power"`` or ``"cost"``) by container and by kind.

    Parameters
    ----------
    topology : Topology
    attribute : ``"power"`` or ``"cost"``.

    Returns
    -------
    TotalsResult

    Raises
    ------
    SolverError
        An unknown attribute.
    """
    if attribute not in ATTRIBUTES:
        raise SolverError(f"cannot total {attribute!r}; attributes: {', '.join(ATTRIBUTES)}")
    nodes = topology.nodes
    n = topology.num_nodes
    own = np.zeros(n)
    declared = np.zeros(n, dtype=bool)
    for row, extra in nodes.extra.items():
        if attribute in extra:
            own[row] = float(extra[attribute])
            declared[row] = True
    parent = nodes.parent.astype(np.int64)
    depth = topology.depth
    # Whether some component around each row declares a figure (then the row is inside it).
    covered_above = np.zeros(n, dtype=bool)
    for d in range(1, int(depth.max(initial=0)) + 1):
        rows = np.flatnonzero(depth == d)
        up = parent[rows]
        covered_above[rows] = declared[up] | covered_above[up]
    counted = declared & ~covered_above
    # Each row's total: the figures counted in its subtree, added up level by level.
    total = np.where(counted, own, 0.0)
    for d in range(int(depth.max(initial=0)), 0, -1):
        rows = np.flatnonzero(depth == d)
        rows = rows[~declared[parent[rows]]]
        np.add.at(total, parent[rows], total[rows])
    container = np.isin(nodes.kind, [KINDS.index(k) for k in _CONTAINER_KINDS])
    uncovered = ~declared & ~covered_above & ~container
    kinds = nodes.kind.astype(np.int64)
    by_kind = []
    for code in np.unique(kinds).tolist():
        mask = kinds == code
        by_kind.append(KindTotal(
            KINDS[code], int(mask.sum()), int((mask & declared).sum()),
            float(own[mask & declared].sum()), float(own[mask & counted].sum()),
            int((mask & uncovered).sum()),
        ))  # fmt: skip
    missing = sorted(((k.kind, k.uncovered) for k in by_kind if k.uncovered),
                     key=lambda kv: (-kv[1], kv[0]))  # fmt: skip
    top = np.flatnonzero(parent < 0)
    shown = np.concatenate([top, np.flatnonzero((depth == 1) & container)])
    shown = np.sort(shown)

    def row(r: int) -> ContainerTotal:
        return ContainerTotal(nodes.ids[r], KINDS[int(kinds[r])], float(total[r]),
                              bool(declared[r]))  # fmt: skip

    racks = [row(r) for r in topology.rows_of_kind("rack").tolist()]
    racks.sort(key=lambda c: (-c.total, c.id))
    return TotalsResult(
        attribute=attribute,
        total=float(total[top].sum()),
        counted=int(counted.sum()),
        uncovered=tuple(missing),
        by_kind=tuple(by_kind),
        by_container=tuple(row(r) for r in shown.tolist()),
        racks=tuple(racks),
        gpus=len(topology.rows_of_kind("gpu")),
    )
