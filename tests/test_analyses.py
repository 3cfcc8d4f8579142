"""The analysis registry: one declaration per analysis, and everything built from it.

Each analysis is checked through every front end on one small design whose figures are worked by
hand: the entry point ``run``, the assertion function, the ``analyze`` subcommand (text and the
common JSON convention) and ``diff``; then what the registry promises the later issues (prepared
contexts, picklable results, common options reaching the solver).
"""

from __future__ import annotations

import inspect
import json
import pickle

import pytest
from click.testing import CliRunner

import topodsl
from topodsl.analyses import ANALYSES, ArgumentError, Context, run, unit_of
from topodsl.analyses.registry import COMMON_OPTIONS, QUANTITY, SELECTION, resolve
from topodsl.check import check
from topodsl.cli import main

DESIGN = """\
link pcie { bandwidth = 64 GB/s, latency = 100 ns }
link eth  { bandwidth = 400 Gb/s, latency = 600 ns }
cluster c {
    node n[2] {
        gpu g[2] { bandwidth = 1 TB/s }
        hbm m[2] { capacity = 80 GB, bandwidth = 2 TB/s, latency = 100 ns }
        nic nic[2] { bandwidth = 400 Gb/s }
        cxl_memory x { capacity = 512 GB, bandwidth = 60 GB/s }
        connect g[i] -- m[i] via pcie
        connect g[i] -- nic[i] via pcie
        connect g[0] -- x via pcie
    }
    storage_node st {
        ssd d[2] { capacity = 4 TB, read_bandwidth = 7 GB/s, write_bandwidth = 4 GB/s }
        hdd h[2] { capacity = 20 TB, read_bandwidth = 250 MB/s, write_bandwidth = 250 MB/s }
        nic nic { bandwidth = 400 Gb/s }
        connect d[*] -- nic via pcie
        connect h[*] -- nic via pcie
    }
    switch leaf[2] { ports = 8 }
    switch spine { ports = 8 }
    connect n[*].nic[r] -- leaf[r] via eth
    connect st.nic -- leaf[0] via eth
    connect leaf[*] -- spine via eth x2
    workload w { gpus = n[*].g[*], parallel { tp = 2 } }
}
"""

