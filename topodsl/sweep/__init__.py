"""Design sweeps: a ``.topo`` file evaluated at every point of a design space.

The stages, each in its module: :mod:`.spec` (parameters, analyses, the points), :mod:`.shapes`
(which points share a graph shape, and the array updates that reuse it), :mod:`.point` (one
point, where a worker runs it), :mod:`.run` (planning, running on an
:mod:`~topodsl.executor`, assembling), :mod:`.table` (the table: CSV, JSON), :mod:`.pareto`,
:mod:`.diff` (two tables compared) and :mod:`.chart`. See ``docs/sweeps.md``.

>>> import pathlib, tempfile
>>> from topodsl.executor import SerialExecutor
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "p.topo").write_text("const N = 2\\nconst BW = 50 GB/s\\n"
...     "link l { bandwidth = BW }\\ncluster c { gpu g[N]; connect g[0] -- g[1] via l }")
>>> plan = plan_sweep(str(d / "p.topo"), ["BW=50GB/s,100GB/s"], ["count:select=kind:gpu"])
>>> table, stats = run_sweep(plan, SerialExecutor())
>>> print(table.to_csv(), end="")
point,BW [B/s],count.value,status,error
0,50000000000,2,ok,
1,100000000000,2,ok,
"""

from .diff import SweepDiff, diff_tables
from .run import SweepPlan, SweepStats, assemble, plan_sweep, run_sweep
from .table import Column, SweepTable, is_sweep_table, read_table

__all__ = [
    "Column",
    "SweepDiff",
    "SweepPlan",
    "SweepStats",
    "SweepTable",
    "assemble",
    "diff_tables",
    "is_sweep_table",
    "plan_sweep",
    "read_table",
    "run_sweep",
]
