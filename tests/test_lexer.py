"""The Pygments lexer: registered as ``topodsl``, and every shipped file lexes without an error
token, with kinds, units, lanes and keywords told apart."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments")
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Comment, Error, Keyword, Name, Number, String  # noqa: E402

from topodsl.lexer import TopodslLexer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FILES = sorted((REPO / "topologies").rglob("*.topo"))
FENCE = re.compile(r"^```topo[^\n]*\n(.*?)^```", re.S | re.M)


def doc_examples() -> list[str]:
    out = []
    for md in sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]:
        out += FENCE.findall(md.read_text(encoding="utf-8"))
    return out


def tokens(text: str) -> list[tuple]:
    return [(t, v) for t, v in TopodslLexer().get_tokens(text) if v.strip()]


def test_registered_as_an_entry_point() -> None:
    assert isinstance(get_lexer_by_name("topodsl"), TopodslLexer)
    assert isinstance(get_lexer_for_filename("cluster.topo"), TopodslLexer)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_file_lexes_without_error(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    toks = tokens(text)
    assert not [v for t, v in toks if t in Error]
    assert "".join(v for _, v in TopodslLexer().get_tokens(text)).rstrip() == text.rstrip()


def test_every_docs_example_lexes_without_error() -> None:
    examples = doc_examples()
    assert len(examples) > 20
    for text in examples:
        assert not [v for t, v in tokens(text) if t in Error], text


def test_token_kinds() -> None:
    toks = tokens(
        "link nvlink4 { bandwidth = 25 GB/s }  # per lane\n"
        "def node Box { gpu g[8]; server s; connect g[*] -- self via nvlink4 x18 }\n"
        "assert a: bisection(kind:gpu) >= 400Gb/s\n"
        'node n { model = "DGX" }'
    )
    kinds = dict((v, t) for t, v in toks)
    assert kinds["link"] in Keyword and kinds["connect"] in Keyword and kinds["via"] in Keyword
    assert kinds["gpu"] is Keyword.Type and kinds["server"] is Keyword.Type
    assert kinds["GB/s"] is Keyword.Constant and kinds["Gb/s"] is Keyword.Constant
    assert kinds["x18"] is Number.Integer and kinds["25"] is Number.Float
    assert kinds["bisection"] is Name.Function and kinds["kind"] is Name.Builtin
    assert kinds["# per lane"] in Comment and kinds['"DGX"'] in String
    assert kinds["nvlink4"] is Name and kinds["self"] is Name.Builtin.Pseudo


def test_a_unit_is_a_unit_only_after_a_number() -> None:
    # A component named `s` or `B` is a name, as in the language.
    kinds = dict((v, t) for t, v in tokens("nic s; connect s -- B via l"))
    assert kinds["s"] is Name and kinds["B"] is Name


def test_pygmentize_highlights_a_file(tmp_path: Path) -> None:
    out = tmp_path / "small_pod.html"
    proc = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "topodsl", "-f", "html", "-o", str(out),
         str(REPO / "topologies" / "small_pod.topo")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    assert '<span class="kt">gpu</span>' in html and '<span class="kc">GB/s</span>' in html


def test_the_textmate_grammar_matches_the_language() -> None:
    """The VS Code grammar names every kind and unit the language has, and its patterns
    compile; the extension declares the grammar, the language and the server command."""
    import json

    from topodsl.kinds import KINDS
    from topodsl.units import UNITS

    folder = REPO / "editors" / "vscode"
    grammar = json.loads((folder / "syntaxes" / "topodsl.tmLanguage.json").read_text())
    text = json.dumps(grammar)
    for kind in KINDS:
        assert kind in text
    unit_rule = next(p for p in grammar["patterns"] if "captures" in p and "2" in p["captures"])
    units = re.compile(unit_rule["match"])
    for u in UNITS:
        assert units.search(f"3 {u}"), u
    for p in grammar["patterns"]:
        re.compile(p["match"])
    package = json.loads((folder / "package.json").read_text())
    assert package["contributes"]["languages"][0]["extensions"] == [".topo"]
    assert package["contributes"]["configuration"]["properties"]["topodsl.server.args"][
        "default"
    ] == ["lsp"]
    json.loads((folder / "language-configuration.json").read_text())
