"""The modules of topodsl.elaborate, each alone (the whole pipeline is test_elaborate.py)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from topodsl import ast, loads
from topodsl.elaborate import passes
from topodsl.elaborate.blocks import digits_start
from topodsl.elaborate.checks import shared_id
from topodsl.elaborate.scopes import Scope, declare_const, hashable, visible_constants
from topodsl.elaborate.state import Abort, Elaboration
from topodsl.errors import ElaborationError, LimitExceeded
from topodsl.evaluate import Quantity
from topodsl.parser import parse
from topodsl.units import BANDWIDTH, COUNT


def state(**kw) -> Elaboration:
    return Elaboration({}, Path("."), allow_outside=False, max_nodes=100, **kw)


def consts(el: Elaboration, text: str, scope: Scope) -> None:
    for c in parse(text).items:
        declare_const(el, c, scope)


def test_scopes_inner_names_hide_outer_ones_and_whole_numbers_stay_whole() -> None:
    el = state()
    consts(el, "const N = 8\nconst B = 2.5 GB/s", el.globals)
    inner = el.globals.child()
    consts(el, "const N = 2.0\nconst H = N / 4", inner)
    assert inner.lookup("H").value == 0.5  # 2.0 is a decimal
    assert visible_constants(inner) == (("B", 2.5e9, BANDWIDTH), ("H", 0.5, COUNT),
                                        ("N", 2.0, COUNT))  # fmt: skip
    assert visible_constants(el.globals)[1] == ("N", 8, COUNT)
    assert isinstance(visible_constants(el.globals)[1][1], int)


def test_hashable_tells_whole_numbers_from_decimals() -> None:
    # n = 2 and n = 2.0 divide differently, so they must build different blocks (keyed by text).
    assert str(hashable(Quantity.exact(2, COUNT))) != str(hashable(Quantity.exact(2.0, COUNT)))
    t = loads("def node n(k = 2) { const H = k / 4\n hbm m { capacity = (H + 1) * 1 GB } }\n"
              "n(k = 2) a\nn(k = 2.0) b\n")  # fmt: skip
    assert [float(x) for x in t.nodes.capacity[t.rows_of_kind("hbm")]] == [1e9, 1.5e9]


def test_a_constant_declared_twice_is_one_error_and_aborts_the_statement() -> None:
    el = state()
    consts(el, "const N = 8", el.globals)
    with pytest.raises(Abort):
        consts(el, "const N = 9", el.globals)
    assert el.sink.errors[0].message == "constant 'N' is declared twice"
    assert el.globals.lookup("N").value == 8


def test_an_unknown_name_in_a_scope_suggests_the_closest() -> None:
    el = state()
    consts(el, "const GPUS = 8", el.globals)
    with pytest.raises(Abort):
        consts(el, "const X = GPSU * 2", el.globals)
    d = el.sink.errors[0]
    assert d.message == "unknown name 'GPSU'" and d.hint == "did you mean 'GPUS'?"


def test_the_step_budget_is_charged_before_a_loop_runs() -> None:
    el = state(max_steps=10)
    el.charge_steps(10, None)
    with pytest.raises(LimitExceeded):
        el.charge_steps(1, None)


def test_tables_give_each_span_and_template_one_index() -> None:
    el = state()
    assert [el.template_id(t) for t in ("a", "b", "a")] == [0, 1, 0]
    assert el.span_id(None) == -1


@pytest.mark.parametrize(("name", "start"), [("t110", 1), ("gpu", 3), ("g", 1), ("7", 1)])
def test_digits_start(name: str, start: int) -> None:
    assert digits_start(name) == start


def ids(member: tuple) -> set[str]:
    name, lo, count, is_array = member
    return {f"{name}{lo + k}" for k in range(count)} if is_array else {name}


def test_shared_id_agrees_with_brute_force_on_small_members() -> None:
    shapes = [("t1", 0, 25, True), ("t11", 0, 5, True), ("t110", 0, 1, False),
              ("t12", 3, 4, True), ("t10", 0, 3, True), ("t105", 0, 1, False)]  # fmt: skip
    for a, b in itertools.permutations(shapes, 2):
        if len(a[0]) > len(b[0]):
            continue
        found = shared_id(a, b)
        common = ids(a) & ids(b)
        assert (found is None) == (not common), (a, b)
        assert found is None or found in common


def test_recorded_statements_are_kept_per_instance() -> None:
    assert ast.Assert in passes.RECORDED
    t = loads("def node n { gpu g[2]\n connect g[0] -- g[1] { bandwidth = 1 GB/s }\n"
              " assert count(g[*]) == 2 }\nn a[2]\nn b\n")  # fmt: skip
    assert [a.scopes for a in t.assertions] == [("a0", "a1"), ("b",)]


def test_a_for_loop_holds_connections_only() -> None:
    with pytest.raises(ElaborationError, match="a for loop holds connections only"):
        loads("node n { gpu g[2]\n for i in 0..0 { gpu h } }")
