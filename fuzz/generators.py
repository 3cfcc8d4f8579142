"""Fuzz inputs, one category per function; each takes a ``random.Random`` and returns an input.

Categories (``CATEGORIES``):

* ``grammar``: programs built by a random walk over the real grammar (``grammar/topodsl.lark``,
  read through lark's own rule objects), with names, numbers and units chosen from
  vocabularies that make the walk reach elaboration, not only the parser;
* ``program``: meaningful programs (link types, definitions with parameters, arrays, index
  expressions, loops, patterns, fabrics, assertions) with extreme numbers mixed in;
* ``tokens``: the shipped examples and the corpus with tokens deleted, duplicated, swapped or
  replaced by nasty ones;
* ``bytes``: the same seeds with random bytes flipped, inserted or deleted (not always UTF-8);
* ``json``: node-link JSON exported from the seeds, mutated structurally (values swapped for
  NaN, huge numbers, wrong types, deep nesting, parent cycles, duplicate ids, self-loops);
* ``cli``: one of the above written to a file and run through a random command line.

Everything is deterministic given the ``Random``'s seed, so a finding replays exactly.
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"

# -- seeds --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    """A seed file: its name (for messages), its text and the directory its imports use."""

    name: str
    text: str
    root: Path


@cache
def topo_seeds() -> tuple[Seed, ...]:
    """The shipped examples, the golden files and the corpus (see ``fuzz/corpus/README.md``)."""
    paths = sorted((REPO / "topologies").glob("*.topo"))
    paths += sorted((REPO / "topologies" / "parts").glob("*.topo"))
    paths += sorted((REPO / "tests" / "golden").glob("*/*.topo"))
    paths += sorted(CORPUS.glob("*.topo"))
    # A seed that is not UTF-8 (one golden case is Latin-1 on purpose) is read with U+FFFD.
    return tuple(
        Seed(str(p.relative_to(REPO)), p.read_bytes().decode("utf-8", "replace"), p.parent)
        for p in paths
    )


@cache
def json_seeds() -> tuple[str, ...]:
    """Node-link JSON: exports of the small seeds, and the corpus's hand-written files."""
    import topodsl
    from topodsl.io import dumps_json

    out = [p.read_text("utf-8") for p in sorted(CORPUS.glob("*.json"))]
    for seed in topo_seeds():
        try:
            topo = topodsl.loads(seed.text, file=seed.name, root=seed.root)
        except topodsl.TopoError:
            continue
        if topo.num_nodes <= 120:
            out.append(dumps_json(topo))
    return tuple(out)


# -- vocabularies -------------------------------------------------------------------------------

NAMES = ["g", "h", "gpu", "nic", "nvs", "sw", "leaf", "spine", "node", "n", "m", "t1", "t11",
         "mem", "ssd", "cpu", "l", "eth", "self", "i", "j", "r", "x", "N", "S"]  # fmt: skip
KINDS = ["gpu", "hbm", "dram", "nic", "switch", "nvswitch", "pcie_switch", "cxl_switch",
         "cxl_memory", "ssd", "hdd", "cpu", "chiplet", "die", "node", "rack", "pod", "cluster",
         "group", "storage_node"]  # fmt: skip
UNITS = ["B", "GB", "TB", "GiB", "B/s", "GB/s", "Gb/s", "TB/s", "ns", "us", "ms", "s", "W",
         "TFLOP/s", "PB", "EB/s"]  # fmt: skip
NUMBERS = ["0", "1", "2", "3", "4", "7", "8", "16", "64", "100", "0.5", "2.5", "1e3", "1e9",
           "1e18", "1e30", "1e31", "1e-30", "1e-31", "1e308", "1e309", "1e400", "1e-320",
           "999999999999999999", "1000000000000000000", "1000000000000000001",
           "9223372036854775807", "9223372036854775808", "18446744073709551616",
           "2147483647", "2147483648", "3000000000", "4294967296", "99999999999999999999",
           "1" + "0" * 40, "9" * 500, "9" * 4400, "0.000000001", "00", "007"]  # fmt: skip
