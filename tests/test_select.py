"""Selectors: the tree walk gives exactly what a scan of every id gives."""

from __future__ import annotations

import numpy as np
import pytest

import topodsl
from topodsl.select import SelectorError, _range_matcher, select

SOURCE = """
link l { bandwidth = 1 GB/s }
def node S { gpu gpu[3]; nic nic[2]; hbm h { capacity = 1 GB }
             connect gpu[*] -- nic[*] via l; connect gpu[0] -- h via l }
cluster c { S node[12]; rack r[2..4] { S node[2] } }
cluster d { S node[0..1] }
"""


@pytest.fixture(scope="module")
def topo():
    return topodsl.loads(SOURCE)


def _scan(topo, pattern: str) -> np.ndarray:
    rx, bounds = _range_matcher(pattern)
    return np.array(
        [
            i
            for i, s in enumerate(topo.nodes.ids)
            if (m := rx.fullmatch(s))
            and all(lo <= int(v) <= hi for v, (lo, hi) in zip(m.groups(), bounds, strict=True))
        ],
        dtype=np.int64,
    )


@pytest.mark.parametrize("pattern", [
    "c.node[*].gpu[*]", "c.node*.gpu*", "c.node[3..10].nic[1]", "*.node[0].*", "c.r[*].node[*]",
    "c.r3.node1.gpu2", "?.node1?.gpu?", "d.node[0..1].h", "c.node[11]", "c.node[12]", "c.*",
])  # fmt: skip
def test_walk_equals_scan(topo, pattern: str) -> None:
    assert np.array_equal(select(topo, pattern), _scan(topo, pattern))


def test_deep_wildcards_kinds_and_set_operations(topo) -> None:
    gpus = select(topo, "kind:gpu")
    assert len(gpus) == 3 * (12 + 6 + 2)
    assert np.array_equal(select(topo, "c.**.gpu*"), select(topo, "kind:gpu & c.**"))
    union = select(topo, "c.node0.gpu0, d.node1.nic1")
    assert [topo.nodes.ids[r] for r in union] == ["c.node0.gpu0", "d.node1.nic1"]
    assert len(select(topo, "role:memory & d.**")) == 2


def test_bad_selectors_say_what_is_wrong(topo) -> None:
    with pytest.raises(SelectorError, match="did you mean 'gpu'"):
        select(topo, "kind:gpux")
    with pytest.raises(SelectorError, match="unknown role"):
        select(topo, "role:fast")
    with pytest.raises(SelectorError):
        select(topo, "c.node[")
