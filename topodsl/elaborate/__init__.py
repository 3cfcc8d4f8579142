"""AST to :class:`~topodsl.topology.Topology`: imports, definitions, arrays, patterns, units.

Elaboration is a package with one module per pass (``ls topodsl/elaborate/`` reads as the
pipeline):

* :mod:`.state`: what one elaboration knows (limits, tables, the diagnostic sink), handed
  to every pass as ``el``;
* :mod:`.declarations`: imports, link types and definitions, read before any body;
* :mod:`.scopes`: names and constants, and the evaluator of expressions
  (:mod:`topodsl.evaluate`) with a scope's names;
* :mod:`.passes`: the three passes over a body and where each statement goes;
* :mod:`.components` and :mod:`.blocks`: instances, arrays and definitions as blocks of
  numpy rows; :mod:`.attributes`: attributes and ``meta``;
* :mod:`.paths` and :mod:`.connections`: component paths on a grid of index bindings, and the
  links a connection makes; :mod:`.patterns`: patterns and fabrics;
* :mod:`.checks`: the structural checks (id clashes, link ends, ports, unconnected elements);
* :mod:`.assemble`: the top-level block becomes the Topology.

How it stays fast at 100,000 GPUs
---------------------------------
A definition is elaborated once per distinct argument list into a :class:`~.blocks.Block`:
numpy arrays for its components (row 0 is the component itself) and its links, in local row
numbers. Instantiating ``DGX node[12500]`` tiles those arrays 12,500 times with numpy; only the
dotted ids are Python strings. Connections are resolved on a grid of index bindings, with every
index expression evaluated on numpy arrays at once, so ``node[*].nic[r] -- leaf[r]`` costs a
few array operations, not a Python loop per link.

Meaning checked here (each at its ``file:line:col``): unknown kinds, types, attributes, link
types and names (with "did you mean"); duplicate names; unit and dimension mismatches;
non-positive bandwidths and capacities; indices out of range; imports not found, outside the
root directory, or in a cycle; recursive definitions; ports over-subscribed; expansions above
the cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path as FsPath

from .. import ast
from ..limits import MAX_NODES, MAX_SOURCE_BYTES, MAX_STEPS
from ..topology import Topology
from .assemble import AssertSpec, assemble
from .blocks import BodyBuilder, finish
from .declarations import load_module
from .passes import run_body
from .state import Abort, Elaboration

__all__ = ["elaborate", "AssertSpec"]


def elaborate(
    module: ast.Module,
    *,
    texts: Mapping[str, str] | None = None,
    root: FsPath | None = None,
    allow_import_outside: bool = False,
    max_nodes: int = MAX_NODES,
    max_steps: int = MAX_STEPS,
    max_bytes: int = MAX_SOURCE_BYTES,
    overrides: Iterable = (),
) -> Topology:
    """Give a parsed module its meaning: a :class:`~topodsl.topology.Topology`.

    Parameters
    ----------
    module : the parsed file.
    texts : source text by file name, for diagnostics.
    root : directory imports must stay inside (default: the module file's directory).
    allow_import_outside : lift that restriction.
    max_nodes : cap on components (links: twice as many).
    max_steps : cap on statements run by ``for`` loops.
    max_bytes : cap on the bytes of source its imports may add.
    overrides : ``"NAME=VALUE"`` texts (or :class:`~topodsl.params.Override`) setting top-level
        constants, as ``-D`` does (see :mod:`topodsl.params`).

    Raises
    ------
    ElaborationError
        Every problem found, each with its ``file:line:col``.

    Examples
    --------
    >>> from topodsl.parser import parse
    >>> m = parse('link l { bandwidth = 10 GB/s }\\n'
    ...           'node n { gpu g[2]\\n connect g[0] -- g[1] via l x2 }')
    >>> t = elaborate(m)
    >>> t.nodes.ids, float(t.links.bandwidth[0])
    (['n', 'n.g0', 'n.g1'], 20000000000.0)
    """
    texts = dict(texts or {})
    if root is None:
        root = FsPath(module.file).resolve().parent if module.file != "<string>" else FsPath.cwd()
    el = Elaboration(
        texts, FsPath(root), allow_import_outside, max_nodes, max_steps, max_bytes, overrides
    )
    stmts = load_module(el, module, (str(FsPath(module.file).resolve()),))
    el.top_constants.check_used()
    top = BodyBuilder("group", -1, el.template_id("<top>"))
    try:
        run_body(el, top, tuple(stmts), el.globals)
        el.sink.raise_if_errors()
        block = finish(top)
    except Abort:  # pragma: no cover - run_body catches these
        el.sink.raise_if_errors()
        raise
    topo = assemble(el, block, module.file)
    el.sink.raise_if_errors()
    workloads = [(a.node, a.scopes, a.constants) for a in topo.assertions
                 if isinstance(a.node, ast.Workload)]  # fmt: skip
    if workloads:
        from ..workload import elaborate_workloads

        asserts = tuple(a for a in topo.assertions if not isinstance(a.node, ast.Workload))
        topo = elaborate_workloads(replace(topo, assertions=asserts), workloads, el.sink)
        el.sink.raise_if_errors()
    return topo
