"""Design sweeps (topodsl/sweep/): the points, shape reuse against full elaboration, the
table, the Pareto front, the diff of two tables, and the command line.

The Dask path and the executors themselves are in test_executor.py.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from cli_support import run_topodsl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topodsl.errors import ElaborationError, TopoError
from topodsl.executor import SerialExecutor
from topodsl.parser import parse
from topodsl.sweep import diff_tables, plan_sweep, read_table, run_sweep
from topodsl.sweep.pareto import pareto_front
from topodsl.sweep.shapes import (
    Sources,
    _compare,
    build_shape,
    classify,
    elaborate_point,
    same_topology,
    topology_for,
)
from topodsl.sweep.spec import (
    MAX_POINTS,
    ParamSpec,
    RangeValues,
    grid_points,
    parse_param,
    split_values,
)

# A design whose value constants reach every kind of value place: a link type's bandwidth and
# latency, a connection's block, node bandwidth and capacity, a derived constant, assertions
# (one in a definition whose parameter shadows a global name).
DESIGN = """\
const N = 2
const BW = 50 GB/s
const LAT = 100 ns
const CAP = 80 GB
const HALF = BW / 2
link nv { bandwidth = BW, latency = LAT }
link eth { bandwidth = HALF }
def node Box(K = 2) {
    gpu g[K] { bandwidth = BW }
    hbm m[K] { capacity = CAP }
    switch s
    connect g[i] -- m[i] via nv x2
    connect g[*] -- s via eth { latency = LAT }
    assert inside: flow(g[0] -> g[1]) >= HALF
}
def node Other(BW = 10 GB/s) {
    gpu x[2] { bandwidth = BW }
    connect x[0] -- x[1] via nv
    assert own: flow(x[0] -> x[1]) <= BW
}
cluster c {
    Box box[N]
    Other other
    switch top { bandwidth = BW }
    connect box[*].s -- top via eth x4
    assert agg: bisection(box[*].g[*]) >= HALF
    assert mem: capacity(kind:hbm) == N * 2 * CAP
}
"""


@pytest.fixture
def design(tmp_path: Path) -> Path:
    path = tmp_path / "design.topo"
    path.write_text(DESIGN)
    return path


def sources_of(path: Path) -> Sources:
    return Sources(str(path.resolve()), str(path))


# -- points ---------------------------------------------------------------------------------


def test_values_split_at_top_level_commas_only() -> None:
    assert split_values("1, max(2, 3), 4 GB/s") == ["1", "max(2, 3)", "4 GB/s"]
    assert parse_param("NIC=400Gb/s, 2 * 400Gb/s").values == ("400Gb/s", "2 * 400Gb/s")


@pytest.mark.parametrize(
    "bad", ["NIC", "NIC=", "2N=1", "NIC=1,,2", "NIC=1,1", "status=1", "NIC=..4", "point=1"]
)
def test_a_bad_param_is_refused(bad: str) -> None:
    with pytest.raises(ElaborationError):
        parse_param(bad)


def test_the_grid_is_the_product_in_the_order_given_last_fastest() -> None:
    pts = grid_points([parse_param("A=1,2,3"), parse_param("B=x,y")])
    assert [p.overrides for p in pts] == [
        (f"A={a}", f"B={b}") for a, b in itertools.product("123", "xy")
    ]
    assert [p.index for p in pts] == list(range(6))


def test_too_many_points_are_refused_before_anything_is_built() -> None:
    big = [ParamSpec(f"P{k}", tuple(str(i) for i in range(10))) for k in range(7)]
    assert MAX_POINTS < 10**7
    with pytest.raises(ElaborationError, match="the limit is"):
        grid_points(big)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), seed=st.integers(0, 2**31), lo=st.integers(0, 50),
       width=st.integers(0, 200))  # fmt: skip
def test_latin_hypercube_samples_fill_every_stratum_once(n, seed, lo, width) -> None:
    hi = lo + width + 1
    ranges = [
        RangeValues("X", float(lo), float(hi), "B/s", False),
        RangeValues("K", lo, hi, "", True),
    ]
    specs = [ParamSpec("X", low="a", high="b"), ParamSpec("K", low="a", high="b")]
    pts = grid_points(specs, ranges, n, seed)
    again = grid_points(specs, ranges, n, seed)
    assert pts == again  # the same seed, the same points
    xs = np.array([float(p.settings[0][1].split()[0]) for p in pts])
    ks = np.array([int(p.settings[1][1]) for p in pts])
    assert np.all((xs >= lo) & (xs < hi)) and np.all((ks >= lo) & (ks <= hi))
    strata = np.floor((xs - lo) / (hi - lo) * n).astype(int)
    assert sorted(strata.tolist()) == list(range(n))


# -- static dependence ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ("gpu g[2] { bandwidth = X }", True),
        ("gpu g[2] { bandwidth = 2 * X }", False),  # an expression: not a whole value
        ("gpu g[X]", False),
        ("gpu g[2]; connect g[0] -- g[1] via l x(X)", False),
        ("gpu g[2]; connect g[0] -- g[1] { bandwidth = X }", True),
        ('gpu g[2]; connect g[0] -- g[1] { bandwidth = X, duplex = "half" }', True),
        ("gpu g[2]; meta g[0] { speed = X }", False),
        ("gpu g[2] { model = X }", False),
        ("gpu g[2]; assert flow(g[0] -> g[1]) >= X", True),
        ("const Y = X\ngpu g[2] { bandwidth = Y }", False),  # a local constant: conservative
        ("gpu g[2] { power = X }", False),  # not a column of the node table
    ],
)
def test_classify_makes_a_parameter_a_value_only_when_every_use_is_a_whole_value(
    body: str, value: bool
) -> None:
    src = f"const X = 1 GB/s\nlink l {{ bandwidth = 1 GB/s }}\ncluster c {{ {body} }}"
    d = classify([parse(src)], ["X"])
    assert (d.value == {"X"}) is value, d.reasons
    assert (d.structure == {"X"}) is (not value)


def test_a_link_type_a_fabric_uses_is_structural_and_derived_constants_are_probed() -> None:
    src = """const BW = 1 GB/s
