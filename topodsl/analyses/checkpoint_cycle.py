"""``checkpoint_cycle(SIZE, interval = TIME, keep = N, from GPUS, to SSDS, archive = HDDS)``:
the lifecycle of a training job's checkpoints on the real data paths.

``.write_s`` (GPUs to the SSD tier, the stall of a synchronous save), ``.stall_fraction``,
``.drain_s`` (SSD tier to HDD tier), ``.drain_utilisation`` and ``.drain_keeps_up`` (1 or 0; the
interval [0, 1] when the flow's bracket straddles the answer), ``.ssd_needed`` (``(keep + 1) x
size``), ``.ssd_capacity``, ``.archive_checkpoints`` and ``.archive_retention_s`` (history the
HDD tier holds), and with an MTBF ``.young_daly_s`` (``sqrt(2 x write x MTBF)``),
``.goodput`` (at the interval) and ``.goodput_young_daly``. The ``analyze`` command is also
``checkpoint-cycle``. Solver: :func:`topodsl.solvers.lifecycle.checkpoint_cycle`.
"""

from __future__ import annotations

from ..units import COUNT, SIZE, TIME
from .figures import Figure
from .jobs import bracket, explicit, figures_from, script_keys, workload_of, workload_param, yes_no
from .registry import (
    QUANTITY,
    SELECTION,
    Analysis,
    Field,
    Param,
    endpoint_param,
    register,
    size_param,
)


def _compute(solve, ctx, args):
    from ..workload import checkpoint_size

    w = workload_of(ctx, args)
    policy = w.checkpoint if w is not None else None
    size = args["size"] if "size" in args else (checkpoint_size(w) if w is not None else None)
    size = explicit(args, "size", size, "a checkpoint size")
    interval = explicit(args, "interval", policy.interval if policy else None,
                        "a checkpoint interval")  # fmt: skip
    keep = args.get("keep", policy.keep if policy else 1)
    if not float(keep).is_integer():
        from .run import ArgumentError

        raise ArgumentError("keep is a whole number of checkpoints", param="keep")
    kw = {}
    for name, default in (("sources", policy and policy.sources), ("ssd", policy and policy.ssd),
                          ("archive", policy and policy.archive)):  # fmt: skip
        if name in args:
            kw[name] = args[name]
        elif default is not None:
            kw[name] = default.rows
    mtbf = args.get("mtbf", w.mtbf if w is not None else None)
    return solve(ctx.topology, size, interval, keep=int(keep), mtbf=mtbf, **kw)


def figure_map(c, notes: tuple[str, ...] = ()) -> dict[str, Figure]:
    """The figures of a checkpoint lifecycle."""
    w_cut = tuple(c.write_leg.uniform.bottleneck)
    d_cut = tuple(c.drain_leg.uniform.bottleneck)
    u_lo, u_hi = c.drain_utilisation
    drain_note = ("the drain shares a link direction or a device with the write: its window is "
                  "the interval less the write",) if c.shared else ()  # fmt: skip
    out = {
        "write_s": bracket(*c.write, TIME, w_cut, notes),
        "stall_fraction": bracket(*c.stall_fraction, COUNT, w_cut, notes),
        "drain_s": bracket(*c.drain, TIME, d_cut, notes),
        "drain_utilisation": bracket(u_lo, u_hi, COUNT, d_cut, notes + drain_note),
        "drain_keeps_up": yes_no(u_lo <= 1, u_hi <= 1, notes + drain_note),
        "ssd_needed": Figure.exact(
            c.ssd_needed, SIZE, notes=notes + (f"{c.keep} kept + 1 being written",)
        ),
        "ssd_capacity": Figure.exact(c.ssd_capacity, SIZE, notes=notes),
        "archive_checkpoints": Figure.exact(c.archive_checkpoints, COUNT, notes=notes),
        "archive_retention_s": Figure.exact(c.archive_retention, TIME, notes=notes),
    }
    if c.young_daly is not None:
        out["young_daly_s"] = bracket(*c.young_daly, TIME, w_cut, notes)
        out["goodput"] = bracket(*c.goodput, COUNT, w_cut, notes)
        out["goodput_young_daly"] = bracket(*c.goodput_young_daly, COUNT, w_cut, notes)
    return out


def _text(c) -> str:
    from ..report.workload import format_checkpoint_cycle

    return format_checkpoint_cycle(c, figure_map(c))


