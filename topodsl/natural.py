"""Natural order for component names: ``host2`` before ``host10``.

Component ids end in array indices (``pod.node12.gpu3``), so sorting them as text puts
``host10`` between ``host1`` and ``host2``. Every list a person reads (diagram boxes, table
rows, JSON lists) is sorted with :func:`natural_key` instead: runs of digits compare as
numbers, everything else as text.

>>> sorted(["host10", "host2", "host0", "disk1", "disk10", "disk0"], key=natural_key)
['disk0', 'disk1', 'disk10', 'host0', 'host2', 'host10']
>>> natural_sorted(["pod.node10.gpu1", "pod.node2.gpu10", "pod.node2.gpu9"])
['pod.node2.gpu9', 'pod.node2.gpu10', 'pod.node10.gpu1']
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["natural_key", "natural_sorted"]

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """A sort key that orders digit runs by value: ``natural_key("gpu10") > natural_key("gpu9")``.

    The key alternates text and numbers, always starting with text (possibly empty), so any
    two keys compare without mixing types. Equal numbers written differently (``gpu01`` and
    ``gpu1``) are ordered by their text, so the order is total and stable.

    Parameters
    ----------
    text : str
        A name or dotted id.

    Returns
    -------
    tuple
        ``(text, number, text, number, ..., text)`` followed by ``text`` itself as a tie-break.

    Examples
    --------
    >>> natural_key("leaf12.port3")
    ('leaf', 12, '.port', 3, '', 'leaf12.port3')
    >>> sorted(["x01", "x1", "x0"], key=natural_key)
    ['x0', 'x01', 'x1']
    """
    parts: list[str | int] = _DIGITS.split(text)
    for i in range(1, len(parts), 2):
        parts[i] = int(parts[i])
    parts.append(text)
    return tuple(parts)


def natural_sorted(items: Iterable[str]) -> list[str]:
    """``sorted(items)`` in natural order (see :func:`natural_key`).

    >>> natural_sorted(["rail10", "rail9", "rail1"])
    ['rail1', 'rail9', 'rail10']
    """
    return sorted(items, key=natural_key)
