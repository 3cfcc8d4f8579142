r"""Diagrams of a topology: boxes placed by structure, drawn by Graphviz; and an HTML view.

:func:`to_dot` returns the DOT text; :func:`render` writes ``.svg``, ``.png``, ``.pdf`` (drawn by
Graphviz), ``.dot`` (no Graphviz needed) or ``.html`` (the interactive view of
:mod:`topodsl.render.html`), chosen by the file's suffix. Containment is drawn as nested
clusters; each kind has its own shape and colour (see the legend in every diagram); edges are
labelled with link type, lanes and bandwidth per direction, one edge per bundle. Boxes are
placed by the structure the topology was built with (:mod:`topodsl.render.layout`): tiers,
grids for tori and meshes, circles for rings. Large topologies are collapsed to a readable
depth and like arrays folded; at an explicit depth larger than a slide, identical members of
each array are drawn once (see :mod:`topodsl.render.view`). The same topology always gives
the same bytes.

The capacity-versus-latency chart of memory reach is in :mod:`topodsl.render.chart`.

Examples
--------
>>> from topodsl.topology import TopologyBuilder
>>> b = TopologyBuilder("demo.topo")
>>> _ = b.add_node("srv", "node")
>>> _ = b.add_node("srv.gpu0", "gpu", parent="srv")
>>> _ = b.add_node("srv.gpu1", "gpu", parent="srv")
>>> _ = b.add_link("srv.gpu0", "srv.gpu1", bandwidth=450e9, type="nvlink4", lanes=18)
>>> text = to_dot(b.build())
>>> 'subgraph "cluster_srv" {' in text, 'label="nvlink4 ×18\\n450 GB/s"' in text
(True, True)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..topology import Topology
from .diagram import Highlight, diagram_dot, resolve_highlight
from .graphviz import GRAPHVIZ_FORMATS, RenderError, find_dot, measure_nodes, run_layout
from .view import SLIDE, Box, Budget, Edge, View, build_view

__all__ = [
    "to_dot",
    "render",
    "diagram",
    "build_view",
    "resolve_highlight",
    "RenderError",
    "View",
    "Box",
    "Edge",
    "Budget",
    "Highlight",
    "FORMATS",
    "find_dot",
]

#: File suffixes :func:`render` writes.
FORMATS = (".svg", ".png", ".pdf", ".dot", ".html")
#: Largest view handed to Graphviz; beyond it layout takes minutes and draws a hairball.
MAX_LAYOUT_SHAPES = 1_000
MAX_LAYOUT_EDGES = 3_000


def diagram(
    topology: Topology,
    *,
    depth: int | None = None,
    focus: str | None = None,
    highlight: str | None = None,
    fold: bool = True,
    budget: Budget | None = None,
    limit: Budget | None = None,
    measure: bool = False,
) -> tuple[str, View]:
    """The DOT text of ``topology`` and the :class:`View` it draws (see :func:`to_dot`);
    ``measure`` sizes boxes with Graphviz instead of estimating them."""
    view = build_view(topology, depth=depth, focus=focus, fold=fold, budget=budget, limit=limit)
    mark = resolve_highlight(topology, highlight) if highlight else None
    return diagram_dot(view, mark, measure=measure_nodes if measure else None), view


def to_dot(
    topology: Topology,
    *,
    depth: int | None = None,
    focus: str | None = None,
    highlight: str | None = None,
    fold: bool = True,
    budget: Budget | None = None,
) -> str:
    """The diagram of ``topology`` as Graphviz DOT text.

    Parameters
    ----------
    topology : Topology
    depth : draw components at this containment depth (0 = top level) as single boxes and
        aggregate the links between them. ``None`` (default) draws full detail when it fits the
        budget (80 shapes, 60 edges) and otherwise the deepest depth that does, folding
        arrays of like siblings (``node[0..31] ×32``) when no depth fits on its own.
    focus : dotted id of one component drawn in detail, with its linked neighbours collapsed.
    highlight : ``"bisection"`` or ``"flow:SOURCES->SINKS"`` (selectors): the limiting cut is
        drawn in red and its figure stated in the caption.
    fold : fold arrays of like components (see :mod:`topodsl.render.view`): alike devices
        always, identical members at an explicit ``depth`` whose view is larger than
        :data:`SLIDE` (``node[0..31] ×32``; a member that differs stays its own box), and, in
        the automatic view, like arrays until it fits ``budget``. False folds none.
    budget : the limits of the automatic view (:class:`Budget`).

    Returns
    -------
    str
        DOT text; the same topology and arguments always give the same text.

    Raises
    ------
    SolverError
        A bad focus, depth or highlight (the message says which and why).

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder()
    >>> _ = b.add_node("a", "gpu"); _ = b.add_node("b", "hbm", capacity=16e9)
    >>> _ = b.add_link("a", "b", bandwidth=670e9, type="hbm3")
    >>> text = to_dot(b.build(), highlight="flow:a->b")
    >>> 'class="link type-hbm3 cut"' in text and "max flow a → b: 670 GB/s" in text
    True
    """
    return diagram(
        topology, depth=depth, focus=focus, highlight=highlight, fold=fold, budget=budget
    )[0]


def render(
    topology: Topology,
    out_path: str | Path,
    *,
    depth: int | None = None,
    focus: str | None = None,
    highlight: str | None = None,
    fold: bool = True,
    budget: Budget | None = None,
) -> View:
    """Draw ``topology`` into ``out_path``; its suffix (.svg, .png, .pdf, .dot, .html) picks the
    format.

    Arguments as for :func:`to_dot`. Returns the :class:`View` drawn (what was collapsed,
    folded, and how many boxes and edges); its ``notes`` hold Graphviz's warnings and, when
    curved edges could not be routed, the simpler routing used instead. An explicit ``depth``
    whose view is larger than Graphviz lays out readably has arrays of like components
    folded until it fits (``View.folded`` names them). ``.html`` writes the interactive view
    (:func:`topodsl.render.html.write_html`; ``fold`` and ``budget`` do not apply).

    Raises
    ------
    RenderError
        An unknown suffix, Graphviz's ``dot`` missing (the message says how to install it) or
        failing, or a view larger than :data:`MAX_LAYOUT_SHAPES` / :data:`MAX_LAYOUT_EDGES`
        for a format Graphviz lays out.
    SolverError
        A bad focus, depth or highlight.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("a", "gpu")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.dot"
    >>> render(b.build(), out).num_shapes
    1
    >>> out.read_text().startswith("graph topology {")
    True
    """
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise RenderError(
            f"cannot tell the format of {str(out)!r}: use a file name ending in "
            + ", ".join(FORMATS)
        )
    if suffix == ".html":
        from .html import write_html

        return write_html(topology, out, depth=depth, focus=focus, highlight=highlight)
    if suffix != ".dot":
        find_dot()  # fail before any work when Graphviz is missing
    # An explicit depth too large for a slide draws one of each array of identical parts in
    # detail and folds the rest of the array, until it fits.
    limit = SLIDE if fold else None
    text, view = diagram(
        topology,
        depth=depth,
        focus=focus,
        highlight=highlight,
        fold=fold,
        budget=budget,
        limit=limit,
        measure=suffix != ".dot",
    )
    if suffix != ".dot" and (
        view.num_shapes > MAX_LAYOUT_SHAPES or len(view.edges) > MAX_LAYOUT_EDGES
    ):
        raise RenderError(
            f"this view has {view.num_shapes:,} shapes and {len(view.edges):,} edges, more than "
            f"Graphviz lays out readably ({MAX_LAYOUT_SHAPES:,} shapes, {MAX_LAYOUT_EDGES:,} "
            "edges), even with arrays folded; use a smaller --depth or --focus on one part, "
            "or write .html for the interactive view (a .dot file is written whatever its size)"
        )
    if suffix == ".dot":
        data = text.encode("utf-8")
    else:
        drawn = run_layout(text, GRAPHVIZ_FORMATS[suffix])
        data = drawn.data
        view = replace(view, notes=drawn.warnings)
    try:
        out.write_bytes(data)
    except OSError as e:
        raise RenderError(f"cannot write {out}: {e.strerror or e}") from None
    return view
