"""Helpers several analyses share: containment masks and link lanes per component."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..topology import Topology

__all__ = ["subtree_mask", "lanes_used", "SWITCH_KINDS"]

#: Kinds that forward traffic between links (the tiers of a fabric).
SWITCH_KINDS = ("switch", "nvswitch", "pcie_switch", "cxl_switch")


def subtree_mask(topology: Topology, roots: Sequence[int] | np.ndarray) -> np.ndarray:
    """Boolean mask over rows: the ``roots`` and everything inside them.

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("n", "node"); _ = b.add_node("n.g", "gpu", "n")
    >>> _ = b.add_node("m", "node")
    >>> subtree_mask(b.build(), [0]).tolist()
    [True, True, False]
    """
    parent = topology.nodes.parent
    mask = np.zeros(topology.num_nodes, dtype=bool)
    mask[np.asarray(roots, dtype=np.int64)] = True
    has_parent = parent >= 0
    while True:
        grown = mask.copy()
        grown[has_parent] |= mask[parent[has_parent]]
        if np.array_equal(grown, mask):
            return mask
        mask = grown


def lanes_used(topology: Topology) -> np.ndarray:
    """Link lanes connected to every component (a link ``x4`` counts 4 at each end).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("a", "gpu"); _ = b.add_node("b", "switch")
    >>> _ = b.add_link("a", "b", 1.0, lanes=4)
    >>> lanes_used(b.build()).tolist()
    [4.0, 4.0]
    """
    L = topology.links
    n = topology.num_nodes
    return np.bincount(L.src, weights=L.lanes, minlength=n) + np.bincount(
        L.dst, weights=L.lanes, minlength=n
    )
