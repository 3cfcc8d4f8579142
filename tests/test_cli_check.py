"""``topodsl check`` through a real subprocess: formats, exit codes, stdout versus stderr."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_support import run_on_a_terminal, run_topodsl

REPO = Path(__file__).resolve().parent.parent

DESIGN = """\
link pcie { bandwidth = 64 GB/s }
link eth  { bandwidth = 400 Gb/s }
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
    assert gpus: count(kind:gpu) == 4
    assert flow(a[*] -> b[*]) >= 100 GB/s
}
"""

PLAIN = "cluster c { gpu g[2] }\n"


def run(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m topodsl ARGS`` in ``cwd``, importing this checkout's package."""
    return run_topodsl(*args, cwd=cwd, drop_env=("NO_COLOR",))


@pytest.fixture
def design(tmp_path: Path) -> Path:
    (tmp_path / "design.topo").write_text(DESIGN)
    (tmp_path / "plain.topo").write_text(PLAIN)
    return tmp_path


def test_a_file_without_assertions_checks_as_before(design: Path) -> None:
    r = run("check", "plain.topo", cwd=design)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "plain.topo: ok (3 components, 0 links)\n"


def test_failing_assertion_exits_1_and_names_the_cut(design: Path) -> None:
    r = run("check", "design.topo", cwd=design)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [
        "design.topo: ok (8 components, 6 links)",
        "design.topo:14:5: pass: gpus: count(kind:gpu) == 4: measured 4, expected == 4",
        "design.topo:15:5: FAIL: flow(a[*] -> b[*]) >= 100 GB/s: measured 10 GB/s per direction,"
        " expected >= 100 GB/s",
        "    limiting cut: 10 GB/s per direction across 1 element (raise these to raise the "
        "figure):",
        "      c.spine -> c.lb (thin): 10 GB/s, 100.0% of the cut",
        "2 assertions: 1 passed, 1 failed, 0 unproven",
    ]
    assert "\x1b[" not in r.stdout  # no colour when stdout is not a terminal


def test_command_line_assertions(design: Path) -> None:
    r = run("check", "plain.topo", "--assert", "count(kind:gpu) == 2", "--assert",
            "two: capacity(kind:hbm) == 0 B", cwd=design)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "<assert 1>:1:1: pass: count(kind:gpu) == 2: measured 2, expected == 2" in r.stdout
    assert "<assert 2>:1:1: pass: two: capacity(kind:hbm) == 0 B" in r.stdout
    r = run("check", "plain.topo", "--assert", "count(kind:gpu) > 2", cwd=design)
    assert r.returncode == 1


@pytest.mark.parametrize(
    "expr, message",
    [
        ("count(kind:gpu) >= 1 TB", "<assert 1>:1:8: error: cannot compare a plain number"),
        ("cuont(kind:gpu) == 1", "<assert 1>:1:8: error: unknown analysis 'cuont'"),
        ("count(nope[*]) == 1", "<assert 1>:1:14: error: the selection nope[*] matches no"),
        ("count(kind:gpu) = 1", "<assert 1>:1:24: error: unexpected '='"),
    ],
)
def test_input_errors_exit_2_with_the_diagnostic_on_stderr(design, expr, message) -> None:
    r = run("check", "plain.topo", "--assert", expr, cwd=design)
    assert r.returncode == 2
    assert message in r.stderr and "^" in r.stderr and "Traceback" not in r.stderr


def test_a_command_line_assertion_that_does_not_parse_is_reported_once(design: Path) -> None:
    r = run("check", "plain.topo", "design.topo", "--assert", "count(gpu) = 1", cwd=design)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("<assert 1>:1:19: error: unexpected '='") == 1


def test_bad_file_exits_2_even_beside_a_failing_one(design: Path) -> None:
    (design / "bad.topo").write_text("cluster c { gpx g }\n")
    r = run("check", "design.topo", "bad.topo", cwd=design)
    assert r.returncode == 2
    assert "bad.topo:1:13: error: unknown kind" in r.stderr
    assert "design.topo: ok" in r.stdout and "bad.topo" not in r.stdout


