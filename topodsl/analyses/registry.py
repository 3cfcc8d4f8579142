"""The declaration of an analysis, and the table of every analysis declared.

An :class:`Analysis` is data: its name, its parameters (:class:`Param`), the solver it calls
(a dotted name, imported only when the analysis runs), the figures of its result
(:class:`Field`), and its text and JSON reports. The command line, the assertion language,
JSON, ``diff`` and :func:`~topodsl.analyses.run` are all built from it, so they cannot drift
apart. See ``docs/architecture.md``, "How to add an analysis".

>>> from topodsl.analyses import ANALYSES
>>> a = ANALYSES["count"]
>>> a.signature, [p.name for p in a.params], [f.name for f in a.fields]
('count(SELECTION)', ['components'], ['value'])
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..units import Dim, parse_quantity

__all__ = [
    "SELECTION",
    "QUANTITY",
    "CHOICE",
    "FLAG",
    "LINK_TYPES",
    "TEXT",
    "WORD",
    "Param",
    "Field",
    "ReportOption",
    "CommonOption",
    "COMMON_OPTIONS",
    "Analysis",
    "ANALYSES",
    "endpoint_param",
    "size_param",
    "register",
    "resolve",
]

#: Parameter kinds. A selection names components (a selector text, or node rows); a quantity
#: is a number with a dimension (SI base units inside, a unit on the command line); a choice is
#: one of a few words; a flag is on or off; link types name link types (``type:nvlink4``); a
#: text is passed as written, for the analysis to read (a link selector, a traffic pattern);
#: word is a name the design declares (a workload's).
SELECTION, QUANTITY, CHOICE, FLAG, LINK_TYPES = "selection", "quantity", "choice", "flag", "links"
TEXT, WORD = "text", "word"

_TRUE = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Param:
    """One parameter of an analysis, as every front end sees it.

    Attributes
    ----------
    name : the Python keyword of :func:`~topodsl.analyses.run` and the key in JSON.
    kind : :data:`SELECTION`, :data:`QUANTITY`, :data:`CHOICE`, :data:`FLAG`,
        :data:`LINK_TYPES`, :data:`TEXT` or :data:`WORD`.
    help : one line for ``--help`` and the docs.
    dim : the dimension of a quantity.
    default : a selector text (a selection's default, restricted to the assertion's component
        in an assertion), a number in SI units, a choice or a flag's value. Unscoped calls that
        omit a selection leave it to the solver, whose default must be the same (a test checks).
    required : whether it must be given.
    choices : the words a choice takes.
    position : its index among the plain arguments of the assertion function.
    keyword : how an assertion names it (``from``, ``to``, ``within``); every parameter can also
        be written ``name = value``.
    flag : its command-line option (default ``--name``); ``flag_value``: the option is then a
        switch that sets this value (``reach --write`` sets ``direction`` to ``"write"``).
    what : how messages name it (``"the latency budget"``); ``{analysis}`` is replaced.
    positive : a quantity must be more than zero.
    allow_empty : a kind or role selection may match nothing (``count(kind:hbm) == 0``).
    note_default : a default that was used is named in the result's notes.
    min_rows, too_few, too_few_hint : a selection needs at least ``min_rows`` components; the
        message (with ``{n}``) and hint when it has fewer.
    none_here : the message when the default selects nothing in the assertion's component.
    """

    name: str
    kind: str
    help: str
    dim: Dim | None = None
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    position: int | None = None
    keyword: str | None = None
    flag: str | None = None
    flag_value: Any = None
    metavar: str | None = None
    what: str = ""
    positive: bool = False
    allow_empty: bool = False
    note_default: bool = False
    min_rows: int = 1
    too_few: str | None = None
    too_few_hint: str | None = None
    none_here: str | None = None

    @property
    def cli_flag(self) -> str:
        """The command-line option: ``--from``, ``--size``."""
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def spelling(self) -> str:
        """How an assertion names it: its keyword, else its name."""
        return self.keyword or self.name

    def described(self, analysis: str) -> str:
        """How messages name it, e.g. ``'the size to move in checkpoint()'``."""
        text = self.what or f"the {self.spelling} of {analysis}()"
        return text.format(analysis=analysis)

    def from_text(self, text: str) -> Any:
        """The value of this parameter written as text (a command line, a sweep spec).

        Raises ``ValueError`` with a readable message.

        >>> Param("size", QUANTITY, "", dim=Dim(byte=1), positive=True).from_text("2TB")
        2000000000000.0
        >>> Param("direction", CHOICE, "", choices=("read", "write")).from_text("up")
        Traceback (most recent call last):
        ...
        ValueError: 'up' is not one of read, write
        """
        if self.kind == QUANTITY:
            value = parse_quantity(text, self.dim)
            if self.positive and not value > 0:
                raise ValueError(f"{text!r} is not a positive {_noun(self.dim)}")
            return value
        if self.kind == CHOICE:
            if text not in self.choices:
                raise ValueError(f"{text!r} is not one of {', '.join(self.choices)}")
            return text
        if self.kind == FLAG:
            if text.lower() not in _TRUE:
                raise ValueError(f"{text!r} is not true or false")
            return _TRUE[text.lower()]
        if self.kind == LINK_TYPES:
            return parse_link_types(text)
        return text


def endpoint_param(name: str, keyword: str, help: str, **kw: Any) -> Param:
    """A selection written ``from X`` / ``to X`` in an assertion and ``--from``/``--to`` on the
    command line (one end of a flow, a scenario or a set of links)."""
    return Param(name, SELECTION, help, keyword=keyword, flag="--" + keyword,
                 metavar="SELECTOR", what=f"'{keyword}' selection", **kw)  # fmt: skip


def size_param(help: str, **kw: Any) -> Param:
    """The bytes an analysis moves (``--size 2TB``; more than zero)."""
    return Param("size", QUANTITY, help, dim=Dim(byte=1), positive=True, metavar="SIZE",
                 what="the size to move in {analysis}()", **kw)  # fmt: skip


def parse_link_types(text: str) -> tuple[str, ...]:
    """Link type names from ``type:a|b`` or ``a|b``.

    >>> parse_link_types("type:nvlink4|nvlink5")
    ('nvlink4', 'nvlink5')
    """
    body = text.strip()
    if body.startswith("type:"):
        body = body[len("type:") :]
    names = tuple(n.strip() for n in body.split("|"))
    if not names or not all(re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", n) for n in names):
        raise ValueError(f"cannot read {text!r} as link types (expected e.g. 'type:nvlink4')")
    return names


def _noun(dim: Dim | None) -> str:
    from ..units import dim_name

    return dim_name(dim).removeprefix("a ").removeprefix("an ") if dim else "number"


@dataclass(frozen=True)
class Field:
    """One figure of an analysis result.

    ``exact`` is False where the figure may be an interval (a bound pair such as bisection's,
    or a rate bracketed by the flow backend's resolution). ``better`` is ``"higher"`` or
    ``"lower"`` where a design improves in one direction (``diff --fail-on regression``).
    ``dim`` is ``None`` for a figure in the unit of the analysis another one wraps (failures).
    """

    name: str
    dim: Dim | None
    help: str
    exact: bool = True
    better: str | None = None


@dataclass(frozen=True)
class ReportOption:
    """A command-line option that shapes a report, not the figures (``--cut-rows 20``): a
    number of rows, or ``all`` (``None`` in the report function)."""

    name: str
    flag: str
    default: int
    help: str


#: The help of every ``--cut-rows`` option, which caps the cut rows of text and JSON alike.
CUT_ROWS_HELP = (
    "Cut rows to list: groups of alike elements in text, groups and elements in JSON; 'all' "
    "for every one."
)


@dataclass(frozen=True)
class CommonOption:
    """An option several analyses share, declared once: it reaches each analysis's command,
    its assertion function (``name = value``), ``check``/``diff`` (for every assertion) and
    :func:`~topodsl.analyses.run`. It is passed to a solver only when the solver's signature
    takes it; given to one that does not, it is an error rather than silently ignored."""

    name: str
    flag: str
    choices: tuple[str, ...]
    help: str


#: Options shared by every flow-based analysis.
COMMON_OPTIONS: dict[str, CommonOption] = {
    "forwarding": CommonOption(
        "forwarding",
        "--forwarding",
        ("hardware", "ideal"),
        "Which components relay traffic: 'hardware' (only switches, NICs and the like; no "
        "transit through GPUs unless declared) or 'ideal' (any component). Default: the "
        "solver's.",
    ),
}


Compute = Callable[..., Any]
Figures = Callable[..., Mapping[str, Any]]


@dataclass(frozen=True)
class Analysis:
    """An analysis, declared once.

    Attributes
    ----------
    name : the assertion function and the ``analyze`` subcommand.
    signature : usage in an assertion, e.g. ``'checkpoint(SIZE, from GPUS, to SSDS)'``.
    help : what the assertion function measures (docs/ci.md lists it).
    summary : the subcommand's help: a first line, then paragraphs.
    params, fields : see :class:`Param` and :class:`Field`.
    compute : ``compute(solve, context, arguments)`` runs the solver and returns its raw
        result; ``solve`` is :attr:`solver`, imported, with the common options bound.
    figures : ``figures(context, arguments, raw)`` gives ``{field: Figure}``; only the fields
        that exist for these arguments (``.time`` needs a size).
    default_field : the figure an assertion compares when it names none; ``None`` makes
        ``.field`` compulsory where there are several.
    solver : ``"module:function"`` of the solver; imported when the analysis runs.
    text, json : ``"module:function"`` of the reports of the raw result (``None``: the
        generic report of the figures); they take the report options as keywords.
    jsonl : the ``--jsonl`` report of the raw result: ``jsonl(raw, **report_options)`` gives
        the document without its tables (``tables``: their row counts) and an iterator of
        text, one compact JSON line per row (``None``: :meth:`AnalysisResult.to_lines` splits
        the ``json`` document, fine for small tables).
    report_options : options of the text and JSON reports (``--cut-rows``).
    common : names of :data:`COMMON_OPTIONS` it takes.
    disjoint : two selections that must not overlap (``("sources", "sinks")``).
    diff_fields : the fields ``diff`` compares (default: all); ``diff_default``: whether
        ``diff`` compares it without being asked.
    symmetric : whether the figures depend on the topology only up to relabelling: an
        automorphism that maps every selection of the question onto itself leaves them
        unchanged (true of every analysis that reads only the graph and its selections; not
        of a question about the components' order, such as a seeded random permutation). A
        callable decides from the checked arguments. Failure analysis then solves one case per
        class of symmetric failure cases (:mod:`topodsl.failures.symmetry`).
    loads : ``loads(raw)`` gives the ``(link_load, device_load)`` arrays of the feasible
        solution the figures rest on (a max flow, the routed traffic): a failure of links
        and components that carry none of it leaves the figures in ``load_fields`` (default:
        all) as they are, and failure analysis prunes it (see docs/failures.md).
    wraps : the name of a :data:`CHOICE` parameter naming another analysis whose parameters
        this one also takes (failures runs any analysis: ``run(t, "failures", analysis=
        "flow", sources=..., links="type:up")``).
    aliases : other names of its ``analyze`` subcommand (``checkpoint-cycle``), not listed in
        ``--help``; :func:`~topodsl.analyses.get` knows them too.
    """

    name: str
    signature: str
    help: str
    summary: str
    params: tuple[Param, ...]
    fields: tuple[Field, ...]
    compute: Compute
    figures: Figures
    default_field: str | None = None
    solver: str | None = None
    text: str | None = None
    json: str | None = None
    jsonl: Any = None
    report_options: tuple[ReportOption, ...] = ()
    common: tuple[str, ...] = ()
    disjoint: tuple[str, str] | None = None
    diff_fields: tuple[str, ...] | None = None
    diff_default: bool = False
    symmetric: bool | Callable[[Any], bool] = False
    loads: Callable[[Any], Any] | None = None
    load_fields: tuple[str, ...] | None = None
    wraps: str | None = None

    def is_symmetric(self, args: Any) -> bool:
        """Whether the figures of the question ``args`` are invariant under relabelling."""
        return bool(self.symmetric(args) if callable(self.symmetric) else self.symmetric)

    aliases: tuple[str, ...] = ()

    def param(self, key: str) -> Param | None:
        """The parameter called ``key`` in any front end: its name, its assertion keyword or
        its option without dashes (``from``, ``sources``, ``--from`` all name flow's sources)."""
        key = key.lstrip("-").replace("-", "_")
        for p in self.params:
            if key in (p.name, p.keyword, p.cli_flag.lstrip("-").replace("-", "_")):
                return p
        return None

    def field(self, name: str) -> Field | None:
        """The declared field called ``name``."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def positional(self) -> tuple[Param, ...]:
        """Parameters an assertion may give without a keyword, in order."""
        return tuple(sorted((p for p in self.params if p.position is not None),
                            key=lambda p: p.position))  # fmt: skip


#: Every analysis, by name, in the order they were registered (see :mod:`topodsl.analyses`).
ANALYSES: dict[str, Analysis] = {}


def register(analysis: Analysis) -> Analysis:
    """Add ``analysis`` to :data:`ANALYSES` (its name must be new)."""
    taken = set(ANALYSES) | {alias for a in ANALYSES.values() for alias in a.aliases}
    if analysis.name in taken or taken & set(analysis.aliases):
        raise ValueError(f"analysis {analysis.name!r} is registered twice")
    names = [p.name for p in analysis.params]
    if len(set(names)) != len(names):
        raise ValueError(f"{analysis.name}: two parameters share a name")
    for name in analysis.common:
        if name not in COMMON_OPTIONS:
            raise ValueError(f"{analysis.name}: unknown common option {name!r}")
    if analysis.default_field is not None and analysis.field(analysis.default_field) is None:
        raise ValueError(f"{analysis.name}: the default field is not declared")
    ANALYSES[analysis.name] = analysis
    return analysis


def resolve(ref: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute (solvers and reports are
    named this way so that declaring an analysis imports no solver)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
