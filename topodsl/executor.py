"""Where independent pieces of work run: in this process, or on every core through a pool.

:func:`map_cases` is the one place failure analysis (its cases) and routing (its sinks) hand
work out; the sweeps' executor (issue 16) will take its place without the callers changing.
Workers receive the prepared question once (the pool's initializer), then only the cases;
results come back in the order of the cases, whatever order the workers finish in, so the
output does not depend on the number of workers.

>>> from topodsl.executor import map_cases
>>> map_cases(_square, 10, [1, 2, 3], jobs=1)
[11, 14, 19]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["map_cases", "available_cores", "executor_settings"]

# Fewer cases than this are solved in this process: starting workers costs more.
_MIN_PARALLEL = 8

_SETTINGS: dict[str, Any] = {"jobs": None}
_STATE: dict[str, Any] = {}


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def executor_settings(jobs: int | None = None) -> Iterator[None]:
    """Use ``jobs`` worker processes (``None``: every core; 1: this process) in the block."""
    old = dict(_SETTINGS)
    _SETTINGS["jobs"] = jobs
    try:
        yield
    finally:
        _SETTINGS.update(old)


def _init(state: Any) -> None:
    _STATE["state"] = state


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_STATE["state"], item)


def map_cases(
    fn: Callable[[Any, Any], Any],
    state: Any,
    items: Sequence[Any],
    *,
    jobs: int | None = None,
) -> list[Any]:
    """``[fn(state, item) for item in items]``, on ``jobs`` processes (default: the
    :func:`executor_settings` in force, else every core). ``fn`` must be a module-level
    function and ``state`` picklable: each worker unpickles ``state`` once."""
    if jobs is None:
        jobs = _SETTINGS["jobs"]
    if jobs is None:
        jobs = available_cores()
    jobs = max(1, min(int(jobs), len(items)))
    if jobs == 1 or len(items) < _MIN_PARALLEL:
        return [fn(state, item) for item in items]
    # Chunks of a few cases: small enough to balance, large enough to keep the pipes quiet.
    chunk = max(1, min(16, len(items) // (4 * jobs)))
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(state,)) as pool:
        return list(pool.map(_call, [fn] * len(items), items, chunksize=chunk))


def _square(state: int, x: int) -> int:
    return state + x * x
