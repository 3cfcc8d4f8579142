"""Cut rows grouped by array and definition (topodsl/report/cut.py).

Grouping must be exact (every element in exactly one group, a group's bandwidth the sum of its
members', shares adding to 100%) and deterministic (the same groups in the same order whatever
order the elements come in); checked on hand-made cuts, random ones (hypothesis) and the cuts
of the shipped examples through the command line.
"""

from __future__ import annotations

import json
import math
import random

import pytest
from cli_support import run_topodsl
from hypothesis import given, settings
from hypothesis import strategies as st

from topodsl.natural import natural_key
from topodsl.report.cut import cut_lines, cut_table, cut_to_dict, group_cut
from topodsl.solvers.dataflow import Bottleneck
from topodsl.solvers.flow import CutItem


def nic(n: int, k: int, bw: float = 50e9) -> CutItem:
    i = f"pod.node{n}.nic{k}"
    return CutItem("device", 100 * n + k, i, i, bw)


def link(a: str, b: str, bw: float = 50e9, type_: str | None = "eth400", row: int = 0) -> CutItem:
    return CutItem("link", row, a, b, bw, type_)


# -- hand-made cuts ------------------------------------------------------------------------------


def test_the_issue_example_reads_as_one_row_per_array() -> None:
    items = [nic(n, k) for n in range(4) for k in range(8)]
    items += [link("pod.leaf0", f"pod.spine{s}", 100e9, row=s) for s in range(2)]
    cut = group_cut(items)
    assert cut_lines(cut) == [
        "32 x pod.node*.nic* (device limit) at 50 GB/s = 1.6 TB/s, 88.9% of the cut",
        "2 x pod.leaf0 -> pod.spine* (eth400) at 100 GB/s = 200 GB/s, 11.1% of the cut",
    ]


def test_a_single_element_keeps_its_id() -> None:
    cut = group_cut([link("pod.leaf3", "pod.spine12")])
    assert cut_lines(cut) == ["pod.leaf3 -> pod.spine12 (eth400): 50 GB/s, 100.0% of the cut"]
    assert cut.groups[0].source == "pod.leaf3" and cut.groups[0].target == "pod.spine12"


def test_an_index_shared_by_every_member_stays_written() -> None:
    items = [link(f"pod.leaf{k}", "pod.spine0", row=k) for k in range(3)]
    (g,) = group_cut(items).groups
    assert (g.source, g.target, g.count) == ("pod.leaf*", "pod.spine0", 3)


def test_different_arrays_types_limits_and_bandwidths_are_different_groups() -> None:
    items = [
        nic(0, 0),
        nic(0, 1),
        CutItem("device", 7, "pod.node0.snic0", "pod.node0.snic0", 50e9),  # another array
        nic(1, 0, 25e9),  # another bandwidth
        link("a0", "b0", type_="eth400", row=1),
        link("a1", "b1", type_="ndr400", row=2),  # another type
        link("b2", "a2", type_="eth400", row=3),  # the other direction
    ]
    cut = group_cut(items)
    assert len(cut) == 6
    assert sorted(g.count for g in cut.groups) == [1, 1, 1, 1, 1, 2]


def test_storage_limits_are_named_and_kept_apart() -> None:
    def ssd(k: int, limit: str) -> Bottleneck:
        i = f"st.ssd{k}"
        return Bottleneck("device", k, i, i, 4e9, 0.25, limit, None, "ssd")

    items = [ssd(0, "write_bandwidth"), ssd(1, "write_bandwidth"), ssd(2, "bandwidth")]
    lines = cut_lines(group_cut(items))
    assert lines[0] == "2 x st.ssd* (ssd write_bandwidth) at 4 GB/s = 8 GB/s, 66.7% of the cut"
    assert lines[1] == "st.ssd2 (ssd bandwidth): 4 GB/s, 33.3% of the cut"


