"""Workload declarations: the language, the elaborated model, placement on ranks, the sizes a
workload implies, and the JSON round trip (topodsl/workload.py)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import topodsl
from topodsl.errors import ElaborationError, TopoSyntaxError
from topodsl.io import dumps_json, loads_json
from topodsl.workload import (
    SCHEMA,
    WorkloadError,
    checkpoint_size,
    collectives,
    find_workload,
    ingest_need,
    parallel_groups,
    workload_text,
)

GB = 1e9

DESIGN = """\
const N = 4
link nv { bandwidth = 450 GB/s }
cluster c {
    node n[N] { gpu g[8]; nvswitch s; connect g[*] -- s via nv }
    storage_node st { ssd d[4] { capacity = 4 TB, write_bandwidth = 4 GB/s } }
    workload pretrain {
        gpus = n[*].g[*]
        mtbf = 2 * 24 h
        model      { parameters = 7e9, layers = 32, hidden = 4096 }
        batch      { global = 64, micro = 2, seq_len = 4096, step_time = 10 s }
        parallel   { tp = 8, pp = 2, order = "tp, dp, pp" }
        checkpoint { interval = 30 min, keep = 3, to = st.d[*] }
        data       { from = st.d[*], bytes_per_token = 4 B }
    }
    job serve { gpus = n[0].g[0..3], parallel { tp = N },
                inference { kv_bytes_per_token = 128 KiB, context = 8192, concurrency = 8 } }
}
"""


@pytest.fixture(scope="module")
def t() -> topodsl.Topology:
    return topodsl.loads(DESIGN, file="design.topo")


def err(text: str) -> str:
    with pytest.raises((ElaborationError, TopoSyntaxError)) as e:
        topodsl.loads(text, file="w.topo")
    return e.value.render()


# -- the declaration -----------------------------------------------------------------------------


def test_entries_elaborate_to_si_values(t) -> None:
    w = find_workload(t, "pretrain")
    assert w.keyword == "workload" and w.scope == "c" and w.ranks == 32
    assert w.mtbf == 48 * 3600.0
    assert (w.model.parameters, w.model.layers, w.model.hidden) == (7e9, 32, 4096)
    assert (w.model.weight_bytes, w.model.optimizer_bytes, w.model.grad_bytes) == (2.0, 12.0, None)
    assert (w.batch.global_, w.batch.micro, w.batch.seq_len, w.batch.step_time) == (
        64,
        2,
        4096,
        10.0,
    )
    p = w.parallel
    assert (p.tp, p.pp, p.dp, p.ep, p.order) == (8, 2, 2, 1, ("tp", "dp", "pp"))
    c = w.checkpoint
    assert (c.interval, c.keep, c.size) == (1800.0, 3, None)
    assert c.ssd.text == "st.d[*]" and len(c.ssd.rows) == 4
    assert np.array_equal(c.sources.rows, w.gpus.rows)  # default: the workload's GPUs
    assert c.archive is None  # the default kind:hdd finds nothing in c
    assert w.data.bytes_per_token == 4.0 and w.data.rate is None
    assert w.has("model.layers") and not w.has("model.weight_bytes")


def test_job_is_the_same_declaration(t) -> None:
    s = find_workload(t, "serve")
    assert s.keyword == "job" and s.parallel.tp == 4 and s.parallel.dp == 1
    assert [t.nodes.ids[r] for r in s.gpus.rows] == [f"c.n0.g{i}" for i in range(4)]
    assert (s.inference.kv_bytes_per_token, s.inference.context, s.inference.concurrency) == (
        128 * 1024,
        8192,
        8,
    )
    assert s.inference.target_latency is None


def test_the_schema_names_every_entry_once() -> None:
    for entries in SCHEMA.values():
        for name, spec in entries.items():
            assert spec.help and spec.kind in ("number", "whole", "selection", "text"), name
            assert (spec.kind == "number") == (spec.dim is not None), name


def test_default_gpus_are_those_of_the_component() -> None:
    t = topodsl.loads("cluster a { gpu g[2]; workload w { } }\ncluster b { gpu g[3] }")
    assert [t.nodes.ids[r] for r in t.workloads[0].gpus.rows] == ["a.g0", "a.g1"]
    t = topodsl.loads("cluster a { gpu g[2] }\ncluster b { gpu g[3] }\nworkload w { }")
    assert t.workloads[0].ranks == 5


def test_paths_are_read_like_an_assertion_s() -> None:
    # A path that matches nothing inside the component is looked up further out.
    t = topodsl.loads("cluster a { gpu g[2]; node x { workload w { gpus = g[*] } } }")
    assert [t.nodes.ids[r] for r in t.workloads[0].gpus.rows] == ["a.g0", "a.g1"]
    # Indices may use constants; the text kept reads the same without them.
    t = topodsl.loads("const K = 1\ncluster a { gpu g[3]; workload w { gpus = g[K..2] } }")
    assert t.workloads[0].gpus.text == "g[1..2]"
    # A quoted selector is read from the top level and kept within the component.
    t = topodsl.loads(
        'cluster a { gpu g[2] }\ncluster b { gpu g[2]\n workload w { gpus = "*.g*" } }'
    )
    assert [t.nodes.ids[r] for r in t.workloads[0].gpus.rows] == ["b.g0", "b.g1"]


def test_several_workloads_and_finding_them(t) -> None:
    assert [w.name for w in t.workloads] == ["pretrain", "serve"]
    with pytest.raises(WorkloadError, match="declares 2 workloads; name one"):
        find_workload(t, None)
    with pytest.raises(WorkloadError) as e:
        find_workload(t, "serv")
    assert e.value.hint == "did you mean 'serve'?"
    one = topodsl.loads("cluster c { gpu g[2]; workload only { } }")
    assert find_workload(one, None).name == "only"
    with pytest.raises(WorkloadError, match="declares no workload"):
        find_workload(topodsl.loads("cluster c { gpu g }"), None)


def test_keywords_leave_component_names_alone() -> None:
    t = topodsl.loads("cluster c { gpu job[2]; gpu workload }")
    assert t.nodes.ids == ["c", "c.job0", "c.job1", "c.workload"]


# -- errors, each at its place ---------------------------------------------------------------

ERRORS = [
    ("cluster c { gpu g[2]; workload w { modle { parameters = 1 } } }",
     "1:36: error: unknown workload section 'modle'", "did you mean 'model'?"),
    ("cluster c { gpu g[2]; workload w { gpu = g[*] } }",
     "1:36: error: unknown entry 'gpu' in a workload", "did you mean 'gpus'?"),
    ("cluster c { gpu g[2]; workload w { model { layer = 2 } } }",
     "unknown entry 'layer' in section 'model'", "did you mean 'layers'?"),
    ("cluster c { gpu g[2]; workload w { mtbf = 1 h, mtbf = 2 h } }",
     "1:48: error: mtbf is given twice", "first at w.topo:1:36"),
    ("cluster c { gpu g[2]; workload w { model { }, model { } } }",
     "section 'model' is given twice", None),
    ("cluster c { gpu g[2]; workload w { checkpoint { interval = 5 GB/s } } }",
     "1:60: error: interval must be a latency or time, got a bandwidth", "takes a unit"),
    ("cluster c { gpu g[2]; workload w { model { parameters = 5 GB } } }",
     "parameters must be a plain number, got a size", None),
    ("cluster c { gpu g[2]; workload w { model { layers = 2.5 } } }",
     "layers must be a whole number, got 2.5", None),
    ("cluster c { gpu g[2]; workload w { parallel { tp = 0 } } }",
     "tp must be more than zero, got 0", None),
    ("cluster c { gpu g[2]; workload w { mtbf = 5 } }",
     "mtbf must be a latency or time, got a plain number", "e.g. mtbf = 5 ns"),
    ("cluster c { gpu g[2]; workload w { gpus = h[*] } }",
     "the gpus selection h[*] matches no component in c", "the workload is declared in"),
    ("cluster c { node n[2] { gpu g }; workload w { gpus = n[*] } }",
     "the ranks must be compute elements; 'c.n0' is a node", None),
    ("cluster c { gpu g[6]; workload w { parallel { tp = 4 } } }",
     "6 ranks do not divide into tp x pp = 4", None),
    ("cluster c { gpu g[8]; workload w { parallel { tp = 2, dp = 2 } } }",
     "tp x pp x dp = 2 x 1 x 2 = 4, but the workload has 8 ranks", None),
    ("cluster c { gpu g[8]; workload w { parallel { tp = 2, ep = 3 } } }",
     "ep = 3 does not divide dp = 4", None),
    ('cluster c { gpu g[8]; workload w { parallel { order = "tp, tp" } } }',
     "order names tp, dp and pp, each at most once; got 'tp, tp'", None),
    ("cluster c { gpu g[8]; workload w { parallel { order = tp } } }",
     "order is text in double quotes", None),
    ("cluster c { gpu g[8]; workload w { parallel { tp = 2 }, batch { global = 6 } } }",
     "the global batch (6) is not a multiple of dp x micro (4 x 1)", None),
    ("cluster c { gpu g[8]; workload w { parallel { pp = 4 }, model { layers = 10 } } }",
     "10 layers do not split into 4 pipeline stages", None),
    ("cluster c { gpu g[2]; workload w { }; workload w { } }",
     "workload 'w' is declared twice", "first at w.topo:1:32"),
    ("def node N { gpu g; workload w { } }\ncluster c { N n[2] }",
     "workload 'w' is declared in a definition used 2 times", None),
    ("cluster c { gpu g[2]; workload w { mtbf = X } }",
     "unknown name 'X'", None),
    ("cluster c { gpu g[2]; workload w { connect g[0] -- g[1] } }",
     "unexpected", None),
]  # fmt: skip


@pytest.mark.parametrize("text, message, hint", ERRORS, ids=[m for _, m, _ in ERRORS])
def test_mistakes_are_reported_at_their_place(text: str, message: str, hint) -> None:
    out = err(text)
    assert message in out, out
    assert "^" in out
    if hint:
        assert hint in out, out


def test_every_mistake_of_a_workload_is_reported_at_once() -> None:
    out = err("cluster c { gpu g[2]\n workload w { modle { }\n gpu = 1\n mtbf = 2 GB } }")
    assert out.count("error:") == 3 and "w.topo:2:15" in out and "w.topo:4:9" in out


def test_a_bad_workload_is_exit_code_2_from_the_command_line(tmp_path) -> None:
    f = tmp_path / "bad.topo"
    f.write_text("cluster c { gpu g[2]; workload w { parallel { tp = 3 } } }\n")
    r = subprocess.run([sys.executable, "-m", "topodsl", "check", str(f)], capture_output=True,
                       text=True, check=False)  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "bad.topo:1:47: error: 2 ranks do not divide into tp x pp = 3" in r.stderr


# -- placement on ranks ------------------------------------------------------------------------


def test_groups_follow_the_order_innermost_first(t) -> None:
    w = find_workload(t, "pretrain")
    ids = t.nodes.ids

    def named(dim):
        return [[ids[r] for r in g] for g in parallel_groups(w, dim)]

    tp = named("tp")
    assert len(tp) == 4 and tp[0] == [f"c.n0.g{i}" for i in range(8)]  # inside one server
    dp = named("dp")  # ranks r and r + 8: the same GPU of servers 0 and 1, then 2 and 3
    assert dp[:2] == [["c.n0.g0", "c.n1.g0"], ["c.n0.g1", "c.n1.g1"]] and len(dp) == 16
    assert named("pp")[0] == ["c.n0.g0", "c.n2.g0"]  # stage 0 on servers 0-1, stage 1 on 2-3


def test_another_order_puts_data_parallelism_innermost() -> None:
    t = topodsl.loads('cluster c { gpu g[8]; workload w { parallel { tp = 2, pp = 2, '
                      'order = "dp, tp, pp" } } }')  # fmt: skip
    w = t.workloads[0]
    assert [g.tolist() for g in parallel_groups(w, "dp")] == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert [g.tolist() for g in parallel_groups(w, "tp")] == [[1, 3], [2, 4], [5, 7], [6, 8]]
    assert [g.tolist() for g in parallel_groups(w, "pp")] == [[1, 5], [2, 6], [3, 7], [4, 8]]


def test_expert_groups_are_consecutive_data_parallel_ranks() -> None:
    t = topodsl.loads("cluster c { gpu g[8]; workload w { parallel { tp = 2, ep = 2 } } }")
    w = t.workloads[0]
    assert [g.tolist() for g in parallel_groups(w, "dp")] == [[1, 3, 5, 7], [2, 4, 6, 8]]
    assert [g.tolist() for g in parallel_groups(w, "ep")] == [[1, 3], [2, 4], [5, 7], [6, 8]]
    with pytest.raises(WorkloadError, match="unknown parallel dimension 'cp'"):
        parallel_groups(w, "cp")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([1, 2, 4]), st.sampled_from([1, 2, 3]), st.sampled_from([1, 2, 4]),
       st.permutations(["tp", "dp", "pp"]))  # fmt: skip
def test_groups_partition_the_ranks_and_cross_once(tp, pp, dp, order) -> None:
    n = tp * pp * dp
    t = topodsl.loads(f'cluster c {{ gpu g[{n}]; workload w {{ parallel {{ tp = {tp}, '
                      f'pp = {pp}, order = "{", ".join(order)}" }} }} }}')  # fmt: skip
    w = t.workloads[0]
    member_of = {}
    for dim, degree in (("tp", tp), ("pp", pp), ("dp", dp)):
        groups = parallel_groups(w, dim)
        assert len(groups) == n // degree and all(len(g) == degree for g in groups)
        rows = np.sort(np.concatenate(groups))
        assert np.array_equal(rows, w.gpus.rows)  # every rank once
        member_of[dim] = {int(r): k for k, g in enumerate(groups) for r in g}
    # Two ranks share at most one group of two different dimensions... and the coordinates
    # of the three dimensions name each rank once.
    keys = {(member_of["tp"][r], member_of["pp"][r], member_of["dp"][r]) for r in w.gpus.rows}
    assert len(keys) == n


# -- what a workload implies ------------------------------------------------------------------


def test_collectives_of_each_dimension_worked_by_hand(t) -> None:
    w = find_workload(t, "pretrain")
    by = {c.dimension: c for c in collectives(w)}
    # dp: the gradients of a model shard, 7e9 x 2 B / (tp 8 x pp 2), once a step.
    assert by["dp"].op == "allreduce" and by["dp"].size == pytest.approx(7e9 * 2 / 16)
    assert by["dp"].count == 1
    # tp: activations of a micro-batch, 2 x 4096 x 4096 x 2 B; 4 per layer, 16 layers per
    # stage, 64 / (2 x 2) = 16 micro-batches.
    act = 2 * 4096 * 4096 * 2
    assert by["tp"].size == act and by["tp"].count == 4 * 16 * 16
    assert by["pp"].op == "sendrecv" and by["pp"].size == act and by["pp"].count == 2 * 16
    assert "ep" not in by


def test_expert_all_to_all_and_missing_inputs() -> None:
    t = topodsl.loads("cluster c { gpu g[8]; workload w { parallel { ep = 8 }, model { "
                      "parameters = 1e9, layers = 4, hidden = 1024, top_k = 2 }, batch { "
                      "global = 8, seq_len = 128 } } }")  # fmt: skip
    by = {c.dimension: c for c in collectives(t.workloads[0])}
    assert by["ep"].op == "alltoall" and by["ep"].size == 128 * 1024 * 2 * 2
    assert by["ep"].count == 4 * 4 * 1
    bare = topodsl.loads("cluster c { gpu g[4]; workload w { parallel { tp = 2 } } }")
    assert collectives(bare.workloads[0]) == ()


def test_checkpoint_size_and_ingest_need(t) -> None:
    w = find_workload(t, "pretrain")
    assert checkpoint_size(w) == pytest.approx(7e9 * 14)
    need, how = ingest_need(w)
    assert need == pytest.approx(64 * 4096 / 10 * 4) and "per token" in how
    stated = topodsl.loads("cluster c { gpu g; workload w { checkpoint { size = 2 TB }, "
                           "data { rate = 5 GB/s } } }").workloads[0]  # fmt: skip
    assert checkpoint_size(stated) == 2e12 and ingest_need(stated) == (5e9, "data.rate")
    bare = topodsl.loads("cluster c { gpu g; workload w { } }").workloads[0]
    with pytest.raises(WorkloadError) as e:
        checkpoint_size(bare)
    assert "does not state checkpoint.size" in e.value.message
    assert e.value.hint == "add checkpoint { size = ... } to the workload"
    with pytest.raises(WorkloadError, match="does not state data.rate"):
        ingest_need(bare)


# -- JSON -----------------------------------------------------------------------------------------


def test_export_keeps_the_workloads_byte_for_byte(t) -> None:
    text = dumps_json(t)
    again = loads_json(text, "design.json")
    assert dumps_json(again) == text
    doc = json.loads(text)["graph"]["workloads"]
    assert [w["name"] for w in doc] == ["pretrain", "serve"] and doc[0]["scope"] == "c"
    for a, b in zip(t.workloads, again.workloads, strict=True):
        assert dataclasses.replace(a, span=b.span) == b  # equal but for where it is written
        assert workload_text(a) == workload_text(b)


def test_workload_text_reads_back_to_the_same_workload(t) -> None:
    w = find_workload(t, "pretrain")
    text = workload_text(w)
    assert text.startswith("workload pretrain { gpus = n[*].g[*], mtbf = 172800 s, model {")
    assert 'order = "tp, dp, pp"' in text and "interval = 1800 s" in text
    back = topodsl.loads(DESIGN.replace("    workload pretrain {", "    " + text + "\n"
                                        "    workload unused {", 1), file="x.topo")  # fmt: skip
    assert workload_text(find_workload(back, "pretrain")) == text


def test_a_bad_workload_in_json_is_an_error_of_the_file(t) -> None:
    doc = json.loads(dumps_json(t))
    doc["graph"]["workloads"][0]["text"] = "workload w { parallel { tp = 7 } }"
    with pytest.raises(ElaborationError) as e:
        loads_json(json.dumps(doc), "x.json")
    assert "x.json#workloads:1:" in e.value.render() and "do not divide" in e.value.render()
    doc["graph"]["workloads"] = [{"text": "const X = 1", "scope": "c"}]
    with pytest.raises(ElaborationError, match="is not one workload"):
        loads_json(json.dumps(doc), "x.json")
    doc["graph"]["workloads"] = [{"text": "workload w { }", "scope": "nowhere"}]
    with pytest.raises(ElaborationError, match="unknown component 'nowhere'"):
        loads_json(json.dumps(doc), "x.json")
    doc["graph"]["workloads"] = {"text": 1}
    with pytest.raises(ElaborationError, match="must be a list of objects"):
        loads_json(json.dumps(doc), "x.json")


def test_a_sweep_reuses_the_shape_unless_the_workload_reads_the_constant(tmp_path) -> None:
    """A sweep keeps a shape's workloads as elaborated: a constant a workload reads must be a
    structure parameter (elaborated per point), and any other value parameter still reuses."""
    from topodsl.parser import parse
    from topodsl.sweep.shapes import Sources, classify, elaborate_point, same_topology, topology_for

    src = DESIGN.replace(
        "link nv { bandwidth = 450 GB/s }",
        "const NV = 450 GB/s\nconst P = 7e9\nconst HALF_P = P / 2\nlink nv { bandwidth = NV }",
    )
    src = src.replace("parameters = 7e9", "parameters = HALF_P * 2")
    d = classify([parse(src, file="w.topo")], ["NV", "P", "N"])
    assert d.value == {"NV"} and d.structure == {"P", "N"}
    assert d.reasons["P"].startswith("w.topo:12:22:") and "HALF_P is used" in d.reasons["P"]
    path = tmp_path / "w.topo"
    path.write_text(src)
    s = Sources(str(path.resolve()), str(path))
    seen = []
    for nv, p in (("450GB/s", "7e9"), ("900GB/s", "7e9"), ("900GB/s", "70e9")):
        ovr = [f"NV={nv}", f"P={p}"]
        topo, how = topology_for(s, ovr, ("P", p), d.probes)
        assert same_topology(topo, elaborate_point(s, ovr)), ovr
        assert find_workload(topo, "pretrain").model.parameters == float(p)
        seen.append(how)
    assert seen == ["probed", "updated", "probed"]
    a = elaborate_point(s, [])  # and same_topology sees a workload that differs
    assert not same_topology(a, dataclasses.replace(a, workloads=a.workloads[:1]))