def test_json_is_one_document(design: Path) -> None:
    r = run("check", "design.topo", "plain.topo", "--format", "json", cwd=design)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 1 and doc["unproven"] == "fail"
    assert doc["summary"] == {
        "pass": 1, "unproven": 0, "fail": 1, "error": 0, "assertions": 2, "files": 2,
    }  # fmt: skip
    f = doc["files"][0]
    assert f["source"] == "design.topo" and f["components"] == 8
    flow = f["assertions"][1]
    assert flow["status"] == "fail" and flow["line"] == 15 and flow["col"] == 5
    assert flow["measured"] == {"value": 10e9, "lower": 10e9, "upper": 10e9, "unit": "B/s"}
    assert flow["threshold"]["value"] == 100e9
    assert flow["cut"] == [
        {
            "from": "c.spine",
            "to": "c.lb",
            "bandwidth": 10e9,
            "share": 1.0,
            "element": "link",
            "limit": "link",
            "type": "thin",
            "group": 0,
        }
    ]
    assert flow["cut_total"] == 1
    assert flow["cut_groups"] == [
        {
            "count": 1,
            "element": "link",
            "from": "c.spine",
            "to": "c.lb",
            "type": "thin",
            "each": 10e9,
            "bandwidth": 10e9,
            "share": 1.0,
        }
    ]
    assert doc["files"][1]["assertions"] == []
    (design / "bad.topo").write_text("cluster c { gpx g }\n")
    r = run("check", "bad.topo", "--format", "json", cwd=design)
    assert r.returncode == 2
    (bad,) = json.loads(r.stdout)["files"]
    assert bad["errors"][0]["line"] == 1 and "unknown kind" in bad["errors"][0]["message"]


def test_colour_only_on_a_terminal(design: Path) -> None:
    code, out, _ = run_on_a_terminal("check", "design.topo", cwd=design, drop_env=("NO_COLOR",),
                                     stderr_too=False, timeout=120)  # fmt: skip
    assert code == 1
    assert b"\x1b[31m\x1b[1mFAIL\x1b[0m" in out and b"\x1b[32mpass\x1b[0m" in out
    plain = run("check", "design.topo", cwd=design).stdout
    assert "\x1b" not in plain and "FAIL" in plain


def test_junit_parses_with_one_testcase_per_assertion(design: Path) -> None:
    (design / "bad.topo").write_text("cluster c { gpx g }\n")
    r = run("check", "design.topo", "bad.topo", "--format", "junit", "--assert",
            "count(kind:gpu) >= 1 TB", cwd=design)  # fmt: skip
    assert r.returncode == 2
    root = ET.fromstring(r.stdout)
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "4", "failures": "1", "errors": "2", "skipped": "0",
    }  # fmt: skip
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["design.topo", "bad.topo"]
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == [
        "gpus: count(kind:gpu) == 4",
        "flow(a[*] -> b[*]) >= 100 GB/s",
        "count(kind:gpu) >= 1 TB",
    ]
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    failure = cases[1].find("failure")
    assert failure.get("message") == "measured 10 GB/s per direction, expected >= 100 GB/s"
    assert "c.spine -> c.lb (thin): 10 GB/s, 100.0% of the cut" in failure.text
    assert cases[1].get("file") == "design.topo" and cases[1].get("line") == "15"
    assert cases[2].find("error").get("type") == "input-error"
    load = suites[1].find("testcase")
    assert load.get("name") == "load" and "unknown kind" in load.find("error").text


def test_github_workflow_commands_match_exactly(design: Path) -> None:
    r = run("check", "design.topo", "--format", "github", "--assert", "cuont(kind:gpu) == 1",
            cwd=design)  # fmt: skip
    assert r.returncode == 2
    assert r.stdout.splitlines() == [
        "::error file=design.topo,line=15,col=5,endLine=15,endColumn=42,"
        "title=topodsl%3A assertion failed::flow(a[*] -> b[*]) >= 100 GB/s: measured 10 GB/s "
        "per direction, expected >= 100 GB/s%0Alimiting cut: 10 GB/s per direction "
        "across 1 element (raise these to raise the figure):%0A  c.spine -> c.lb (thin): "
        "10 GB/s, 100.0%25 of the cut",
        "::error file=<assert 1>,line=1,col=8,endLine=1,endColumn=23,title=topodsl%3A input "
        "error::unknown analysis 'cuont' (hint: did you mean 'count'?)",
        "topodsl check: 1 file(s), 3 assertion(s): 1 passed, 1 failed, 0 unproven, "
        "1 input error(s)",
    ]


def test_output_file_gets_the_report_and_stdout_the_text(design: Path) -> None:
    r = run("check", "design.topo", "--format", "junit", "-o", "report.xml", cwd=design)
    assert r.returncode == 1
    ET.parse(design / "report.xml")
    assert r.stdout.startswith("design.topo: ok")
    r = run("check", "plain.topo", "-o", "report.txt", cwd=design)
    assert r.returncode == 0 and r.stdout == ""
    assert (design / "report.txt").read_text() == "plain.topo: ok (3 components, 0 links)\n"


def test_output_is_deterministic(design: Path) -> None:
    outs = {run("check", "design.topo", "--format", fmt, cwd=design).stdout
            for fmt in ("json",) for _ in range(2)}  # fmt: skip
    assert len(outs) == 1