ATTRS = ["bandwidth", "capacity", "latency", "ports", "read_bandwidth", "write_bandwidth",
         "model", "duplex", "power", "flops"]  # fmt: skip
FUNCS = ["min", "max", "floor", "ceil", "round", "abs", "log2", "sqrt", "bisection", "flow",
         "reach", "checkpoint", "ingest", "drain", "spill", "ports_used", "capacity"]  # fmt: skip
GENERATORS = ["ring", "line", "mesh", "torus", "hypercube", "full_mesh", "fat_tree",
              "leaf_spine", "clos3", "dragonfly"]  # fmt: skip
NASTY_TOKENS = ["{", "}", "[", "]", "(", ")", "..", ".", ",", ";", "=", "--", "->", "*", "**",
                "/", "%", "-", "+", "x(", "x999999999", "[*]", "via", "for", "in", "import",
                '"../../etc/passwd"', '"/dev/zero"', '"x.topo"', "assert", "const", "def",
                "fabric", "connect", "'", '"', "#", "\n", "\t", "\x00", "\ufeff", "µs",
                "kind:gpu", "role:memory", ">=", "<", "!="] + NUMBERS[-14:]  # fmt: skip


def _num(rng: random.Random) -> str:
    n = rng.choice(NUMBERS) if rng.random() < 0.7 else str(rng.randint(0, 40))
    if rng.random() < 0.3:
        n += " " + rng.choice(UNITS)
    return n


def _expr(rng: random.Random, depth: int = 0, names: tuple[str, ...] = ("i",)) -> str:
    r = rng.random()
    if depth > 3 or r < 0.35:
        return _num(rng) if rng.random() < 0.6 else rng.choice(names)
    if r < 0.75:
        op = rng.choice(["+", "-", "*", "/", "%", "**"])
        return f"({_expr(rng, depth + 1, names)} {op} {_expr(rng, depth + 1, names)})"
    if r < 0.9:
        f = rng.choice(FUNCS[:8])
        return f"{f}({_expr(rng, depth + 1, names)})"
    return f"-{_expr(rng, depth + 1, names)}"


# -- grammar walk -------------------------------------------------------------------------------


@cache
def _grammar() -> tuple[dict, dict]:
    """Rules by origin name and terminal patterns by name, from the real parser."""
    from topodsl.parser import parser

    p = parser()
    rules: dict[str, list] = {}
    for rule in p.rules:
        rules.setdefault(rule.origin.name, []).append(rule.expansion)
    terminals = {t.name: t for t in p.terminals}
    return rules, terminals


_TERMINAL_TEXT = {
    "NAME": lambda rng: rng.choice(NAMES + KINDS + GENERATORS + ATTRS + FUNCS),
    "NUMBER": lambda rng: rng.choice(NUMBERS),
    "UNIT": lambda rng: rng.choice(UNITS),
    "STRING": lambda rng: rng.choice(['"half"', '"full"', '"x"', '""', '"parts/links.topo"']),
    "LANES": lambda rng: "x" + rng.choice(["1", "2", "16", "0", "99999999999", "2.5"]),
    "SELECTOR": lambda rng: rng.choice(["kind:gpu", "role:memory", "kind:ssd|hdd", "kind:x"]),
    "COMMENT": lambda rng: "# c",
}


