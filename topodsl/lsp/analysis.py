"""What the language server knows about one ``.topo`` document: pure functions, no protocol.

:func:`analyze` parses and elaborates the text (with the file's own directory as the import
root, as ``topodsl check`` does), evaluates its assertions, and indexes the names it declares.
The server (:mod:`topodsl.lsp.server`) turns the result into LSP messages; these functions
are what the tests exercise without a client too.

Positions here are 0-based ``(line, character)``, as in LSP; spans in topodsl are 1-based.

Examples
--------
>>> text = 'link l { bandwidth = 25 GB/s }\\nnode n { gpu g[2]; connect g[0] -- g[1] via l x4 }\\n'
>>> doc = analyze(text, "/tmp/ex.topo")
>>> [d.message for d in doc.diagnostics]
[]
>>> print(hover(doc, 1, 44))
**link l**: 25 GB/s per lane per direction
<BLANKLINE>
1 link of this type in the file: 100 GB/s per direction in all
>>> definition(doc, 1, 44)
('/tmp/ex.topo', (0, 5), (0, 6))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import ast
from ..errors import Diagnostic, Span, TopoError
from ..kinds import ATTRIBUTES, KIND_ALIASES, KINDS, LINK_ATTRIBUTES, ROLE_OF
from ..natural import natural_key
from ..topology import Topology
from ..units import BANDWIDTH, UNITS, format_quantity

__all__ = ["Document", "Symbol", "analyze", "hover", "definition", "completions", "word_at"]

#: Assertions are evaluated only in files up to this size, so a keystroke never waits minutes.
MAX_CHECKED_COMPONENTS = 200_000
KEYWORDS = (
    "import", "link", "def", "const", "connect", "via", "fabric", "for", "in", "assert", "meta",
    "workload", "job",
)  # fmt: skip


@dataclass(frozen=True)
class Symbol:
    """A name the document (or a file it imports) declares: ``kind`` is ``link``, ``def``,
    ``const``, ``component`` or ``import``."""

    name: str
    kind: str
    span: Span
    detail: str = ""
    node: object = None


@dataclass
class Document:
    """One analysed document: its diagnostics (as ``topodsl check`` reports them), the
    topology when it elaborated, and the symbols declared by it and its imports."""

    path: str
    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    topology: Topology | None = None
    module: ast.Module | None = None
    symbols: list[Symbol] = field(default_factory=list)
    imports: list[tuple[Span, str]] = field(default_factory=list)  # (span, resolved path)

    def lines(self) -> list[str]:
        return self.text.split("\n")


# -- analysis ----------------------------------------------------------------------------------


def analyze(text: str, path: str) -> Document:
    """Parse, elaborate and check ``text`` (the contents of ``path``); never raises for bad
    input: every problem becomes a diagnostic."""
    from ..api import loads
    from ..parser import parse

    doc = Document(path=path, text=text)
    root = Path(path).parent
    try:
        doc.module = parse(text, path)
    except TopoError as e:
        # Half-typed text does not parse; complete and go to definitions from what the
        # lines still say, and from the files they import.
        doc.diagnostics = list(e.diagnostics)
        _scan(doc, text, path)
        return doc
    _index(doc, doc.module, text.split("\n"), seen={str(Path(path))})
    try:
        doc.topology = loads(text, file=path, root=root)
    except TopoError as e:
        doc.diagnostics = list(e.diagnostics)
        return doc
    except RecursionError:
        doc.diagnostics = [Diagnostic(None, "error", "the file nests too deeply to read")]
        return doc
    doc.diagnostics = list(doc.topology.warnings)
    if doc.topology.num_nodes <= MAX_CHECKED_COMPONENTS and doc.topology.assertions:
        doc.diagnostics += _assertion_diagnostics(doc.topology)
    return doc


def _assertion_diagnostics(topology: Topology) -> list[Diagnostic]:
    """Failing, unproven and erroneous assertions, as ``topodsl check`` reports them."""
    from ..check import check

    try:
        report = check(topology, raise_errors=False)
    except TopoError as e:
        return list(e.diagnostics)
    out = list(report.errors)
    for r in report.results:
        if r.status == "pass":
            continue
        if r.status == "error":
            out += list(r.diagnostics) or [Diagnostic(r.span, "error", f"{r.name}: {r.message()}")]
            continue
        severity = "error" if r.status == "fail" else "warning"
        out.append(Diagnostic(r.span, severity, f"{r.status}: {r.name}: {r.message()}"))
    return out


def _index(doc: Document, module: ast.Module, lines: list[str], seen: set[str]) -> None:
    """Declarations of ``module`` (whose text is ``lines``) and, recursively, of the files it
    imports."""
    from ..parser import parse

    def walk(stmts, detail: str) -> None:
        for s in stmts:
            if isinstance(s, ast.Instance):
                doc.symbols.append(
                    Symbol(s.name, "component", s.name_span, f"{s.type_name} {s.name}", s)
                )
                walk(s.body, detail)
            elif isinstance(s, ast.Const):
                span = _name_span(s.span, s.name, lines)
                doc.symbols.append(Symbol(s.name, "const", span, "", s))

    for item in module.items:
        if isinstance(item, ast.LinkDecl):
            span = _name_span(item.span, item.name, lines)
            doc.symbols.append(Symbol(item.name, "link", span, "", item))
        elif isinstance(item, ast.Def):
            span = _name_span(item.span, item.name, lines)
            doc.symbols.append(Symbol(item.name, "def", span, item.kind, item))
            walk(item.body, item.name)
        elif isinstance(item, ast.Import):
            target = (Path(item.span.file).parent / item.path).resolve()
            if module.file == doc.path:
                doc.imports.append((item.span, str(target)))
            if str(target) in seen or not target.is_file():
                continue
            seen.add(str(target))
            try:
                source = target.read_text(encoding="utf-8")
                imported = parse(source, str(target))
            except (TopoError, OSError, UnicodeDecodeError, RecursionError):
                continue
            _index(doc, imported, source.split("\n"), seen)
        else:
            walk([item], "")


_DECL = re.compile(
    r"^\s*(?:(link)\s+([A-Za-z_]\w*)|(def)\s+[A-Za-z_]\w*\s+([A-Za-z_]\w*)|(const)\s+([A-Za-z_]\w*)"
    r'|(import)\s+"([^"\n]*)")'
)


def _scan(doc: Document, text: str, path: str) -> None:
    """Declarations found line by line in text that does not parse."""
    from ..parser import parse

    seen = {str(Path(path))}
    for n, line in enumerate(text.split("\n"), start=1):
        m = _DECL.match(line)
        if m is None:
            continue
        kind = m.group(1) or m.group(3) or m.group(5) or m.group(7)
        name = m.group(2) or m.group(4) or m.group(6) or m.group(8)
        col = line.index(name, m.start(0) + len(kind)) + 1
        span = Span(path, n, col, n, col + len(name))
        if kind != "import":
            doc.symbols.append(Symbol(name, kind, span))
            continue
        target = (Path(path).parent / name).resolve()
        doc.imports.append((Span(path, n, m.start(7) + 1, n, len(line) + 1), str(target)))
        try:
            source = target.read_text(encoding="utf-8")
            _index(doc, parse(source, str(target)), source.split("\n"), seen)
        except (TopoError, OSError, UnicodeDecodeError, RecursionError):
            continue


def _name_span(span: Span, name: str, lines: list[str]) -> Span:
    """The span of ``name`` in a declaration that starts at ``span`` (``link NAME``,
    ``def KIND NAME``, ``const NAME``): its first whole-word occurrence after the start."""
    line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
    m = re.compile(rf"\b{re.escape(name)}\b").search(line, span.col)
    col = m.start() + 1 if m else span.col
    return Span(span.file, span.line, col, span.line, col + len(name))


# -- queries -----------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z]+)?")


def word_at(doc: Document, line: int, char: int) -> tuple[str, int, int] | None:
    """The name (or unit, such as ``GB/s``) under position ``(line, char)`` and its columns."""
    lines = doc.lines()
    if not 0 <= line < len(lines):
        return None
    for m in _WORD.finditer(lines[line]):
        if m.start() <= char <= m.end():
            return m.group(0), m.start(), m.end()
    return None


def _symbols(doc: Document, name: str, kinds: tuple[str, ...]) -> list[Symbol]:
    return [s for s in doc.symbols if s.name == name and s.kind in kinds]


def definition(doc: Document, line: int, char: int) -> tuple[str, tuple, tuple] | None:
    """Where the name under the cursor is declared: ``(file, (line, col), (line, col))``.

    Definitions, link types and constants go to their declaration (in an imported file too);
    on an ``import`` line, to the imported file; a component name to its declaration.
    """
    for span, target in doc.imports:
        if span.line - 1 == line:
            return (target, (0, 0), (0, 0))
    found = word_at(doc, line, char)
    if found is None:
        return None
    word = found[0]
    before = doc.lines()[line][: found[1]]
    order = ("link", "def", "const", "component")
    if re.search(r"\bvia\s+$", before):
        order = ("link",)
    for kind in order:
        syms = _symbols(doc, word, (kind,))
        if syms:
            # Prefer one in this file, the first in source order.
            syms.sort(key=lambda s: (s.span.file != doc.path, s.span.line, s.span.col))
            s = syms[0].span
            return (s.file, (s.line - 1, s.col - 1), (s.end_line - 1, s.end_col - 1))
    return None


def hover(doc: Document, line: int, char: int) -> str | None:
    """Markdown for the name under the cursor: a link type's bandwidth and latency; a kind's
    role and attributes; a definition's kind; a component's kind, attributes in units and its
    link figures; a unit's value."""
    found = word_at(doc, line, char)
    if found is None:
        return None
    word, start, _ = found
    topo = doc.topology
    prev = doc.lines()[line][:start]
    if word in UNITS and re.search(r"[0-9.]\s*$", prev):
        scale, dim = UNITS[word]
        return f"**{word}** = {scale:g} in SI base units ({_dim_name(dim)})"
    links = _symbols(doc, word, ("link",))
    if links and (re.search(r"\bvia\s+$", prev) or re.search(r"\blink\s+$", prev)):
        return _link_hover(doc, links[0])
    kind = KIND_ALIASES.get(word, word)
    on_type = any(
        s.node.type_span.line == line + 1 and s.node.type_span.col - 1 == start
        for s in doc.symbols
        if s.kind == "component" and s.span.file == doc.path
    )
    if kind in ROLE_OF and (on_type or not _symbols(doc, word, ("component",))):
        attrs = ", ".join(ATTRIBUTES[kind])
        alias = f" (another name for {kind})" if kind != word else ""
        return f"**{word}**{alias}: a kind, role *{ROLE_OF[kind]}*\n\nattributes: {attrs}"
    defs = _symbols(doc, word, ("def",))
    if defs and not re.search(r"\.\s*$", prev):
        d = defs[0].node
        params = ", ".join(p.name for p in d.params)
        text = f"**def {d.kind} {d.name}**" + (f"({params})" if params else "")
        if topo is not None:
            rows = _rows_of_template(topo, word)
            if len(rows):
                text += f"\n\n{len(rows):,} built in this file\n\n" + _component_text(topo, rows)
        return text
    if links:
        return _link_hover(doc, links[0])
    consts = _symbols(doc, word, ("const",))
    if consts and topo is None:
        return f"**const {word}**"
    if topo is not None:
        rows = _component_rows(doc, line, start, word)
        if len(rows):
            return _component_text(topo, rows)
    if consts:
        return f"**const {word}**"
    return None


