"""Run the Graphviz ``dot`` program: DOT text in, SVG/PNG/PDF bytes out.

The program is looked up on ``PATH`` (or taken from the ``TOPODSL_DOT`` environment variable).
``SOURCE_DATE_EPOCH`` is set to 0 for the child, and any date cairo still writes into a PDF is
pinned, so every format comes out the same byte for byte on every run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, TopoError

__all__ = [
    "RenderError",
    "GRAPHVIZ_FORMATS",
    "Layout",
    "ROUTINGS",
    "find_dot",
    "run_dot",
    "run_layout",
    "measure_nodes",
    "INSTALL_HINT",
]

#: Output formats Graphviz produces for us, by file suffix.
GRAPHVIZ_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}

_PDF_DATE = re.compile(rb"(/(?:CreationDate|ModDate) )\(D:\d{14}Z\)")

INSTALL_HINT = (
    "install Graphviz: 'apt-get install graphviz' (Debian, Ubuntu), 'dnf install graphviz' "
    "(Fedora), 'brew install graphviz' (macOS) or 'conda install graphviz'; "
    "or write a .dot file, which needs no Graphviz"
)


class RenderError(TopoError):
    """A diagram or chart cannot be produced (missing program or package, bad output name)."""


def find_dot() -> str:
    """Path of the ``dot`` program; :class:`RenderError` with install advice when missing."""
    override = os.environ.get("TOPODSL_DOT")
    found = shutil.which(override or "dot")
    if found is None:
        raise RenderError(
            Diagnostic(
                None,
                "error",
                "the Graphviz 'dot' program was not found on PATH; it lays out .svg, .png "
                "and .pdf diagrams",
                INSTALL_HINT,
            )
        )
    return found


@dataclass(frozen=True)
class Layout:
    """What Graphviz produced: the output bytes, the warnings it printed (each once, in
    order), and ``fallback``: the simpler edge routing used when the first one failed
    (``None`` when the diagram was drawn as asked)."""

    data: bytes
    warnings: tuple[str, ...] = ()
    fallback: str | None = None


#: Edge routings tried in order: curves around boxes, then straight segments, then lines.
#: Boxes keep their places in every one; only how the edges are drawn gets simpler.
ROUTINGS = ("true", "polyline", "line")


def run_dot(dot_text: str, fmt: str, *, timeout: float = 600.0) -> bytes:
    """Lay out ``dot_text`` with Graphviz and return the ``fmt`` output (``svg``, ``png``, ``pdf``).

    The bytes of :func:`run_layout`; its warnings are dropped.
    """
    return run_layout(dot_text, fmt, timeout=timeout).data


def run_layout(dot_text: str, fmt: str, *, timeout: float = 600.0) -> Layout:
    """Draw ``dot_text`` with Graphviz into ``fmt`` (``svg``, ``png``, ``pdf``).

    A graph whose nodes have positions (``pos``, as :mod:`topodsl.render.diagram` writes them)
    is drawn by ``neato -n2``, which keeps them and routes the edges; any other by ``dot``.
    Graphviz's warnings (``Warning: Unable to reclaim box space in spline routing``) are
    returned, not raised: the picture is still drawn. When routing fails outright (Graphviz
    2.43 loses edges on some graphs), the next simpler routing of :data:`ROUTINGS` is tried and
    named in :attr:`Layout.fallback`, so the caller can say so.

    Raises
    ------
    RenderError
        ``dot`` is missing, every routing fails, or Graphviz runs longer than ``timeout``.

    Examples
    --------
    >>> out = run_layout('graph { a [pos="0,0"]; b [pos="72,0"]; a -- b }', "svg")
    >>> out.data.startswith(b"<?xml"), out.fallback
    (True, None)
    """
    positioned = "pos=" in dot_text
    program = "neato" if positioned else "dot"
    failures = []
    for i, routing in enumerate(ROUTINGS if positioned else ROUTINGS[:1]):
        text = dot_text if i == 0 else _with_routing(dot_text, routing)
        try:
            data, warnings = _run(program, text, fmt, timeout)
        except _LayoutFailed as e:
            failures.append(e.message)
            continue
        if fmt == "pdf":
            # Older cairo ignores SOURCE_DATE_EPOCH; pin the date, keeping its length so the
            # PDF's cross-reference offsets stay valid.
            data = _PDF_DATE.sub(rb"\1(D:19700101000000Z)", data)
        fallback = None
        if i:
            fallback = f"edges drawn as {'straight segments' if routing == 'polyline' else 'lines'}"
            warnings = (
                *warnings,
                f"Graphviz could not route curved edges ({failures[0]}); {fallback} instead",
            )
        return Layout(data, warnings, fallback)
    raise RenderError(f"Graphviz failed to lay out the diagram: {failures[-1]}")


def measure_nodes(dot_text: str, *, timeout: float = 120.0) -> dict[str, tuple[float, float]]:
    """Width and height (points) Graphviz gives each node of ``dot_text`` (``dot -Tplain``).

    Used to place boxes at their true size: Graphviz sizes a hexagon or an octagon to fit its
    label inside the slanted sides, which no estimate gets right for every font.

    >>> measure_nodes('graph { "a b" [shape=box, label="x", width=1, height=0.5] }')
    {'a b': (72.0, 36.0)}
    """
    try:
        data, _ = _run("dot", dot_text, "plain", timeout)
    except _LayoutFailed as e:  # an error to report, never a traceback
        raise RenderError(f"Graphviz could not measure the diagram's boxes: {e.message}") from None
    sizes = {}
    for line in data.decode("utf-8", "replace").splitlines():
        m = _PLAIN_NODE.match(line)
        if m:
            name = m.group(1)
            if name.startswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            sizes[name] = (float(m.group(2)) * 72.0, float(m.group(3)) * 72.0)
    return sizes


# "node NAME X Y WIDTH HEIGHT ...", NAME bare or quoted (with \" inside).
_PLAIN_NODE = re.compile(r'node ("(?:[^"\\]|\\.)*"|\S+) \S+ \S+ (\S+) (\S+) ')


class _LayoutFailed(Exception):
    def __init__(self, message: str):
        self.message = message


_SPLINES = re.compile(r'splines="?\w+"?')


def _with_routing(dot_text: str, routing: str) -> str:
    if _SPLINES.search(dot_text):
        return _SPLINES.sub(f'splines="{routing}"', dot_text, count=1)
    return dot_text.replace("{", f"{{ splines={routing};", 1)


def _run(program: str, dot_text: str, fmt: str, timeout: float) -> tuple[bytes, tuple[str, ...]]:
    exe = find_dot()
    if program != "dot":
        sibling = Path(exe).with_name(program)
        exe = str(sibling) if sibling.exists() else (shutil.which(program) or exe)
    args = [exe, f"-T{fmt}"]
    if program == "neato":
        args.insert(1, "-n2")
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = "0"
    try:
        proc = subprocess.run(
            args,
            input=dot_text.encode("utf-8"),
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(
            f"Graphviz took longer than {timeout:g} s to lay out the diagram; "
            "draw less with --depth or --focus"
        ) from None
    except OSError as e:
        raise RenderError(f"cannot run Graphviz ({exe}): {e}") from None
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    warnings = tuple(dict.fromkeys(_clean(x) for x in lines if x.startswith("Warning:")))
    if proc.returncode != 0 or not proc.stdout:
        errors = [x for x in lines if not x.startswith("Warning:")] or lines
        raise _LayoutFailed(errors[-1].strip() if errors else f"exit code {proc.returncode}")
    return proc.stdout, warnings


def _clean(line: str) -> str:
    return line.removeprefix("Warning:").strip()
