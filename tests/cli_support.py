"""Run the ``topodsl`` command line in a real subprocess, the way a user or CI does.

Shared by every test of the CLI so that they all start the same interpreter, import this
checkout's package (wherever the command runs from) and give up after the same time.
:func:`invoke` runs it in this process instead (click's runner), for the many quick checks
of one command's output.
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


def invoke(*args: str):
    """``topodsl ARGS`` in this process; stdout and stderr apart, exceptions not caught."""
    from click.testing import CliRunner

    from topodsl.cli import main

    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, list(args), catch_exceptions=False)


def cli(command: str):
    """``topodsl COMMAND`` in this process (words split on spaces)."""
    return invoke(*command.split())