def _dim_name(dim) -> str:
    from ..units import FLOPS, POWER, SIZE, TIME

    names = {BANDWIDTH: "B/s", SIZE: "bytes", TIME: "seconds", FLOPS: "FLOP/s", POWER: "watts"}
    return names.get(dim, str(dim))


def _link_hover(doc: Document, sym: Symbol) -> str:
    topo = doc.topology
    name = sym.name
    lt = topo.link_types.get(name) if topo is not None else None
    if lt is not None:
        text = f"**link {name}**: {format_quantity(lt.bandwidth, BANDWIDTH)} per lane per direction"
        if lt.latency:
            from ..units import TIME

            text += f", latency {format_quantity(lt.latency, TIME)}"
        if lt.half_duplex:
            text += ", half duplex (both directions share it)"
        if lt.model:
            text += f"\n\n{lt.model}"
        t = topo.link_type_names.index(name) if name in topo.link_type_names else -1
        rows = np.flatnonzero(topo.links.type == t) if t >= 0 else np.zeros(0, dtype=np.int64)
        if len(rows):
            total = float(topo.links.bandwidth[rows].sum())
            plural = "link" if len(rows) == 1 else "links"
            text += (
                f"\n\n{len(rows):,} {plural} of this type in the file: "
                f"{format_quantity(total, BANDWIDTH)} per direction in all"
            )
        return text
    decl = sym.node
    attrs = ", ".join(f"{a.name} = {_expr_text(doc, a)}" for a in decl.attrs)
    return f"**link {name}** {{ {attrs} }}"


