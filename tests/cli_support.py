"""Run the ``topodsl`` command line in a real subprocess, the way a user or CI does.

Shared by every test of the CLI so that they all start the same interpreter, import this
checkout's package (wherever the command runs from) and give up after the same time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_topodsl(
    *args: object,
    cwd: Path | str | None = None,
    env_extra: Mapping[str, str] | None = None,
    drop_env: Iterable[str] = (),
    code: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """``python -m topodsl ARGS`` (or ``python -c CODE ARGS``) with text output captured.

    ``cwd`` defaults to the repository root; ``env_extra`` adds variables and ``drop_env``
    removes them (e.g. ``NO_COLOR``).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    for name in drop_env:
        env.pop(name, None)
    env.update(env_extra or {})
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "topodsl"]
    return subprocess.run(
        [*cmd, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=timeout,
    )


def run_on_a_terminal(
    *args: object,
    cwd: Path | str | None = None,
    env_extra: Mapping[str, str] | None = None,
    drop_env: Iterable[str] = (),
    stderr_too: bool = True,
    columns: int = 100,
    timeout: float = 300,
) -> tuple[int, bytes, str]:
    """``python -m topodsl ARGS`` with stdout (and stderr, unless ``stderr_too`` is False) on a
    pseudo-terminal of ``columns`` columns, as a terminal window is.

    Returns the exit code, every byte written to the terminal and what went to stderr when it
    was a pipe (``""`` otherwise).
    """
    import fcntl
    import pty
    import struct
    import termios

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    for name in drop_env:
        env.pop(name, None)
    env.update(env_extra or {})
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "topodsl", *map(str, args)],
        stdout=follower,
        stderr=follower if stderr_too else subprocess.PIPE,
        cwd=cwd or REPO,
        env=env,
    )
    os.close(follower)
    out = b""
    while True:  # read as it comes, so a long output never fills the terminal's buffer
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    return proc.wait(timeout=timeout), out, err
