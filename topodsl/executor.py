"""Many independent tasks on every core of this machine, or on a Dask cluster.

Design sweeps and failure analysis both run one function over many small items (a point of a
grid, a failure case) that all need the same large input (a design's sources, a topology).
An executor runs ``fn(shared, item)`` for every item:

* ``shared`` is sent to each worker **once** (a process pool's initializer; Dask's
  ``scatter(..., broadcast=True)``), never once per task, so only the small items travel;
* results come back **in order of completion**, as :class:`Outcome` (for a progress bar), and
  :func:`run_all` puts them back in the order of the items, so the output does not depend on
  which worker was fast;
* a task that raises is an :class:`Outcome` with its error, the same text wherever it ran; the
  others go on.

Three executors, one interface (:class:`Executor`):

======================  =====================================================================
``SerialExecutor``      in this process (``--jobs 1``): the one-core baseline, no start-up
``PoolExecutor``        a process pool, by default one process per core this process may use
``DaskExecutor``        a ``distributed`` scheduler (``--scheduler tcp://HOST:PORT``); needs the
                        optional extra ``pip install 'topodsl[dask]'``
======================  =====================================================================

:func:`make_executor` picks one from ``--jobs`` and ``--scheduler``. ``fn`` must be a function
importable by name (a module's top-level function), so that workers receive a reference, not
code. :func:`map_cases` is the list-in, list-out form that failure analysis (its cases) and
routing (its chunks of sinks) use, on the executor :func:`executor_settings` names.

>>> with SerialExecutor() as ex:
...     run_all(ex, divmod, 7, [1, 2, 0])
[Outcome(index=0, value=(7, 0), error=None), Outcome(index=1, value=(3, 1), error=None), \
Outcome(index=2, value=None, error='ZeroDivisionError: integer division or modulo by zero')]
"""

from __future__ import annotations

import contextlib
import os
import pickle
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Outcome",
    "Executor",
    "SerialExecutor",
    "PoolExecutor",
    "DaskExecutor",
    "ExecutorError",
    "make_executor",
    "run_all",
    "usable_cores",
    "map_cases",
    "executor_settings",
]

Task = Callable[[Any, Any], Any]


class ExecutorError(Exception):
    """An executor cannot start: no such scheduler, ``distributed`` not installed..."""


@dataclass(frozen=True)
class Outcome:
    """What one task gave: ``value``, or ``error`` (the exception's type and message) if it
    raised. ``index`` is the item's position in the input."""

    index: int
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the task returned."""
        return self.error is None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1.

    >>> usable_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _guarded(fn: Task, shared: Any, chunk: Sequence[tuple[int, Any]]) -> list[Outcome]:
    """Run ``fn`` on each item of ``chunk``; an exception becomes that item's error."""
    out = []
    for index, item in chunk:
        try:
            out.append(Outcome(index, fn(shared, item)))
        except Exception as e:  # noqa: BLE001 - reported in the outcome, the run goes on
            out.append(Outcome(index, error=f"{type(e).__name__}: {e}"))
    return out


def _chunks(items: Iterable[Any], size: int) -> list[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    out = []
    for pair in enumerate(items):
        chunk.append(pair)
        if len(chunk) == size:
            out.append(chunk)
            chunk = []
    if chunk:
        out.append(chunk)
    return out


class Executor:
    """Runs ``fn(shared, item)`` for many items; use it as a context manager.

    ``workers`` is how many tasks run at once; ``description`` names it for a report.
    """

    workers: int = 1
    description: str = ""

    def map_unordered(
        self, fn: Task, shared: Any, items: Iterable[Any], chunksize: int = 1
    ) -> Iterator[Outcome]:
        """Every item's :class:`Outcome`, in order of completion. ``chunksize`` items travel
        together as one task (for many tiny tasks)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers (a pool's processes, a Dask client's connection)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Every task in this process, one after the other (``--jobs 1``)."""

    workers = 1
    description = "this process (1 core)"

    def map_unordered(self, fn, shared, items, chunksize=1):
        # Through pickle, as the other executors do, so that a task sees the same objects
        # (and an unpicklable input fails here as it would there).
        shared = pickle.loads(pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL))
        for chunk in _chunks(items, chunksize):
            yield from _guarded(fn, shared, chunk)


