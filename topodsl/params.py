"""Constant overrides: ``-D NAME=VALUE`` sets a top-level ``const`` of a file.

An override is text, read by the language's own parser as the declaration ``const NAME =
VALUE`` (a pseudo file ``<-D NAME>`` names it in messages) and evaluated by the elaborator where
the file declares ``NAME``, in the same scope: it may use units and the constants declared
before it (``-D NIC=2*400Gb/s``, ``-D SPINES=SERVERS/4``). The constants computed from it see the
new value, and so do the file's assertions. The value must be what the file's own value is: a
number of the same dimension (a bandwidth for a bandwidth), text for text, a link type for a
link type; a name the file does not declare at the top level is an error with a did-you-mean.

Elaboration records every top-level constant's value (:attr:`Topology.constants
<topodsl.topology.Topology.constants>`, so that assertions read the values used, not the source
text) and the overrides it applied (:attr:`Topology.overrides
<topodsl.topology.Topology.overrides>`, as :class:`Setting`, so that every report can echo them).

>>> from topodsl import loads
>>> t = loads("const N = 2\\nconst M = N * 4\\ncluster c { gpu g[M] }", overrides=["N=3"])
>>> len(t.rows_of_kind("gpu")), [s.format() for s in t.overrides], t.constants["M"][0]
(12, ['N = 3'], 12.0)
>>> loads("const N = 2\\ncluster c { gpu g[N] }", overrides=["n=3"])
Traceback (most recent call last):
...
topodsl.errors.ElaborationError: <-D n>:1:7: error: the file has no top-level constant 'n' to set
    const n = 3
          ^
  hint: did you mean 'N'?
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import ast
from .errors import Diagnostic, ElaborationError
from .units import COUNT, Dim, dim_name, example_unit

if TYPE_CHECKING:
    from .errors import DiagnosticSink

__all__ = [
    "Override",
    "Setting",
    "ConstantHook",
    "parse_override",
    "parse_overrides",
    "format_settings",
    "settings_to_dict",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


@dataclass(frozen=True)
class Override:
    """One ``NAME=VALUE``, parsed as the declaration ``const NAME = VALUE``.

    ``file`` is the pseudo file that names it in diagnostics (``<-D NIC>``) and ``source`` its
    text, so an error in the value is shown with a caret under it.
    """

    name: str
    text: str
    decl: ast.Const
    file: str
    source: str

    @property
    def option(self) -> str:
        """The override as given on the command line: ``-D NIC=800Gb/s``."""
        return f"-D {self.name}={self.text}"


@dataclass(frozen=True)
class Setting:
    """A constant an override set, as elaborated: what every report echoes.

    ``value`` is in SI base units (a number, with ``dim``), or text; ``text`` is the value as
    given on the command line.

    >>> from topodsl.units import BANDWIDTH
    >>> s = Setting("NIC", "800Gb/s", 1e11, BANDWIDTH)
    >>> s.format(), s.to_dict()
    ('NIC = 100 GB/s', {'value': 100000000000, 'unit': 'B/s', 'text': '800Gb/s'})
    """

    name: str
    text: str
    value: float | str
    dim: Dim | None = None

    def format(self) -> str:
        """``NAME = value`` with a readable unit."""
        return f"{self.name} = {self.shown()}"

    def shown(self) -> str:
        """The value with a readable unit (text in double quotes)."""
        if isinstance(self.value, str) or self.dim is None:
            return f'"{self.value}"' if isinstance(self.value, str) else str(self.value)
        from .analyses.figures import format_figure

        return format_figure(float(self.value), self.dim)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``value`` (SI base units) and ``unit``, as every figure; ``text``."""
        if isinstance(self.value, str) or self.dim is None:
            return {"value": self.value, "text": self.text}
        from .analyses.figures import json_float, unit_of

        return {
            "value": json_float(float(self.value)),
            "unit": unit_of(self.dim),
            "text": self.text,
        }


