"""Text to AST: the lark grammar in ``grammar/topodsl.lark`` and one Transformer.

The parser is LALR(1), built once; syntax errors become :class:`~topodsl.errors.TopoSyntaxError`
with a caret under the offending token and, where a known mistake matches, a hint.

>>> m = parse('link nvlink4 { bandwidth = 25 GB/s }', "x.topo")
>>> m.items[0].attrs[0].value.unit
'GB/s'
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import math
import os
import re
import stat
import tempfile
from functools import cache, lru_cache
from pathlib import Path as FsPath
from typing import Any

import lark
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast
from .errors import Diagnostic, Span, TopoSyntaxError, source_line
from .limits import MAX_DEPTH
from .units import UNIT_PATTERN

__all__ = ["parse", "grammar_text", "parser"]

_MAX_LITERAL_DIGITS = 400

KEYWORDS = (
    "import", "link", "def", "const", "connect", "via", "fabric", "for", "in", "assert", "meta",
    "workload", "job",
)  # fmt: skip


def grammar_text() -> str:
    """The grammar source, from the installed package or, in a checkout, ``grammar/``."""
    # Files on disk are read as files: importlib.resources (and the zipfile module it loads)
    # cost 7-10 ms of every start, so it is left for a package inside a zip archive.
    package = FsPath(__file__).resolve().parent
    for folder in (package / "grammar", package.parent / "grammar"):  # installed, a checkout
        if (folder / "topodsl.lark").is_file():
            return (folder / "topodsl.lark").read_text(encoding="utf-8")
    from importlib import resources  # pragma: no cover - a zipped package

    return (resources.files("topodsl") / "grammar" / "topodsl.lark").read_text(encoding="utf-8")


_OPTIONS = dict(
    parser="lalr",
    lexer="contextual",
    propagate_positions=True,
    strict=True,
    maybe_placeholders=True,
)


@cache
def parser() -> Lark:
    """The LALR parser, built once per process.

    Building the tables takes about 0.3 s of CPU, most of a short command's start-up, so they
    are cached in the user's own cache directory (``$XDG_CACHE_HOME/topodsl`` or
    ``~/.cache/topodsl``, created private), keyed by a hash of the grammar text, the options
    and the lark version. The cache is JSON, never a pickle: a file someone else wrote can at
    worst fail to load, never run code (see docs/security.md). Loading it takes about 0.03 s.
    ``TOPODSL_NO_CACHE`` set, or no private cache directory, builds the tables each time.
    """
    text = _grammar_with_units()
    key = hashlib.sha256(
        (lark.__version__ + repr(sorted(_OPTIONS.items())) + text).encode()
    ).hexdigest()
    path = _cache_file(key)
    if path is not None:
        loaded = _load_tables(path, key)
        if loaded is not None:
            return loaded
    built = Lark(text, **_OPTIONS)
    if path is not None:
        _store_tables(built, path, key)
    return built


def _grammar_with_units() -> str:
    """The grammar with its UNIT terminal, generated from :data:`topodsl.units.UNITS`."""
    unit = UNIT_PATTERN.replace("/", "\\/")
    return grammar_text() + f"\nUNIT.2: /{unit}/\n"


#: The options a loaded parser must have; lark lets ``_load`` override only these, so a
#: cache file cannot switch on a regex module, a callback or another tree class.
_LOAD_OVERRIDES = dict(
    propagate_positions=True,
    regex=False,
    use_bytes=False,
    debug=False,
    g_regex_flags=0,
    postlex=None,
    transformer=None,
    lexer_callbacks={},
    tree_class=lark.Tree,
    _plugins={},
)
_MAX_CACHE_BYTES = 8 * 2**20


def _cache_file(key: str) -> str | None:
    if os.environ.get("TOPODSL_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "topodsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.lstat(folder)
        # Only a real folder of our own that no one else can write into.
        if not stat.S_ISDIR(st.st_mode) or not _private(st):
            return None
    except OSError:
        return None
    return os.path.join(folder, f"parser-{key[:20]}.json")


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by no one else."""
    mine = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return mine and not st.st_mode & 0o022


