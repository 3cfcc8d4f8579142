"""The public entry points: ``load`` a file, ``loads`` a string.

>>> t = loads('cluster c { gpu g[2] }')
>>> t.nodes.ids
['c', 'c.g0', 'c.g1']
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import Diagnostic, ElaborationError
from .topology import Topology

__all__ = ["load", "loads", "DEFAULT_MAX_NODES"]

#: The documented cap on components plus links one file may expand to.
DEFAULT_MAX_NODES = 20_000_000


def load(
    path: str | Path,
    *,
    allow_import_outside: bool = False,
    max_nodes: int = DEFAULT_MAX_NODES,
    overrides: Iterable = (),
) -> Topology:
    """Read a ``.topo`` file (or a node-link ``.json`` file) and return its :class:`Topology`.

    Parameters
    ----------
    path : the file. A ``.json`` suffix reads NetworkX node-link JSON (see :mod:`topodsl.io`);
        ``.xml`` reads hwloc or NCCL/RCCL topology XML (see :mod:`topodsl.interop`).
    allow_import_outside : allow ``import`` of files outside the directory of ``path``.
    max_nodes : cap on the number of components and of links the file may expand to.
    overrides : ``"NAME=VALUE"`` texts setting top-level constants of a ``.topo`` file, as
        ``-D`` does (see :mod:`topodsl.params`); refused for JSON and XML.

    Raises
    ------
    TopoError
        Every problem found in the file, each at ``file:line:col``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ElaborationError([Diagnostic(None, "error", f"no such file: {path}")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ElaborationError([Diagnostic(None, "error", f"cannot read {path}: {e}")]) from None
    overrides = tuple(overrides)
    if overrides and path.suffix.lower() in (".json", ".xml"):
        raise ElaborationError(
            [Diagnostic(None, "error", f"-D sets constants of a .topo file; {path} has none",
                        "a JSON or XML topology is already elaborated: give the .topo file")]
        )  # fmt: skip
    if path.suffix.lower() == ".json":
        from .io import loads_json

        return loads_json(text, str(path))
    if path.suffix.lower() == ".xml":  # hwloc or NCCL/RCCL, told apart by content
        from .interop import loads_xml

        return loads_xml(text, str(path))
    return loads(
        text,
        file=str(path),
        root=path.resolve().parent,
        allow_import_outside=allow_import_outside,
        max_nodes=max_nodes,
        overrides=overrides,
    )


def loads(
    text: str,
    *,
    file: str = "<string>",
    root: str | Path | None = None,
    allow_import_outside: bool = False,
    max_nodes: int = DEFAULT_MAX_NODES,
    overrides: Iterable = (),
) -> Topology:
    """Parse and elaborate topology source ``text``; ``file`` names it in messages.

    Imports are resolved relative to ``root`` (default: the current directory); ``overrides``
    set top-level constants (``["NIC=800Gb/s"]``, see :mod:`topodsl.params`).
    """
    from .elaborate import elaborate
    from .parser import parse

    try:
        module = parse(text, file)
        return elaborate(
            module,
            texts={file: text},
            root=Path(root) if root is not None else Path.cwd(),
            allow_import_outside=allow_import_outside,
            max_nodes=max_nodes,
            overrides=overrides,
        )
    except RecursionError:
        raise ElaborationError(
            [Diagnostic(None, "error", f"{file}: the file nests too deeply to read")]
        ) from None
