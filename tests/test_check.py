"""Design assertions: parsing, resolution, evaluation against the solvers, statuses, errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import topodsl
from topodsl import ast
from topodsl.analyses.oversubscription import switch_tiers
from topodsl.check import (
    ANALYSES,
    CheckError,
    Measure,
    check,
    compare,
    parse_assertion,
)
from topodsl.errors import TopoSyntaxError
from topodsl.solvers.flow import max_flow
from topodsl.units import BANDWIDTH, COUNT, SIZE, TIME

LINKS = """
link nvl  { bandwidth = 25 GB/s, latency = 100 ns }
link eth  { bandwidth = 400 Gb/s, latency = 600 ns }
link pcie { bandwidth = 64 GB/s, latency = 100 ns }
"""

# Two boxes of two GPUs on a two-leaf, one-spine network. Every figure below is worked by hand.
POD = (
    LINKS
    + """
const NODES = 2
def node Box {
    gpu gpu[2] { bandwidth = 1 TB/s }
    hbm mem[2] { capacity = 80 GB, bandwidth = 2 TB/s, latency = 100 ns }
    nic nic[2] { bandwidth = 400 Gb/s }
    connect gpu[i] -- mem[i] via pcie
    connect gpu[0] -- gpu[1] via nvl x4
    connect gpu[i] -- nic[i] via pcie
    assert count(gpu) == 2
}
cluster pod {
    Box node[NODES]
    switch leaf[2] { ports = 8 }
    switch spine { ports = 8 }
    connect node[*].nic[r] -- leaf[r] via eth
    connect leaf[*] -- spine via eth
    assert pod_flow: flow(node[0].gpu[0] -> node[1].gpu[0]) >= 50 GB/s
}
assert count(kind:gpu) == NODES * 2
"""
)


def load(text: str, file: str = "design.topo") -> topodsl.Topology:
    return topodsl.loads(text, file=file)


@pytest.fixture(scope="module")
def pod() -> topodsl.Topology:
    return load(POD)


def one(t: topodsl.Topology, expr: str, **kw):
    """The result of one command-line assertion."""
    return check(t, [expr], **kw).results[-1]


# -- syntax --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "bisection(pod.node[*].gpu[*]) >= 25.6 TB/s",
        "flow(storage[*].ssd[*] -> pod.node[*].gpu[*]) >= 1 TB/s",
        "checkpoint(2 TB, from pod.node[*].gpu[*], to storage[*].ssd[*]) <= 60 s",
        "reach(pod.node[0].gpu[0], within 1 us).capacity >= 1 TiB",
        "count(gpu) == 256",
        "count(kind:gpu) == 256",
        "oversubscription(leaf[*]) <= 3",
        "ports_used(leaf[0]) <= 64",
    ],
)
def test_the_issues_example_assertions_parse(text: str) -> None:
    a = parse_assertion(text)
    assert a.text == text and a.name is None


def test_assertion_syntax_nodes() -> None:
    a = parse_assertion("assert ckpt: checkpoint(2 TB, from a[*], to b[*]) <= 60 s")
    assert a.name == "ckpt" and a.op == "<="
    call = a.left
    assert isinstance(call, ast.Call) and call.func == "checkpoint"
    assert [type(x).__name__ for x in call.args] == ["Number", "KeywordArg", "KeywordArg"]
    assert [x.name for x in call.args[1:]] == ["from", "to"]
    d = parse_assertion("flow(a -> b) > 1 GB/s").left.args[0]
    assert isinstance(d, ast.Direction) and d.op == "->"
    m = parse_assertion("reach(g, within 1 us).capacity >= 1 TiB").left
    assert isinstance(m, ast.Member) and m.name == "capacity" and m.value.func == "reach"


def test_parse_assertion_rejects_a_non_assertion() -> None:
    with pytest.raises(TopoSyntaxError) as e:
        parse_assertion("count(gpu) = 8")
    assert "<assert>:1:" in str(e.value)


# -- comparing uncertain figures -----------------------------------------------------------------


def bw(lo: float, hi: float | None = None) -> Measure:
    return Measure(lo, lo if hi is None else hi, BANDWIDTH)


@pytest.mark.parametrize(
    "op, threshold, expected",
    [
        (">=", 20, "pass"),  # proven by the lower bound
        (">=", 25, "unproven"),  # between the bounds
        (">=", 28, "unproven"),  # at the upper bound: not refuted
        (">=", 29, "fail"),  # refuted by the upper bound
        (">", 20, "unproven"),
        (">", 19, "pass"),
        (">", 28, "fail"),
        ("<=", 28, "pass"),
        ("<=", 20, "unproven"),
        ("<=", 19, "fail"),
        ("<", 29, "pass"),
        ("<", 20, "fail"),
        ("==", 24, "unproven"),
        ("==", 30, "fail"),
        ("!=", 30, "pass"),
        ("!=", 24, "unproven"),
    ],
)
def test_compare_proves_with_one_bound_and_refutes_with_the_other(op, threshold, expected) -> None:
    assert compare(op, bw(20e12, 28e12), bw(threshold * 1e12)) == expected


def test_compare_exact_figures_and_tolerance() -> None:
    # 25.6 TB/s written in a file must equal the same figure summed from link bandwidths.
    summed = sum([0.1] * 10) * 25.6e12
    assert summed != 25.6e12
    assert compare(">=", bw(summed), bw(25.6e12)) == "pass"
    assert compare("==", bw(summed), bw(25.6e12)) == "pass"
    assert compare(">", bw(summed), bw(25.6e12)) == "fail"
    assert compare("!=", bw(1.0), bw(2.0)) == "pass"
    assert compare("!=", bw(1.0), bw(1.0)) == "fail"


def test_measure_format_and_dict() -> None:
    m = Measure(1.8e12, 2.4e12, BANDWIDTH)
    assert m.format() == "1.8 TB/s .. 2.4 TB/s" and not m.exact
    assert m.to_dict() == {"value": None, "lower": 1.8e12, "upper": 2.4e12, "unit": "B/s"}
    assert Measure(8, 8, COUNT).to_dict() == {"value": 8, "lower": 8, "upper": 8, "unit": ""}
    assert Measure(60, 60, TIME).format() == "60 s"
    assert Measure(2**40, 2**40, SIZE).format() == "1.1 TB"


# -- the file's own assertions -------------------------------------------------------------------


def test_file_assertions_in_source_order_with_scopes_and_instances(pod) -> None:
    report = check(pod)
    got = [(r.name, r.span.line, r.status, r.scope, r.instances) for r in report.results]
    lines = POD.splitlines()

    def line(text: str) -> int:
        return next(k for k, s in enumerate(lines, 1) if text in s)

    assert got == [
        ("count(gpu) == 2", line("assert count(gpu)"), "pass", "pod.node0", 2),
        ("pod_flow", line("assert pod_flow"), "pass", "pod", 1),
        ("count(kind:gpu) == NODES * 2", line("assert count(kind:gpu)"), "pass", "", 1),
    ]
    assert report.exit_code() == 0
    flow = report.results[1]
    # Only through gpu0's own 400 Gb/s NIC: 50 GB/s. The second NIC of each box is reached
    # over NVLink through gpu1, and GPUs do not relay.
    assert flow.measured == Measure(50e9, 50e9, BANDWIDTH)
    assert flow.threshold == Measure(50e9, 50e9, BANDWIDTH)
    assert flow.analysis == "flow" and flow.op == ">="
    # With the ideal ceiling both NICs carry it (2 x 50 GB/s), and the check says why.
    ideal = check(pod, options={"forwarding": "ideal"}).results[1]
    assert ideal.measured == Measure(100e9, 100e9, BANDWIDTH)
    assert any("relayed through pod.node0.gpu1, pod.node1.gpu1" in n for n in ideal.notes)


def test_relative_paths_resolve_in_the_assertions_component() -> None:
    text = (
        LINKS
        + """
    cluster pod {
        node n[3] { gpu g[2] }
        gpu g[1]
        assert count(n[*].g[*]) == 6      # pod.n*.g*
        assert count(g[*]) == 1           # pod.g0, not the top-level g
        assert count(top[*]) == 4         # not in pod: found one level out
        assert count(gpu) == 7            # a bare kind name: GPUs inside pod
        assert count(kind:gpu) == 7       # kind selectors stay inside pod too
        assert count(n) == 3              # an array named without an index
        assert count("pod.n*.g1") == 3    # a string is a selector from the top
    }
    gpu top[4]
    gpu g[5]
    """
    )
    report = check(load(text))
    assert [(r.text, r.status, r.measured.lower) for r in report.results] == [
        ("count(n[*].g[*]) == 6", "pass", 6),
        ("count(g[*]) == 1", "pass", 1),
        ("count(top[*]) == 4", "pass", 4),
        ("count(gpu) == 7", "pass", 7),
        ("count(kind:gpu) == 7", "pass", 7),
        ("count(n) == 3", "pass", 3),
        ('count("pod.n*.g1") == 3', "pass", 3),
    ]
    # At the top level a bare kind name counts everything.
    assert one(load(text), "count(gpu) == 16").status == "pass"


def test_constants_indices_and_ranges(pod) -> None:
    assert one(pod, "count(pod.node[0..NODES - 1].gpu[1]) == NODES").status == "pass"
    r = one(pod, "count(pod.node[NODES - 1].gpu[*]) == 2")
    assert r.status == "pass"


def test_assertion_in_a_definition_holds_for_every_instance() -> None:
    text = (
        LINKS
        + """
    def node Box(n = 2) { gpu g[n]; assert count(g[*]) == 2 }
    cluster c { Box a[2]; Box(n = 3) b }
    """
    )
    r = check(load(text)).results[0]
    assert r.status == "fail" and r.instances == 3 and r.scope == "c.b"
    assert r.measured.lower == 3
    # Above the cap one instance per distinct definition-and-arguments is evaluated.
    r = check(load(text), max_instances=2).results[0]
    assert (r.instances, r.evaluated, r.status) == (3, 2, "fail")
    assert any("evaluated on 2 of 3 instances" in n for n in r.notes)


# -- structural analyses -------------------------------------------------------------------------


def test_capacity_sums_the_selection_and_what_is_inside(pod) -> None:
    assert one(pod, "capacity(kind:hbm) == 320 GB").status == "pass"
    assert one(pod, "capacity(pod.node[0]) == 160 GB").status == "pass"
    # A GPU holds no bytes itself; its HBM sits beside it here.
    assert one(pod, "capacity(pod.node[0].gpu[0]) == 0 B").status == "pass"
    # No component of a kind is an answer, not a misspelling.
    assert one(pod, "capacity(kind:ssd) == 0 B").status == "pass"
    assert one(pod, "count(cpu) == 0").status == "pass"


def test_ports_used_and_free(pod) -> None:
    r = one(pod, "ports_used(pod.leaf[*]) <= 3")
    # Each leaf: 2 NIC links + 1 spine link.
    assert r.status == "pass" and r.measured.lower == 3
    r = one(pod, "ports_free(pod.spine) >= 7")
    assert r.status == "fail" and r.measured.lower == 6
    assert any("pod.spine" in n for n in r.notes)


def test_oversubscription_is_downlink_over_uplink_bandwidth() -> None:
    text = (
        LINKS
        + """
    cluster c {
        nic h[8] { bandwidth = 400 Gb/s }
        switch leaf[2]
        switch spine
        connect h[i] -- leaf[i % 2] via eth     # 4 hosts per leaf: 200 GB/s down
        connect leaf[*] -- spine via eth x2     # 100 GB/s up
    }
    """
    )
    t = load(text)
    tiers = switch_tiers(t)
    assert [tiers[t.index(x)] for x in ("c.h0", "c.leaf0", "c.spine")] == [0, 1, 2]
    r = one(t, "oversubscription(c.leaf[*]) <= 2")
    assert r.status == "pass" and r.measured.lower == pytest.approx(2.0)
    assert one(t, "oversubscription(c.leaf[*]) < 2").status == "fail"
    # The spine has no uplink: asking about it alone is an input error.
    r = one(t, "oversubscription(c.spine) <= 1", raise_errors=False)
    assert r.status == "error" and "uplinks" in r.diagnostics[0].message


def test_oversubscription_with_storage_on_the_spine_and_named_uplinks() -> None:
    # Storage nodes hang off the spine: they must not make the spine look like a leaf.
    text = (
        LINKS
        + """
    cluster c {
        nic h[4] { bandwidth = 400 Gb/s }
        switch leaf
        switch agg[2]
        switch core
        storage_node st { ssd d; nic n }
        connect h[*] -- leaf via eth            # 200 GB/s down
        connect leaf -- agg[*] via eth          # 100 GB/s up
        connect agg[*] -- core via eth x4       # 200 GB/s up per agg, 50 GB/s down
        connect st.n -- core via eth x8
        connect st.d -- st.n via pcie
    }
    """
    )
    t = load(text)
    tiers = switch_tiers(t)
    assert [tiers[t.index(x)] for x in ("c.leaf", "c.agg0", "c.core")] == [1, 2, 3]
    assert one(t, "oversubscription(c.leaf) == 2").status == "pass"
    assert one(t, "oversubscription(c.agg[*]) == 0.25").status == "pass"
    # Naming the uplinked tier: the leaf's links to agg0 alone as uplinks.
    r = one(t, "oversubscription(c.leaf, to c.agg[0]) == 5")
    assert r.status == "pass" and "250 GB/s down / 50 GB/s up" in r.notes[0]


# -- flows and their cuts ------------------------------------------------------------------------


def test_failing_flow_names_the_limiting_cut() -> None:
    # Two racks joined through one spine; rack b's uplink is the narrow one.
    text = (
        LINKS
        + """
    link thin { bandwidth = 10 GB/s }
    cluster c {
        gpu a[2]
        gpu b[2]
        switch la
        switch lb
        switch spine
        connect a[*] -- la via pcie
        connect b[*] -- lb via pcie
        connect la -- spine via eth x4
        connect lb -- spine via thin
        assert flow(a[*] -> b[*]) >= 100 GB/s
    }
    """
    )
    t = load(text)
    r = check(t).results[0]
    assert r.status == "fail"
    assert r.measured == Measure(10e9, 10e9, BANDWIDTH)
    assert [(c.element, c.source, c.target, c.type, c.bandwidth) for c in r.cut] == [
        ("link", "c.spine", "c.lb", "thin", 10e9)
    ]
    assert r.message() == "measured 10 GB/s per direction, expected >= 100 GB/s"
    assert check(t).exit_code() == 1


def test_flow_value_is_the_max_flow_and_both_spellings_agree(pod) -> None:
    a = one(pod, "flow(pod.node[0].gpu[*] -> pod.node[1].gpu[*]) >= 1 GB/s")
    b = one(pod, "flow(from pod.node[0].gpu[*], to pod.node[1].gpu[*]) >= 1 GB/s")
    expect = max_flow(pod, pod.select("pod.node0.gpu*"), pod.select("pod.node1.gpu*"))
    assert a.measured.lower == b.measured.lower == expect.value == 100e9
    assert a.cut == b.cut
    key = [(c.element, c.row, c.source, c.target, c.bandwidth) for c in a.cut]
    assert sorted(key) == sorted((c.element, c.row, c.source, c.target, c.bandwidth)
                                 for c in expect.cut)  # fmt: skip


def test_arithmetic_on_figures_keeps_units_and_intervals(pod) -> None:
    # The flow is gpu0's own NIC, 50 GB/s (see the file's assertions).
    assert one(pod, "flow(pod.node[0].gpu[0] -> pod.node[1].gpu[0]) / 2 == 25 GB/s").status == (
        "pass"
    )
    r = one(pod, "25 GB/s * 2 <= flow(pod.node[0].gpu[0] -> pod.node[1].gpu[0])")
    # The analysis is put on the measured side and the comparison mirrored.
    assert r.status == "pass" and r.op == ">=" and r.analysis == "flow"
    assert r.measured.lower == 50e9 and r.threshold.lower == 50e9
    r = one(pod, "capacity(kind:hbm) / count(kind:gpu) == 80 GB")
    assert r.status == "pass" and r.measured.dim == SIZE
    assert one(pod, "min(capacity(kind:hbm), 1 TB) == 320 GB").status == "pass"
    assert one(pod, "2 TB / flow(pod.node[0].gpu[0] -> pod.node[1].gpu[0]) <= 40 s").status == (
        "pass"
    )


def test_command_line_assertions_come_last_at_a_pseudo_file(pod) -> None:
    report = check(pod, ["assert big: count(kind:gpu) >= 100"])
    r = report.results[-1]
    assert (r.name, r.text, r.origin, r.status) == (
        "big",
        "count(kind:gpu) >= 100",
        "command line",
        "fail",
    )
    assert str(r.span) == "<assert 1>:1:1"
    assert report.exit_code() == 1


# -- input errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, message, col",
    [
        ("bisectoin(kind:gpu) >= 1 TB/s", "unknown analysis 'bisectoin'", 8),
        ("count(kind:gpu) >= 1 TB", "cannot compare a plain number with a size", 8),
        ("capacity(kind:hbm) >= 1 us", "cannot compare a size with a latency or time", 8),
        ("count(nothere[*]) == 1", "the selection nothere[*] matches no component", 14),
        ("count(kind:gpx) == 1", "unknown kind 'gpx'", 14),
        ("flow(pod.node[0].gpu[0] -- pod.node[1].gpu[0]) >= 1 GB/s", "with '->'", 13),
        ("flow(pod.node[0].gpu[0]) >= 1 GB/s", "takes at most 0 plain argument(s)", 13),
        ("flow(from pod.node[0].gpu[0]) >= 1 GB/s", "needs 'to' components", 8),
        ("count(kind:gpu) == GPUS", "unknown name 'GPUS'", 27),
        ("kind:gpu == 4", "names components, not a figure", 8),
        ("count(kind:gpu, within 1 us) == 4", "takes no 'within' argument", 24),
        ("reach(pod.node[0].gpu[0], within 1 GB) .capacity >= 1 GB", "latency budget", 41),
        ("count(kind:gpu) / 0 == 1", "division by zero", 8),
        ("flow(pod.node[*].gpu[*] -> pod.node[0].gpu[0]) > 1 GB/s", "overlap", 8),
    ],
)
def test_meaningless_assertions_are_input_errors_at_their_column(pod, expr, message, col) -> None:
    with pytest.raises(CheckError) as e:
        check(pod, [expr])
    d = e.value.diagnostics[0]
    assert message in d.message
    assert (d.span.file, d.span.line, d.span.col) == ("<assert 1>", 1, col)
    assert "^" in d.render() and d.render().splitlines()[1].strip().startswith("assert")


def test_errors_point_into_the_file_and_are_collected() -> None:
    text = LINKS + "cluster c { gpu g[2]\n  assert count(x[*]) == 1\n}\nassert cuont(g) == 1\n"
    t = load(text)
    with pytest.raises(CheckError) as e:
        check(t)
    msgs = [(str(d.span), d.message, d.hint) for d in e.value.diagnostics]
    assert msgs[0][0] == "design.topo:6:16" and "matches no component in c" in msgs[0][1]
    assert msgs[1][:2] == ("design.topo:8:8", "unknown analysis 'cuont'")
    assert msgs[1][2] == "did you mean 'count'?"
    # Collected instead of raised: the other assertions still have their results.
    report = check(t, ["count(kind:gpu) == 2"], raise_errors=False)
    assert [r.status for r in report.results] == ["error", "error", "pass"]
    assert report.exit_code() == 2


def test_unit_mismatch_hint_names_a_unit(pod) -> None:
    r = one(pod, "flow(pod.node[0].gpu[0] -> pod.node[1].gpu[0]) >= 60 s", raise_errors=False)
    d = r.diagnostics[0]
    assert d.message == "cannot compare a bandwidth with a latency or time"
    assert d.hint == "write the threshold as a bandwidth, e.g. in GB/s"


# -- output is data ------------------------------------------------------------------------------


def test_report_is_deterministic_and_json_ready(pod) -> None:
    import json

    a = json.dumps(check(pod, ["count(kind:nic) == 4"]).to_dict(), sort_keys=False)
    b = json.dumps(check(load(POD), ["count(kind:nic) == 4"]).to_dict(), sort_keys=False)
    assert a == b
    d = json.loads(a)
    assert d["summary"] == {"pass": 4, "unproven": 0, "fail": 0, "error": 0}
    flow = d["assertions"][1]
    assert flow["measured"] == {"value": 50e9, "lower": 50e9, "upper": 50e9, "unit": "B/s"}
    assert {c["element"] for c in flow["cut"]} == {"device"}


def test_every_analysis_has_a_signature_and_help() -> None:
    for name, a in ANALYSES.items():
        assert a.signature.startswith(name + "(") and a.help
    assert {
        "count",
        "capacity",
        "ports_used",
        "ports_free",
        "oversubscription",
        "flow",
        "reach",
    } <= set(ANALYSES)


def test_infinite_and_nan_never_reach_json(pod) -> None:
    m = Measure(math.inf, math.inf, BANDWIDTH)
    assert m.to_dict()["value"] == "inf" and m.format() == "unlimited"


# -- bisection: proven by the lower bound, refuted by the upper ----------------------------------

# Four servers on rails: any balanced split of the 16 GPUs sends at most the 8 NICs of one
# half's servers, 8 x 50 GB/s = 400 GB/s (the upper bound).
RAILS = """
link nvlink4 { bandwidth = 25 GB/s }
link pcie5   { bandwidth = 64 GB/s }
link eth400  { bandwidth = 400 Gb/s }
def node Server {
    gpu gpu[4] { bandwidth = 3.35 TB/s }
    nvswitch nvs
    nic nic[4] { bandwidth = 400 Gb/s }
    connect gpu[*] -- nvs via nvlink4 x18
    connect gpu[i] -- nic[i] via pcie5
}
cluster pod {
    Server node[4]
    switch leaf[4]
    switch spine[2]
    connect node[*].nic[r] -- leaf[r] via eth400
    connect leaf[*] -- spine[*] via eth400 x2
}
"""


def test_bisection_assertions_use_the_solvers_bounds() -> None:
    from topodsl.solvers.bisection import bisection

    t = load(RAILS)
    r = bisection(t, t.select("pod.node*.gpu*"))
    lo, hi = r.lower_bound, r.upper_bound
    assert hi == 400e9
    res = one(t, "bisection(pod.node[*].gpu[*]) >= 400 GB/s", raise_errors=False)
    assert res.measured == Measure(lo, hi, BANDWIDTH) and res.analysis == "bisection"
    assert [(c.element, c.bandwidth) for c in res.cut] == [(c.element, c.bandwidth) for c in r.cut]
    assert one(t, "bisection(pod.node[*].gpu[*]) >= 401 GB/s").status == "fail"
    assert one(t, f"bisection(pod.node[*].gpu[*]) >= {lo / 1e9:.6f} GB/s").status == "pass"
    assert one(t, "bisection(pod.node[*].gpu[*]).upper == 400 GB/s").status == "pass"
    assert one(t, "bisection().upper == 400 GB/s").status == "pass"  # default: every GPU


# 32 GPUs on a ring with chords to the 7th neighbour: no structure the solver recognises, too
# many for exhaustive search, so its bounds need not meet.
CHORDS = """
link nvlink4 { bandwidth = 25 GB/s }
cluster ring {
    gpu g[32]
    connect g[i] -- g[(i + 1) % 32] via nvlink4 x2
    connect g[i] -- g[(i + 7) % 32] via nvlink4 x2
}
"""


def test_a_threshold_between_the_bounds_is_unproven() -> None:
    from topodsl.solvers.bisection import bisection

    t = load(CHORDS)
    r = bisection(t)
    if r.exact:
        pytest.skip("the solver now proves this bisection exactly; no unproven case here")
    mid = f"{(r.lower_bound + r.upper_bound) / 2e9:.6f} GB/s"
    res = one(t, f"bisection(ring.g[*]) >= {mid}")
    assert res.status == "unproven" and "unproven" in res.message()
    assert res.measured == Measure(r.lower_bound, r.upper_bound, BANDWIDTH)
    assert check(t, [f"bisection() >= {mid}"]).exit_code("fail") == 1
    assert check(t, [f"bisection() >= {mid}"]).exit_code("pass") == 0
    assert one(t, f"bisection() <= {mid}").status == "unproven"


def test_unproven_status_from_a_bound_pair(monkeypatch) -> None:
    import topodsl.solvers.bisection as solver
    from topodsl.solvers.flow import CutItem

    real = solver.bisection

    def loose(topology, endpoints=None, **kw):
        r = real(topology, endpoints, **kw)
        # The same witness, with a certificate half as strong.
        import dataclasses

        return dataclasses.replace(
            r, lower_bound=r.upper_bound / 2, exact=False, lower_method="test"
        )

    monkeypatch.setattr(solver, "bisection", loose)
    t = load(RAILS)
    got = {e: one(t, f"bisection() >= {e}").status for e in ("200 GB/s", "300 GB/s", "401 GB/s")}
    assert got == {"200 GB/s": "pass", "300 GB/s": "unproven", "401 GB/s": "fail"}
    r = one(t, "bisection() >= 300 GB/s")
    assert r.measured.format() == "200 GB/s .. 400 GB/s"
    assert all(isinstance(c, CutItem) for c in r.cut) and r.cut
    assert any("lower bound 200 GB/s (test)" in n for n in r.notes)
    # Proven by the lower bound: half of it, through interval arithmetic, still holds.
    assert one(t, "bisection() / 2 >= 100 GB/s").status == "pass"
    assert one(t, "bisection() <= 400 GB/s").status == "pass"
    assert one(t, "bisection() <= 300 GB/s").status == "unproven"
    assert one(t, "bisection() < 200 GB/s").status == "fail"


def test_bisection_needs_two_endpoints(pod) -> None:
    r = one(pod, "bisection(pod.node[0].gpu[0]) >= 1 GB/s", raise_errors=False)
    assert r.status == "error" and "at least two endpoints" in r.diagnostics[0].message


# -- data-path scenarios -------------------------------------------------------------------------

# Two GPUs, each with its own NIC into one switch; a storage node with two SSDs (read 7 GB/s,
# write 4 GB/s) and two HDDs (write 0.25 GB/s); a CXL expander on GPU 0's side.
STORAGE = (
    LINKS
    + """