def test_digits_inside_a_name_are_not_an_index() -> None:
    # Only the digits that end a dotted segment are an array index.
    items = [link("dc.h100x0", "dc.sw", row=0), link("dc.h200x0", "dc.sw", row=1)]
    assert len(group_cut(items)) == 2
    items = [link("dc.h100.gpu0", "dc.sw", row=0), link("dc.h200.gpu0", "dc.sw", row=1)]
    (g,) = group_cut(items).groups
    assert g.source == "dc.h*.gpu0"


def test_hostile_ids_group_without_error() -> None:
    ids = ["a#.b", "a1.b", "a*.b", "a.b1", "", "7", "x" * 1000 + "9", 'q"1', "a..1"]
    items = [CutItem("device", k, i, i, 1e9) for k, i in enumerate(ids)]
    cut = group_cut(items)
    assert sum(g.count for g in cut.groups) == len(ids)
    assert {m.source for g in cut.groups for m in g.members} == set(ids)


def test_members_are_in_natural_order() -> None:
    items = [nic(n, 0) for n in (10, 2, 1, 12, 0)]
    (g,) = group_cut(items).groups
    assert [m.source for m in g.members] == [f"pod.node{n}.nic0" for n in (0, 1, 2, 10, 12)]


def test_shares_add_up_to_100_percent_even_when_rounded() -> None:
    items = [CutItem("device", k, f"x{k}y", f"x{k}y", 1e9) for k in range(3)]
    cut = group_cut(items)
    assert cut.tenths() == (334, 333, 333)
    assert [line.rsplit(", ", 1)[1] for line in cut_lines(cut)] == [
        "33.4% of the cut",
        "33.3% of the cut",
        "33.3% of the cut",
    ]


def test_rows_cap_the_groups_and_the_rest_is_summed_up() -> None:
    items = [CutItem("device", k, f"d{k}x", f"d{k}x", float(10 - k) * 1e9) for k in range(10)]
    lines = cut_table(group_cut(items), rows=3)
    assert lines[-1] == (
        "... and 7 more groups (7 elements, 28 GB/s, 50.9% of the cut; --cut-rows all lists "
        "every group)"
    )
    shares = [line.split()[-1] for line in lines[0].splitlines()[2:]]
    assert shares == ["18.2%", "16.4%", "14.5%"]  # 49.1% + 50.9% = 100%
    assert len(cut_table(group_cut(items), rows=None)[0].splitlines()) == 12
    assert cut_table(group_cut(items), rows=0) == [
        "... and 10 more groups (10 elements, 55 GB/s, 100.0% of the cut; --cut-rows all lists "
        "every group)"
    ]
    assert cut_table(group_cut([])) == [] and cut_lines(group_cut([])) == []


def test_json_caps_the_groups_like_the_elements_and_says_how_many_there_are() -> None:
    items = [CutItem("device", k, f"d{k}x", f"d{k}x", float(10 - k) * 1e9) for k in range(10)]
    items += [nic(n, k) for n in range(3) for k in range(2)]
    cut = group_cut(items)
    d = cut_to_dict(cut, rows=3)
    assert [g["from"] for g in d["cut_groups"]] == [g.source for g in cut.groups[:3]]
    assert d["cut_groups_total"] == len(cut) == 11 and d["cut_total"] == 16
    assert len(d["cut"]) == 3 and {c["group"] for c in d["cut"]} <= {0, 1, 2}
    full = cut_to_dict(cut)
    assert len(full["cut_groups"]) == 11 and "cut_groups_total" not in full
    assert len(full["cut"]) == 16
    # Exactly as many rows as groups: nothing is left out, so no total is added.
    assert "cut_groups_total" not in cut_to_dict(cut, rows=11)
    assert cut_to_dict(cut, rows=0)["cut_groups"] == [] and cut_to_dict(cut, rows=0)["cut"] == []


def test_json_lists_the_first_groups_and_the_first_elements_group_by_group() -> None:
    items = [nic(n, k) for n in range(3) for k in range(2)] + [link("a", "b", 400e9)]
    d = cut_to_dict(group_cut(items), rows=3)
    assert d["cut_total"] == 7
    assert [(g["from"], g["count"], g["bandwidth"]) for g in d["cut_groups"]] == [
        ("a", 1, 400e9),
        ("pod.node*.nic*", 6, 300e9),
    ]
    assert [(c["from"], c["group"]) for c in d["cut"]] == [
        ("a", 0),
        ("pod.node0.nic0", 1),
        ("pod.node0.nic1", 1),
    ]
    every = cut_to_dict(group_cut(items))
    assert len(every["cut"]) == 7 and cut_to_dict(group_cut(items), rows=0)["cut"] == []