def _load_tables(path: str, key: str) -> Lark | None:
    """The parser saved at ``path``, or ``None`` when the file is missing, not a regular file
    of ours, too large, or not what :func:`_store_tables` writes for ``key``."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or not _private(st):
                return None
            if st.st_size > _MAX_CACHE_BYTES:
                return None
            raw = fh.read(_MAX_CACHE_BYTES + 1)
        doc = json.loads(raw, object_hook=_untag_object)
        if not isinstance(doc, dict) or doc.get("key") != key:
            return None
        tables = doc["tables"]
        loaded = Lark._load_from_dict(tables["data"], tables["memo"], **_LOAD_OVERRIDES)
        options = loaded.options
        if options.parser != "lalr" or any(
            getattr(options, k) != v for k, v in _OPTIONS.items() if k != "strict"
        ):
            return None
        return loaded
    except Exception:  # noqa: BLE001 - a damaged or foreign cache file: build afresh
        return None


def _store_tables(built: Lark, path: str, key: str) -> None:
    """Write ``built``'s tables as JSON next to ``path`` and move them into place."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    try:
        data, memo = built.memo_serialize([TerminalDef, Rule])
        text = json.dumps({"key": key, "tables": _tag({"data": data, "memo": memo})})
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".parser-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.remove(tmp)
    except (OSError, TypeError, ValueError):
        pass  # a read-only cache directory: build the tables next time too


def _tag(o: Any) -> Any:
    """lark's serialised tables as JSON: dicts with non-text keys and tuples are tagged so
    that :func:`_untag_object` gives back exactly the same structure."""
    if isinstance(o, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in o):
            return {k: _tag(v) for k, v in o.items()}
        return {"$map": [[_tag(k), _tag(v)] for k, v in o.items()]}
    if isinstance(o, tuple):
        return {"$tuple": [_tag(x) for x in o]}
    if isinstance(o, list):
        return [_tag(x) for x in o]
    if o is None or isinstance(o, str | int | float | bool):
        return o
    raise TypeError(f"cannot store {type(o).__name__} in the parser cache")


def _untag_object(o: dict) -> Any:
    """The inverse of :func:`_tag`, one JSON object at a time (``json.loads``'s
    ``object_hook``, called innermost first, so the keys and values are untagged already):
    a walk in Python over the 18,000 objects of the tables cost 0.035 s of every start."""
    if "$map" in o:
        return {k: v for k, v in o["$map"]}
    if "$tuple" in o:
        return tuple(o["$tuple"])
    return o


# -- lark tree -> AST ----------------------------------------------------------------------------


