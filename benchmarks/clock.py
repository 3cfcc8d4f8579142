"""CPU seconds for the benchmark scripts: one definition instead of one per script.

>>> cpu_seconds() > 0, cpu_seconds(children=True) > 0
(True, True)
"""

from __future__ import annotations

import resource

__all__ = ["cpu_seconds"]


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU seconds of this process, and of the children it has reaped when
    ``children`` (a process pool's workers under a fork server are not among them)."""
    whos = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) if children else (resource.RUSAGE_SELF,)
    total = 0.0
    for who in whos:
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total
