"""A :class:`~.machine.Machine` as readable ``.topo`` text: arrays, index patterns, definitions.

The writer looks for the machine's repetition instead of writing one line per PCI function:

* components of one kind with the same attributes become an array (``gpu gpu[8]``);
* the links between two arrays become one connection when an index pattern covers them
  (``connect nic[i] -- pex[i / 4]``, ``connect gpu[*] -- nvs[1..2] via nvlink4 x4``), or a
  standard pattern (``connect full_mesh(gpu[*]) via xgmi_gfx942``);
* GPUs that carry their own memory become a definition (``def gpu H100_80GB { ... }``);
* hosts that are alike (several in one NCCL file) become a definition used as an array.

What makes each element different (its PCI bus id, NCCL rank, serial) goes in ``meta``
lines after the declarations; what was assumed is said in the header and in ``meta`` on the
component or connection. The text elaborates to the machine, so every command that reads an
``.xml`` file analyses exactly what ``topodsl import`` writes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from .machine import Machine, Wire

__all__ = ["write_topo"]

_KIND_ORDER = (
    "cpu",
    "dram",
    "hbm",
    "cxl_memory",
    "cxl_switch",
    "pcie_switch",
    "gpu",
    "nvswitch",
    "nic",
    "ssd",
)


def write_topo(m: Machine, version: str = "") -> str:
    """The machine ``m`` as ``.topo`` source text (deterministic)."""
    out: list[str] = [f"# Imported from {m.file} ({m.format}) by topodsl {version}".rstrip()]
    out.append(
        "# Bandwidths are per direction. Edit freely: this is a starting point for a design."
    )
    if m.assumptions:
        out.append("#")
        out.append("# Assumed (not in the file; from the table of known parts in docs/interop.md):")
        out += [f"#   - {a}" for a in m.assumptions]
    missing = [w.message for w in m.warnings if not w.message.startswith("assumed:")]
    if missing:
        out.append("#")
        out.append("# Not in the file, or left out (see the warnings of topodsl import):")
        out += [f"#   - {w}" for w in missing]
    out.append("")
    kinds = _link_kinds(m)
    width = max((len(k.name) for k in kinds), default=0)
    for k in kinds:
        out.append(
            f"link {k.name:<{width}} {{ bandwidth = {_bandwidth(k.bandwidth)}, "
            f"model = {_string(k.model)} }}"
        )
    if kinds:
        out.append("")
    defs: dict[tuple, str] = {}
    bodies = []
    for host in range(len(m.hosts)):
        body, meta_lines = _host_body(m, host, defs, out)
        bodies.append((body, meta_lines))
    if len(m.hosts) > 1 and all(b == bodies[0][0] for b, _ in bodies):
        out.append("def node Host {")
        out += ["    " + line if line else "" for line in bodies[0][0]]
        out.append("}")
        out.append("")
        out.append(f"Host host[{len(m.hosts)}]")
        for h, (_, meta_lines) in enumerate(bodies):
            out += [_prefix_meta(line, f"host[{h}].") for line in meta_lines]
    else:
        for h, (body, meta_lines) in enumerate(bodies):
            if h:
                out.append("")
            out.append(f"node {m.hosts[h]} {{")
            model = m.host_models.get(h)
            if model:
                out.append(f"    model = {_string(model)}")
            out += ["    " + line if line else "" for line in body]
            if meta_lines:
                out.append("")
                out += ["    " + line for line in meta_lines]
            out.append("}")
    return "\n".join(out).rstrip() + "\n"


# -- one host -----------------------------------------------------------------------------------


class _Group:
    def __init__(self, name: str, kind: str, members: list[int], attrs: dict, type_name: str):
        self.name, self.kind, self.members, self.attrs = name, kind, members, attrs
        self.type_name = type_name  # the kind, or the definition's name

    @property
    def is_array(self) -> bool:
        return len(self.members) > 1

    def ref(self, k: int | str) -> str:
        return f"{self.name}[{k}]" if self.is_array else self.name


def _host_body(m: Machine, host: int, defs: dict, out: list[str]):
    parts = [i for i, p in enumerate(m.parts) if p.host == host and p.parent is None]
    children: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(m.parts):
        if p.parent is not None:
            children[p.parent].append(i)
    inner = {w for w, wire in enumerate(m.wires) if m.parts[wire.b].parent == wire.a}
    groups = _groups(m, parts, children, inner, defs, out)
    where: dict[int, tuple[_Group, int]] = {}
    for g in groups:
        for k, i in enumerate(g.members):
            where[i] = (g, k)
    body: list[str] = []
    for g in groups:
        body.append(_declaration(m, g))
    wires = [w for k, w in enumerate(m.wires) if k not in inner and m.parts[w.a].host == host]
    links = _connections(m, wires, where, groups)
    if links:
        body.append("")
        body += links
    meta_lines = []
    for g in groups:
        shared = _shared_meta(m, g.members)
        for k, i in enumerate(g.members):
            own = {a: v for a, v in m.parts[i].meta.items() if a not in shared}
            if own:
                meta_lines.append(f"meta {g.ref(k)} {{ {_meta_items(own)} }}")
    return body, meta_lines


def _groups(m: Machine, parts, children, inner, defs, out) -> list[_Group]:
    by_key: dict[tuple, list[int]] = {}
    for i in parts:
        p = m.parts[i]
        inside = tuple(
            (m.parts[c].kind, m.parts[c].capacity, _wire_name(m, i, c, inner))
            for c in children.get(i, [])
        )
        key = (
            _KIND_ORDER.index(p.kind) if p.kind in _KIND_ORDER else 99,
            p.kind,
            p.group,
            p.model,
            p.bandwidth,
            p.capacity,
            p.latency,
            inside,
        )
        by_key.setdefault(key, []).append(i)
    groups: list[_Group] = []
    # The largest group of a name gets the plain name (nic), the others nic_b, nic_c...
    rank: dict[tuple, int] = {}
    by_base: dict[str, list[tuple]] = defaultdict(list)
    for key in by_key:
        by_base[m.parts[by_key[key][0]].group].append(key)
    for keys in by_base.values():
        keys.sort(key=lambda k: (-len(by_key[k]), min(_order(m, i) for i in by_key[k])))
        rank.update({k: n for n, k in enumerate(keys)})
    for key in sorted(by_key, key=lambda k: (k[0], min(_order(m, i) for i in by_key[k]))):
        members = sorted(by_key[key], key=lambda i: _order(m, i))
        p = m.parts[members[0]]
        base = p.group
        n = rank[key]
        name = (
            base
            if n == 0
            else f"{base}_{'abcdefghijklmnopqrstuvwxyz'[min(n, 25)]}{'' if n < 26 else n}"
        )
        type_name = p.kind
        inside = key[-1]
        if inside:
            type_name = _definition(m, members[0], children, inner, defs, out)
        attrs = {
            "model": p.model if not inside else None,
            "bandwidth": p.bandwidth,
            "capacity": p.capacity,
            "latency": p.latency,
        }
        groups.append(_Group(name, p.kind, members, attrs, type_name))
    return groups


def _order(m: Machine, part: int) -> tuple:
    """A part's sort key, comparable across parts ordered by numbers and by bus ids."""
    return tuple((0, x, "") if isinstance(x, int) else (1, 0, str(x)) for x in m.parts[part].order)


