"""Errors and diagnostics.

Every problem with an input file becomes a :class:`Diagnostic` that prints as::

    dgx.topo:4:15: error: latency must be a latency or time, got a bandwidth
        link nvlink4 { latency = 5 GB/s }
                                 ^~~~~~~
      hint: write it with a time unit, e.g. 100 ns

Diagnostics are collected and raised together in one :class:`TopoError` subclass, so a user
sees every problem in a file at once (capped at :data:`MAX_DIAGNOSTICS`).

The exception tree::

    TopoError
    ├── TopoSyntaxError        (the text does not parse)
    ├── ElaborationError       (unknown name, unit mismatch, index out of range, limits, imports)
    │   └── LimitExceeded      (an expansion larger than the documented cap)
    └── SolverError            (a question the graph cannot answer, e.g. an empty selection)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Span",
    "Diagnostic",
    "TopoError",
    "TopoSyntaxError",
    "ElaborationError",
    "LimitExceeded",
    "SolverError",
    "MAX_DIAGNOSTICS",
    "DiagnosticSink",
    "did_you_mean",
]

MAX_DIAGNOSTICS = 20


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a source file: 1-based line and column, end column exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One message about one place of an input file.

    ``source_line`` is the text of the line the span starts on (read when the diagnostic is
    made, so printing needs no file access).

    >>> d = Diagnostic(Span("a.topo", 1, 7, 1, 10), "error", "unknown kind 'gpx'",
    ...                "did you mean 'gpu'?", "const gpx = 1")
    >>> print(d.render())
    a.topo:1:7: error: unknown kind 'gpx'
        const gpx = 1
              ^~~
      hint: did you mean 'gpu'?
    """

    span: Span | None
    severity: str  # "error" | "warning" | "note"
    message: str
    hint: str | None = None
    source_line: str | None = None

    def render(self) -> str:
        """The diagnostic as text: location, message, source line, caret and hint."""
        where = f"{self.span}: " if self.span else ""
        lines = [f"{where}{self.severity}: {self.message}"]
        if self.span is not None and self.source_line is not None:
            text = self.source_line.rstrip("\n").expandtabs(1)
            width = 1
            if self.span.end_line == self.span.line and self.span.end_col > self.span.col:
                width = self.span.end_col - self.span.col
            width = max(1, min(width, len(text) - self.span.col + 2))
            text, col, width = _window(text, self.span.col, width)
            lines.append("    " + text)
            lines.append("    " + " " * (col - 1) + "^" + "~" * (width - 1))
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-ready form of the diagnostic."""
        out: dict = {"severity": self.severity, "message": self.message}
        if self.span:
            out.update(file=self.span.file, line=self.span.line, col=self.span.col)
        if self.hint:
            out["hint"] = self.hint
        return out


#: Longest source line shown under a diagnostic; longer lines are cut around the caret.
SHOWN_LINE = 120


def _window(text: str, col: int, width: int) -> tuple[str, int, int]:
    """``text`` cut to at most about :data:`SHOWN_LINE` characters around column ``col``
    (1-based), with ``...`` where it was cut; returns the text, the new column and width.

    >>> _window("x" * 300, 200, 5)[1:]
    (44, 5)
    """
    if len(text) <= SHOWN_LINE:
        return text, col, width
    width = min(width, SHOWN_LINE // 2)
    start = max(0, col - 1 - 40)
    end = min(len(text), start + SHOWN_LINE - 6)
    head = "..." if start > 0 else ""
    tail = "..." if end < len(text) else ""
    return head + text[start:end] + tail, col - start + len(head), width


class TopoError(Exception):
    """Base of every error topodsl raises on purpose; carries one or more diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(None, "error", diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        """All diagnostics as text, separated by blank lines."""
        shown = self.diagnostics[:MAX_DIAGNOSTICS]
        text = "\n".join(d.render() for d in shown)
        extra = len(self.diagnostics) - len(shown)
        if extra > 0:
            text += f"\n... and {extra} more error(s) not shown"
        return text


class TopoSyntaxError(TopoError):
    """The text of a file does not follow the grammar."""


class ElaborationError(TopoError):
    """The file parses but does not mean a valid topology."""


class LimitExceeded(ElaborationError):
    """An expansion would exceed a documented size cap."""


class SolverError(TopoError):
    """A solver cannot answer the question asked (empty selection, unsupported graph...)."""


_LINE_CACHE: dict[str, list[str]] = {}


def source_line(file: str, line: int, text: str | None = None) -> str | None:
    """The text of ``line`` (1-based) of ``file``, from ``text`` if given, else read from disk."""
    if text is None:
        lines = _LINE_CACHE.get(file)
        if lines is None:
            from .api import UnreadableSource, read_source
            from .limits import MAX_JSON_BYTES

            try:
                lines = read_source(Path(file), file, None, MAX_JSON_BYTES).splitlines()
            except UnreadableSource:
                return None
            _LINE_CACHE[file] = lines
    else:
        lines = text.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return None


class DiagnosticSink:
    """Collects diagnostics for one run; raises them together.

    ``texts`` maps file names to their source text so carets need no second read.
    """

    def __init__(self, texts: dict[str, str] | None = None):
        self.texts: dict[str, str] = texts if texts is not None else {}
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.more_warnings = 0

    def make(
        self, span: Span | None, message: str, hint: str | None = None, severity: str = "error"
    ) -> Diagnostic:
        """Build a diagnostic with its source line filled in."""
        line = None
        if span is not None:
            line = source_line(span.file, span.line, self.texts.get(span.file))
        return Diagnostic(span, severity, message, hint, line)

    def error(self, span: Span | None, message: str, hint: str | None = None) -> None:
        """Record an error; raise at once when the cap is reached."""
        self.errors.append(self.make(span, message, hint))
        if len(self.errors) >= MAX_DIAGNOSTICS:
            self.raise_if_errors()

    def warning(self, span: Span | None, message: str, hint: str | None = None) -> None:
        """Record a warning; past :data:`MAX_DIAGNOSTICS` warnings they are only counted."""
        if len(self.warnings) >= MAX_DIAGNOSTICS:
            self.more_warnings += 1
            return
        self.warnings.append(self.make(span, message, hint, "warning"))

    def all_warnings(self) -> list[Diagnostic]:
        """The warnings kept, and one that counts those left out."""
        if not self.more_warnings:
            return list(self.warnings)
        more = Diagnostic(None, "warning", f"... and {self.more_warnings} more warning(s)")
        return [*self.warnings, more]

    def raise_if_errors(self, cls: type[TopoError] = ElaborationError) -> None:
        """Raise every recorded error together, if there is any."""
        if self.errors:
            errors, self.errors = self.errors, []
            raise cls(errors)


def did_you_mean(name: str, options: Iterable[str]) -> str | None:
    """A hint naming the option closest to a misspelt ``name``, or ``None``.

    >>> did_you_mean("bandwith", ["bandwidth", "latency"])
    "did you mean 'bandwidth'?"
    """
    close = difflib.get_close_matches(name, sorted(set(options)), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
