"""Design diffs: what a change did to the numbers of a topology.

:func:`diff_topologies` compares two elaborated topologies, old beside new: component counts per
kind, links, total memory and storage per kind, the figures of registered analyses (bisection
bandwidth over every GPU by default; any analysis on request, e.g. ``checkpoint:size=2TB``),
and the value of every assertion (matched by name, or by source text when unnamed). It is a pure
function; :func:`checkout_revision` is the one piece of I/O, fetching a file and its imports as
they were at a git revision.

:meth:`DesignDiff.regressions` names what got worse, for a pull-request gate (``topodsl diff
--fail-on regression``): an assertion that passed and no longer does, or a figure with a better
direction (a bisection up, a checkpoint time down, an assertion's measured side by its
comparison) that moved the wrong way by more than a relative tolerance, judged by the bound
that is guaranteed (the lower bound where higher is better, the upper where lower is).

Examples
--------
>>> from topodsl import loads
>>> old = loads("cluster c { gpu g[2]; hbm m[2] { capacity = 80 GB } }")
>>> new = loads("cluster c { gpu g[4]; hbm m[4] { capacity = 80 GB } }")
>>> d = diff_topologies(old, new, bisection=False)
>>> [(r.name, r.old.format(), r.new.format(), r.change()) for r in d.changed]
[('gpu', '2', '4', '+2 (+100%)'), ('hbm', '2', '4', '+2 (+100%)'), ('hbm', '160 GB', '320 GB', \
'+160 GB (+100%)'), ('memory', '160 GB', '320 GB', '+160 GB (+100%)')]
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .analyses import ANALYSES, ArgumentError, Context, run
from .analyses.result import call_text, describe_value
from .check import AssertionResult, Measure, check
from .errors import Diagnostic, ElaborationError, TopoError
from .kinds import KINDS, ROLE_OF
from .topology import Topology
from .units import COUNT, SIZE

__all__ = [
    "DiffRow",
    "DesignDiff",
    "diff_topologies",
    "checkout_revision",
    "parse_analysis_spec",
    "SECTIONS",
]

#: Sections that every diff has, in order; the sections of the analyses compared (named after
#: them: ``bisection``) come between ``memory`` and ``assertions``.
SECTIONS = ("components", "memory", "assertions")

_BETTER_BY_OP = {">=": "higher", ">": "higher", "<=": "lower", "<": "lower"}


@dataclass(frozen=True)
class DiffRow:
    """One figure, old beside new. ``old``/``new`` are ``None`` where the figure does not exist
    (a kind that appears, an assertion that was added); ``old_status``/``new_status`` are the
    assertion statuses (``None`` for other sections); ``better`` is ``"higher"`` or
    ``"lower"`` where the figure improves in one direction."""

    section: str
    name: str
    old: Measure | None
    new: Measure | None
    old_status: str | None = None
    new_status: str | None = None
    better: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the figure or the status differs."""
        if (self.old is None) != (self.new is None):
            return True
        if self.old_status != self.new_status:
            return True
        if self.old is None or self.new is None:
            return False
        return (self.old.lower, self.old.upper) != (self.new.lower, self.new.upper)

    def change(self) -> str:
        """The change as text: ``'+2 (+100%)'``, ``'-1.2 TB/s (-4%)'``, ``'new'``, ``'removed'``,
        ``''`` when unchanged; for uncertain figures the change of each bound."""
        if self.old is None and self.new is None:
            return ""
        if self.old is None:
            return "new"
        if self.new is None:
            return "removed"
        if not self.changed:
            return ""
        if self.old.exact and self.new.exact:
            return _delta(self.old.lower, self.new.lower, self.new.dim)
        lo = _delta(self.old.lower, self.new.lower, self.new.dim)
        hi = _delta(self.old.upper, self.new.upper, self.new.dim)
        return f"lower {lo or '='}, upper {hi or '='}"

    def regression(self, tolerance: float = 0.0) -> str | None:
        """Why this row is a regression, or ``None``: a passing assertion that no longer
        passes, or a guaranteed bound that got worse by more than ``tolerance`` (relative).

        >>> from topodsl.units import BANDWIDTH
        >>> row = DiffRow("bisection", "b", Measure(8e11, 8e11, BANDWIDTH),
        ...               Measure(7e11, 7e11, BANDWIDTH), better="higher")
        >>> row.regression(), row.regression(tolerance=0.2)
        ('800 GB/s -> 700 GB/s, -100 GB/s (-12.5%)', None)
        """
        if self.old_status == "pass" and self.new_status not in (None, "pass"):
            return f"{self.old_status} -> {self.new_status}"
        if self.better is None or self.old is None or self.new is None:
            return None
        if self.better == "higher":
            a, b, worse = self.old.lower, self.new.lower, self.new.lower < self.old.lower
        else:
            a, b, worse = self.old.upper, self.new.upper, self.new.upper > self.old.upper
        if not worse or (math.isfinite(a) and abs(b - a) <= tolerance * abs(a)):
            return None
        return f"{self.old.format()} -> {self.new.format()}, {self.change()}"

    def to_dict(self) -> dict:
        """JSON-ready form (SI base units)."""
        out = {
            "section": self.section,
            "name": self.name,
            "old": self.old.to_dict() if self.old else None,
            "new": self.new.to_dict() if self.new else None,
            "change": self.change(),
        }
        if self.section == "assertions":
            out |= {"old_status": self.old_status, "new_status": self.new_status}
        return out