def format_settings(settings: Iterable[Setting]) -> str:
    """``'NIC = 100 GB/s, SPINES = 8'`` (``''`` when there are none).

    >>> from topodsl.units import BANDWIDTH, COUNT
    >>> format_settings([Setting("NIC", "800Gb/s", 1e11, BANDWIDTH), Setting("S", "8", 8.0, COUNT)])
    'NIC = 100 GB/s, S = 8'
    """
    return ", ".join(s.format() for s in settings)


def settings_to_dict(settings: Iterable[Setting]) -> dict[str, dict[str, Any]]:
    """``{"NIC": {"value": 1e11, "unit": "B/s", "text": "800Gb/s"}, ...}`` for JSON reports."""
    return {s.name: s.to_dict() for s in settings}


# -- reading overrides ---------------------------------------------------------------------------


def parse_override(item: str) -> Override:
    """Read ``NAME=VALUE`` with the language's parser.

    Raises
    ------
    TopoError
        No ``=``, a name that is not one, or a value that does not parse (with a caret).

    >>> o = parse_override("NIC = 800 Gb/s")
    >>> o.name, o.text, o.decl.value.unit, o.option
    ('NIC', '800 Gb/s', 'Gb/s', '-D NIC=800 Gb/s')
    >>> parse_override("NIC")
    Traceback (most recent call last):
    ...
    topodsl.errors.ElaborationError: error: -D NIC: write NAME=VALUE, e.g. -D NIC=800Gb/s
    """
    name, eq, value = item.partition("=")
    name, value = name.strip(), value.strip()
    if not eq:
        raise ElaborationError(f"-D {item}: write NAME=VALUE, e.g. -D NIC=800Gb/s")
    if not _NAME.fullmatch(name):
        raise ElaborationError(
            f"-D {item}: {name!r} is not a constant's name",
            # the hint is part of the message: there is no source line to show it under
        )
    if not value:
        raise ElaborationError(f"-D {item}: the value is missing, e.g. -D {name}=8")
    from .parser import parse

    file = f"<-D {name}>"
    source = f"const {name} = {value}"
    module = parse(source, file)
    if len(module.items) != 1 or not isinstance(module.items[0], ast.Const):
        raise ElaborationError(f"-D {item}: the value must be one expression")
    return Override(name, value, module.items[0], file, source)


def parse_overrides(items: Iterable[str | Override]) -> tuple[Override, ...]:
    """Read every ``NAME=VALUE``; a name given twice is an error.

    >>> [o.name for o in parse_overrides(["A=1", "B=2 GB"])]
    ['A', 'B']
    >>> parse_overrides(["A=1", "A=2"])
    Traceback (most recent call last):
    ...
    topodsl.errors.ElaborationError: error: -D A is given twice (-D A=1, -D A=2)
    """
    out: dict[str, Override] = {}
    for item in items:
        o = item if isinstance(item, Override) else parse_override(item)
        if o.name in out:
            raise ElaborationError(f"-D {o.name} is given twice ({out[o.name].option}, {o.option})")
        out[o.name] = o
    return tuple(out.values())


# -- applying them: the elaborator's hook ------------------------------------------------------