def _definition(m: Machine, part: int, children, inner, defs, out) -> str:
    p = m.parts[part]
    lines = []
    if p.model:
        lines.append(f"    model = {_string(p.model)}")
    kids = children.get(part, [])
    names = []
    for k, c in enumerate(kids):
        cp = m.parts[c]
        name = cp.group if len(kids) == 1 else f"{cp.group}{k}"
        names.append(name)
        attrs = _attr_items({"capacity": cp.capacity, "bandwidth": cp.bandwidth})
        lines.append(f"    {cp.kind} {name}" + (f" {{ {attrs} }}" if attrs else ""))
    for c, name in zip(kids, names, strict=True):
        for w in inner:
            wire = m.wires[w]
            if wire.a == part and wire.b == c:
                lines.append(f"    connect self -- {name} via {wire.kind.name}" + _assumed(wire))
    key = (p.kind, p.model, tuple(lines))
    if key not in defs:
        base = "".join(ch if ch.isalnum() else "_" for ch in (p.model or p.kind)).strip("_")
        base = base[:1].upper() + base[1:]
        if not base[:1].isalpha():
            base = "Part_" + base
        name = base
        k = 2
        while name in defs.values():
            name, k = f"{base}_{k}", k + 1
        defs[key] = name
        out.append(f"def {p.kind} {name} {{")
        out += lines
        out.append("}")
        out.append("")
    return defs[key]