cluster c {
    node n {
        gpu g[2]
        nic nic[2] { bandwidth = 400 Gb/s }
        cxl_memory m { capacity = 512 GB, bandwidth = 60 GB/s }
        connect g[i] -- nic[i] via pcie
        connect g[0] -- m via pcie
    }
    switch sw
    storage_node st {
        ssd d[2] { capacity = 4 TB, read_bandwidth = 7 GB/s, write_bandwidth = 4 GB/s }
        hdd h[2] { capacity = 20 TB, write_bandwidth = 250 MB/s, read_bandwidth = 250 MB/s }
        nic nic { bandwidth = 400 Gb/s }
        connect d[*] -- nic via pcie
        connect h[*] -- nic via pcie
    }
    connect n.nic[*] -- sw via eth
    connect sw -- st.nic via eth
}
"""
)


@pytest.fixture(scope="module")
def storage() -> topodsl.Topology:
    return load(STORAGE)


def test_checkpoint_time_is_limited_by_ssd_writes(storage) -> None:
    # 2 SSDs x 4 GB/s = 8 GB/s for both GPUs together: 80 GB lands in 10 s.
    r = one(storage, "checkpoint(80 GB, from c.n.g[*], to c.st.d[*]) <= 10 s")
    assert r.status == "pass" and r.measured == Measure(10.0, 10.0, TIME)
    assert r.analysis == "checkpoint"
    assert [(c.source, c.limit) for c in r.cut] == [
        ("c.st.d0", "write_bandwidth"),
        ("c.st.d1", "write_bandwidth"),
    ]
    assert one(storage, "checkpoint(80 GB, from c.n.g[*], to c.st.d[*]) < 10 s").status == "fail"
    # Defaults: every GPU and every SSD where the assertion stands.
    r = one(storage, "checkpoint(80 GB).rate == 4 GB/s")
    assert r.status == "pass" and "from kind:gpu (2)" in r.notes
    assert one(storage, "checkpoint(80 GB).throughput == 8 GB/s").status == "pass"


def test_ingest_rate_per_gpu_and_drain_time(storage) -> None:
    # Reading: SSDs 7 + 7 and HDDs 0.25 + 0.25 = 14.5 GB/s for two GPUs: 7.25 GB/s each.
    r = one(storage, "ingest() == 7.25 GB/s")
    assert r.status == "pass" and r.analysis == "ingest"
    assert one(storage, "ingest(from c.st.d[*]).throughput == 14 GB/s").status == "pass"
    assert one(storage, "ingest(29 GB, from c.st.d[*]).time > 2 s").status == "pass"
    # Draining 1 TB spread over the SSDs to two HDDs writing 250 MB/s each: 2000 s.
    r = one(storage, "drain(1 TB) == 2000 s")
    assert r.status == "pass"
    assert {c.limit for c in r.cut} == {"write_bandwidth"}


def test_spill_both_ways(storage) -> None:
    # GPU 0 reaches the expander over 64 GB/s PCIe, capped by the expander's own 60 GB/s;
    # GPU 1 reaches it through its NIC, the switch and GPU 0: with equal shares, 30 GB/s each.
    r = one(storage, "spill(from c.n.g[0]).rate == 60 GB/s")
    assert r.status == "pass" and r.analysis == "spill"
    assert one(storage, "spill(from c.n.g[0]).fetch_rate == 60 GB/s").status == "pass"
    assert one(storage, "spill(120 GB, from c.n.g[0]).time == 2 s").status == "pass"
    r = one(storage, "spill().rate == 30 GB/s")
    assert r.status == "pass" and [c.source for c in r.cut] == ["c.n.m"]


def test_flow_honours_read_and_write_bandwidths(storage) -> None:
    assert one(storage, "flow(c.st.d[*] -> c.n.g[*]) == 14 GB/s").status == "pass"
    r = one(storage, "flow(c.n.g[*] -> c.st.d[*]) == 8 GB/s")
    assert r.status == "pass"
    assert {(c.element, c.limit) for c in r.cut} == {("device", "write_bandwidth")}


@pytest.mark.parametrize(
    "expr, message",
    [
        ("checkpoint(from c.n.g[*]) <= 1 s", "checkpoint() needs size"),
        ("checkpoint(2 TB/s) <= 1 s", "must be a size, got a bandwidth"),
        ("drain(1 TB, from c.st.d[*], to c.st.d[0]) <= 1 s", "selections overlap"),
        ("spill(1 TB, to c.n.g[0]) >= 1 GB/s", "selections overlap"),
        ("checkpoint(1 TB, to kind:hbm) <= 1 s", "matches no component"),
        ("checkpoint(1 TB) <= 1 GB/s", "cannot compare a latency or time with a bandwidth"),
        ("ingest(1 TB).tme >= 1 s", "did you mean 'time'"),
        ("ingest().time >= 1 s", "has no figure 'time'"),
    ],
)
def test_scenario_input_errors(storage, expr, message) -> None:
    r = one(storage, expr, raise_errors=False)
    d = r.diagnostics[0]
    assert r.status == "error" and message in d.message + " " + (d.hint or "")


# -- memory reach --------------------------------------------------------------------------------


def test_reach_capacity_within_a_latency_budget(pod) -> None:
    # GPU 0 of box 0: its own HBM at 100 ns link + 100 ns access = 200 ns; its neighbour's
    # one NVLink hop further, 300 ns; box 1's over two 600 ns Ethernet hops, 1.6 us and more.
    cases = {
        "reach(pod.node[0].gpu[0], within 250 ns).capacity == 80 GB": "pass",
        "reach(pod.node[0].gpu[0], within 300 ns).capacity == 160 GB": "pass",
        "reach(pod.node[0].gpu[0], within 300 ns).memories == 2": "pass",
        "reach(pod.node[0].gpu[0], within 1 us).capacity >= 1 TiB": "fail",
        "reach(pod.node[0].gpu[0]).capacity == 320 GB": "pass",
    }
    assert {e: one(pod, e).status for e in cases} == cases
    # Over several elements: the least any of them reaches, named.
    r = one(pod, "reach(pod.node[*].gpu[*], within 250 ns).capacity == 80 GB")
    assert r.status == "pass" and r.analysis == "reach"
    assert r.notes == ("least: pod.node0.gpu0 of 4 elements",)
    # Inside the box definition, without naming the elements: every compute element there.
    text = POD.replace("assert count(gpu) == 2", "assert reach(within 300 ns).capacity == 160 GB")
    res = [x for x in check(load(text)).results if x.analysis == "reach"]
    assert [(x.status, x.instances) for x in res] == [("pass", 2)]


# -- never a traceback ---------------------------------------------------------------------------

_ATOMS = st.sampled_from([
    "1", "0", "2.5", "25.6 TB/s", "60 s", "1 TiB", "80 GB", "400 Gb/s", "NODES", "nope",
    "kind:gpu", "kind:hbm|dram", "role:memory", '"pod.node*.gpu*"', "pod.node[*].gpu[*]",
    "node[0].gpu[9]", "gpu", "pod.leaf[0..1]", "pod.spine",
])  # fmt: skip
_FUNCS = st.sampled_from(sorted(ANALYSES) + ["min", "max", "abs", "bogus"])
_FIELDS = st.sampled_from(["", ".capacity", ".lower", ".upper", ".rate", ".time", ".x"])


def _expr(depth: int = 2):
    if depth == 0:
        return _ATOMS
    sub = _expr(depth - 1)
    arg = st.one_of(
        sub,
        st.tuples(sub, sub).map(lambda p: f"{p[0]} -> {p[1]}"),
        st.tuples(st.sampled_from(["from", "to", "within"]), sub).map(" ".join),
    )
    call = st.tuples(_FUNCS, st.lists(arg, max_size=3), _FIELDS).map(
        lambda c: f"{c[0]}({', '.join(c[1])}){c[2]}"
    )
    binop = st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "%", "**"]), sub).map(" ".join)
    return st.one_of(sub, call, binop)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(left=_expr(), op=st.sampled_from([">=", "<=", "==", "!=", ">", "<"]), right=_expr(1))
def test_any_assertion_is_a_result_or_an_input_error(pod, left, op, right) -> None:
    from topodsl.errors import TopoError

    try:
        report = check(pod, [f"{left} {op} {right}"], raise_errors=False)
    except TopoError as e:  # a syntax error, at the pseudo file
        assert all(d.span is None or d.span.file == "<assert 1>" for d in e.diagnostics)
        return
    r = report.results[-1]
    assert r.status in ("pass", "fail", "unproven", "error")
    if r.status == "error":
        assert r.diagnostics and r.diagnostics[0].render()
    else:
        assert r.measured.dim == r.threshold.dim and r.message()


def test_flow_exact_with_a_unit_that_is_no_power_of_ten() -> None:
    # 3 * 2**40 B/s has no factor of five: the flow core's integer unit is the capacities'
    # common divisor, not a power of ten, and the answer is still exact, so never unproven.
    bw = 3 * 2**40
    t = topodsl.loads(f"cluster c {{ gpu a; gpu b; connect a -- b {{ bandwidth = {bw} B/s }} }}")
    r = check(t, [f"flow(c.a -> c.b) >= {bw} B/s"]).results[-1]
    assert r.status == "pass"
    assert r.measured.lower == r.measured.upper == bw


def test_assertions_in_definitions_see_their_parameters() -> None:
    t = topodsl.loads(
        "def node S(n = 2, cap = 8 GB) { gpu g[n]; hbm h[n] { capacity = cap }\n"
        " assert count(g[*]) == n; assert capacity(h[*]) == n * cap }\n"
        "cluster c { S a; S(n = 3, cap = 16 GB) b }"
    )
    report = check(t)
    assert [(r.status, r.instances) for r in report.results] == [("pass", 2), ("pass", 2)]
    bad = topodsl.loads(
        "def node S(n = 2) { gpu g[3]; assert count(g[*]) == n }\ncluster c { S a }"
    )
    assert check(bad).results[0].status == "fail"
