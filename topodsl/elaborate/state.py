"""What one elaboration knows, shared by every pass: its limits, its tables, its errors.

:class:`Elaboration` is handed to every function of the passes (``el`` by convention): the
declarations read so far (link types, definitions, top-level constants), the tables that the
:class:`~topodsl.topology.Topology` will index (spans, templates, link type names), the limits
of untrusted input (``max_nodes``, ``max_steps``, the bytes imports may read), the ``-D``
overrides of top-level constants (:class:`~topodsl.params.ConstantHook`) and the diagnostic
sink. A pass that finds a problem records it with :meth:`Elaboration.error` and raises the
:class:`Abort` it returns, which ends that statement only: the body's other statements are
still elaborated, so that one run reports every problem of a file.

>>> from pathlib import Path
>>> el = Elaboration({}, Path("."), allow_outside=False, max_nodes=100)
>>> el.max_links, el.template_id("<top>"), el.template_id("<top>")
(200, 0, 0)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from ..errors import DiagnosticSink, LimitExceeded, Span, did_you_mean
from ..limits import LINKS_PER_COMPONENT, MAX_SOURCE_BYTES, MAX_STEPS
from ..params import ConstantHook
from ..topology import LinkType
from .scopes import Scope, Values

if TYPE_CHECKING:
    from .. import ast
    from ..evaluate import Quantity
    from .blocks import Block

__all__ = ["Elaboration", "Abort", "CAP_HINT"]

#: The hint of every error about the size caps.
CAP_HINT = "the cap protects memory (docs/security.md); topodsl.load(..., max_nodes=N) raises it"


class Abort(Exception):
    """Stop elaborating the current statement; the diagnostic is already recorded."""


class Elaboration:
    """The state of one elaboration (see the module's docs)."""

    def __init__(
        self,
        texts: dict[str, str],
        root: FsPath,
        allow_outside: bool,
        max_nodes: int,
        max_steps: int = MAX_STEPS,
        max_bytes: int = MAX_SOURCE_BYTES,
        overrides: Iterable = (),
    ):
        self.sink = DiagnosticSink(texts)
        self.top_constants = ConstantHook(overrides, self.sink)  # -D NAME=VALUE, recorded values
        self.texts = texts
        self.root = root.resolve()
        self.allow_outside = allow_outside
        # -- limits (topodsl/limits.py says why each is what it is)
        self.max_nodes = max_nodes
        self.max_links = LINKS_PER_COMPONENT * max_nodes
        self.max_steps = max_steps
        self.steps = 0
        self.max_bytes = max_bytes  # for imports: what the main file left of the budget
        self.bytes_read = 0
        self.total_nodes = 0
        # -- declarations
        self.link_types: dict[str, LinkType] = {}
        self.broken_link_types: set[str] = set()
        self.defs: dict[str, ast.Def] = {}
        self.def_spans: dict[str, Span] = {}
        self.globals = Scope()
        self.imported: set[str] = set()
        self.resolved: dict[str, FsPath] = {}
        # -- what the Topology indexes
        self.type_names: list[str] = []
        self.type_index: dict[str, int] = {}
        self.spans: list[Span] = []
        self.span_index: dict[Span, int] = {}
        self.templates: list[str] = []
        self.template_index: dict[str, int] = {}
        self.link_metas: list[dict[str, Any]] = []  # one per connection with a meta block
        # -- definitions: one block per distinct argument list, and the ones being built
        self.cache: dict[tuple, Block] = {}
        self.def_stack: list[str] = []
        self.values = Values(self)

    # -- values (topodsl.evaluate, with names from scopes) --------------------------------------

    def eval(self, e: ast.Expr, scope: Scope) -> Any:
        """The value of ``e``: a :class:`~topodsl.evaluate.Quantity`, text, a tuple or a
        :class:`~topodsl.elaborate.scopes.LinkTypeValue`."""
        return self.values.eval(e, scope)

    def number(self, e: ast.Expr, scope: Scope) -> Quantity:
        """The value of ``e``, which must be a number (with or without a unit)."""
        return self.values.value(e, scope)

    def whole(self, e: ast.Expr, scope: Scope, what: str) -> int:
        """The value of ``e``, which must be a whole number without a unit (``what`` it is
        names it in messages: ``"an array size"``)."""
        return self.values.whole(e, scope, what)

    # -- errors ---------------------------------------------------------------------------------

    def error(self, span: Span | None, message: str, hint: str | None = None) -> Abort:
        """Record an error; raise what it returns to end the statement."""
        self.sink.error(span, message, hint)
        return Abort()

    def limit(self, span: Span | None, message: str, hint: str | None = CAP_HINT) -> LimitExceeded:
        """A cap broken: elaboration stops at once (raise what this returns)."""
        return LimitExceeded(self.sink.make(span, message, hint))

    def did_you_mean(self, name: str, options: Any) -> str | None:
        """A hint naming the closest of ``options``."""
        return did_you_mean(name, options)

    # -- bookkeeping ----------------------------------------------------------------------------

    def charge_steps(self, n: int, span: Span) -> None:
        """Count ``n`` statement executions against the file's work budget, before they run."""
        self.steps += n
        if self.steps > self.max_steps:
            raise self.limit(
                span,
                f"this would run more than {self.max_steps:,} statements in loops "
                f"({self.steps:,} so far, this one included)",
                "a connection over an index, connect a[i] -- b[i], makes all its links "
                "in one statement; or topodsl.load(..., max_steps=N) raises the limit",
            )

    def span_id(self, span: Span | None) -> int:
        """The index of ``span`` in the Topology's span table (``-1`` for none)."""
        if span is None:
            return -1
        i = self.span_index.get(span)
        if i is None:
            i = self.span_index[span] = len(self.spans)
            self.spans.append(span)
        return i

    def template_id(self, name: str) -> int:
        """The index of a definition-and-arguments in the Topology's template table."""
        i = self.template_index.get(name)
        if i is None:
            i = self.template_index[name] = len(self.templates)
            self.templates.append(name)
        return i

    def link_type_index(self, lt: LinkType) -> int:
        """The index of a link type used by a link (types declared but unused get none)."""
        if lt.name not in self.type_index:
            self.type_index[lt.name] = len(self.type_names)
            self.type_names.append(lt.name)
        return self.type_index[lt.name]
