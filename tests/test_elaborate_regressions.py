"""Regressions found while writing the example topologies and the language guide."""

from __future__ import annotations

import numpy as np

import topodsl


def test_top_level_constants_are_visible_in_definitions() -> None:
    # A constant of the main file sizes an array inside a definition and sets a link type's
    # bandwidth; before the fix only constants of imported files were global.
    t = topodsl.loads(
        "const CHIPS = 3\n"
        "const LANE = 50 GB/s\n"
        "link l { bandwidth = LANE }\n"
        "def group Tray { nvswitch chip[CHIPS] }\n"
        "def gpu G { hbm stack[CHIPS] { capacity = 8 GB }\n connect self -- stack[*] via l }\n"
        "rack r { Tray sw\n G g }\n"
    )
    assert t.nodes.ids.count("r.sw.chip2") == 1
    assert len(t.rows_of_kind("hbm")) == 3
    assert np.allclose(t.links.bandwidth, 50e9)


def test_package_connected_through_its_chiplets_is_not_reported_unconnected() -> None:
    # An MI300X-style GPU has no links of its own: its dies carry them. Only a compute element
    # with no link anywhere inside it deserves the "not connected" warning.
    t = topodsl.loads(
        "link l { bandwidth = 1 TB/s }\n"
        "def gpu Pkg { die d[2]\n connect d[0] -- d[1] via l }\n"
        "node n { Pkg g[2]\n gpu lonely }\n"
    )
    messages = [w.message for w in t.warnings]
    assert messages == ["n.lonely is not connected to anything"]