class _ToAst(Transformer):
    """One transformer from lark's tree to :mod:`topodsl.ast`; no meaning is checked here."""

    def __init__(self, file: str, text: str):
        super().__init__()
        self.file = file
        self.text = text

    # spans
    def _span(self, meta) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, tok: Token) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    def _stmts(self, items) -> tuple:
        return tuple(i for i in items if i is not None and not isinstance(i, Token))

    @v_args(meta=True)
    def start(self, meta, items):
        return ast.Module(self.file, self._stmts(items))

    @v_args(meta=True)
    def import_stmt(self, meta, items):
        return ast.Import(items[0][1:-1], self._span(meta))

    @v_args(meta=True)
    def link_decl(self, meta, items):
        return ast.LinkDecl(str(items[0]), self._stmts(items[1:]), self._span(meta))

    @v_args(meta=True)
    def def_decl(self, meta, items):
        kind, name, params, body = items
        return ast.Def(
            str(kind), self._tspan(kind), str(name), params or (), body, self._span(meta)
        )

    def params(self, items):
        return tuple(p for p in items if p is not None)

    @v_args(meta=True)
    def param(self, meta, items):
        return ast.Param(str(items[0]), items[1], self._span(meta))

    @v_args(meta=True)
    def const_stmt(self, meta, items):
        return ast.Const(str(items[0]), items[1], self._span(meta))

    def block(self, items):
        return self._stmts(items)

    @v_args(meta=True)
    def instance(self, meta, items):
        type_tok, args, name_tok, array, body = items
        return ast.Instance(
            str(type_tok),
            self._tspan(type_tok),
            args or (),
            str(name_tok),
            self._tspan(name_tok),
            array,
            body or (),
            self._span(meta),
        )

    def args(self, items):
        return tuple(a for a in items if a is not None)

    @v_args(meta=True)
    def arg(self, meta, items):
        return ast.Arg(str(items[0]), items[1], self._span(meta))

    @v_args(meta=True)
    def array_count(self, meta, items):
        return ast.ArraySpec(None, items[0], self._span(meta))

    @v_args(meta=True)
    def array_range(self, meta, items):
        return ast.ArraySpec(items[0], items[1], self._span(meta))

    def attr_name(self, items):
        return items[0]

    @v_args(meta=True)
    def attr(self, meta, items):
        return ast.Attr(str(items[0]), items[1], self._span(meta), self._tspan(items[0]))

    @v_args(meta=True)
    def connect(self, meta, items):
        left, op, right, via, body = items
        return ast.Connect(left, str(op), right, via, body or (), self._span(meta))

    @v_args(meta=True)
    def via(self, meta, items):
        return ast.Via(str(items[0]), self._tspan(items[0]), items[1])

    @v_args(meta=True)
    def lanes_int(self, meta, items):
        tok = items[0]
        text = str(tok)[1:]
        whole = "." not in text
        value = float(text) if not whole else _whole(text)
        return ast.Number(value, None, whole, self._tspan(tok))

    def lanes_expr(self, items):
        return items[1]

    @v_args(meta=True)
    def pattern(self, meta, items):
        name = items[0]
        *args, via, body = items[1:]
        return ast.Pattern(
            str(name), self._tspan(name), tuple(args), via, body or (), self._span(meta)
        )

    @v_args(meta=True)
    def fabric(self, meta, items):
        gen, name, body = items
        return ast.Fabric(
            str(gen), self._tspan(gen), str(name), self._tspan(name), body, self._span(meta)
        )

    @v_args(meta=True)
    def for_stmt(self, meta, items):
        var, lo, hi, body = items
        return ast.For(str(var), lo, hi, body, self._span(meta))

    @v_args(meta=True)
    def assert_stmt(self, meta, items):
        name, left, op, right, under = items
        span = self._span(meta)
        text = _slice(self.text, meta)
        if text.startswith("assert"):
            text = text[len("assert") :].strip()
            if name is not None:
                text = text.split(":", 1)[1].strip()
        return ast.Assert(
            str(name) if name is not None else None,
            left,
            str(op),
            right,
            " ".join(text.split()),
            span,
            under,
        )

    @v_args(meta=True)
    def risk_stmt(self, meta, items):
        name = items[0]
        attrs = tuple(i for i in items[1:] if isinstance(i, ast.RiskAttr))
        return ast.Risk(str(name), attrs, self._span(meta), self._tspan(name))

    @v_args(meta=True)
    def risk_attr(self, meta, items):
        return ast.RiskAttr(str(items[0]), tuple(items[1:]), self._span(meta))

    @v_args(meta=True)
    def risk_links(self, meta, items):
        a, op, b = items
        return ast.Direction(a, str(op), b, self._span(meta))

    @v_args(meta=True)
    def meta_stmt(self, meta, items):
        return ast.Meta(items[0], self._stmts(items[1:]), self._span(meta))

    @v_args(meta=True)
    def workload_stmt(self, meta, items):
        keyword, name, *body = items
        entries = tuple(i for i in body if isinstance(i, ast.Attr))
        sections = tuple(i for i in body if isinstance(i, ast.WorkloadSection))
        return ast.Workload(
            str(keyword), str(name), self._tspan(name), entries, sections, self._span(meta)
        )

    def workload_keyword(self, items):
        return items[0]

    @v_args(meta=True)
    def workload_section(self, meta, items):
        name, *entries = items
        return ast.WorkloadSection(
            str(name), self._tspan(name), self._stmts(entries), self._span(meta)
        )

    # paths
    @v_args(meta=True)
    def path(self, meta, items):
        return ast.Path(tuple(items), self._span(meta))

    @v_args(meta=True)
    def segment(self, meta, items):
        return ast.Segment(str(items[0]), items[1], self._span(meta))

    @v_args(meta=True)
    def star(self, meta, items):
        return ast.Star(self._span(meta))

    @v_args(meta=True)
    def index_range(self, meta, items):
        return ast.IndexRange(items[0], items[1], self._span(meta))

    # expressions
    @v_args(meta=True)
    def quantity(self, meta, items):
        num, unit = items
        text = str(num)
        integral = "." not in text and "e" not in text.lower()
        # Python refuses int() of more than 4300 digits; such a number is far past every
        # limit anyway, so it is kept as inf and refused in elaboration, at its place.
        value = float(text) if not integral else _whole(text)
        return ast.Number(
            value,
            str(unit) if unit else None,
            integral,
            self._span(meta),
            self._tspan(unit) if unit else None,
        )

    @v_args(meta=True)
    def string(self, meta, items):
        return ast.String(str(items[0])[1:-1], self._span(meta))

    @v_args(meta=True)
    def ref(self, meta, items):
        return ast.Ref(items[0], self._span(meta))

    @v_args(meta=True)
    def selector(self, meta, items):
        return ast.SelectorLit(str(items[0]), self._span(meta))

    @v_args(meta=True)
    def call(self, meta, items):
        return ast.Call(
            str(items[0]), tuple(a for a in items[1:] if a is not None), self._span(meta)
        )

    @v_args(meta=True)
    def member(self, meta, items):
        call, name = items
        return ast.Member(call, str(name), self._span(meta), self._tspan(name))

    @v_args(meta=True)
    def direction(self, meta, items):
        source, op, target = items
        return ast.Direction(source, str(op), target, self._span(meta))

    def call_keyword(self, items):
        return items[0]

    @v_args(meta=True)
    def keyword_arg(self, meta, items):
        return ast.KeywordArg(str(items[0]), items[1], self._span(meta))

    @v_args(meta=True)
    def named_arg(self, meta, items):
        return ast.KeywordArg(str(items[0]), items[1], self._span(meta))

    @v_args(meta=True)
    def tuple(self, meta, items):
        return ast.Tuple(tuple(a for a in items if a is not None), self._span(meta))

    def _bin(op):  # noqa: N805 - a small factory used in the class body
        @v_args(meta=True)
        def method(self, meta, items):
            return ast.BinOp(op, items[0], items[1], self._span(meta))

        return method

    add = _bin("+")
    sub = _bin("-")
    mul = _bin("*")
    div = _bin("/")
    mod = _bin("%")
    pow = _bin("**")

    @v_args(meta=True)
    def neg(self, meta, items):
        return ast.Unary("-", items[0], self._span(meta))


