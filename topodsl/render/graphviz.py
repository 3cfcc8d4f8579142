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

from ..errors import Diagnostic, TopoError

__all__ = ["RenderError", "GRAPHVIZ_FORMATS", "find_dot", "run_dot", "INSTALL_HINT"]

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


def run_dot(dot_text: str, fmt: str, *, timeout: float = 600.0) -> bytes:
    """Lay out ``dot_text`` with Graphviz and return the ``fmt`` output (``svg``, ``png``, ``pdf``).

    Raises
    ------
    RenderError
        ``dot`` is missing, fails, or runs longer than ``timeout`` seconds.
    """
    try:
        data = _run(dot_text, fmt, timeout)
    except RenderError:
        # Graphviz 2.4x's cluster ranking ("newrank") occasionally loses an edge between
        # nested clusters; the classic ranking lays the same graph out, a little less tidily.
        if "newrank=true;" not in dot_text:
            raise
        data = _run(dot_text.replace("newrank=true;", "", 1), fmt, timeout)
    if fmt == "pdf":
        # Older cairo ignores SOURCE_DATE_EPOCH; pin the date, keeping its length so the
        # PDF's cross-reference offsets stay valid.
        data = _PDF_DATE.sub(rb"\1(D:19700101000000Z)", data)
    return data


def _run(dot_text: str, fmt: str, timeout: float) -> bytes:
    exe = find_dot()
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = "0"
    try:
        proc = subprocess.run(
            [exe, f"-T{fmt}"],
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
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {proc.returncode}"
        raise RenderError(f"Graphviz failed to lay out the diagram: {detail}")
    return proc.stdout
