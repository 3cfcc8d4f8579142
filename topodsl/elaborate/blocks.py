"""Blocks: a component and everything inside it as arrays, and how definitions tile.

A definition is elaborated once per distinct argument list into a :class:`Block`: numpy arrays
for its components (row 0 is the component itself, then its members in order) and its links,
in local row numbers, plus a table of members (name, index range, the row of each element,
the member's own block). While a body is elaborated, a :class:`BodyBuilder` collects it;
:func:`finish` then lays the members out and tiles each member's block once per element with
numpy (``DGX node[12500]`` is one ``np.tile``). This is why 102,400 GPUs elaborate in well
under a second of CPU.

Only the dotted ids are Python strings, and they are made once, for the whole topology, when
it is assembled (:func:`block_ids`): a block does not hold the ids of its rows, since at a
million GPUs every level of nesting would make another 9 million strings (about 80 B each).
A small block (a server, a scalable unit) keeps its own ids once made, so that every copy of
it prefixes the same list.

>>> b = BodyBuilder("node", origin=0, template=0)
>>> gpu = finish(BodyBuilder("gpu", origin=1, template=1))
>>> add_member(b, Member("g", 0, 2, True, 1 + np.arange(2), gpu, None), parts=2)
>>> blk = finish(b)
>>> block_ids(blk), block_ids(blk, "srv"), blk.parent.tolist()
(['', 'g0', 'g1'], ['srv', 'srv.g0', 'srv.g1'], [-1, 0, 0])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import ast
from ..errors import Span
from ..kinds import KIND_CODE
from ..topology import NODE_FIELDS, FabricInfo

__all__ = ["Member", "Block", "BodyBuilder", "LINK_COLUMNS", "add_member", "finish", "block_ids"]

FIELDS = tuple(NODE_FIELDS)

#: Columns of a block's link table and their types.
LINK_COLUMNS = {
    "src": np.int64,
    "dst": np.int64,
    "bandwidth": np.float64,
    "latency": np.float64,
    "lanes": np.float64,
    "type": np.int32,
    "simplex": bool,
    "half": bool,
    "origin": np.int32,
    "meta": np.int32,  # index into Elaboration.link_metas, -1 for none
}


@dataclass
class Member:
    """A named child of a block: one component or an array of them, all alike."""

    name: str
    lo: int
    count: int
    is_array: bool
    offsets: np.ndarray  # local row of each element's own component
    block: Block
    span: Span | None


@dataclass
class Block:
    """An elaborated component and everything inside it, in local row numbers (root = row 0).

    ``layout`` is its members in the order of their rows: row 0, then each member's copies one
    after the other, which is the order of :func:`block_ids`."""

    size: int
    kind: np.ndarray
    parent: np.ndarray
    fields: dict[str, np.ndarray]
    ports: np.ndarray
    origin: np.ndarray
    template: np.ndarray
    extra: dict[int, dict[str, Any]]
    links: dict[str, np.ndarray]
    members: dict[str, Member]
    fabrics: list[tuple[FabricInfo, np.ndarray, np.ndarray, np.ndarray]]
    asserts: list[tuple[ast.Assert, np.ndarray, tuple]]
    layout: list[Member] = field(default_factory=list)
    ids: list[str] | None = field(default=None, repr=False, compare=False)  # see block_ids

    @property
    def num_links(self) -> int:
        return len(self.links["src"])

    def with_origin(self, origin: int) -> Block:
        """This block declared at another place (a cached definition used again)."""
        if self.origin[0] == origin:
            return self
        new_origin = self.origin.copy()
        new_origin[0] = origin
        return replace(self, origin=new_origin)


class BodyBuilder:
    """Accumulates one component's body: its own attributes, members, links."""

    def __init__(self, kind: str, origin: int, template: int):
        self.kind = kind
        self.attrs: dict[str, float] = {}
        self.ports = -1
        self.extra: dict[str, Any] = {}
        self.origin = origin
        self.template = template
        self.members: dict[str, Member] = {}
        # name[:i] -> member names that continue it with digits only (for id clashes).
        self.stems: dict[str, list[str]] = {}
        self.parts: list[Block | None] = []  # member blocks in layout order (tiled)
        self.part_counts: list[int] = []
        self.cursor = 1
        self.link_parts: list[dict[str, np.ndarray]] = []
        self.part_links = 0  # links in link_parts
        self._codes: tuple[int, np.ndarray] | None = None
        # (info, hosts, switches, first link, link count) of each pattern and fabric here
        self.fabrics: list[tuple[FabricInfo, np.ndarray, np.ndarray, int, int]] = []
        self.asserts: list[tuple[ast.Assert, np.ndarray, tuple]] = []
        self.member_metas: list[tuple[np.ndarray, dict[str, Any]]] = []  # `meta PATH { }`
        self.num_links = 0

    def kind_codes(self) -> np.ndarray:
        """Kind code of every local row laid out so far (kept until a member is added, so a
        loop that connects one pair at a time does not rebuild it every time)."""
        if self._codes is None or self._codes[0] != len(self.parts):
            parts = [np.array([KIND_CODE[self.kind]], dtype=np.uint8)]
            for blk, count in zip(self.parts, self.part_counts, strict=True):
                parts.append(np.tile(blk.kind, count))
            self._codes = (len(self.parts), np.concatenate(parts))
        return self._codes[1]


def digits_start(name: str) -> int:
    """Where the run of digits that ends ``name`` starts (``len(name)`` if there is none)."""
    i = len(name)
    while i > 1 and name[i - 1].isdigit():
        i -= 1
    return i


