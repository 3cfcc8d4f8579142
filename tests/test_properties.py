"""Property tests: whatever the input, topodsl answers with a result or a diagnostic, never a
Python traceback."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import topodsl
from topodsl.errors import TopoError

GOLDEN = Path(__file__).resolve().parent / "golden"
SEEDS = sorted(p.read_text() for p in (GOLDEN / "ok").glob("*.topo"))

TOKENS = [
    "cluster", "node", "gpu", "hbm", "nic", "switch", "link", "def", "const", "connect", "via",
    "for", "in", "fabric", "ring", "import", "assert", "self", "g", "h", "x2", "x(", "{", "}",
    "[", "]", "(", ")", "*", "..", ".", ",", ";", "=", "--", "->", "+", "-", "/", "%", "**",
    "0", "1", "8", "2.5", "10**12", "GB", "GB/s", "Gb/s", "ns", "us", "TB", '"s"', "'", "#",
    "\n", " ", "bandwidth", "capacity", "latency", "ports", "i", "r", "l",
]  # fmt: skip


def _ok_or_diagnostic(text: str) -> None:
    try:
        topodsl.loads(text, file="fuzz.topo", max_nodes=100_000)
    except TopoError as e:
        rendered = e.render()
        assert rendered and "Traceback" not in rendered


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_token_soup_never_crashes(text: str) -> None:
    _ok_or_diagnostic(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    _ok_or_diagnostic(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 30), st.sampled_from(TOKENS)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_examples_never_crash(seed: str, edits) -> None:
    text = seed
    for pos, cut, token in edits:
        pos %= len(text) + 1
        text = text[:pos] + token + text[pos + cut :]
    _ok_or_diagnostic(text)