# -- random cuts ---------------------------------------------------------------------------------


@st.composite
def cuts(draw) -> list[CutItem]:
    stems = draw(st.lists(st.sampled_from(["pod.node", "pod.leaf", "st", "x.y", "h100.g"]),
                          min_size=1, max_size=3))  # fmt: skip
    n = draw(st.integers(1, 60))
    out = []
    for row in range(n):
        a = f"{draw(st.sampled_from(stems))}{draw(st.integers(0, 12))}"
        a += draw(st.sampled_from(["", ".nic0", f".nic{draw(st.integers(0, 3))}"]))
        bw = float(draw(st.sampled_from([25, 50, 63, 100]))) * 1e9
        if draw(st.booleans()):
            out.append(CutItem("device", row, a, a, bw))
        else:
            b = f"sw{draw(st.integers(0, 4))}"
            out.append(CutItem("link", row, a, b, bw, draw(st.sampled_from(["l1", "l2", None]))))
    return out


@settings(max_examples=300, deadline=None)
@given(cuts(), st.randoms(use_true_random=False))
def test_grouping_is_exact_and_deterministic(items: list[CutItem], rnd: random.Random) -> None:
    cut = group_cut(items)
    members = [m for g in cut.groups for m in g.members]
    assert sorted(id(m) for m in members) == sorted(id(c) for c in items)  # each exactly once
    assert cut.count == len(items) == sum(g.count for g in cut.groups)
    for g in cut.groups:
        assert g.bandwidth == math.fsum(m.bandwidth for m in g.members)
        assert all(m.bandwidth == g.each for m in g.members)
        assert len({(m.element, m.type) for m in g.members}) == 1
        assert [natural_key(m.source) for m in g.members] == sorted(
            natural_key(m.source) for m in g.members
        )
    # Whole-GB/s bandwidths add up exactly in any order.
    assert (
        math.fsum(g.bandwidth for g in cut.groups)
        == cut.total
        == math.fsum(c.bandwidth for c in items)
    )
    assert sum(cut.tenths()) == 1000
    assert [g.bandwidth for g in cut.groups] == sorted((g.bandwidth for g in cut.groups),
                                                       reverse=True)  # fmt: skip
    shuffled = list(items)
    rnd.shuffle(shuffled)
    again = group_cut(shuffled)
    assert cut_lines(again, None) == cut_lines(cut, None)
    assert cut_to_dict(again) == cut_to_dict(cut)


# -- through the command line ------------------------------------------------------------------


def test_cluster_bisection_groups_add_up_to_the_cut() -> None:
    r = run_topodsl("analyze", "bisection", "topologies/cluster_256.topo", "--json",
                    "--cut-rows", "all")  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert len(d["cut"]) == d["cut_total"] == sum(g["count"] for g in d["cut_groups"])
    assert math.fsum(g["bandwidth"] for g in d["cut_groups"]) == d["upper_bound"]
    for i, g in enumerate(d["cut_groups"]):
        mine = [c for c in d["cut"] if c["group"] == i]
        assert len(mine) == g["count"]
        assert math.fsum(c["bandwidth"] for c in mine) == g["bandwidth"]
    text = run_topodsl("analyze", "bisection", "topologies/cluster_256.topo").stdout
    assert "  128  pod.node*.nic*   device limit  50 GB/s  6.4 TB/s         80.0%" in text
    assert "   32  pod.node*.snic*  device limit  50 GB/s  1.6 TB/s         20.0%" in text
    capped = json.loads(run_topodsl("analyze", "bisection", "topologies/cluster_256.topo",
                                    "--json").stdout)  # fmt: skip
    assert len(capped["cut"]) == 20 and capped["cut_groups"] == d["cut_groups"]


