"""``inference_fit(GPUS, weights = SIZE, kv = SIZE, tp = N)``: whether an inference job's
weights and KV cache fit in the memory its GPUs reach, and the decode rate memory allows.

``.need`` (bytes per GPU: its shard of the weights and of its replica's KV cache), ``.fits_own``
and ``.fits`` (1 or 0: in the GPUs' own memory; anywhere they reach), ``.unplaced`` (bytes no
memory could take), ``.overflow_latency`` (the farthest memory holding overflow),
``.step_time`` (a decode step's lower bound), ``.decode_rate`` (tokens/s per sequence, at most),
``.throughput`` (tokens/s over every sequence, at most) and, with a target time per token,
``.target_possible`` (0 when memory bandwidth alone rules it out). Inputs from a workload's
``model`` and ``inference`` sections or given here. Solver:
:func:`topodsl.solvers.inference.inference_fit`.
"""

from __future__ import annotations

from ..units import COUNT, SIZE, TIME, Dim
from .figures import Figure
from .jobs import explicit, figures_from, script_keys, workload_of, workload_param
from .registry import QUANTITY, SELECTION, Analysis, Field, Param, register

RATE = Dim(second=-1)


def _compute(solve, ctx, args):
    w = workload_of(ctx, args)
    weights = kv = tp = sequences = target = None
    if w is not None:
        m, inf = w.model, w.inference
        if m.parameters is not None:
            weights = m.parameters * m.weight_bytes
        if None not in (inf.kv_bytes_per_token, inf.context):
            kv = inf.kv_bytes_per_token * inf.context * inf.concurrency
        tp, sequences, target = w.parallel.tp, inf.concurrency, inf.target_latency
    weights = explicit(args, "weights", weights, "the weights' size (or a workload's model "
                       "parameters)")  # fmt: skip
    kv = explicit(args, "kv", kv, "the KV cache", needed=False) or 0.0
    tp = int(explicit(args, "tp", tp, "", needed=False) or 1)
    sequences = int(explicit(args, "sequences", sequences, "", needed=False) or 1)
    target = explicit(args, "target_latency", target, "", needed=False)
    gpus = args.get("gpus", w.gpus.rows if w is not None else "kind:gpu")
    for name, v in (("tp", tp), ("sequences", sequences)):
        if not float(v).is_integer() or v < 1:
            from .run import ArgumentError

            raise ArgumentError(f"{name} is a whole number of at least 1", param=name)
    return solve(ctx.topology, gpus, weights=weights, kv=kv, tp=tp, sequences=sequences,
                 target_latency=target)  # fmt: skip


def figure_map(r, notes: tuple[str, ...] = ()) -> dict[str, Figure]:
    """The figures of an inference fit."""
    n = len(r.gpus)
    notes = tuple(notes) + (f"{n} GPUs, {r.replicas} replica(s) of tp = {r.tp}",)
    step_notes = notes + ((f"bound: {r.bounds[0].what}",) if r.bounds else ())
    out = {
        "need": Figure.exact(r.need, SIZE, notes=notes),
        "fits_own": Figure.exact(float(r.fits_own), COUNT, notes=notes),
        "fits": Figure.exact(float(r.fits), COUNT, notes=notes),
        "unplaced": Figure.exact(r.unplaced, SIZE, notes=notes),
        "step_time": Figure.exact(r.step_time, TIME, notes=step_notes),
        "decode_rate": Figure.exact(r.decode_rate, RATE, notes=step_notes),
        "throughput": Figure.exact(r.throughput, RATE, notes=step_notes),
    }
    if r.overflow_latency is not None:
        out["overflow_latency"] = Figure.exact(
            r.overflow_latency, TIME, notes=notes + (f"overflow reaches the {r.farthest} tier",)
        )
    if r.target_possible is not None:
        out["target_possible"] = Figure.exact(float(r.target_possible), COUNT, notes=step_notes)
    return out