def _delta(a: float, b: float, dim) -> str:
    d = b - a
    if d == 0 or (math.isinf(a) and math.isinf(b)):
        return ""
    sign = "+" if d > 0 else "-"
    text = sign + Measure(abs(d), abs(d), dim).format()
    if a != 0 and math.isfinite(a) and math.isfinite(b):
        text += f" ({sign}{abs(d) / abs(a) * 100:.3g}%)"
    return text


@dataclass(frozen=True)
class DesignDiff:
    """Every compared figure of two designs, by section; :attr:`changed` keeps those that moved."""

    old: str
    new: str
    rows: tuple[DiffRow, ...]

    @property
    def changed(self) -> tuple[DiffRow, ...]:
        """The rows whose figure or status changed."""
        return tuple(r for r in self.rows if r.changed)

    @property
    def sections(self) -> tuple[str, ...]:
        """The sections present, in order."""
        return tuple(dict.fromkeys(r.section for r in self.rows))

    def changes(self) -> tuple[tuple[DiffRow, str], ...]:
        """Every row that changed, with the change (what ``--fail-on change`` lists)."""
        return tuple((r, "changed: " + (r.change() or "status")) for r in self.changed)

    def regressions(self, tolerance: float = 0.0) -> tuple[tuple[DiffRow, str], ...]:
        """Every row that got worse, with why (see :meth:`DiffRow.regression`)."""
        out = []
        for r in self.rows:
            why = r.regression(tolerance)
            if why is not None:
                out.append((r, why))
        return tuple(out)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "old": self.old,
            "new": self.new,
            "changed": len(self.changed),
            "rows": [r.to_dict() for r in self.rows],
        }


def _counts(t: Topology) -> dict[str, int]:
    counts = np.bincount(t.nodes.kind, minlength=len(KINDS))
    return {KINDS[i]: int(c) for i, c in enumerate(counts) if c}


def _memory(t: Topology) -> dict[str, float]:
    out: dict[str, float] = {}
    for i, kind in enumerate(KINDS):
        if ROLE_OF[kind] not in ("memory", "storage"):
            continue
        mask = t.nodes.kind == i
        if mask.any():
            out[kind] = float(t.nodes.capacity[mask].sum())
    totals = {}
    for role in ("memory", "storage"):
        kinds = [k for k in out if ROLE_OF[k] == role]
        if kinds:
            totals[role] = float(sum(out[k] for k in kinds))
    return out | totals


def _exact(x: float | None, dim) -> Measure | None:
    return None if x is None else Measure(float(x), float(x), dim)


