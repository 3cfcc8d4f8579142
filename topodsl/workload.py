"""Workloads: the jobs a design runs, declared in the language and placed on the topology.

A ``workload`` (or ``job``) declaration says what runs on the hardware, so that the workload
analyses (collectives per parallel group, placement lints, the checkpoint lifecycle, ingest,
inference memory fit; see ``docs/workloads.md``) can answer from the design alone::

    workload pretrain {
        gpus = node[*].gpu[*]                  # the ranks, in this order
        mtbf = 12 h
        model      { parameters = 70e9, layers = 80, hidden = 8192 }
        batch      { global = 1024, seq_len = 4096, step_time = 12 s }
        parallel   { tp = 8, pp = 4, order = "tp, dp, pp" }   # dp = 256 / (8 * 4) = 8
        checkpoint { interval = 1 h, keep = 2, to = store[*].ssd[*], archive = disk[*].hdd[*] }
        data       { from = store[*].ssd[*], bytes_per_token = 4 B }
    }

Every entry is ``name = value``: a number with its unit (constants allowed), a selection (a path
read like an assertion's, relative to the component the workload is declared in, a ``kind:``
selector or a quoted selector) or text. :data:`SCHEMA` lists them all with their defaults.

Elaboration (:func:`elaborate_workloads`, called from :mod:`topodsl.elaborate`) checks every
entry at its ``file:line:col`` and gives a :class:`Workload`: plain values in SI base units and
resolved selections. :func:`parallel_groups` places the ranks on the parallel dimensions
(``order`` innermost first, as Megatron-LM lays them out), :func:`collectives` gives what each
dimension communicates per training step, and :func:`workload_text` writes a workload back as
source text (the JSON export keeps it that way, see :mod:`topodsl.io`).

>>> from topodsl import loads
>>> t = loads('''
... cluster c {
...     gpu g[8]
...     workload w { parallel { tp = 2, pp = 2 }, model { parameters = 1e9 } }
... }''')
>>> w = t.workloads[0]
>>> w.name, w.parallel.dp, [g.tolist() for g in parallel_groups(w, "tp")][:2]
('w', 2, [[1, 2], [3, 4]])
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from . import ast
from .errors import Diagnostic, DiagnosticSink, Span
from .interval import EvaluationError, Interval, IntervalEvaluator
from .units import BANDWIDTH, COUNT, SIZE, TIME, Dim, dim_name, example_unit, format_quantity

if TYPE_CHECKING:
    from .topology import Topology

__all__ = [
    "SCHEMA",
    "DIMENSIONS",
    "Selection",
    "Model",
    "Batch",
    "Parallel",
    "CheckpointPolicy",
    "DataFeed",
    "Inference",
    "Workload",
    "Collective",
    "WorkloadError",
    "elaborate_workloads",
    "find_workload",
    "parallel_groups",
    "collectives",
    "checkpoint_size",
    "ingest_need",
    "workload_text",
    "workloads_from_text",
]

#: The parallel dimensions a training job has: tensor, pipeline, data and expert parallelism.
DIMENSIONS: tuple[str, ...] = ("tp", "pp", "dp", "ep")

# Value kinds of an entry.
_NUMBER, _WHOLE, _SELECTION, _TEXT = "number", "whole", "selection", "text"


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry a workload accepts: its kind (``number`` with a dimension, ``whole`` number,
    ``selection`` or ``text``), its default (``None``: none) and a line of help."""

    kind: str
    help: str
    dim: Dim | None = None
    default: Any = None


