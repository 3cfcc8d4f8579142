"""A Pygments lexer for ``.topo`` files, registered as ``topodsl``.

The package declares it as an entry point (``pygments.lexers``: ``topodsl``), so once topodsl
is installed ``pygmentize -l topodsl FILE.topo`` highlights a file, Pygments picks it for
``*.topo`` names, and Markdown tools that use Pygments (mkdocs, Sphinx) highlight fenced
```` ```topo ```` blocks. Keywords, kinds, units, link-type lanes (``x18``), numbers, strings,
comments and operators get their own token types. Kinds and units come from
:mod:`topodsl.kinds` and :mod:`topodsl.units`, so the highlighting never drifts from the language.

Needs Pygments (``pip install 'topodsl[docs]'``).

Examples
--------
>>> from pygments.token import Keyword, Name, Number
>>> tokens = [(t, v) for t, v in TopodslLexer().get_tokens("gpu g[8] { bandwidth = 3.35 TB/s }")
...           if v.strip()]
>>> tokens[:2]
[(Token.Keyword.Type, 'gpu'), (Token.Name, 'g')]
>>> (Number.Float, '3.35') in tokens, (Keyword.Constant, 'TB/s') in tokens
(True, True)
"""

from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

from .kinds import KIND_ALIASES, KINDS
from .units import UNITS

__all__ = ["TopodslLexer", "KEYWORDS", "ANALYSES", "PATTERNS"]

#: The language's keywords (docs/language.md, "Lexical rules").
KEYWORDS = (
    "import", "link", "def", "const", "connect", "via", "fabric", "for", "in", "assert", "meta",
    "workload", "job",
)  # fmt: skip
#: The analyses an assertion may call.
ANALYSES = (
    "count",
    "capacity",
    "ports_used",
    "ports_free",
    "oversubscription",
    "flow",
    "bisection",
    "reach",
    "checkpoint",
    "drain",
    "ingest",
    "spill",
    "collective",
    "placement",
    "checkpoint_cycle",
    "ingest_need",
    "inference_fit",
    "power",
    "cost",
    "within",
)
#: Connection patterns, fabric generators and arithmetic functions.
PATTERNS = (
    "ring",
    "line",
    "mesh",
    "torus",
    "hypercube",
    "full_mesh",
    "fat_tree",
    "leaf_spine",
    "clos3",
    "dragonfly",
    "min",
    "max",
    "floor",
    "ceil",
    "round",
    "abs",
    "log2",
    "sqrt",
)

_UNIT = "|".join(re.escape(u) for u in sorted(UNITS, key=lambda u: (-len(u), u)))
_NUMBER = r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"


class TopodslLexer(RegexLexer):
    """Lexer for topodsl ``.topo`` topology files."""

    name = "topodsl"
    aliases = ["topodsl", "topo"]
    filenames = ["*.topo"]
    mimetypes = ["text/x-topodsl"]
    url = "https://pypi.org/project/topodsl/"

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"(#|//).*?$", Comment.Single),
            (r'"[^"\n]*"', String.Double),
            # A number and the unit right after it (with or without a space).
            (
                rf"({_NUMBER})(\s*)({_UNIT})(?![A-Za-z0-9_/])",
                bygroups(Number.Float, Whitespace, Keyword.Constant),
            ),
            (rf"{_NUMBER}", Number.Float),
            # Lane counts after a link type: x18, x2.5, x(EXPR).
            (r"x[0-9]+(?:\.[0-9]+)?(?![A-Za-z_0-9])", Number.Integer),
            (r"x(?=\()", Number.Integer),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (r"self\b", Name.Builtin.Pseudo),
            (r"(kind|role)(:)", bygroups(Name.Builtin, Punctuation)),
            (words(ANALYSES + PATTERNS, suffix=r"(?=\s*\()"), Name.Function),
            (words(KINDS + tuple(KIND_ALIASES), suffix=r"\b"), Keyword.Type),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r"--|->|\.\.|<=|>=|==|!=|\*\*|[-+*/%<>=&]", Operator),
            (r"[{}()\[\],;:.]", Punctuation),
            (r".", Text),
        ],
    }