def _json(c) -> dict:
    from ..report.workload import checkpoint_cycle_to_dict

    keys = script_keys(figure_map(c), {
        "write_s": "write_s", "drain_s": "drain_s", "drain_keeps_up": "drain_keeps_up:bool",
        "ssd_needed": "ssd_needed", "archive_retention_s": "archive_retention_s:low",
    })  # fmt: skip
    return keys | checkpoint_cycle_to_dict(c)


register(
    Analysis(
        name="checkpoint_cycle",
        signature="checkpoint_cycle(SIZE, interval = TIME, keep = N, from GPUS, to SSDS, "
        "archive = HDDS)",
        help="a checkpoint's lifecycle on the real data paths: .write_s (GPUs to the SSD tier: "
        "the stall), .stall_fraction, .drain_s (SSD to HDD), .drain_utilisation, "
        ".drain_keeps_up (1 or 0), .ssd_needed ((keep + 1) x size), .ssd_capacity, "
        ".archive_checkpoints, .archive_retention_s and, with an MTBF, .young_daly_s, .goodput, "
        ".goodput_young_daly; inputs from a workload's checkpoint { } section or given here",
        summary="The lifecycle of a checkpoint of --size written every --interval: write time "
        "to the SSD tier (the training stall), whether the drain to the HDD tier keeps up, the "
        "SSD capacity --keep copies need, how long the HDD tier retains history, and the "
        "Young/Daly interval with the goodput it gives.\n\nBoth flows are the real data paths "
        "(the checkpoint and drain scenarios): every GPU writes an equal shard at once, the SSDs "
        "drain to the HDDs. Also: topodsl analyze checkpoint-cycle.",
        params=(
            size_param("Bytes per checkpoint (default: the workload's).", position=0),
            Param(
                "interval",
                QUANTITY,
                "Time between checkpoints, e.g. '30min'.",
                dim=TIME,
                positive=True,
                metavar="TIME",
                what="the checkpoint interval",
            ),
            Param(
                "keep",
                QUANTITY,
                "Checkpoints kept on the SSD tier (default 1, or the workload's).",
                dim=COUNT,
                positive=True,
                metavar="N",
                what="the checkpoints kept",
            ),
            endpoint_param(
                "sources", "from", "Who writes (default: every GPU, or the workload's)."
            ),
            endpoint_param("ssd", "to", "The SSD tier (default: every SSD, or the workload's)."),
            Param(
                "archive",
                SELECTION,
                "The HDD tier older checkpoints move to (default: every HDD, or the workload's).",
                metavar="SELECTOR",
                what="archive selection",
            ),
            Param(
                "mtbf",
                QUANTITY,
                "Mean time between failures, for the Young/Daly interval "
                "(default: the workload's).",
                dim=TIME,
                positive=True,
                metavar="TIME",
                what="the MTBF",
            ),
            workload_param(),
        ),
        fields=(
            Field("write_s", TIME, "time to write one checkpoint to the SSD tier", False, "lower"),
            Field("stall_fraction", COUNT, "share of the interval spent writing", False, "lower"),
            Field("drain_s", TIME, "time to drain one checkpoint to the HDD tier", False, "lower"),
            Field(
                "drain_utilisation",
                COUNT,
                "drain time over the time it has per interval",
                False,
                "lower",
            ),
            Field(
                "drain_keeps_up",
                COUNT,
                "1 when the drain keeps up with the interval",
                False,
                "higher",
            ),
            Field("ssd_needed", SIZE, "bytes the SSD tier must hold", better="lower"),
            Field("ssd_capacity", SIZE, "bytes of the SSD tier", better="higher"),
            Field(
                "archive_checkpoints",
                COUNT,
                "whole checkpoints the HDD tier holds",
                better="higher",
            ),
            Field("archive_retention_s", TIME, "history the HDD tier holds", better="higher"),
            Field("young_daly_s", TIME, "Young's interval sqrt(2 x write x MTBF)", False),
            Field("goodput", COUNT, "useful share of time at the interval", False, "higher"),
            Field(
                "goodput_young_daly",
                COUNT,
                "useful share of time at Young's interval",
                False,
                "higher",
            ),
        ),
        compute=_compute,
        figures=figures_from(figure_map),
        solver="topodsl.solvers.lifecycle:checkpoint_cycle",
        text=_text,
        json=_json,
        common=("forwarding",),
        aliases=("checkpoint-cycle",),
    )
)