# Worked by hand. Links of type eth: 4 NIC uplinks, the storage uplink and two x2 spine links
# (9 lanes, 450 GB/s). leaf0 carries two node NICs, the storage NIC and 2 spine lanes: 5 of 8
# ports, 150 GB/s down over 100 GB/s up. GPU 0 of node 0 leaves only through its NIC (50 GB/s;
# memory relays nothing). Checkpoint: 4 GPUs write to 2 SSDs at 4 GB/s each, 2 GB/s per GPU,
# 1 TB in 125 s. Drain: 2 HDDs take 250 MB/s each, 1 TB in 2000 s. Ingest: storage reads 14.5
# GB/s in all, 3.625 GB/s per GPU.
HAND = {
    "count": ({"components": "kind:gpu"}, "count(kind:gpu)", {"value": 4}),
    "capacity": ({"components": "c.n[0]"}, "capacity(c.n[0])", {"value": 672e9}),
    "links": (
        {"types": "eth"},
        "links(type:eth)",
        {"count": 7, "lanes": 9, "bandwidth": 450e9},
    ),
    "ports_used": ({"components": "kind:switch"}, "ports_used(kind:switch)", {"value": 5}),
    "ports_free": ({"components": "kind:switch"}, "ports_free(kind:switch)", {"value": 3}),
    "oversubscription": ({"switches": "c.leaf*"}, "oversubscription(c.leaf[*])", {"value": 1.5}),
    "flow": (
        {"sources": "c.n0.g0", "sinks": "c.n1.g0", "size": 1e12},
        "flow(c.n[0].g[0] -> c.n[1].g[0], size = 1 TB)",
        {"throughput": 50e9, "time": 20.0},
    ),
    "checkpoint": (
        {"size": 1e12},
        "checkpoint(1 TB)",
        {"time": 125.0, "rate": 2e9, "throughput": 8e9},
    ),
    "drain": ({"size": 1e12}, "drain(1 TB)", {"time": 2000.0, "rate": 0.25e9}),
    "ingest": ({}, "ingest()", {"rate": 3.625e9, "throughput": 14.5e9}),
    # The workload analyses (docs/workloads.md). GPU 0 of each node reaches the other only
    # through its NIC and leaf 0: an all-gather of 1 GB moves 0.5 GB each way at 50 GB/s, in
    # one ring step over 2 x 100 ns of PCIe and 2 x 600 ns of Ethernet.
    "collective": (
        {"group": "c.n*.g0", "op": "allgather", "size": 1e9},
        "collective(c.n[*].g[0], op = allgather, size = 1 GB)",
        {
            "lower_bound_s": 0.01,
            "bandwidth_s": 0.01,
            "estimate_s": 0.01 + 1.4e-6,
            "busbw": 50e9 * 0.01 / (0.01 + 1.4e-6),
        },
    ),
    # Workload w pairs GPUs 0 and 1 of each node, whose NICs sit on different leaves.
    "placement": (
        {"workload": "w"},
        "placement(workload = w)",
        {"findings": 2, "tp_scale_out": 2, "ring_crossings": 0, "shared_bottlenecks": 0},
    ),
    # 1 TB: written in 125 s (as checkpoint), drained in 2000 s (as drain) on other links:
    # 2000 / 3600 of the hour; 2 x 20 TB of HDD keep 40 checkpoints, 40 hours.
    "checkpoint_cycle": (
        {"size": 1e12, "interval": 3600.0},
        "checkpoint_cycle(1 TB, interval = 1 h)",
        {
            "write_s": 125.0,
            "drain_s": 2000.0,
            "drain_utilisation": 2000 / 3600,
            "drain_keeps_up": 1,
            "ssd_needed": 2e12,
            "archive_retention_s": 144000.0,
        },
    ),
    "ingest_need": (
        {"need": 7.25e9},
        "ingest_need(7.25 GB/s)",
        {"headroom": 2.0, "available": 14.5e9, "keeps_up": 1, "per_gpu_need": 7.25e9 / 4},
    ),
    # 100 GB over 2 GPUs: 50 GB each, in its 80 GB HBM (the decode bound, a linear program's,
    # is in tests/test_workload_analyses.py).
    "inference_fit": (
        {"gpus": "c.n0.g*", "weights": 100e9, "tp": 2},
        "inference_fit(c.n[0].g[*], weights = 100 GB, tp = 2)",
        {"need": 50e9, "fits_own": 1, "fits": 1, "unplaced": 0},
    ),
    # No component declares a power or a cost: the totals are zero and say what is missing.
    "power": ({}, "power()", {"it_power": 0, "facility_power": 0, "uncovered": 22}),
    "cost": ({}, "cost()", {"total": 0, "uncovered": 22}),
}

# Cross-checked against the solver called directly (their own tests work them by hand).
SOLVED = {
    "bisection": ({}, "bisection()", "value"),
    "reach": ({"elements": "c.n0.g0", "within": 1e-6}, "reach(c.n[0].g[0], within 1 us)", None),
    "spill": ({"size": 1e11}, "spill(100 GB)", "rate"),
}


@pytest.fixture(scope="module")
def t() -> topodsl.Topology:
    return topodsl.loads(DESIGN, file="design.topo")


@pytest.fixture(scope="module")
def design_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("design") / "design.topo"
    path.write_text(DESIGN)
    return str(path)


def invoke(*args: str):
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, list(args), catch_exceptions=False)


def test_every_analysis_is_tested_here() -> None:
    assert set(HAND) | set(SOLVED) == set(ANALYSES)


