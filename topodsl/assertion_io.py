"""Assertions in node-link JSON: written by ``topodsl export``, read back when the file is loaded.

So that ``topodsl check design.json`` checks what ``topodsl check design.topo`` does, an export
keeps every assertion (:func:`assertions_to_json`) with what it needs without the source: the
components it holds in and the values of the constants it uses. :func:`with_assertions_from_json`
reads them back (from :func:`topodsl.io.loads_json`).
"""

from __future__ import annotations

import re
from typing import Any

from . import ast, numeric
from .analyses import Context
from .analyses.figures import json_float, unit_of
from .check import _Evaluator, _span_key
from .errors import Diagnostic, ElaborationError, Span, source_line
from .evaluate import EvaluationError
from .topology import Topology
from .units import COUNT, Dim

__all__ = ["assertions_to_json", "with_assertions_from_json"]


def assertions_to_json(topology: Topology) -> list[dict[str, Any]]:
    """The assertions of ``topology`` for its node-link JSON export (``graph.assertions``).

    One entry per assertion: its ``name`` (or ``null``), ``text``, where it was written
    (``from``), and its ``instances``: the components it holds in (``scopes``) with the
    constants it uses there (SI value and dimension), so that the exported file is checked
    exactly as the source was, without the source. See :func:`with_assertions_from_json`.

    >>> from topodsl import loads
    >>> t = loads("const N = 2\\ncluster c { gpu g[N] }\\nassert gpus: count(kind:gpu) == N")
    >>> entry = assertions_to_json(t)[0]
    >>> entry["name"], entry["text"], entry["instances"][0]["constants"]["N"]["value"]
    ('gpus', 'count(kind:gpu) == N', 2)
    """
    ev = _Evaluator(Context(topology), {})
    grouped: dict[tuple, list] = {}
    for spec in topology.assertions:
        key = (_span_key(spec.node.span), spec.node.text)
        grouped.setdefault(key, [spec.node, []])[1].append(spec)
    out = []
    for key in sorted(grouped, key=lambda k: (k[0][0] != topology.source, k)):
        node, specs = grouped[key]
        instances = []
        for spec in specs:
            consts = {name: (v, d) for name, v, d in spec.constants}
            for name in sorted(_names(node) - consts.keys()):
                if name in ev.constants():
                    try:
                        v = ev.constant(name, node.span)
                    except EvaluationError:
                        continue  # checking the assertion reports it
                    consts[name] = (v.lo, v.dim)
            instances.append({
                "scopes": list(spec.scopes),
                "constants": {
                    name: {"value": _number(v, d), "unit": unit_of(d), "dim": _dim_dict(d)}
                    for name, (v, d) in sorted(consts.items())
                },
            })  # fmt: skip
        out.append(
            {"name": node.name, "text": node.text, "from": _origin(topology, node),
             "instances": instances}
        )  # fmt: skip
    return out


_FROM = re.compile(r"  # from (\S+)$")


def _origin(topology: Topology, node: ast.Assert) -> str | None:
    """Where an assertion was written: its span, or for one read from an exported file the
    place it came from (kept in the pseudo source, where it also shows beside errors)."""
    span = node.span
    if span is None:
        return None
    if span.file.endswith("#assertions"):
        line = source_line(span.file, span.line, topology.source_texts.get(span.file)) or ""
        m = _FROM.search(line)
        if m:
            return m.group(1)
    return str(span)


