"""hwloc and NCCL/RCCL import, NCCL/InfraGraph/ASTRA-sim export, design against as-built.

The fixtures under tests/fixtures/interop/ were written for these tests (see their comments):
a p5-like NCCL file (8 H100, 32 x 100 Gb/s NICs behind 8 PCIe switches, no NVLink listed),
an 8x MI300X RCCL file (xGMI listed on one side only), a 2-socket hwloc machine with CXL
memory in the v2 and the v3 format, and a DGX-2-like hwloc machine with 12 NVSwitches.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import Counter
from pathlib import Path

import pytest

import topodsl
from topodsl.errors import TopoError
from topodsl.interop import loads_xml, machine_text, read_machine
from topodsl.interop.asbuilt import compare_as_built
from topodsl.interop.export import ExportError, to_astra_sim, to_infragraph, to_nccl
from topodsl.interop.links import link_class

from .cli_support import run_topodsl

FIX = Path(__file__).parent / "fixtures" / "interop"
P5 = FIX / "p5_like.nccl.xml"
MI300X = FIX / "mi300x_8gpu.rccl.xml"
CXL_V2 = FIX / "cxl_2socket.v2.xml"
CXL_V3 = FIX / "cxl_2socket.v3.xml"
DGX2 = FIX / "dgx2_like.hwloc.xml"
ALL = (P5, MI300X, CXL_V2, CXL_V3, DGX2)


def load(path: Path):
    return topodsl.load(path)


def links_of(topo, cls):
    return [e for e in range(topo.num_links) if link_class(topo, e) == cls]


# -- the figures the issue names -------------------------------------------------------------------


def test_p5_gpu_to_nic_aggregate_is_32_x_100_gbit_exactly():
    t = load(P5)
    r = topodsl.max_flow(t, t.select("server.gpu[*]"), t.select("server.nic[*]"))
    assert r.exact
    assert r.value == 32 * 100e9 / 8  # NCCL's <net speed> is in Mb/s: 100000 = 100 Gb/s
    assert len(t.select("server.nic[*]")) == 32


def test_mi300x_mesh_puts_16_x_64_gbps_of_infinity_fabric_across_the_gpu_bisection():
    t = load(MI300X)
    xgmi = links_of(t, "xgmi")
    assert len(xgmi) == 28  # listed once per pair in the file, kept once
    assert {float(t.links.bandwidth[e]) for e in xgmi} == {64e9}
    b = topodsl.bisection(t, t.select("server.gpu[*]"))
    assert b.exact
    fabric = [c for c in b.cut if c.type == "xgmi_gfx942"]
    assert len(fabric) == 16
    assert math.fsum(c.bandwidth for c in fabric) == 16 * 64e9
    # The eight GPUs are one xGMI fabric domain, so peer traffic between them stays on Infinity
    # Fabric (the fabric rule, docs/solvers.md): the cut is the 16 links and nothing else.
    assert len(b.cut) == 16 and b.lower_bound == b.upper_bound == 16 * 64e9
    # The ideal ceiling also counts PCIe peer to peer through the host: the PCIe uplinks of one
    # socket's four switches, 4 x 63.015 GB/s (the file's PCIe Gen5 x16 at 128b/130b).
    ideal = topodsl.bisection(t, t.select("server.gpu[*]"), forwarding="ideal")
    assert ideal.exact
    assert ideal.lower_bound - 16 * 64e9 == pytest.approx(4 * 63.015e9)


def test_xgmi_listed_on_both_sides_counts_once_and_disagreement_is_a_warning():
    both = MI300X.read_text().replace(
        '<gpu dev="1" sm="94" gcn="gfx942" arch="38911" rank="1" gdr="1">',
        '<gpu dev="1" sm="94" gcn="gfx942" arch="38911" rank="1" gdr="1">\n'
        '          <xgmi target="0000:11:00.0" count="1" tclass="0x120000"/>',
    )
    t = loads_xml(both, "both.xml")
    assert len(links_of(t, "xgmi")) == 28
    twice = both.replace(
        '<xgmi target="0000:11:00.0" count="1"', '<xgmi target="0000:11:00.0" count="2"'
    )
    t = loads_xml(twice, "twice.xml")
    assert any("lists 1 links" in w.message and "using 2" in w.message for w in t.warnings)


# -- what a format does not say --------------------------------------------------------------------


def test_missing_nvlink_of_a_known_baseboard_is_filled_and_marked_assumed():
    t = load(P5)
    nvlink = links_of(t, "nvlink")
    assert sorted(float(t.links.lanes[e]) for e in nvlink) == sorted([5, 4, 4, 5] * 8)
    assert all("assumed" in t.link_meta(e) for e in nvlink)
    assert all("assumed" in t.meta(r) for r in t.select("server.nvs[*]"))
    assert any(w.message.startswith("assumed: NVIDIA HGX H100") for w in t.warnings)
    text = machine_text(read_machine(P5.read_text(), str(P5)))
    assert "# Assumed (not in the file" in text


def test_dgx2_baseboard_trunk_is_assumed_from_the_table():
    t = load(DGX2)
    trunks = [
        e
        for e in links_of(t, "nvlink")
        if t.kind_of(int(t.links.src[e])) == t.kind_of(int(t.links.dst[e])) == "nvswitch"
    ]
    assert len(trunks) == 6 and {float(t.links.lanes[e]) for e in trunks} == {8.0}
    assert all("assumed" in t.link_meta(e) for e in trunks)
    gpu_links = [e for e in links_of(t, "nvlink") if e not in trunks]
    assert len(gpu_links) == 16 * 6  # each V100 to each of its baseboard's 6 NVSwitches
    b = topodsl.bisection(t, t.select("server.gpu[*]"))
    assert b.lower_bound >= 48 * 25e9  # the 48 trunk links, 25 GB/s each way
    assert not any("disconnected" in w.message for w in t.warnings)


def test_a_disconnected_nvlink_graph_is_a_warning():
    text = DGX2.read_text().replace("Tesla V100-SXM3-32GB-H", "Prototype GPU")
    t = loads_xml(text, "proto.xml")
    assert any("NVLink/xGMI graph is disconnected" in w.message for w in t.warnings)


def test_hwloc_zero_speed_means_unknown_never_a_zero_bandwidth_link():
    t = load(CXL_V2)
    assert (t.links.bandwidth > 0).all()
    assert any("no known speed" in w.message and "0000:a9:00.0" in w.message for w in t.warnings)
    # a GPU whose own speed is 0 takes its root port's: Gen5 x16
    gpu = t.index("server.gpu1")
    up = [e for e in range(t.num_links) if gpu in (t.links.src[e], t.links.dst[e])]
    assert [t.link_type_of(e) for e in up if link_class(t, e) == "pcie"] == ["pcie5_x16"]


def test_hwloc_v2_and_v3_of_one_machine_import_the_same():
    a = machine_text(read_machine(CXL_V2.read_text(), "m.xml"))
    b = machine_text(read_machine(CXL_V3.read_text(), "m.xml"))
    assert a.replace("hwloc XML 2.0", "") == b.replace("hwloc XML 3.0", "")


def test_hwloc_memory_tiers_cxl_devices_and_memory_attributes():
    t = load(CXL_V3)
    cxl = t.rows_of_kind("cxl_memory")
    assert [float(t.nodes.capacity[r]) for r in cxl] == [256 * 2**30] * 2
    numa = [r for r in cxl if "numa" in t.meta(r)]
    assert len(numa) == 1  # the NUMA node named by CXLDevice is that device, not a third memory
    m = t.meta(numa[0])
    assert m["memory_tier"] == 1 and m["memory_kind"].startswith("CXL")
    assert float(t.nodes.bandwidth[numa[0]]) == 28672 * 2**20  # MiB/s
    assert float(t.nodes.latency[numa[0]]) == pytest.approx(260e-9)
    dram = t.rows_of_kind("dram")
    assert [float(t.nodes.capacity[r]) for r in dram] == [512 * 2**30] * 2
    assert all(t.meta(r)["memory_tier"] == 0 for r in dram)
    hbm = t.rows_of_kind("hbm")
    assert [float(t.nodes.capacity[r]) for r in hbm] == [80 * 2**30] * 2
    # the dual-function ConnectX-7 is one NIC with two ports
    ports = sorted(t.meta(int(r))["ports"] for r in t.rows_of_kind("nic"))
    assert ports == ["mlx5_0,mlx5_1", "mlx5_2"]


def test_nic_without_a_rate_and_not_in_the_table_warns_and_has_no_limit():
    text = CXL_V2.read_text().replace("[15b3:1021]", "[15b3:9999]")
    t = loads_xml(text, "unknown_nic.xml")
    assert any("is not in the table of known parts" in w.message for w in t.warnings)
    assert all(math.isinf(float(t.nodes.bandwidth[r])) for r in t.rows_of_kind("nic"))


# -- import -> .topo -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_import_writes_a_topo_file_that_checks_cleanly(path, tmp_path):
    out = tmp_path / "machine.topo"
    r = run_topodsl("import", path, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    r = run_topodsl("check", out)
    assert r.returncode == 0, r.stdout + r.stderr
    # the .xml and the .topo it becomes are the same topology
    a, b = topodsl.load(path), topodsl.load(out)
    assert a.nodes.ids == b.nodes.ids
    assert sorted(a.links.bandwidth.tolist()) == sorted(b.links.bandwidth.tolist())


def test_imported_text_uses_arrays_and_patterns():
    p5 = machine_text(read_machine(P5.read_text(), "p5.xml"))
    assert "gpu gpu[8]" in p5 and "nic nic[32]" in p5 and "pcie_switch pex[8]" in p5
    assert "connect nic[i] -- pex[i / 4] via pcie5_x8" in p5
    assert "connect gpu[*] -- nvs[1..2] via nvlink4 x4" in p5
    mi = machine_text(read_machine(MI300X.read_text(), "mi.xml"))
    assert "connect full_mesh(gpu[*]) via xgmi_gfx942" in mi
    dgx2 = machine_text(read_machine(DGX2.read_text(), "d.xml"))
    assert "for i in 0..5 { connect nvs[i] -- nvs[i + 6]" in dgx2
    assert len(p5.splitlines()) < 100  # 55 components, 81 links


def test_show_json_counts_imported_kinds():
    r = run_topodsl("show", P5, "--json")
    assert r.returncode == 0, r.stderr
    kinds = json.loads(r.stdout)["kinds"]
    assert kinds == {"gpu": 8, "cpu": 2, "nvswitch": 4, "pcie_switch": 8, "nic": 32, "node": 1}


def test_no_meta_drops_per_component_metadata():
    r = run_topodsl("import", P5, "--no-meta")
    assert r.returncode == 0
    assert "pci_busid" not in r.stdout and "assumed" in r.stdout


# -- round trips -----------------------------------------------------------------------------------


def _figures(t):
    gpus, nics = t.select("kind:gpu"), t.select("kind:nic")
    b = topodsl.bisection(t, gpus)
    return (
        Counter(t.kind_of(r) for r in range(t.num_nodes)),
        sorted(round(x) for x in t.links.bandwidth.tolist()),
        (b.lower_bound, b.upper_bound),
        topodsl.max_flow(t, gpus, nics).value if len(nics) else 0.0,
    )


@pytest.mark.parametrize("path", (P5, MI300X), ids=lambda p: p.name)
def test_nccl_import_export_import_keeps_counts_bandwidths_and_figures(path):
    first = load(path)
    text, _ = to_nccl(first)
    second = loads_xml(text, "again.xml")
    assert _figures(second) == _figures(first)
    again, _ = to_nccl(second)
    assert again == text  # and the export is stable


def test_hwloc_to_nccl_keeps_gpus_nics_and_their_links():
    first = load(DGX2)
    text, notes = to_nccl(first)
    second = loads_xml(text, "dgx2.nccl.xml")
    for kind in ("gpu", "nic", "nvswitch"):
        assert len(second.rows_of_kind(kind)) == len(first.rows_of_kind(kind))
    assert len(links_of(second, "nvlink")) == 16 * 6  # the trunk is not in NCCL's format...
    assert any("NVSwitch-to-NVSwitch" in n for n in notes)  # ...and the export says so


def test_nccl_export_uses_bus_ids_from_metadata_and_generates_the_rest():
    t = load(P5)
    text, _ = to_nccl(t)
    assert 'busid="0000:11:00.0"' in text and 'speed="100000"' in text
    d = topodsl.load(Path("topologies/dgx_h100.topo"))
    text, notes = to_nccl(d)
    buses = [line.split('busid="')[1][:12] for line in text.splitlines() if "busid=" in line]
    assert len(buses) == len(set(buses))  # generated consistently: no id names two devices
    assert text.count("<gpu ") == 8 and text.count('count="5"') == 16


# -- InfraGraph ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", (P5, MI300X, DGX2, Path("topologies/small_pod.topo")), ids=lambda p: p.name
)
def test_infragraph_export_loads_in_the_real_infragraph_package(path):
    pytest.importorskip("infragraph")
    from infragraph import Infrastructure
    from infragraph.infragraph_service import InfraGraphService

    t = topodsl.load(path)
    text, _ = to_infragraph(t)
    Infrastructure().deserialize(text)  # the schema
    service = InfraGraphService()
    service.set_graph(text)
    g = service.get_networkx_graph()
    devices = [r for r in range(t.num_nodes) if t.role_of(r) != "container"]
    assert g.number_of_nodes() == len(devices)
    pairs = Counter()
    for e in range(t.num_links):
        a, b = sorted((int(t.links.src[e]), int(t.links.dst[e])))
        pairs[(a, b)] += float(t.links.bandwidth[e])
    assert g.number_of_edges() == len(pairs)
    got = sorted(float(d["bandwidth"].split()[0]) for _, _, d in g.edges(data=True))
    assert got == pytest.approx(sorted(bw / 1e9 for bw in pairs.values()), rel=1e-6)


# -- ASTRA-sim -------------------------------------------------------------------------------------


def _astra(t):
    import yaml

    text, _ = to_astra_sim(t)
    return yaml.safe_load(text)


def test_astra_sim_dimensions_from_the_hierarchy():
    gib = 2**30
    p5 = _astra(load(P5))
    assert p5["topology"] == ["Switch"] and p5["npus_count"] == [8]
    assert p5["bandwidth"][0] * gib == pytest.approx(18 * 25e9)  # a GPU's NVLink to the switches
    mi = _astra(load(MI300X))
    assert mi["topology"] == ["FullyConnected"]
    assert mi["bandwidth"][0] * gib == pytest.approx(64e9)
    pod = _astra(topodsl.load(Path("topologies/small_pod.topo")))
    assert pod["topology"] == ["Switch", "Switch"] and pod["npus_count"] == [8, 4]
    assert pod["bandwidth"][1] * gib == pytest.approx(50e9)  # one 400 Gb/s NIC per GPU
    assert pod["latency"] == [150.0, 600.0]


def test_astra_sim_refuses_an_asymmetric_design():
    t = topodsl.loads(
        "link nv { bandwidth = 25 GB/s }\n"
        "cluster c { node a { gpu g[4]; nvswitch s; connect g[*] -- s via nv }\n"
        "            node b { gpu g[2]; nvswitch s; connect g[*] -- s via nv } }"
    )
    with pytest.raises(ExportError, match="same number of NPUs"):
        to_astra_sim(t)
    r = run_topodsl("export", "topologies/cxl_pool.topo", "--format", "astra-sim")
    assert r.returncode in (0, 2) and "Traceback" not in r.stderr


# -- design against as-built -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def p5_design(tmp_path_factory):
    out = tmp_path_factory.mktemp("design") / "p5.topo"
    r = run_topodsl("import", P5, "-o", out)
    assert r.returncode == 0, r.stderr
    return out


def _machine(tmp_path, text, name="machine.xml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_as_built_matching_machine_passes(p5_design):
    r = run_topodsl("check", p5_design, "--as-built", P5)
    assert r.returncode == 0, r.stdout
    assert "the machine meets the design" in r.stdout


@pytest.mark.parametrize(
    "edit, expected",
    [
        (('<pci busid="0000:17:00.0" class="0x030200"', None), "missing gpu: server.gpu1"),
        (('link_width="8"', 'link_width="4"'), "trained at Gen5 x4"),
        (('32.0 GT/s PCIe" link_width="8"', '16.0 GT/s PCIe" link_width="8"'), "Gen4 x8"),
        (('speed="100000"', 'speed="50000"'), "NIC at the wrong speed"),
    ],
    ids=["missing-gpu", "narrower-pcie", "lower-generation", "nic-speed"],
)
def test_as_built_shortfalls_fail_with_both_sides_named(p5_design, tmp_path, edit, expected):
    text = P5.read_text()
    old, new = edit
    if new is None:  # drop the element
        i = text.index(old)
        text = text[:i] + text[text.index("</pci>", i) + len("</pci>") :]
    else:
        text = text.replace(old, new, 1)
    machine = _machine(tmp_path, text)
    r = run_topodsl("check", p5_design, "--as-built", machine)
    assert r.returncode == 1, r.stdout + r.stderr
    line = next(line for line in r.stdout.splitlines() if expected in line)
    assert line.startswith("short:") and line.count("server.") >= 1
    assert "the machine falls short of the design" in r.stdout


def test_as_built_missing_nvlink_and_smaller_memory(tmp_path):
    design = load(MI300X)
    text = MI300X.read_text().replace(
        '<xgmi target="0000:41:00.0" count="1" tclass="0x120000"/>', "", 1
    )
    r = compare_as_built(design, loads_xml(text, "m.xml"))
    assert r.short
    gone = [f for f in r.findings if f.message.startswith("missing GPU link")]
    assert [(f.design, f.machine) for f in gone] == [
        ("server.gpu0 -- server.gpu3", "server.gpu0 -- server.gpu3")
    ]
    smaller = CXL_V2.read_text().replace(
        'local_memory="549755813888"', 'local_memory="274877906944"', 1
    )
    r = compare_as_built(load(CXL_V2), loads_xml(smaller, "s.xml"))
    memory = [f for f in r.findings if f.what == "memory"]
    assert len(memory) == 1 and "512 GiB" in memory[0].message or "549.8 GB" in memory[0].message


def test_as_built_json_and_bad_machine_file(p5_design, tmp_path):
    r = run_topodsl("check", p5_design, "--as-built", tmp_path / "nope.xml")
    assert r.returncode == 2 and "no such file" in r.stderr


# -- untrusted input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ('<system version="1"><cpu><pci busid="0000:01:00.0"></cpu></system>', "mismatched tag"),
        ('<!DOCTYPE x [<!ENTITY a "aa">]><system>&a;</system>', "declares entities"),
        ('<topology><object type="Machine"/></topology>', "version None is not supported"),
        ("<html/>", "neither an hwloc <topology> nor an NCCL/RCCL <system>"),
        ('<system version="1"><cpu><pci class="0x0302"/></cpu></system>', "needs a busid"),
        ('<system version="1"></system>', "at least one <cpu>"),
    ],
)
def test_bad_xml_is_an_error_at_its_place_with_exit_2(tmp_path, text, message):
    path = _machine(tmp_path, text, "bad.xml")
    r = run_topodsl("show", path)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{path}:1:")


def test_mutated_xml_never_escapes_as_anything_but_a_topodsl_error():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    sources = [p.read_text() for p in (P5, MI300X, CXL_V2)]

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2), st.data())
    def mutate(which, data):
        text = sources[which]
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(text) - 1))
            op = data.draw(st.sampled_from(["delete", "insert", "replace"]))
            piece = data.draw(
                st.sampled_from(['"', "<", ">", "/", "0", "-1", "x", "=", " ", "", "9" * 30])
            )
            if op == "delete":
                text = text[:i] + text[i + data.draw(st.integers(1, 40)) :]
            elif op == "insert":
                text = text[:i] + piece + text[i:]
            else:
                text = text[:i] + piece + text[i + 1 :]
        with contextlib.suppress(TopoError):
            loads_xml(text, "mutated.xml")

    del hypothesis
    mutate()


def test_docs_table_of_known_parts_matches_the_code():
    from topodsl.interop import parts

    doc = (Path(__file__).parent.parent / "docs" / "interop.md").read_text()
    for gpu in parts.GPUS:
        assert f"{gpu.vendor:04x}:{gpu.device:04x}" in doc, gpu.model
    for nic in parts.NICS:
        assert (
            f"| {nic.model} | {nic.vendor:04x}:{nic.device:04x} | {nic.rate * 8 / 1e9:g} Gb/s"
            in doc
        )
    for sm, rate in parts.NVLINK_RATE.items():
        assert f"| {sm} |" in doc and f"{rate / 1e9:g} GB/s" in doc
    for gcn, rate in parts.XGMI_RATE.items():
        assert f"| {gcn} |" in doc and f"{rate / 1e9:g} GB/s" in doc
    for s in parts.SOCKET_LINKS:
        assert s.cpu in doc and f"{s.rate / 1e9:g} GB/s | {s.links} |" in doc
    for b in parts.BASEBOARDS:
        assert b.name in doc and "/".join(map(str, b.split)) in doc or "each" in doc


def test_c2c_links_and_nvswitches_not_visible_in_a_vm():
    xml = """<system version="1">
  <cpu numaid="0" arch="arm64">
    <pci busid="0009:01:00.0" class="0x030200" vendor="0x10de" device="0x2342"
         link_speed="32.0 GT/s PCIe" link_width="16">
      <gpu dev="0" sm="90" rank="0" gdr="1">
        <c2c bw="45000" count="10"/>
        <nvlink target="fffffff:ffff:ff" count="18" tclass="0x068000"/>
      </gpu>
    </pci>
  </cpu>
</system>"""
    t = loads_xml(xml, "gh200.xml")
    c2c = links_of(t, "c2c")
    assert [float(t.links.bandwidth[e]) for e in c2c] == [450e9]  # 10 x 45,000 MB/s
    nvs = t.rows_of_kind("nvswitch")
    assert len(nvs) == 1 and "assumed" in t.meta(int(nvs[0]))
    assert [float(t.links.lanes[e]) for e in links_of(t, "nvlink")] == [18.0]
