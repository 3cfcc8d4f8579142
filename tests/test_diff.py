"""Design diffs: figures old beside new, from two files or one file at two git revisions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_support import run_topodsl

import topodsl
from topodsl.check import Measure
from topodsl.diff import DiffRow, diff_topologies
from topodsl.report.diff import format_diff_markdown, format_diff_text
from topodsl.units import BANDWIDTH, COUNT, SIZE

REPO = Path(__file__).resolve().parent.parent

LINKS = """\
link nvl { bandwidth = 25 GB/s }
link eth { bandwidth = 400 Gb/s }
"""

DESIGN = """\
import "parts/links.topo"
const NODES = {nodes}
def node Box {{
    gpu gpu[4]
    hbm mem[4] {{ capacity = 80 GB }}
    nvswitch nvs
    nic nic[4] {{ bandwidth = 400 Gb/s }}
    connect gpu[i] -- mem[i] via nvl x4
    connect gpu[*] -- nvs via nvl x{lanes}
    connect gpu[i] -- nic[i] via nvl x2
}}
cluster pod {{
    Box node[NODES]
    switch leaf[4]
    connect node[*].nic[r] -- leaf[r] via eth
    assert scale_up: flow(node[0].gpu[0] -> node[0].gpu[1]) >= 90 GB/s
}}
assert count(kind:gpu) == NODES * 4
"""


def write(root: Path, nodes: int = 2, lanes: int = 4, links: str = LINKS) -> Path:
    (root / "parts").mkdir(parents=True, exist_ok=True)
    (root / "parts" / "links.topo").write_text(links)
    f = root / "design.topo"
    f.write_text(DESIGN.format(nodes=nodes, lanes=lanes))
    return f


def run(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    return run_topodsl(*args, cwd=cwd)


def rows_by_name(diff, section: str) -> dict[str, DiffRow]:
    return {r.name: r for r in diff.rows if r.section == section}


def test_diff_of_two_versions(tmp_path: Path) -> None:
    old = topodsl.load(write(tmp_path / "a", nodes=2, lanes=4))
    new = topodsl.load(write(tmp_path / "b", nodes=3, lanes=2))
    d = diff_topologies(old, new, old_name="old", new_name="new")
    comps = rows_by_name(d, "components")
    assert (comps["gpu"].old, comps["gpu"].new) == (Measure(8, 8, COUNT), Measure(12, 12, COUNT))
    assert comps["gpu"].change() == "+4 (+50%)"
    assert comps["switch"].change() == ""  # four leaves either way
    assert not comps["switch"].changed
    mem = rows_by_name(d, "memory")
    assert mem["hbm"].new == Measure(12 * 80e9, 12 * 80e9, SIZE)
    assert mem["memory"].change() == "+320 GB (+50%)"
    # GPU 0 reaches GPU 1 over its box's NVSwitch (lanes x 25 GB/s: 100 GB/s at x4, 50 GB/s
    # at x2). The long way round, out of NIC 0 into the next box and back on rail 1, would need
    # that box's GPUs to relay between their NICs and NVLink: GPUs do not.
    a = rows_by_name(d, "assertions")
    assert (a["scale_up"].old.lower, a["scale_up"].new.lower) == (100e9, 50e9)
    assert (a["scale_up"].old_status, a["scale_up"].new_status) == ("pass", "fail")
    assert a["scale_up"].change() == "-50 GB/s (-50%)"
    assert a["count(kind:gpu) == NODES * 4"].changed  # 8 -> 12, still passing
    bis = rows_by_name(d, "bisection")["bisection(kind:gpu)"]
    assert bis.old is not None and bis.new is not None
    assert bis.old.dim == BANDWIDTH


def test_bisection_in_the_diff_is_the_solvers(tmp_path: Path) -> None:
    from topodsl.solvers.bisection import bisection

    t = topodsl.load(write(tmp_path, nodes=2, lanes=4))
    d = diff_topologies(t, t)
    row = rows_by_name(d, "bisection")["bisection(kind:gpu)"]
    r = bisection(t)
    assert row.new == Measure(r.lower_bound, r.upper_bound, BANDWIDTH)
    assert d.changed == ()


def test_added_and_removed_assertions(tmp_path: Path) -> None:
    old = topodsl.loads("cluster c { gpu g[2]\n assert count(g[*]) == 2 }", file="old.topo")
    new = topodsl.loads("cluster c { gpu g[2]\n assert two: count(g[*]) >= 2 }", file="new.topo")
    d = diff_topologies(old, new, bisection=False)
    a = rows_by_name(d, "assertions")
    assert a["two"].change() == "new" and a["two"].old is None
    assert a["count(g[*]) == 2"].change() == "removed"


def test_uncertain_figures_show_both_bounds() -> None:
    row = DiffRow("bisection", "b", Measure(1e12, 2e12, BANDWIDTH), Measure(1e12, 3e12, BANDWIDTH))
    assert row.change() == "lower =, upper +1 TB/s (+50%)"


def test_text_and_markdown_tables(tmp_path: Path) -> None:
    old = topodsl.load(write(tmp_path / "a", nodes=2))
    new = topodsl.load(write(tmp_path / "b", nodes=3))
    d = diff_topologies(old, new, old_name="v1", new_name="v2", bisection=False)
    text = format_diff_text(d)
    assert text.startswith("old: v1\nnew: v2\n")
    assert "gpu" in text and "+4 (+50%)" in text
    md = format_diff_markdown(d, all_rows=False)
    assert "| gpu | 8 | 12 | +4 (+50%) |" in md
    assert "| nvswitch | 2 | 3 | +1 (+50%) |" in md
    assert "| `scale_up` | 100 GB/s (pass) | 100 GB/s (pass) |" not in md  # unchanged: hidden


def test_cli_diff_two_files(tmp_path: Path) -> None:
    write(tmp_path / "a", nodes=2)
    write(tmp_path / "b", nodes=3, lanes=2)
    r = run("diff", "a/design.topo", "b/design.topo", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["old"] == "a/design.topo" and doc["new"] == "b/design.topo"
    by = {(x["section"], x["name"]): x for x in doc["rows"]}
    assert by[("components", "gpu")]["old"]["value"] == 8
    assert by[("components", "gpu")]["new"]["value"] == 12
    assert by[("assertions", "scale_up")]["new_status"] == "fail"
    again = run("diff", "a/design.topo", "b/design.topo", "--format", "json", cwd=tmp_path)
    assert again.stdout == r.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_cli_diff_against_a_git_revision_uses_the_old_imports(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    write(tmp_path, nodes=2, lanes=4)
    git("add", ".")
    git("commit", "-qm", "v1")
    # The change is in the imported file only: NVLink lanes get slower, 4 x 20 GB/s over the
    # NVSwitch instead of 4 x 25 GB/s.
    write(tmp_path, nodes=2, lanes=4, links=LINKS.replace("25 GB/s", "20 GB/s"))
    r = run("diff", "design.topo", "--rev", "HEAD", "--changed-only", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("old: design.topo@HEAD\nnew: design.topo\n")
    line = next(s for s in r.stdout.splitlines() if s.startswith("scale_up"))
    assert line.split() == ["scale_up", "100", "GB/s", "(pass)", "80", "GB/s", "(fail)", "-20",
                            "GB/s", "(-20%)"]  # fmt: skip
    assert "gpu " not in r.stdout  # unchanged rows hidden
    r = run("diff", "design.topo", "--rev", "nosuchrev", cwd=tmp_path)
    assert r.returncode == 2 and "nosuchrev" in r.stderr and "Traceback" not in r.stderr


def test_cli_diff_usage_and_input_errors(tmp_path: Path) -> None:
    write(tmp_path)
    assert run("diff", "design.topo", cwd=tmp_path).returncode == 2
    assert run("diff", "design.topo", "design.topo", "--rev", "HEAD", cwd=tmp_path).returncode == 2
    (tmp_path / "bad.topo").write_text("cluster c { gpx g }\n")
    r = run("diff", "design.topo", "bad.topo", cwd=tmp_path)
    assert r.returncode == 2 and "unknown kind" in r.stderr
    r = run("diff", "design.topo", "--rev", "HEAD", cwd=tmp_path)  # not a git repository
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_cli_diff_of_two_versions_of_the_dgx_example(tmp_path: Path) -> None:
    from topodsl.solvers.bisection import bisection

    for side in ("old", "new"):
        shutil.copytree(REPO / "topologies", tmp_path / side)
    parts = tmp_path / "new" / "parts" / "nvidia.topo"
    text = parts.read_text()
    assert "link nvlink4 { bandwidth = 25 GB/s" in text
    parts.write_text(
        text.replace("link nvlink4 { bandwidth = 25 GB/s", "link nvlink4 { bandwidth = 20 GB/s")
    )
    r = run("diff", "old/dgx_h100.topo", "new/dgx_h100.topo", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {(x["section"], x["name"]): x for x in json.loads(r.stdout)["rows"]}
    # Slower NVLink: the same parts, a lower NVLink bisection, and the promise broken.
    assert rows[("components", "gpu")]["change"] == ""
    assert rows[("memory", "hbm")]["change"] == ""
    nv = rows[("assertions", "bisection")]
    assert (nv["old_status"], nv["new_status"]) == ("pass", "fail")
    new = bisection(topodsl.load(tmp_path / "new" / "dgx_h100.topo"), "dgx.gpu*")
    assert (nv["new"]["lower"], nv["new"]["upper"]) == (new.lower_bound, new.upper_bound)
    assert nv["new"]["upper"] < nv["old"]["lower"]
    assert rows[("bisection", "bisection(kind:gpu)")]["change"].startswith("-")


def test_any_analysis_can_be_compared(tmp_path: Path) -> None:
    old = topodsl.load(write(tmp_path / "a", nodes=2))
    new = topodsl.load(write(tmp_path / "b", nodes=3))
    specs = ["links:type=eth", ("count", {"components": "kind:nic"})]
    d = diff_topologies(old, new, bisection=False, analyses=specs)
    assert d.sections == ("components", "memory", "links", "count", "assertions")
    links = rows_by_name(d, "links")
    # Each box's four NICs have one eth link to a leaf: 8 links, then 12.
    assert links["links(type:eth)"].change() == "+4 (+50%)"
    assert links["links(type:eth).bandwidth"].new.lower == 12 * 50e9
    assert rows_by_name(d, "count")["count(kind:nic)"].new.lower == 12


def test_an_analysis_spec_is_checked() -> None:
    from topodsl.analyses import ArgumentError
    from topodsl.diff import parse_analysis_spec

    assert parse_analysis_spec("ingest") == ("ingest", {})
    with pytest.raises(ArgumentError, match="checkpoint takes no parameter 'sise'"):
        parse_analysis_spec("checkpoint:sise=2TB")
    with pytest.raises(ArgumentError, match="is a latency or time, expected a size"):
        parse_analysis_spec("checkpoint:size=2us")
    with pytest.raises(ArgumentError, match="unknown analysis 'chekpoint'"):
        parse_analysis_spec("chekpoint:size=2TB")


def test_regressions_are_failed_promises_and_figures_that_got_worse(tmp_path: Path) -> None:
    old = topodsl.load(write(tmp_path / "a", nodes=2, lanes=4))
    new = topodsl.load(write(tmp_path / "b", nodes=3, lanes=2))
    d = diff_topologies(old, new)
    why = {r.name: w for r, w in d.regressions()}
    assert why["scale_up"] == "pass -> fail"
    # more GPUs, more bisection bandwidth and a larger count: improvements or no direction
    assert "bisection(kind:gpu)" not in why and "count(kind:gpu) == NODES * 4" not in why
    back = diff_topologies(new, old)
    assert "bisection(kind:gpu)" in {r.name for r, _ in back.regressions()}
    assert {r.name for r, _ in back.regressions(tolerance=0.5)} == set()


def test_cli_diff_fails_on_a_regression_only_when_asked(tmp_path: Path) -> None:
    write(tmp_path / "a", nodes=2, lanes=4)
    write(tmp_path / "b", nodes=2, lanes=2)
    args = ["diff", "a/design.topo", "b/design.topo", "--no-bisection"]
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 0 and "regression" not in r.stdout
    r = run(*args, "--fail-on", "regression", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stdout.endswith("1 regression (tolerance 0%):\n  assertions: scale_up: pass -> fail\n")
    same = run("diff", "a/design.topo", "a/design.topo", "--fail-on", "change", cwd=tmp_path)
    assert same.returncode == 0 and "no regression" in same.stdout
    r = run(*args, "--fail-on", "regression", "--format", "json", cwd=tmp_path)
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["regressions"] == [
        {"section": "assertions", "name": "scale_up", "why": "pass -> fail"}
    ]
    r = run(*args, "--tolerance", "ten", cwd=tmp_path)
    assert r.returncode == 2 and "is not a fraction" in r.stderr