# -- the declarations ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_declarations_are_complete(name: str) -> None:
    a = ANALYSES[name]
    assert a.signature.startswith(name + "(") and a.help and a.summary and a.fields
    assert a.default_field is None or a.field(a.default_field) is not None
    flags = [p.cli_flag for p in a.params] + [o.flag for o in a.report_options]
    assert len(set(flags)) == len(flags)
    for p in a.params:
        assert p.help and (p.kind != QUANTITY or p.dim is not None)
    if a.solver is not None:
        assert callable(resolve(a.solver))


@pytest.mark.parametrize("name", sorted(n for n, a in ANALYSES.items() if a.solver))
def test_selection_defaults_are_the_solvers(name: str) -> None:
    """An unscoped call leaves an omitted selection to the solver, so the declared default
    must be the solver's (bisection's solver takes None for the same 'every GPU')."""
    a = ANALYSES[name]
    solver = inspect.signature(resolve(a.solver)).parameters
    renames = {"sources": ("sources", "gpus"), "sinks": ("sinks", "memory"),
               "elements": ("sources",), "endpoints": ("endpoints",)}  # fmt: skip
    for p in a.params:
        if p.kind != SELECTION or p.default is None:
            continue
        names = [n for n in renames[p.name] if n in solver]
        assert names, (name, p.name)
        default = solver[names[0]].default
        assert default == p.default or (name == "bisection" and default is None)


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_the_cli_command_is_built_from_the_declaration(name: str) -> None:
    a = ANALYSES[name]
    command = main.commands["analyze"].commands[name]
    flags = {f for p in command.params for f in getattr(p, "opts", [])}
    expected = {p.cli_flag for p in a.params} | {o.flag for o in a.report_options}
    expected |= {COMMON_OPTIONS[c].flag for c in a.common}
    assert flags == expected | {"--json", "--allow-import-outside", "-D", "--set", "file"}


# -- each analysis through every front end -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_worked_figures_from_run_and_assertions(t, name: str) -> None:
    params, text, figures = HAND[name]
    r = run(t, name, **params)
    for field, expected in figures.items():
        f = r[field]
        assert f.lower == pytest.approx(expected, rel=1e-12) and f.upper == f.lower, field
        a = check(t, [f"{text}{'' if field == r.default else '.' + field} == {expected}"
                      + (f" {f.measure.unit}" if f.measure.unit else "")])  # fmt: skip
        assert a.results[-1].status == "pass", (field, a.results[-1].message())


@pytest.mark.parametrize("name", sorted(SOLVED))
def test_figures_of_the_flow_analyses_are_the_solvers(t, name: str) -> None:
    params, text, field = SOLVED[name]
    r = run(t, name, **params)
    a = ANALYSES[name]
    solver = resolve(a.solver)
    if name == "bisection":
        raw = solver(t)
        assert (r["value"].lower, r["value"].upper) == (raw.lower_bound, raw.upper_bound)
    elif name == "reach":
        raw = solver(t, "c.n0.g0", within=1e-6)
        assert r["capacity"].lower == float(raw.capacity_within(1e-6)[0])
        res = check(t, [f"{text}.capacity == {r['capacity'].lower} B"]).results[-1]
        assert res.status == "pass"
        return
    else:
        raw = solver(t, 1e11)
        assert r["rate"].lower == raw.legs[0].uniform.rate
        assert r["fetch_rate"].lower == raw.legs[1].uniform.rate
    value = r[field].measure
    res = check(t, [f"{text} >= {value.lower} {value.unit}"]).results[-1]
    assert res.status == "pass" and res.measured == value


def test_a_scoped_call_restricts_defaults_and_notes_them(t) -> None:
    r = run(t, "checkpoint", size=1e12, scope="c")
    assert r["time"].notes[:2] == ("from kind:gpu (4)", "to kind:ssd & in:storage_node (2)")
    with pytest.raises(
        ArgumentError,
        match="defaults 'to' to kind:ssd & in:storage_node, and there is none in c.n1",
    ):
        run(t, "checkpoint", size=1e12, scope="c.n1")