def _declaration(m: Machine, g: _Group) -> str:
    text = f"{g.type_name} {g.name}" + (f"[{len(g.members)}]" if g.is_array else "")
    items = _attr_items(g.attrs)
    shared = _shared_meta(m, g.members)
    if shared:
        items = (items + ", " if items else "") + f"meta {{ {_meta_items(shared)} }}"
    return text + (f" {{ {items} }}" if items else "")


def _shared_meta(m: Machine, members: list[int]) -> dict[str, Any]:
    """Meta entries every member has with the same value (said once, on the array)."""
    first = m.parts[members[0]].meta
    if len(members) == 1:
        return {}
    return {k: v for k, v in first.items() if all(m.parts[i].meta.get(k) == v for i in members[1:])}


# -- connections --------------------------------------------------------------------------------


def _connections(m: Machine, wires: list[Wire], where, groups: list[_Group]) -> list[str]:
    order = {g.name: k for k, g in enumerate(groups)}
    bundles: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    for w in wires:
        (ga, ia), (gb, ib) = where[w.a], where[w.b]
        if (order[ga.name], ia) > (order[gb.name], ib):
            ga, ia, gb, ib = gb, ib, ga, ia
        bundles[(order[ga.name], order[gb.name], w.kind.name, w.lanes, w.assumed)].append((ia, ib))
    lines = []
    for key in sorted(bundles, key=lambda k: (k[0], k[1], k[2], -k[3], k[4] or "")):
        oa, ob, type_name, lanes, assumed = key
        ga, gb = groups[oa], groups[ob]
        via = f" via {type_name}" + (f" x{_num(lanes)}" if lanes != 1 else "")
        tail = f" {{ meta {{ assumed = {_string(assumed)} }} }}" if assumed else ""
        pairs = sorted(set(bundles[key]))
        for stmt in _pattern_statements(ga, gb, pairs):
            if stmt.startswith("for "):
                head, conn = stmt.split(" { ", 1)
                lines.append(f"{head} {{ connect {conn}{via}{tail} }}")
            else:
                lines.append(f"connect {stmt}{via}{tail}")
    return lines


def _pattern_statements(ga: _Group, gb: _Group, pairs: list[tuple[int, int]]) -> list[str]:
    """Connection heads (``a[i] -- b[i / 4]``) that together make exactly ``pairs``."""
    na, nb = len(ga.members), len(gb.members)
    if ga is gb:
        n = na
        full = {(i, j) for i in range(n) for j in range(i + 1, n)}
        if n > 2 and set(pairs) == full:
            return [f"full_mesh({ga.name}[*])"]
        ring = {tuple(sorted((i, (i + 1) % n))) for i in range(n)}
        if n > 2 and set(pairs) == ring:
            return [f"ring({ga.name}[*])"]
        offsets = {j - i for i, j in pairs}
        lo, hi = min(i for i, _ in pairs), max(i for i, _ in pairs)
        if len(pairs) > 1 and len(offsets) == 1 and len(pairs) == hi - lo + 1:
            k = offsets.pop()
            return [f"for i in {lo}..{hi} {{ {ga.name}[i] -- {ga.name}[i + {k}]"]
    elif ga.is_array and gb.is_array:
        pset = set(pairs)
        for fa, fb, ok in _index_maps(na, nb):
            if ok and pset == {(i, fb(i)) for i in range(na)} and fa:
                return [f"{ga.name}[i] -- {gb.name}[{fa}]"]
        for fb_text, fa_fn, ok in _index_maps(nb, na):
            if ok and fb_text and pset == {(fa_fn(j), j) for j in range(nb)}:
                return [f"{gb.name}[i] -- {ga.name}[{fb_text}]"]
    return _rectangles(ga, gb, pairs)


