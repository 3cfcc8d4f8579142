"""Every ``topo`` code block of docs/language.md is run, so the guide cannot drift from the code.

The info string of a fenced block says what it is:

``topo``
    must elaborate with no error and no warning.
``topo error``
    must fail; the ``text`` block right after it is the exact diagnostic output.
``topo warning``
    must elaborate; the ``text`` block right after it is the exact warning output.
``topo file=NAME``
    a file other examples import; written beside each example before it is loaded.

Each example is saved as ``example.topo`` in a fresh directory and loaded from there, so
messages read ``example.topo:LINE:COL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import topodsl
from topodsl.check import check
from topodsl.errors import TopoError

DOC = Path(__file__).resolve().parent.parent / "docs" / "language.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    line: int
    kind: str  # "ok", "error", "warning" or "file"
    text: str
    expected: str | None = None
    name: str | None = None


def doc_blocks() -> list[Block]:
    """The ``topo`` blocks of the guide, each with the ``text`` block that follows it."""
    source = DOC.read_text(encoding="utf-8")
    fences = [(m.start(), m.group(1).strip(), m.group(2)) for m in FENCE.finditer(source)]
    blocks: list[Block] = []
    for k, (start, info, body) in enumerate(fences):
        words = info.split()
        if not words or words[0] != "topo":
            continue
        line = source.count("\n", 0, start) + 1
        flags = words[1:]
        if flags and flags[0].startswith("file="):
            blocks.append(Block(line, "file", body, name=flags[0][5:]))
            continue
        kind = flags[0] if flags else "ok"
        assert kind in ("ok", "error", "warning"), f"line {line}: unknown block kind {kind!r}"
        expected = None
        if kind != "ok":
            nxt = fences[k + 1] if k + 1 < len(fences) else None
            assert nxt is not None and nxt[1] == "text", (
                f"line {line}: a 'topo {kind}' block must be followed by a 'text' block"
            )
            expected = nxt[2].rstrip("\n")
        blocks.append(Block(line, kind, body, expected))
    return blocks


BLOCKS = doc_blocks()
FILES = [b for b in BLOCKS if b.kind == "file"]
EXAMPLES = [b for b in BLOCKS if b.kind != "file"]


def run_example(block: Block, directory: Path) -> tuple[topodsl.Topology | None, str]:
    """Load ``block`` as ``example.topo`` in ``directory``; return the topology and messages."""
    for f in FILES:
        path = directory / f.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.text, encoding="utf-8")
    (directory / "example.topo").write_text(block.text, encoding="utf-8")
    # Messages about imported files name them by absolute path; show them relative.
    prefix = str(directory.resolve()) + "/"
    try:
        topo = topodsl.load("example.topo")
    except TopoError as e:
        return None, e.render().replace(prefix, "")
    return topo, "\n".join(w.render() for w in topo.warnings).replace(prefix, "")


def test_the_guide_has_examples_of_every_kind() -> None:
    kinds = {b.kind for b in BLOCKS}
    assert kinds == {"ok", "error", "warning", "file"}
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize("block", EXAMPLES, ids=[f"line{b.line}" for b in EXAMPLES])
def test_doc_example(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    topo, messages = run_example(block, tmp_path)
    where = f"docs/language.md line {block.line}"
    if block.kind == "error":
        assert topo is None, f"{where}: the example should fail but elaborates"
        assert messages == block.expected, f"{where}: the documented error is out of date"
    elif block.kind == "warning":
        assert topo is not None, f"{where}: the example fails:\n{messages}"
        assert messages == block.expected, f"{where}: the documented warning is out of date"
    else:
        assert topo is not None, f"{where}: the example fails:\n{messages}"
        assert messages == "", f"{where}: the example warns:\n{messages}"
        assert topo.num_nodes > 0
        if topo.assertions:  # an example's promises must hold
            report = check(topo)
            failed = [(r.text, r.status) for r in report.results if r.status != "pass"]
            assert failed == [], f"{where}: assertions do not hold"


def load_example(marker: str, directory: Path) -> topodsl.Topology:
    """The topology of the one example whose text contains ``marker``."""
    (block,) = [b for b in EXAMPLES if marker in b.text]
    topo, messages = run_example(block, directory)
    assert topo is not None, messages
    return topo


def link_counts(topo: topodsl.Topology) -> dict[tuple[str, str], float]:
    """Per-direction bandwidth of each link, by its endpoint ids."""
    ids = topo.nodes.ids
    return {
        (ids[s], ids[d]): float(bw)
        for s, d, bw in zip(topo.links.src, topo.links.dst, topo.links.bandwidth, strict=True)
    }


# The prose states figures about some examples; hold it to them.


def test_first_example_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    t = load_example("# Two GPUs, each with two HBM stacks", tmp_path)
    assert t.nodes.ids[:4] == ["box", "box.gpu0", "box.gpu0.stack0", "box.gpu0.stack1"]
    assert t.num_links == 5
    assert link_counts(t)[("box.gpu0", "box.gpu1")] == pytest.approx(450e9)


def test_arithmetic_example_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    t = load_example("const NODES    = 2 ** 5", tmp_path)
    assert len(t.rows_of_kind("node")) == 4  # RACKS = 35 / 8 = 4
    assert len(t.rows_of_kind("gpu")) == 4 * 8  # STACKS = 8
    assert set(t.links.lanes.tolist()) == {7.0}  # HALF * 2
    assert set(t.links.bandwidth.tolist()) == {7 * 100e9}  # LANE = 1.8 TB/s / 18


def test_link_type_example_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    t = load_example('link shared    { bandwidth = 10 GB/s, duplex = "half" }', tmp_path)
    bw = link_counts(t)
    assert bw[("n.g0", "n.s")] == pytest.approx(225e9)
    assert bw[("n.g0", "n.g1")] == pytest.approx(450e9)
    assert bw[("n.g1", "n.x")] == pytest.approx(10e9)
    assert t.links.half_duplex.sum() == 1


def test_connection_semantics_example_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    t = load_example("connect node[*].nic[r] -- leaf[r]  via eth400", tmp_path)
    bw = link_counts(t)
    # pex[i / 2]: GPUs 0,1 on switch 0 and 6,7 on switch 3; rails: NIC r on leaf r.
    assert ("pod.node2.gpu1", "pod.node2.pex0") in bw
    assert ("pod.node2.gpu6", "pod.node2.pex3") in bw
    assert all((f"pod.node{n}.nic{r}", f"pod.leaf{r}") in bw for n in range(4) for r in range(8))
    assert sum(1 for a, b in bw if b.startswith("pod.spine")) == 16  # all-to-all 8 x 2
    assert ("pod.node3.gpu0", "pod.node0.gpu0") in bw  # the ring wraps with %
    # 5/4/4/5 NVLink lanes: 18 per GPU.
    to_nvs = np.isin(t.links.dst, t.select("pod.node0.nvs*"))
    gpu0 = t.index("pod.node0.gpu0")
    assert t.links.lanes[to_nvs & (t.links.src == gpu0)].tolist() == [5, 4, 4, 5]


def test_pattern_and_loop_example_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    t = load_example("for j in i + 1..N - 1", tmp_path)
    assert t.num_links == 6
    t = load_example("connect torus(tray[*].chip[0], 4, 4)", tmp_path)
    per_pattern = np.bincount(t.links.origin)
    counts = sorted(int(c) for c in per_pattern[per_pattern > 0])
    # torus 32, ring of 4 = 4, full mesh of 4 = 6, hypercube of 16 = 32, mesh 2 x 8 = 22,
    # line of 16 = 15.
    assert counts == sorted([32, 4, 6, 32, 22, 15])


def test_fabric_example_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    t = load_example("uplink = eth800, oversubscription = 2", tmp_path)
    assert len(t.select("c.net.leaf*")) == 4 and len(t.select("c.net.spine*")) == 2
    up = link_counts(t)[("c.net.leaf0", "c.net.spine0")]
    assert up == pytest.approx(100e9)  # one lane of 800G
    t = load_example("fabric fat_tree  ft", tmp_path)
    assert len(t.select("c.ft.**")) == 20
    assert len(t.select("c.df.router*")) == 36


def test_the_guide_names_every_kind_attribute_generator_and_unit_prefix() -> None:
    from topodsl.fabrics import GENERATORS
    from topodsl.kinds import ATTRIBUTES, KIND_ALIASES, LINK_ATTRIBUTES

    text = DOC.read_text(encoding="utf-8")
    for name in [*ATTRIBUTES, *KIND_ALIASES, *LINK_ATTRIBUTES]:
        assert f"`{name}`" in text, f"docs/language.md does not mention `{name}`"
    for name in GENERATORS:  # `ring(P)`, `leaf_spine`
        assert f"`{name}`" in text or f"`{name}(" in text, f"no `{name}` in docs/language.md"
    for attrs in ATTRIBUTES.values():
        for name in attrs:
            assert f"| `{name}` |" in text, f"the attribute table lacks `{name}`"
    for unit in ("B/s", "b/s", "bit/s", "Bps", "bps", "ms", "us", "ns", "FLOP/s"):
        assert f"`{unit}`" in text
    for prefix in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"):
        assert f"`{prefix}`" in text


if __name__ == "__main__":  # print what each example produces, to paste into the guide
    import tempfile

    for b in EXAMPLES:
        with tempfile.TemporaryDirectory() as d:
            import os

            os.chdir(d)
            topo, messages = run_example(b, Path(d))
            status = "ok" if topo is not None else "FAILS"
            print(f"--- line {b.line} ({b.kind}): {status}")
            if messages:
                print(messages)