# -- a local process pool ----------------------------------------------------------------------

_SHARED: dict[str, Any] = {}  # in a pool worker: what the initializer received, by run token


def _pool_init(token: str, payload: bytes) -> None:
    _SHARED[token] = pickle.loads(payload)


def _pool_call(token: str, fn: Task, chunk: Sequence[tuple[int, Any]]) -> list[Outcome]:
    return _guarded(fn, _SHARED[token], chunk)


class PoolExecutor(Executor):
    """A pool of ``jobs`` worker processes (default: :func:`usable_cores`).

    Workers start from a fork server (Linux; spawn elsewhere) that has imported ``preload``
    once, so that each worker starts in milliseconds and no worker inherits the threads of
    the parent. ``shared`` is pickled once and handed to each worker by its initializer.
    """

    def __init__(self, jobs: int | None = None, preload: Sequence[str] = ()):
        self.workers = jobs or usable_cores()
        self.preload = tuple(preload)
        self.description = f"a local pool of {self.workers} processes"
        self._pool = None

    def map_unordered(self, fn, shared, items, chunksize=1):
        import concurrent.futures as cf
        import multiprocessing as mp

        methods = mp.get_all_start_methods()
        ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
        if self.preload and ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(list(self.preload))
        token = uuid.uuid4().hex
        payload = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        chunks = _chunks(items, chunksize)
        workers = max(1, min(self.workers, len(chunks)))
        self._pool = pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_pool_init, initargs=(token, payload)
        )
        futures = {pool.submit(_pool_call, token, fn, chunk): chunk for chunk in chunks}
        try:
            for fut in cf.as_completed(futures):
                try:
                    yield from fut.result()
                except cf.process.BrokenProcessPool as e:
                    why = f"BrokenProcessPool: a worker process died ({e})"
                    yield from (Outcome(i, error=why) for i, _ in futures[fut])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# -- a Dask cluster ----------------------------------------------------------------------------


class DaskExecutor(Executor):
    """Tasks on the Dask ``distributed`` cluster whose scheduler listens at ``address``
    (``tcp://HOST:PORT``). Its workers need topodsl installed (the same version) and, for a
    design that imports files, the same files at the same paths.

    ``shared`` is scattered to every worker once (``broadcast=True``); each task names it by
    its future. Tasks are submitted as impure, so a sweep run twice is computed twice.
    """

    def __init__(self, address: str, timeout: float = 10.0):
        try:
            from distributed import Client
            from distributed.comm.addressing import parse_address
            from distributed.comm.registry import get_backend
        except ImportError:
            raise ExecutorError(
                "--scheduler needs Dask's distributed package, which is not installed",
            ) from None
        # An address Dask cannot parse is refused before a Client exists: a Client that fails
        # in its constructor still runs its finaliser, which waits 20 s and prints a traceback.
        try:
            scheme, _ = parse_address(address)
            get_backend(scheme)
        except ValueError as e:
            raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        info = self.client.scheduler_info()
        threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
        n = len(info.get("workers", {}))
        if n == 0:
            self.client.close()
            raise ExecutorError(f"the Dask scheduler at {address} has no workers")
        self.workers = max(1, threads)
        self.description = f"the Dask scheduler {address} ({n} workers, {threads} threads)"

    def map_unordered(self, fn, shared, items, chunksize=1):
        from distributed import as_completed

        token = uuid.uuid4().hex[:12]
        remote = self.client.scatter(shared, broadcast=True, hash=False)
        chunks = _chunks(items, chunksize)
        futures = []
        by_key = {}
        for k, chunk in enumerate(chunks):
            f = self.client.submit(
                _guarded, fn, remote, chunk, key=f"topodsl-{token}-{k}", pure=False
            )
            futures.append(f)
            by_key[f.key] = chunk
        try:
            for fut in as_completed(futures, loop=self.client.loop):
                if fut.status == "finished":
                    yield from fut.result()
                else:  # the worker died (KilledWorker) or the task was lost
                    exc = fut.exception()
                    why = f"{type(exc).__name__}: {exc}"
                    yield from (Outcome(i, error=why) for i, _ in by_key[fut.key])
        finally:
            self.client.cancel(futures)
            del remote

    def close(self) -> None:
        self.client.close()