class ConstantHook:
    """What elaboration does with top-level constants: apply overrides, record values.

    The elaborator calls :meth:`declared` for every top-level constant (of the file and of its
    imports) with the value the file gives it, and uses the value returned; then
    :meth:`check_used` once every declaration is read, and :meth:`constants` /
    :meth:`settings` for the :class:`~topodsl.topology.Topology`. The pseudo files of the
    overrides are known to the diagnostic sink only while declarations are read, so that they
    never reach :attr:`~topodsl.topology.Topology.source_texts`.
    """

    def __init__(self, overrides: Iterable[str | Override], sink: DiagnosticSink):
        self.overrides = {o.name: o for o in parse_overrides(overrides)}
        self.sink = sink
        self.values: dict[str, Any] = {}
        self.decls: dict[str, ast.Const] = {}
        self.applied: dict[str, Setting] = {}
        for o in self.overrides.values():
            sink.texts[o.file] = o.source

    def declared(self, el: Any, c: ast.Const, value: Any, scope: Any) -> Any:
        """The value of top-level constant ``c``: the override's, checked against ``value``
        (the file's), evaluated by ``el`` in ``scope``; or ``value`` itself."""
        self.decls[c.name] = c
        o = self.overrides.get(c.name)
        if o is not None:
            value = self._apply(el, o, c, value, scope)
        self.values[c.name] = value
        return value

    def _apply(self, el: Any, o: Override, c: ast.Const, own: Any, scope: Any) -> Any:
        from .elaborate.state import Abort

        try:
            new = el.eval(o.decl.value, scope)
        except Abort:
            return own  # reported; keep the file's value so that nothing else cascades
        problem = _mismatch(own, new)
        if problem is not None:
            what, got, hint = problem
            self.sink.error(
                o.decl.value.span,
                f"-D {o.name}: {o.name} is {what} ({c.span}), got {got}",
                hint.format(name=o.name) if hint else None,
            )
            return own
        dim = getattr(new, "dim", None)
        shown = new if isinstance(new, str) else getattr(new, "value", None)
        if dim is not None:
            shown = float(shown)
        elif not isinstance(shown, str):
            shown = o.text
        self.applied[o.name] = Setting(o.name, o.text, shown, dim)
        return new

    def check_used(self) -> None:
        """An error for every override naming no top-level constant."""
        for o in self.overrides.values():
            self.sink.texts.pop(o.file, None)
        for o in self.overrides.values():
            if o.name in self.decls:
                continue
            close = difflib.get_close_matches(o.name, list(self.decls), n=1, cutoff=0.6)
            if not close:
                close = [n for n in self.decls if n.lower() == o.name.lower()][:1]
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif self.decls:
                hint = "top-level constants: " + ", ".join(self.decls)
            else:
                hint = "the file declares no top-level constant"
            self.sink.errors.append(
                Diagnostic(_name_span(o), "error",
                           f"the file has no top-level constant {o.name!r} to set", hint, o.source)
            )  # fmt: skip

    def constants(self) -> dict[str, tuple[float, Dim]]:
        """Every top-level constant that is a plain number, in SI base units, in order."""
        out: dict[str, tuple[float, Dim]] = {}
        for name, v in self.values.items():
            dim = getattr(v, "dim", None)
            x = getattr(v, "value", None)
            if isinstance(dim, Dim) and isinstance(x, int | float) and not isinstance(x, bool):
                out[name] = (float(x), dim)
        return out

    def settings(self) -> tuple[Setting, ...]:
        """The overrides applied, in the order given."""
        return tuple(self.applied[n] for n in self.overrides if n in self.applied)


def _name_span(o: Override):
    from .errors import Span

    col = len("const ") + 1
    return Span(o.file, 1, col, 1, col + len(o.name))


def _kind(v: Any) -> str:
    if isinstance(v, str):
        return "text"
    if isinstance(v, tuple):
        return "a tuple"
    if hasattr(v, "dim"):
        return dim_name(v.dim)
    if hasattr(v, "type"):
        return "a link type"
    return type(v).__name__


def _mismatch(own: Any, new: Any) -> tuple[str, str, str | None] | None:
    """``(what the file's value is, what the override is, hint)`` when they differ in kind."""
    own_dim, new_dim = getattr(own, "dim", None), getattr(new, "dim", None)
    if own_dim is not None and new_dim is not None:
        if own_dim == new_dim:
            return None
        unit = example_unit(own_dim)
        hint = f"write it with a unit such as {unit}, e.g. -D {{name}}=8 {unit}" if unit else None
        if own_dim == COUNT:
            hint = "write a plain number, without a unit"
        return dim_name(own_dim), dim_name(new_dim), hint
    if type(own) is type(new) and not isinstance(own, tuple):
        return None
    same_tuple = isinstance(own, tuple) and isinstance(new, tuple) and len(own) == len(new)
    if same_tuple and all(_mismatch(a, b) is None for a, b in zip(own, new, strict=True)):
        return None
    hint = (
        "text is written in double quotes, e.g. -D {name}='\"H100\"'"
        if isinstance(own, str)
        else None
    )
    return _kind(own), _kind(new), hint