def grammar_program(rng: random.Random, max_depth: int = 9) -> str:
    """A program derived from the grammar's start symbol by a random walk (depth-limited)."""
    rules, terminals = _grammar()
    out: list[str] = []
    stack: list[tuple[object, int]] = [("start", 0)]
    budget = 400
    while stack and budget > 0:
        sym, depth = stack.pop()
        name = sym if isinstance(sym, str) else sym.name
        if name in rules:
            budget -= 1
            options = rules[name]
            if depth >= max_depth:
                options = sorted(options, key=len)[:1]
            expansion = rng.choice(options)
            for s in reversed(expansion):
                stack.append((s, depth + 1))
            continue
        term = terminals.get(name)
        if term is None:
            continue
        if name in _TERMINAL_TEXT:
            out.append(_TERMINAL_TEXT[name](rng))
        elif term.pattern.type == "str":
            out.append(term.pattern.value)
        elif name.startswith("__ANON") or name in ("_SEP",):
            out.append(rng.choice([";", ",", "\n"]))
        else:
            value = {"LINK_OP": "--", "COMPARE": ">=", "LANES_OPEN": "x("}.get(name, "\n")
            out.append(value)
    return " ".join(out)


# -- meaningful programs ------------------------------------------------------------------------


def semantic_program(rng: random.Random) -> str:
    """A program that mostly elaborates: declarations that exist, used in range."""
    n = rng.choice(["2", "4", "8", "3", "1", "16", _num(rng)])
    duplex = rng.choice(["", ', duplex = "half"'])
    lines = [
        f"link l {{ bandwidth = {rng.choice(['25 GB/s', '400 Gb/s', _num(rng) + ' GB/s'])}, "
        f"latency = {rng.choice(['100 ns', '1 us', _num(rng) + ' ns'])} }}",
        f"link k {{ bandwidth = 50 GB/s{duplex} }}",
        f"const N = {n}",
    ]
    body = [
        f"gpu g[N] {{ bandwidth = {rng.choice(['3 TB/s', _num(rng) + ' TB/s'])} }}",
        f"hbm m[N] {{ capacity = {rng.choice(['80 GB', _num(rng) + ' GB'])} }}",
        f"switch s[{rng.choice(['2', 'N', '1'])}] {{ ports = {rng.choice(['64', _num(rng)])} }}",
        "nic nic[N]",
    ]
    conns = [
        "connect g[i] -- m[i] via l",
        f"connect g[*] -- s[*] via l x{rng.choice(['1', '2', '4'])}",
        f"connect g[i] -- g[{_expr(rng)} % N] via k",
        f"connect g[i] -- nic[i] via l x({_expr(rng)})",
        f"for i in 0..{rng.choice(['N - 1', 'N - 2', _expr(rng)])} "
        "{ connect g[i] -- s[0] via l }",
        f"connect {rng.choice(GENERATORS[:6])}(g[*]{rng.choice(['', ', 2', ', 2, N / 2'])}) via l",
        f"connect g[{_expr(rng)}] -> m[0] via l {{ latency = {_num(rng)} ns }}",
    ]
    rng.shuffle(conns)
    body += conns[: rng.randint(1, len(conns))]
    defs = []
    if rng.random() < 0.5:
        defs.append(
            "def node Server(n = 2) { gpu g[n]\n nic nic[n]\n connect g[i] -- nic[i] via l }"
        )
        lines.append(f"cluster c {{ Server(n = {rng.choice(['2', '4', _expr(rng)])}) srv[{n}] }}")
    if rng.random() < 0.3:
        gen = rng.choice(GENERATORS[6:])
        setting = rng.choice(
            [
                "k = 4",
                "leaves = 2, spines = 2",
                'dims = ("a", 2)',
                f"k = {_num(rng)}",
                "groups = 2, routers = 2",
                "pods = 2, spines = 2, cores = 2",
            ]  # fmt: skip
        )
        body.append(f"fabric {gen} net {{ hosts = nic[*], {setting}, link = l }}")
    if rng.random() < 0.5:
        what = rng.choice(
            ["bisection(g[*])", "flow(g[0] -> m[*])", "reach(g[0]).capacity",
             "checkpoint(1 TB, from g[*], to m[*]).time", "ports_used(s[*])", "bisection()"]
        )  # fmt: skip
        body.append(f"assert a: {what} >= {_num(rng)}")
    rng.shuffle(body)
    lines += defs
    lines.append("node top { " + "\n ".join(body) + " }")
    return "\n".join(lines) + "\n"


