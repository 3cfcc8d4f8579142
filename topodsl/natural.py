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

import functools
import re
from collections.abc import Iterable

__all__ = ["natural_key", "natural_sorted"]

_DIGITS = re.compile(r"([0-9]+)")


def natural_key(text: str) -> tuple[str, str]:
    """A sort key that orders digit runs by value: ``natural_key("gpu10") > natural_key("gpu9")``.

    Dotted ids compare segment by segment, so a component comes right before what it holds
    (``sw``, ``sw.port0``, then ``sw2``). Within a segment, digit runs compare as numbers and
    the text between them as text, a number before a letter (``sw``, ``sw2``, ``swa``). Equal
    numbers written differently (``gpu01`` and ``gpu1``) are ordered by their text, so the
    order is total and stable, whatever the text holds.

    The key is two strings (so sorting a million ids compares strings, not nested tuples): the
    id with each segment separator written as ``"\\x00"`` and each number as ``"\\x01"``, its
    length and its digits (no leading zeros), then the id itself as the tie-break.

    Parameters
    ----------
    text : str
        A name or dotted id.

    Returns
    -------
    tuple of two str

    Examples
    --------
    >>> sorted(["host10", "host2", "host0"], key=natural_key)
    ['host0', 'host2', 'host10']
    >>> sorted(["x01", "x1", "x0"], key=natural_key)
    ['x0', 'x01', 'x1']
    >>> sorted(["sw2", "swa", "sw", "sw10", "sw.a", "sw1.b"], key=natural_key)
    ['sw', 'sw.a', 'sw1.b', 'sw2', 'sw10', 'swa']
    """
    return ("\x00".join(map(_segment_key, text.split("."))), text)


def _number(m: re.Match) -> str:
    digits = m.group().lstrip("0") or "0"
    return "\x01" + chr(0x30 + len(digits)) + digits


# Dotted ids share their segments (``node3``, ``nic5``), so the keys of a few thousand distinct
# segments serve millions of ids.
@functools.lru_cache(maxsize=1 << 16)
def _segment_key(segment: str) -> str:
    return _DIGITS.sub(_number, segment)


def natural_sorted(items: Iterable[str]) -> list[str]:
    """``sorted(items)`` in natural order (see :func:`natural_key`).

    >>> natural_sorted(["rail10", "rail9", "rail1"])
    ['rail1', 'rail9', 'rail10']
    """
    return sorted(items, key=natural_key)