def _text(r) -> str:
    from ..report.workload import format_inference_fit

    return format_inference_fit(r, figure_map(r))


def _json(r) -> dict:
    from ..report.workload import inference_fit_to_dict

    keys = script_keys(figure_map(r), {"fits": "fits:bool", "step_time": "step_time:low",
                                       "decode_rate": "decode_rate"})  # fmt: skip
    return keys | inference_fit_to_dict(r)


register(
    Analysis(
        name="inference_fit",
        signature="inference_fit(GPUS, weights = SIZE, kv = SIZE, tp = N)",
        help="whether an inference job's weights and KV cache fit in the memory its GPUs reach "
        "(own memory first, then peers, host, CXL, nearest first) and the decode rate memory "
        "bandwidth allows: .need (per GPU), .fits_own, .fits (1 or 0), .unplaced, "
        ".overflow_latency, .step_time (lower bound), .decode_rate and .throughput (tokens/s, at "
        "most), .target_possible",
        summary="Inference memory fit on --gpus: weights and KV cache against every tier each "
        "GPU reaches, the decode-rate bound (tokens/s <= bandwidth / bytes read per token) tier "
        "by tier, and the latency of the tier holding the overflow.\n\nEach GPU holds 1/tp of "
        "the weights and of its replica's KV cache; a decode step reads all of it once. Inputs "
        "from --workload or given here.",
        params=(
            Param(
                "gpus",
                SELECTION,
                "The GPUs serving, tp per replica (default: every GPU, or the workload's).",
                position=0,
                metavar="SELECTOR",
                what="GPU selection",
            ),
            Param(
                "weights",
                QUANTITY,
                "Bytes of the model's weights (default: the workload's parameters x weight_bytes).",
                dim=SIZE,
                positive=True,
                metavar="SIZE",
                what="the weights' size",
            ),
            Param(
                "kv",
                QUANTITY,
                "Bytes of one replica's KV cache at full context (default: "
                "kv_bytes_per_token x context x concurrency).",
                dim=SIZE,
                metavar="SIZE",
                what="the KV cache's size",
            ),
            Param(
                "tp",
                QUANTITY,
                "GPUs per replica (default 1, or the workload's).",
                dim=COUNT,
                positive=True,
                metavar="N",
                what="GPUs per replica",
            ),
            Param(
                "sequences",
                QUANTITY,
                "Sequences each replica serves at once (default 1, or the workload's concurrency).",
                dim=COUNT,
                positive=True,
                metavar="N",
                what="sequences per replica",
            ),
            Param(
                "target_latency",
                QUANTITY,
                "Time per output token to meet, e.g. '50ms'.",
                dim=TIME,
                positive=True,
                metavar="TIME",
                what="the target time per token",
            ),
            workload_param(),
        ),
        fields=(
            Field("need", SIZE, "bytes each GPU holds"),
            Field(
                "fits_own",
                COUNT,
                "1 when every shard fits in its GPU's own memory",
                better="higher",
            ),
            Field("fits", COUNT, "1 when everything finds a place", better="higher"),
            Field("unplaced", SIZE, "bytes no memory could take", better="lower"),
            Field(
                "overflow_latency",
                TIME,
                "latency of the farthest memory holding overflow",
                better="lower",
            ),
            Field("step_time", TIME, "a decode step takes at least this long", better="lower"),
            Field("decode_rate", RATE, "tokens per second per sequence, at most", better="higher"),
            Field(
                "throughput",
                RATE,
                "tokens per second over every sequence, at most",
                better="higher",
            ),
            Field(
                "target_possible",
                COUNT,
                "0 when memory bandwidth rules the target out",
                better="higher",
            ),
        ),
        compute=_compute,
        figures=figures_from(figure_map),
        solver="topodsl.solvers.inference:inference_fit",
        text=_text,
        json=_json,
        common=("forwarding",),
    )
)