def _expr_text(doc: Document, attr) -> str:
    span = getattr(attr.value, "span", None)
    if span is None or span.file != doc.path:
        return "…"
    line = doc.lines()[span.line - 1]
    return line[span.col - 1 : span.end_col - 1] if span.end_line == span.line else "…"


def _rows_of_template(topo: Topology, name: str) -> np.ndarray:
    codes = [i for i, t in enumerate(topo.templates) if t == name]
    if not codes:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.isin(topo.nodes.template, codes))


def _component_rows(doc: Document, line: int, start: int, word: str) -> np.ndarray:
    """Components declared by the instance under the cursor (or named ``word`` elsewhere)."""
    topo = doc.topology
    assert topo is not None
    span_rows = [
        i
        for i, s in enumerate(topo.spans)
        if s.file == doc.path and s.line == line + 1 and s.col - 1 <= start
    ]
    rows = np.zeros(0, dtype=np.int64)
    if span_rows:
        rows = np.flatnonzero(np.isin(topo.nodes.origin, span_rows))
        ids = topo.nodes.ids
        names = np.array([_base(ids[r]) == word for r in rows.tolist()], dtype=bool)
        rows = rows[names] if names.any() else np.zeros(0, dtype=np.int64)
    if len(rows) == 0:
        ids = topo.nodes.ids
        rows = np.array(
            [r for r in range(topo.num_nodes) if _base(ids[r]) == word][:100_000], dtype=np.int64
        )
    return rows