# -- mutations ----------------------------------------------------------------------------------

_TOKENIZE = re.compile(r'"[^"\n]*"|[A-Za-z_][A-Za-z_0-9]*|[0-9.eE+]+|\s+|.', re.S)


def token_mutation(rng: random.Random) -> tuple[str, Seed]:
    """A seed with one to four token edits."""
    seed = rng.choice(topo_seeds())
    toks = _TOKENIZE.findall(seed.text)
    for _ in range(rng.randint(1, 4)):
        if not toks:
            break
        k = rng.randrange(len(toks))
        op = rng.random()
        if op < 0.3:
            del toks[k]
        elif op < 0.5:
            toks.insert(k, toks[rng.randrange(len(toks))])
        elif op < 0.6:
            j = rng.randrange(len(toks))
            toks[k], toks[j] = toks[j], toks[k]
        else:
            toks[k] = rng.choice(NASTY_TOKENS) if rng.random() < 0.6 else _num(rng)
    return "".join(toks), seed


def byte_mutation(rng: random.Random) -> tuple[bytes, Seed]:
    """A seed's bytes with one to eight flips, insertions or deletions."""
    seed = rng.choice(topo_seeds())
    data = bytearray(seed.text.encode("utf-8"))
    for _ in range(rng.randint(1, 8)):
        if not data:
            break
        k = rng.randrange(len(data))
        op = rng.random()
        if op < 0.4:
            data[k] ^= 1 << rng.randrange(8)
        elif op < 0.7:
            data.insert(k, rng.randrange(256))
        elif op < 0.9:
            del data[k]
        else:
            data[k:k] = data[rng.randrange(len(data)) :][: rng.randint(1, 40)]
    return bytes(data), seed


_JSON_VALUES = [None, True, False, 0, -1, 1, 1.5, -1e-9, 2147483648, 3000000000, 10**25,
                "abc", "", "inf", "-inf", "NaN", [], {}, [1], {"a": 1}, "gpu", "half", "a",
                "x" * 300]  # fmt: skip
_JSON_RAW = ["NaN", "Infinity", "-Infinity", "9" * 4400, "1e400", "-0", "1" + "0" * 400]


def json_mutation(rng: random.Random) -> str:
    """A node-link document with structural and value mutations."""
    doc = json.loads(rng.choice(json_seeds()))
    raw_marks: list[str] = []
    for _ in range(rng.randint(1, 5)):
        op = rng.random()
        nodes = _dicts(doc, "nodes")
        links = _dicts(doc, "links")
        if op < 0.45 and nodes:
            target = rng.choice(nodes) if rng.random() < 0.6 or not links else rng.choice(links)
            if isinstance(target, dict) and target:
                key = rng.choice([*target, "parent", "ports", "capacity", "lanes", "latency"])
                if rng.random() < 0.3:
                    mark = f"@@RAW{len(raw_marks)}@@"
                    raw_marks.append(rng.choice(_JSON_RAW))
                    target[key] = mark
                else:
                    values = [*_JSON_VALUES, rng.choice(nodes).get("id")]
                    target[key] = copy.deepcopy(rng.choice(values))
        elif op < 0.55 and nodes:
            nodes.append(dict(rng.choice(nodes)))  # duplicate id
        elif op < 0.65 and nodes and len(nodes) > 1:
            a, b = rng.sample(nodes, 2)
            a["parent"], b["parent"] = b.get("id"), a.get("id")  # a cycle
        elif op < 0.72 and links:
            link = rng.choice(links)
            link["target"] = link.get("source")  # a self-loop
        elif op < 0.8:
            key = rng.choice(["graph", "nodes", "links", "directed", "edges"])
            if isinstance(doc, dict):
                doc[key] = copy.deepcopy(rng.choice(_JSON_VALUES))
        elif op < 0.85:
            doc = {"nodes": [{"id": "a", "kind": "gpu", "x": _deep(rng.randint(10, 900))}]}
        elif op < 0.9 and nodes:
            rng.shuffle(nodes)
        elif op < 0.95 and nodes:
            del nodes[rng.randrange(len(nodes))]
        else:
            doc = copy.deepcopy(rng.choice(_JSON_VALUES))
    text = json.dumps(doc)
    for k, raw in enumerate(raw_marks):
        text = text.replace(f'"@@RAW{k}@@"', raw)
    if rng.random() < 0.1 and text:
        k = rng.randrange(len(text))
        text = text[:k] + rng.choice(["", "}", "]", ",", '"', "\\", "\x00"]) + text[k + 1 :]
    if rng.random() < 0.01:
        text = "[" * 100_000 + "]" * 100_000
    return text


