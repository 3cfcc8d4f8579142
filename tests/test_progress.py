"""Progress of long analyses: the solvers' hook (topodsl/progress.py) and the terminal bars
(topodsl/cli/progress.py).

The hook must report what the solvers do and change nothing in their results; the bars must
appear for a person at a terminal and nowhere else (pipes, files, CI logs, JSON).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import REPO, run_on_a_terminal

import topodsl
from topodsl.analyses import run
from topodsl.check import check
from topodsl.cli import progress as cli_progress
from topodsl.solvers.bisection import bisection
from topodsl.solvers.reach import memory_reach

RING = """\
link l { bandwidth = 25 GB/s }
cluster ring {
    gpu g[10]
    connect g[i] -- g[(i + 1) % 10] via l x2
    connect g[i] -- g[(i + 3) % 10] via l
}
"""

# 14 GPUs on a ring of switch chains with one link one-way (so both directions of every split
# are measured): an exhaustive bisection of 6,864 max flows, about 3 CPU-seconds.
SLOW = """\
link l { bandwidth = 25 GB/s }
cluster ring {
    gpu g[14]
    switch s[560]
    connect g[i] -- s[40 * i] via l
    for i in 0..558 {
        connect s[i] -- s[i + 1] via l x2
    }
    connect s[559] -> g[0] via l
}
"""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.calls.append((stage, done, total))

    def stage(self, name: str) -> list[tuple[int, int]]:
        return [(d, t) for s, d, t in self.calls if s == name]


# -- the solvers' hook ---------------------------------------------------------------------------


def test_bisection_reports_every_split_it_measures_and_answers_the_same() -> None:
    t = topodsl.loads(RING)
    rec = Recorder()
    with_progress = bisection(t, progress=rec)
    plain = bisection(t)
    assert with_progress.lower_bound == plain.lower_bound == with_progress.upper_bound
    assert with_progress.cut == plain.cut and with_progress.halves == plain.halves
    splits = rec.stage("bisection: every balanced split")
    assert splits == [(k, 126) for k in range(1, 127)]  # C(9, 4) splits of a symmetric ring
    assert rec.stage("bisection: candidate splits") == [(1, 0)]


def test_the_candidate_search_reports_each_candidate() -> None:
    t = topodsl.load(REPO / "topologies" / "gb200_nvl72.topo")
    rec = Recorder()
    r = bisection(t, progress=rec)
    counts = [d for d, _ in rec.stage("bisection: candidate splits")]
    assert counts == list(range(1, len(r.upper_bounds) + 1)) and counts
    assert {s for s, _, _ in rec.calls} == {"bisection: candidate splits"}


def test_reach_reports_elements_done_up_to_all_of_them() -> None:
    t = topodsl.load(REPO / "topologies" / "small_pod.topo")
    rec = Recorder()
    r = memory_reach(t, "kind:gpu", within=1e-6, progress=rec)
    done = rec.stage("reach: elements")
    assert done[-1] == (32, 32) and all(t_ == 32 for _, t_ in done)
    assert [d for d, _ in done] == sorted(d for d, _ in done)
    plain = memory_reach(t, "kind:gpu", within=1e-6)
    assert (r.latency == plain.latency).all() and (r.bandwidth == plain.bandwidth).all()


def test_run_gives_the_callback_only_to_solvers_that_take_it() -> None:
    t = topodsl.loads(RING)
    rec = Recorder()
    assert run(t, "count", components="kind:gpu", progress=rec).value.format() == "10"
    assert run(t, "flow", sources="ring.g0", sinks="ring.g5", progress=rec).value.format()
    assert rec.calls == []  # neither reports
    run(t, "bisection", progress=rec)
    assert rec.stage("bisection: every balanced split")[-1] == (126, 126)


def test_check_reports_its_assertions_and_passes_the_hook_on() -> None:
    t = topodsl.loads(RING)
    rec = Recorder()
    r = check(t, ["count(kind:gpu) == 10", "bisection() >= 1 GB/s"], progress=rec)
    assert [x.status for x in r.results] == ["pass", "pass"]
    assert rec.stage("checking assertions") == [(0, 2), (1, 2), (2, 2)]
    assert rec.stage("bisection: every balanced split")[-1] == (126, 126)


# -- when bars are drawn ---------------------------------------------------------------------------


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "out_tty, err_tty, env, as_json, expected",
    [
        (True, True, {}, False, True),
        (True, True, {}, True, False),  # never with JSON
        (False, True, {}, False, False),  # the report goes to a pipe or a file
        (True, False, {}, False, False),  # stderr is a log
        (True, True, {"CI": "true"}, False, False),  # a CI job's pseudo-terminal
        (True, True, {"TERM": "dumb"}, False, False),
    ],
)
def test_bars_only_for_a_person_at_a_terminal(
    monkeypatch, out_tty, err_tty, env, as_json, expected
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "stdout", _Stream(out_tty))
    monkeypatch.setattr(sys, "stderr", _Stream(err_tty))
    assert cli_progress.wanted(as_json) is expected


def test_bars_are_drawn_per_stage_and_erased(monkeypatch) -> None:
    err = _Stream(True)
    monkeypatch.setattr(sys, "stderr", err)
    with cli_progress.terminal_progress(True, delay=0.0) as progress:
        assert progress is not None
        for k in range(1, 6):
            progress("bisection: every balanced split", k, 5)
        progress("bisection: candidate splits", 1, 0)
        progress("bisection: candidate splits", 2, 0)
        assert list(progress.bars) == ["bisection: candidate splits"]  # the first is over
    text = err.getvalue()
    assert "bisection: every balanced split:  20%" in text and "| 1/5 [" in text
    assert "bisection: candidate splits: 1it" in text  # tqdm redraws at most 5 times a second
    assert text.endswith(" \r")  # the last bar erased itself
    with cli_progress.terminal_progress(False) as progress:
        assert progress is None


def test_no_bar_before_the_delay(monkeypatch) -> None:
    err = _Stream(True)
    monkeypatch.setattr(sys, "stderr", err)
    with cli_progress.terminal_progress(True, delay=3600.0) as progress:
        for k in range(1, 100):
            progress("reach: elements", k, 100)
    assert err.getvalue() == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("2.5", 2.5), ("", cli_progress.DELAY), ("soon", cli_progress.DELAY),
     ("-1", cli_progress.DELAY), ("inf", cli_progress.DELAY), ("nan", cli_progress.DELAY)],
)  # fmt: skip
def test_the_delay_from_the_environment(monkeypatch, value: str, expected: float) -> None:
    monkeypatch.setenv("TOPODSL_PROGRESS_DELAY", value)
    assert cli_progress.terminal_progress(True).delay == expected
    assert cli_progress.terminal_progress(True, delay=7.0).delay == 7.0  # an explicit one wins


def test_a_stage_counts_in_its_own_unit(monkeypatch) -> None:
    err = _Stream(True)
    monkeypatch.setattr(sys, "stderr", err)
    with cli_progress.terminal_progress(True, delay=0.0, units={"sweep": "point"}) as progress:
        progress("sweep", 1, 4)
        progress("reach: elements", 1, 4)
    assert "point/s]" in err.getvalue() and "it/s]" in err.getvalue()


# -- on a real pseudo-terminal -------------------------------------------------------------------


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``topodsl ARGS`` with stdout and stderr on one pseudo-terminal; return the exit
    code and everything it wrote. Bars start at once, however fast the machine."""
    env = {"TERM": "xterm", "NO_COLOR": "1", "TOPODSL_PROGRESS_DELAY": "0"}
    code, out, _ = run_on_a_terminal(*args, cwd=cwd, env_extra=env, drop_env=("CI",))
    return code, out.decode("utf-8", "replace")


def _piped(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), TOPODSL_PROGRESS_DELAY="0")  # a bar could start
    env.pop("CI", None)
    cmd = [sys.executable, "-m", "topodsl", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_a_long_bisection_shows_progress_on_a_terminal_and_nowhere_else(tmp_path: Path) -> None:
    (tmp_path / "slow.topo").write_text(SLOW)
    code, screen = _on_a_terminal(["analyze", "bisection", "slow.topo"], tmp_path)
    assert code == 0
    assert "bisection: every balanced split:" in screen and "/6864 [" in screen
    piped = _piped(["analyze", "bisection", "slow.topo"], tmp_path)
    assert piped.returncode == 0 and piped.stderr == ""
    assert "balanced split:" not in piped.stdout and "\r" not in piped.stdout
    # The bars erase themselves: what is left on the screen is the report, unchanged.
    report = screen.replace("\r\n", "\n")
    assert report[report.index("bisection bandwidth") :] == piped.stdout
    # JSON on a terminal: no bar, a document that parses.
    code, screen = _on_a_terminal(["analyze", "bisection", "slow.topo", "--json"], tmp_path)
    assert code == 0 and "balanced split:" not in screen
    assert json.loads(screen)["exact"] is True