def _whole(digits: str) -> int | float:
    """A whole-number literal; past :data:`_MAX_LITERAL_DIGITS` digits (beyond every limit,
    and Python refuses ``int()`` of more than 4300) it is kept as ``inf``, which elaboration
    refuses at its place: the transformer itself never raises."""
    return int(digits) if len(digits) <= _MAX_LITERAL_DIGITS else math.inf


def _slice(text: str, meta) -> str:
    start = getattr(meta, "start_pos", None)
    end = getattr(meta, "end_pos", None)
    if start is None or end is None:
        return ""
    return text[start:end]


# -- syntax errors -------------------------------------------------------------------------------

# Known mistakes, each with example snippets that produce it (lark's match_examples).
_EXAMPLES: dict[str, list[str]] = {
    "a '}' is missing: a block opened with '{' is not closed": [
        "link a { bandwidth = 1 GB/s",
        "def gpu G { hbm h[2]",
        "cluster c { gpu g",
    ],
    "attributes are written 'name = value', with '='": [
        "link a { bandwidth: 1 GB/s }",
        "gpu g { bandwidth: 1 GB/s }",
    ],
    "a connection needs '--' (or '->' for one-way) between its two ends": [
        "connect a b via x",
        "connect a = b",
        "connect a to b",
    ],
}


def _classify(e: UnexpectedInput, text: str) -> str | None:
    try:
        return e.match_examples(_parse_example, _EXAMPLES, use_accepts=True)
    except Exception:  # noqa: BLE001 - classification is best effort, the error stands anyway
        return None


_EXAMPLE_ERRORS: dict[str, UnexpectedInput] = {}


def _parse_example(snippet: str) -> None:
    """Parse one of :data:`_EXAMPLES` for ``match_examples``; each snippet's error is kept,
    so a syntax error costs one parse, not one per example."""
    if snippet not in _EXAMPLE_ERRORS:
        try:
            parser().parse(snippet)
            return
        except UnexpectedInput as err:
            _EXAMPLE_ERRORS[snippet] = err
    raise _EXAMPLE_ERRORS[snippet].with_traceback(None)


def _describe_expected(expected: set[str]) -> str:
    names = {
        "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "LBRACE": "'{'",
        "RBRACE": "'}'", "EQUAL": "'='", "LINK_OP": "'--' or '->'", "UNIT": "a unit",
        "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "RPAR": "')'", "COMMA": "','",
        "DOT": "'.'", "VIA": "'via'", "$END": "the end of the file",
    }  # fmt: skip
    shown = sorted({names.get(t, t.lower().strip("_")) for t in expected if not t.startswith("__")})
    if len(shown) > 6:
        shown = shown[:6] + ["..."]
    return ", ".join(shown)


# `16 GQ` or `16 GQ <next statement's first word>` before the token the parser stopped at.
_NUMBER_THEN_WORD = re.compile(
    r"[0-9](?:[0-9.eE+-])*[ \t]*([A-Za-z_µ][A-Za-z_0-9/µ]*)\s*(?:[A-Za-z_][A-Za-z_0-9]*\s*)?$"
)


