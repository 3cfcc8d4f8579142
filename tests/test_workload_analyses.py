"""The workload analyses worked by hand, through ``run``, assertions and the command line:
checkpoint lifecycle, ingest need, inference fit, power and cost, placement lints, collectives
of a workload; and the JSON names scripts rely on (issue 15)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

import topodsl
from topodsl.analyses import ArgumentError, run
from topodsl.analyses.jobs import yes_no
from topodsl.check import check
from topodsl.solvers.inference import inference_fit
from topodsl.solvers.lifecycle import checkpoint_cycle
from topodsl.solvers.power import attribute_totals

GB, TB, H = 1e9, 1e12, 3600.0

STORAGE = """\
link eth { bandwidth = 50 GB/s }
cluster c {
    gpu g[4]
    switch sw
    ssd s[2] { capacity = 4 TB, write_bandwidth = 4 GB/s, read_bandwidth = 8 GB/s }
    hdd h[2] { capacity = 20 TB, write_bandwidth = 1 GB/s, read_bandwidth = 1 GB/s }
    connect g[*] -- sw via eth
    connect s[*] -- sw via eth
    connect h[*] -- sw via eth
    workload train {
        mtbf = 24 h
        model      { parameters = 1e12 / 14 }
        batch      { global = 8, seq_len = 1000, step_time = 1 s }
        checkpoint { interval = 1 h, keep = 2, to = s[*], archive = h[*] }
        data       { from = s[*], bytes_per_token = 125 kB }
    }
}
"""


@pytest.fixture(scope="module")
def st() -> topodsl.Topology:
    return topodsl.loads(STORAGE, file="storage.topo")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "topodsl", *args], capture_output=True,
                          text=True, check=False)  # fmt: skip


# -- checkpoint lifecycle ------------------------------------------------------------------------


def test_checkpoint_lifecycle_worked_by_hand(st) -> None:
    # 1 TB from 4 GPUs to 2 SSDs at 4 GB/s each: 125 s. Drained to 2 HDDs at 1 GB/s: 500 s,
    # on other link directions than the write, so the drain has the whole hour: 500 / 3600.
    c = checkpoint_cycle(st, 1 * TB, H, keep=2, sources="c.g*", ssd="c.s[*]", archive="c.h[*]",
                         mtbf=24 * H)  # fmt: skip
    assert c.write == (125.0, 125.0) and c.drain == (500.0, 500.0) and not c.shared
    assert c.drain_utilisation == pytest.approx((500 / 3600,) * 2)
    assert c.stall_fraction == pytest.approx((125 / 3600,) * 2)
    assert (c.ssd_needed, c.ssd_capacity) == (3 * TB, 8 * TB)
    assert (c.archive_checkpoints, c.archive_retention) == (40, 40 * H)
    young = math.sqrt(2 * 125 * 24 * H)
    assert c.young_daly == pytest.approx((young, young))
    assert c.goodput[0] == pytest.approx(1 - 125 / 3600 - 3600 / (2 * 24 * H))
    assert c.goodput_young_daly[0] == pytest.approx(1 - math.sqrt(2 * 125 / (24 * H)))
    # Young's interval is where the goodput peaks.
    for other in (young * 0.8, young * 1.25):
        assert 1 - 125 / other - other / (2 * 24 * H) < c.goodput_young_daly[0]


def test_a_drain_that_shares_the_write_s_path_has_the_interval_less_the_write() -> None:
    # Every component hangs off one NIC with a 20 GB/s limit: the write enters it from the
    # GPUs' links, the drain from the SSD's, of the same type: one direction, shared.
    t = topodsl.loads("""