@pytest.mark.parametrize("name", sorted(HAND) + sorted(SOLVED))
def test_every_json_document_follows_one_convention(design_file, name: str) -> None:
    params = (HAND.get(name) or SOLVED[name])[0]
    a = ANALYSES[name]
    args = ["analyze", name, design_file, "--json"]
    for key, value in params.items():
        p = a.param(key)
        if p.kind == QUANTITY:
            unit = {"B": " B", "B/s": " B/s", "s": " s", "W": " W"}.get(unit_of(p.dim), "")
            value = f"{value}{unit}"
        args += [p.cli_flag, value if isinstance(value, str) else str(value)]
    r = invoke(*args)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["analysis"] == name and list(doc)[:3] == ["analysis", "parameters", "figures"]
    assert set(doc["figures"]) == set(run(topodsl.load(design_file), name, **params).figures)
    for fig in doc["figures"].values():
        assert set(fig) == {"value", "lower", "upper", "unit"}
        assert (fig["value"] is None) == (fig["lower"] != fig["upper"])
        assert fig["unit"] in ("", "B", "B/s", "s", "W", "s^-1", "B^-1 s W", "B^-1 s")
    for p in a.params:
        v = doc["parameters"][p.name]
        if p.kind == QUANTITY and v is not None:
            assert set(v) == {"value", "unit"}


def test_the_generic_text_report(design_file) -> None:
    r = invoke("analyze", "links", design_file, "--type", "eth", "--from", "c.leaf*")
    assert r.exit_code == 0
    assert r.stdout == (
        "links(type:eth, from c.leaf*):\n  count: 7\n  lanes: 9\n"
        "  bandwidth: 450 GB/s per direction\n"
    )
    r = invoke("analyze", "links", design_file, "--from", "c.st.**")
    assert r.stdout.startswith("links(from c.st.**):\n  count: 5\n")
    r = invoke("analyze", "ports_free", design_file, "--select", "kind:switch")
    assert r.stdout == "ports_free(kind:switch): 3\n  fullest: c.leaf0 (3 free)\n"


# -- links ---------------------------------------------------------------------------------------


def test_links_between_selections_and_inside_a_component(t) -> None:
    assert run(t, "links", sources="c.leaf*", sinks="c.spine")["lanes"].lower == 4
    assert run(t, "links", types="pcie|eth").value.lower == 7 + 14
    inside = check(t, []).results  # nothing declared
    assert inside == ()
    scoped = run(t, "links", scope="c.n0")
    assert scoped.value.lower == 5  # 2 GPU-HBM, 2 GPU-NIC, 1 GPU-CXL
    with pytest.raises(ArgumentError, match="no link type 'etj'") as e:
        run(t, "links", types="etj")
    assert "did you mean 'eth'?" in e.value.render()


def test_count_of_a_link_selector_points_at_links(t) -> None:
    r = check(t, ["count(type:eth) == 7"], raise_errors=False).results[-1]
    assert r.status == "error" and "names links, not components" in r.diagnostics[0].message
    assert r.diagnostics[0].hint == "count links with links(type:eth)"


# -- arguments -----------------------------------------------------------------------------------


def test_named_arguments_bind_any_parameter(t) -> None:
    a = check(t, ["reach(c.n[0].g[0], within 1 us, direction = write).capacity >= 1 GB",
                  "flow(sources = c.n[0].g[0], sinks = c.n[1].g[0]) == 50 GB/s",
                  "checkpoint(size = 1 TB) == 125 s"]).results  # fmt: skip
    assert [r.status for r in a] == ["pass", "pass", "pass"]
    r = check(t, ["checkpoint(1 TB, size = 2 TB) <= 1 s"], raise_errors=False).results[-1]
    assert "'size' is given twice" in r.diagnostics[0].message
    r = check(t, ["reach(c.n[0].g[0], direction = sideways).capacity > 0 B"], raise_errors=False)
    assert "direction is one of read, write, not 'sideways'" in r.results[-1].message()


