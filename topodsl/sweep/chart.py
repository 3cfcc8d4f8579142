"""A chart of a sweep: one column against another, across the whole design space.

Each point that evaluated is a marker; points that differ only in the X column are joined by a
line, one line (and one colour) per combination of the other parameters, so the chart reads as
"Y against X, for each SPINES". Points on the Pareto front (with ``--pareto``) are ringed.
Axes carry the columns' units with readable prefixes. matplotlib is optional (``pip install
'topodsl[charts]'``); the output is reproducible byte for byte (no dates, fixed SVG ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .table import SweepTable

__all__ = ["ChartError", "render_chart", "CHART_FORMATS", "MAX_SERIES"]

CHART_FORMATS = (".png", ".svg", ".pdf")
#: At most this many lines get their own colour and legend entry; more are drawn grey.
MAX_SERIES = 8

_COLORS = ("#2166ac", "#b2182b", "#1b7837", "#762a83", "#e08214", "#35978f", "#8c510a", "#c51b7d")


class ChartError(Exception):
    """The chart cannot be drawn (matplotlib missing, a format not known)."""


def _dim(unit: str):
    from ..units import COUNT, UNITS

    return UNITS[unit][1] if unit in UNITS else COUNT


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def render_chart(table: SweepTable, x: str, y: str, out_path: str | Path) -> int:
    """Draw column ``y`` against column ``x`` of ``table`` into ``out_path`` (the suffix picks
    .png, .svg or .pdf); returns the number of points drawn."""
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in CHART_FORMATS:
        raise ChartError(f"cannot tell the chart format of {str(out)!r}: use .png, .svg or .pdf")
    try:
        import matplotlib
    except ImportError:
        raise ChartError(
            "--chart needs matplotlib, which is not installed; pip install 'topodsl[charts]'"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from ..analyses.figures import format_figure

    kx, ky = table.index(x), table.index(y)
    others = [table.index(c.name) for c in table.parameters if c.name != x]
    ok = table.index("status")
    pareto = table.index("pareto") if any(c.name == "pareto" for c in table.columns) else None
    series: dict[tuple, list[tuple[float, float, bool]]] = {}
    for r in table.rows:
        px, py = _number(r[kx]), _number(r[ky])
        if r[ok] != "ok" or px is None or py is None:
            continue
        key = tuple(r[k] for k in others)
        series.setdefault(key, []).append((px, py, bool(pareto is not None and r[pareto])))
    if not series:
        raise ChartError(f"no point has both {x} and {y}: nothing to chart")
    cx, cy = table.columns[kx], table.columns[ky]
    names = [table.columns[k].name for k in others]
    with matplotlib.rc_context(
        {"svg.hashsalt": "topodsl", "svg.fonttype": "none", "font.size": 9, "path.simplify": False}
    ):
        fig, ax = plt.subplots(figsize=(8, 4.8), dpi=100)
        try:
            for i, (key, pts) in enumerate(series.items()):
                pts.sort()
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                named = i < MAX_SERIES
                color = _COLORS[i % len(_COLORS)] if named else "#bbbbbb"
                label = None
                if named and names:
                    label = ", ".join(
                        f"{n}={format_figure(float(v), _dim(table.columns[k].unit))}"
                        if isinstance(v, int | float) else f"{n}={v}"
                        for n, v, k in zip(names, key, others, strict=True)
                    )  # fmt: skip
                ax.plot(xs, ys, "-o", color=color, markersize=4, linewidth=1.2, label=label)
                front = [(p[0], p[1]) for p in pts if p[2]]
                if front:
                    ax.plot(*zip(*front, strict=True), "o", markersize=10, markerfacecolor="none",
                            markeredgecolor="black", markeredgewidth=1.2)  # fmt: skip
            for axis, col in ((ax.xaxis, cx), (ax.yaxis, cy)):
                dim = _dim(col.unit)
                axis.set_major_formatter(FuncFormatter(lambda v, _p, d=dim: format_figure(v, d)))
            ax.set_xlabel(cx.header)
            ax.set_ylabel(cy.header)
            ax.grid(True, color="#dddddd", linewidth=0.6)
            title = f"{table.meta.get('file') or 'sweep'}: {cy.name} against {cx.name}"
            if pareto is not None:
                title += " (ringed: Pareto front)"
            ax.set_title(title, loc="left", fontsize=10)
            if names and len(series) > 1:
                ax.legend(loc="best", fontsize=8, frameon=False)
            fig.tight_layout()
            meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}
            fig.savefig(out, format=suffix[1:], metadata=meta.get(suffix[1:], {}))
        finally:
            plt.close(fig)
    return sum(len(p) for p in series.values())