#: Every entry of a workload, by section (``""`` for the top level) and name.
SCHEMA: dict[str, dict[str, Entry]] = {
    "": {
        "gpus": Entry(_SELECTION, "the ranks, in rank order (default: every GPU in the "
                      "component the workload is declared in)"),
        "mtbf": Entry(_NUMBER, "mean time between failures of the job (any of its parts), for "
                      "the Young/Daly checkpoint interval", TIME),
    },
    "model": {
        "parameters": Entry(_NUMBER, "model parameters", COUNT),
        "weight_bytes": Entry(_NUMBER, "bytes per parameter of the weights", SIZE, 2.0),
        "grad_bytes": Entry(_NUMBER, "bytes per parameter of the gradients (default: "
                            "weight_bytes)", SIZE),
        "optimizer_bytes": Entry(_NUMBER, "bytes per parameter of optimizer state, fp32 master "
                                 "weights included (Adam: 4 + 4 + 4)", SIZE, 12.0),
        "layers": Entry(_WHOLE, "transformer layers"),
        "hidden": Entry(_WHOLE, "hidden size (model width)"),
        "activation_bytes": Entry(_NUMBER, "bytes per activation value", SIZE, 2.0),
        "top_k": Entry(_WHOLE, "experts each token is sent to (expert parallelism)", None, 1),
    },
    "batch": {
        "global": Entry(_WHOLE, "sequences per training step, over all replicas"),
        "micro": Entry(_WHOLE, "sequences per micro-batch", None, 1),
        "seq_len": Entry(_WHOLE, "tokens per sequence"),
        "step_time": Entry(_NUMBER, "time of one training step", TIME),
    },
    "parallel": {
        "tp": Entry(_WHOLE, "tensor-parallel degree", None, 1),
        "pp": Entry(_WHOLE, "pipeline-parallel degree (stages)", None, 1),
        "dp": Entry(_WHOLE, "data-parallel degree (default: ranks / (tp * pp))"),
        "ep": Entry(_WHOLE, "expert-parallel degree, dividing dp (expert groups are consecutive "
                    "data-parallel ranks)", None, 1),
        "order": Entry(_TEXT, "how ranks are laid out, innermost first (dimensions left out "
                       "follow in the order tp, dp, pp)", None, "tp, dp, pp"),
    },
    "checkpoint": {
        "size": Entry(_NUMBER, "bytes per checkpoint (default: parameters * (weight_bytes + "
                      "optimizer_bytes))", SIZE),
        "interval": Entry(_NUMBER, "time between checkpoints", TIME),
        "keep": Entry(_WHOLE, "checkpoints kept on the SSD tier", None, 1),
        "from": Entry(_SELECTION, "who writes (default: the workload's GPUs)"),
        "to": Entry(_SELECTION, "the SSD tier written to (default: the SSDs of storage nodes)",
                    None, "kind:ssd & in:storage_node"),
        "archive": Entry(_SELECTION, "the HDD tier older checkpoints move to", None, "kind:hdd"),
    },
    "data": {
        "from": Entry(_SELECTION, "where training data is read from", None, "role:storage"),
        "to": Entry(_SELECTION, "who reads it (default: the workload's GPUs)"),
        "bytes_per_token": Entry(_NUMBER, "bytes read per training token", SIZE),
        "rate": Entry(_NUMBER, "read bandwidth the job needs, in total (instead of tokens)",
                      BANDWIDTH),
    },
    "inference": {
        "kv_bytes_per_token": Entry(_NUMBER, "KV-cache bytes per token of context", SIZE),
        "context": Entry(_WHOLE, "tokens of context per sequence"),
        "concurrency": Entry(_WHOLE, "sequences served at once by each replica", None, 1),
        "target_latency": Entry(_NUMBER, "time per output token the service must meet", TIME),
    },
}  # fmt: skip


class WorkloadError(Exception):
    """A workload cannot answer a question (no checkpoint interval, no such workload...); the
    analyses turn it into an input error naming the workload and the missing entry."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


# -- the elaborated workload --------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Components a workload names: ``text`` as written (indices evaluated), read in ``scope``
    (the component the workload is declared in), and the node ``rows`` it selects, ascending."""

    text: str
    scope: str
    rows: np.ndarray = field(compare=False, repr=False)


@dataclass(frozen=True)
class Model:
    """``model { }``: sizes in bytes per parameter, counts as plain numbers."""

    parameters: float | None = None
    weight_bytes: float = 2.0
    grad_bytes: float | None = None
    optimizer_bytes: float = 12.0
    layers: int | None = None
    hidden: int | None = None
    activation_bytes: float = 2.0
    top_k: int = 1


@dataclass(frozen=True)
class Batch:
    """``batch { }``: ``global`` and ``micro`` in sequences, ``seq_len`` in tokens."""

    global_: int | None = None
    micro: int = 1
    seq_len: int | None = None
    step_time: float | None = None


