"""Progress of long analyses: the hook a solver calls, and nothing more.

A solver that can run for long (a bisection's search over candidate splits, memory reach from
many elements, ``check`` over many assertions) takes ``progress: Progress | None = None`` and,
as it goes, calls ``progress(stage, done, total)``:

* ``stage``: a short phrase naming what is being done (``"bisection: candidate splits"``);
* ``done``: how many steps of that stage are finished;
* ``total``: how many there are, or 0 when the solver cannot know in advance.

The hook costs a solver nothing when no one listens (``None``: no call is made) and little when
someone does: a solver calls it once per step that is itself expensive (a max flow, an element
of a reach), never in an inner loop, and passes numbers it already has. A solver never imports
a progress library and never prints; what a call does is up to the caller. The command line
passes a callback that draws a bar on a terminal (``topodsl/cli/progress.py``, with tqdm) and
nothing at all in CI logs, pipes or JSON output.

>>> seen = []
>>> def record(stage: str, done: int, total: int) -> None:
...     seen.append((stage, done, total))
>>> report(record, "bisection: candidate splits", 3)
>>> report(None, "ignored", 1, 2)
>>> seen
[('bisection: candidate splits', 3, 0)]
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "report"]

#: ``progress(stage, done, total)``: ``done`` steps of ``stage`` are finished, of ``total``
#: (0: unknown). Return value ignored.
Progress = Callable[[str, int, int], None]


def report(progress: Progress | None, stage: str, done: int, total: int = 0) -> None:
    """Call ``progress`` if there is one: ``report(progress, "reach: elements", 40, 512)``."""
    if progress is not None:
        progress(stage, done, total)
