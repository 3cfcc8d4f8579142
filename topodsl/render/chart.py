"""The memory-reach chart: capacity reachable against latency, one staircase per element.

Each step of a staircase is one distinct latency: the capacity (bytes, cumulative) a compute
element reaches within that latency, from :func:`topodsl.solvers.reach.memory_reach`. Steps
are labelled with the tiers they add (``local``, ``peer``, ``host``, ``cxl``...). Elements with
identical staircases (the eight GPUs of a server) are drawn once and named together.

matplotlib is an optional dependency (``pip install 'topodsl[charts]'``); without it
:func:`render_reach` raises :class:`~topodsl.render.graphviz.RenderError` saying so. Output is
byte-for-byte reproducible: no dates, fixed SVG ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

from ..errors import SolverError
from ..topology import Topology
from ..units import SIZE, TIME, format_quantity
from .graphviz import RenderError

__all__ = [
    "Staircase",
    "reach_staircases",
    "render_reach",
    "default_element",
    "CHART_FORMATS",
    "MAX_LINES",
]

#: File suffixes :func:`render_reach` writes.
CHART_FORMATS = (".svg", ".png", ".pdf")
#: At most this many distinct staircases are drawn (the first, in row order).
MAX_LINES = 6


@dataclass(frozen=True)
class Staircase:
    """One drawn staircase: the elements sharing it and its steps.

    ``latency`` (s) and ``capacity`` (bytes, cumulative) have one entry per step; ``added``
    lists, per step, ``(tier, bytes added)`` pairs in tier order.
    """

    elements: tuple[str, ...]
    latency: tuple[float, ...]
    capacity: tuple[float, ...]
    added: tuple[tuple[tuple[str, float], ...], ...]


def reach_staircases(
    topology: Topology, sources: str | None = None, *, storage: bool = False
) -> tuple[Staircase, ...]:
    """The distinct capacity-versus-latency staircases of the selected compute elements.

    ``sources`` is a selector; by default :func:`default_element`. Raises
    :class:`~topodsl.errors.SolverError` for a bad selection.

    Examples
    --------
    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("c", "cpu")
    >>> _ = b.add_node("near", "dram", capacity=64e9, latency=1e-7)
    >>> _ = b.add_node("far", "cxl_memory", capacity=256e9, latency=2.5e-7)
    >>> _ = b.add_link("c", "near", bandwidth=1e11); _ = b.add_link("c", "far", bandwidth=6.3e10)
    >>> [s] = reach_staircases(b.build(), "c")
    >>> s.elements, s.latency, s.capacity
    (('c',), (1e-07, 2.5e-07), (64000000000.0, 320000000000.0))
    >>> [[added for _tier, added in step] for step in s.added]
    [[64000000000.0], [256000000000.0]]
    """
    from ..solvers.reach import TIERS, memory_reach

    if sources is None:
        rows = default_element(topology)[None]
    else:
        rows = topology.select(sources)
        if len(rows) == 0:
            raise SolverError(f"the selection {sources!r} matches no component")
    result = memory_reach(topology, rows, storage=storage)
    seen: dict[tuple, list[str]] = {}
    steps: dict[tuple, Staircase] = {}
    for src in result.sources.tolist():
        sl = result.rows_of(int(src))
        lat = result.latency[sl]
        cap = result.capacity[sl]
        tier = result.tier[sl]
        if len(lat) == 0:
            continue
        last = np.flatnonzero(np.append(lat[1:] != lat[:-1], True))
        first = np.concatenate([[0], last[:-1] + 1])
        cum = np.cumsum(cap)
        added = []
        for a, b in zip(first.tolist(), last.tolist(), strict=True):
            by_tier = np.bincount(tier[a : b + 1], weights=cap[a : b + 1], minlength=len(TIERS))
            added.append(tuple((TIERS[t], float(by_tier[t])) for t in np.flatnonzero(by_tier)))
        key = (tuple(lat[last].tolist()), tuple(cum[last].tolist()), tuple(added))
        name = topology.nodes.ids[int(src)]
        if key in seen:
            seen[key].append(name)
        else:
            seen[key] = [name]
            steps[key] = Staircase((), key[0], key[1], key[2])
    return tuple(
        Staircase(tuple(seen[k]), s.latency, s.capacity, s.added) for k, s in steps.items()
    )


def default_element(topology: Topology) -> np.ndarray:
    """The element charted when none is selected: the first compute element with no compute
    element inside it, in or under a GPU if there is one (a GPU, or an MI300X's first XCD).

    >>> from topodsl.topology import TopologyBuilder
    >>> b = TopologyBuilder(); _ = b.add_node("c", "cpu"); _ = b.add_node("g", "gpu")
    >>> _ = b.add_node("g.x0", "chiplet", parent="g")
    >>> int(default_element(b.build()))
    2
    """
    compute = topology.rows_of_role("compute")
    if len(compute) == 0:
        raise SolverError("the topology has no compute element to chart the reach of")
    parent = topology.nodes.parent[compute]
    has_inner = np.zeros(topology.num_nodes, dtype=bool)
    has_inner[parent[parent >= 0]] = True
    leaves = compute[~has_inner[compute]]
    gpus = topology.rows_of_kind("gpu")
    if len(gpus):
        under_gpu = np.zeros(topology.num_nodes, dtype=bool)
        under_gpu[gpus] = True
        anc = topology.nodes.parent.copy()
        while (anc >= 0).any():
            ok = anc >= 0
            hit = np.zeros(topology.num_nodes, dtype=bool)
            hit[ok] = under_gpu[anc[ok]]
            under_gpu |= hit
            anc[ok] = topology.nodes.parent[anc[ok]]
        preferred = leaves[under_gpu[leaves]]
        if len(preferred):
            return preferred[0]
    return leaves[0]


def render_reach(
    topology: Topology,
    out_path: str | Path,
    *,
    sources: str | None = None,
    storage: bool = False,
) -> tuple[Staircase, ...]:
    """Draw the reach staircase chart of ``sources`` (a selector) into ``out_path``.

    The suffix (.svg, .png, .pdf) picks the format. Returns the staircases drawn.

    Raises
    ------
    RenderError
        matplotlib is not installed, or the suffix is not one of :data:`CHART_FORMATS`.
    SolverError
        A bad selection, or one that reaches no memory.
    """
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in CHART_FORMATS:
        raise RenderError(
            f"cannot tell the chart format of {str(out)!r}: use a file name ending in "
            + ", ".join(CHART_FORMATS)
        )
    try:
        import matplotlib
    except ImportError:
        raise RenderError(
            "the reach chart needs matplotlib, which is not installed; "
            "install it with: pip install 'topodsl[charts]'"
        ) from None
    stairs = reach_staircases(topology, sources, storage=storage)
    if not stairs:
        raise SolverError("the selected elements reach no memory: nothing to chart")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(
        {"svg.hashsalt": "topodsl", "svg.fonttype": "none", "font.size": 9, "path.simplify": False}
    ):
        fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
        try:
            _draw(ax, stairs, topology)
            fig.tight_layout()
            meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}
            fig.savefig(out, format=suffix[1:], metadata=meta.get(suffix[1:], {}))
        finally:
            plt.close(fig)
    return stairs


_COLORS = ("#1b7837", "#2166ac", "#b2182b", "#762a83", "#e08214", "#35978f")


def _draw(ax, stairs: tuple[Staircase, ...], topology: Topology) -> None:
    lat_all = [x for s in stairs for x in s.latency]
    cap_all = [y for s in stairs for y in s.capacity if y > 0]
    positive = [x for x in lat_all if x > 0]
    # Logarithmic axes only when the values span more than a factor of 20.
    xlog = bool(positive) and max(positive) / min(positive) > 20
    ylog = bool(cap_all) and max(cap_all) / min(cap_all) > 20
    floor = min(positive) / 4 if xlog else 0.0
    top = max(lat_all) if lat_all else 0.0
    right = top * 3 if xlog else (top * 1.2 if top > 0 else 1e-7)
    for i, s in enumerate(stairs[:MAX_LINES]):
        x = [max(v, floor) for v in s.latency]
        y = list(s.capacity)
        name = s.elements[0] + (
            f" (and {len(s.elements) - 1} alike)" if len(s.elements) > 1 else ""
        )
        color = _COLORS[i % len(_COLORS)]
        ax.step(x + [right], y + [y[-1]], where="post", color=color, linewidth=2, label=name)
        ax.plot(x, y, "o", color=color, markersize=4)
        if i == 0 or len(stairs) <= 2:
            for xs, ys, added in zip(x, y, s.added, strict=True):
                text = "\n".join(f"+{format_quantity(b, SIZE)} {t}" for t, b in added)
                ax.annotate(
                    text,
                    (xs, ys),
                    textcoords="offset points",
                    xytext=(5, 3 + 10 * i),
                    va="bottom",
                    fontsize=7,
                    color=color,
                )
    if xlog:
        ax.set_xscale("log")
    else:
        ax.set_xlim(left=-0.02 * right, right=right)
    if ylog:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0, top=max(cap_all, default=1.0) * 1.1)
    ax.set_xlabel("latency (memory access included)")
    ax.set_ylabel("capacity reachable within that latency")
    for axis, dim, log in ((ax.xaxis, TIME, xlog), (ax.yaxis, SIZE, ylog)):
        axis.set_major_formatter(_formatter(dim))
        if log:
            axis.set_minor_formatter(_formatter(dim, minor=True))
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    source = PurePath(topology.source).name or topology.source
    title = f"{source}: memory reach"
    if xlog and any(v <= 0 for v in lat_all):
        title += f" (zero latencies drawn at {format_quantity(floor, TIME)})"
    if len(stairs) > MAX_LINES:
        title += f"; first {MAX_LINES} of {len(stairs)} distinct staircases"
    ax.set_title(title, loc="left", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=False)


def _formatter(dim, minor: bool = False):
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _pos) -> str:
        if v <= 0:
            return "0"
        # Minor ticks only at 2x and 5x a power of ten, so the axis stays uncluttered.
        lead = v / 10 ** np.floor(np.log10(v) + 1e-9)
        if minor and not (np.isclose(lead, 2) or np.isclose(lead, 5)):
            return ""
        return format_quantity(v, dim, 3)

    return FuncFormatter(fmt)
