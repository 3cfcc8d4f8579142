"""How each kind of component and each link type looks: shapes, colours, labels.

Colours avoid red, which is kept for the highlighted cut. Memory is drawn as a chip
(``component``), storage as a disk (``cylinder``), switches as hexagons or octagons, NICs as
trapezia, compute as boxes; a collapsed container is a 3-D box and a folded array has a double
border.

>>> KIND_STYLE["hbm"].shape
'component'
>>> link_colors(["pcie5", "nvlink4"])["nvlink4"]
'#1f78b4'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..kinds import KINDS
from ..natural import natural_key

__all__ = [
    "KindStyle",
    "KIND_STYLE",
    "CUT_COLOR",
    "LINK_PALETTE",
    "link_colors",
    "FONT",
]

FONT = "Helvetica"
CUT_COLOR = "#d7191c"


@dataclass(frozen=True, slots=True)
class KindStyle:
    """Graphviz node shape, fill and border colour of one kind; ``tier`` orders the layout
    (lower tiers are drawn higher: network at the top, memory at the bottom)."""

    shape: str
    fill: str
    border: str
    tier: int


KIND_STYLE: dict[str, KindStyle] = {
    "switch": KindStyle("octagon", "#c7eae5", "#01665e", 0),
    "nic": KindStyle("cds", "#f6e8c3", "#8c510a", 1),
    "pcie_switch": KindStyle("hexagon", "#c6dbef", "#08519c", 2),
    "cxl_switch": KindStyle("hexagon", "#dadaeb", "#54278f", 2),
    "nvswitch": KindStyle("hexagon", "#b8e186", "#276419", 3),
    "cpu": KindStyle("box", "#deebf7", "#2171b5", 4),
    "gpu": KindStyle("box", "#d9f0d3", "#1b7837", 4),
    "chiplet": KindStyle("box", "#f0f9e8", "#4d9221", 5),
    "hbm": KindStyle("component", "#fee6ce", "#a63603", 6),
    "dram": KindStyle("component", "#fff7bc", "#995d00", 6),
    "cxl_memory": KindStyle("component", "#efedf5", "#54278f", 6),
    "ssd": KindStyle("cylinder", "#f0f0f0", "#525252", 7),
    "hdd": KindStyle("cylinder", "#d9d9d9", "#252525", 7),
    "node": KindStyle("box3d", "#f7f7f7", "#4d4d4d", 4),
    "rack": KindStyle("box3d", "#fbfbfb", "#737373", 4),
    "pod": KindStyle("box3d", "#ffffff", "#252525", 4),
    "cluster": KindStyle("box3d", "#ffffff", "#000000", 4),
    "storage_node": KindStyle("box3d", "#f0f0f0", "#525252", 7),
    "group": KindStyle("box3d", "#ffffff", "#737373", 4),
}
assert set(KIND_STYLE) == set(KINDS), "every kind needs a style"

#: Edge colours for link types, in order of the sorted type names (no red: red is the cut).
LINK_PALETTE = (
    "#1f78b4",
    "#33a02c",
    "#ff7f00",
    "#6a3d9a",
    "#b15928",
    "#01665e",
    "#8c6d31",
    "#e7298a",
    "#666666",
    "#a6761d",
)
UNTYPED_COLOR = "#404040"


def link_colors(type_names: Iterable[str]) -> dict[str, str]:
    """A colour for each link type, assigned in natural order so it is stable for a file."""
    names = sorted(set(type_names), key=natural_key)
    return {name: LINK_PALETTE[i % len(LINK_PALETTE)] for i, name in enumerate(names)}
