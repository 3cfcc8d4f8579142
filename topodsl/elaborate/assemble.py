"""Assembly: the top-level block becomes the :class:`~topodsl.topology.Topology`.

The top-level body is a virtual row 0 (a ``group`` that is no component); assembly drops it,
turns the block's columns into the :class:`~topodsl.topology.NodeTable` and
:class:`~topodsl.topology.LinkTable`, runs the checks of the whole graph (ports, unconnected
compute elements: :mod:`.checks`), and gives each recorded assertion the ids of the
components it holds in (:class:`AssertSpec`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ast
from ..errors import MAX_DIAGNOSTICS
from ..topology import NODE_FIELDS, FabricInfo, LinkTable, NodeTable, Topology
from ..units import Dim
from .blocks import Block, block_ids
from .checks import check_ports, unconnected
from .state import Elaboration

__all__ = ["AssertSpec", "assemble"]


@dataclass(frozen=True)
class AssertSpec:
    """An ``assert`` statement and the components it was declared in.

    ``scopes`` are the dotted ids of the components whose body holds the assertion (``""`` for
    the top level); an assertion in a definition applies once per instance. ``constants`` are
    the numbers visible where it stands (constants, a definition's parameters, loop variables)
    as ``(name, value in SI base units, Dim)``, sorted by name, whole numbers as ints; a
    definition used with other arguments gives another spec.
    """

    node: ast.Assert
    scopes: tuple[str, ...]
    constants: tuple[tuple[str, int | float, Dim], ...] = ()


def assemble(el: Elaboration, block: Block, source: str) -> Topology:
    """The Topology of the top-level ``block`` (row 0 is the file itself)."""
    n = block.size - 1
    nodes = _nodes(block)
    links = _links(el, block)
    check_ports(el, nodes, links)
    warnings = el.sink.all_warnings() + unconnected(el, nodes, links)[:MAX_DIAGNOSTICS]
    fabrics = tuple(
        FabricInfo(
            info.name,
            info.generator,
            info.params,
            hosts - 1,
            switches - 1,
            np.asarray(lrows, dtype=np.int64),
            info.span,
        )
        for info, hosts, switches, lrows in block.fabrics
    )
    ids = nodes.ids
    asserts, risks = [], []
    for a, rows, consts in block.asserts:
        scopes = tuple("" if r == 0 else ids[r - 1] for r in rows.tolist())
        (risks if isinstance(a, ast.Risk) else asserts).append(AssertSpec(a, scopes, consts))
    if n == 0:
        el.sink.warning(None, "the file declares no components")
        warnings = el.sink.all_warnings()
    topology = Topology(
        nodes=nodes,
        links=links,
        link_type_names=tuple(el.type_names),
        link_types=dict(el.link_types),
        spans=tuple(el.spans),
        templates=tuple(el.templates),
        source=source,
        warnings=tuple(warnings),
        assertions=tuple(asserts),
        fabrics=fabrics,
        source_texts=dict(el.texts),
        constants=el.top_constants.constants(),
        overrides=el.top_constants.settings(),
    )
    if risks:
        from ..risks import risk_groups

        topology = risk_groups(topology, [(r.node, r.scopes, r.constants) for r in risks], el.sink)
    return topology


def _nodes(block: Block) -> NodeTable:
    # Drop the virtual top-level row 0: everything shifts down by one.
    parent = block.parent[1:] - 1
    parent[parent < 0] = -1
    ids = block_ids(block)
    del ids[0]  # in place: a slice would copy a list of millions
    return NodeTable(
        ids=ids,
        kind=block.kind[1:].astype(np.uint8),
        parent=parent.astype(np.int32),
        ports=block.ports[1:].astype(np.int32),
        origin=block.origin[1:].astype(np.int32),
        template=block.template[1:].astype(np.int32),
        extra={r - 1: d for r, d in block.extra.items() if r > 0},
        **{f: block.fields[f][1:] for f in NODE_FIELDS},
    )


def _links(el: Elaboration, block: Block) -> LinkTable:
    L = block.links
    return LinkTable(
        src=(L["src"] - 1).astype(np.int32),
        dst=(L["dst"] - 1).astype(np.int32),
        bandwidth=L["bandwidth"],
        latency=L["latency"],
        lanes=L["lanes"],
        type=L["type"],
        simplex=L["simplex"],
        half_duplex=L["half"],
        origin=L["origin"],
        extra=_link_extra(el, L["meta"]),
    )


def _link_extra(el: Elaboration, meta: np.ndarray) -> dict[int, dict]:
    """The ``meta`` of the few links whose connection had a meta block, by link row (found
    with numpy: a Python pass over 14 million links would cost seconds)."""
    rows = np.flatnonzero(meta >= 0)
    metas = meta[rows].tolist()
    return {e: {"meta": el.link_metas[m]} for e, m in zip(rows.tolist(), metas, strict=True)}
