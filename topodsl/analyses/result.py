"""What an analysis returns: :class:`AnalysisResult`, and its JSON and text reports.

Every analysis's ``--json`` document follows one convention::

    {"analysis": "checkpoint",
     "parameters": {"size": {"value": 2e12, "unit": "B"}, "sources": "kind:gpu", ...},
     "figures": {"time": {"value": 41.2, "lower": 41.2, "upper": 41.2, "unit": "s"}, ...},
     ... the analysis's own detail (legs, cut, rows) ...}

Values are in SI base units with a ``unit`` beside each figure; ``value`` is ``null`` where the
figure is an interval, whose ``lower`` and ``upper`` bound the true value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..units import format_quantity
from .figures import Figure, Measure, json_float, unit_of

if TYPE_CHECKING:
    from .registry import Analysis, Param

__all__ = ["AnalysisResult", "describe_value", "call_text", "json_default", "json_line"]


def json_default(o: Any) -> Any:
    """numpy scalars and arrays as JSON's own values (``json.dumps``'s ``default``)."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def json_line(obj: Any) -> str:
    """``obj`` as one compact line of JSON (JSON Lines), newline included.

    >>> json_line({"a": np.int64(1), "b": [0.5]})
    '{"a":1,"b":[0.5]}\\n'
    """
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=json_default) + "\n"


@dataclass(frozen=True)
class AnalysisResult:
    """The figures of one analysis run, and the solver's own result.

    Attributes
    ----------
    analysis : the analysis's name.
    parameters : what was asked, JSON-ready (defaults included; see :func:`describe_value`).
    figures : ``{field: Figure}``: the fields that exist for these parameters.
    default : the field compared when an assertion names none (``None``: it must name one).
    detail : the solver's result (a ``BisectionResult``, a ``ScenarioResult``...), for the
        analysis's own reports; ``None`` after :meth:`without_detail`.

    Examples
    --------
    >>> from topodsl import loads
    >>> from topodsl.analyses import run
    >>> r = run(loads("cluster c { gpu g[8] }"), "count", components="kind:gpu")
    >>> r["value"].measure.format(), r.to_dict()["figures"]["value"]["unit"]
    ('8', '')
    >>> print(r.format())
    count(kind:gpu): 8
    """

    analysis: str
    parameters: Mapping[str, Any]
    figures: Mapping[str, Figure]
    default: str | None = None
    detail: Any = field(default=None, compare=False, repr=False)

    def __getitem__(self, name: str) -> Figure:
        return self.figures[name]

    def figure(self, name: str | None = None) -> Figure:
        """The figure ``name``, or the default one (the only one, if there is one)."""
        if name is None:
            name = self.default or (next(iter(self.figures)) if len(self.figures) == 1 else None)
            if name is None:
                raise KeyError(f"{self.analysis} has several figures: {', '.join(self.figures)}")
        return self.figures[name]

    @property
    def value(self) -> Measure:
        """The default figure, as a :class:`Measure`."""
        return self.figure().measure

    def without_detail(self) -> AnalysisResult:
        """The same figures without the solver's result: small, for sending between processes."""
        return replace(self, detail=None)

    @property
    def declaration(self) -> Analysis:
        """The analysis's declaration."""
        from .registry import ANALYSES

        return ANALYSES[self.analysis]

    def call(self) -> str:
        """The question as an assertion would write it: ``'checkpoint(2 TB, from kind:gpu,
        to kind:ssd)'``."""
        return call_text(self.declaration, self.parameters)

    def to_dict(self, **options: Any) -> dict[str, Any]:
        """The ``--json`` document; ``options`` are the analysis's report options."""
        a = self.declaration
        doc = self._head()
        if a.json is not None and self.detail is not None:
            doc.update(a.json(self.detail, **options))
        else:
            doc["notes"] = list(dict.fromkeys(n for f in self.figures.values() for n in f.notes))
        return doc

    def to_lines(self, **options: Any) -> tuple[dict[str, Any], Iterator[str]]:
        """The ``--jsonl`` report: the ``--json`` document without its tables (lists of
        objects), ``tables`` giving their row counts in their place, and the text of one
        compact JSON line per row, ``{"table": NAME, ...the row...}``, in the document's order.

        >>> from topodsl import loads
        >>> from topodsl.analyses import run
        >>> t = loads("link l { bandwidth = 50 GB/s }; "
        ...           "node n { gpu g[2]; connect g[0] -- g[1] via l }")
        >>> head, lines = run(t, "bisection", endpoints="kind:gpu").to_lines()
        >>> head["analysis"], head["tables"]["cut"]
        ('bisection', 1)
        >>> print("".join(lines), end="")  # doctest: +ELLIPSIS
        {"table":"cut","from":"n.g0","to":"n.g1","bandwidth":50000000000.0,...}
        ...
        """
        a = self.declaration
        if a.jsonl is not None and self.detail is not None:
            top, lines = a.jsonl(self.detail, **options)
            return {**self._head(), **top}, lines
        doc = self.to_dict(**options)
        tables = {
            k: v for k, v in doc.items()
            if isinstance(v, list) and v and all(isinstance(row, dict) for row in v)
        }  # fmt: skip
        head = {k: v for k, v in doc.items() if k not in tables}
        head["tables"] = {k: len(v) for k, v in tables.items()}
        return head, (json_line({"table": k, **row}) for k, rows in tables.items() for row in rows)

    def _head(self) -> dict[str, Any]:
        return {
            "analysis": self.analysis,
            "parameters": dict(self.parameters),
            "figures": {k: f.measure.to_dict() for k, f in self.figures.items()},
        }

    def format(self, **options: Any) -> str:
        """The text report; ``options`` are the analysis's report options."""
        a = self.declaration
        if a.text is not None and self.detail is not None:
            return a.text(self.detail, **options)
        return format_figures(self)