def make_executor(
    jobs: int | None = None, scheduler: str | None = None, preload: Sequence[str] = ()
) -> Executor:
    """The executor ``--jobs`` and ``--scheduler`` ask for: Dask when a scheduler is given,
    else one process (``jobs == 1``) or a pool of ``jobs`` processes (default: every core).

    Raises
    ------
    ExecutorError
        ``distributed`` is not installed, or the scheduler cannot be reached.

    Examples
    --------
    >>> make_executor(jobs=1).description, make_executor(jobs=4).description
    ('this process (1 core)', 'a local pool of 4 processes')
    """
    if scheduler:
        return DaskExecutor(scheduler)
    n = jobs or usable_cores()
    return SerialExecutor() if n == 1 else PoolExecutor(n, preload)


def run_all(
    executor: Executor,
    fn: Task,
    shared: Any,
    items: Sequence[Any],
    *,
    chunksize: int = 1,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Every item's outcome, in the order of ``items``; ``on_done`` is called as each
    finishes (in order of completion), e.g. to advance a progress bar.

    >>> seen = []
    >>> [o.value for o in run_all(SerialExecutor(), pow, 2, [3, 10], on_done=seen.append)]
    [8, 1024]
    >>> len(seen)
    2
    """
    out: list[Outcome | None] = [None] * len(items)
    for o in executor.map_unordered(fn, shared, items, chunksize):
        out[o.index] = o
        if on_done is not None:
            on_done(o)
    missing = sum(1 for o in out if o is None)
    if missing:  # pragma: no cover - every executor yields each index once
        raise ExecutorError(f"{missing} task(s) never finished")
    return out  # type: ignore[return-value]


# -- a list in, a list out: failure cases and routing chunks ------------------------------------

# Fewer items than this are run in this process: starting workers costs more.
_MIN_PARALLEL = 8

_SETTINGS: dict[str, Any] = {"jobs": None, "scheduler": None}


@contextlib.contextmanager
def executor_settings(jobs: int | None = None, scheduler: str | None = None) -> Iterator[None]:
    """Run :func:`map_cases` in the block on ``jobs`` processes (``None``: every core; 1: this
    process) or on the Dask scheduler at ``scheduler``: how ``--jobs`` and ``--scheduler``
    reach solvers that hand out work without threading an executor through every call.

    >>> with executor_settings(jobs=1):
    ...     map_cases(pow, 2, [3, 10] * 8)[:2]
    [8, 1024]
    """
    old = dict(_SETTINGS)
    _SETTINGS.update(jobs=jobs, scheduler=scheduler)
    try:
        yield
    finally:
        _SETTINGS.update(old)


def map_cases(fn: Task, shared: Any, items: Sequence[Any], *, jobs: int | None = None) -> list:
    """``[fn(shared, item) for item in items]``, on the executor :func:`executor_settings`
    chose (``jobs`` overrides its process count). Below a handful of items, or on one core,
    the items run here, without pickling ``shared``. A task that raised on a worker is run
    again in this process, so that its exception (its type, for the caller's handlers)
    reaches the caller as it would from a serial run.

    >>> map_cases(divmod, 7, [1, 2, 3], jobs=1)
    [(7, 0), (3, 1), (2, 1)]
    """
    scheduler = _SETTINGS["scheduler"]
    n = jobs or _SETTINGS["jobs"] or usable_cores()
    if not scheduler and (n == 1 or len(items) < _MIN_PARALLEL):
        return [fn(shared, item) for item in items]
    # Chunks of a few items: small enough to balance, large enough to keep the pipes quiet.
    chunk = max(1, min(16, len(items) // (4 * n)))
    with make_executor(n, scheduler, preload=(fn.__module__,)) as ex:
        outcomes = run_all(ex, fn, shared, items, chunksize=chunk)
    return [o.value if o.ok else fn(shared, items[o.index]) for o in outcomes]