def parse_analysis_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"checkpoint:size=2TB,from=kind:gpu"`` -> ``("checkpoint", {"size": 2e12, ...})``.

    Parameters are named as on the command line or in an assertion; values are text (a comma
    starts a new parameter only before ``NAME=``, so selector unions stay whole).

    >>> parse_analysis_spec("checkpoint:size=2TB,from=kind:gpu,kind:cpu")
    ('checkpoint', {'size': 2000000000000.0, 'sources': 'kind:gpu,kind:cpu'})
    """
    import re

    name, _, rest = spec.partition(":")
    from .analyses import get

    a = get(name.strip())
    params: dict[str, Any] = {}
    for item in re.split(r",(?=\s*[A-Za-z_][\w-]*\s*=)", rest) if rest.strip() else []:
        key, eq, value = item.partition("=")
        p = a.param(key.strip())
        if not eq or p is None:
            raise ArgumentError(
                f"{spec!r}: {a.name} takes no parameter {key.strip()!r}",
                "write NAME:PARAM=VALUE,..., e.g. checkpoint:size=2TB; parameters: "
                + ", ".join(q.spelling for q in a.params),
            )
        try:
            params[p.name] = p.from_text(value.strip())
        except ValueError as e:
            raise ArgumentError(f"{spec!r}: {p.spelling}: {e}") from None
    return a.name, params


def _analysis_rows(
    old: Context, new: Context, name: str, params: Mapping[str, Any], explicit: bool, options
) -> list[DiffRow]:
    """Rows of one analysis on both sides: one per compared field."""
    a = ANALYSES[name]
    opts = {k: v for k, v in options.items() if k in a.common}
    shown = {p.name: describe_value(p, params.get(p.name, p.default)) for p in a.params}
    label = call_text(a, shown | opts)
    results, errors = [], []
    for ctx in (old, new):
        try:
            results.append(run(ctx, name, scope="", options=opts, **params))
        except ArgumentError as e:
            results.append(None)
            errors.append(e)
        except TopoError as e:
            if not explicit:
                raise
            results.append(None)
            errors.append(e)
    if explicit and len(errors) == 2:
        raise errors[0]
    fields = a.diff_fields or tuple(f.name for f in a.fields)
    fields = tuple(sorted(fields, key=lambda f: f != a.default_field))  # the default first
    present = [f for f in fields if any(r is not None and f in r.figures for r in results)]
    if not present and not explicit:
        present = [a.default_field or fields[0]]
    rows = []
    for f in present:
        row_name = label if f == a.default_field else f"{label}.{f}"
        sides = [r[f].measure if r is not None and f in r.figures else None for r in results]
        better = a.field(f).better if a.field(f) else None
        rows.append(DiffRow(name, row_name, sides[0], sides[1], better=better))
    return rows


def _assertion_results(
    t: Context, extra: Iterable[str], options: Mapping[str, str]
) -> dict[str, AssertionResult]:
    report = check(t, list(extra), raise_errors=False, options=options)
    out: dict[str, AssertionResult] = {}
    for r in report.results:
        key = r.name
        k = 2
        while key in out:  # the same text twice (e.g. in two components): keep both
            key = f"{r.name} #{k}"
            k += 1
        out[key] = r
    return out


def diff_topologies(
    old: Topology,
    new: Topology,
    *,
    old_name: str | None = None,
    new_name: str | None = None,
    bisection: bool = True,
    assertions: Iterable[str] = (),
    analyses: Iterable[str | tuple[str, Mapping[str, Any]]] = (),
    options: Mapping[str, str] | None = None,
) -> DesignDiff:
    """Compare two designs figure by figure.

    Parameters
    ----------
    old, new : Topology
    old_name, new_name : labels for the two sides (default: their source files).
    bisection : also compare bisection bandwidth over every GPU (per direction, both bounds):
        the analyses the registry marks for every diff.
    assertions : extra assertions (text) evaluated on both sides, as ``topodsl check --assert``.
    analyses : more analyses to compare, as specs (``"checkpoint:size=2TB"``, see
        :func:`parse_analysis_spec`) or ``(name, params)``; every field becomes a row.
    options : common analysis options (``{"forwarding": "ideal"}``) for every figure.

    Returns
    -------
    DesignDiff
        Rows in section order (components, memory, each analysis, assertions); kinds in the
        order of :data:`topodsl.kinds.KINDS`; assertions in the new design's order, then those
        only the old one has.

    Raises
    ------
    ArgumentError
        A malformed analysis spec, or an analysis asked for that fails on both sides.
    """
    options = dict(options or {})
    octx, nctx = Context(old), Context(new)
    rows: list[DiffRow] = []
    oc, nc = _counts(old), _counts(new)
    for kind in KINDS:
        if kind in oc or kind in nc:
            rows.append(
                DiffRow(
                    "components", kind, _exact(oc.get(kind), COUNT), _exact(nc.get(kind), COUNT)
                )
            )
    rows.append(
        DiffRow("components", "links", _exact(old.num_links, COUNT), _exact(new.num_links, COUNT))
    )
    om, nm = _memory(old), _memory(new)
    for key in [*KINDS, "memory", "storage"]:
        if key in om or key in nm:
            rows.append(
                DiffRow("memory", key, _exact(om.get(key), SIZE), _exact(nm.get(key), SIZE))
            )
    specs: list[tuple[str, Mapping[str, Any], bool]] = []
    if bisection:
        specs += [(a.name, {}, False) for a in ANALYSES.values() if a.diff_default]
    for spec in analyses:
        name, params = parse_analysis_spec(spec) if isinstance(spec, str) else spec
        specs.append((name, dict(params), True))
    for name, params, explicit in specs:
        rows += _analysis_rows(octx, nctx, name, params, explicit, options)
    extra = list(assertions)
    oa = _assertion_results(octx, extra, options)
    na = _assertion_results(nctx, extra, options)
    for key in [*na, *(k for k in oa if k not in na)]:
        a, b = oa.get(key), na.get(key)
        op = (b or a).op
        rows.append(
            DiffRow(
                "assertions",
                key,
                a.measured if a else None,
                b.measured if b else None,
                a.status if a else None,
                b.status if b else None,
                _BETTER_BY_OP.get(op) if (a or b).measured is not None else None,
            )
        )
    return DesignDiff(old_name or old.source, new_name or new.source, tuple(rows))


# -- git -----------------------------------------------------------------------------------------


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise ElaborationError("git is not installed; --rev needs it") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ElaborationError(f"git {' '.join(args)}: {msg[-1] if msg else 'failed'}")
    return proc.stdout


def checkout_revision(path: str | Path, rev: str, dest: str | Path) -> Path:
    """Write ``path`` as it was at git revision ``rev`` under ``dest``, with every file it
    imports (recursively) at the same revision and at the same relative place, so that the
    copy loads exactly as the old version did. Returns the copy's path.

    Raises
    ------
    ElaborationError
        Not in a git repository, an unknown revision, a file that did not exist at ``rev``, or an
        import outside the repository.
    """
    from . import ast
    from .parser import parse

    path = Path(path).resolve()
    top = Path(_git(["rev-parse", "--show-toplevel"], path.parent).decode().strip()).resolve()
    dest = Path(dest).resolve()
    todo = [path]
    done: set[Path] = set()
    while todo:
        f = todo.pop()
        if f in done:
            continue
        done.add(f)
        try:
            rel = f.relative_to(top)
        except ValueError:
            raise ElaborationError(
                Diagnostic(None, "error", f"{f} is outside the git repository {top}")
            ) from None
        data = _git(["show", f"{rev}:{rel.as_posix()}"], top)
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        if f.suffix.lower() == ".json":
            continue
        try:
            module = parse(data.decode("utf-8"), str(out))
        except (TopoError, UnicodeDecodeError):
            continue  # loading the copy reports it properly
        for item in module.items:
            if isinstance(item, ast.Import):
                todo.append((f.parent / item.path).resolve())
    return dest / path.relative_to(top)
