"""``analyze ... --jsonl``: JSON Lines that say what ``--json`` says, row for row (issue 17)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cli_support import run_topodsl as run_cli

from topodsl import load
from topodsl.analyses import ANALYSES, run

ROOT = Path(__file__).parent.parent
CASES = [
    ("dgx_h100.topo", {"within": 1e-6}),
    ("small_pod.topo", {"within": 5e-6}),
    ("small_pod.topo", {"within": 1e-9}),  # no memory that near: empty tables
    ("storage_cluster.topo", {"within": 5e-6, "storage": True}),
    ("cxl_pool.topo", {"within": 1e-6, "direction": "write"}),
]


def _generic(result):
    """What :meth:`AnalysisResult.to_lines` gives when an analysis has no ``jsonl`` hook."""
    plain = replace(ANALYSES["reach"], jsonl=None)
    ANALYSES["reach"], saved = plain, ANALYSES["reach"]
    try:
        head, lines = result.to_lines()
        return head, "".join(lines)
    finally:
        ANALYSES["reach"] = saved


@pytest.mark.parametrize(("name", "args"), CASES)
def test_the_reach_lines_are_the_json_document_split(name, args) -> None:
    result = run(load(ROOT / "topologies" / name), "reach", **args)
    head, lines = result.to_lines()
    text = "".join(lines)
    if all(head["tables"].values()):  # the generic split keeps an empty list in the head
        assert (head, text) == _generic(result)
    doc = result.to_dict()
    rows = [json.loads(line) for line in text.splitlines()]
    for table in ("elements", "rows", "tiers"):
        mine = [{k: v for k, v in r.items() if k != "table"} for r in rows if r["table"] == table]
        assert mine == doc[table] and head["tables"][table] == len(doc[table])
    assert {k: v for k, v in head.items() if k != "tables"} == {
        k: v for k, v in doc.items() if k not in ("elements", "rows", "tiers")
    }


def test_the_command_line_streams_json_lines() -> None:
    path = ROOT / "topologies" / "dgx_h100.topo"
    r = run_cli("analyze", "reach", path, "--within", "1us", "--jsonl")
    assert r.returncode == 0, r.stderr
    head, *rows = [json.loads(line) for line in r.stdout.splitlines()]
    whole = json.loads(run_cli("analyze", "reach", path, "--within", "1us", "--json").stdout)
    assert head["figures"] == whole["figures"] and len(rows) == sum(head["tables"].values())
    assert [r for r in rows if r["table"] == "rows"][0]["from"] == whole["rows"][0]["from"]


def test_json_and_jsonl_together_are_refused() -> None:
    path = ROOT / "topologies" / "dgx_h100.topo"
    r = run_cli("analyze", "reach", path, "--json", "--jsonl")
    assert r.returncode == 2 and "--jsonl" in r.stderr and not r.stdout