link eth { bandwidth = 50 GB/s }
cluster c { gpu g[2]; nic x { bandwidth = 20 GB/s }
    ssd s { capacity = 1 TB, write_bandwidth = 4 GB/s, read_bandwidth = 8 GB/s }
    hdd h { capacity = 10 TB, write_bandwidth = 1 GB/s }
    connect g[*] -- x via eth; connect s -- x via eth; connect h -- x via eth }""")
    c = checkpoint_cycle(t, 100 * GB, H, ssd="kind:ssd")
    assert c.shared and c.write == (25.0, 25.0) and c.window == (H - 25, H - 25)
    assert c.drain_utilisation[0] == pytest.approx(100 / (H - 25))
    assert c.archive_checkpoints == 100 and c.ssd_needed == 200 * GB  # keep 1 + the new one


def test_checkpoint_cycle_from_the_workload_and_from_options(st) -> None:
    r = run(st, "checkpoint_cycle", workload="train")
    assert r["write_s"].lower == 125.0 and r["drain_keeps_up"].lower == 1
    assert r["ssd_needed"].lower == 3 * TB and r["archive_retention_s"].lower == 40 * H
    assert r["young_daly_s"].lower == pytest.approx(math.sqrt(2 * 125 * 24 * H))
    explicit = run(st, "checkpoint-cycle", size="1 TB", interval="60 min", keep=2,
                   sources="c.g*", ssd="c.s[*]", archive="c.h[*]")  # fmt: skip
    assert explicit.figures["write_s"] == r.figures["write_s"]
    assert "young_daly_s" not in explicit.figures  # no MTBF given
    # An explicit parameter wins over the workload's.
    assert run(st, "checkpoint_cycle", workload="train", interval=400.0)[
        "drain_keeps_up"].upper == 0  # fmt: skip
    with pytest.raises(ArgumentError, match="needs a checkpoint interval"):
        run(st, "checkpoint_cycle", size=1e12)


def test_yes_no_figures_keep_an_undecided_bracket() -> None:
    assert (yes_no(True, True).lower, yes_no(True, True).upper) == (1.0, 1.0)
    assert (yes_no(False, False).lower, yes_no(False, False).upper) == (0.0, 0.0)
    assert (yes_no(True, False).lower, yes_no(True, False).upper) == (0.0, 1.0)


def test_the_checkpoint_cycle_command_line_names(tmp_path) -> None:
    f = tmp_path / "s.topo"
    f.write_text(STORAGE)
    r = run_cli(
        "analyze",
        "checkpoint-cycle",
        str(f),
        "--size",
        "1TB",
        "--interval",
        "1h",
        "--keep",
        "2",
        "--from",
        "c.g*",
        "--to",
        "c.s[*]",
        "--archive",
        "c.h[*]",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["write_s"], doc["drain_s"], doc["drain_keeps_up"]) == (125, 500, True)
    assert (doc["ssd_needed"], doc["archive_retention_s"]) == (3e12, 144000)
    assert doc["analysis"] == "checkpoint_cycle"
    text = run_cli(
        "analyze",
        "checkpoint-cycle",
        str(f),
        "--size",
        "1TB",
        "--interval",
        "1h",
        "--to",
        "kind:ssd",
    )
    assert text.returncode == 0 and "drain (SSD tier -> HDD tier)" in text.stdout
    assert "keeps up" in text.stdout


# -- ingest ------------------------------------------------------------------------------------


def test_ingest_need_worked_by_hand(st) -> None:
    # 8 x 1000 tokens a second at 125 kB a token: 1 GB/s; 2 SSDs read 16 GB/s to 4 GPUs.
    r = run(st, "ingest_need", workload="train")
    assert r["need"].lower == pytest.approx(1 * GB)
    assert r["available"].lower == pytest.approx(16 * GB)
    assert r.value.lower == pytest.approx(16.0) and r["keeps_up"].lower == 1
    assert r["per_gpu_rate"].lower == pytest.approx(4 * GB)
    short = run(st, "ingest_need", need=20e9, sources="c.s[*]")
    assert short["keeps_up"].upper == 0 and short["headroom"].lower == pytest.approx(0.8)
    a = check(st, ["ingest_need(workload = train) >= 16", "ingest_need(20 GB/s).keeps_up == 0"])
    assert [x.status for x in a.results] == ["pass", "pass"]


# -- inference fit ----------------------------------------------------------------------------

INFERENCE = """\
link pcie { bandwidth = 64 GB/s }
link hbm { bandwidth = 2 TB/s }
link cxl { bandwidth = 32 GB/s }
cluster c {
    node n {
        gpu g[2] { bandwidth = 2 TB/s }
        hbm m[2] { capacity = 80 GB, bandwidth = 2 TB/s, latency = 100 ns }
        cpu cpu
        dram d { capacity = 100 GB, bandwidth = 200 GB/s, latency = 100 ns }
        connect g[i] -- m[i] via hbm
        connect g[*] -- cpu via pcie
        connect cpu -- d via pcie x4
    }
    cxl_switch sw { latency = 100 ns }
    cxl_memory x { capacity = 500 GB, bandwidth = 64 GB/s, latency = 200 ns }
    connect n.cpu -- sw via cxl
    connect sw -- x via cxl x2
    job serve { gpus = n.g[*], model { parameters = 100e9 }, parallel { tp = 2 }
                inference { kv_bytes_per_token = 1 MB, context = 10000, concurrency = 18 } }
}
"""


def test_inference_overflow_fills_host_memory_then_cxl() -> None:
    t = topodsl.loads(INFERENCE)
    # Each GPU: (200 GB of weights + 180 GB of KV) / 2 = 190 GB, 80 GB in its HBM; the 110 GB
    # of overflow each share one 100 GB DRAM, so 120 GB go on to the CXL memory.
    r = inference_fit(t, "c.n.g*", weights=200e9, kv=180e9, tp=2, sequences=18)
    assert r.need == 190e9 and not r.fits_own and r.fits and r.unplaced == 0
    assert [(u.tier, u.bytes / GB) for u in r.tiers] == [
        ("local", pytest.approx(160)),
        ("host", pytest.approx(100)),
        ("cxl", pytest.approx(120)),
    ]
    assert r.farthest == "cxl" and r.overflow_latency == pytest.approx(300e-9)  # switch + memory
    # Each step reads it all. Host memory is quicker to read (64 GB/s each over PCIe, 200 GB/s
    # for the DRAM) than the CXL memory behind one 32 GB/s link: nearest first, the CXL reads
    # take 120 / 32 = 3.75 s; the best placement moves no byte out of the DRAM (it is full),
    # so the bound is the same, to the linear program's tolerance.
    assert [u.step for u in r.tiers][2] == pytest.approx(120 / 32)
    assert r.step_time == pytest.approx(120 / 32, rel=1e-5) and r.step_time <= 120 / 32
    assert r.decode_rate == pytest.approx(32 / 120, rel=1e-5)
    assert r.throughput == pytest.approx(18 * 32 / 120, rel=1e-5)
    assert r.bounds[0].what == "2 GPUs reading the cxl tier together"


def test_inference_that_does_not_fit_and_one_that_fits_in_hbm() -> None:
    t = topodsl.loads(INFERENCE)
    big = inference_fit(t, "c.n.g*", weights=1.5e12, tp=2)
    assert not big.fits and big.unplaced == pytest.approx(1.5e12 - 160e9 - 600e9)
    small = inference_fit(t, "c.n.g*", weights=100e9, tp=2, target_latency=0.01)
    assert small.fits_own and small.overflow_latency is None and small.tiers[0].tier == "local"
    assert small.step_time == pytest.approx(50e9 / 2e12, rel=1e-5)
    assert small.target_possible is False
    r = run(t, "inference_fit", workload="serve", target_latency=1.0)
    assert r["need"].lower == pytest.approx((200e9 + 180e9) / 2)
    assert r["fits"].lower == 1 and r["target_possible"].lower == 0
    with pytest.raises(ArgumentError, match="needs the weights' size"):
        run(t, "inference_fit", gpus="c.n.g*")


# -- power and cost ---------------------------------------------------------------------------

POWER = """\
link l { bandwidth = 100 GB/s }
cluster c {
    rack r[2] {
        node n[2] { power = 1 kW, cost = 100000
                    gpu g[2] { power = 300 W, cost = 30000 }
                    connect g[0] -- g[1] via l }
        switch s { power = 200 W }
        connect n[*].g[*] -- s via l
    }
    switch spine
    connect r[*].s -- spine via l x4
}
"""


def test_power_totals_by_container_and_kind() -> None:
    t = topodsl.loads(POWER)
    p = attribute_totals(t, "power")
    # 4 servers at 1 kW (their GPUs are inside that figure) and 2 rack switches at 200 W; the
    # spine has no figure and is left out.
    assert p.total == 4400.0 and p.counted == 6 and p.uncovered == (("switch", 1),)
    gpu = next(k for k in p.by_kind if k.kind == "gpu")
    assert (gpu.declared, gpu.declared_total, gpu.counted_total) == (8, 2400.0, 0.0)
    assert [(r.id, r.total) for r in p.racks] == [("c.r0", 2200.0), ("c.r1", 2200.0)]
    r = run(t, "power", pue=1.5, rack_limit=2000.0)
    assert r["it_power"].lower == 4400.0 and r["facility_power"].lower == 6600.0
    assert r["per_gpu"].lower == 4400.0 / 8 and r["rack_max"].lower == 2200.0
    assert r["racks_over"].lower == 2 and r["uncovered"].lower == 1
    bis = run(t, "bisection")["value"]
    assert (r["per_bisection"].lower, r["per_bisection"].upper) == (
        4400.0 / bis.upper,
        4400.0 / bis.lower,
    )
    assert run(t, "power")["facility_power"].lower == pytest.approx(4400.0 * 1.58)
    c = run(t, "cost")
    assert c.value.lower == 400000.0 and c["per_gpu"].lower == 50000.0
    assert c["uncovered"].lower == 3  # two rack switches and the spine carry no cost


def test_the_power_command_line_names(tmp_path) -> None:
    f = tmp_path / "p.topo"
    f.write_text(POWER)
    r = run_cli("analyze", "power", str(f), "--pue", "1.2", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["it_power"], doc["facility_power"]) == (4400, pytest.approx(5280.0))
    assert doc["figures"]["it_power"]["unit"] == "W"
    text = run_cli("analyze", "power", str(f), "--rack-limit", "2kW")
    assert "no power figure (not in the total): 1 switch" in text.stdout
    assert "racks_over: 2" in text.stdout


# -- placement lints --------------------------------------------------------------------------

FABRIC = """\
link nv  {{ bandwidth = 400 GB/s }}
link net {{ bandwidth = 50 GB/s }}
link up  {{ bandwidth = {up} GB/s }}
cluster c {{
    node n[4] {{ gpu g[2]; nvswitch s; nic x[2] {{ bandwidth = 50 GB/s }}
                connect g[*] -- s via nv; connect g[i] -- x[i] via net }}
    switch leaf[2]; switch spine
    connect n[i].x[*] -- leaf[i % 2] via net       # servers 0 and 2 on leaf 0, 1 and 3 on 1
    connect leaf[*] -- spine via up
    workload w {{ gpus = n[*].g[*], parallel {{ {parallel} }} }}
}}
"""


def lints(up: int, parallel: str):
    t = topodsl.loads(FABRIC.format(up=up, parallel=parallel))
    r = run(t, "placement", workload="w")
    return r, r.detail


def test_a_tensor_parallel_group_across_servers_is_flagged() -> None:
    r, raw = lints(100, 'tp = 2, order = "dp, tp"')  # tp pairs: GPU 0 of servers 0 and 1 ...
    assert r["tp_scale_out"].lower == 4
    f = next(f for f in raw.findings if f.lint == "tp-scale-out")
    assert "talks over" in f.message and f.element == "c.n0.g0 -> c.n0.x0"  # to its NIC
    ok, raw = lints(100, "tp = 2")  # tp pairs inside each server
    assert ok["tp_scale_out"].lower == 0


def test_a_ring_that_crosses_a_spine_link_twice_is_flagged() -> None:
    # dp rings over the servers in rank order 0, 1, 2, 3 alternate leaves: every hop crosses
    # the spine, so each leaf-spine link carries two hops of one ring in one direction.
    r, raw = lints(100, "tp = 2")
    crossings = [f for f in raw.findings if f.lint == "ring-crossing"]
    assert crossings and all(f.dimension == "dp" for f in crossings)
    assert {f.element for f in crossings} >= {"c.leaf0 -> c.spine", "c.spine -> c.leaf1"}
    assert r["ring_crossings"].lower == len(crossings)


def test_groups_that_meet_at_a_thin_spine_link_are_flagged() -> None:
    r, raw = lints(10, "tp = 2")
    shared = [f for f in raw.findings if f.lint == "shared-bottleneck"]
    assert len(shared) == 1 and shared[0].dimension == "dp"
    assert "2 dp groups" in shared[0].message and "spine" in shared[0].element
    assert r.value.lower == len(raw.findings)


def test_the_shipped_training_job_places_cleanly() -> None:
    t = topodsl.load("topologies/cluster_256.topo")
    r = run(t, "placement", workload="pretrain")
    assert r.value.lower == 0 and r.detail.groups == {"tp": 32, "dp": 32, "pp": 64}


# -- collectives of a workload ---------------------------------------------------------------


def test_collective_of_a_workload_dimension() -> None:
    t = topodsl.loads(FABRIC.format(up=100, parallel="tp = 2"))
    r = run(t, "collective", workload="w", parallel="tp", size=1e9)
    assert r["groups"].lower == 4 and r.detail.result.op == "allreduce"
    assert "per_step_s" not in r.figures  # a size of our own: not the workload's collective
    with pytest.raises(ArgumentError, match="needs a size"):
        run(t, "collective", workload="w", parallel="tp")  # no model: no size
    with pytest.raises(ArgumentError, match="needs its parallel dimension"):
        run(t, "collective", workload="w", size=1e9)
    with pytest.raises(ArgumentError, match="has pp = 1"):
        run(t, "collective", workload="w", parallel="pp", size=1e9)


def test_collective_of_a_group_and_its_json_names(tmp_path) -> None:
    f = tmp_path / "f.topo"
    f.write_text(FABRIC.format(up=100, parallel="tp = 2"))
    r = run_cli(
        "analyze",
        "collective",
        str(f),
        "--op",
        "allreduce",
        "--group",
        "c.n0.g*",
        "--size",
        "1GB",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    # Two GPUs on a 400 GB/s NVSwitch (and their NICs): each must get the other's 1 GB.
    assert doc["lower_bound_s"] == pytest.approx(doc["figures"]["lower_bound_s"]["value"])
    assert doc["estimate_s"] >= doc["lower_bound_s"] > 0
    assert doc["bandwidth_s"] <= doc["estimate_s"]
    assert {"certificates", "estimates", "op", "size"} <= set(doc)
    bad = run_cli("analyze", "collective", str(f), "--op", "allreduce", "--size", "1GB")
    assert bad.returncode == 2 and "needs a group" in bad.stderr


# -- what failure analysis and sweeps rely on --------------------------------------------------


def test_a_context_with_workloads_pickles_and_answers_the_same(st) -> None:
    import pickle

    from topodsl.analyses import Context

    ctx = Context(st)
    first = run(ctx, "checkpoint_cycle", workload="train")
    again = pickle.loads(pickle.dumps(ctx))
    assert again.topology.workloads[0].name == "train"
    assert run(again, "checkpoint_cycle", workload="train").figures == first.figures
    small = pickle.loads(pickle.dumps(first.without_detail()))
    assert small.figures == first.figures


def test_a_tensor_parallel_group_on_nvlink_is_not_flagged_for_an_equal_network_path() -> None:
    """Each GPU is on its server's NVSwitch and on a shared leaf: between two GPUs of a server
    both paths are 2 hops. The fabric rule keeps their peer traffic on NVLink (NCCL's P2P
    never takes the network for a peer in the NVLink domain), so the tensor-parallel rings
    route there alone and no group talks over the leaf; across servers the rings do."""
    src = """\
