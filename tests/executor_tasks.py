"""Task functions for test_executor.py, in a module the workers can import by name."""

from __future__ import annotations

import os
import time


class Counted:
    """A shared input that notes, in a file, every process that unpickles it."""

    def __init__(self, path: str, base: int):
        self.path, self.base = path, base

    def __reduce__(self):
        return (_revive, (self.path, self.base))


def _revive(path: str, base: int) -> Counted:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    return Counted(path, base)


def add(shared: Counted, item: int) -> int:
    """``shared.base + item``, a little slowly, so that every worker gets tasks."""
    time.sleep(0.02)
    return shared.base + item


def fail_on_odd(shared: object, item: int) -> int:
    if item % 2:
        raise ValueError(f"odd item {item}")
    return item


def die_on_three(shared: object, item: int) -> int:
    if item == 3:
        os._exit(3)
    time.sleep(0.05)
    return item
