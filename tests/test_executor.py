"""The executors (topodsl/executor.py) and sweeps through a real Dask cluster.

A ``distributed.LocalCluster`` of two worker processes on 127.0.0.1 is started once for the
module; sweeps run through ``topodsl sweep --scheduler`` and must write the same bytes as the
local pool and one process.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import run_topodsl

from topodsl.executor import (
    DaskExecutor,
    ExecutorError,
    PoolExecutor,
    SerialExecutor,
    make_executor,
    run_all,
)

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
import executor_tasks as tasks  # noqa: E402

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler():
    """The address of a two-worker LocalCluster (worker processes import tests/ helpers)."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), str(TESTS.parent), old]))
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1", silence_logs=logging.ERROR,
    )  # fmt: skip
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _executors(scheduler: str):
    return [SerialExecutor(), PoolExecutor(2), DaskExecutor(scheduler)]


def test_every_executor_gives_the_same_outcomes_in_the_order_of_the_items(scheduler, tmp_path):
    items = list(range(12))
    expected = None
    for ex in _executors(scheduler):
        with ex:
            got = run_all(ex, tasks.fail_on_odd, None, items, chunksize=1 if ex.workers < 2 else 3)
        summary = [(o.index, o.value, o.error) for o in got]
        assert summary == [
            (i, None, f"ValueError: odd item {i}") if i % 2 else (i, i, None) for i in items
        ]
        expected = expected or summary
        assert summary == expected


@pytest.mark.parametrize("kind", ["pool", "dask"])
def test_the_shared_input_reaches_each_worker_once_not_once_per_task(scheduler, tmp_path, kind):
    log = tmp_path / "unpickled.txt"
    shared = tasks.Counted(str(log), 100)
    ex = PoolExecutor(2) if kind == "pool" else DaskExecutor(scheduler)
    done = []
    with ex:
        out = run_all(ex, tasks.add, shared, list(range(40)), on_done=done.append)
    assert [o.value for o in out] == [100 + i for i in range(40)]
    assert len(done) == 40  # streamed, one by one
    pids = log.read_text().split()
    assert 1 <= len(pids) <= 2 and len(set(pids)) == len(pids), pids


def test_a_worker_that_dies_is_reported_and_the_run_ends(tmp_path):
    with PoolExecutor(2) as ex:
        out = run_all(ex, tasks.die_on_three, None, list(range(6)))
    assert out[3].error is not None and "BrokenProcessPool" in out[3].error
    assert all(o.ok or "BrokenProcessPool" in o.error for o in out)


def test_a_scheduler_that_is_not_there_is_an_executor_error():
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1)
    assert isinstance(make_executor(jobs=1), SerialExecutor)
    assert make_executor(jobs=3).workers == 3


def test_a_scheduler_address_dask_cannot_parse_fails_at_once_and_quietly():
    # Refused before a Client exists: a failed Client's finaliser used to wait 20 s and then
    # print an "Exception ignored" traceback after the command had exited 2.
    code = (
        "import time, distributed; from topodsl.executor import DaskExecutor, ExecutorError\n"
        "t = time.monotonic()\n"
        "try:\n    DaskExecutor('bogus://x')\n"
        "except ExecutorError as e:\n    print(e)\n"
        "print(round(time.monotonic() - t))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = run.stdout.split()
    assert "unknown address scheme 'bogus'" in run.stdout, run.stdout
    # The old finaliser waited 20 s; the import of distributed is outside the clock.
    assert int(lines[-1]) < 10 and run.stderr == "", run.stderr


# -- sweeps through Dask ----------------------------------------------------------------------


DESIGN = """\
const N = 2
const BW = 50 GB/s
link l { bandwidth = BW }
cluster c {
    gpu g[N]
    switch s { ports = 4 }
    connect g[*] -- s via l
    assert fabric: bisection() >= N / 2 * BW
}
"""


def test_a_sweep_through_dask_writes_the_bytes_of_the_local_runs(scheduler, tmp_path: Path):
    (tmp_path / "d.topo").write_text(DESIGN)
    args = ["sweep", "d.topo", "--param", "N=2,3,5", "--param", "BW=50GB/s,100GB/s",
            "--analysis", "bisection", "--pareto", "bisection:max,N:min"]  # fmt: skip
    outs = {}
    for name, extra in {"one": ["--jobs", "1"], "pool": ["--jobs", "2"],
                        "dask": ["--scheduler", scheduler]}.items():  # fmt: skip
        r = run_topodsl(*args, *extra, "-o", f"{name}.csv", cwd=tmp_path, timeout=300)
        assert r.returncode == 0, r.stderr
        outs[name] = (tmp_path / f"{name}.csv").read_bytes()
    assert outs["one"] == outs["pool"] == outs["dask"]
    rows = list(csv.reader(io.StringIO(outs["dask"].decode())))
    assert len(rows) == 7
    # N=5 has five links on a four-port switch: the error is in its rows, named as written.
    assert [r[-2] for r in rows[1:]] == ["ok"] * 4 + ["error"] * 2
    assert rows[5][-1].startswith("d.topo:6:12: error: c.s has 4 ports but 5 lanes")
    assert "the Dask scheduler" in r.stderr


def test_cluster_256_through_dask_matches_the_pool(scheduler, tmp_path: Path):
    repo = TESTS.parent
    args = ["sweep", "topologies/cluster_256.topo", "--param", "SERVERS=8,16",
            "--param", "STORES=2,4", "--analysis", "bisection", "--analysis",
            "checkpoint:size=2TB", "--no-assertions"]  # fmt: skip
    pool = run_topodsl(*args, "--jobs", "2", "-o", tmp_path / "pool.csv", cwd=repo, timeout=300)
    dask = run_topodsl(*args, "--scheduler", scheduler, "-o", tmp_path / "dask.csv", cwd=repo,
                       timeout=300)  # fmt: skip
    assert pool.returncode == 0 and dask.returncode == 0, (pool.stderr, dask.stderr)
    assert (tmp_path / "pool.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()
    text = (tmp_path / "dask.csv").read_text().splitlines()
    assert text[0].startswith("point,SERVERS,STORES,bisection.value.lower [B/s]")
    assert all(line.endswith(",ok,") for line in text[1:])


# -- failure analysis through Dask --------------------------------------------------------------


FABRIC = """\
link l  { bandwidth = 50 GB/s }
link up { bandwidth = 100 GB/s }
cluster c {
    node n[8] { gpu g[2]; nic x[2]; connect g[i] -- x[i] via l }
    switch leaf[4]
    switch spine[2]
    connect n[i].x[j] -- leaf[i / 2] via l
    connect leaf[*] -- spine[*] via up
}
"""


def test_failure_cases_through_dask_give_the_bytes_of_one_process(scheduler, tmp_path: Path):
    (tmp_path / "f.topo").write_text(FABRIC)
    args = ["analyze", "failures", "f.topo", "--analysis", "flow", "--from", "c.n0.g*",
            "--to", "c.n7.g*", "--links", "*", "--k", "2", "--lost", "keep", "--json"]  # fmt: skip
    outs = {}
    for name, extra in {"one": ["--jobs", "1"], "pool": ["--jobs", "2"],
                        "dask": ["--scheduler", scheduler]}.items():  # fmt: skip
        r = run_topodsl(*args, *extra, cwd=tmp_path, timeout=300)
        assert r.returncode == 0, r.stderr
        outs[name] = r.stdout
    assert outs["one"] == outs["pool"] == outs["dask"]
    doc = json.loads(outs["dask"])
    assert doc["cases"]["solved"] >= 8 and doc["worst"]["failed"]
