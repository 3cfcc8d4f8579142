"""The grammar and the lark-to-AST transformer."""

from __future__ import annotations

import pytest

from topodsl import ast
from topodsl.errors import TopoSyntaxError
from topodsl.parser import parse, parser


def test_grammar_builds_in_strict_mode() -> None:
    # strict=True turns any LALR conflict or terminal collision into an error here.
    assert parser().options.strict


def test_every_statement_kind_parses() -> None:
    m = parse(
        """
        import "parts.topo"
        const N = 2 ** 3
        link nvlink4 { bandwidth = 25 GB/s, latency = 100 ns }
        def gpu G(cap = 16 GB) { hbm h[2] { capacity = cap }; connect self -- h[*] via x }
        cluster c {
            G(cap = 24 GB) g[0..N - 1] { bandwidth = 1 TB/s }
            switch s[N]
            connect g[i] -- s[i / 2] via nvlink4 x18
            connect g[*] -> s[*] via nvlink4 x(N / 2) { latency = 1 us }
            connect ring(g[*]) via nvlink4
            fabric leaf_spine net { hosts = g[*], leaves = 2, spines = 1, link = nvlink4 }
            for k in 0..N - 2 { connect s[k] -- s[k + 1] via nvlink4 }
            assert intent: count(kind:gpu) == 8
        }
        """,
        "t.topo",
    )
    kinds = [type(i).__name__ for i in m.items]
    assert kinds == ["Import", "Const", "LinkDecl", "Def", "Instance"]
    body = m.items[-1].body
    assert [type(s).__name__ for s in body] == [
        "Instance", "Instance", "Connect", "Connect", "Pattern", "Fabric", "For", "Assert",
    ]  # fmt: skip
    inst = body[0]
    assert isinstance(inst.array.lo, ast.Number) and inst.args[0].name == "cap"
    connect = body[3]
    assert connect.op == "->" and isinstance(connect.via.lanes, ast.BinOp)
    assert body[2].via.lanes.value == 18
    assert body[-1].name == "intent" and body[-1].text == "count(kind:gpu) == 8"


def test_spans_point_at_the_source() -> None:
    m = parse("cluster c {\n    gpu g[8]\n}", "s.topo")
    inst = m.items[0].body[0]
    assert (inst.span.line, inst.span.col) == (2, 5)
    assert (inst.name_span.line, inst.name_span.col, inst.name_span.end_col) == (2, 9, 10)


def test_numbers_and_units() -> None:
    m = parse("const a = 2TB\nconst b = 1.5e3 Gb/s", "u.topo")
    a, b = m.items
    assert (a.value.value, a.value.unit, a.value.integral) == (2, "TB", True)
    assert (b.value.value, b.value.unit, b.value.integral) == (1500.0, "Gb/s", False)


def test_ranges_do_not_lex_as_decimals() -> None:
    m = parse("cluster c { rack r[0..31] }")
    spec = m.items[0].body[0].array
    assert (spec.lo.value, spec.hi.value) == (0, 31)


def test_lane_counts_only_where_lanes_may_stand() -> None:
    # The contextual lexer reads x18 as a lane count only after `via TYPE`.
    m = parse(
        "link l { bandwidth = 1 GB/s }\ncluster c { gpu x18; gpu y; connect x18 -- y via l x2 }"
    )
    body = m.items[1].body
    assert body[0].name == "x18"
    assert body[2].left.segments[0].name == "x18" and body[2].via.lanes.value == 2


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("cluster c { gpu g ", "ends in the middle"),
        ("cluster c { gpu g { bandwidth: 1 GB/s } }", "unexpected ':'"),
        ("link a { bandwidth = 1 GB/s", "'}' is missing"),
        ("cluster c { hbm h { capacity = 16 GQ } }", "unknown unit 'GQ'"),
        ("conect a -- b", "did you mean the keyword 'connect'"),
        ("cluster c { gpu g { model = 'x' } }", "double quotes"),
    ],
)
def test_syntax_errors_are_friendly(source: str, fragment: str) -> None:
    with pytest.raises(TopoSyntaxError) as info:
        parse(source, "e.topo")
    text = info.value.render()
    assert fragment in text
    assert text.startswith("e.topo:")
    assert "^" in text


def test_parser_tables_are_cached_privately_and_rebuilt_when_bad(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("TOPODSL_NO_CACHE", raising=False)
    build = parser.__wrapped__  # the uncached builder behind functools.cache
    build()
    (cached,) = (tmp_path / "topodsl").iterdir()
    assert (tmp_path / "topodsl").stat().st_mode & 0o077 == 0
    cached.write_bytes(b"not a pickle")
    assert build().parse("cluster c { gpu g }")
    assert cached.stat().st_size > 1000  # rebuilt and written again


def test_parser_without_a_cache(monkeypatch) -> None:
    monkeypatch.setenv("TOPODSL_NO_CACHE", "1")
    assert parser.__wrapped__().parse("cluster c { gpu g }")