def test_usage_errors_exit_2(design: Path) -> None:
    assert run("check", "plain.topo", "--format", "yaml", cwd=design).returncode == 2
    assert run("check", "plain.topo", "--unproven", "maybe", cwd=design).returncode == 2


CHORDS = """\
link nvlink4 { bandwidth = 25 GB/s }
cluster ring {
    gpu g[32]
    connect g[i] -- g[(i + 1) % 32] via nvlink4 x2
    connect g[i] -- g[(i + 7) % 32] via nvlink4 x2
    assert chords: bisection(g[*]) >= THRESHOLD
}
"""


def test_unproven_fails_by_default_and_passes_on_request(tmp_path: Path) -> None:
    import topodsl
    from topodsl.solvers.bisection import bisection

    t = topodsl.loads(CHORDS.replace("THRESHOLD", "1 GB/s"))
    r = bisection(t)
    if r.exact:
        pytest.skip("the solver now proves this bisection exactly; no unproven case here")
    mid = f"{(r.lower_bound + r.upper_bound) / 2e9:.3f} GB/s"
    (tmp_path / "ring.topo").write_text(CHORDS.replace("THRESHOLD", mid))
    fail = run("check", "ring.topo", cwd=tmp_path)
    assert fail.returncode == 1
    assert f"ring.topo:6:5: UNPROVEN: chords: bisection(g[*]) >= {mid}" in fail.stdout
    assert "1 assertion: 0 passed, 0 failed, 1 unproven (unproven counted as failed)" in fail.stdout
    ok = run("check", "ring.topo", "--unproven", "pass", cwd=tmp_path)
    assert ok.returncode == 0
    assert "(unproven not counted as failed)" in ok.stdout
    junit = run("check", "ring.topo", "--format", "junit", cwd=tmp_path)
    case = ET.fromstring(junit.stdout).find("testsuite/testcase")
    assert case.find("failure").get("type") == "unproven"
    junit = run("check", "ring.topo", "--format", "junit", "--unproven", "pass", cwd=tmp_path)
    case = ET.fromstring(junit.stdout).find("testsuite/testcase")
    assert case.find("failure") is None and case.find("skipped") is not None
    gh = run("check", "ring.topo", "--format", "github", "--unproven", "pass", cwd=tmp_path)
    assert gh.returncode == 0
    assert gh.stdout.startswith("::warning file=ring.topo,line=6,col=5,")
    assert "title=topodsl%3A assertion unproven::" in gh.stdout
    gh = run("check", "ring.topo", "--format", "github", cwd=tmp_path)
    assert gh.returncode == 1 and gh.stdout.startswith("::error file=ring.topo,line=6,col=5,")


# -- docs/ci.md: its example commands print what the page says -----------------------------------

DOC = REPO / "docs" / "ci.md"


def doc_blocks() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The page's ``topo file=NAME`` blocks and its ``console`` blocks as (command, output)."""
    import re

    text = DOC.read_text(encoding="utf-8")
    files: dict[str, str] = {}
    commands: list[tuple[str, str]] = []
    for m in re.finditer(r"^```([^\n]*)\n(.*?)^```[ \t]*$", text, re.MULTILINE | re.DOTALL):
        info, body = m.group(1).split(), m.group(2)
        if info[:1] == ["topo"] and len(info) > 1 and info[1].startswith("file="):
            files[info[1][5:]] = body
        elif info[:1] == ["console"]:
            lines = body.splitlines(keepends=True)
            assert lines[0].startswith("$ ")
            commands.append((lines[0][2:].strip(), "".join(lines[1:])))
    return files, commands


def test_docs_ci_examples_print_what_the_page_says(tmp_path: Path, update_golden: bool) -> None:
    """Each ``console`` block's output is what the command prints (``--update-golden``
    rewrites the page's outputs from the current code)."""
    import shlex

    files, commands = doc_blocks()
    assert "pod.topo" in files and len(commands) >= 3
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    # The page describes pod_v2.topo as pod.topo with these two changes.
    v2 = files["pod.topo"].replace("Server node[4]", "Server node[8]")
    (tmp_path / "pod_v2.topo").write_text(v2.replace("eth400 x2", "eth400 x1"))
    page = DOC.read_text(encoding="utf-8")
    for command, expected in commands:
        argv = shlex.split(command)
        assert argv[0] == "topodsl"
        r = run(*argv[1:], cwd=tmp_path)
        assert r.returncode in (0, 1), r.stderr
        if update_golden:
            old = f"$ {command}\n{expected}```"
            assert page.count(old) == 1
            page = page.replace(old, f"$ {command}\n{r.stdout}```")
            continue
        assert r.stdout == expected, f"docs/ci.md is out of date for: {command}"
    if update_golden:
        DOC.write_text(page, encoding="utf-8")