def _unit_hint(text: str, tok: Token) -> tuple[str, int, int] | None:
    """When the error follows ``<number> <word>`` and the word is no unit: the hint and the
    word's (offset, length) in ``text``."""
    start = getattr(tok, "start_pos", None)
    if start is None:
        return None
    lo = max(0, start - 60)
    before = text[lo:start]
    if tok.type == "NAME":
        before += str(tok)
    m = _NUMBER_THEN_WORD.search(before)
    if m is None:
        return None
    hint = (
        f"{m.group(1)!r} is not a unit; units include B, GB, GiB, TB, GB/s, Gb/s, TB/s, ns, us, ms"
    )
    return hint, lo + m.start(1), len(m.group(1))


def _keyword_hint(text: str, line: int) -> str | None:
    """'did you mean connect?' when the statement's first word is a misspelt keyword."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    words = re.findall(r"[A-Za-z_]+", lines[line - 1])
    if not words or words[0] in KEYWORDS:
        return None
    close = difflib.get_close_matches(words[0], KEYWORDS, n=1, cutoff=0.75)
    return f"did you mean the keyword {close[0]!r}?" if close else None


def _syntax_error(e: UnexpectedInput, text: str, file: str) -> TopoSyntaxError:
    line = getattr(e, "line", 1) or 1
    col = getattr(e, "column", 1) or 1
    width = 1
    hint = None
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        message = "the file ends in the middle of a statement"
        hint = _classify(e, text) or "is a '}' or a value missing at the end?"
    elif isinstance(e, UnexpectedToken):
        tok = e.token
        width = max(1, len(str(tok)))
        message = f"unexpected {str(tok)!r}"
        if e.expected:
            message += f"; expected {_describe_expected(set(e.expected))}"
        hint = _classify(e, text) or _keyword_hint(text, line)
        unit = _unit_hint(text, tok) if hint is None else None
        if unit is not None:
            hint, offset, width = unit
            line = text.count("\n", 0, offset) + 1
            col = offset - (text.rfind("\n", 0, offset) + 1) + 1
            message = f"unknown unit {text[offset : offset + width]!r}"
    elif isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        message = f"unexpected character {ch!r}"
        if ch == "'":
            hint = 'strings use double quotes: "..."'
    elif isinstance(e, UnexpectedEOF):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        message = "the file ends in the middle of a statement"
    else:  # pragma: no cover
        message = str(e)
    span = Span(file, line, col, line, col + width)
    diag = Diagnostic(span, "error", message, hint, source_line(file, line, text))
    return TopoSyntaxError([diag])


def parse(text: str, file: str = "<string>") -> ast.Module:
    """Parse topology source ``text`` into an :class:`~topodsl.ast.Module`.

    Raises
    ------
    TopoSyntaxError
        With a ``file:line:col`` diagnostic, the source line and a caret.

    Examples
    --------
    >>> parse("cluster c { gpu g[8] }").items[0].body[0].array.hi.value
    8
    >>> parse("gpu g { bandwidth: 1 GB/s }", "bad.topo")
    Traceback (most recent call last):
    ...
    topodsl.errors.TopoSyntaxError: bad.topo:1:18: error: unexpected ':'; ...
    """
    if len(text) <= _MEMO_CHARS:
        return _parse_memo(text, file)
    return _parse(text, file)


#: Small files (an imported parts library, above all) are parsed once per process: the AST is
#: immutable, so every importer can share it.
_MEMO_CHARS = 64 * 1024


@lru_cache(maxsize=32)
def _parse_memo(text: str, file: str) -> ast.Module:
    return _parse(text, file)


def _parse(text: str, file: str) -> ast.Module:
    try:
        tree = parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text, file) from None
    deep = _too_deep(tree)
    if deep is not None:
        span = Span(file, deep.line, deep.column, deep.line, deep.column + 1)
        raise TopoSyntaxError(
            [
                Diagnostic(
                    span,
                    "error",
                    f"this nests too deeply (more than {MAX_DEPTH} levels of blocks, "
                    "parentheses or operators)",
                    "split the expression with constants, or the body with definitions",
                    source_line(file, deep.line, text),
                )
            ]
        )
    return _ToAst(file, text).transform(tree)


def _too_deep(tree: lark.Tree) -> Any:
    """The first subtree deeper than :data:`~topodsl.limits.MAX_DEPTH` (its ``meta`` has the
    position), or ``None``. Walked with a stack: the point is to stay clear of recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return node.meta
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, lark.Tree))
    return None
