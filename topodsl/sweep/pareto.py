"""The Pareto front of a sweep: the points no other point beats on every objective.

``--pareto 'bisection:max,SPINES:min'`` names columns of the table (a parameter, a figure
``LABEL.FIELD``, or ``LABEL`` for an analysis's default figure) and whether more or less is
better. A point is on the front when no other point is at least as good on every objective and
better on one. For a figure that is a bound pair the guaranteed bound is used: the lower bound
where more is better, the upper where less is (as ``diff --fail-on regression`` judges). Points
that failed, or lack an objective's value, are not on the front.

>>> pareto_front([[1, 5], [2, 4], [2, 5], [0, 9]], ["max", "max"]).tolist()
[False, False, True, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Objective", "parse_objectives", "pareto_front"]


@dataclass(frozen=True)
class Objective:
    """One objective: the column it reads and ``"max"`` or ``"min"``."""

    column: str
    sense: str

    @property
    def text(self) -> str:
        """As written: ``bisection.value.lower:max``."""
        return f"{self.column}:{self.sense}"


def parse_objectives(text: str, resolve) -> tuple[Objective, ...]:
    """Read ``COL:max,COL:min``; ``resolve(name, sense)`` gives the column a name means (or
    raises ``KeyError`` naming the columns that exist).

    >>> parse_objectives("a:max, b : min", lambda n, s: n)
    (Objective(column='a', sense='max'), Objective(column='b', sense='min'))
    """
    out = []
    for item in text.split(","):
        name, _, sense = item.strip().rpartition(":")
        sense = sense.strip().lower()
        if not name or sense not in ("max", "min"):
            raise ValueError(f"{item.strip()!r}: write COLUMN:max or COLUMN:min")
        out.append(Objective(resolve(name.strip(), sense), sense))
    if not out:
        raise ValueError("--pareto needs at least one objective")
    return tuple(out)


def pareto_front(values: Sequence[Sequence[float]], senses: Sequence[str]) -> np.ndarray:
    """A boolean mask: which rows of ``values`` (one column per objective, ``nan`` where a
    value is missing) are on the Pareto front for ``senses`` (``"max"``/``"min"`` each).

    Rows are visited best first (by the sum of their ranks), each compared with the front found
    so far, so the cost is the number of rows times the size of the front.
    """
    x = np.asarray(values, dtype=np.float64).reshape(len(values), len(senses))
    sign = np.array([1.0 if s == "max" else -1.0 for s in senses])
    x = x * sign  # now more is better everywhere
    ok = ~np.isnan(x).any(axis=1)
    front = np.zeros(len(x), dtype=bool)
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        return front
    ranks = np.argsort(np.argsort(-x[rows], axis=0, kind="stable"), axis=0, kind="stable")
    order = rows[np.argsort(ranks.sum(axis=1), kind="stable")]
    kept: list[int] = []
    for r in order:
        if kept:
            f = x[kept]
            dominated = np.any(np.all(f >= x[r], axis=1) & np.any(f > x[r], axis=1))
            if dominated:
                continue
        kept.append(int(r))
    # A row visited later never dominates one kept earlier unless it ranks better on the sum;
    # check the kept ones against each other once more to be exact.
    kept_arr = np.array(kept)
    f = x[kept_arr]
    for i, r in enumerate(kept_arr):
        others = np.delete(f, i, axis=0)
        if not np.any(np.all(others >= f[i], axis=1) & np.any(others > f[i], axis=1)):
            front[r] = True
    return front