def with_assertions_from_json(topology: Topology, entries: Any, file: str) -> Topology:
    """``topology`` with the assertions of a JSON export (see :func:`assertions_to_json`).

    They are parsed from a pseudo file ``FILE#assertions``, one line each, so that results and
    errors point at them; an entry that is malformed or names an unknown component is an error
    of ``file``.
    """
    import dataclasses

    from .elaborate import AssertSpec
    from .parser import parse

    def bad(message: str) -> ElaborationError:
        return ElaborationError(Diagnostic(Span(file, 1, 1, 1, 2), "error", message))

    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise bad("graph.assertions must be a list of objects")
    lines = []
    for k, entry in enumerate(entries):
        name, text = entry.get("name"), entry.get("text")
        if not isinstance(text, str) or "\n" in text or not (name is None or isinstance(name, str)):
            raise bad(f"graph.assertions[{k}] needs a one-line 'text' (and a 'name' or null)")
        origin = entry.get("from")
        plain = isinstance(origin, str) and origin.split() == [origin]
        comment = f"  # from {origin}" if plain else ""
        lines.append((f"assert {name}: {text}" if name else f"assert {text}") + comment)
    pseudo = f"{file}#assertions"
    source = "\n".join(lines) + "\n"
    nodes = []
    for k, line in enumerate(lines):
        # One at a time, at its own line, so that an error points at the entry that has it.
        items = parse("\n" * k + line + "\n", pseudo).items
        if len(items) != 1 or not isinstance(items[0], ast.Assert):
            raise bad(f"graph.assertions[{k}] is not one assertion: {line!r}")
        nodes.append(items[0])
    specs = []
    for k, (entry, node) in enumerate(zip(entries, nodes, strict=True)):
        instances = entry.get("instances")
        if not isinstance(instances, list) or not instances:
            raise bad(f"graph.assertions[{k}] needs a list of 'instances'")
        for inst in instances:
            scopes = inst.get("scopes") if isinstance(inst, dict) else None
            consts = inst.get("constants", {}) if isinstance(inst, dict) else None
            if not isinstance(scopes, list) or not isinstance(consts, dict):
                raise bad(f"graph.assertions[{k}]: an instance needs 'scopes' and 'constants'")
            for s in scopes:
                if not isinstance(s, str) or (s and s not in topology._index):
                    raise bad(f"graph.assertions[{k}] holds in unknown component {s!r}")
            try:
                dims = {n: Dim(**c.get("dim", {})) for n, c in consts.items()}
                values = tuple(
                    (str(n), _read_number(c["value"], dims[n]), dims[n])
                    for n, c in sorted(consts.items())
                )
            except (TypeError, ValueError, KeyError, AttributeError, numeric.NumericError):
                msg = f"graph.assertions[{k}]: a constant needs a 'value' and a 'dim'"
                raise bad(msg) from None
            specs.append(AssertSpec(node, tuple(scopes), values))
    texts = dict(topology.source_texts) | {pseudo: source}
    return dataclasses.replace(topology, assertions=tuple(specs), source_texts=texts)


def _number(v: int | float, dim: Dim) -> int | float | str:
    """A constant's value for JSON (:func:`~topodsl.analyses.figures.json_float`): whole
    numbers divide to whole numbers and decimals do not, so a plain decimal with a whole value
    stays ``2.0``; a quantity with a unit is always a decimal and is written as every figure."""
    if numeric.is_whole(v):
        return int(v)
    if dim == COUNT and float(v).is_integer():
        return float(v)
    return json_float(v)


def _read_number(v: Any, dim: Dim) -> int | float:
    """A constant's value from JSON: a plain int is a whole number (within 10**18, as every
    whole number is), anything else a decimal."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise TypeError(v)
    if isinstance(v, int) and dim == COUNT:
        return numeric.literal(v, True)
    return float(v)


def _dim_dict(d: Dim) -> dict[str, int]:
    return {k: v for k, v in (("byte", d.byte), ("second", d.second), ("flop", d.flop),
                              ("watt", d.watt)) if v}  # fmt: skip


def _names(node: Any) -> set[str]:
    """Every bare name an AST node uses (constants, kinds, components)."""
    import dataclasses

    found: set[str] = set()
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, ast.Ref) and x.path.simple_name is not None:
            found.add(x.path.simple_name)
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            stack += [getattr(x, f.name) for f in dataclasses.fields(x)]
        elif isinstance(x, tuple | list):
            stack += list(x)
    return found
