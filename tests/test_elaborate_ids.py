"""Dotted ids made once at assembly (elaborate/blocks.py ``block_ids``): both of its ways (a
small block's ids kept and prefixed per copy, a large block walked member by member) give
the same ids, in row order, as the containment tree spells them."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import topodsl

blocks = importlib.import_module("topodsl.elaborate.blocks")
TOPOLOGIES = sorted((Path(__file__).resolve().parent.parent / "topologies").glob("*.topo"))


def spelled(t) -> list[str]:
    """Every id as its parent's id, a dot, and its own name (the last dotted part)."""
    ids = t.nodes.ids
    out = []
    for r, p in enumerate(t.nodes.parent.tolist()):
        last = ids[r].rpartition(".")[2]
        out.append(last if p < 0 else f"{out[p]}.{last}")
    return out


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.stem)
def test_walking_every_block_gives_the_ids_of_keeping_them(path, monkeypatch) -> None:
    kept = topodsl.load(path).nodes.ids
    monkeypatch.setattr(blocks, "_KEEP_IDS_ROWS", 0)  # walk every block, keep none
    walked = topodsl.load(path).nodes.ids
    assert walked == kept
    assert len(set(kept)) == len(kept)


def test_a_block_past_the_keep_size_is_walked_and_its_small_members_prefixed() -> None:
    # P has 2 * 40,001 + 1 rows (more than _KEEP_IDS_ROWS): walked; N (3 rows) is kept.
    text = "def node N { gpu g[2] }\ndef pod P { N n[40000]; gpu x }\ncluster c { P p[2] }"
    t = topodsl.loads(text)
    expected = ["c"]
    for k in range(2):
        expected.append(f"c.p{k}")
        for j in range(40000):
            expected += [f"c.p{k}.n{j}", f"c.p{k}.n{j}.g0", f"c.p{k}.n{j}.g1"]
        expected.append(f"c.p{k}.x")
    assert t.nodes.ids == expected
    assert spelled(t) == expected


def test_ids_follow_the_rows_of_members_declared_out_of_order() -> None:
    text = (
        "link l { bandwidth = 1 GB/s }\n"
        "def node S { cpu c; gpu g[3]; connect g[i] -- c via l }\n"
        "cluster k { S b[2]; S a; switch s; connect b[*].g[0] -- s via l }"
    )
    t = topodsl.loads(text)
    assert t.nodes.ids == spelled(t)
    assert t.nodes.ids[:3] == ["k", "k.b0", "k.b0.c"]
    assert [t.nodes.ids[r] for r in t.links.dst[-2:].tolist()] == ["k.s", "k.s"]


def test_lookups_by_id_on_a_large_topology_scan_first_then_build_the_dict() -> None:
    t = topodsl.loads("cluster c { gpu g[100000] }")
    assert t.index("c.g99999") == 100000 and "c.g5" in t and "c.g100000" not in t
    assert "_index" not in t.__dict__  # three scans, no dict of 100,001 ids yet
    for k in range(10):
        assert t.index(f"c.g{k}") == k + 1
    assert "_index" in t.__dict__
    with pytest.raises(topodsl.errors.SolverError, match="no component 'c.x'"):
        t.index("c.x")