link nv  { bandwidth = 400 GB/s }
link net { bandwidth = 50 GB/s }
cluster c {
    node n[2] { gpu g[2]; nvswitch s; connect g[*] -- s via nv }
    switch leaf
    connect n[*].g[*] -- leaf via net
    workload w { gpus = n[*].g[*], parallel { tp = 2 } }
}
"""
    r = run(topodsl.loads(src), "placement", workload="w")
    assert r["tp_scale_out"].lower == 0
    across = run(topodsl.loads(src.replace("tp = 2 }", 'tp = 2, order = "dp, tp" }')),
                 "placement", workload="w")  # fmt: skip
    assert across["tp_scale_out"].lower == 2


def test_inference_overflow_into_a_peers_hbm_is_read_over_nvlink_only() -> None:
    """15 GB of weights on a GPU of 10 GB HBM (1 TB/s), its peer's HBM 10 GB behind a
    100 GB/s NVLink (an NVSwitch) and a 30 GB/s PCIe switch both share. 5 GB overflow to the
    peer; under the fabric rule peer reads take NVLink alone: a decode step reads 5 GB at
    100 GB/s, 50 ms (the own 10 GB at 1 TB/s take 10 ms beside it). Without the rule
    (``ideal``, no domains) PCIe peer to peer adds 30 GB/s: 5 GB / 130 GB/s = 38.5 ms."""
    t = topodsl.loads("""
link nv   { bandwidth = 100 GB/s }
link pcie { bandwidth = 30 GB/s }
link hbm  { bandwidth = 1000 GB/s }
def gpu G { hbm m { capacity = 10 GB, bandwidth = 1000 GB/s }; connect self -- m via hbm }
cluster c { node n { G g[2]; nvswitch s; pcie_switch p
                     connect g[*] -- s via nv; connect g[*] -- p via pcie } }
""")
    fit = inference_fit(t, "c.n.g0", weights=15 * GB)
    assert fit.fits and fit.step_time == pytest.approx(5 * GB / (100 * GB), rel=1e-5)
    ideal = inference_fit(t, "c.n.g0", weights=15 * GB, forwarding="ideal")
    assert ideal.step_time == pytest.approx(5 * GB / (130 * GB), rel=1e-5)