def add_member(b: BodyBuilder, m: Member, parts: int = 0) -> None:
    """Record member ``m`` of ``b`` (its id stems too, for clashes); with ``parts``, also lay
    out that many copies of its block at the cursor."""
    b.members[m.name] = m
    for i in range(digits_start(m.name), len(m.name)):
        b.stems.setdefault(m.name[:i], []).append(m.name)
    if parts:
        b.parts.append(m.block)
        b.part_counts.append(parts)
        b.cursor += parts * m.block.size
        b.num_links += parts * m.block.num_links


def finish(b: BodyBuilder) -> Block:
    """Lay out ``b``'s members, tiling each member's block once per element."""
    kind = [np.array([KIND_CODE[b.kind]], dtype=np.uint8)]
    parent = [np.array([-1], dtype=np.int64)]
    fields = {f: [np.array([b.attrs.get(f, NODE_FIELDS[f])])] for f in FIELDS}
    ports = [np.array([b.ports], dtype=np.int32)]
    origin = [np.array([b.origin], dtype=np.int32)]
    template = [np.array([b.template], dtype=np.int32)]
    extra: dict[int, dict[str, Any]] = {0: dict(b.extra)} if b.extra else {}
    links: dict[str, list] = {c: [] for c in LINK_COLUMNS}
    asserts: list = list(b.asserts)
    members_by_start = sorted(b.members.values(), key=lambda m: int(m.offsets[0]))
    for m in members_by_start:
        blk, count = m.block, m.count
        offs = m.offsets
        kind.append(np.tile(blk.kind, count))
        par = np.where(blk.parent < 0, -1, blk.parent)
        tiled = (par[None, :] + offs[:, None]).ravel()
        tiled[np.tile(blk.parent < 0, count)] = 0
        parent.append(tiled)
        for f in FIELDS:
            fields[f].append(np.tile(blk.fields[f], count))
        ports.append(np.tile(blk.ports, count))
        origin.append(np.tile(blk.origin, count))
        template.append(np.tile(blk.template, count))
        if blk.extra:
            for off in offs.tolist():
                for r, d in blk.extra.items():
                    extra[off + r] = d
        if blk.num_links:
            for c in LINK_COLUMNS:
                col = blk.links[c]
                if c in ("src", "dst"):
                    links[c].append((col[None, :] + offs[:, None]).ravel())
                else:
                    links[c].append(np.tile(col, count))
        for a, rows, consts in blk.asserts:
            asserts.append((a, (rows[None, :] + offs[:, None]).ravel(), consts))
    for rows, entries in b.member_metas:
        for r in rows.tolist():
            d = extra.get(r, {})
            extra[r] = {**d, "meta": {**d.get("meta", {}), **entries}}
    n_child_links = sum(len(x) for x in links["src"])
    fabrics = _relocate_fabrics(members_by_start)
    for part in b.link_parts:
        for c in LINK_COLUMNS:
            links[c].append(part[c])
    for info, hosts, switches, start, n in b.fabrics:
        fabrics.append(
            (info, hosts, switches, np.arange(n_child_links + start, n_child_links + start + n))
        )
    return Block(
        size=1 + sum(m.count * m.block.size for m in members_by_start),
        kind=_stack(kind, np.uint8),
        parent=_stack(parent, np.int64),
        fields={f: _stack(v, np.float64) for f, v in fields.items()},
        ports=_stack(ports, np.int32),
        origin=_stack(origin, np.int32),
        template=_stack(template, np.int32),
        extra=extra,
        links={c: _stack(links[c], dt) for c, dt in LINK_COLUMNS.items()},
        members=b.members,
        fabrics=fabrics,
        asserts=asserts,
        layout=members_by_start,
    )


#: Blocks up to this many rows keep their ids once made (see :func:`block_ids`).
_KEEP_IDS_ROWS = 1 << 16


def block_ids(block: Block, prefix: str = "") -> list[str]:
    """The dotted id of every row of ``block``, in row order: ``prefix`` for row 0, then
    ``prefix.member3.child`` and so on (with an empty ``prefix``, ``member3.child``). Each id
    is made once; the ids of a small member block are made once and prefixed per copy."""
    out = [prefix]
    _extend_ids(out, block, f"{prefix}." if prefix else "")
    return out


def _extend_ids(out: list[str], block: Block, dot: str) -> None:
    for m in block.layout:
        blk = m.block
        keys = [f"{m.name}{m.lo + k}" for k in range(m.count)] if m.is_array else [m.name]
        if blk.size <= _KEEP_IDS_ROWS:
            if blk.ids is None:
                blk.ids = block_ids(blk)
            inner = blk.ids[1:]  # row 0 is the member's own component, its key
            for key in keys:
                p = dot + key
                out.append(p)
                out.extend(map(f"{p}.".__add__, inner))
        else:
            for key in keys:
                p = dot + key
                out.append(p)
                _extend_ids(out, blk, f"{p}.")


def _stack(parts: list[np.ndarray], dtype) -> np.ndarray:
    """One column from its parts, emptying ``parts`` so that each column's tiles are freed
    as soon as it is joined (at a million GPUs the link tiles alone are about 0.7 GB)."""
    out = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
    parts.clear()
    return out


def _relocate_fabrics(members: list[Member]) -> list:
    """Fabric records of every member copy, in this block's rows and link rows."""
    out = []
    link_base = 0
    for m in members:
        blk = m.block
        for k, off in enumerate(m.offsets.tolist()):
            lb = link_base + k * blk.num_links
            for info, hosts, switches, lrows in blk.fabrics:
                out.append((info, hosts + off, switches + off, lrows + lb))
        link_base += m.count * blk.num_links
    return out