const HALF = BW / 2
const K = 4
link l { bandwidth = HALF }
link m { bandwidth = BW }
cluster c { nic n[4]; fabric leaf_spine f { hosts = n[*], leaves = 2, spines = 1, link = m }
  connect n[0] -- n[1] via l }"""
    d = classify([parse(src)], ["BW", "K"])
    assert d.value == {"K"} and d.structure == {"BW"}  # K is used nowhere: it changes nothing
    assert "fabric or pattern" in d.reasons["BW"] or "named in an expression" in d.reasons["BW"]
    d = classify([parse(src.replace("link = m", "link = l").replace("via l", "via m"))], ["BW"])
    assert d.structure == {"BW"}
    # A constant naming the link type carries the taint to the fabric that uses it.
    named = src.replace("link = m }", "link = L }").replace("const K = 4", "const L = m")
    named = named.replace("const L = m", "link m2 { bandwidth = 1 GB/s }\nconst L = m")
    d = classify([parse(named.replace("link m { bandwidth = BW }", ""))], ["BW"])
    assert d.value == {"BW"}  # m is not the BW one any more: l is, and only `connect` uses it
    d = classify([parse(named)], ["BW"])
    assert d.structure == {"BW"} and "L is used" in d.reasons["BW"]
    d = classify([parse(DESIGN)], ["BW", "N", "LAT", "CAP"])
    assert d.value == {"BW", "LAT", "CAP"} and d.structure == {"N"}
    assert d.probes == ("BW", "LAT", "CAP", "HALF")


# -- shapes: array updates equal full elaborations ------------------------------------------


_GBS = st.sampled_from(["12.5 GB/s", "25 GB/s", "50GB/s", "100 GB/s", "400 Gb/s", "3.35 TB/s"])
_LAT = st.sampled_from(["0 ns", "1 ns", "150 ns", "2.5 us"])
_CAP = st.sampled_from(["16 GB", "80 GB", "1 TiB"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=st.lists(st.tuples(_GBS, _LAT, _CAP, st.sampled_from([1, 2, 3])), min_size=2,
                       max_size=6))  # fmt: skip
def test_updated_topologies_are_the_full_elaborations_array_by_array(design, points) -> None:
    src = sources_of(design)
    made = []
    for bw, lat, cap, n in points:
        ovr = [f"N={n}", f"BW={bw}", f"LAT={lat}", f"CAP={cap}"]
        topo, how = topology_for(src, ovr, ("N", str(n)), ("BW", "LAT", "CAP", "HALF"))
        full = elaborate_point(src, ovr)
        assert same_topology(topo, full), (ovr, how)
        made.append(how)
    assert "updated" in made or len({p[3] for p in points}) == len(points)


def test_a_shape_is_built_once_and_reused_and_its_values_are_the_points(design) -> None:
    src = sources_of(design)
    probes = ("BW", "LAT", "CAP", "HALF")
    key = ("N", "7")  # a key no other test uses
    _, how = topology_for(src, ["N=2", "BW=50GB/s"], key, probes)
    assert how == "probed"
    t, how = topology_for(src, ["N=2", "BW=200GB/s"], key, probes)
    assert how == "updated"
    assert float(t.nodes.bandwidth[t.index("c.top")]) == 200e9
    assert t.constants["HALF"][0] == 100e9
    assert t.link_types["nv"].bandwidth == 200e9
    [own] = [a for a in t.assertions if a.node.name == "own"]
    assert dict((n, v) for n, v, _ in own.constants)["BW"] == 10e9  # the parameter, not the global


def test_a_value_the_elaborator_refuses_is_elaborated_and_reported(design) -> None:
    src = sources_of(design)
    probes = ("BW", "LAT", "CAP", "HALF")
    key = ("N", "8")
    topology_for(src, ["N=2"], key, probes)
    with pytest.raises(TopoError, match="bandwidth must be positive"):
        topology_for(src, ["N=2", "BW=0 GB/s"], key, probes)
    t, how = topology_for(src, ["N=2", "LAT=0 ns"], key, probes)  # zero latency is fine
    assert how == "updated" and float(t.links.latency.max()) == 0.0


def test_the_probe_refuses_a_difference_it_cannot_account_for(design) -> None:
    src = sources_of(design)
    # Probing BW alone changes HALF = BW / 2 too, in places no probed constant explains.
    assert build_shape(src, ["N=2"], ("BW",))[1] is None
    base, shape = build_shape(src, ["N=2"], ("BW", "HALF"))
    assert shape is not None and shape.link_bandwidth and shape.node_places["bandwidth"]
    pv = {"BW": (50e9, 100e9), "HALF": (25e9, 75e9)}
    assert _compare(base, elaborate_point(src, ["N=3"]), pv) is None
    bigger = elaborate_point(src, ["N=2", "CAP=160GB"])  # CAP changed, but it is not probed
    assert _compare(base, bigger, pv) is None


# -- a sweep run in this process ------------------------------------------------------------


def run_here(path: Path, params, analyses=(), **kw):
    plan = plan_sweep(str(path), params, analyses, **kw)
    return plan, *run_sweep(plan, SerialExecutor())


def test_the_table_names_every_column_with_its_unit(design) -> None:
    plan, table, stats = run_here(
        design,
        ["N=1,2", "BW=50GB/s,100GB/s"],
        ["bisection:endpoints=kind:gpu", "count:select=kind:gpu"],
    )
    header = table.to_csv().splitlines()[0].split(",")
    assert header == [
        "point", "N", "BW [B/s]", "bisection.value.lower [B/s]", "bisection.value.upper [B/s]",
        "count.value", "assert.inside", "assert.own", "assert.agg", "assert.mem", "assertions",
        "status", "error",
    ]  # fmt: skip
    assert table.column("count.value") == [4, 4, 6, 6]
    assert table.column("BW") == [50e9, 100e9, 50e9, 100e9]
    assert set(table.column("assertions")) == {"pass"}
    assert stats.updated == 2 and stats.errors == 0 and plan.shapes == 2


def test_a_failing_point_is_reported_in_its_row_and_the_others_go_on(tmp_path: Path) -> None:
    path = tmp_path / "ports.topo"
    path.write_text(
        "const K = 2\ncluster c { gpu g[K]; switch s { ports = 3 }; connect g[*] -- s { "
        "bandwidth = 1 GB/s } }"
    )
    _, table, stats = run_here(path, ["K=2,4,3"], ["count:select=kind:gpu"], assertions=False)
    assert table.column("status") == ["ok", "error", "ok"]
    assert table.column("count.value") == [2, None, 3]
    err = table.column("error")[1]
    assert err.startswith(f"{path}:2:30: error: c.s has 3 ports but 4 lanes")
    assert stats.errors == 1


def test_a_value_may_use_another_swept_constant_and_the_table_has_the_point_s_value(design) -> None:
    _, table, _ = run_here(design, ["N=1,2", "CAP=N * 40 GB"], ["capacity:select=kind:hbm"])
    assert table.column("CAP") == [40e9, 80e9]
    assert table.column("capacity.value") == [2 * 40e9, 4 * 80e9]


def test_sweep_errors_are_input_errors_before_any_point_runs(design) -> None:
    with pytest.raises(TopoError, match="no top-level constant 'NN'") as info:
        plan_sweep(str(design), ["NN=1,2"])
    assert info.value.diagnostics[0].hint == "did you mean 'N'?"
    with pytest.raises(TopoError, match="BW is a bandwidth"):
        plan_sweep(str(design), ["BW=50GB/s,2GB"])
    with pytest.raises(TopoError, match="unknown analysis 'bisektion'"):
        plan_sweep(str(design), ["N=1"], ["bisektion"])
    with pytest.raises(TopoError, match="both swept"):
        plan_sweep(str(design), ["N=1"], overrides=["N=3"])
    with pytest.raises(TopoError, match="no column"):
        plan_sweep(str(design), ["N=1"], ["bisection"], pareto="power:min")


def test_the_pareto_front_is_marked_by_the_guaranteed_bounds(design) -> None:
    _, table, _ = run_here(
        design, ["N=1,2,3", "BW=25GB/s,50GB/s"], ["bisection:endpoints=kind:gpu"],
        assertions=False, pareto="bisection:max,N:min",
    )  # fmt: skip
    bis = table.column("bisection.value.lower")
    n = table.column("N")
    expect = pareto_front(list(zip(bis, n, strict=True)), ["max", "min"])
    assert table.column("pareto") == expect.tolist()
    assert table.column("pareto")[1]  # N=1 at 50 GB/s: nothing has more for fewer boxes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), max_size=40),
       st.lists(st.sampled_from(["max", "min"]), min_size=3, max_size=3))  # fmt: skip
def test_the_pareto_front_is_the_brute_force_one(rows, senses) -> None:
    got = pareto_front(rows, senses).tolist() if rows else []
    sign = [1 if s == "max" else -1 for s in senses]
    for i, r in enumerate(rows):
        a = [x * s for x, s in zip(r, sign, strict=True)]
        dominated = any(
            all(y * s >= x for y, s, x in zip(q, sign, a, strict=True))
            and any(y * s > x for y, s, x in zip(q, sign, a, strict=True))
            for q in rows
        )
        assert got[i] is (not dominated)


def test_tables_read_back_as_written_in_csv_and_json(design, tmp_path: Path) -> None:
    _, table, _ = run_here(design, ["N=1,2"], ["bisection:endpoints=kind:gpu"])
    (tmp_path / "t.csv").write_text(table.to_csv())
    (tmp_path / "t.json").write_text(table.to_json())
    csv_back, json_back = read_table(str(tmp_path / "t.csv")), read_table(str(tmp_path / "t.json"))
    assert [c.header for c in csv_back.columns] == [c.header for c in table.columns]
    assert csv_back.rows == json_back.rows == table.rows
    assert [c.better for c in csv_back.columns] == [c.better for c in json_back.columns]
    doc = json.loads(table.to_json())
    assert doc["topodsl_sweep"] == 1 and doc["parameters"][0] == {
        "name": "N",
        "unit": "",
        "values": ["1", "2"],
    }


# -- diff of two tables ---------------------------------------------------------------------


def test_a_sweep_diff_finds_what_a_change_did_across_the_space(design, tmp_path: Path) -> None:
    _, old, _ = run_here(design, ["N=1,2", "BW=50GB/s,100GB/s"], ["bisection:endpoints=kind:gpu"])
    slower = tmp_path / "slower.topo"
    half = DESIGN.replace("const HALF = BW / 2", "const HALF = BW / 4")  # slower links
    slower.write_text(
        half.replace("bisection(box[*].g[*]) >= HALF", "bisection(box[*].g[*]) >= BW / 2")
    )
    _, new, _ = run_here(slower, ["N=1,2", "BW=50GB/s,100GB/s"], ["bisection:endpoints=kind:gpu"])
    d = diff_tables(old, new)
    assert d.points == 4 and not d.only_old
    regress = d.regressions()
    assert {r.section for r, _ in regress} >= {"bisection.value", "assert.agg"}
    # With one box, the GPUs of `other` (not linked to the boxes) make the bisection 0 anyway.
    assert {r.name for r, _ in regress if r.section == "bisection.value"} == {
        "N=2, BW=50 GB/s",
        "N=2, BW=100 GB/s",
    }
    # One box: its two GPUs share one switch, BW / 4 each; two boxes cross on two such links.
    agg = {r.name: (r.old_status, r.new_status) for r, _ in regress if r.section == "assert.agg"}
    assert agg == {"N=1, BW=50 GB/s": ("pass", "fail"), "N=1, BW=100 GB/s": ("pass", "fail")}


def test_diff_of_two_tables_on_the_command_line(design, tmp_path: Path) -> None:
    _, old, _ = run_here(design, ["N=1,2"], ["bisection:endpoints=kind:gpu"])
    _, new, _ = run_here(
        design, ["N=1,2"], ["bisection:endpoints=kind:gpu"], overrides=["BW=25GB/s"]
    )
    a, b = tmp_path / "old.csv", tmp_path / "new.json"
    a.write_text(old.to_csv())
    b.write_text(new.to_json())
    same = run_topodsl("diff", a, a, "--fail-on", "regression")
    assert same.returncode == 0, same.stderr
    assert "no regression" in same.stdout and "no cell changed" in same.stdout
    r = run_topodsl("diff", a, b, "--fail-on", "regression", "--format", "markdown")
    assert r.returncode == 1, r.stderr
    assert "regression(s)" in r.stdout and "| bisection.value |" in r.stdout
    doc = json.loads(run_topodsl("diff", a, b, "--format", "json").stdout)
    assert doc["points"] == 2 and doc["changed"] > 0


# -- the command line -----------------------------------------------------------------------


def test_the_pool_and_one_process_write_the_same_bytes(design, tmp_path: Path) -> None:
    args = ["sweep", design, "--param", "N=1,2", "--param", "BW=50GB/s,100GB/s,200GB/s",
            "--analysis", "bisection", "--analysis", "flow:from=c.box0.g0,to=c.top"]  # fmt: skip
    one = run_topodsl(*args, "--jobs", "1", "-o", tmp_path / "one.csv")
    pool = run_topodsl(*args, "--jobs", "2", "-o", tmp_path / "pool.csv")
    assert one.returncode == 0 and pool.returncode == 0, (one.stderr, pool.stderr)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "pool.csv").read_bytes()
    assert "a local pool of 2 processes" in pool.stderr and "4 by array updates" in one.stderr
    assert "\r" not in pool.stderr  # no progress bar off a terminal
    rows = (tmp_path / "one.csv").read_text().splitlines()
    assert len(rows) == 7 and rows[0].startswith("point,N,BW [B/s],bisection.value.lower [B/s]")


def test_the_command_line_reports_a_bad_sweep_with_exit_2(design) -> None:
    r = run_topodsl("sweep", design, "--param", "SPINES=1,2", "--analysis", "bisection")
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert "no top-level constant 'SPINES'" in r.stderr
    r = run_topodsl("sweep", design, "--param", "BW=1", "--analysis", "bisection")
    assert r.returncode == 2 and "BW is a bandwidth" in r.stderr and "^" in r.stderr


def test_json_output_and_a_chart(design, tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    r = run_topodsl("sweep", design, "--param", "N=1,2,3", "--param", "BW=25GB/s,50GB/s",
                    "--analysis", "bisection:endpoints=kind:gpu", "-o", out, "--jobs", "1",
                    "--pareto", "bisection:max,N:min", "--chart", "N,bisection",
                    "--fail-on", "assertion", "-D", "CAP=40GB")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["overrides"] == {"CAP": {"value": 40000000000, "unit": "B", "text": "40GB"}}
    assert doc["pareto"] == ["bisection.value.lower:max", "N:min"]
    assert [row["pareto"] for row in doc["rows"]].count(True) >= 1
    png = tmp_path / "t.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_progress_bar_on_a_terminal_and_none_in_ci(tmp_path: Path) -> None:
    """The sweep's bar follows the one policy of cli/progress.py: on a terminal, not in CI, not
    for JSON on the screen. The delay is set to 0 so the test does not depend on the machine's
    speed (CI ran 6 points in 0.61 s, inside the default 1 s delay)."""
    from cli_support import run_on_a_terminal

    args = ["sweep", "topologies/cluster_256.topo", "--analysis", "bisection", "--jobs", "1",
            "--no-assertions",
            "--param", "STORES=" + ",".join(map(str, range(1, 7)))]  # fmt: skip
    table = ["-o", str(tmp_path / "t.csv")]
    now = {"TOPODSL_PROGRESS_DELAY": "0", "TERM": "xterm"}
    seen = {}
    for name, extra, env in (
        ("terminal", table, now),
        ("ci", table, now | {"CI": "true"}),
        ("dumb", table, now | {"TERM": "dumb"}),
        ("json on the screen", ["--format", "json"], now),
    ):
        code, out, _ = run_on_a_terminal(*args, *extra, env_extra=env, drop_env=("CI",))
        seen[name] = out.decode("utf-8", "replace")
        assert code == 0, seen[name]
    assert "sweep:" in seen["terminal"] and "/6 [" in seen["terminal"]
    assert "point/s]" in seen["terminal"] or "s/point]" in seen["terminal"]  # the rate, in points
    for name in ("ci", "dumb", "json on the screen"):
        assert "/6 [" not in seen[name] and "6 points" in seen[name], name
    # JSON on the screen is exactly the table, no bar in it.
    screen = seen["json on the screen"].replace("\r\n", "\n")
    assert "\r" not in screen and screen.startswith("{")
    # The bar erases itself (a line of blanks), then the summary is written where it was.
    *bar, blank, summary = seen["terminal"].rstrip().split("\r")
    assert blank.strip() == "" and summary.startswith("topologies/cluster_256.topo: 6 points")


@pytest.mark.parametrize(
    "text",
    [
        '{"topodsl_sweep": 1, "columns": 3}',
        '{"topodsl_sweep": 1, "columns": [{"name": "point", "role": "point"}], "rows": [5]}',
        '{"topodsl_sweep": 1, "columns": [{"name": 1, "role": "point"}], "rows": []}',
        '{"topodsl_sweep": 1, "columns": [{"name": "point", "role": "point"}],'
        ' "rows": [{"point": [1]}]}',
        "[1, 2]",
    ],
)
def test_a_hostile_table_is_an_input_error_not_a_traceback(tmp_path: Path, text: str) -> None:
    from topodsl.sweep.table import read_table

    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(ElaborationError, match="not a topodsl sweep table"):
        read_table(str(path))
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("point,N\n0," + "x" * 200_000 + "\n")
    with pytest.raises(ElaborationError):
        read_table(str(csv_path))
