"""Golden reports: what the command line prints on every shipped example, byte for byte.

For each ``topologies/NAME.topo`` the commands below run in-process (click's test runner, from
the repository root) and their exit code, stdout and stderr are compared with
``tests/golden/reports/NAME.text`` (text reports) and ``NAME.json`` (JSON documents). Every
analysis is covered: ``check`` with the file's assertions and ad-hoc ones for each assertion
function, every ``analyze`` subcommand in text and JSON, and ``diff`` in its three formats.

These files prove that a restructuring changes no figure. Rewrite them after an intended change
with ``python -m pytest tests/test_reports_golden.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from topodsl.cli import main

REPORTS = Path(__file__).resolve().parent / "golden" / "reports"

#: Assertions checked on every example with ``check --assert``: one or more per assertion
#: function. Where a file lacks the parts (no SSD for checkpoint), the error is the golden output.
ADHOC = (
    "count(kind:gpu) >= 0",
    "capacity(kind:hbm) >= 0 B",
    "capacity(role:memory) >= 0 B",
    "ports_used(kind:gpu) >= 0",
    "ports_free(kind:nvswitch) >= 0",
    "oversubscription(kind:switch) >= 0",
    "flow(kind:gpu -> kind:nic) >= 0 B/s",
    "bisection().lower >= 0 B/s",
    "bisection() / 2 >= 1 GB/s",
    "reach(within 1 us).capacity >= 0 B",
    "reach(within 1 us).memories >= 0",
    "checkpoint(1 TB) >= 0 s",
    "checkpoint(1 TB).throughput >= 0 B/s",
    "drain(10 TB) >= 0 s",
    "ingest() >= 0 B/s",
    "ingest(1 TB).time >= 0 s",
    "spill(100 GB) >= 0 B/s",
    "spill(100 GB).fetch_time >= 0 s",
)


#: Examples whose ad-hoc check is also golden as JSON (small ones: the cut lists are long).
ADHOC_JSON = ("dgx_h100", "small_pod", "mi300x", "cxl_pool")


def _check_adhoc(file: str) -> list[str]:
    args = ["check", file]
    for a in ADHOC:
        args += ["--assert", a]
    return args


# Per example: (text commands, JSON commands), each a command line after ``topodsl``.
_T = "topologies/"
EXAMPLES: dict[str, tuple[list[str], list[str]]] = {
    "dgx_h100": (
        [
            f"analyze bisection {_T}dgx_h100.topo",
            f"analyze bisection {_T}dgx_h100.topo --endpoints kind:cpu --cut-rows 3",
            f"analyze reach {_T}dgx_h100.topo --from dgx.gpu0",
            f"analyze reach {_T}dgx_h100.topo --from dgx.cpu0 --storage --write --rows 5",
            f"analyze flow {_T}dgx_h100.topo --from dgx.gpu* --to dgx.nic* --size 2TB",
            f"analyze flow {_T}dgx_h100.topo --from kind:ssd --to dgx.gpu0 --links 0",
            f"analyze checkpoint {_T}dgx_h100.topo --size 2TB",
            f"analyze ingest {_T}dgx_h100.topo",
            f"analyze ingest {_T}dgx_h100.topo --size 10TB --from kind:ssd",
            f"analyze drain {_T}dgx_h100.topo --size 1TB",
            f"analyze spill {_T}dgx_h100.topo",
            f"analyze count {_T}dgx_h100.topo --select kind:gpu",
            f"analyze links {_T}dgx_h100.topo --type nvlink4",
            f"analyze links {_T}dgx_h100.topo --from dgx.gpu* --to dgx.nic*",
            f"analyze ports_free {_T}dgx_h100.topo --select dgx.nvs*",
        ],
        [
            f"analyze bisection {_T}dgx_h100.topo --json",
            f"analyze reach {_T}dgx_h100.topo --from dgx.gpu0 --json",
            f"analyze flow {_T}dgx_h100.topo --from dgx.gpu* --to dgx.nic* --size 2TB --json",
            f"analyze flow {_T}dgx_h100.topo --from kind:ssd --to dgx.gpu0 --links 0 --json",
            f"analyze checkpoint {_T}dgx_h100.topo --size 2TB --json",
            f"analyze ingest {_T}dgx_h100.topo --size 10TB --json",
            f"analyze links {_T}dgx_h100.topo --type nvlink4 --json",
            f"analyze capacity {_T}dgx_h100.topo --select kind:hbm --json",
        ],
    ),
    "cluster_256": (
        [
            f"analyze bisection {_T}cluster_256.topo",
            f"analyze reach {_T}cluster_256.topo --from pod.node0.gpu* --within 1us",
            f"analyze flow {_T}cluster_256.topo --from pod.store*.ssd* --to pod.node*.snic*",
            f"analyze checkpoint {_T}cluster_256.topo --size 2TB",
            f"analyze checkpoint {_T}cluster_256.topo --size 2TB --from pod.node0.gpu*",
            f"analyze ingest {_T}cluster_256.topo",
            f"analyze oversubscription {_T}cluster_256.topo --switches pod.leaf*",
            f"analyze oversubscription {_T}cluster_256.topo --switches pod.leaf* --to pod.spine*",
            f"analyze ports_used {_T}cluster_256.topo --select kind:switch",
        ],
        [
            f"analyze bisection {_T}cluster_256.topo --json",
            f"analyze flow {_T}cluster_256.topo --from pod.store*.ssd* --to pod.node*.snic* "
            "--links 5 --json",
            f"analyze checkpoint {_T}cluster_256.topo --size 2TB --json",
            f"analyze ingest {_T}cluster_256.topo --json",
            f"analyze oversubscription {_T}cluster_256.topo --switches pod.leaf* --json",
        ],
    ),
    "storage_cluster": (
        [
            f"analyze bisection {_T}storage_cluster.topo",
            f"analyze reach {_T}storage_cluster.topo --from store.client0.gpu0 --storage",
            f"analyze flow {_T}storage_cluster.topo --from store.flash*.ssd* --to store.leaf*",
            f"analyze checkpoint {_T}storage_cluster.topo --size 2TB",
            f"analyze drain {_T}storage_cluster.topo --size 20TB",
            f"analyze ingest {_T}storage_cluster.topo --size 100TB",
        ],
        [
            f"analyze bisection {_T}storage_cluster.topo --json",
            f"analyze reach {_T}storage_cluster.topo --from store.client0.gpu0 --json",
            f"analyze flow {_T}storage_cluster.topo --from store.disk*.hdd* --to store.leaf* "
            "--size 1PB --json",
            f"analyze checkpoint {_T}storage_cluster.topo --size 2TB --json",
            f"analyze drain {_T}storage_cluster.topo --size 20TB --json",
            f"analyze ingest {_T}storage_cluster.topo --json",
        ],
    ),
    "cxl_pool": (
        [
            f"analyze bisection {_T}cxl_pool.topo",
            f"analyze reach {_T}cxl_pool.topo",
            f"analyze reach {_T}cxl_pool.topo --from pool_rack.host0.cpu0 --within 250ns",
            f"analyze flow {_T}cxl_pool.topo --from pool_rack.host*.cpu* --to kind:cxl_memory",
            f"analyze spill {_T}cxl_pool.topo",
            f"analyze spill {_T}cxl_pool.topo --size 1TB",
            f"analyze checkpoint {_T}cxl_pool.topo --size 1TB",
        ],
        [
            f"analyze bisection {_T}cxl_pool.topo --json",
            f"analyze reach {_T}cxl_pool.topo --from pool_rack.host0.cpu0 --json",
            f"analyze flow {_T}cxl_pool.topo --from pool_rack.host*.cpu* --to kind:cxl_memory "
            "--json",
            f"analyze spill {_T}cxl_pool.topo --size 1TB --json",
        ],
    ),
    "gb200_nvl72": (
        [
            f"analyze bisection {_T}gb200_nvl72.topo",
            f"analyze reach {_T}gb200_nvl72.topo --from nvl72.tray0.gpu0",
            f"analyze flow {_T}gb200_nvl72.topo --from nvl72.tray0.gpu* --to nvl72.tray1.gpu*",
        ],
        [
            f"analyze bisection {_T}gb200_nvl72.topo --json",
            f"analyze flow {_T}gb200_nvl72.topo --from nvl72.tray0.gpu* --to nvl72.tray1.gpu* "
            "--json",
        ],
    ),
    "mi300x": (
        [
            f"analyze bisection {_T}mi300x.topo",
            f"analyze bisection {_T}mi300x.topo --endpoints server.gpu*.iod*",
            f"analyze reach {_T}mi300x.topo --from server.gpu0.iod0.xcd0",
            f"analyze flow {_T}mi300x.topo --from server.gpu0.iod0.xcd0 "
            "--to server.gpu0.iod0.stack*",
        ],
        [
            f"analyze bisection {_T}mi300x.topo --json",
            f"analyze reach {_T}mi300x.topo --from server.gpu0.iod0.xcd0 --within 1us --json",
            f"analyze flow {_T}mi300x.topo --from server.gpu* --to server.nic* --json",
        ],
    ),
    "small_pod": (
        [
            f"analyze bisection {_T}small_pod.topo",
            f"analyze reach {_T}small_pod.topo",
            f"analyze flow {_T}small_pod.topo --from pod.node0.gpu* --to pod.node1.gpu* --size 1TB",
            f"analyze ingest {_T}small_pod.topo",
            f"diff {_T}small_pod.topo {_T}cluster_256.topo",
            f"diff {_T}small_pod.topo {_T}cluster_256.topo --format markdown --changed-only",
            f"diff {_T}dgx_h100.topo {_T}mi300x.topo --assert count(kind:nic)>=8",
            f"diff {_T}cxl_pool.topo {_T}storage_cluster.topo --no-bisection",
            f"diff {_T}dgx_h100.topo {_T}cluster_256.topo --analysis checkpoint:size=2TB "
            "--analysis links:type=nvlink4 --changed-only --fail-on regression",
        ],
        [
            f"analyze bisection {_T}small_pod.topo --json",
            f"analyze reach {_T}small_pod.topo --json",
            f"analyze flow {_T}small_pod.topo --from pod.node0.gpu* --to pod.node1.gpu* --json",
            f"diff {_T}small_pod.topo {_T}cluster_256.topo --format json",
            f"diff {_T}gb200_nvl72.topo {_T}dgx_h100.topo --format json",
        ],
    ),
}


def _commands(name: str) -> tuple[list[list[str]], list[list[str]]]:
    file = f"{_T}{name}.topo"
    text, js = EXAMPLES[name]
    text_cmds = [["check", file], _check_adhoc(file), ["diff", file, file]]
    text_cmds += [shlex.split(c) for c in text]
    json_cmds = [["check", file, "--format", "json"]]
    if name in ADHOC_JSON:
        json_cmds.append([*_check_adhoc(file), "--format", "json"])
    json_cmds += [shlex.split(c) for c in js]
    return text_cmds, json_cmds


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        return CliRunner()


def _transcript(commands: list[list[str]]) -> str:
    runner = _runner()
    out = []
    for args in commands:
        r = runner.invoke(main, args, catch_exceptions=False)
        out.append(f"$ topodsl {shlex.join(args)}\n[exit {r.exit_code}]\n")
        out.append(r.stdout if r.stdout.endswith("\n") or not r.stdout else r.stdout + "\n")
        if r.stderr:
            out.append("[stderr]\n" + r.stderr + ("" if r.stderr.endswith("\n") else "\n"))
        out.append("\n")
    return "".join(out)


def test_every_shipped_example_has_golden_reports(repo: Path) -> None:
    shipped = sorted(p.stem for p in (repo / "topologies").glob("*.topo"))
    assert shipped == sorted(EXAMPLES)


@pytest.mark.parametrize("kind", ["text", "json"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_reports_are_unchanged(
    name: str, kind: str, repo: Path, monkeypatch, update_golden: bool
) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("NO_COLOR", "1")
    text_cmds, json_cmds = _commands(name)
    actual = _transcript(text_cmds if kind == "text" else json_cmds)
    expected = REPORTS / f"{name}.{kind}"
    if update_golden or not expected.exists():
        REPORTS.mkdir(parents=True, exist_ok=True)
        expected.write_text(actual, encoding="utf-8")
        if not update_golden:
            pytest.fail(f"{expected.name} did not exist; written, review it")
    assert actual == expected.read_text(encoding="utf-8")
