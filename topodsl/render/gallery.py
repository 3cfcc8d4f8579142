"""Regenerate the diagrams and charts shown in ``docs/rendering.md``.

Run from the repository root::

    python -m topodsl.render.gallery            # writes docs/images/
    python -m topodsl.render.gallery OUT_DIR    # writes elsewhere

Every image is drawn from a file in ``topologies/`` with the same options a user would give
``topodsl render``, so the docs show exactly what the command produces. Output is deterministic:
running it twice on one machine gives the same bytes (Graphviz's version is written into SVGs,
so another Graphviz may differ).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GALLERY", "ChartSpec", "DiagramSpec", "build_gallery"]


@dataclass(frozen=True)
class DiagramSpec:
    """One diagram: ``topologies/<source>`` drawn into ``<name>`` with ``options``."""

    name: str
    source: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ChartSpec:
    """One reach chart of ``topologies/<source>`` from the elements ``sources`` selects."""

    name: str
    source: str
    sources: str | None = None
    storage: bool = False


GALLERY: tuple[DiagramSpec | ChartSpec, ...] = (
    DiagramSpec("dgx_h100.svg", "dgx_h100.topo"),
    DiagramSpec("dgx_h100_bisection.svg", "dgx_h100.topo", {"highlight": "bisection"}),
    DiagramSpec("mi300x.svg", "mi300x.topo"),
    DiagramSpec("mi300x_gpu0.svg", "mi300x.topo", {"focus": "server.gpu0"}),
    DiagramSpec("gb200_nvl72.svg", "gb200_nvl72.topo"),
    DiagramSpec("cluster_256.svg", "cluster_256.topo"),
    DiagramSpec(
        "cluster_256_storage.svg",
        "cluster_256.topo",
        {"highlight": "flow:pod.store[*].ssd[*]->pod.node[*].gpu[*]"},
    ),
    DiagramSpec("cxl_pool.svg", "cxl_pool.topo"),
    ChartSpec("cxl_pool_reach.svg", "cxl_pool.topo"),
    ChartSpec("mi300x_reach.svg", "mi300x.topo", storage=True),
)


def build_gallery(
    out_dir: str | Path = "docs/images", topologies: str | Path = "topologies"
) -> list[tuple[str, float]]:
    """Draw every image of :data:`GALLERY` into ``out_dir``; returns (name, seconds) pairs."""
    from .. import load
    from . import render
    from .chart import render_reach

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for spec in GALLERY:
        topo = load(Path(topologies) / spec.source)
        t0 = time.perf_counter()
        if isinstance(spec, DiagramSpec):
            render(topo, out / spec.name, **spec.options)
        else:
            render_reach(topo, out / spec.name, sources=spec.sources, storage=spec.storage)
        done.append((spec.name, time.perf_counter() - t0))
    return done


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "docs/images"
    for name, seconds in build_gallery(target):
        print(f"{target}/{name}  {seconds:.2f} s")