@dataclass(frozen=True)
class Parallel:
    """``parallel { }``: the degrees (``dp`` filled in) and the layout, innermost first."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    ep: int = 1
    order: tuple[str, ...] = ("tp", "dp", "pp")


@dataclass(frozen=True)
class CheckpointPolicy:
    """``checkpoint { }``: what is written where, how often, how many copies stay on SSD."""

    size: float | None
    interval: float | None
    keep: int
    sources: Selection
    ssd: Selection | None
    archive: Selection | None


@dataclass(frozen=True)
class DataFeed:
    """``data { }``: where training data comes from and how much the job reads."""

    sources: Selection | None
    sinks: Selection
    bytes_per_token: float | None
    rate: float | None


@dataclass(frozen=True)
class Inference:
    """``inference { }``: the KV cache and the service target."""

    kv_bytes_per_token: float | None
    context: int | None
    concurrency: int
    target_latency: float | None


@dataclass(frozen=True)
class Workload:
    """One declared workload, elaborated: values in SI base units, selections resolved.

    ``given`` names the entries written (``"parallel.tp"``), so that reports can tell a stated
    figure from a default; ``spans`` holds where each was written.
    """

    name: str
    keyword: str
    scope: str
    gpus: Selection
    mtbf: float | None
    model: Model
    batch: Batch
    parallel: Parallel
    checkpoint: CheckpointPolicy
    data: DataFeed
    inference: Inference
    span: Span | None = None
    given: frozenset[str] = frozenset()
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ranks(self) -> int:
        """How many ranks (GPUs) the workload runs on."""
        return len(self.gpus.rows)

    def has(self, entry: str) -> bool:
        """Whether ``entry`` (``"checkpoint.interval"``) was written in the declaration."""
        return entry in self.given


@dataclass(frozen=True)
class Collective:
    """What one parallel dimension communicates per training step: ``count`` operations
    ``op`` of ``size`` bytes in every group of the dimension (NCCL's size convention: the
    buffer of an all-reduce, the output of an all-gather, the input of a reduce-scatter, the
    send buffer of an all-to-all, the message of a send/recv). ``formula`` says how."""

    dimension: str
    op: str
    size: float
    count: float
    formula: str


# -- finding and placing --------------------------------------------------------------------


def find_workload(topology: Topology, name: str | None) -> Workload:
    """The workload called ``name`` (``None``: the only one). ``WorkloadError`` otherwise.

    >>> from topodsl import loads
    >>> t = loads("cluster c { gpu g[2]; workload a { }; workload b { } }")
    >>> find_workload(t, "b").name
    'b'
    >>> find_workload(t, "c")
    Traceback (most recent call last):
    ...
    topodsl.workload.WorkloadError: no workload 'c' in the design
    """
    found = {w.name: w for w in topology.workloads}
    if name is None:
        if len(found) == 1:
            return next(iter(found.values()))
        if not found:
            raise WorkloadError("the design declares no workload", "declare one: workload NAME { }")
        raise WorkloadError(
            f"the design declares {len(found)} workloads; name one",
            "workloads: " + ", ".join(found),
        )
    if name in found:
        return found[name]
    close = difflib.get_close_matches(name, list(found), n=1)
    hint = f"did you mean {close[0]!r}?" if close else (
        "workloads: " + ", ".join(found) if found else "the design declares no workload"
    )  # fmt: skip
    raise WorkloadError(f"no workload {name!r} in the design", hint)


def parallel_groups(workload: Workload, dimension: str) -> list[np.ndarray]:
    """The groups of one parallel dimension: node rows of their members, in rank order.

    Rank ``r`` (the ``r``-th row of ``gpus``) has one coordinate per dimension, mixed radix in
    ``order``, innermost first: with ``order = "tp, dp, pp"``, ranks ``0 .. tp-1`` form the
    first tensor-parallel group. Ranks that share every other coordinate form a group.
    Expert-parallel groups are consecutive data-parallel ranks, ``ep`` at a time.

    >>> w = Workload("w", "workload", "", Selection("g", "", np.arange(10, 18)), None, Model(),
    ...              Batch(), Parallel(tp=2, pp=2, dp=2), None, None, None)
    >>> [g.tolist() for g in parallel_groups(w, "dp")]
    [[10, 12], [11, 13], [14, 16], [15, 17]]
    >>> [g.tolist() for g in parallel_groups(w, "pp")][:1]
    [[10, 14]]
    """
    if dimension not in DIMENSIONS:
        raise WorkloadError(f"unknown parallel dimension {dimension!r}", "one of tp, pp, dp, ep")
    p = workload.parallel
    rows = workload.gpus.rows
    n = len(rows)
    rank = np.arange(n)
    stride, coord = 1, {}
    for d in p.order:
        size = getattr(p, d)
        coord[d] = ((rank // stride) % size, stride, size)
        stride *= size
    if dimension == "ep":
        c, s, _ = coord["dp"]
        # An expert group: ep consecutive data-parallel coordinates.
        key = rank - (c % p.ep) * s
        local = c % p.ep
    else:
        c, s, _ = coord[dimension]
        key = rank - c * s
        local = c
    order = np.lexsort((local, key))
    keys = key[order]
    bounds = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
    return [rows[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


# -- what a workload communicates and stores ------------------------------------------------


def checkpoint_size(workload: Workload) -> float:
    """Bytes per checkpoint: ``checkpoint.size``, else ``parameters * (weight_bytes +
    optimizer_bytes)`` (weights and optimizer state; gradients are not saved)."""
    c, m = workload.checkpoint, workload.model
    if c.size is not None:
        return c.size
    if m.parameters is None:
        raise _missing(workload, "checkpoint.size", "or model.parameters")
    return m.parameters * (m.weight_bytes + m.optimizer_bytes)


def ingest_need(workload: Workload) -> tuple[float, str]:
    """The read bandwidth the training loop needs (B/s, all ranks together) and how it was
    found: ``data.rate``, else ``batch.global * batch.seq_len / batch.step_time`` tokens per
    second times ``data.bytes_per_token``."""
    d, b = workload.data, workload.batch
    if d.rate is not None:
        return d.rate, "data.rate"
    if d.bytes_per_token is None:
        raise _missing(workload, "data.rate", "or data.bytes_per_token with batch sizes")
    for key, v in (("global", b.global_), ("seq_len", b.seq_len), ("step_time", b.step_time)):
        if v is None:
            raise _missing(workload, f"batch.{key}", "to turn tokens into a read rate")
    tokens = b.global_ * b.seq_len / b.step_time
    return tokens * d.bytes_per_token, (
        f"{b.global_} x {b.seq_len} tokens per {format_quantity(b.step_time, TIME)} x "
        f"{format_quantity(d.bytes_per_token, SIZE)} per token"
    )


def collectives(workload: Workload) -> tuple[Collective, ...]:
    """What each parallel dimension of degree above 1 communicates per training step.

    The model (Megatron-LM's, stated in ``docs/workloads.md``), with ``act = micro * seq_len *
    hidden * activation_bytes`` (one micro-batch's activations at a layer boundary) and ``m =
    global / (dp * micro)`` micro-batches per step:

    * ``dp``: one all-reduce of the gradients of a model shard, ``parameters * grad_bytes /
      (tp * pp)``;
    * ``tp``: 4 all-reduces of ``act`` per layer (2 forward, 2 backward), ``layers / pp``
      layers per stage, every micro-batch;
    * ``pp``: a send/recv of ``act`` between neighbouring stages per micro-batch, forward and
      backward;
    * ``ep``: 4 all-to-alls of ``act * top_k`` per layer (dispatch and combine, forward and
      backward).

    A dimension whose inputs are missing is left out.
    """
    m, b, p = workload.model, workload.batch, workload.parallel
    out = []
    if p.dp > 1 and m.parameters is not None:
        grad = m.grad_bytes if m.grad_bytes is not None else m.weight_bytes
        size = m.parameters * grad / (p.tp * p.pp)
        out.append(Collective("dp", "allreduce", size, 1.0,
                              "parameters x grad_bytes / (tp x pp), once per step"))  # fmt: skip
    if m.hidden is None or b.seq_len is None:
        return tuple(out)
    act = b.micro * b.seq_len * m.hidden * m.activation_bytes
    micro = b.global_ / (p.dp * b.micro) if b.global_ is not None else None
    per = "micro x seq_len x hidden x activation_bytes"
    if p.tp > 1 and m.layers is not None and micro is not None:
        out.append(Collective("tp", "allreduce", act, 4.0 * m.layers / p.pp * micro,
                              f"{per}; 4 per layer per micro-batch"))  # fmt: skip
    if p.pp > 1 and micro is not None:
        out.append(Collective("pp", "sendrecv", act, 2.0 * micro,
                              f"{per}; forward and backward per micro-batch"))  # fmt: skip
    if p.ep > 1 and m.layers is not None and micro is not None:
        out.append(Collective("ep", "alltoall", act * m.top_k, 4.0 * m.layers / p.pp * micro,
                              f"{per} x top_k; 4 per layer per micro-batch"))  # fmt: skip
    return tuple(out)


def _missing(w: Workload, entry: str, alternative: str = "") -> WorkloadError:
    section, _, key = entry.rpartition(".")
    where = f"{section} {{ {key} = ... }}" if section else f"{key} = ..."
    more = f" ({alternative})" if alternative else ""
    return WorkloadError(
        f"workload {w.name!r} does not state {entry}{more}", f"add {where} to the workload"
    )


# -- elaboration ------------------------------------------------------------------------------


class _Numbers(IntervalEvaluator):
    """Numbers of workload entries: literals, arithmetic and the constants visible there."""

    def __init__(self, constants: Mapping[str, tuple[float, Dim]]):
        self.constants = constants

    def ref(self, e: ast.Ref, scope: str) -> Interval:
        name = e.path.simple_name
        if name is not None and name in self.constants:
            v, d = self.constants[name]
            return Interval.exact(v, d)
        close = difflib.get_close_matches(name or "", list(self.constants), n=1)
        raise self.error(e.span, f"unknown name {name or '...'!r}",
                         f"did you mean {close[0]!r}?" if close else None)  # fmt: skip


class _Elaborator:
    """Entries of workload declarations to values, every problem recorded in ``sink``."""

    def __init__(self, topology: Topology, sink: DiagnosticSink):
        from .analyses.assertion import AssertionCalls
        from .analyses.run import Context

        self.t = topology
        self.sink = sink
        self.numbers = _Numbers({})
        self.calls = AssertionCalls(self.numbers, Context(topology), {})

    def workload(self, node: ast.Workload, scope: str, constants) -> Workload | None:
        self.numbers.constants = {name: (v, d) for name, v, d in constants}
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        ok = True
        sections = [("", node.entries, node.span)] + [
            (s.name, s.entries, s.name_span) for s in node.sections
        ]
        seen_sections: dict[str, Span] = {}
        for section, entries, span in sections:
            if section and section not in SCHEMA:
                self._error(span, f"unknown workload section {section!r}",
                            _did_you_mean(section, [s for s in SCHEMA if s]))  # fmt: skip
                ok = False
                continue
            if section in seen_sections and section:
                self._error(span, f"section {section!r} is given twice",
                            f"first at {seen_sections[section]}")  # fmt: skip
                ok = False
                continue
            seen_sections[section] = span
            for a in entries:
                key = f"{section}.{a.name}" if section else a.name
                spec = SCHEMA[section].get(a.name)
                if spec is None:
                    where = f"section {section!r}" if section else "a workload"
                    hint = _did_you_mean(a.name, SCHEMA[section]) or (
                        f"{where} takes: {', '.join(SCHEMA[section])}"
                        + ("" if section else "; and sections " + ", ".join(s for s in SCHEMA if s))
                    )  # fmt: skip
                    self._error(a.name_span, f"unknown entry {a.name!r} in {where}", hint)
                    ok = False
                    continue
                if key in values:
                    self._error(a.name_span, f"{key} is given twice", f"first at {spans[key]}")
                    ok = False
                    continue
                try:
                    values[key] = self.value(a, spec, scope)
                    spans[key] = a.span
                except _Bad:
                    ok = False
        if not ok:
            return None
        try:
            return self.build(node, scope, values, spans)
        except _Bad:
            return None

    def value(self, a: ast.Attr, spec: Entry, scope: str) -> Any:
        if spec.kind == _SELECTION:
            return self.selection(a.value, scope, a.name)
        if spec.kind == _TEXT:
            if not isinstance(a.value, ast.String):
                raise self._bad(a.value.span, f"{a.name} is text in double quotes",
                                f'e.g. {a.name} = "{spec.default}"')  # fmt: skip
            return a.value.value
        try:
            v = self.numbers.value(a.value, scope)
        except EvaluationError as e:
            d = e.diagnostic
            raise self._bad(d.span, d.message, d.hint) from None
        dim = spec.dim if spec.kind == _NUMBER else COUNT
        if v.dim != dim:
            unit = example_unit(dim)
            hint = (f"write it with a unit, e.g. {a.name} = {v.lo:g} {unit}" if unit and
                    v.dim == COUNT else (f"{a.name} takes a unit such as {unit}" if unit else
                                         f"{a.name} is a plain number"))  # fmt: skip
            raise self._bad(a.value.span, f"{a.name} must be {dim_name(dim)}, got "
                            f"{dim_name(v.dim)}", hint)  # fmt: skip
        x = v.lo
        if not (math.isfinite(x) and x > 0):
            shown = format_quantity(x, dim) if dim != COUNT else f"{x:g}"
            raise self._bad(a.value.span, f"{a.name} must be more than zero, got {shown}")
        if spec.kind == _WHOLE:
            if not float(x).is_integer():
                raise self._bad(a.value.span, f"{a.name} must be a whole number, got {x:g}")
            if x > 2**53:
                raise self._bad(a.value.span, f"{a.name} is too large ({x:g})")
            return int(x)
        return float(x)

    def selection(self, e: ast.Expr, scope: str, what: str) -> Selection:
        from .analyses.run import ArgumentError

        try:
            rows = self.calls.rows(e, scope, f"{what} selection")
        except EvaluationError as err:
            d = err.diagnostic
            hint = (d.hint or "").replace("assertion is written in", "workload is declared in")
            raise self._bad(d.span, d.message, hint or None) from None
        except ArgumentError as err:
            raise self._bad(getattr(e, "span", None), err.message, err.hint) from None
        return Selection(self.selection_text(e, scope), scope, np.sort(rows))

    def selection_text(self, e: ast.Expr, scope: str) -> str:
        """The selection as source text that reads the same without constants."""
        if isinstance(e, ast.SelectorLit):
            return e.text
        if isinstance(e, ast.String):
            return '"' + e.value + '"'
        assert isinstance(e, ast.Ref)
        return ".".join(self.calls._segment(s, scope) for s in e.path.segments)

    def default_selection(self, text: str, scope: str) -> Selection:
        rows = self.calls.ctx.in_scope(self.t.select(text), scope)
        return Selection(text, scope, rows)

    def build(self, node: ast.Workload, scope: str, v: dict, spans: dict) -> Workload:
        def get(key: str) -> Any:
            section, _, name = key.rpartition(".")
            return v.get(key, SCHEMA[section][name].default)

        if "gpus" in v:
            gpus = v["gpus"]
        else:
            gpus = self.default_selection("kind:gpu", scope)
            if len(gpus.rows) == 0:
                where = f" in {scope}" if scope else ""
                raise self._bad(node.name_span, f"workload {node.name!r} finds no GPU{where}",
                                "name its ranks: gpus = node[*].gpu[*]")  # fmt: skip
        compute = self.t.role_codes[gpus.rows] == _role("compute")
        if not np.all(compute):
            bad = int(gpus.rows[np.flatnonzero(~compute)[0]])
            raise self._bad(spans.get("gpus", node.name_span),
                            f"the ranks must be compute elements; {self.t.nodes.ids[bad]!r} is "
                            f"a {self.t.kind_of(bad)}", "e.g. gpus = node[*].gpu[*]")  # fmt: skip
        parallel = self.parallel(node, gpus, v, spans)
        model = Model(
            parameters=get("model.parameters"), weight_bytes=get("model.weight_bytes"),
            grad_bytes=get("model.grad_bytes"), optimizer_bytes=get("model.optimizer_bytes"),
            layers=get("model.layers"), hidden=get("model.hidden"),
            activation_bytes=get("model.activation_bytes"), top_k=get("model.top_k"),
        )  # fmt: skip
        batch = Batch(get("batch.global"), get("batch.micro"), get("batch.seq_len"),
                      get("batch.step_time"))  # fmt: skip
        if batch.global_ is not None and batch.global_ % (parallel.dp * batch.micro):
            raise self._bad(spans["batch.global"],
                            f"the global batch ({batch.global_}) is not a multiple of dp x micro "
                            f"({parallel.dp} x {batch.micro})",
                            "every data-parallel replica runs whole micro-batches")  # fmt: skip
        if model.layers is not None and model.layers % parallel.pp:
            raise self._bad(spans["model.layers"],
                            f"{model.layers} layers do not split into {parallel.pp} pipeline "
                            "stages", "give layers a multiple of pp")  # fmt: skip

        def tier(key: str) -> Selection | None:
            if key in v:
                return v[key]
            sel = self.default_selection(get(key), scope)
            return sel if len(sel.rows) else None

        checkpoint = CheckpointPolicy(
            size=get("checkpoint.size"), interval=get("checkpoint.interval"),
            keep=get("checkpoint.keep"), sources=v.get("checkpoint.from", gpus),
            ssd=tier("checkpoint.to"), archive=tier("checkpoint.archive"),
        )  # fmt: skip
        data = DataFeed(tier("data.from"), v.get("data.to", gpus), get("data.bytes_per_token"),
                        get("data.rate"))  # fmt: skip
        inference = Inference(
            get("inference.kv_bytes_per_token"),
            get("inference.context"),
            get("inference.concurrency"),
            get("inference.target_latency"),
        )
        return Workload(
            name=node.name, keyword=node.keyword, scope=scope, gpus=gpus, mtbf=get("mtbf"),
            model=model, batch=batch, parallel=parallel, checkpoint=checkpoint, data=data,
            inference=inference, span=node.span, given=frozenset(v), spans=spans,
        )  # fmt: skip

    def parallel(self, node: ast.Workload, gpus: Selection, v: dict, spans: dict) -> Parallel:
        n = len(gpus.rows)
        tp, pp, ep = (v.get(f"parallel.{d}", 1) for d in ("tp", "pp", "ep"))
        where = spans.get("parallel.dp") or spans.get("parallel.tp") or node.name_span
        if "parallel.dp" in v:
            dp = v["parallel.dp"]
            if tp * pp * dp != n:
                raise self._bad(where, f"tp x pp x dp = {tp} x {pp} x {dp} = {tp * pp * dp}, "
                                f"but the workload has {n} ranks",
                                "the degrees multiply to the number of GPUs")  # fmt: skip
        else:
            if n % (tp * pp):
                raise self._bad(where, f"{n} ranks do not divide into tp x pp = {tp * pp}",
                                "give degrees that divide the number of GPUs")  # fmt: skip
            dp = n // (tp * pp)
        if dp % ep:
            raise self._bad(spans.get("parallel.ep", where),
                            f"ep = {ep} does not divide dp = {dp}",
                            "expert groups are made of data-parallel ranks")  # fmt: skip
        order_text = v.get("parallel.order", SCHEMA["parallel"]["order"].default)
        order = tuple(x.strip() for x in order_text.replace(",", " ").split())
        if not set(order) <= {"tp", "dp", "pp"} or len(set(order)) != len(order):
            raise self._bad(spans.get("parallel.order", where),
                            f"order names tp, dp and pp, each at most once; got {order_text!r}",
                            'e.g. order = "tp, dp, pp" (innermost first)')  # fmt: skip
        # Dimensions left out come after, in the default order (they may be of degree 1).
        order += tuple(d for d in ("tp", "dp", "pp") if d not in order)
        return Parallel(tp, pp, dp, ep, order)

    def _error(self, span: Span | None, message: str, hint: str | None = None) -> None:
        self.sink.error(span, message, hint)

    def _bad(self, span: Span | None, message: str, hint: str | None = None) -> _Bad:
        self.sink.error(span, message, hint)
        return _Bad()


class _Bad(Exception):
    """Stop elaborating this workload; the diagnostic is already recorded."""


def _role(name: str) -> int:
    from .kinds import ROLES

    return ROLES.index(name)


def _did_you_mean(name: str, options) -> str | None:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def elaborate_workloads(
    topology: Topology,
    specs: Sequence[tuple[ast.Workload, tuple[str, ...], tuple]],
    sink: DiagnosticSink,
) -> Topology:
    """``topology`` with its workloads: each ``(node, scopes, constants)`` declared in the
    components ``scopes`` (one; a workload written in a definition used several times is an
    error) with the numeric ``constants`` visible there. Problems go to ``sink``."""
    el = _Elaborator(topology, sink)
    out: list[Workload] = []
    first: dict[str, Span] = {}
    for node, scopes, constants in specs:
        if len(scopes) != 1:
            sink.error(
                node.name_span,
                f"workload {node.name!r} is declared in a definition used {len(scopes)} times",
                "declare a workload once, outside definitions",
            )
            continue  # fmt: skip
        if node.name in first:
            sink.error(node.name_span, f"workload {node.name!r} is declared twice",
                       f"first at {first[node.name]}")  # fmt: skip
            continue
        first[node.name] = node.name_span
        w = el.workload(node, scopes[0], constants)
        if w is not None:
            out.append(w)
    return replace(topology, workloads=tuple(out))


# -- source text, for exports --------------------------------------------------------------


def workload_text(w: Workload) -> str:
    """The workload as one line of source text, with every value in SI units and no
    constants, that elaborates back to the same workload (in the same scope).

    >>> from topodsl import loads
    >>> t = loads("const N = 2\\ncluster c { gpu g[4]; workload w { parallel { tp = N } "
    ...           "checkpoint { interval = 1 h } } }")
    >>> workload_text(t.workloads[0])
    'workload w { parallel { tp = 2 }, checkpoint { interval = 3600 s } }'
    """
    parts: list[str] = []
    by_section: dict[str, list[str]] = {}
    for key in sorted(w.given, key=_schema_order):
        section, _, name = key.rpartition(".")
        by_section.setdefault(section, []).append(f"{name} = {_value_text(w, key)}")
    parts += by_section.pop("", [])
    for section in SCHEMA:
        if section in by_section:
            parts.append(f"{section} {{ {', '.join(by_section[section])} }}")
    body = ", ".join(parts)
    return f"{w.keyword} {w.name} {{ {body} }}" if body else f"{w.keyword} {w.name} {{ }}"


def _schema_order(key: str) -> tuple[int, int]:
    section, _, name = key.rpartition(".")
    sections = list(SCHEMA)
    return sections.index(section), list(SCHEMA[section]).index(name)


def _value_text(w: Workload, key: str) -> str:
    section, _, name = key.rpartition(".")
    spec = SCHEMA[section][name]
    value = _lookup(w, key)
    if spec.kind == _SELECTION:
        return value.text
    if spec.kind == _TEXT:
        return '"' + ", ".join(value) + '"' if isinstance(value, tuple) else f'"{value}"'
    if spec.kind == _WHOLE:
        return str(int(value))
    text = repr(float(value))
    text = text[:-2] if text.endswith(".0") else text
    unit = {SIZE: " B", TIME: " s", BANDWIDTH: " B/s"}.get(spec.dim, "")
    return text + unit


_ATTRS = {
    "": {"gpus": "gpus", "mtbf": "mtbf"},
    "batch": {"global": "global_"},
    "checkpoint": {"from": "sources", "to": "ssd"},
    "data": {"from": "sources", "to": "sinks"},
}


def _lookup(w: Workload, key: str) -> Any:
    section, _, name = key.rpartition(".")
    attr = _ATTRS.get(section, {}).get(name, name)
    holder = getattr(w, section) if section else w
    return getattr(holder, attr)


def workloads_from_text(topology: Topology, entries: Sequence[Mapping[str, Any]],
                        file: str) -> Topology:  # fmt: skip
    """``topology`` with the workloads of a JSON export: each entry has the workload's
    ``text`` (from :func:`workload_text`) and its ``scope``. They are parsed from a pseudo file
    ``FILE#workloads``, one per line, so that errors point at the entry that has them."""
    from .errors import ElaborationError
    from .parser import parse

    def bad(message: str) -> ElaborationError:
        return ElaborationError(Diagnostic(Span(file, 1, 1, 1, 2), "error", message))

    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise bad("graph.workloads must be a list of objects")
    pseudo = f"{file}#workloads"
    lines, specs = [], []
    for k, entry in enumerate(entries):
        text, scope = entry.get("text"), entry.get("scope", "")
        if not isinstance(text, str) or "\n" in text or not isinstance(scope, str):
            raise bad(f"graph.workloads[{k}] needs a one-line 'text' and a 'scope'")
        if scope and scope not in topology:
            raise bad(f"graph.workloads[{k}] is declared in unknown component {scope!r}")
        lines.append(text)
        items = parse("\n" * k + text + "\n", pseudo).items
        if len(items) != 1 or not isinstance(items[0], ast.Workload):
            raise bad(f"graph.workloads[{k}] is not one workload: {text!r}")
        specs.append((items[0], (scope,), ()))
    texts = dict(topology.source_texts) | {pseudo: "\n".join(lines) + "\n"}
    sink = DiagnosticSink(texts)
    out = elaborate_workloads(replace(topology, source_texts=texts), specs, sink)
    sink.raise_if_errors()
    return out