def _base(node_id: str) -> str:
    return node_id.rpartition(".")[2].rstrip("0123456789")


def _component_text(topo: Topology, rows: np.ndarray) -> str:
    """A component's kind and attributes in units, and its links by type and far end."""
    from ..render.html import component_info

    ids = sorted((topo.nodes.ids[r] for r in rows[:1000]), key=natural_key)
    first = int(rows[np.argmin([natural_key(topo.nodes.ids[r]) for r in rows[:1000]])])
    head = f"**{ids[0]}**" + (f" and {len(rows) - 1:,} more alike" if len(rows) > 1 else "")
    info = component_info(topo, first).split("\n")
    text = head + "\n\n" + "\n\n".join(info)
    L = topo.links
    mine = np.flatnonzero((L.src == first) | (L.dst == first))
    if len(mine):
        groups: dict[tuple, list[int]] = {}
        for e in mine.tolist():
            other = int(L.dst[e] if L.src[e] == first else L.src[e])
            key = (topo.link_type_of(e) or "untyped", _base(topo.nodes.ids[other]))
            groups.setdefault(key, []).append(e)
        lines = []
        for (t, other), es in sorted(groups.items(), key=lambda kv: natural_key(kv[0][1])):
            lanes = float(L.lanes[es].sum())
            bw = float(L.bandwidth[es].sum())
            lanes_text = f" ×{lanes:g}" if lanes != 1 else ""
            n = f"{len(es)} links" if len(es) > 1 else "1 link"
            lines.append(
                f"- {t}{lanes_text} to {other}: {format_quantity(bw, BANDWIDTH)} per direction"
                f" ({n})"
            )
        text += "\n\nlinks:\n" + "\n".join(lines)
    return text


