"""Progress bars on a terminal for long analyses and sweeps (the callback of
:mod:`topodsl.progress`).

Bars are for a person watching: they are drawn on stderr only when both stdout and stderr are
a terminal, ``CI`` is not set, ``TERM`` is not ``dumb`` and the output is not JSON, and only
once the command has run for :data:`DELAY` seconds, so a quick analysis prints exactly what it
printed before. Each
stage a solver reports gets its own bar (a stage inside ``check``'s assertions below the
assertions' bar); a bar is erased when its stage completes and all are erased at the end, so
the report that follows is the same on a terminal as in a file.

Every command that draws a bar (the analyses, ``check``, ``sweep``) asks :func:`wanted` and
draws through :class:`terminal_progress`: one policy for when a bar appears. The environment
variable ``TOPODSL_PROGRESS_DELAY`` (seconds) replaces :data:`DELAY`, for a person who wants
bars sooner or later, and for tests, which must not depend on how fast a machine is.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from ..progress import Progress

__all__ = ["DELAY", "wanted", "terminal_progress"]

#: Seconds a command runs before any bar is drawn (``TOPODSL_PROGRESS_DELAY`` overrides it).
DELAY = 1.0


def _delay() -> float:
    text = os.environ.get("TOPODSL_PROGRESS_DELAY", "")
    try:
        seconds = float(text)
    except ValueError:
        return DELAY  # unset or not a number: a progress bar is not worth an error
    return seconds if 0 <= seconds < float("inf") else DELAY


def wanted(as_json: bool = False) -> bool:
    """Whether to draw progress: a person at a terminal, not CI, not JSON."""
    if as_json or os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(sys.stdout) and _isatty(sys.stderr)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class terminal_progress:
    """``with terminal_progress(enabled) as progress:`` gives the callback to pass to solvers
    (``None`` when not ``enabled``, so solvers make no call at all).

    ``delay`` is the seconds before a first bar (default: ``TOPODSL_PROGRESS_DELAY``, else
    :data:`DELAY`); ``units`` names what a stage counts, for its rate (``{"sweep": "point"}``
    shows ``point/s``; default ``it``).
    """

    def __init__(
        self,
        enabled: bool,
        delay: float | None = None,
        units: Mapping[str, str] | None = None,
    ):
        self.enabled = enabled
        self.delay = _delay() if delay is None else delay
        self.units = dict(units or {})
        self.bars: dict[str, Any] = {}
        self.start = 0.0

    def __enter__(self) -> Progress | None:
        if not self.enabled:
            return None
        self.start = time.monotonic()
        return self

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            if total and done >= total:
                return  # a stage already over needs no bar
            if time.monotonic() - self.start < self.delay:
                return
            from tqdm import tqdm

            bar = self.bars[stage] = tqdm(
                desc=stage,
                unit=self.units.get(stage, "it"),
                total=total or None,
                initial=done,
                file=sys.stderr,
                leave=False,
                position=len(self.bars),
                dynamic_ncols=True,
                mininterval=0.2,
            )
        if done < bar.n or (total or None) != bar.total:
            bar.reset(total=total or None)  # the stage started over (the next assertion)
        bar.update(done - bar.n)
        if total and done >= total:
            bar.close()
            del self.bars[stage]

    def __exit__(self, *exc: object) -> None:
        for bar in reversed(list(self.bars.values())):
            bar.close()
        self.bars.clear()
