"""``-D NAME=VALUE``: top-level constants set from the command line (topodsl/params.py).

Values are read by the language's parser and evaluator and checked like the file's own; the
constants computed from them, the structure and the assertions all see the new value; every
report echoes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_topodsl

from topodsl import load, loads
from topodsl.check import check
from topodsl.errors import ElaborationError, TopoError, TopoSyntaxError
from topodsl.params import parse_override
from topodsl.units import BANDWIDTH, COUNT

DESIGN = """\
const N = 2
const BW = 50 GB/s
const TOTAL = N * BW
const MODEL = "H100"
link l { bandwidth = BW }
def node Box(K = 2) {
    gpu g[K] { model = MODEL }
    connect g[0] -- g[1] via l
    assert inside: flow(g[0] -> g[1]) >= BW
}
cluster c {
    Box box[N]
    assert gpus: count(kind:gpu) == N * 2
    assert total: flow(box[0].g[0] -> box[0].g[1]) * N >= TOTAL
}
"""


@pytest.fixture
def design(tmp_path: Path) -> Path:
    path = tmp_path / "d.topo"
    path.write_text(DESIGN)
    return path


def test_an_override_changes_the_structure_and_every_constant_computed_from_it() -> None:
    t = loads(DESIGN, overrides=["N=3", "BW=100 GB/s"])
    assert len(t.rows_of_kind("gpu")) == 6
    assert t.constants["TOTAL"] == (3 * 100e9, BANDWIDTH)
    assert t.constants["N"] == (3.0, COUNT)
    assert [s.format() for s in t.overrides] == ["N = 3", "BW = 100 GB/s"]
    assert float(t.links.bandwidth[0]) == 100e9


def test_assertions_read_the_values_used_not_the_source_text() -> None:
    t = loads(DESIGN, overrides=["N=3", "BW=100 GB/s"])
    report = check(t, ["count(kind:gpu) == N * 2", "TOTAL == 300 GB/s"])
    got = {r.name: (r.status, r.measured.format(), r.threshold.format()) for r in report.results}
    assert got["gpus"] == ("pass", "6", "6")
    assert got["inside"] == ("pass", "100 GB/s", "100 GB/s")
    assert got["total"] == ("pass", "300 GB/s", "300 GB/s")
    assert got["count(kind:gpu) == N * 2"] == ("pass", "6", "6")
    assert got["TOTAL == 300 GB/s"][0] == "pass"


def test_an_override_may_use_earlier_constants_and_units_of_any_prefix() -> None:
    t = loads(DESIGN, overrides=["BW = 2 * 400 Gb/s", "N=max(1, 4 / 2)"])
    assert t.constants["BW"] == (100e9, BANDWIDTH)
    t = loads("const A = 2\nconst B = 3\ncluster c { gpu g[B] }", overrides=["B=A*4"])
    assert len(t.rows_of_kind("gpu")) == 8


def test_text_and_link_type_constants_take_values_of_their_kind() -> None:
    t = loads(DESIGN, overrides=['MODEL="B200"'])
    assert t.nodes.extra[t.index("c.box0.g0")]["model"] == "B200"
    src = "link a { bandwidth = 1 GB/s }\nlink b { bandwidth = 2 GB/s }\nconst L = a\n"
    src += "cluster c { gpu g[2]\n"
    src += "fabric leaf_spine f { hosts = g[*], leaves = 1, spines = 1, link = L } }"
    assert float(loads(src, overrides=["L=b"]).links.bandwidth[0]) == 2e9
    with pytest.raises(ElaborationError, match="L is a link type .*got a plain number"):
        loads(src, overrides=["L=3"])


@pytest.mark.parametrize(
    ("override", "message", "caret"),
    [
        ("BW=50 GB", "-D BW: BW is a bandwidth (<string>:2:1), got a size", "^~~~~"),
        ("N=2 GB/s", "-D N: N is a plain number (<string>:1:1), got a bandwidth", "^~~~~~"),
        ("MODEL=3", "-D MODEL: MODEL is text (<string>:4:1), got a plain number", "^"),
        ("BW=UNKNOWN", "unknown name 'UNKNOWN'", "^~~~~~~"),
        ("NN=3", "the file has no top-level constant 'NN' to set", "^~"),
        ("K=3", "the file has no top-level constant 'K' to set", "^"),
    ],
)
def test_a_bad_override_is_an_error_at_its_value(override: str, message: str, caret: str) -> None:
    with pytest.raises(ElaborationError) as info:
        loads(DESIGN, overrides=[override])
    [d] = info.value.diagnostics
    assert d.message == message
    assert d.span.file == f"<-D {override.split('=')[0]}>"
    assert d.render().splitlines()[2].strip() == caret


def test_an_unknown_name_gets_a_did_you_mean_and_a_value_that_does_not_parse_a_caret() -> None:
    with pytest.raises(ElaborationError) as info:
        loads(DESIGN, overrides=["bw=1 GB/s"])
    assert info.value.diagnostics[0].hint == "did you mean 'BW'?"
    with pytest.raises(ElaborationError) as info:
        loads(DESIGN, overrides=["TOTL=1 GB/s"])
    assert info.value.diagnostics[0].hint == "did you mean 'TOTAL'?"
    with pytest.raises(TopoSyntaxError) as info:
        loads(DESIGN, overrides=["BW=50 GB/"])
    assert info.value.diagnostics[0].span.file == "<-D BW>"
    for bad in ("BW", "2X=1", "BW=", "BW=1; cluster x { }"):
        with pytest.raises(TopoError):
            parse_override(bad)


def test_the_pseudo_files_of_overrides_do_not_reach_the_topology() -> None:
    t = loads(DESIGN, overrides=["N=3"])
    assert list(t.source_texts) == ["<string>"]


def test_imported_top_level_constants_can_be_set(tmp_path: Path) -> None:
    (tmp_path / "parts.topo").write_text("const SPEED = 25 GB/s\nlink nv { bandwidth = SPEED }\n")
    main = tmp_path / "main.topo"
    main.write_text('import "parts.topo"\ncluster c { gpu g[2]; connect g[0] -- g[1] via nv }\n')
    t = load(main, overrides=["SPEED=50GB/s"])
    assert float(t.links.bandwidth[0]) == 50e9


def test_json_and_xml_topologies_refuse_overrides(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"nodes": [{"id": "a", "kind": "gpu"}], "links": []}')
    with pytest.raises(ElaborationError, match="-D sets constants of a .topo file"):
        load(path, overrides=["N=1"])


# -- the command line ---------------------------------------------------------------------------


def test_every_command_that_reads_a_file_takes_D() -> None:
    from topodsl.cli import main

    def commands(group, prefix=""):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from commands(cmd, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", cmd

    readers = {
        name: {o for p in cmd.params for o in getattr(p, "opts", [])}
        for name, cmd in commands(main)
        if any(getattr(p, "name", "") in ("file", "files", "old") for p in cmd.params)
    }
    assert {"check", "show", "export", "diff", "render diagram", "render reach"} <= set(readers)
    assert "analyze bisection" in readers and "sweep" in readers
    assert {name for name, opts in readers.items() if "-D" not in opts} == {"import"}


def test_check_echoes_overrides_in_every_format(design: Path) -> None:
    text = run_topodsl("check", design, "-D", "N=3", "--set", "BW=100GB/s")
    assert text.returncode == 0, text.stderr
    first = text.stdout.splitlines()[0]
    assert first.endswith("ok (10 components, 3 links) with N = 3, BW = 100 GB/s (-D)")
    doc = json.loads(run_topodsl("check", design, "-D", "N=3", "--format", "json").stdout)
    assert doc["files"][0]["overrides"] == {"N": {"value": 3, "unit": "", "text": "3"}}
    junit = run_topodsl("check", design, "-D", "BW=100GB/s", "--format", "junit").stdout
    assert '<property name="-D BW" value="100 GB/s" />' in junit
    github = run_topodsl("check", design, "-D", "N=3", "--format", "github").stdout
    assert github.splitlines()[-1].endswith("with N = 3 (-D)")


def test_an_unknown_name_exits_2_with_a_did_you_mean(design: Path) -> None:
    r = run_topodsl("analyze", "bisection", design, "-D", "NN=4")
    assert r.returncode == 2 and r.stdout == ""
    assert "error: the file has no top-level constant 'NN' to set" in r.stderr
    assert "did you mean 'N'?" in r.stderr and "Traceback" not in r.stderr
    r = run_topodsl("show", design, "-D", "BW=3 GB")
    assert r.returncode == 2 and "BW is a bandwidth" in r.stderr and "^~~~" in r.stderr
    r = run_topodsl("show", design, "-D", "BW")
    assert r.returncode == 2 and "write NAME=VALUE" in r.stderr


def test_analyze_show_diff_and_render_echo_overrides(design: Path, tmp_path: Path) -> None:
    r = run_topodsl("analyze", "bisection", design, "-D", "N=4", "--json")
    doc = json.loads(r.stdout)
    assert list(doc)[:4] == ["analysis", "parameters", "overrides", "figures"]
    assert doc["overrides"]["N"]["value"] == 4
    r = run_topodsl("analyze", "count", design, "--select", "kind:gpu", "-D", "N=4")
    assert r.stdout.splitlines() == ["with N = 4 (-D)", "count(kind:gpu): 8"]
    r = run_topodsl("show", design, "-D", "N=4", "--json")
    assert json.loads(r.stdout)["overrides"]["N"]["text"] == "4"
    r = run_topodsl("diff", design, design, "-D", "N=4", "--no-bisection")
    assert r.stdout.splitlines()[0] == f"old: {design} with N = 4 (-D)"
    r = run_topodsl("render", design, "-o", tmp_path / "d.dot", "-D", "N=4")
    assert r.returncode == 0 and r.stdout.rstrip().endswith("with N = 4 (-D)")