def _dicts(doc: object, key: str) -> list[dict] | None:
    """``doc[key]`` when it is a list of which every element is an object, else ``None``."""
    items = doc.get(key) if isinstance(doc, dict) else None
    if isinstance(items, list) and all(isinstance(x, dict) for x in items):
        return items
    return None


def _deep(n: int) -> object:
    v: object = 1
    for _ in range(n):
        v = [v]
    return v


# -- command lines ------------------------------------------------------------------------------

_SELECTORS = ["kind:gpu", "kind:ssd", "role:memory", "top.g[*]", "top.g[0]", "*", "**",
              "kind:nope", "top.g[99999999999999999999]", "top.g[0..1]", "x[", "", "a & b",
              "kind:gpu & top.**", "c.srv[*].g[*]", "top.m[*]"]  # fmt: skip
_SIZES = ["1TB", "2 TB", "0 B", "-1 TB", "1e400 B", "nan B", "1e308 TB", "5 GB/s", "x"]
_LATENCIES = ["1 us", "0 s", "-1 ns", "1e400 s", "nan s", "10 GB"]


def command_line(rng: random.Random, file: str, other: str) -> list[str]:
    """Arguments for one ``topodsl`` run on ``file`` (``other`` is a second file for diff)."""
    c = rng.random()
    if c < 0.25:
        args = ["check", file]
        if rng.random() < 0.5:
            args += ["--format", rng.choice(["text", "json", "junit", "github"])]
        if rng.random() < 0.4:
            args += ["--assert", f"bisection() >= {_num(rng)} GB/s"]
        if rng.random() < 0.2:
            args += ["--unproven", rng.choice(["fail", "pass"])]
        return args
    if c < 0.35:
        return ["show", file] + (["--json"] if rng.random() < 0.5 else [])
    if c < 0.45:
        return ["export", file, "--format", rng.choice(["json", "graphml", "dot"])]
    if c < 0.55:
        args = ["analyze", "bisection", file]
        if rng.random() < 0.5:
            args += ["--endpoints", rng.choice(_SELECTORS)]
        return args + (["--json"] if rng.random() < 0.5 else [])
    if c < 0.65:
        args = ["analyze", "reach", file, "--from", rng.choice(_SELECTORS)]
        if rng.random() < 0.5:
            args += ["--within", rng.choice(_LATENCIES)]
        return args + rng.sample(["--json", "--storage", "--write"], rng.randint(0, 2))
    if c < 0.75:
        args = ["analyze", "flow", file, "--from", rng.choice(_SELECTORS)]
        args += ["--to", rng.choice(_SELECTORS)]
        if rng.random() < 0.5:
            args += ["--size", rng.choice(_SIZES)]
        return args + (["--json"] if rng.random() < 0.5 else [])
    if c < 0.88:
        scenario = rng.choice(["checkpoint", "ingest", "drain", "spill"])
        args = ["analyze", scenario, file, "--size", rng.choice(_SIZES)]
        return args + (["--json"] if rng.random() < 0.5 else [])
    if c < 0.97:
        return ["diff", other, file]
    return ["render", file, "-o", str(Path(file).with_suffix(".dot"))]


CATEGORIES = ("grammar", "program", "tokens", "bytes", "json", "cli")