def _index_maps(n_from: int, n_to: int):
    """Candidate maps i -> j as (index text, function, applicable)."""
    yield ("i", lambda i: i, n_from == n_to)
    if n_to and n_from % n_to == 0 and n_from > n_to:
        k = n_from // n_to
        yield (f"i / {k}", lambda i, k=k: i // k, True)
        yield (f"i % {n_to}", lambda i, n=n_to: i % n, True)


def _rectangles(ga: _Group, gb: _Group, pairs: list[tuple[int, int]]) -> list[str]:
    """Cover ``pairs`` with blocks (range of a) x (range of b), one statement each."""
    by_b: dict[int, set[int]] = defaultdict(set)
    for i, j in pairs:
        by_b[j].add(i)
    by_aset: dict[frozenset, list[int]] = defaultdict(list)
    for j, aset in by_b.items():
        by_aset[frozenset(aset)].append(j)
    out = []
    for aset, bs in sorted(by_aset.items(), key=lambda kv: (min(kv[1]), min(kv[0]))):
        for a_text in _ranges(ga, sorted(aset)):
            for b_text in _ranges(gb, sorted(bs)):
                out.append(f"{a_text} -- {b_text}")
    return out


def _ranges(g: _Group, idx: list[int]) -> list[str]:
    if not g.is_array:
        return [g.name]
    if idx == list(range(len(g.members))):
        return [f"{g.name}[*]"]
    out, start = [], 0
    while start < len(idx):
        end = start
        while end + 1 < len(idx) and idx[end + 1] == idx[end] + 1:
            end += 1
        lo, hi = idx[start], idx[end]
        out.append(f"{g.name}[{lo}]" if lo == hi else f"{g.name}[{lo}..{hi}]")
        start = end + 1
    return out


# -- values -------------------------------------------------------------------------------------


def _link_kinds(m: Machine):
    seen = {}
    for w in m.wires:
        seen.setdefault(w.kind.name, w.kind)
    return [seen[k] for k in sorted(seen)]


def _wire_name(m: Machine, a: int, b: int, inner) -> str | None:
    for w in inner:
        if m.wires[w].a == a and m.wires[w].b == b:
            return m.wires[w].kind.name
    return None


def _assumed(w: Wire) -> str:
    return f" {{ meta {{ assumed = {_string(w.assumed)} }} }}" if w.assumed else ""


def _attr_items(attrs: dict[str, Any]) -> str:
    items = []
    for name, v in attrs.items():
        if v is None:
            continue
        if name == "model":
            items.append(f"model = {_string(v)}")
        elif name == "bandwidth":
            items.append(f"bandwidth = {_bandwidth(v, bits=True)}")
        elif name == "capacity":
            items.append(f"capacity = {_size(v)}")
        elif name == "latency":
            items.append(f"latency = {_num(v * 1e9)} ns")
    return ", ".join(items)


def _meta_items(meta: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {_value(v)}" for k, v in meta.items())


def _prefix_meta(line: str, prefix: str) -> str:
    return "meta " + prefix + line[len("meta ") :]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return _string(str(v).lower())
    if isinstance(v, int):
        return str(v) if v >= 0 else _string(str(v))
    if isinstance(v, float):
        return _num(v) if v >= 0 and math.isfinite(v) else _string(repr(v))
    return _string(str(v))


def _string(text: str) -> str:
    """A double-quoted topodsl string (the language has no escapes: quotes become ')."""
    clean = "".join(c if c.isprintable() else " " for c in str(text)).replace('"', "'")
    return f'"{clean}"'


def _num(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    for digits in range(6, 18):
        text = f"{x:.{digits}g}"
        if float(text) == x:
            return text if "e" not in text else repr(float(text))
    return repr(float(x))


def _bandwidth(v: float, bits: bool = False) -> str:
    """``v`` B/s as text that elaborates back to ``v``: GB/s, or Gb/s for network rates."""
    gbit = v * 8 / 1e9
    if bits and gbit.is_integer() and gbit < 100_000:
        return f"{int(gbit)} Gb/s"
    gbyte = v / 1e9
    if round(gbyte, 3) == gbyte or not gbit.is_integer():
        return f"{_scaled(v, 1e9)} GB/s"
    return f"{int(gbit)} Gb/s"


def _size(v: float) -> str:
    for scale, unit in ((2**40, "TiB"), (2**30, "GiB"), (1e12, "TB"), (1e9, "GB"), (2**20, "MiB")):
        if v % scale == 0:
            return f"{int(v / scale)} {unit}"
    return f"{_scaled(v, 1e12)} TB" if v >= 1e12 else f"{_scaled(v, 1e9)} GB"


def _scaled(v: float, scale: float) -> str:
    """``v / scale`` as the shortest text that elaborates back to ``v``."""
    x = v / scale
    for digits in range(6, 18):
        text = f"{x:.{digits}g}"
        if float(text) * scale == v:
            return text
    return _num(x)
