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
import os
import re
from functools import cache
from importlib import resources
from pathlib import Path as FsPath

import lark
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast
from .errors import Diagnostic, Span, TopoSyntaxError, source_line
from .units import UNIT_PATTERN

__all__ = ["parse", "grammar_text", "parser"]

KEYWORDS = (
    "import", "link", "def", "const", "connect", "via", "fabric", "for", "in", "assert", "meta",
    "workload", "job",
)  # fmt: skip


def grammar_text() -> str:
    """The grammar source, from the installed package or, in a checkout, ``grammar/``."""
    try:
        packaged = resources.files("topodsl") / "grammar" / "topodsl.lark"
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover
        pass
    here = FsPath(__file__).resolve().parent.parent / "grammar" / "topodsl.lark"
    return here.read_text(encoding="utf-8")


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

    Building the tables takes 0.3-0.5 s, a large part of a short command's run, so they are
    cached in the user's own cache directory (``$XDG_CACHE_HOME/topodsl`` or
    ``~/.cache/topodsl``, created private), keyed by a hash of the grammar text and the lark
    version; never in a shared temporary directory, since lark's cache is a pickle. Without a
    writable cache directory, or with ``TOPODSL_NO_CACHE`` set, the tables are built each time.
    """
    unit = UNIT_PATTERN.replace("/", "\\/")
    text = grammar_text() + f"\nUNIT.2: /{unit}/\n"
    path = _cache_file(text)
    if path is not None:
        try:
            return Lark(text, cache=path, **_OPTIONS)
        except Exception:  # noqa: BLE001 - a stale or unreadable cache: build afresh below
            with contextlib.suppress(OSError):
                os.remove(path)
    return Lark(text, **_OPTIONS)


def _cache_file(grammar: str) -> str | None:
    if os.environ.get("TOPODSL_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "topodsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.stat(folder)
        # Only a folder of our own that no one else can write into.
        if (hasattr(os, "getuid") and st.st_uid != os.getuid()) or st.st_mode & 0o022:
            return None
    except OSError:
        return None
    key = hashlib.sha256((lark.__version__ + repr(sorted(_OPTIONS.items())) + grammar).encode())
    return os.path.join(folder, f"parser-{key.hexdigest()[:20]}.lark-cache")


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
        return ast.Number(float(text), None, "." not in text, self._tspan(tok))

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
        name, left, op, right = items
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
        )

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
        return ast.Number(
            float(text) if not integral else int(text),
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
        return e.match_examples(parser().parse, _EXAMPLES, use_accepts=True)
    except Exception:  # noqa: BLE001 - classification is best effort, the error stands anyway
        return None


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
    try:
        tree = parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text, file) from None
    return _ToAst(file, text).transform(tree)