def format_figures(result: AnalysisResult) -> str:
    """The generic text report: the question, each figure, the notes."""
    head = result.call()
    figures = result.figures
    if len(figures) == 1:
        lines = [f"{head}: {_shown(next(iter(figures.values())))}"]
    else:
        lines = [f"{head}:"] + [f"  {k}: {_shown(f)}" for k, f in figures.items()]
    notes = dict.fromkeys(n for f in figures.values() for n in f.notes)
    lines += [f"  {n}" for n in notes]
    return "\n".join(lines)


def _shown(f: Figure) -> str:
    from ..units import BANDWIDTH

    return f.measure.format() + (" per direction" if f.dim == BANDWIDTH else "")


def describe_value(p: Param, value: Any) -> Any:
    """A parameter's value, JSON-ready: selector text (or ``"N components"`` for rows), a
    quantity as ``{"value", "unit"}`` in SI base units, link types as ``"type:a|b"``."""
    from .registry import LINK_TYPES, QUANTITY, SELECTION

    if value is None:
        return None
    if p.kind == SELECTION and not isinstance(value, str):
        n = len(value)
        return f"{n} component{'s' if n != 1 else ''}"
    if p.kind == QUANTITY:
        return {"value": json_float(float(value)), "unit": unit_of(p.dim) if p.dim else ""}
    if p.kind == LINK_TYPES:
        return "type:" + "|".join(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _analyses():
    from .registry import ANALYSES

    return ANALYSES


def call_text(a: Analysis, parameters: Mapping[str, Any]) -> str:
    """The call as an assertion writes it, from JSON-ready parameters.

    Plain arguments first, then keyword ones (``from X``, ``within 1 us``), then any other
    parameter that differs from its default as ``name = value``.
    """
    from .registry import QUANTITY

    def text(p: Param, v: Any) -> str:
        if p.kind == QUANTITY:
            return format_quantity(float(v["value"]), p.dim) if p.dim else str(v["value"])
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    if a.wraps is not None and parameters.get(a.wraps) in _analyses():
        # An analysis under failures reads as the assertion writes it: INNER(...) under NAME(...)
        head = call_text(_analyses()[parameters[a.wraps]], parameters)
        own = [f"{p.name} = {text(p, parameters[p.name])}" for p in a.params
               if p.name != a.wraps and parameters.get(p.name) is not None
               and parameters[p.name] != p.default]  # fmt: skip
        return f"{head} under {a.name}({', '.join(own)})"
    parts = []
    for p in a.positional:
        if parameters.get(p.name) is not None:
            parts.append(text(p, parameters[p.name]))
    for p in a.params:
        v = parameters.get(p.name)
        if p.position is not None or v is None:
            continue
        if p.keyword:
            parts.append(f"{p.keyword} {text(p, v)}")
        elif v != p.default:
            parts.append(f"{p.name} = {text(p, v)}")
    for name in a.common:
        if parameters.get(name) is not None:
            parts.append(f"{name} = {parameters[name]}")
    return f"{a.name}({', '.join(parts)})"
