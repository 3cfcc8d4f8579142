"""``placement(workload = NAME)``: where a workload's parallel groups land badly.

``.findings`` (all of them), ``.tp_scale_out`` (tensor-parallel groups talking over a NIC or a
network switch), ``.ring_crossings`` (rings that send two hops over one link in one direction)
and ``.shared_bottlenecks`` (groups that meet at the link between switches limiting their
step). Solver: :func:`topodsl.solvers.placement.placement_lints`.
"""

from __future__ import annotations

from ..units import COUNT
from .figures import Figure
from .jobs import figures_from, workload_of, workload_param
from .registry import Analysis, Field, register


def _compute(solve, ctx, args):
    return solve(ctx.topology, workload_of(ctx, args, required=True))


def figure_map(r, notes: tuple[str, ...] = ()) -> dict[str, Figure]:
    """The figures of a placement check: counts of findings."""
    shown = tuple(f.message for f in r.findings[:3])
    counts = {"tp_scale_out": "tp-scale-out", "ring_crossings": "ring-crossing",
              "shared_bottlenecks": "shared-bottleneck"}  # fmt: skip
    out = {"findings": Figure.exact(len(r.findings), COUNT, notes=tuple(notes) + shown)}
    for field, lint in counts.items():
        mine = tuple(f.message for f in r.findings if f.lint == lint)[:3]
        out[field] = Figure.exact(r.count(lint), COUNT, notes=tuple(notes) + mine)
    return out


def _text(r) -> str:
    from ..report.workload import format_placement

    return format_placement(r)


def _json(r) -> dict:
    from ..report.workload import placement_to_dict

    return placement_to_dict(r)


register(
    Analysis(
        name="placement",
        signature="placement(workload = NAME)",
        help="placement lints of a workload's parallel groups: .findings (count), "
        ".tp_scale_out (tensor-parallel groups talking over a NIC or network switch), "
        ".ring_crossings (a ring sending two hops over one link in one direction), "
        ".shared_bottlenecks (groups meeting at the link between switches that limits them)",
        summary="Placement lints of a workload: a tensor-parallel group that spans a scale-out "
        "link, a ring that crosses the same link twice, groups that share a bottleneck link.",
        params=(workload_param("The workload to check (default: the only one)."),),
        fields=(
            Field("findings", COUNT, "placement problems found", better="lower"),
            Field(
                "tp_scale_out", COUNT, "tensor-parallel groups over scale-out links", better="lower"
            ),
            Field("ring_crossings", COUNT, "rings crossing one link twice", better="lower"),
            Field(
                "shared_bottlenecks",
                COUNT,
                "dimensions whose groups share a bottleneck",
                better="lower",
            ),
        ),
        compute=_compute,
        figures=figures_from(figure_map),
        default_field="findings",
        solver="topodsl.solvers.placement:placement_lints",
        text=_text,
        json=_json,
        common=("forwarding",),
    )
)
