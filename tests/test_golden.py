"""Golden tests: every tests/golden/errors/*.topo (and *.json, node-link input) has its exact
diagnostic text in a .err file,
and every tests/golden/ok/*.topo its node-link JSON export in a .json file.

Rewrite them after an intended change with ``python -m pytest tests/test_golden.py
--update-golden`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import topodsl
from topodsl.errors import TopoError
from topodsl.io import dumps_json

GOLDEN = Path(__file__).resolve().parent / "golden"
ERROR_CASES = sorted((GOLDEN / "errors").glob("*.topo")) + sorted(
    (GOLDEN / "errors").glob("*.json")
)
OK_CASES = sorted((GOLDEN / "ok").glob("*.topo"))


def _compare(expected_path: Path, actual: str, update: bool) -> None:
    if update or not expected_path.exists():
        expected_path.write_text(actual, encoding="utf-8")
        if not update:
            pytest.fail(f"{expected_path.name} did not exist; written, review it")
    assert actual == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda p: p.stem)
def test_error_messages(case: Path, update_golden: bool, monkeypatch, repo: Path) -> None:
    monkeypatch.chdir(repo)
    rel = case.relative_to(repo)
    with pytest.raises(TopoError) as info:
        topodsl.load(rel)
    _compare(case.with_suffix(".err"), info.value.render() + "\n", update_golden)


@pytest.mark.parametrize("case", OK_CASES, ids=lambda p: p.stem)
def test_export_json(case: Path, update_golden: bool, monkeypatch, repo: Path) -> None:
    monkeypatch.chdir(repo)
    topo = topodsl.load(case.relative_to(repo))
    assert not topo.warnings
    _compare(case.with_suffix(".json"), dumps_json(topo), update_golden)


def test_there_are_golden_cases() -> None:
    assert len(ERROR_CASES) >= 20 and len(OK_CASES) >= 2
