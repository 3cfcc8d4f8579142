"""Run fuzz cases and judge them: the promise is a result or a diagnostic, exit 0/1/2, within
30 s, within the documented memory, and never a traceback.

:func:`run_case` makes input number ``n`` of a campaign from ``random.Random(f"{seed}:{n}")``
(so any case replays alone) and returns a :class:`Finding` when the promise is broken.
"""

from __future__ import annotations

import io
import json
import random
import signal
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from fuzz import generators as gen

#: A case taking more CPU time than this is a hang (CPU time, so that a loaded machine does
#: not make a slow case look like a hang) ...
HANG_SECONDS = 30
#: ... and so is one that takes this long on the wall clock (a blocked read uses no CPU).
HANG_WALL_SECONDS = 120


class Hang(BaseException):
    """Raised by the alarm in the middle of a case that takes too long (a BaseException, so
    that no ``except Exception`` in the code under test swallows it)."""


@dataclass(frozen=True)
class Finding:
    """A broken promise: what kind, a signature to group repeats, and how to replay it."""

    kind: str  # traceback | hang | memory | exit-code | internal-error | export
    signature: str
    detail: str
    category: str
    case: str
    input: str | bytes
    args: tuple[str, ...] = ()


def _stop_timers() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)


def _on_alarm(signum, frame):  # noqa: ARG001 - the signal handler's signature
    raise Hang()


def _where(e: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "/topodsl/" in f.filename]
    if not frames:
        return type(e).__name__
    f = frames[-1]
    return f"{type(e).__name__} at {f.filename.rsplit('/topodsl/', 1)[-1]}:{f.lineno}"


def check_topo(text: str | bytes, name: str, root: Path) -> str | None:
    """Load ``text`` as a ``.topo`` file and, when it loads, export and re-import it; the
    reason it broke the promise, or ``None``."""
    import topodsl
    from topodsl.api import UnreadableSource, decode_utf8

    try:
        if isinstance(text, bytes):
            try:
                text = decode_utf8(text, name)
            except UnreadableSource:
                return None
        topo = topodsl.loads(text, file=name, root=root)
    except topodsl.TopoError as e:
        return None if e.render() else "empty diagnostic"
    return _round_trip(topo)


#: Larger topologies skip the export round trip: exporting is slow and adds nothing new.
ROUND_TRIP_NODES = 60


def _round_trip(topo) -> str | None:
    """A topology that loaded must export to strict JSON that loads again."""
    import topodsl
    from topodsl.io import dumps_json, loads_json

    if topo.num_nodes > ROUND_TRIP_NODES:
        return None
    exported = dumps_json(topo)
    json.loads(exported, parse_constant=_no_constant)
    try:
        loads_json(exported, "export.json")
    except topodsl.TopoError as e:
        return "export: its own export does not load: " + e.render().splitlines()[0]
    return None


def check_json(text: str) -> str | None:
    """Load ``text`` as node-link JSON and, when it loads, round-trip it."""
    import topodsl
    from topodsl.io import loads_json

    try:
        topo = loads_json(text, "fuzz.json")
    except topodsl.TopoError as e:
        return None if e.render() else "empty diagnostic"
    return _round_trip(topo)


def _no_constant(name: str):
    raise ValueError(f"export wrote {name}, which is not JSON")


def run_cli(args: list[str]) -> tuple[object, str, str]:
    """``topodsl ARGS`` in this process: exit code, stdout, stderr."""
    from topodsl.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main.main(args=args, prog_name="topodsl", standalone_mode=True)
        except SystemExit as e:
            code = e.code if e.code is not None else 0
    return code, out.getvalue(), err.getvalue()


def run_case(category: str, seed: str, n: int, workdir: Path) -> Finding | None:
    """Make and judge case ``n`` of ``category`` for campaign ``seed``."""
    rng = random.Random(f"{seed}:{category}:{n}")
    case = f"{seed}:{category}:{n}"
    data: str | bytes = ""
    args: tuple[str, ...] = ()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGPROF, _on_alarm)
    signal.setitimer(signal.ITIMER_PROF, HANG_SECONDS)
    signal.setitimer(signal.ITIMER_REAL, HANG_WALL_SECONDS)
    shown: list = [data, args]  # what a hang reports: filled in before the CLI runs
    try:
        if category in ("grammar", "program"):
            make = gen.grammar_program if category == "grammar" else gen.semantic_program
            data = make(rng)
            why = check_topo(data, "fuzz.topo", gen.REPO / "topologies")
        elif category == "tokens":
            data, s = gen.token_mutation(rng)
            why = check_topo(data, s.name, s.root)
        elif category == "bytes":
            data, s = gen.byte_mutation(rng)
            why = check_topo(data, s.name, s.root)
        elif category == "json":
            data = gen.json_mutation(rng)
            why = check_json(data)
        else:
            data, args, why = _cli_case(rng, workdir, shown)
        _stop_timers()
    except Hang:
        _stop_timers()
        detail = f"over {HANG_SECONDS} CPU s or {HANG_WALL_SECONDS} s"
        data, args = data or shown[0], args or tuple(shown[1])
        return Finding("hang", f"hang:{category}", detail, category, case, data, args)
    except MemoryError as e:
        _stop_timers()
        return Finding("memory", f"memory:{_where(e)}", repr(e), category, case, data, args)
    except Exception as e:  # noqa: BLE001 - every escaping exception is a finding
        _stop_timers()
        detail = "".join(traceback.format_exception(e))[-3000:]
        return Finding("traceback", f"traceback:{_where(e)}", detail, category, case, data, args)
    finally:
        _stop_timers()
    if why is None:
        return None
    kind = why.split(":", 1)[0] if why.split(":", 1)[0] in ("export", "exit-code") else "broken"
    if "internal error" in why:
        kind = "internal-error"
    elif "out of memory" in why:
        kind = "memory"
    sig = f"{kind}:{why.splitlines()[0][:120]}"
    return Finding(kind, sig, why, category, case, data, args)


def _cli_case(
    rng: random.Random, workdir: Path, shown: list
) -> tuple[str | bytes, tuple[str, ...], str | None]:
    pick = rng.random()
    if pick < 0.35:
        data: str | bytes = gen.semantic_program(rng)
        suffix = ".topo"
    elif pick < 0.55:
        data, _ = gen.token_mutation(rng)
        suffix = ".topo"
    elif pick < 0.65:
        data, _ = gen.byte_mutation(rng)
        suffix = ".topo"
    elif pick < 0.85:
        data = gen.json_mutation(rng)
        suffix = ".json"
    else:
        data = rng.choice(gen.topo_seeds()).text
        suffix = ".topo"
    # Beside the shipped examples, so that their imports of parts/ resolve.
    target = workdir / f"case{suffix}"
    target.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    other = gen.REPO / "topologies" / "small_pod.topo"
    args = gen.command_line(rng, str(target), str(other))
    shown[:] = [data, tuple(args)]
    code, _out, err = run_cli(list(args))
    if code not in (0, 1, 2):
        return data, tuple(args), f"exit-code: {code!r}\n{err[-2000:]}"
    for bad in ("Traceback", "internal error", "out of memory"):
        if bad in err:
            return data, tuple(args), f"{bad}: {err[-2000:]}"
    return data, tuple(args), None
