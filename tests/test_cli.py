"""The command line, through a real subprocess: exit codes, stdout versus stderr."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_support import run_topodsl

GOLDEN = Path(__file__).resolve().parent / "golden"
SERVER = GOLDEN / "ok" / "small_server.topo"


def run(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run_topodsl(*args, cwd=cwd)


def test_check_valid_file_exits_0() -> None:
    r = run("check", SERVER)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout and r.stderr == ""


def test_check_bad_file_exits_2_with_diagnostic_on_stderr() -> None:
    bad = GOLDEN / "errors" / "unknown_kind.topo"
    r = run("check", bad)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "error: unknown kind or definition 'gpx'" in r.stderr
    assert "^~~" in r.stderr and "Traceback" not in r.stderr


def test_missing_file_exits_2() -> None:
    r = run("check", "no/such/file.topo")
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_usage_error_exits_2() -> None:
    r = run("frobnicate")
    assert r.returncode == 2


def test_show_summarises_counts_and_memory() -> None:
    r = run("show", SERVER)
    assert r.returncode == 0
    assert "gpu" in r.stdout and "total capacity" in r.stdout
    r = run("show", SERVER, "--json")
    data = json.loads(r.stdout)
    assert data["kinds"]["gpu"] == 3 and data["kinds"]["hbm"] == 7
    assert data["memory"]["hbm"]["capacity"] == 7 * 24 * 2**30


def test_export_json_round_trips_through_the_cli(tmp_path: Path) -> None:
    out1 = tmp_path / "a.json"
    out2 = tmp_path / "b.json"
    assert run("export", SERVER, "--format", "json", "-o", out1).returncode == 0
    assert run("export", out1, "--format", "json", "-o", out2).returncode == 0
    assert out1.read_bytes() == out2.read_bytes()


def test_export_graphml_is_xml(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    r = run("export", SERVER, "--format", "graphml")
    assert r.returncode == 0
    root = ET.fromstring(r.stdout)
    assert root.tag.endswith("graphml")


def test_minimal_hand_written_json_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "tiny.json"
    f.write_text(
        json.dumps(
            {
                "nodes": [{"id": "a", "kind": "gpu"}, {"id": "b", "kind": "gpu"}],
                "links": [{"source": "a", "target": "b", "bandwidth": 5e10}],
            }
        )
    )
    r = run("show", f, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["links"] == 1


def test_bad_json_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text('{"nodes": [{"id": "a", "kind": "gpx"}]}')
    r = run("check", f)
    assert r.returncode == 2 and "unknown kind" in r.stderr


def test_python_dash_m_and_console_script_agree() -> None:
    r = run("--help")
    assert r.returncode == 0 and "check" in r.stdout


@pytest.mark.parametrize("flag", ["--version"])
def test_version(flag: str) -> None:
    r = run(flag)
    assert r.returncode == 0 and "0.1.0" in r.stdout


def test_output_is_deterministic() -> None:
    a = run("export", SERVER).stdout
    b = run("export", SERVER).stdout
    assert a == b and a


def test_docs_cli_covers_every_command() -> None:
    import click

    from topodsl.cli import main

    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    missing = []

    def walk(group: click.Group, prefix: str) -> None:
        for name, cmd in group.commands.items():
            full = f"{prefix} {name}".strip()
            if isinstance(cmd, click.Group):
                walk(cmd, full)
            elif f"topodsl {full}" not in doc and full not in ("render diagram",):
                missing.append(full)

    walk(main, "")
    assert not missing, f"docs/cli.md does not show: {missing}"


def test_export_dot_is_the_whole_graph() -> None:
    r = run("export", GOLDEN / "ok" / "small_server.topo", "--format", "dot")
    assert r.returncode == 0, r.stderr
    for node in ("server.gpu0.stack1", "server.big.stack2", "server.nic1"):
        assert node in r.stdout


def test_the_command_line_starts_without_the_solvers() -> None:
    code = (
        "import sys, topodsl.cli; "
        "print(sorted(m for m in ('scipy', 'networkx', 'pymetis', 'lark') if m in sys.modules))"
    )
    r = run_topodsl(code=code)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


def test_help_imports_neither_the_solvers_nor_the_elaborator() -> None:
    # ``topodsl --help`` run for real, then every heavy module it must not have loaded.
    heavy = (
        "scipy",
        "networkx",
        "pymetis",
        "lark",
        "topodsl.elaborate",
        "topodsl.ast",
        "topodsl.parser",
        "topodsl.params",
        "topodsl.solvers",
    )
    code = (
        "import sys\nfrom topodsl.cli import main\nsys.argv = ['topodsl', '--help']\n"
        "try:\n    main()\nexcept SystemExit as e:\n"
        f"    print(e.code, sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    r = run_topodsl(code=code)
    assert r.stdout.splitlines()[-1] == "0 []", r.stdout + r.stderr
    assert "Usage: topodsl" in r.stdout


def test_the_elaborate_function_survives_its_submodule_import() -> None:
    # ``topodsl.elaborate`` is bound on first use; importing the submodule must not rebind it.
    code = (
        "import topodsl, topodsl.elaborate, inspect\n"
        "print(inspect.isfunction(topodsl.elaborate), topodsl.elaborate.__module__)"
    )
    r = run_topodsl(code=code)
    assert r.stdout.strip() == "True topodsl.elaborate", r.stdout + r.stderr


def test_structural_assertions_are_checked_without_the_solvers(tmp_path: Path) -> None:
    f = tmp_path / "d.topo"
    f.write_text(
        "cluster c { hbm m[4] { capacity = 80 GB }\n assert capacity(kind:hbm) >= 320 GB }"
    )
    code = (
        "import sys\nfrom topodsl.cli import main\ntry:\n    main()\nexcept SystemExit as e:\n"
        "    print('scipy' in sys.modules, e.code)"
    )
    r = run_topodsl("check", f, code=code)
    assert r.stdout.endswith("1 passed, 0 failed, 0 unproven\nFalse 0\n"), r.stdout + r.stderr


def test_a_check_of_counts_imports_no_solver_scipy_or_networkx(tmp_path: Path) -> None:
    # Counts, capacities and ports need no graph algorithm: the check must not pay for one.
    f = tmp_path / "d.topo"
    f.write_text(
        "link l { bandwidth = 50 GB/s }\n"
        "cluster c {\n  hbm m[4] { capacity = 80 GB }\n  gpu g[4]\n"
        "  nvswitch s { ports = 8 }\n  connect g[*] -- s via l\n"
        "  assert count(kind:gpu) == 4\n  assert capacity(kind:hbm) >= 320 GB\n"
        "  assert ports_used(kind:nvswitch) <= 8\n  assert ports_free(kind:nvswitch) >= 4\n}\n"
    )
    heavy = ("scipy", "networkx", "pymetis", "topodsl.solvers")
    code = (
        "import sys\nfrom topodsl.cli import main\ntry:\n    main()\nexcept SystemExit as e:\n"
        f"    print(e.code, sorted({{m.split('.')[0] if not m.startswith('topodsl') else m\n"
        f"        for m in sys.modules if m.startswith({heavy!r})}}))"
    )
    r = run_topodsl("check", f, code=code)
    assert r.stdout.endswith("4 passed, 0 failed, 0 unproven\n0 []\n"), r.stdout + r.stderr


def test_analyze_lists_every_registered_analysis() -> None:
    from topodsl.analyses import ANALYSES

    r = run("analyze", "--help")
    assert r.returncode == 0
    for name in ANALYSES:
        assert f"  {name} " in r.stdout