# -- completion --------------------------------------------------------------------------------


def completions(doc: Document, line: int, char: int) -> list[tuple[str, str, str]]:
    """Candidates at the cursor, each ``(label, kind, detail)`` with ``kind`` one of
    ``keyword``, ``kind``, ``attribute``, ``unit``, ``link``, ``def``, ``const``, ``component``.

    After ``via`` only link types are offered, after a number only units; elsewhere kinds,
    definitions, keywords, attributes (of the enclosing component's kind where it is known)
    and names.
    """
    lines = doc.lines()
    prefix = lines[line][:char] if 0 <= line < len(lines) else ""
    partial = re.search(r"[A-Za-z_][A-Za-z0-9_/]*$", prefix)
    word = partial.group(0) if partial else ""
    before = prefix[: len(prefix) - len(word)]
    out: list[tuple[str, str, str]] = []
    if re.search(r"\bvia\s+$", before):
        out = [(s.name, "link", "link type") for s in _unique(doc, "link")]
    elif re.search(r"[0-9.]\s*$", before):
        out = [(u, "unit", _dim_name(UNITS[u][1])) for u in sorted(UNITS)]
    else:
        out += [(k, "kind", f"role {ROLE_OF[k]}") for k in KINDS]
        out += [(a, "kind", f"another name for {k}") for a, k in KIND_ALIASES.items()]
        out += [(s.name, "def", f"def {s.detail}") for s in _unique(doc, "def")]
        out += [(k, "keyword", "keyword") for k in KEYWORDS]
        attrs: dict[str, str] = {}
        enclosing = _enclosing_kind(doc, line, char)
        specs = ATTRIBUTES.get(enclosing, {}) if enclosing else {}
        if enclosing == "link":
            specs = LINK_ATTRIBUTES
        if not specs:
            specs = {name: spec for kind in KINDS for name, spec in ATTRIBUTES[kind].items()}
        for name, spec in specs.items():
            attrs.setdefault(name, spec.help)
        out += [(a, "attribute", h) for a, h in attrs.items()]
        out += [(s.name, "link", "link type") for s in _unique(doc, "link")]
        out += [(s.name, "const", "constant") for s in _unique(doc, "const")]
        out += [(s.name, "component", s.detail) for s in _unique(doc, "component")]
    if word:
        out = [c for c in out if c[0].startswith(word)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for c in out:
        if (c[0], c[1]) not in seen:
            seen.add((c[0], c[1]))
            unique.append(c)
    return unique


def _unique(doc: Document, kind: str) -> list[Symbol]:
    seen: dict[str, Symbol] = {}
    for s in doc.symbols:
        if s.kind == kind:
            seen.setdefault(s.name, s)
    return sorted(seen.values(), key=lambda s: natural_key(s.name))


def _enclosing_kind(doc: Document, line: int, char: int) -> str | None:
    """The kind of the innermost block open at the cursor (by braces), or ``link``."""
    depth = 0
    lines = doc.lines()[: line + 1]
    lines[-1] = lines[-1][:char]
    for text in reversed(lines):
        text = re.sub(r"(#|//).*$", "", text)
        for ch in reversed(text):
            if ch == "}":
                depth += 1
            elif ch == "{":
                if depth == 0:
                    m = re.match(r"\s*(?:def\s+)?([A-Za-z_]\w*)", text)
                    if m is None:
                        return None
                    head = m.group(1)
                    if head == "link":
                        return "link"
                    kind = KIND_ALIASES.get(head, head)
                    if kind in ROLE_OF:
                        return kind
                    defs = _symbols(doc, head, ("def",))
                    return defs[0].detail if defs else None
                depth -= 1
    return None