def test_run_checks_its_parameters(t) -> None:
    with pytest.raises(ArgumentError, match="unknown analysis 'bisectoin'") as e:
        run(t, "bisectoin")
    assert "did you mean 'bisection'?" in e.value.render()
    with pytest.raises(ArgumentError, match="the size must be more than 0 B"):
        run(t, "checkpoint", size=0)
    with pytest.raises(ArgumentError, match="is a latency or time, expected a size"):
        run(t, "checkpoint", size="3 us")
    with pytest.raises(ArgumentError, match="flow\\(\\) needs 'from' components"):
        run(t, "flow", sinks="c.n0.g0")
    assert run(t, "checkpoint", size="1 TB").value.lower == 125.0
    assert run(t, "flow", **{"from": "c.n0.g0", "to": "c.n1.g0"}).value.lower == 50e9


# -- what failures and sweeps rely on ------------------------------------------------------------


def test_a_context_memoises_and_results_are_picklable(t) -> None:
    ctx = Context(t)
    a = run(ctx, "checkpoint", size=1e12)
    assert run(ctx, "checkpoint", size=1e12) is a
    small = pickle.loads(pickle.dumps(a.without_detail()))
    assert small.figures == a.figures and small.detail is None
    assert small.to_dict()["figures"] == a.to_dict()["figures"]
    full = pickle.loads(pickle.dumps(a))
    assert full.format() == a.format()
    again = pickle.loads(pickle.dumps(ctx))
    assert run(again, "checkpoint", size=1e12).figures == a.figures


def test_common_options_reach_the_solver_that_takes_them(t, monkeypatch) -> None:
    import topodsl.solvers.dataflow as dataflow

    # A solver without the option refuses it rather than ignoring it; once the forwarding model
    # lands in the real solver, the option simply reaches it.
    if "forwarding" not in inspect.signature(dataflow.data_flow).parameters:
        with pytest.raises(ArgumentError, match="has no 'forwarding' option"):
            run(t, "flow", sources="c.n0.g0", sinks="c.n1.g0", options={"forwarding": "ideal"})
    seen = []
    original = dataflow.data_flow

    def data_flow(topology, sources, sinks, *, size=None, forwarding="hardware"):
        seen.append(forwarding)
        return original(topology, sources, sinks, size=size)

    monkeypatch.setattr(dataflow, "data_flow", data_flow)
    run(t, "flow", sources="c.n0.g0", sinks="c.n1.g0", options={"forwarding": "ideal"})
    check(t, ["flow(c.n[0].g[0] -> c.n[1].g[0], forwarding = hardware) > 0 B/s"])
    check(t, ["flow(c.n[0].g[0] -> c.n[1].g[0]) > 0 B/s"], options={"forwarding": "ideal"})
    assert seen == ["ideal", "hardware", "ideal"]
    with pytest.raises(ArgumentError, match="takes no option 'forwarding'"):
        run(t, "count", components="kind:gpu", options={"forwarding": "ideal"})


def test_every_flow_based_command_takes_forwarding() -> None:
    for name in ("flow", "bisection", "reach", "checkpoint", "drain", "ingest", "spill"):
        assert "forwarding" in ANALYSES[name].common
    for command in ("check", "diff"):
        assert "--forwarding" in {f for p in main.commands[command].params for f in p.opts}


@pytest.mark.parametrize(
    "name, field, exact",
    [("count", "value", True), ("links", "bandwidth", True), ("bisection", "value", False),
     ("bisection", "lower", True), ("flow", "throughput", False), ("checkpoint", "rate", False),
     ("spill", "fetch_time", False), ("reach", "capacity", True)],
)  # fmt: skip
def test_fields_say_whether_they_may_be_intervals(name: str, field: str, exact: bool) -> None:
    assert ANALYSES[name].field(field).exact is exact


def test_the_worked_example_in_the_architecture_guide_is_the_code(repo) -> None:
    import re

    guide = (repo / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = guide[guide.index("## How to add an analysis") :]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    source = (repo / "topodsl" / "analyses" / "count.py").read_text(encoding="utf-8")
    assert example.strip() in source