def test_docs_ci_lists_every_analysis() -> None:
    from topodsl.check import ANALYSES

    text = DOC.read_text(encoding="utf-8")
    for a in ANALYSES.values():
        assert f"`{a.signature}`" in text, a.signature


def test_pre_commit_hook_runs_topodsl_check_on_topo_files() -> None:
    import re

    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert hook["id"] == "topodsl-check" and hook["language"] == "python"
    assert hook["entry"] == "topodsl check"
    rx = re.compile(hook["files"])
    assert rx.search("topologies/dgx_h100.topo") and not rx.search("export.json")


def test_an_assertion_error_is_printed_once(design: Path) -> None:
    r = run("check", "design.topo", "--assert", "checkpoint(1 TB) <= 60 s", cwd=design)
    assert r.returncode == 2
    message = "checkpoint() defaults 'from' to kind:gpu"
    both = r.stdout + r.stderr
    assert both.count("defaults 'to' to kind:ssd & in:storage_node, and there is none") == 1, both
    assert message not in both  # the GPUs are there; the SSDs are not
    assert "<assert 1>:1:8: error:" in r.stderr and "^~~" in r.stderr
    assert "<assert 1>:1:1: ERROR: checkpoint(1 TB) <= 60 s: not evaluated" in r.stdout


EXPORTED = """\
const N = 2
link l { bandwidth = 50 GB/s }
def node Box(K = 2) {
    gpu g[K]
    nvswitch s
    connect g[*] -- s via l
    assert pair: flow(g[0] -> g[1]) >= 50 GB/s
    assert count(gpu) == K
}
cluster c {
    Box b[N]
    Box(K = 3) big
    assert links(type:l) == 7
}
assert total: count(kind:gpu) == N * 2 + 3
"""


def test_exported_json_keeps_the_assertions_and_checks_them(tmp_path: Path) -> None:
    (tmp_path / "d.topo").write_text(EXPORTED)
    assert run("export", "d.topo", "-o", "d.json", cwd=tmp_path).returncode == 0
    assert run("export", "d.json", "-o", "again.json", cwd=tmp_path).returncode == 0
    assert (tmp_path / "d.json").read_bytes() == (tmp_path / "again.json").read_bytes()
    graph = json.loads((tmp_path / "d.json").read_text())["graph"]
    assert [a["name"] for a in graph["assertions"]] == ["pair", None, None, "total"]
    assert graph["assertions"][3]["instances"][0]["constants"]["N"]["value"] == 2
    assert graph["assertions"][0]["from"] == "d.topo:7:5"
    src = run("check", "d.topo", "--format", "json", cwd=tmp_path)
    exp = run("check", "d.json", "--format", "json", cwd=tmp_path)
    assert src.returncode == exp.returncode == 0, exp.stderr

    def figures(doc):
        return [(a["name"], a["status"], a["measured"], a["instances"])
                for a in json.loads(doc)["files"][0]["assertions"]]  # fmt: skip

    assert figures(exp.stdout) == figures(src.stdout) and len(figures(src.stdout)) == 4
    text = run("check", "d.json", cwd=tmp_path).stdout
    assert "d.json#assertions:1:1: pass: pair: flow(g[0] -> g[1]) >= 50 GB/s" in text


def test_an_exported_assertion_that_fails_is_reported_there(tmp_path: Path) -> None:
    (tmp_path / "d.topo").write_text(EXPORTED.replace("== N * 2 + 3", "== 99"))
    run("export", "d.topo", "-o", "d.json", cwd=tmp_path)
    r = run("check", "d.json", cwd=tmp_path)
    assert r.returncode == 1 and "FAIL: total: count(kind:gpu) == 99: measured 7" in r.stdout
    doc = json.loads((tmp_path / "d.json").read_text())
    doc["graph"]["assertions"][0]["instances"][0]["scopes"] = ["c.nowhere"]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    r = run("check", "bad.json", cwd=tmp_path)
    assert r.returncode == 2 and "unknown component 'c.nowhere'" in r.stderr
    doc["graph"]["assertions"][0] = {"text": "count(kind:gpu) ==", "instances": []}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    r = run("check", "bad.json", cwd=tmp_path)
    assert r.returncode == 2 and "bad.json#assertions:1:" in r.stderr
    assert "Traceback" not in r.stderr


def test_graphml_and_dot_exports_say_they_drop_the_assertions(tmp_path: Path) -> None:
    (tmp_path / "d.topo").write_text(EXPORTED)
    for fmt in ("graphml", "dot"):
        r = run("export", "d.topo", "--format", fmt, "-o", f"d.{fmt}", cwd=tmp_path)
        assert r.returncode == 0
        assert r.stderr == (
            f"note: {fmt} has no place for assertions; the 4 assertions of d.topo are not "
            "exported (--format json keeps them)\n"
        )