@pytest.mark.parametrize("value", ["-1", "many", "2.5"])
def test_a_bad_row_count_is_a_usage_error(value: str) -> None:
    r = run_topodsl("analyze", "bisection", "topologies/small_pod.topo", "--cut-rows", value)
    assert r.returncode == 2 and "--cut-rows" in r.stderr and "Traceback" not in r.stderr
    r = run_topodsl("check", "topologies/small_pod.topo", "--cut-rows", value)
    assert r.returncode == 2 and "--cut-rows" in r.stderr


def test_check_cut_rows_caps_text_and_json() -> None:
    args = ["check", "topologies/cluster_256.topo", "--assert", "bisection() >= 9 TB/s"]
    text = run_topodsl(*args, "--cut-rows", "1").stdout
    assert (
        "      128 x pod.node*.nic* (device limit) at 50 GB/s = 6.4 TB/s, 80.0% of the cut\n"
        in text
    )
    assert (
        "      ... and 1 more group (32 elements, 1.6 TB/s, 20.0% of the cut; --cut-rows all "
        "lists every group)\n" in text
    )
    doc = json.loads(run_topodsl(*args, "--format", "json", "--cut-rows", "5").stdout)
    (a,) = [x for x in doc["files"][0]["assertions"] if x["origin"] == "command line"]
    assert len(a["cut"]) == 5 and a["cut_total"] == 160 and len(a["cut_groups"]) == 2
    assert "cut_groups_total" not in a
    doc = json.loads(run_topodsl(*args, "--format", "json", "--cut-rows", "1").stdout)
    (a,) = [x for x in doc["files"][0]["assertions"] if x["origin"] == "command line"]
    assert len(a["cut"]) == 1 and len(a["cut_groups"]) == 1 and a["cut_groups_total"] == 2


# -- natural order (topodsl/natural.py) ----------------------------------------------------------


def _reference_key(text: str) -> tuple:
    """Natural order written the slow, obvious way: segment by segment, each a list of tokens
    (a number by value before any character), a shorter prefix first, the text as tie-break."""
    import re

    segments = []
    for seg in text.split("."):
        tokens: list[tuple[int, int]] = []
        for part in re.split(r"([0-9]+)", seg):
            if part.isdigit() and part.isascii():
                tokens.append((1, int(part)))
            else:
                tokens += [(2, ord(c)) for c in part]
        segments.append(tokens)
    return (segments, text)


_PRINTABLE = st.text(st.sampled_from("ab_z.09187"), max_size=12)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PRINTABLE, max_size=30))
def test_natural_key_agrees_with_a_reference_order(names: list[str]) -> None:
    assert sorted(names, key=natural_key) == sorted(names, key=_reference_key)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=10), max_size=20))
def test_natural_key_orders_any_text_without_error(names: list[str]) -> None:
    once = sorted(names, key=natural_key)
    assert sorted(reversed(once), key=natural_key) == once  # a total order: input order is moot


def test_a_name_and_the_same_name_with_an_index_sort_together() -> None:
    # The key used to mix numbers and text here and raise TypeError (sw against sw2).
    names = ["pod.sw2", "pod.sw", "pod.sw10", "pod.sw.port1", "pod.sw1.port0", "pod.swa"]
    assert sorted(names, key=natural_key) == [
        "pod.sw", "pod.sw.port1", "pod.sw1.port0", "pod.sw2", "pod.sw10", "pod.swa",
    ]  # fmt: skip


def test_a_design_with_sw_and_sw2_renders_and_reports(tmp_path) -> None:
    (tmp_path / "d.topo").write_text(
        "link l { bandwidth = 50 GB/s }\n"
        "cluster c {\n  switch sw\n  switch sw2\n  gpu g[2]\n"
        "  connect g[0] -- sw via l\n  connect g[1] -- sw2 via l\n  connect sw -- sw2 via l\n}\n"
    )
    r = run_topodsl("render", "d.topo", "-o", "d.dot", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    r = run_topodsl("analyze", "bisection", "d.topo", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
